"""``picasso experiment``: the paper's band, resolution and training-size studies."""

import logging

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """Register ``picasso experiment``."""
    parser = subparsers.add_parser(
        "experiment",
        help="run the paper's band, resolution or training-size study",
        description=(
            "Train variants of the network with the same seed and galaxy split, evaluate all "
            "on one held-out set (mu and sigma inside 2 R_half per property) and write "
            "results.json, results.md and the paper's figure (Fig. 7 bands, Fig. 8 resolution, "
            "Fig. 9 training-set size) into the output directory. Sizes are parameters: "
            "--preset paper on a GPU reproduces the paper's scale, --preset small runs on a "
            "laptop."
        ),
    )
    parser.add_argument("study", choices=("bands", "resolution", "training-size"))
    parser.add_argument("data", help="HDF5 pair dataset (picasso simulate)")
    parser.add_argument("-o", "--output", required=True, help="output directory")
    parser.add_argument(
        "--sizes", type=int, nargs="+",
        help="resolution: image sizes in pixels (default N, N/2, N/4); training-size: numbers "
             "of training pairs (default all, 1/2, 1/4)",
    )
    parser.add_argument("--band-sets", nargs="+", dest="band_sets",
                        help="bands: combinations, fiducial first (default ugriz ugri gr r)")
    parser.add_argument("--band-mode", choices=("zeroed", "true", "both"), default="zeroed",
                        dest="mode",
                        help="bands: zero the dropped channels of the 5-band network (the "
                             "authors' way), train true fewer-band networks, or both "
                             "(default %(default)s)")
    parser.add_argument("--preset", default="small", choices=("paper", "small"),
                        help="architecture and schedule (default %(default)s)")
    parser.add_argument("--epochs", type=int, help="epochs per variant (milestones scale)")
    parser.add_argument("--seed", type=int, default=0, help="one seed for every variant")
    parser.add_argument("--aperture", type=float, default=2.0, dest="k",
                        help="aperture semi-major axis in half-mass radii (default 2)")
    group = parser.add_argument_group("overrides of the preset")
    group.add_argument("--depth", type=int)
    group.add_argument("--base-width", type=int, dest="base_width")
    group.add_argument("--batch-size", type=int, dest="batch_size")
    group.add_argument("--lr", type=float, dest="learning_rate")
    group.add_argument("--device", help="cpu, cuda, ... (default: cuda if available)")
    group.add_argument("--workers", type=int, dest="num_workers")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars")
    parser.set_defaults(func=run)
    return parser


_OVERRIDES = ("depth", "base_width", "batch_size", "learning_rate", "device", "num_workers")


def run(args):
    """Run the study; returns the exit status."""
    from ..studies.experiments import run_study

    kwargs = {key: getattr(args, key) for key in _OVERRIDES if getattr(args, key) is not None}
    if args.study == "bands":
        if args.sizes:
            raise ValueError("--sizes applies to the resolution and training-size studies")
        kwargs.update(band_sets=args.band_sets, mode=args.mode)
    else:
        if args.band_sets:
            raise ValueError("--band-sets applies to the bands study")
        kwargs["sizes"] = args.sizes
    result = run_study(args.study, args.data, args.output, preset=args.preset,
                       epochs=args.epochs, seed=args.seed, k=args.k, progress=args.progress,
                       **kwargs)
    print(result.markdown())
    print(f"results and figure written to {args.output}")
    return 0
