"""
``picasso card``: print or write the model card of a model file.

Optionally stores measured results in the model first (``--evaluation``,
``--calibration``, ``--real-conditions``), so the card of the saved model
shows them from then on.
"""

import logging
from pathlib import Path

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """
    Register ``picasso card``.

    Parameters
    ----------
    subparsers : argparse sub-parsers action
    """
    parser = subparsers.add_parser(
        "card",
        help="the model card of a model: training data, recipe, accuracy, limitations",
        description=(
            "Render the model card of MODEL (a model file or training directory) from its "
            "header. With --evaluation / --calibration / --real-conditions the measured results "
            "are stored in the model file first (written back with --save)."
        ),
    )
    parser.add_argument("model", help="model file or directory")
    parser.add_argument("--format", choices=("markdown", "rst"), default="markdown")
    parser.add_argument("-o", "--output", help="write the card here (default: print it)")
    parser.add_argument("--evaluation", help="'picasso evaluate' metrics.json on held-out data")
    parser.add_argument("--calibration", help="calibration table as JSON records")
    parser.add_argument("--real-conditions", dest="real_conditions",
                        help="JSON of benchmarks/bench_real_conditions.py")
    parser.add_argument("--save", action="store_true",
                        help="store the given results in the model file (overwrites it)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    parser.set_defaults(func=run)


def run(args):
    """
    Run ``picasso card``.

    Parameters
    ----------
    args : `argparse.Namespace`

    Returns
    -------
    status : int
    """
    from ..nn.loading import load_model
    from ..nn.model_file import MODEL_FILENAME
    from ..studies.card import model_card, record_results
    from ..utils.atomic import atomic_path

    model = load_model(args.model)
    results = {key: getattr(args, key) for key in ("evaluation", "calibration", "real_conditions")}
    if any(value is not None for value in results.values()):
        record_results(model, **results)
        if args.save:
            path = Path(args.model)
            model.save(path / MODEL_FILENAME if path.is_dir() else path, overwrite=True)
            log.info("stored the results in %s", args.model)
    elif args.save:
        raise ValueError("--save needs --evaluation, --calibration or --real-conditions")
    text = model_card(model, format=args.format)
    if args.output:
        with atomic_path(Path(args.output), overwrite=args.overwrite) as tmp_path:
            Path(tmp_path).write_text(text)
        log.info("wrote %s", args.output)
    else:
        print(text, end="")
    return 0
