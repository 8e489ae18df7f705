"""
From frames and a position to a model-ready `~picasso.GalaxyCutout`.

`cutout_from_frames` is registered as the ``"sdss"`` reader of
`~picasso.GalaxyCutout` (``GalaxyCutout.read(frames, format="sdss", ...)``
and `~picasso.GalaxyCutout.from_sdss_frames`).
"""

import contextlib
import logging
import os
import time
import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.cosmology import Planck18
from astropy.io import registry
from astropy.stats import gaussian_fwhm_to_sigma
from astropy.utils.exceptions import AstropyUserWarning

from ...cutout import GalaxyCutout
from ...instrument import (
    extinction_coefficients,
)
from ...properties import BANDS
from ...radius import DEPROJECTION_FACTOR, HalfRadius
from ...utils.scales import as_angle, kpc_per_arcsec
from ...utils.scales import to_angle as to_angle_at
from .frames import as_frameset
from .resample import RESAMPLING_METHODS, match_psf, reproject_band, resampling_blur, target_wcs

__all__ = [
    "DEFAULT_TARGET_PSF_FWHM",
    "AUTO_TARGET_PSF_FWHM",
    "DEFAULT_N_HALF_LIGHT",
    "measure_half_light_radius",
    "mask_neighbours",
    "BACKGROUND_ANNULUS",
    "BACKGROUND_WARNING",
    "local_background",
    "cutout_from_frames",
]

logger = logging.getLogger(__name__)

#: The common PSF that cutouts are matched to when the caller names none: the ONE place
#: this default lives (`cutout_from_frames`, ``picasso predict --sdss-frames``, ``picasso
#: catalog`` and `picasso.studies.catalog` all take it from here). ``"auto"`` matches every
#: band to `AUTO_TARGET_PSF_FWHM` (1 kpc, the PSF of the paper's training mocks) where that
#: needs no sharpening, else to the widest band's PSF: SDSS seeing is about 1 kpc at
#: z ~ 0.03 and 4-5 kpc at z = 0.15, and deconvolution is never done. The bundled model is
#: told each cutout's PSF and redshift (condition planes) and was trained on seeing of
#: 0.9-2.2 arcsec at z = 0.02-0.15; a model that is not told them sees inputs blurrier
#: than its training images wherever the cutout's PSF differs (see the docs, "SDSS frames").
DEFAULT_TARGET_PSF_FWHM = "auto"

#: The narrowest PSF ``target_psf_fwhm="auto"`` matches to.
AUTO_TARGET_PSF_FWHM = 1.0 * u.kpc

#: Cutouts span this many half-light radii by default: picasso's models are trained on images
#: spanning 10 3-D stellar half-mass radii, and a half-light radius, taken as the projected
#: half-mass radius, is 3/4 of the 3-D one (`picasso.radius.DEPROJECTION_FACTOR`), so the
#: training field is 10 x 4/3 = 13.3 half-light radii: what a model's field-of-view check
#: expects (10 half-light radii sit exactly at the edge of its 25% tolerance).
DEFAULT_N_HALF_LIGHT = 10.0 * DEPROJECTION_FACTOR

