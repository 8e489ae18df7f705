"""``picasso train``: train a U-Net on a pair dataset."""

import argparse
import logging
from pathlib import Path

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """Register ``picasso train``."""
    parser = subparsers.add_parser(
        "train",
        help="train a U-Net on an HDF5 pair dataset",
        description=(
            "Train the PICASSO U-Net on a pair dataset (picasso simulate). The output "
            "directory receives model.safetensors (best on validation), checkpoint.pt, "
            "log.csv, log.json and split.json. For several GPUs or nodes launch the same "
            "command with 'torchrun --nproc_per_node N picasso train ...'."
        ),
    )
    parser.add_argument("data", help="HDF5 pair dataset")
    parser.add_argument("-o", "--output", required=True, help="output directory")
    parser.add_argument("--preset", default="paper", choices=("paper", "small"),
                        help="architecture and schedule: the paper's, or a small CPU-sized one "
                             "(default: paper)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run whose checkpoint is in the output directory")
    group = parser.add_argument_group("training settings (override the preset)")
    group.add_argument("--epochs", type=int)
    group.add_argument("--batch-size", type=int, dest="batch_size", help="per process")
    group.add_argument("--lr", type=float, dest="learning_rate", help="Adam learning rate")
    group.add_argument("--weight-decay", type=float, dest="weight_decay")
    group.add_argument("--milestones", type=int, nargs="+",
                       help="epochs after which the learning rate drops by --gamma")
    group.add_argument("--gamma", type=float)
    group.add_argument("--loss", choices=("paper", "authors", "gaussian_nll"))
    group.add_argument("--no-augment", dest="augment", action="store_const", const=False)
    group.add_argument("--keep-bands", nargs="+", dest="keep_bands",
                       help="zero the other input bands (the authors' band studies)")
    group.add_argument("--seed", type=int)
    group.add_argument("--workers", type=int, dest="num_workers",
                       help="data-loader workers (default: up to 8 on a GPU, none on a CPU)")
    group.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    group.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                       help="bf16 autocast with float32 weights and loss (default auto: bf16 "
                            "on GPUs and on CPUs with native bf16 instructions)")
    group.add_argument("--channels-last", dest="channels_last",
                       action=argparse.BooleanOptionalAction, default=None,
                       help="channels-last memory (default: on GPUs and in bf16; in float32 on "
                            "CPUs for networks narrower than the paper's)")
    group.add_argument("--checkpoint-every", type=int, dest="checkpoint_every",
                       help="also checkpoint every N steps")
    group.add_argument("--compile", action="store_const", const=True,
                       help="torch.compile the network")
    group.add_argument("--init-output-bias", dest="init_output_bias",
                       action=argparse.BooleanOptionalAction, default=None,
                       help="start the output bias at the training targets' mean log10 "
                            "(default: on)")
    arch = parser.add_argument_group("architecture (overrides the preset)")
    arch.add_argument("--bands", nargs="+", dest="in_bands",
                      help="input bands of a true fewer-band model (default: the dataset's)")
    arch.add_argument("--properties", nargs="+", help="properties to predict")
    arch.add_argument("--depth", type=int)
    arch.add_argument("--base-width", type=int, dest="base_width")
    arch.add_argument("--heteroscedastic", action="store_const", const=True,
                      help="also predict a per-pixel uncertainty (use with --loss gaussian_nll)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars")
    parser.set_defaults(func=run)
    return parser


_TRAIN_KEYS = ("epochs", "batch_size", "learning_rate", "weight_decay", "milestones", "gamma",
               "loss", "augment", "keep_bands", "seed", "num_workers", "device", "precision",
               "channels_last", "checkpoint_every", "compile", "init_output_bias")
_MODEL_KEYS = ("in_bands", "properties", "depth", "base_width", "heteroscedastic")
#: Settings a resumed run may change without changing its result.
_RESUMABLE_KEYS = ("epochs", "num_workers", "device", "checkpoint_every")


def run(args):
    """Train; returns the exit status."""
    from ..io.dataset import PairDataset
    from ..nn.train import CHECKPOINT_FILENAME, Trainer, preset

    pairs = PairDataset(args.data)
    output = Path(args.output)
    given = {key: getattr(args, key) for key in _TRAIN_KEYS + _MODEL_KEYS
             if getattr(args, key, None) is not None}
    if args.resume:
        changed = sorted(set(given) - set(_RESUMABLE_KEYS))
        if changed:
            raise ValueError(
                f"--resume continues the recorded settings; only {', '.join(_RESUMABLE_KEYS)} "
                f"may change, not {', '.join(changed)}"
            )
        trainer = Trainer.resume(pairs, output, progress=args.progress, **given)
    else:
        if (output / CHECKPOINT_FILENAME).exists():
            raise FileExistsError(
                f"{output} already holds a training run; pass --resume to continue it or "
                "choose another output directory"
            )
        given.setdefault("in_bands", pairs.bands)
        given.setdefault("properties", pairs.properties)
        model_config, train_config = preset(args.preset, **given)
        trainer = Trainer(pairs, output, model_config=model_config, config=train_config,
                          progress=args.progress)
    model = trainer.fit()
    if trainer.is_main:
        print(f"best validation loss {trainer.best_metric:.5g} at epoch {trainer.best_epoch}; "
              f"model written to {output / 'model.safetensors'}")
        log.info("%r", model)
    return 0
