"""The version of the installed picasso, for file headers and provenance."""

try:
    from .._version import version
except ImportError:  # a source tree that was never installed
    version = "0.0.0+unknown"

__all__ = ["version"]
