"""Sub-commands of the ``picasso`` command line, one module each."""
