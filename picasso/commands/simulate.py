"""
``picasso simulate``: render synthetic (image, truth) pairs into an HDF5 dataset.

Example::

    picasso simulate -n 2000 --size 256 --seed 0 -o train.h5 --preset paper --processes 2

Ctrl-C (SIGINT) or SIGTERM stops the build with exit status 130 or 143 and
keeps ``train.h5.partial`` (and the finished shards in ``train.h5.shards/``);
the same command with ``--resume`` finishes it. ``--scheduler ADDRESS`` renders
on a Dask cluster instead of local worker processes.
"""

import argparse
import logging
import signal
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """
    Register ``picasso simulate``.

    Parameters
    ----------
    subparsers : argparse sub-parsers action
    """
    parser = subparsers.add_parser(
        "simulate",
        help="render synthetic galaxies into an HDF5 dataset of (image, truth) pairs",
        description=(
            "Draw galaxies from picasso's synthetic universe and observe each from four "
            "directions (face-on, edge-on, two random): ugriz images in nanomaggies and the "
            "seven truth maps. The build is deterministic in --seed and can be resumed "
            "after an interruption with --resume."
        ),
    )
    parser.add_argument("-n", "--galaxies", type=int, required=True, help="number of galaxies")
    parser.add_argument("-o", "--output", required=True, help="output HDF5 file")
    parser.add_argument(
        "--size", type=int, default=256, help="pixels per side (default %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the universe (default %(default)s)"
    )
    parser.add_argument(
        "--views", type=int, default=4, help="views per galaxy (default %(default)s)"
    )
    parser.add_argument(
        "--preset",
        choices=("paper", "sdss"),
        default="paper",
        help="observing set-up: the paper's S/N 25 images or real SDSS depth (default %(default)s)",
    )
    parser.add_argument(
        "--mass-function",
        choices=("flat", "baldry2012"),
        default="flat",
        help="stellar masses flat in log M* or from the Baldry et al. (2012) "
        "mass function (default %(default)s)",
    )
    parser.add_argument(
        "--sky-frames",
        default=None,
        metavar="DIR",
        help="directory of real SDSS frame-{band}-*.fits[.bz2] files: add random "
        "patches of real sky (noise, stars, galaxies) to every image",
    )
    parser.add_argument(
        "--dust",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="attenuate starlight by the gas in front of it and young stars by their birth "
        "clouds (default: the preset's, on for sdss, off for paper as in the paper)",
    )
    parser.add_argument(
        "--compression",
        choices=("lzf", "gzip", "none"),
        default="lzf",
        help="HDF5 compression of images and maps (default %(default)s; 'none' "
        "writes ~3x larger files ~6x faster)",
    )
    parser.add_argument("--resume", action="store_true", help="continue an interrupted build")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--processes", type=int, default=2,
        help="worker processes, or the workers of --scheduler local (default %(default)s)"
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="render on a Dask cluster: its scheduler's address (tcp://host:8786), or 'local' "
        "for a LocalCluster of --processes workers; the workers write shard files next to "
        "the output, so they must see its directory (needs dask and distributed)",
    )
    parser.add_argument(
        "--shard-size",
        type=int,
        default=None,
        metavar="N",
        help="galaxies per shard, the unit of work of a parallel build (default: about 8 "
        "shards per worker, at most 64 galaxies)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args):
    """
    Run ``picasso simulate``.

    Parameters
    ----------
    args : `argparse.Namespace`

    Returns
    -------
    status : int
        0 on success, 128 + the signal number (130 for Ctrl-C, 143 for
        SIGTERM) when a signal interrupted the build.
    """
    from ..mock.build import BuildInterrupted, build_dataset
    from ..mock.observe import ObservingConfig
    from ..mock.universe import Universe
    from ..utils.optional_deps import require

    if args.scheduler is not None:
        try:
            for name in ("dask", "distributed"):
                require(name, "picasso simulate --scheduler")
        except ImportError as error:
            print(f"picasso simulate: {error}", file=sys.stderr)
            return 1

    universe = Universe(seed=args.seed, mass_function=args.mass_function)
    extra = {"sky_frames": args.sky_frames} if args.sky_frames else {}
    if args.dust is not None:
        extra["dust"] = args.dust
    config = ObservingConfig.preset(args.preset, **extra)
    try:
        path = build_dataset(
            args.output,
            args.galaxies,
            image_size=args.size,
            seed=args.seed,
            views=args.views,
            config=config,
            processes=args.processes,
            progress=not args.no_progress,
            resume=args.resume,
            overwrite=args.overwrite,
            universe=universe,
            compression=None if args.compression == "none" else args.compression,
            shard_size=args.shard_size,
            scheduler=args.scheduler,
        )
    except KeyboardInterrupt as interrupted:
        # BuildInterrupted (SIGINT or SIGTERM during the build) says how far it
        # got; a bare KeyboardInterrupt is a Ctrl-C just before or after it.
        if not isinstance(interrupted, BuildInterrupted):
            interrupted = BuildInterrupted(signal.SIGINT)
        done = ""
        if interrupted.n_pairs is not None:
            done = f" after {interrupted.n_pairs} of {interrupted.n_total} pairs"
        print(f"picasso simulate: interrupted by {interrupted.signal_name}{done}", file=sys.stderr)
        partial = interrupted.partial_path or Path(f"{args.output}.partial")
        if partial.exists():
            print(
                f"picasso simulate: {partial} is kept; run the same command with --resume "
                "to finish it",
                file=sys.stderr,
            )
        return 128 + interrupted.signum
    pairs = _count(args.galaxies * args.views, "pair", "pairs")
    galaxies = _count(args.galaxies, "galaxy", "galaxies")
    views = _count(args.views, "view", "views")
    print(f"wrote {pairs} ({galaxies} x {views}, {args.size} x {args.size} px) to {path}")
    return 0


def _count(number, singular, plural):
    return f"{number} {singular if number == 1 else plural}"
