"""
The ``picasso`` command line.

Each sub-command lives in its own module under `picasso.commands` and offers
two functions: ``add_parser(subparsers)``, which registers its arguments and
sets ``func`` on the parser defaults, and the function it sets, which takes
the parsed arguments and returns an exit status.
"""

import argparse
import importlib
import logging
import re
import sys

from .utils.version import version

__all__ = ["main", "build_parser"]

#: Modules under `picasso.commands`, in the order ``picasso --help`` lists them.
COMMAND_MODULES = ("simulate", "train", "predict", "evaluate", "experiment", "catalog", "demo",
                   "card")


def build_parser():
    """
    Build the argument parser with every sub-command.

    Returns
    -------
    parser : `argparse.ArgumentParser`
    """
    parser = argparse.ArgumentParser(
        prog="picasso",
        description="Resolved physical property maps of galaxies from ugriz images.",
    )
    parser.add_argument("--version", action="version", version=f"picasso {version}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (repeat for debug)"
    )
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"picasso.commands.{name}")
        module.add_parser(subparsers)
        command_parser = subparsers.choices[name]
        command_parser.set_defaults(flags=argument_flags(command_parser, module))
    return parser


def argument_flags(parser, module=None):
    """
    The command-line flag of every Python argument a sub-command passes on.

    The library's messages name Python arguments (``overwrite=True``,
    ``target_psf_fwhm``); on the command line they should name the flags
    (``--overwrite``, ``--target-psf``). Each option's destination maps to
    its long flag; a command module may add ``ARGUMENT_FLAGS`` for library
    arguments whose name differs from the option's destination.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The sub-command's parser.
    module : module, optional
        The sub-command's module.

    Returns
    -------
    flags : dict
        Python argument name -> flag.
    """
    flags = {}
    for action in parser._actions:
        long_flags = [option for option in action.option_strings if option.startswith("--")]
        if long_flags and action.dest not in ("help", "version"):
            flags[action.dest] = long_flags[0]
    flags.update(getattr(module, "ARGUMENT_FLAGS", {}))
    return flags


def name_flags(message, flags):
    """
    Rewrite a library message so that it names command-line flags.

    ``name=True`` becomes the flag alone and a Python argument name with an
    underscore (``target_psf_fwhm``) becomes its flag; other words are left
    alone, so ordinary text is not changed.

    Parameters
    ----------
    message : str
    flags : dict
        From `argument_flags`.

    Returns
    -------
    message : str
    """
    for name in sorted(flags, key=len, reverse=True):
        flag = flags[name]
        message = re.sub(rf"(?<![\w.-]){re.escape(name)}=True\b", flag, message)
        if "_" in name:
            message = re.sub(rf"(?<![\w.-]){re.escape(name)}\b(?!=)", flag, message)
    return message


def main(argv=None):
    """
    Run the ``picasso`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; `sys.argv` by default.

    Returns
    -------
    status : int
        Exit status: 0 on success, 1 when the command failed on bad input, 2 on
        a usage error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, KeyError, OSError) as error:
        # Bad input reaches the user as one clear line, not a traceback, naming the flags.
        message = name_flags(str(error), args.flags)
        print(f"picasso {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