def measure_half_light_radius(frame, center, *, threshold=2.0, start_size=151, max_size=801):
    """
    Measure a galaxy's half-light radius on one frame (photutils segmentation).

    Sources are detected on a sub-image around ``center`` above
    ``threshold`` times the per-pixel noise; the segment under the centre is
    the galaxy, and `photutils.segmentation.SourceCatalog.flux_radius`
    gives the radius holding half its flux. The sub-image grows until the
    segment no longer touches its edge. The radius is the observed one: PSF
    convolved, circular, and limited to the pixels above the threshold.

    Parameters
    ----------
    frame : `Frame`
        Usually the r-band frame.
    center : `~astropy.coordinates.SkyCoord`
        Galaxy centre.
    threshold : float
        Detection threshold in units of the per-pixel noise.
    start_size, max_size : int
        First and largest sub-image side in frame pixels.

    Returns
    -------
    radius : `~astropy.units.Quantity`
        Half-light radius in arcsec.

    Raises
    ------
    ValueError
        If no source lies under the centre.
    """
    from photutils.segmentation import SourceCatalog, detect_sources

    if not frame.contains(center):
        raise ValueError(f"{frame!r} does not contain the galaxy centre {center.to_string()}")
    x_center, y_center = (float(v) for v in frame.sky_to_pixel(center))
    size = int(start_size)
    while True:
        half = size // 2
        ny, nx = frame.shape
        x0, x1 = max(int(round(x_center)) - half, 0), min(int(round(x_center)) + half + 1, nx)
        y0, y1 = max(int(round(y_center)) - half, 0), min(int(round(y_center)) + half + 1, ny)
        rows, cols = slice(y0, y1), slice(x0, x1)
        data = frame._image[rows, cols].astype(np.float64)
        error = np.sqrt(frame.variance_in(rows, cols).astype(np.float64))
        segments = detect_sources(data, threshold * error, n_pixels=5)
        label = 0
        if segments is not None:
            iy, ix = int(round(y_center)) - y0, int(round(x_center)) - x0
            label = int(segments.data[iy, ix])
        if label == 0:
            raise ValueError(
                f"no source detected above {threshold} sigma at {center.to_string()} on "
                f"{frame!r}; give r_half or field explicitly"
            )
        mask = segments.data == label
        touches = mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
        at_frame_edge = (x0 == 0, y0 == 0, x1 == nx, y1 == ny)
        if touches and size < max_size and not all(at_frame_edge):
            size = min(2 * size + 1, max_size)
            continue
        if touches:
            logger.warning(
                "the galaxy's segment touches the edge of the %d-pixel region on %r; its "
                "half-light radius is a lower limit", size, frame,
            )
        segments.keep_labels([label])
        catalog = SourceCatalog(data, segments, error=error)
        radius_pixels = float(catalog.flux_radius(0.5)[0].value)
        return (radius_pixels * frame.pixel_scale).to(u.arcsec)


#: The sky left in a cutout is measured in the annulus between these fractions of its side
#: from the centre: its border and corners, 6-9 half-light radii out in the default field,
#: where picasso's training images hold zero-mean sky.
BACKGROUND_ANNULUS = (0.45, 0.71)

#: A cutout whose border sky (`local_background`) exceeds this many times the per-pixel
#: noise there in any band is warned about when it is not subtracted. Set on the galaxies
#: of ``benchmarks/bench_real_conditions.py``: the eight on clean sky stay below 0.8, the
#: eight on the halo of a globular cluster (0.3-1.7 dex too much mass) reach 1.6-56.
BACKGROUND_WARNING = 1.0


def local_background(flux, mask=None, *, annulus=BACKGROUND_ANNULUS):
    """
    The sky level left in every band of a cutout, from the annulus at its border.

    Sky-subtracted SDSS frames still hold residual sky and the diffuse light
    of large neighbours (in the field shipped for the tests, the halo of the
    globular cluster M2: several nanomaggies per pixel in *z*). A network
    trained on zero-mean sky reads that light as mass. The level is the
    sigma-clipped median (`photutils.background.LocalBackground`) of the
    pixels between ``annulus[0]`` and ``annulus[1]`` times the image side
    from its centre.

    Parameters
    ----------
    flux : `~numpy.ndarray`
        ``(n_bands, ny, nx)`` images.
    mask : `~numpy.ndarray`, optional
        bool, same shape (or ``(ny, nx)``): True on pixels to leave out (off the
        frames, neighbours).
    annulus : tuple of float
        Inner and outer radius as fractions of the image side.

    Returns
    -------
    levels : `~numpy.ndarray`
        One per band, in the unit of ``flux``; 0 for a band with no usable
        pixel in the annulus.
    """
    from photutils.background import LocalBackground

    flux = np.asarray(flux, dtype=np.float64)
    n_bands, ny, nx = flux.shape
    masks = np.zeros(flux.shape, dtype=bool) if mask is None else np.broadcast_to(mask, flux.shape)
    side = min(ny, nx)
    estimator = LocalBackground(annulus[0] * side, annulus[1] * side)
    levels = np.array([estimator(flux[index], (nx - 1) / 2, (ny - 1) / 2, mask=masks[index])
                       for index in range(n_bands)], dtype=np.float64)
    return np.where(np.isfinite(levels), levels, 0.0)


