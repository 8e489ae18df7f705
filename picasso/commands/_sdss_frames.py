"""
``picasso predict --sdss-frames``: from SDSS frame files and a position to property maps.

The options are registered on ``picasso predict`` by `add_arguments`; `run`
cuts the galaxy from the frames with `picasso.io.sdss.cutout_from_frames`
and predicts its maps with the model.
"""

import logging

import astropy.units as u

__all__ = ["add_arguments", "run", "parse_quantity", "parse_band_fwhm", "parse_target_psf"]

log = logging.getLogger(__name__)


def parse_quantity(text, name):
    """
    Parse a quantity such as ``"1 kpc"`` or ``"4.5 arcsec"``.

    Parameters
    ----------
    text : str
    name : str
        Option name for the error message.

    Returns
    -------
    quantity : `~astropy.units.Quantity`
    """
    try:
        value = u.Quantity(text)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}: cannot read {text!r} as a quantity; write e.g. '1 kpc' or '4 arcsec'"
        ) from None
    if value.unit == u.dimensionless_unscaled:
        raise ValueError(f"{name}: {text!r} has no unit; write e.g. '1 kpc' or '4 arcsec'")
    return value


def parse_band_fwhm(text):
    """
    Parse per-band PSF FWHMs in arcsec, ``"u=1.6,g=1.5,r=1.4,i=1.3,z=1.3"``.

    Parameters
    ----------
    text : str

    Returns
    -------
    fwhm : dict
        Band -> `~astropy.units.Quantity` (arcsec).
    """
    result = {}
    for item in text.split(","):
        band, _, value = item.partition("=")
        try:
            result[band.strip()] = float(value) * u.arcsec
        except ValueError:
            raise ValueError(
                f"--band-psf-fwhm: cannot read {item!r}; write band=arcsec pairs such as "
                "'u=1.6,g=1.5,r=1.4'"
            ) from None
    return result


def parse_target_psf(text):
    """
    Parse ``--target-psf``: a quantity, ``auto``, ``widest`` or ``none``.

    Parameters
    ----------
    text : str or None
        `None` gives the library's default
        (`picasso.io.sdss.DEFAULT_TARGET_PSF_FWHM`).

    Returns
    -------
    target : `~astropy.units.Quantity`, str or None
    """
    from ..io.sdss import DEFAULT_TARGET_PSF_FWHM

    if text is None:
        return DEFAULT_TARGET_PSF_FWHM
    target = text.strip().lower()
    if target == "none":
        return None
    if target in ("auto", "widest"):
        return target
    return parse_quantity(text, "--target-psf")


def add_arguments(parser):
    """Add the ``--sdss-frames`` options to the ``picasso predict`` parser."""
    group = parser.add_argument_group(
        "SDSS frames",
        "Cut the galaxy from SDSS frame-*.fits(.bz2) files (or directories of them) instead "
        "of reading cutouts: picasso predict MODEL --sdss-frames DIR --ra RA --dec DEC --z Z "
        "-o maps.fits",
    )
    group.add_argument("--sdss-frames", nargs="+", dest="sdss_frames", metavar="FRAMES",
                       help="frame files or directories holding them")
    group.add_argument("--ra", type=float, help="right ascension of the galaxy (deg, ICRS)")
    group.add_argument("--dec", type=float, help="declination of the galaxy (deg, ICRS)")
    group.add_argument("--z", type=float, dest="redshift", help="redshift of the galaxy")
    group.add_argument("--field", help="full width of the cutout, e.g. '40 arcsec' or '30 kpc' "
                                       "(default: 13.3 half-light radii, the training "
                                       "field of 10 3-D half-mass radii)")
    group.add_argument("--r-half", dest="r_half",
                       help="half-light radius, e.g. '4 arcsec' (default: measured on r)")
    group.add_argument("--target-psf", dest="target_psf", default=None,
                       help="common PSF FWHM ('1 kpc', '1.8 arcsec', 'auto', 'widest' or "
                            "'none'; default: picasso.io.sdss.DEFAULT_TARGET_PSF_FWHM, 'auto': "
                            "1 kpc where no band is wider, else the widest band's)")
    group.add_argument("--band-psf-fwhm", dest="band_psf_fwhm",
                       help="PSF FWHM of the frames in arcsec per band, e.g. "
                            "'u=1.6,g=1.5,r=1.4,i=1.3,z=1.3' (default: typical SDSS values)")
    group.add_argument("--ebv", type=float, help="Milky Way E(B-V) (SFD) to correct for")
    group.add_argument("--method", choices=("adaptive", "exact", "interp"), default="adaptive",
                       help="resampling algorithm (default adaptive)")
    group.add_argument("--subtract-background", action="store_true",
                       dest="subtract_background",
                       help="subtract the sky left at the cutout's border (for galaxies on "
                            "diffuse light; see picasso.io.sdss.local_background)")
    group.add_argument("--mask-sources", action="store_true", dest="mask_sources",
                       help="mask stars and neighbours (photutils segmentation)")
    group.add_argument("--save-cutout", dest="save_cutout", metavar="PATH",
                       help="also write the cutout as a GalaxyCutout FITS file")
    return group


def cutout_from_args(args, size):
    """
    Cut the galaxy described by the command-line options.

    Parameters
    ----------
    args : `argparse.Namespace`
    size : int
        Pixels per side (the model's image size).

    Returns
    -------
    cutout : `~picasso.GalaxyCutout`
    """
    from ..io.sdss import cutout_from_frames

    missing = [option for option, value in
               (("--ra", args.ra), ("--dec", args.dec), ("--z", args.redshift)) if value is None]
    if missing:
        raise ValueError(f"--sdss-frames needs {', '.join(missing)}")
    target_psf = parse_target_psf(args.target_psf)
    return cutout_from_frames(
        args.sdss_frames,
        args.ra * u.deg,
        args.dec * u.deg,
        args.redshift,
        size=size,
        field=parse_quantity(args.field, "--field") if args.field else None,
        r_half=parse_quantity(args.r_half, "--r-half") if args.r_half else None,
        target_psf_fwhm=target_psf,
        psf_fwhm=parse_band_fwhm(args.band_psf_fwhm) if args.band_psf_fwhm else None,
        ebv=args.ebv,
        method=args.method,
        subtract_background=args.subtract_background,
        mask_sources=args.mask_sources,
    )


def run(args):
    """Cut the galaxy, predict its maps and write them; returns the exit status."""
    from ..nn.loading import load_model
    from ..nn.predict import predict_cutouts

    if args.data:
        raise ValueError("give either data files or --sdss-frames, not both")
    if args.shard:
        raise ValueError("--shard does not apply to one galaxy cut from --sdss-frames")
    model = load_model(args.model, device=args.device or "cpu")
    cutout = cutout_from_args(args, model.image_size)
    if args.save_cutout:
        cutout.write(args.save_cutout, overwrite=args.overwrite)
    maps = predict_cutouts([cutout], model, batch_size=1, device=args.device,
                           symmetries=tuple(range(args.symmetries)))[0]
    maps.write(args.output, overwrite=args.overwrite)
    print(f"wrote {args.output}")
    return 0
