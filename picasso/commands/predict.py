"""``picasso predict``: property maps for a dataset or cutout files."""

import logging
from pathlib import Path

from . import _sdss_frames

__all__ = ["add_parser", "run", "ARGUMENT_FLAGS"]

#: Library arguments set by options of another name (for messages; see `picasso.cli`).
ARGUMENT_FLAGS = {"target_psf_fwhm": "--target-psf", "psf_fwhm": "--band-psf-fwhm"}

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """Register ``picasso predict``."""
    parser = subparsers.add_parser(
        "predict",
        help="predict property maps with a trained model",
        description=(
            "Predict property maps for every pair of an HDF5 pair dataset, or for GalaxyCutout "
            "FITS files. Output: one HDF5 file (-o out.h5) or one FITS file of PropertyMaps per "
            "galaxy (-o out_dir/). With --shard i/n each of n processes or machines does its "
            "own contiguous block of the input (HDF5 names get .shard<i>of<n>)."
        ),
    )
    parser.add_argument("model", help="model file (.safetensors), training output directory, or "
                                      "'default' for the model bundled with picasso")
    parser.add_argument("data", nargs="*",
                        help="an HDF5 pair dataset, or GalaxyCutout FITS files")
    parser.add_argument("-o", "--output", required=True,
                        help="output .h5 file or directory for FITS files")
    parser.add_argument("--shard", help="do shard i of n, written i/n (e.g. 0/4)")
    parser.add_argument("--batch-size", type=int, default=8, dest="batch_size")
    parser.add_argument("--device", help="cpu, cuda, ... (default: cpu)")
    parser.add_argument("--symmetries", type=int, default=1, choices=(1, 2, 4, 8),
                        help="average over this many symmetries of the square (test-time "
                             "augmentation; default 1: none)")
    parser.add_argument("--compile", action="store_true",
                        help="compile the network first (minutes; then the fastest CPU path)")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="arithmetic of the network: auto (default) uses bf16 where the "
                             "device computes it natively and it moves no output by more than "
                             "0.01 dex, else float32; fp32 forces float32")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    _sdss_frames.add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _source(paths):
    from ..cutout import GalaxyCutout
    from ..io.dataset import PairDataset

    suffixes = {Path(path).suffix.lower() for path in paths}
    if suffixes <= {".h5", ".hdf5"}:
        if len(paths) != 1:
            raise ValueError("give one pair dataset at a time (or shard it with --shard)")
        return PairDataset(paths[0])
    return _CutoutFiles([Path(path) for path in paths], GalaxyCutout)


class _CutoutFiles:
    """Cutout FITS files read one at a time."""

    def __init__(self, paths, reader):
        self.paths = paths
        self.reader = reader

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, item):
        cutout = self.reader.read(self.paths[item])
        cutout.meta.setdefault("source_file", self.paths[item].name)
        return cutout


def run(args):
    """Predict; returns the exit status."""
    from ..nn.loading import load_model
    from ..nn.predict import parse_shard, predict_dataset

    if getattr(args, "sdss_frames", None):
        return _sdss_frames.run(args)
    if not args.data:
        raise ValueError("give an HDF5 pair dataset or cutout FITS files, or --sdss-frames")
    shard = parse_shard(args.shard) if args.shard else None
    model = load_model(args.model, device=args.device or "cpu")
    written = predict_dataset(
        model, _source(args.data), args.output, shard=shard, batch_size=args.batch_size,
        device=args.device, symmetries=tuple(range(args.symmetries)), overwrite=args.overwrite,
        progress=args.progress, compile=args.compile, precision=args.precision,
    )
    print(f"wrote {len(written)} file(s): {written[0] if len(written) == 1 else args.output}")
    return 0