def mask_neighbours(image, variance, *, threshold=3.0, n_pixels=5, center=None):
    """
    Mask every detected source except the one at the centre (photutils segmentation).

    Parameters
    ----------
    image, variance : `~numpy.ndarray`
        Detection image and its variance.
    threshold : float
        Detection threshold in units of the per-pixel noise.
    n_pixels : int
        Minimum connected pixels of a source.
    center : tuple of float, optional
        (x, y) of the galaxy; the middle of the image by default.

    Returns
    -------
    mask : `~numpy.ndarray`
        bool, True on pixels of other sources (stars and neighbours).
    """
    from photutils.segmentation import detect_sources

    error = np.sqrt(np.clip(variance, 0, None))
    positive = error[error > 0]
    floor = np.median(positive) if positive.size else 1.0
    error = np.where(error > 0, error, floor)
    segments = detect_sources(image, threshold * error, n_pixels=n_pixels)
    if segments is None:
        return np.zeros(image.shape, dtype=bool)
    ny, nx = image.shape
    if center is None:
        center = ((nx - 1) / 2, (ny - 1) / 2)
    x, y = center
    row, column = int(np.floor(y)), int(np.floor(x))
    near = segments.data[row:row + 2, column:column + 2]
    labels = set(near[near > 0].tolist())
    mask = (segments.data > 0) & ~np.isin(segments.data, list(labels))
    return mask


@contextlib.contextmanager
def _timed(timings, key):
    """Add the process CPU seconds of the block to ``timings[key]`` (when timings is a dict)."""
    if timings is None:
        yield
        return
    start = time.process_time()
    try:
        yield
    finally:
        timings[key] = timings.get(key, 0.0) + time.process_time() - start


def _coordinate(ra, dec):
    if isinstance(ra, SkyCoord):
        if dec is not None:
            raise TypeError("give either a SkyCoord as ra (and dec=None) or ra and dec angles")
        return ra.icrs
    return SkyCoord(as_angle(ra, "ra"), as_angle(dec, "dec"), frame="icrs")


