"""``picasso catalog``: property maps and a table for a catalogue of SDSS galaxies, on Dask."""

import logging

from ._sdss_frames import parse_target_psf

__all__ = ["add_parser", "run", "ARGUMENT_FLAGS"]

#: Library arguments set by options of another name (for messages; see `picasso.cli`).
ARGUMENT_FLAGS = {"target_psf_fwhm": "--target-psf"}

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """Register ``picasso catalog``."""
    parser = subparsers.add_parser(
        "catalog",
        help="maps and a table of resolved properties for a catalogue of SDSS galaxies",
        description=(
            "For every galaxy of CATALOG (ECSV, FITS or CSV with ra, dec, z and optionally "
            "r_half and id): find its SDSS field, fetch the frames (once per field), cut it, "
            "predict its property maps and measure totals inside 1 and 2 half-mass radii, "
            "gradients and the out-of-distribution distance. Writes OUT/properties.ecsv (one "
            "row per galaxy, failures included with their reason), OUT/maps/<id>.fits and "
            "OUT/summary.png. Runs on Dask: a local cluster by default, or a running one with "
            "--scheduler. Rerun the same command to resume."
        ),
    )
    parser.add_argument("catalog", help="the galaxies: .ecsv, .fits or .csv")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    parser.add_argument("--model", default="default",
                        help="model file or training folder (default: the bundled model)")
    parser.add_argument("--frames",
                        help="where the SDSS frames are: a URL in the Science Archive Server "
                             "layout or a local directory (default: picasso.io.sdss.conf."
                             "frames_url, the public SAS)")
    parser.add_argument("--field-list", dest="index",
                        help="the survey's field list (window_flist.fits) file or URL (default: "
                             "the headers of a local --frames directory, else conf.field_list)")
    parser.add_argument("--scheduler",
                        help="address of a running Dask scheduler (tcp://host:8786), e.g. one "
                             "started by dask-jobqueue on an HPC queue (default: a local cluster)")
    parser.add_argument("--workers", type=int, dest="n_workers",
                        help="workers of the local cluster (default: one per core)")
    parser.add_argument("--threads", dest="processes", action="store_false",
                        help="run the local workers as threads of this process (quicker to "
                             "start, for small catalogues) instead of processes")
    parser.add_argument("--chunk-size", type=int, default=16, dest="chunk_size",
                        help="galaxies per task (default %(default)s)")
    parser.add_argument("--size", type=int, help="cutout pixels (default: the model's)")
    parser.add_argument("--target-psf", dest="target_psf", default=None,
                        help="common PSF FWHM ('1 kpc', '1.8 arcsec', 'auto', 'widest' or "
                             "'none'; default: picasso.io.sdss.DEFAULT_TARGET_PSF_FWHM)")
    parser.add_argument("--method", choices=("adaptive", "exact", "interp"), default="adaptive",
                        help="resampling algorithm (default adaptive)")
    parser.add_argument("--subtract-background", action="store_true",
                        dest="subtract_background",
                        help="subtract the sky left at the cutout's border (for galaxies on "
                             "diffuse light; see picasso.io.sdss.local_background)")
    parser.add_argument("--mask-sources", action="store_true", dest="mask_sources",
                        help="mask stars and neighbours (photutils segmentation)")
    parser.add_argument("--symmetries", type=int, default=1, choices=(1, 2, 4, 8),
                        help="average over this many symmetries of the square (default 1)")
    parser.add_argument("--skip-failed", dest="retry_failed", action="store_false",
                        help="on a rerun, keep earlier failures instead of trying them again")
    parser.add_argument("--overwrite", action="store_true",
                        help="start over in an output folder that holds a run")
    parser.add_argument("--no-figure", dest="figure", action="store_false",
                        help="skip the summary figure")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    parser.set_defaults(func=run)
    return parser


def run(args):
    """Run the catalogue; returns the exit status."""
    from ..studies.catalog import run_catalog

    result = run_catalog(
        args.catalog, args.output, model=args.model, frames=args.frames, index=args.index,
        scheduler=args.scheduler, n_workers=args.n_workers, processes=args.processes,
        chunk_size=args.chunk_size,
        retry_failed=args.retry_failed, overwrite=args.overwrite, progress=args.progress,
        figure=args.figure, size=args.size, target_psf_fwhm=parse_target_psf(args.target_psf),
        method=args.method, subtract_background=args.subtract_background,
        mask_sources=args.mask_sources, symmetries=args.symmetries,
    )
    print(f"{result.n_ok} galaxies done, {result.n_failed} failed: wrote {result.table_path}"
          + (f" and {result.figure_path}" if result.figure_path else ""))
    return 0
