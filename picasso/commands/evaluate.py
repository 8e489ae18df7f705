"""
``picasso evaluate``: the paper's evaluation of a model (or of saved
predictions) on a test set of pairs.

Writes into the output directory: ``metrics.json`` (every statistic),
``report.md`` (mu and sigma per property beside the paper's values and the
colour mass-to-light baselines), ``galaxies.ecsv`` (per-galaxy totals and
geometry) and the PNG figures (Figs. 1, 4, 5, 6).
"""

import logging
from pathlib import Path

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """
    Register ``picasso evaluate``.

    Parameters
    ----------
    subparsers : argparse sub-parsers action
    """
    from ..analysis.apertures import DEFAULT_APERTURE_K
    from ..studies.evaluation import R_HALF_MODES

    parser = subparsers.add_parser(
        "evaluate",
        help="accuracy of a model or of predictions on a test set (the paper's analysis)",
        description=(
            "Compare predicted property maps with the truth of a pair dataset: totals inside "
            "k half-mass radii per galaxy (mu, sigma as in the paper), radial residuals, "
            "per-pixel statistics and the colour mass-to-light baseline. MODEL_OR_PREDICTIONS "
            "is a model file (or directory) to run, or an HDF5 file of predicted log10 maps "
            "('picasso predict ... -o preds.h5' output, or a file with a 'truth' dataset "
            "aligned with the test set)."
        ),
    )
    parser.add_argument("source", metavar="MODEL_OR_PREDICTIONS",
                        help="model file/directory, or predictions HDF5")
    parser.add_argument("dataset", metavar="TEST_H5", help="pair dataset with the truth")
    parser.add_argument("-o", "--output", required=True, help="report directory")
    parser.add_argument("-k", "--aperture", type=float, default=DEFAULT_APERTURE_K,
                        help="aperture semi-major axis in half-mass radii (default %(default)s)")
    parser.add_argument("--r-half", choices=R_HALF_MODES, default="measured",
                        help="half-mass radius: measured on the true stellar-mass map, the "
                        "authors' 25 px at 256 px, or the dataset's r_half_kpc column "
                        "(default %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N galaxies")
    parser.add_argument("--examples", type=int, default=2,
                        help="galaxies drawn as Fig. 1 panels (default %(default)s)")
    parser.add_argument("--pixels-per-galaxy", type=int, default=4096,
                        help="random non-empty pixels per galaxy for per-pixel statistics")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pixel sampling")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the colour mass-to-light baselines")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    parser.add_argument("--batch-size", type=int, default=8, help="images per forward pass")
    parser.add_argument("--device", default=None, help="torch device for a model (e.g. cuda)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    parser.set_defaults(func=run)


def _is_predictions_file(path):
    import h5py

    path = Path(path)
    return path.is_file() and h5py.is_hdf5(path)


def run(args):
    """
    Run ``picasso evaluate``.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    status : int
    """
    import matplotlib

    from ..studies.evaluation import evaluate

    matplotlib.use("Agg")
    source = Path(args.source)
    common = dict(k=args.aperture, r_half=args.r_half, limit=args.limit, examples=args.examples,
                  pixels_per_galaxy=args.pixels_per_galaxy, seed=args.seed,
                  baselines=not args.no_baseline, progress=True)
    if _is_predictions_file(source):
        evaluation = evaluate(args.dataset, predictions=source, **common)
    else:
        # A model file or directory (picasso.load_model says clearly if it is neither).
        evaluation = evaluate(args.dataset, model=args.source, batch_size=args.batch_size,
                              device=args.device, **common)
    written = evaluation.write(args.output, overwrite=args.overwrite,
                               figures=not args.no_figures)
    for path in written:
        log.info("wrote %s", path)
    print(evaluation.markdown())
    return 0