def cutout_from_frames(frames, ra, dec, redshift, *, size=256, field=None, r_half=None,
                       n_half_light=DEFAULT_N_HALF_LIGHT,
                       target_psf_fwhm=DEFAULT_TARGET_PSF_FWHM, bands=None,
                       psf_fwhm=None, cosmology=None, ebv=None, extinction_law="SF11",
                       method="adaptive", kernel="gaussian", subtract_background=False,
                       mask_sources=False, mask_threshold=3.0, timings=None):
    """
    Cut a model-ready `~picasso.GalaxyCutout` from calibrated frames.

    Steps, in order: choose the field (``field``, else ``n_half_light`` half-light
    radii from ``r_half`` or measured on the r frame); build a ``size`` x
    ``size`` tangent-plane grid centred on the galaxy; reproject every band's
    frames onto it with `reproject_band` (flux conserving, only sub-images,
    mosaicking frames when the galaxy crosses an edge) and propagate the
    variance; correct Galactic extinction when ``ebv`` is given; convolve every
    band to the Gaussian ``target_psf_fwhm`` (`match_psf`, never sharpening);
    optionally subtract the sky left at the cutout's border
    (`local_background`) and mask other sources (`mask_neighbours`).

    Parameters
    ----------
    frames : `FrameSet`, list of `Frame`, or paths
        The frames (paths and directories are read through the shared
        `FrameCache`).
    ra, dec : `~astropy.units.Quantity`
        Galaxy centre (angles). ``ra`` may be a `~astropy.coordinates.SkyCoord`
        with ``dec=None``.
    redshift : float
        Galaxy redshift.
    size : int
        Pixels per side of the cutout.
    field : `~astropy.units.Quantity`, optional
        Full width of the cutout, an angle or a proper length (kpc).
    r_half : `~astropy.units.Quantity`, optional
        Half-light radius (angle or proper length); the field is
        ``n_half_light * r_half``. Measured on the r frame when neither
        ``field`` nor ``r_half`` is given (`measure_half_light_radius`).
    n_half_light : float
        Field width in half-light radii: `DEFAULT_N_HALF_LIGHT` (13.3), the
        training mocks' 10 3-D stellar half-mass radii with the half-light
        radius taken as the projected half-mass radius (colour gradients,
        which make them differ, are not corrected).
    target_psf_fwhm : `~astropy.units.Quantity`, 'auto', 'widest' or None
        Common Gaussian PSF FWHM of all bands, a proper length (the mocks
        use 1 kpc) or an angle; ``'widest'`` matches every band to the
        widest band's PSF; ``'auto'`` (`DEFAULT_TARGET_PSF_FWHM`) to the
        wider of `AUTO_TARGET_PSF_FWHM` (1 kpc) and the widest band's; `None`
        skips PSF matching. SDSS seeing (about 1.4 arcsec) is 1 kpc at
        z ~ 0.035: beyond that a 1 kpc target would need sharpening, which
        is refused.
    bands : iterable of str, optional
        Bands to cut, in order; picasso's ``u g r i z`` by default.
    psf_fwhm : `~astropy.units.Quantity` or dict, optional
        PSF FWHM of the frames (one angle, or band -> angle); by default
        what each frame carries (`typical_psf_fwhm` for SDSS frames).
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Planck18 by default.
    ebv : float, optional
        E(B-V) of the Milky Way towards the galaxy (SFD 1998 scale for
        ``'SF11'``); no extinction correction when absent.
    extinction_law : {'SF11', 'F99'}
        See `extinction_coefficients`.
    method : {'adaptive', 'exact', 'interp'}
        Resampling algorithm (see `reproject_band`).
    kernel : {'gaussian', 'hann', 'auto'}
        Kernel of the adaptive method (see `reproject_band`).
    subtract_background : bool
        Subtract each band's `local_background`, for galaxies on diffuse
        light (a cluster's halo, residual sky). The levels are always
        recorded (``meta["background_nanomaggy"]``, and the largest in units
        of the per-pixel noise there in ``meta["background_significance"]``);
        without the subtraction, one above `BACKGROUND_WARNING` warns. On
        galaxies injected into the crowded half of the test field it takes
        the bundled model's stellar mass from 1.0 dex too high to +0.03; on
        clean sky, where the border holds some of the galaxy's own outer
        light, from +0.04 / 0.10 dex to +0.05 / 0.12 (the model is trained
        without it), so it is off by default
        (``benchmarks/bench_real_conditions.py --subtract-background``).
    mask_sources : bool
        Mask other sources detected on the r band (or the first band).
    mask_threshold : float
        Detection threshold (sigma per pixel) for ``mask_sources``.
    timings : dict, optional
        When given, the process CPU seconds of each step are added to it
        (keys ``r_half``, ``reproject``, ``psf_match``, ``background``, ``mask``), for
        benchmarks.

    Returns
    -------
    cutout : `~picasso.GalaxyCutout`
        Observed flux per pixel in nanomaggies (a model with a reference
        redshift moves it to its training distance when it predicts),
        variance, mask (uncovered pixels and, optionally, other sources),
        WCS, angular and physical pixel scale, the target PSF and a
        ``meta`` record of what was done.

    Raises
    ------
    ValueError
        For a missing band, a centre off every frame, a target PSF narrower
        than a band's PSF, or inconsistent arguments.
    TypeError
        For positions or sizes without units.
    """
    if cosmology is None:
        cosmology = Planck18
    if method not in RESAMPLING_METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(RESAMPLING_METHODS)}")
    if kernel not in ("gaussian", "hann", "auto"):
        raise ValueError(f"unknown kernel {kernel!r}; use 'gaussian', 'hann' or 'auto'")
    frameset = as_frameset(frames, psf_fwhm)
    center = _coordinate(ra, dec)
    redshift = float(redshift)
    if not redshift > 0:
        raise ValueError(f"redshift must be positive, got {redshift}")
    bands = BANDS.validate(bands) if bands is None else tuple(bands)
    missing = [band for band in bands if band not in frameset.bands]
    if missing:
        raise ValueError(
            f"no frames for band(s) {', '.join(missing)}; the frames cover "
            f"{', '.join(frameset.bands)}"
        )
    size = int(size)
    scale = kpc_per_arcsec(redshift, cosmology)

    def to_angle(value, name):
        if not isinstance(value, u.Quantity):
            raise TypeError(f"{name} must be an angle or a length Quantity, got {value!r}")
        try:
            return to_angle_at(value, redshift, cosmology)
        except u.UnitTypeError:
            raise TypeError(f"{name} must be an angle or a length, got unit {value.unit}") from None

    meta = {}
    r_half_length = None
    if field is not None:
        if r_half is not None:
            raise ValueError("give field or r_half, not both")
        field_angle = to_angle(field, "field")
        meta["field_source"] = "given"
    else:
        detect_band = "r" if "r" in frameset.bands else bands[0]
        if r_half is None:
            frame = next((f for f in frameset.frames(detect_band) if f.contains(center)), None)
            if frame is None:
                raise ValueError(
                    f"the galaxy centre {center.to_string('decimal')} is on none of the "
                    f"{detect_band} frames"
                )
            with _timed(timings, "r_half"):
                r_half_angle = measure_half_light_radius(frame, center)
            meta["r_half_source"] = f"measured on {detect_band}"
        else:
            r_half_angle = to_angle(r_half, "r_half")
            meta["r_half_source"] = "given"
        r_half_length = (r_half_angle * scale).to(u.kpc)
        field_angle = n_half_light * r_half_angle
        meta["field_source"] = f"{n_half_light:g} r_half"
    if not field_angle > 0:
        raise ValueError(f"the field must be positive, got {field_angle}")
    pixel_scale = field_angle / size
    wcs_out = target_wcs(center, size, pixel_scale)
    shape = (size, size)
    meta.update({"field_arcsec": field_angle.to_value(u.arcsec), "resampling": method,
                 "variance_convolution": "aperture"})

    rule = target_psf_fwhm if isinstance(target_psf_fwhm, str) else None
    if rule is not None and rule not in ("auto", "widest"):
        raise ValueError(
            f"target_psf_fwhm must be a Quantity, 'auto', 'widest' or None, got "
            f"{target_psf_fwhm!r}"
        )
    if target_psf_fwhm is not None and rule is None:
        target_fwhm_angle = to_angle(target_psf_fwhm, "target_psf_fwhm")
    coefficients = {}
    if ebv is not None:
        if not np.isfinite(ebv) or ebv < 0:
            raise ValueError(f"ebv must be a non-negative number, got {ebv}")
        coefficients = extinction_coefficients(bands, extinction_law)
        meta.update({"ebv": float(ebv), "extinction_law": extinction_law})

    fluxes, variances, masks, used_files, effective_fwhms = [], [], [], [], []
    # the grid is ICRS with RA first (target_wcs): no frame transformation needed
    x_c, y_c = (float(v) for v in wcs_out.world_to_pixel_values(center.ra.deg,
                                                               center.dec.deg))
    for band in bands:
        with _timed(timings, "reproject"):
            flux, variance, coverage, used = reproject_band(
                frameset.frames(band), wcs_out, shape, method=method, kernel=kernel
            )
        if coverage[int(round(y_c)), int(round(x_c))] <= 0:
            raise ValueError(f"the galaxy centre is not covered by the {band} frames")
        uncovered = coverage < 0.999
        if uncovered.any():
            logger.warning("band %s: %d cutout pixels are off the frames and masked",
                           band, int(uncovered.sum()))
        if band in coefficients:
            extinction = coefficients[band] * float(ebv)
            factor = 10 ** (0.4 * extinction)
            flux, variance = flux * factor, variance * factor**2
            meta.setdefault("extinction_mag", {})[band] = extinction
        fwhms = {frame.psf_fwhm for frame in used}
        if None in fwhms:
            raise ValueError(
                f"band {band}: the frames have no PSF FWHM; give psf_fwhm (band -> angle)"
            )
        fwhm_in = max(fwhms)
        scale_in = max(frame.pixel_scale for frame in used)
        blur = resampling_blur(method, kernel, scale_in.to_value(u.arcsec),
                                pixel_scale.to_value(u.arcsec))
        effective = np.hypot(fwhm_in.to_value(u.arcsec), blur / gaussian_fwhm_to_sigma) * u.arcsec
        meta.setdefault("frame_psf_fwhm_arcsec", {})[band] = fwhm_in.to_value(u.arcsec)
        meta.setdefault("frame_psf_source", {})[band] = sorted(
            {frame.psf_fwhm_source for frame in used})[0]
        fluxes.append(flux)
        variances.append(variance)
        effective_fwhms.append(effective)
        masks.append(uncovered)
        used_files.extend(os.path.basename(frame.path) for frame in used if frame.path)
    effective_fwhms = u.Quantity(effective_fwhms)
    if rule == "widest":
        target_fwhm_angle = effective_fwhms.max()
    elif rule == "auto":
        floor = to_angle(AUTO_TARGET_PSF_FWHM, "AUTO_TARGET_PSF_FWHM").to(u.arcsec)
        target_fwhm_angle = max(floor, effective_fwhms.max().to(u.arcsec))
        meta["psf_rule"] = ("auto: " + (f"{AUTO_TARGET_PSF_FWHM:g}" if target_fwhm_angle == floor
                                        else f"widest band (sharper than {AUTO_TARGET_PSF_FWHM:g} "
                                        "would need deconvolution)"))
    if target_psf_fwhm is not None:
        with _timed(timings, "psf_match"):
            for index, band in enumerate(bands):
                fluxes[index], variances[index] = match_psf(
                    fluxes[index], variances[index], effective_fwhms[index], target_fwhm_angle,
                    pixel_scale, band=band, kpc_per_arcsec=scale,
                )
        psf_out = (target_fwhm_angle * scale).to(u.kpc)
        meta["psf_matched_kpc"] = psf_out.to_value(u.kpc)
    else:
        psf_out = effective_fwhms
    flux = np.stack(fluxes).astype(np.float32)
    variance = np.stack(variances).astype(np.float32)
    mask = np.stack(masks)
    with _timed(timings, "background"):
        levels = local_background(flux, mask)
        noise = np.sqrt(np.clip(local_background(variance, mask), 0, None))
    significance = np.where(noise > 0, levels / np.where(noise > 0, noise, 1.0), 0.0)
    worst = int(np.argmax(significance))
    meta["background_nanomaggy"] = dict(zip(bands, levels.tolist()))
    meta["background_significance"] = float(significance[worst])
    if subtract_background:
        flux -= levels.astype(np.float32)[:, np.newaxis, np.newaxis]
    elif significance[worst] > BACKGROUND_WARNING:
        warnings.warn(
            f"the sky at the cutout's border is {significance[worst]:.1f} times the "
            f"per-pixel noise in band {bands[worst]} (residual sky or a large neighbour's "
            "diffuse light), which a model reads as the galaxy's own light; cut with "
            "subtract_background=True (--subtract-background) to remove it",
            AstropyUserWarning, stacklevel=2,
        )
    if mask_sources:
        detect = bands.index("r") if "r" in bands else 0
        with _timed(timings, "mask"):
            neighbours = mask_neighbours(flux[detect], variance[detect],
                                         threshold=mask_threshold)
        mask |= neighbours[np.newaxis]
        meta["n_masked_neighbour_pixels"] = int(neighbours.sum())
    meta["frames"] = sorted(set(used_files))
    logger.info("cut %s at z=%.4f: field %.2f arcsec, %d x %d pixels", center.to_string(),
                redshift, field_angle.to_value(u.arcsec), size, size)
    return GalaxyCutout(
        flux << u.nanomaggy,
        bands,
        wcs=wcs_out,
        pixel_scale=pixel_scale.to(u.arcsec),
        redshift=redshift,
        cosmology=cosmology,
        psf_fwhm=psf_out,
        r_half=None if r_half_length is None else HalfRadius(r_half_length, "light_projected"),
        mask=mask,
        variance=variance << u.nanomaggy**2,
        meta=meta,
    )


registry.register_reader("sdss", GalaxyCutout, cutout_from_frames)
