"""
SDSS imaging frames (and other calibrated images) to model-ready cutouts.

This module reads SDSS ``frame-{band}-{run}-{camcol}-{field}.fits(.bz2)``
files in the DR8+ layout, recovers their noise from the SDSS data model,
and turns a set of frames plus a sky position and a redshift into a
`~picasso.GalaxyCutout` on one tangent-plane grid for all bands, with the
physical pixel scale, flux scaling, Galactic extinction and point-spread
function that a picasso model expects.

The frame layout and the noise recipe follow the SDSS data model page for
frame files,
https://data.sdss.org/datamodel/files/BOSS_PHOTOOBJ/frames/RERUN/RUN/CAMCOL/frame.html :

- HDU0: the calibrated, sky-subtracted image in nanomaggies with a TAN WCS
  (CD matrix, 0.396 arcsec pixels);
- HDU1: the calibration vector, nanomaggies per count for each column (flat
  field times photometric calibration);
- HDU2: the sky in counts on a coarse grid ``ALLSKY`` (about 256 x 192) with
  ``XINTERP`` and ``YINTERP`` giving each column's and row's position on it
  (bilinear interpolation);
- HDU3: the astrometric transformation (one ``asTrans`` row).

Counts and their variance are, in the data model's notation,
``dn = img / cimg + simg`` and ``dn_err**2 = dn / gain + darkVariance``
with ``gain`` and ``darkVariance`` tabulated per camera column and band;
the variance in nanomaggies squared is ``dn_err**2 * cimg**2``.
"""

import bz2
import gzip
import io
import logging
import os
import re
import threading
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.stats import gaussian_fwhm_to_sigma, sigma_clipped_stats
from astropy.table import Table
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_area, proj_plane_pixel_scales

from ..properties import BANDS, flux_equivalencies

__all__ = [
    "SDSS_PIXEL_SCALE",
    "PSF_FWHM_KEYWORDS",
    "SDSS_MEDIAN_PSF_FWHM_R",
    "SDSS_EXTINCTION_COEFFICIENTS",
    "sdss_gain",
    "sdss_dark_variance",
    "typical_psf_fwhm",
    "extinction_coefficients",
    "Frame",
    "SDSSFrame",
    "FrameSet",
    "FrameCache",
    "read_frame",
    "read_image",
    "target_wcs",
    "measure_half_light_radius",
    "reproject_band",
    "match_psf",
    "mask_neighbours",
    "cutout_from_frames",
]

logger = logging.getLogger(__name__)

#: Pixel scale of the SDSS imaging camera.
SDSS_PIXEL_SCALE = 0.396 * u.arcsec

#: Median r-band PSF width of SDSS imaging (SDSS DR9 "Image quality
#: information", https://www.sdss3.org/dr9/imaging/other_info.php: quartiles
#: 1.30, 1.43, 1.58 arcsec).
SDSS_MEDIAN_PSF_FWHM_R = 1.43 * u.arcsec

#: Power-law index of the PSF FWHM with wavelength in SDSS images,
#: FWHM ~ wavelength**-0.3 (Xin et al. 2018, PASP 130, 115002).
_PSF_WAVELENGTH_INDEX = -0.3

#: A_band / E(B-V) for the SDSS filters with R_V = 3.1, to be used with the
#: SFD (1998) E(B-V): Schlafly & Finkbeiner 2011, ApJ 737, 103, Table 6.
SDSS_EXTINCTION_COEFFICIENTS = {"u": 4.239, "g": 3.303, "r": 2.285, "i": 1.698, "z": 1.263}

# Gain (electrons per count) and dark variance (counts**2) of each SDSS CCD,
# from the frame data model page (see the module docstring). Entries that
# changed during the survey are (value before, value after, first run after).
_GAIN = {
    1: {"u": 1.62, "g": 3.32, "r": 4.71, "i": 5.165, "z": 4.745},
    2: {"u": (1.595, 1.825, 1100), "g": 3.855, "r": 4.6, "i": 6.565, "z": 5.155},
    3: {"u": 1.59, "g": 3.845, "r": 4.72, "i": 4.86, "z": 4.885},
    4: {"u": 1.6, "g": 3.995, "r": 4.76, "i": 4.885, "z": 4.775},
    5: {"u": 1.47, "g": 4.05, "r": 4.725, "i": 4.64, "z": 3.48},
    6: {"u": 2.17, "g": 4.035, "r": 4.895, "i": 4.76, "z": 4.69},
}
_DARK_VARIANCE = {
    1: {"u": 9.61, "g": 15.6025, "r": 1.8225, "i": 7.84, "z": 0.81},
    2: {"u": 12.6025, "g": 1.44, "r": 1.00, "i": (5.76, 6.25, 1500), "z": 1.0},
    3: {"u": 8.7025, "g": 1.3225, "r": 1.3225, "i": 4.6225, "z": 1.0},
    4: {"u": 12.6025, "g": 1.96, "r": 1.3225, "i": (6.25, 7.5625, 1500),
        "z": (9.61, 12.6025, 1500)},
    5: {"u": 9.3025, "g": 1.1025, "r": 0.81, "i": 7.84, "z": (1.8225, 2.1025, 1500)},
    6: {"u": 7.0225, "g": 1.8225, "r": 0.9025, "i": 5.0625, "z": 1.21},
}

_SDSS_NAME = re.compile(
    r"^frame-(?P<band>[a-z])-(?P<run>\d{6})-(?P<camcol>\d)-(?P<field>\d{4})\.fits(\.bz2|\.gz)?$"
)
_SDSS_BANDS = ("u", "g", "r", "i", "z")


def _ccd_value(table, what, camcol, band, run):
    try:
        camcol = int(camcol)
        entry = table[camcol][band]
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"no SDSS {what} for camcol {camcol!r} and band {band!r}: camcol must be 1-6 "
            f"and band one of {', '.join(_SDSS_BANDS)}"
        ) from None
    if not isinstance(entry, tuple):
        return entry
    before, after, first_run_after = entry
    if run is None:
        raise ValueError(
            f"the SDSS {what} of camcol {camcol} band {band} changed at run {first_run_after}: "
            "give the run number"
        )
    return after if int(run) >= first_run_after else before


def sdss_gain(camcol, band, run=None):
    """
    Gain of an SDSS imaging CCD, in electrons per count.

    Values from the SDSS frame data model
    (https://data.sdss.org/datamodel/files/BOSS_PHOTOOBJ/frames/RERUN/RUN/CAMCOL/frame.html).

    Parameters
    ----------
    camcol : int
        Camera column, 1 to 6.
    band : str
        SDSS band, one of ``u g r i z``.
    run : int, optional
        Run number; needed for the one CCD whose gain changed (camcol 2, u).

    Returns
    -------
    gain : float

    Raises
    ------
    ValueError
        For an unknown camcol or band, or a run-dependent value without a run.
    """
    return _ccd_value(_GAIN, "gain", camcol, band, run)


def sdss_dark_variance(camcol, band, run=None):
    """
    Dark variance (read noise and dark current) of an SDSS imaging CCD, in counts**2.

    Values from the SDSS frame data model
    (https://data.sdss.org/datamodel/files/BOSS_PHOTOOBJ/frames/RERUN/RUN/CAMCOL/frame.html).

    Parameters
    ----------
    camcol : int
        Camera column, 1 to 6.
    band : str
        SDSS band, one of ``u g r i z``.
    run : int, optional
        Run number; needed for CCDs whose dark variance changed at run 1500.

    Returns
    -------
    dark_variance : float

    Raises
    ------
    ValueError
        For an unknown camcol or band, or a run-dependent value without a run.
    """
    return _ccd_value(_DARK_VARIANCE, "dark variance", camcol, band, run)


def typical_psf_fwhm(band):
    """
    A typical PSF FWHM of SDSS imaging in one band.

    The SDSS frame files carry no PSF width (it lives in the field's
    ``psField`` file, which this module does not read). This is the survey's
    median r-band PSF width, 1.43 arcsec (SDSS DR9 image quality page),
    scaled to the band's effective wavelength with FWHM ~ wavelength**-0.3
    (Xin et al. 2018): about 1.69, 1.55, 1.43, 1.35, 1.28 arcsec in
    u, g, r, i, z. Real frames scatter around it by +-0.15 arcsec (quartiles
    1.30-1.58 in r); give the measured FWHM (``psfWidth`` of the field) when
    the PSF matters.

    Parameters
    ----------
    band : str
        One of the bands in `picasso.properties.BANDS`.

    Returns
    -------
    fwhm : `~astropy.units.Quantity`
        FWHM in arcsec.
    """
    wavelength = BANDS[band].effective_wavelength
    ratio = (wavelength / BANDS["r"].effective_wavelength).decompose().value
    return SDSS_MEDIAN_PSF_FWHM_R * ratio**_PSF_WAVELENGTH_INDEX


def extinction_coefficients(bands, law="SF11", r_v=3.1):
    """
    Galactic extinction per unit E(B-V), A_band / E(B-V), for each band.

    Parameters
    ----------
    bands : iterable of str
        Band names (from `picasso.properties.BANDS`).
    law : {'SF11', 'F99'}
        ``'SF11'``: the SDSS coefficients of Schlafly & Finkbeiner (2011,
        Table 6, R_V = 3.1), meant for the SFD (1998) E(B-V) that SDSS
        catalogues list. ``'F99'``: the Fitzpatrick (1999) curve of the
        ``dust_extinction`` package evaluated at each band's effective
        wavelength (monochromatic; no integration over the filter), for a
        true E(B-V): with an SFD (1998) value multiply it by 0.86 first
        (Schlafly & Finkbeiner 2011); 0.86 x F99 agrees with SF11 to 3%.
    r_v : float
        Total-to-selective extinction ratio for ``'F99'``.

    Returns
    -------
    coefficients : dict
        Band name -> A_band / E(B-V) (float).
    """
    bands = tuple(bands)
    if law == "SF11":
        if r_v != 3.1:
            raise ValueError("the SF11 SDSS coefficients exist for R_V = 3.1 only; use law='F99'")
        unknown = [band for band in bands if band not in SDSS_EXTINCTION_COEFFICIENTS]
        if unknown:
            raise ValueError(f"no SF11 coefficient for band(s) {unknown}; use law='F99'")
        return {band: SDSS_EXTINCTION_COEFFICIENTS[band] for band in bands}
    if law == "F99":
        try:
            from dust_extinction.parameter_averages import F99
        except ImportError:
            raise ImportError(
                "law='F99' needs the dust_extinction package: pip install dust_extinction"
            ) from None
        model = F99(Rv=r_v)
        return {
            band: float(model(BANDS[band].effective_wavelength) * r_v) for band in bands
        }
    raise ValueError(f"unknown extinction law {law!r}; use 'SF11' or 'F99'")


# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------


def _as_angle(value, name):
    if not isinstance(value, u.Quantity) or not value.unit.is_equivalent(u.deg):
        raise TypeError(f"{name} must be an angle Quantity (e.g. 1.4 * u.arcsec), got {value!r}")
    return value


#: Header keywords read as the PSF FWHM in arcsec when present (SDSS frames have none).
PSF_FWHM_KEYWORDS = ("PSF_FWHM", "PSFFWHM", "SEEING")


def _header_psf_fwhm(header):
    for key in PSF_FWHM_KEYWORDS:
        value = header.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value) * u.arcsec
    return None


def _celestial_wcs(header, source):
    """A 2D celestial WCS from a header, or a ValueError that says what is wrong."""
    if "CTYPE1" not in header or "CTYPE2" not in header:
        raise ValueError(
            f"{source}: no WCS in the header (CTYPE1/CTYPE2 missing); a celestial WCS "
            "is needed to place the image on the sky"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, naxis=2)
        except Exception as error:  # astropy raises several types for broken WCS
            raise ValueError(f"{source}: the WCS in the header cannot be read ({error})") from None
    if not wcs.has_celestial or wcs.celestial.naxis != 2:
        raise ValueError(
            f"{source}: the WCS is not celestial (CTYPE {wcs.wcs.ctype[0]!r}, "
            f"{wcs.wcs.ctype[1]!r}); an RA/Dec projection is needed"
        )
    matrix = wcs.pixel_scale_matrix
    if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) == 0:
        raise ValueError(f"{source}: the WCS pixel scale matrix is singular or not finite")
    return wcs.celestial


class Frame:
    """
    One calibrated image in one band, with its WCS, noise and PSF.

    Parameters
    ----------
    image : `~astropy.units.Quantity`
        2D flux per pixel, in a unit convertible to nanomaggies (with
        `picasso.properties.flux_equivalencies`: nanomaggy, Jy, ...).
    wcs : `~astropy.wcs.WCS`
        Celestial WCS of the image.
    band : str
        Band name.
    variance : `~astropy.units.Quantity`, optional
        Per-pixel variance in flux**2, same shape as ``image``. When absent,
        a background-limited constant variance is estimated from the
        sigma-clipped scatter of the image (source Poisson noise ignored).
    psf_fwhm : `~astropy.units.Quantity`, optional
        PSF FWHM (angle). When absent, `typical_psf_fwhm` for the band.
    path : str, optional
        The file the frame was read from.
    meta : dict, optional
        Header or other metadata.
    """

    def __init__(self, image, wcs, band, *, variance=None, psf_fwhm=None, path=None, meta=None):
        if not isinstance(image, u.Quantity):
            raise TypeError("image must be a Quantity with a flux unit (e.g. nanomaggy)")
        if image.ndim != 2:
            raise ValueError(f"image must be 2D, got shape {image.shape}")
        try:
            values = image.to_value(u.nanomaggy, flux_equivalencies())
        except u.UnitConversionError:
            raise ValueError(
                f"image unit {image.unit} is not a flux per pixel convertible to nanomaggy; "
                "convert surface brightness to flux per pixel first"
            ) from None
        self._image = np.asarray(values, dtype=np.float32)
        if not isinstance(wcs, WCS) or not wcs.has_celestial:
            raise TypeError("wcs must be a celestial astropy.wcs.WCS")
        self.wcs = wcs.celestial
        self.band = str(band)
        self.path = None if path is None else str(path)
        self.meta = dict(meta or {})
        if variance is None:
            self._variance = None
            self.variance_source = "background"
        else:
            if not isinstance(variance, u.Quantity):
                raise TypeError("variance must be a Quantity in flux**2 (e.g. nanomaggy**2)")
            if variance.shape != image.shape:
                raise ValueError(
                    f"variance shape {variance.shape} differs from image shape {image.shape}"
                )
            self._variance = np.asarray(
                np.sqrt(variance).to_value(u.nanomaggy, flux_equivalencies()) ** 2,
                dtype=np.float32,
            )
            self.variance_source = "given"
        self._background_variance = None
        if psf_fwhm is None:
            if self.band not in BANDS:
                self.psf_fwhm = None
                self.psf_fwhm_source = "unknown"
            else:
                self.psf_fwhm = typical_psf_fwhm(self.band)
                self.psf_fwhm_source = "typical"
        else:
            self.psf_fwhm = _as_angle(psf_fwhm, "psf_fwhm").to(u.arcsec)
            self.psf_fwhm_source = "given"

    def __repr__(self):
        name = os.path.basename(self.path) if self.path else "in memory"
        return f"<{type(self).__name__} band {self.band} {self.shape[1]}x{self.shape[0]} ({name})>"

    @property
    def shape(self):
        """tuple: (ny, nx) of the image."""
        return self._image.shape

    @property
    def image(self):
        """`~astropy.units.Quantity`: flux per pixel in nanomaggies."""
        return self._image << u.nanomaggy

    @property
    def pixel_scale(self):
        """`~astropy.units.Quantity`: geometric mean pixel side (arcsec)."""
        return (np.sqrt(proj_plane_pixel_area(self.wcs)) * u.deg).to(u.arcsec)

    @property
    def variance(self):
        """`~astropy.units.Quantity`: per-pixel variance in nanomaggy**2."""
        return self.variance_in() << u.nanomaggy**2

    def variance_in(self, rows=slice(None), cols=slice(None)):
        """
        Per-pixel variance of a region, in nanomaggy**2 (plain array).

        Parameters
        ----------
        rows, cols : slice
            The region.

        Returns
        -------
        variance : `~numpy.ndarray`
        """
        if self._variance is not None:
            return self._variance[rows, cols]
        if self._background_variance is None:
            _, _, std = sigma_clipped_stats(self._image, sigma=3.0, maxiters=10)
            self._background_variance = np.float32(std**2)
            logger.info(
                "%r: no variance given, using the clipped background rms %.4g nmgy", self, std
            )
        shape = self._image[rows, cols].shape
        return np.full(shape, self._background_variance, dtype=np.float32)

    def with_psf_fwhm(self, psf_fwhm):
        """
        A copy that shares the arrays but has another PSF FWHM.

        Parameters
        ----------
        psf_fwhm : `~astropy.units.Quantity`
            Angle.

        Returns
        -------
        frame : `Frame`
        """
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.psf_fwhm = _as_angle(psf_fwhm, "psf_fwhm").to(u.arcsec)
        clone.psf_fwhm_source = "given"
        return clone

    def pixel_region(self, coords, margin=0):
        """
        Bounding box of sky positions in this frame's pixels, clipped to the frame.

        Parameters
        ----------
        coords : `~astropy.coordinates.SkyCoord`
            Positions (for example the border of a target grid).
        margin : int
            Pixels added on every side before clipping.

        Returns
        -------
        region : tuple of slice or None
            ``(rows, cols)``, or `None` when the box misses the frame.
        """
        x, y = self.wcs.world_to_pixel(coords)
        ny, nx = self.shape
        x0 = int(np.floor(np.min(x))) - margin
        x1 = int(np.ceil(np.max(x))) + margin + 1
        y0 = int(np.floor(np.min(y))) - margin
        y1 = int(np.ceil(np.max(y))) + margin + 1
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, nx), min(y1, ny)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        return slice(y0, y1), slice(x0, x1)

    def contains(self, coord):
        """bool: whether a sky position falls on the frame."""
        x, y = self.wcs.world_to_pixel(coord)
        ny, nx = self.shape
        return bool(-0.5 <= x < nx - 0.5 and -0.5 <= y < ny - 0.5)


class SDSSFrame(Frame):
    """
    One SDSS imaging frame (DR8+ ``frame-*.fits``) with its noise model.

    Use `read_frame` to read one from a file. On top of `Frame`, it keeps
    the calibration vector and the sky grid, so that counts and their
    variance follow the SDSS data model: ``dn = img / cimg + simg`` and
    ``variance = (dn / gain + darkVariance) * cimg**2`` (nanomaggy**2), see
    https://data.sdss.org/datamodel/files/BOSS_PHOTOOBJ/frames/RERUN/RUN/CAMCOL/frame.html .

    Parameters
    ----------
    image : `~astropy.units.Quantity`
        Calibrated, sky-subtracted image (nanomaggies per pixel).
    wcs : `~astropy.wcs.WCS`
        Celestial WCS of HDU0.
    band : str
        ``u g r i z``.
    calibration : `~numpy.ndarray`
        HDU1: nanomaggies per count for each column.
    sky_grid, sky_x, sky_y : `~numpy.ndarray`
        HDU2: ``ALLSKY`` (counts, shape (n_y, n_x)), ``XINTERP`` and
        ``YINTERP``.
    run, camcol, field : int
        Frame identifiers; ``camcol`` and ``run`` select gain and dark variance.
    psf_fwhm : `~astropy.units.Quantity`, optional
        PSF FWHM; by default `typical_psf_fwhm` (the frame file has none).
    astrans : `~astropy.table.Table`, optional
        HDU3, kept for reference.
    path, meta
        As for `Frame`.
    """

    def __init__(self, image, wcs, band, *, calibration, sky_grid, sky_x, sky_y, run, camcol,
                 field=None, psf_fwhm=None, astrans=None, path=None, meta=None):
        super().__init__(image, wcs, band, psf_fwhm=psf_fwhm, path=path, meta=meta)
        ny, nx = self.shape
        self.calibration = np.asarray(calibration, dtype=np.float64)
        self.sky_grid = np.asarray(sky_grid, dtype=np.float64)
        self.sky_x = np.asarray(sky_x, dtype=np.float64)
        self.sky_y = np.asarray(sky_y, dtype=np.float64)
        source = self.path or "SDSS frame"
        if self.calibration.shape != (nx,):
            raise ValueError(
                f"{source}: calibration vector (HDU1) has shape {self.calibration.shape}, "
                f"expected ({nx},) (one value per image column)"
            )
        if not np.all(np.isfinite(self.calibration)) or np.any(self.calibration <= 0):
            raise ValueError(f"{source}: calibration vector (HDU1) has non-positive values")
        if self.sky_grid.ndim != 2 or self.sky_x.shape != (nx,) or self.sky_y.shape != (ny,):
            raise ValueError(
                f"{source}: sky table (HDU2) does not match the image: ALLSKY "
                f"{self.sky_grid.shape}, XINTERP {self.sky_x.shape}, YINTERP "
                f"{self.sky_y.shape} for a {nx} x {ny} image"
            )
        self.run = int(run)
        self.camcol = int(camcol)
        self.field = None if field is None else int(field)
        self.gain = sdss_gain(self.camcol, self.band, self.run)
        self.dark_variance = sdss_dark_variance(self.camcol, self.band, self.run)
        self.astrans = astrans
        self.variance_source = "sdss-data-model"

    def sky(self, rows=slice(None), cols=slice(None)):
        """
        The subtracted sky of a region, in counts.

        The ``ALLSKY`` grid interpolated bilinearly at ``(YINTERP, XINTERP)``,
        positions off the grid clamped to its edge, as IDL's
        ``interpolate(allsky, xinterp, yinterp, /grid)`` does.

        Parameters
        ----------
        rows, cols : slice
            The region.

        Returns
        -------
        sky : `~numpy.ndarray`
        """
        from scipy.interpolate import RectBivariateSpline

        grid_y = np.arange(self.sky_grid.shape[0], dtype=float)
        grid_x = np.arange(self.sky_grid.shape[1], dtype=float)
        spline = RectBivariateSpline(grid_y, grid_x, self.sky_grid, kx=1, ky=1, s=0)
        y = np.clip(self.sky_y[rows], 0, grid_y[-1])
        x = np.clip(self.sky_x[cols], 0, grid_x[-1])
        return spline(y, x)

    def counts(self, rows=slice(None), cols=slice(None)):
        """
        The original counts (before calibration and sky subtraction) of a region.

        Parameters
        ----------
        rows, cols : slice
            The region.

        Returns
        -------
        counts : `~numpy.ndarray`
        """
        return self._image[rows, cols] / self.calibration[cols] + self.sky(rows, cols)

    def variance_in(self, rows=slice(None), cols=slice(None)):
        # Poisson noise of sky + source in electrons and the dark variance, in
        # counts**2, calibrated back to nanomaggies**2. Negative counts (noise
        # on a faint sky) carry no Poisson term.
        counts = np.clip(self.counts(rows, cols), 0, None)
        variance_counts = counts / self.gain + self.dark_variance
        return (variance_counts * self.calibration[cols] ** 2).astype(np.float32)

    variance_in.__doc__ = Frame.variance_in.__doc__


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


def _read_bytes(path):
    """The (decompressed) bytes of a file, with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    opener = {".bz2": bz2.open, ".gz": gzip.open}.get(path.suffix, open)
    try:
        with opener(path, "rb") as stream:
            return stream.read()
    except (OSError, EOFError) as error:
        raise ValueError(
            f"{path}: cannot decompress ({error}); the file is truncated or corrupt, "
            "download it again"
        ) from None


def _open_fits(path, raw=None):
    """Open a (possibly compressed) FITS file fully into memory, with clear errors."""
    path = Path(path)
    if raw is None:
        raw = _read_bytes(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AstropyWarning)
        try:
            hdul = fits.open(io.BytesIO(raw), memmap=False) if raw else None
            if hdul is not None:
                hdul.readall()
                for hdu in hdul:
                    _ = hdu.data  # read now, so that a truncated file fails here
        except (OSError, ValueError, TypeError, IndexError) as error:
            raise ValueError(
                f"{path}: not a readable FITS file ({error}); it may be truncated or corrupt"
            ) from None
    truncated = [str(w.message) for w in caught if "truncated" in str(w.message).lower()]
    if hdul is None or truncated:
        raise ValueError(
            f"{path}: the FITS file is truncated ({truncated[0] if truncated else 'empty'}); "
            "download it again"
        )
    return hdul


def _parse_sdss_name(path):
    match = _SDSS_NAME.match(Path(path).name)
    if not match:
        return None
    return {
        "band": match["band"],
        "run": int(match["run"]),
        "camcol": int(match["camcol"]),
        "field": int(match["field"]),
    }


def _looks_like_sdss_frame(hdul, path):
    if _parse_sdss_name(path) is not None:
        return True
    header = hdul[0].header
    return header.get("ORIGIN", "").strip() == "SDSS" and "CAMCOL" in header


def _frame_from_sdss_hdul(hdul, path, psf_fwhm=None, band=None):
    source = str(path)
    if len(hdul) < 4:
        raise ValueError(
            f"{source}: an SDSS frame file has 4 HDUs (image, calibration vector, sky, "
            f"asTrans), this one has {len(hdul)}; it may be truncated"
        )
    header = hdul[0].header
    if hdul[0].data is None or hdul[0].data.ndim != 2:
        raise ValueError(f"{source}: HDU0 holds no 2D image")
    named = _parse_sdss_name(path) or {}
    header_band = str(header.get("FILTER", "")).strip()
    if not header_band:
        raise ValueError(f"{source}: the header has no FILTER keyword, so the band is unknown")
    if header_band not in _SDSS_BANDS:
        raise ValueError(f"{source}: FILTER = {header_band!r} is not an SDSS band (u g r i z)")
    checks = {"file name": named.get("band"), "requested band": band}
    try:
        checks["asTrans table (HDU3)"] = str(hdul[3].data["FILTER"][0]).strip() or None
    except (KeyError, TypeError, IndexError):
        pass
    for where, other in checks.items():
        if other is not None and other != header_band:
            raise ValueError(
                f"{source}: band mismatch: FILTER = {header_band!r} in the header but "
                f"{other!r} in the {where}"
            )
    bunit = header.get("BUNIT")
    if bunit is None:
        raise ValueError(
            f"{source}: no BUNIT in the header; SDSS frames are in nanomaggies "
            "(BUNIT = 'nanomaggy'), so this file is not a calibrated frame"
        )
    try:
        unit = u.Unit(str(bunit).strip())
    except ValueError:
        unit = None
    if unit is None or not unit.is_equivalent(u.nanomaggy) or unit.to(u.nanomaggy) != 1.0:
        raise ValueError(
            f"{source}: BUNIT = {bunit!r}, but SDSS frames must be in nanomaggies; "
            "is this a raw or differently calibrated image?"
        )
    wcs = _celestial_wcs(header, source)
    scale = proj_plane_pixel_scales(wcs) * 3600
    if not np.allclose(scale, SDSS_PIXEL_SCALE.to_value(u.arcsec), rtol=0.05):
        raise ValueError(
            f"{source}: WCS pixel scale {scale[0]:.4f} x {scale[1]:.4f} arcsec is not the "
            f"SDSS {SDSS_PIXEL_SCALE:.3f}; the WCS is inconsistent with an SDSS frame"
        )
    camcol = header.get("CAMCOL", named.get("camcol"))
    run = header.get("RUN", named.get("run"))
    if camcol is None or run is None:
        raise ValueError(f"{source}: CAMCOL and RUN are needed (header or file name)")
    for key, value in (("camcol", camcol), ("run", run)):
        if key in named and named[key] != int(value):
            raise ValueError(
                f"{source}: {key} {value} in the header but {named[key]} in the file name"
            )
    try:
        sky = hdul[2].data
        sky_grid = np.asarray(sky["ALLSKY"][0], dtype=np.float64)
        sky_x = np.asarray(sky["XINTERP"][0], dtype=np.float64)
        sky_y = np.asarray(sky["YINTERP"][0], dtype=np.float64)
    except (KeyError, TypeError, IndexError):
        raise ValueError(
            f"{source}: HDU2 must be the sky table with ALLSKY, XINTERP and YINTERP"
        ) from None
    calibration = hdul[1].data
    if calibration is None:
        raise ValueError(f"{source}: HDU1 (calibration vector) is empty")
    astrans = Table(hdul[3].data) if isinstance(hdul[3], fits.BinTableHDU) else None
    frame = SDSSFrame(
        np.asarray(hdul[0].data, dtype=np.float32) << u.nanomaggy,
        wcs,
        header_band,
        calibration=np.asarray(calibration, dtype=np.float64).ravel(),
        sky_grid=sky_grid,
        sky_x=sky_x,
        sky_y=sky_y,
        run=run,
        camcol=camcol,
        field=header.get("FRAME", named.get("field")),
        psf_fwhm=psf_fwhm if psf_fwhm is not None else _header_psf_fwhm(header),
        astrans=astrans,
        path=source,
        meta=dict(header),
    )
    if psf_fwhm is None and _header_psf_fwhm(header) is not None:
        frame.psf_fwhm_source = "header"
    return frame


def _image_unit(header, unit, source):
    if unit is None:
        bunit = header.get("BUNIT")
        if bunit is None:
            raise ValueError(
                f"{source}: no BUNIT in the header; give the image unit with unit=... "
                "(e.g. u.nanomaggy or u.MJy / u.sr)"
            )
        try:
            unit = u.Unit(str(bunit).strip(), parse_strict="raise")
        except ValueError:
            raise ValueError(
                f"{source}: BUNIT = {bunit!r} is not a unit astropy understands; "
                "give the unit with unit=..."
            ) from None
    return u.Unit(unit)


def read_image(path, band, *, unit=None, hdu=None, variance=None, psf_fwhm=None):
    """
    Read a generic calibrated image (any survey) with a celestial WCS.

    Parameters
    ----------
    path : str or path-like
        FITS file (``.fz``, ``.gz`` and ``.bz2`` fine).
    band : str
        The band the image was taken in.
    unit : `~astropy.units.Unit`, optional
        Image unit when the header has no ``BUNIT``. Flux per pixel
        (nanomaggy, Jy, ...) or surface brightness (Jy / sr,
        nanomaggy / arcsec**2, ...), which is multiplied by the pixel area.
    hdu : int or str, optional
        HDU to read; by default the first HDU with a 2D image.
    variance : `~astropy.units.Quantity`, optional
        Per-pixel variance (flux**2); by default a constant background
        variance is estimated from the image.
    psf_fwhm : `~astropy.units.Quantity`, optional
        PSF FWHM (angle). By default read from the header (``PSF_FWHM``,
        ``PSFFWHM`` or ``SEEING``, in arcsec); else, for picasso's bands, a
        typical SDSS value, which is wrong for other surveys: give it.

    Returns
    -------
    frame : `Frame`

    Raises
    ------
    ValueError
        If the file is unreadable, or the unit or WCS is missing or unusable.
    """
    source = str(path)
    hdul = _open_fits(path)
    if hdu is None:
        candidates = [h for h in hdul if h.is_image and h.data is not None and h.data.ndim == 2]
        if not candidates:
            raise ValueError(f"{source}: no 2D image HDU")
        image_hdu = candidates[0]
    else:
        image_hdu = hdul[hdu]
    header = image_hdu.header
    image_unit = _image_unit(header, unit, source)
    wcs = _celestial_wcs(header, source)
    data = np.asarray(image_hdu.data, dtype=np.float64)
    pixel_area = proj_plane_pixel_area(wcs) * u.deg**2
    image = data * image_unit
    if (image_unit * u.sr).is_equivalent(u.nanomaggy, flux_equivalencies()):
        image = (image * pixel_area).to(u.nanomaggy, flux_equivalencies())
    elif not image_unit.is_equivalent(u.nanomaggy, flux_equivalencies()):
        raise ValueError(
            f"{source}: image unit {image_unit} is neither a flux per pixel nor a surface "
            "brightness (nanomaggy, Jy, Jy / sr, ...)"
        )
    from_header = psf_fwhm is None and _header_psf_fwhm(header) is not None
    frame = Frame(image, wcs, band, variance=variance,
                  psf_fwhm=_header_psf_fwhm(header) if from_header else psf_fwhm,
                  path=source, meta=dict(header))
    if from_header:
        frame.psf_fwhm_source = "header"
    return frame


def read_frame(path, *, band=None, psf_fwhm=None, cache=None, _raw=None):
    """
    Read one frame file: an SDSS ``frame-*`` file, or any calibrated image.

    SDSS frames (recognised by their file name, or ``ORIGIN = 'SDSS'`` and
    ``CAMCOL`` in the header) are checked against the DR8+ layout and get
    the data-model noise. Other files are read with `read_image` and need
    ``band``.

    Decompressing an SDSS ``.bz2`` frame takes about a second, far more
    than everything else per galaxy, so frames are kept in ``cache`` (the
    module's shared `FrameCache` by default) and a second call for the same
    unchanged file returns the same arrays.

    Parameters
    ----------
    path : str or path-like
        The file.
    band : str, optional
        Expected band (checked against an SDSS header; required for other files).
    psf_fwhm : `~astropy.units.Quantity`, optional
        PSF FWHM (angle); by default `typical_psf_fwhm`.
    cache : `FrameCache` or False, optional
        Where read frames are kept; ``False`` reads afresh.

    Returns
    -------
    frame : `SDSSFrame` or `Frame`

    Raises
    ------
    ValueError
        For a truncated file, a missing or wrong band, unit or WCS.
    FileNotFoundError
        If the file does not exist.
    """
    if cache is None:
        cache = DEFAULT_CACHE
    key = None
    if cache is not False:
        key = cache.key(path)
        frame = cache.get(key)
        if frame is not None:
            if band is not None and frame.band != band:
                raise ValueError(f"{path}: band {frame.band!r}, not the requested {band!r}")
            return frame if psf_fwhm is None else frame.with_psf_fwhm(psf_fwhm)
    hdul = _open_fits(path, _raw)
    if _looks_like_sdss_frame(hdul, path):
        frame = _frame_from_sdss_hdul(hdul, path, band=band)
    else:
        if band is None:
            raise ValueError(
                f"{path}: not an SDSS frame file; give the band name (band=...) to read it "
                "as a generic image"
            )
        frame = read_image(path, band)
    if key is not None:
        cache.put(key, frame)
    return frame if psf_fwhm is None else frame.with_psf_fwhm(psf_fwhm)


class FrameCache:
    """
    Frames read once and shared, keyed by file path, size and modification time.

    A catalogue has many galaxies per SDSS field; decompressing a frame
    costs about a second while cutting a galaxy from it costs a fraction of
    that, so frames are kept here and reused. The least recently used frame
    is dropped beyond ``max_frames`` (an SDSS frame is about 12 MB in memory).

    Parameters
    ----------
    max_frames : int
        How many frames to keep.
    """

    def __init__(self, max_frames=20):
        self.max_frames = int(max_frames)
        self._frames = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(path):
        """tuple: the cache key of a file (resolved path, size, mtime)."""
        stat = os.stat(path)
        return (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)

    def get(self, key):
        """The frame stored under ``key``, or `None`."""
        with self._lock:
            frame = self._frames.get(key)
            if frame is None:
                self.misses += 1
                return None
            self._frames.move_to_end(key)
            self.hits += 1
            return frame

    def put(self, key, frame):
        """Store a frame, dropping the oldest beyond ``max_frames``."""
        with self._lock:
            self._frames[key] = frame
            self._frames.move_to_end(key)
            while len(self._frames) > self.max_frames:
                self._frames.popitem(last=False)

    def __contains__(self, key):
        with self._lock:
            return key in self._frames

    def clear(self):
        """Forget every frame."""
        self._frames.clear()

    def __len__(self):
        return len(self._frames)


#: The cache `read_frame` uses by default.
DEFAULT_CACHE = FrameCache()


class FrameSet:
    """
    The frames available for cutting galaxies, grouped by band.

    Build one per field (or per directory) and cut every galaxy of the field
    from it, so each file is decompressed once.

    Parameters
    ----------
    frames : iterable of `Frame`
        Frames in any bands; several per band are mosaicked when a galaxy
        crosses a frame edge.
    """

    def __init__(self, frames):
        self._frames = {}
        for frame in frames:
            if not isinstance(frame, Frame):
                raise TypeError(f"FrameSet takes Frame objects, got {type(frame).__name__}")
            self._frames.setdefault(frame.band, []).append(frame)
        if not self._frames:
            raise ValueError("no frames given")

    @classmethod
    def read(cls, paths, *, bands=None, psf_fwhm=None, cache=None, workers=1):
        """
        Read frame files, or every ``frame-*.fits*`` file in directories.

        Parameters
        ----------
        paths : str, path-like or iterable of them
            Files and/or directories.
        bands : dict, optional
            For generic (non-SDSS) files: path -> band name.
        psf_fwhm : `~astropy.units.Quantity` or dict, optional
            One FWHM for all frames, or band -> FWHM.
        cache : `FrameCache` or False, optional
            As for `read_frame`.
        workers : int
            Files decompressed at the same time, in threads (CPython's bz2
            decompressor releases the global interpreter lock); helps only
            where cores are free.

        Returns
        -------
        frameset : `FrameSet`
        """
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        files = []
        for path in paths:
            path = Path(path)
            if path.is_dir():
                found = sorted(
                    p for p in path.iterdir() if _parse_sdss_name(p) is not None
                )
                if not found:
                    raise ValueError(f"{path}: no SDSS frame-*.fits(.bz2) files in this directory")
                files.extend(found)
            else:
                files.append(path)
        bands = {str(Path(k)): v for k, v in (bands or {}).items()}

        raws = [None] * len(files)
        if int(workers) > 1 and len(files) > 1:
            # Only the decompression runs in threads: FITS and WCS parsing handle
            # warnings, whose filters are not thread-safe.
            store = DEFAULT_CACHE if cache is None else cache
            todo = [index for index, path in enumerate(files)
                    if store is False or store.key(path) not in store]
            with ThreadPoolExecutor(max_workers=int(workers)) as pool:
                for index, raw in zip(todo, pool.map(_read_bytes, [files[i] for i in todo])):
                    raws[index] = raw
        loaded = [read_frame(path, band=bands.get(str(path)), cache=cache, _raw=raw)
                  for path, raw in zip(files, raws)]
        frames = []
        for frame in loaded:
            fwhm = psf_fwhm.get(frame.band) if isinstance(psf_fwhm, dict) else psf_fwhm
            frames.append(frame if fwhm is None else frame.with_psf_fwhm(fwhm))
        return cls(frames)

    @property
    def bands(self):
        """tuple of str: bands present, picasso's bands first in their order."""
        known = [band for band in BANDS.names if band in self._frames]
        return tuple(known + sorted(set(self._frames) - set(known)))

    def frames(self, band):
        """list of `Frame`: the frames of one band."""
        if band not in self._frames:
            raise ValueError(
                f"no frame in band {band!r}; the frames cover {', '.join(self.bands)}"
            )
        return list(self._frames[band])

    def __iter__(self):
        for band in self.bands:
            yield from self._frames[band]

    def __len__(self):
        return sum(len(frames) for frames in self._frames.values())

    def __repr__(self):
        counts = ", ".join(f"{band}: {len(self._frames[band])}" for band in self.bands)
        return f"<FrameSet {counts}>"


def _as_frameset(frames, psf_fwhm=None):
    if isinstance(frames, FrameSet):
        if psf_fwhm is None:
            return frames
        return FrameSet(
            frame.with_psf_fwhm(psf_fwhm[frame.band] if isinstance(psf_fwhm, dict) else psf_fwhm)
            if (not isinstance(psf_fwhm, dict) or frame.band in psf_fwhm) else frame
            for frame in frames
        )
    if isinstance(frames, Frame):
        frames = [frames]
    if isinstance(frames, (str, os.PathLike)):
        frames = [frames]
    frames = list(frames)
    if all(isinstance(frame, Frame) for frame in frames):
        return _as_frameset(FrameSet(frames), psf_fwhm)
    if all(isinstance(frame, (str, os.PathLike)) for frame in frames):
        return FrameSet.read(frames, psf_fwhm=psf_fwhm)
    raise TypeError(
        "frames must be a FrameSet, Frame objects, or paths to frame files / directories"
    )


# --------------------------------------------------------------------------
# Target grid, reprojection, PSF, masks, flux scaling
# --------------------------------------------------------------------------


def target_wcs(center, size, pixel_scale):
    """
    A tangent-plane grid centred on a sky position, north up and east left.

    The centre falls on the middle of the grid, pixel ``((size - 1) / 2,
    (size - 1) / 2)`` (between four pixels when ``size`` is even).

    Parameters
    ----------
    center : `~astropy.coordinates.SkyCoord`
        Centre of the grid.
    size : int
        Pixels per side.
    pixel_scale : `~astropy.units.Quantity`
        Angle per pixel.

    Returns
    -------
    wcs : `~astropy.wcs.WCS`
    """
    scale = _as_angle(pixel_scale, "pixel_scale").to_value(u.deg)
    size = int(size)
    if size < 2:
        raise ValueError(f"size must be at least 2 pixels, got {size}")
    center = center.icrs
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crval = [center.ra.deg, center.dec.deg]
    wcs.wcs.crpix = [(size + 1) / 2, (size + 1) / 2]
    wcs.wcs.cdelt = [-scale, scale]
    wcs.wcs.radesys = "ICRS"
    wcs.pixel_shape = (size, size)
    return wcs


def _grid_border(wcs, shape, points=16):
    ny, nx = shape
    edge_x = np.linspace(-0.5, nx - 0.5, points)
    edge_y = np.linspace(-0.5, ny - 0.5, points)
    x = np.concatenate([edge_x, edge_x, np.full(points, -0.5), np.full(points, nx - 0.5)])
    y = np.concatenate([np.full(points, -0.5), np.full(points, ny - 0.5), edge_y, edge_y])
    return wcs.pixel_to_world(x, y)


_METHODS = ("adaptive", "exact", "interp")


def reproject_band(frames, wcs_out, shape_out, *, method="adaptive", kernel="gaussian"):
    """
    Reproject one band's frames onto a target grid, conserving flux.

    Only a sub-image of each frame around the target is handed to
    `reproject` (cost scales with it: 2.6 s for a whole SDSS frame with
    ``reproject_exact`` against 0.4 s for a 200 x 200 sub-image). Frames that
    overlap the target are combined with
    `reproject.mosaicking.reproject_and_coadd` (footprint-weighted mean: SDSS
    frames of one run overlap by 128 rows of the same photons).

    Surface brightness is handled explicitly: with ``'adaptive'``,
    `~reproject.reproject_adaptive` with ``conserve_flux=True`` resamples flux
    per pixel directly; ``'exact'`` and ``'interp'`` resample surface
    brightness (flux per pixel / input pixel area), which is multiplied by
    the output pixel area afterwards.

    The variance is resampled like flux (weights summing to one over each
    input pixel), so summed over an aperture it gives the variance of the
    aperture flux; on an output grid finer than the input the noise of
    neighbouring pixels is correlated and one pixel's own scatter is smaller
    than its variance value (see the narrative docs).

    Parameters
    ----------
    frames : list of `Frame`
        Frames of one band.
    wcs_out : `~astropy.wcs.WCS`
        Target grid.
    shape_out : tuple
        (ny, nx) of the target.
    method : {'adaptive', 'exact', 'interp'}
        Resampling algorithm: `~reproject.reproject_adaptive` (DeForest 2004,
        anti-aliased, ``conserve_flux=True``), `~reproject.reproject_exact`
        (spherical-polygon overlap; slowest) or `~reproject.reproject_interp`
        (bilinear; flux conserving only when the output pixels are not
        coarser than the input's).
    kernel : {'gaussian', 'hann'}
        Kernel of ``'adaptive'``. The Gaussian (default) conserves the flux of
        a compact galaxy to 0.3% or better at every pixel-scale ratio tried
        in picasso's tests. The Hann window is 2-3 times faster and blurs
        less, but its flux errs by up to 4% when the output pixel is within
        ~10% of the input pixel (fine, 1e-4, for ratios below 0.8 or above
        1.5); use it only away from that range.

    Returns
    -------
    flux : `~numpy.ndarray`
        Flux per output pixel (nanomaggies).
    variance : `~numpy.ndarray`
        Variance per output pixel (nanomaggies**2).
    coverage : `~numpy.ndarray`
        Fraction of each output pixel covered by the frames (0 to 1).
    used : list of `Frame`
        The frames that overlapped the target.
    """
    from reproject import reproject_adaptive, reproject_exact, reproject_interp
    from reproject.mosaicking import reproject_and_coadd

    if method not in _METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(_METHODS)}")
    border = _grid_border(wcs_out, shape_out)
    area_out = proj_plane_pixel_area(wcs_out)
    scale_out = np.sqrt(area_out)
    pieces = []
    for frame in frames:
        scale_in = np.sqrt(proj_plane_pixel_area(frame.wcs))
        # Room for the adaptive kernel's sampling region (4 output pixels, at
        # least 4 input pixels) beyond the target's edge.
        margin = int(np.ceil(4 * max(1.0, scale_out / scale_in))) + 2
        region = frame.pixel_region(border, margin=margin)
        if region is None:
            continue
        rows, cols = region
        sub_wcs = frame.wcs[rows, cols]
        flux = frame._image[rows, cols].astype(np.float64)
        variance = frame.variance_in(rows, cols).astype(np.float64)
        pieces.append((frame, sub_wcs, flux, variance))
    if not pieces:
        raise ValueError("none of the frames overlaps the target grid")
    ny, nx = shape_out
    if method == "adaptive":
        function = reproject_adaptive
        options = {
            "conserve_flux": True,
            "kernel": kernel,
            "boundary_mode": "ignore_threshold",
            "roundtrip_coords": False,
        }
        to_input, to_output = (lambda a, frame: a), 1.0
    else:
        function = reproject_exact if method == "exact" else reproject_interp
        options = {}
        if method == "interp":
            options["order"] = "bilinear"

        def to_input(a, frame):
            return a / proj_plane_pixel_area(frame.wcs)

        to_output = area_out

    if len(pieces) == 1:
        frame, sub_wcs, flux, variance = pieces[0]
        stack = np.stack([to_input(flux, frame), to_input(variance, frame)])
        result, footprint = function((stack, sub_wcs), wcs_out, shape_out=(ny, nx), **options)
        flux_out, variance_out = result[0] * to_output, result[1] * to_output
        coverage = np.clip(footprint if footprint.ndim == 2 else footprint[0], 0, 1)
    else:
        outputs = []
        for index in (2, 3):
            data = [(to_input(piece[index], piece[0]), piece[1]) for piece in pieces]
            array, footprint = reproject_and_coadd(
                data, wcs_out, shape_out=(ny, nx), reproject_function=function,
                combine_function="mean", **options,
            )
            outputs.append(array * to_output)
        flux_out, variance_out = outputs
        coverage = np.clip(footprint, 0, 1)
    bad = ~np.isfinite(flux_out) | ~np.isfinite(variance_out) | (coverage <= 0)
    flux_out[bad] = 0.0
    variance_out[bad] = 0.0
    coverage = np.where(bad, 0.0, coverage)
    return flux_out, variance_out, coverage, [piece[0] for piece in pieces]


def _resampling_blur(method, kernel, scale_in, scale_out):
    """Gaussian sigma (angle, same unit) that the resampling adds to the PSF."""
    if method != "adaptive":
        return 0.0
    # reproject_adaptive's kernel spans the larger of an input and an output
    # pixel: the Gaussian has sigma = kernel_width / 2 = 0.65 of it; the Hann
    # window (half-width 1) has sigma**2 = 1/3 - 2/pi**2.
    width = 0.65 if kernel == "gaussian" else np.sqrt(1 / 3 - 2 / np.pi**2)
    return width * max(scale_in, scale_out)


def match_psf(flux, variance, fwhm_in, fwhm_out, pixel_scale, *, band=None,
              kpc_per_arcsec=None):
    """
    Convolve an image to a wider Gaussian PSF.

    The matching kernel is the Gaussian of FWHM
    ``sqrt(fwhm_out**2 - fwhm_in**2)`` (both PSFs taken as Gaussians), made
    with `astropy.convolution.Gaussian2DKernel` and applied with
    `astropy.convolution.convolve_fft`. The variance is convolved with the
    same kernel, which keeps aperture-summed variances right.

    Parameters
    ----------
    flux, variance : `~numpy.ndarray`
        Image and variance on the same grid.
    fwhm_in, fwhm_out : `~astropy.units.Quantity`
        Current and target PSF FWHM (angles, or lengths when ``pixel_scale``
        is a length per pixel).
    pixel_scale : `~astropy.units.Quantity`
        Size of one pixel, in the unit of the FWHMs.
    band : str, optional
        For error messages.
    kpc_per_arcsec : `~astropy.units.Quantity`, optional
        Physical scale, to state FWHMs in kpc in error messages.

    Returns
    -------
    flux, variance : `~numpy.ndarray`

    Raises
    ------
    ValueError
        If the target PSF is narrower than the image's ("refuse to sharpen").
    """
    from astropy.convolution import Gaussian2DKernel, convolve_fft

    fwhm_in_pix = (fwhm_in / pixel_scale).decompose().value
    fwhm_out_pix = (fwhm_out / pixel_scale).decompose().value
    if fwhm_out_pix < fwhm_in_pix * (1 - 1e-6):
        which = f"band {band}" if band else "the image"
        have, want = fwhm_in, fwhm_out
        text = f"{have.to(pixel_scale.unit):.3g}"
        if kpc_per_arcsec is not None and have.unit.is_equivalent(u.arcsec):
            text += f" = {(have * kpc_per_arcsec).to(u.kpc):.3g}"
            want = (want * kpc_per_arcsec).to(u.kpc)
        raise ValueError(
            f"refusing to sharpen: {which} has PSF FWHM {text} (with resampling), wider than "
            f"the target {want:.3g}; deconvolution is not done. Choose target_psf_fwhm of at "
            f"least {text}, or 'widest'"
        )
    sigma = np.sqrt(max(fwhm_out_pix**2 - fwhm_in_pix**2, 0.0)) * gaussian_fwhm_to_sigma
    if sigma < 0.05:
        return flux, variance
    size = 2 * int(np.ceil(4 * sigma)) + 1
    # Oversampling matters only for kernels a few pixels wide.
    mode = "oversample" if sigma < 3 else "center"
    kernel = Gaussian2DKernel(sigma, x_size=size, y_size=size, mode=mode, factor=10)
    kernel.normalize()
    options = {"boundary": "fill", "fill_value": 0.0, "normalize_kernel": False, "fft_pad": False,
               "nan_treatment": "fill", "preserve_nan": False}
    return (convolve_fft(flux, kernel, **options), convolve_fft(variance, kernel, **options))


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
    x_center, y_center = (float(v) for v in frame.wcs.world_to_pixel(center))
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


def _coordinate(ra, dec):
    if isinstance(ra, SkyCoord):
        if dec is not None:
            raise TypeError("give either a SkyCoord as ra (and dec=None) or ra and dec angles")
        return ra.icrs
    return SkyCoord(_as_angle(ra, "ra"), _as_angle(dec, "dec"), frame="icrs")


def cutout_from_frames(frames, ra, dec, redshift, *, size=256, field=None, r_half=None,
                       n_half_light=10.0, target_psf_fwhm=1.0 * u.kpc, bands=None,
                       psf_fwhm=None, cosmology=None, ebv=None, extinction_law="SF11",
                       method="adaptive", kernel="gaussian", mask_sources=False,
                       mask_threshold=3.0):
    """
    Cut a model-ready `~picasso.GalaxyCutout` from calibrated frames.

    Steps, in order: choose the field (``field``, else ``n_half_light`` half-light
    radii from ``r_half`` or measured on the r frame); build a ``size`` x
    ``size`` tangent-plane grid centred on the galaxy; reproject every band's
    frames onto it with `reproject_band` (flux conserving, only sub-images,
    mosaicking frames when the galaxy crosses an edge) and propagate the
    variance; correct Galactic extinction when ``ebv`` is given; convolve every
    band to the Gaussian ``target_psf_fwhm`` (`match_psf`, never sharpening);
    optionally mask other sources (`mask_neighbours`).

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
        Field width in half-light radii (the training mocks span 10
        stellar half-mass radii; light and mass radii differ, not corrected).
    target_psf_fwhm : `~astropy.units.Quantity`, 'widest' or None
        Common Gaussian PSF FWHM of all bands, a proper length (the mocks
        use 1 kpc) or an angle; ``'widest'`` matches every band to the
        widest band's PSF; `None` skips PSF matching. SDSS seeing (about
        1.4 arcsec) is 1 kpc at z ~ 0.035: beyond that a 1 kpc target would
        need sharpening, which is refused.
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
    kernel : {'hann', 'gaussian'}
        Kernel of the adaptive method (see `reproject_band`).
    mask_sources : bool
        Mask other sources detected on the r band (or the first band).
    mask_threshold : float
        Detection threshold (sigma per pixel) for ``mask_sources``.

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
    from ..cutout import GalaxyCutout

    if cosmology is None:
        from astropy.cosmology import Planck18 as cosmology
    if method not in _METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(_METHODS)}")
    if kernel not in ("gaussian", "hann"):
        raise ValueError(f"unknown kernel {kernel!r}; use 'gaussian' or 'hann'")
    frameset = _as_frameset(frames, psf_fwhm)
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
    kpc_per_arcsec = cosmology.kpc_proper_per_arcmin(redshift).to(u.kpc / u.arcsec)

    def to_angle(value, name):
        if not isinstance(value, u.Quantity):
            raise TypeError(f"{name} must be an angle or a length Quantity, got {value!r}")
        if value.unit.is_equivalent(u.arcsec):
            return value.to(u.arcsec)
        if value.unit.is_equivalent(u.kpc):
            return (value / kpc_per_arcsec).to(u.arcsec)
        raise TypeError(f"{name} must be an angle or a length, got unit {value.unit}")

    meta = {}
    if field is not None:
        if r_half is not None:
            raise ValueError("give field or r_half, not both")
        field_angle = to_angle(field, "field")
        meta["FIELDSRC"] = "given"
    else:
        detect_band = "r" if "r" in frameset.bands else bands[0]
        if r_half is None:
            frame = next((f for f in frameset.frames(detect_band) if f.contains(center)), None)
            if frame is None:
                raise ValueError(
                    f"the galaxy centre {center.to_string('decimal')} is on none of the "
                    f"{detect_band} frames"
                )
            r_half_angle = measure_half_light_radius(frame, center)
            meta["RHALFSRC"] = f"measured ({detect_band})"
        else:
            r_half_angle = to_angle(r_half, "r_half")
            meta["RHALFSRC"] = "given"
        meta["RHALF"] = r_half_angle.to_value(u.arcsec)
        # Read by picasso.nn.predict.check_cutout to check the field of view.
        meta["r_half_kpc"] = (r_half_angle * kpc_per_arcsec).to_value(u.kpc)
        field_angle = n_half_light * r_half_angle
        meta["FIELDSRC"] = f"{n_half_light:g} r_half"
    if not field_angle > 0:
        raise ValueError(f"the field must be positive, got {field_angle}")
    pixel_scale = field_angle / size
    wcs_out = target_wcs(center, size, pixel_scale)
    shape = (size, size)
    meta.update({"FIELD": field_angle.to_value(u.arcsec), "METHOD": method,
                 "VARCONV": "aperture"})

    widest = isinstance(target_psf_fwhm, str)
    if widest and target_psf_fwhm != "widest":
        raise ValueError(
            f"target_psf_fwhm must be a Quantity, 'widest' or None, got {target_psf_fwhm!r}"
        )
    if target_psf_fwhm is not None and not widest:
        target_fwhm_angle = to_angle(target_psf_fwhm, "target_psf_fwhm")
    coefficients = {}
    if ebv is not None:
        if not np.isfinite(ebv) or ebv < 0:
            raise ValueError(f"ebv must be a non-negative number, got {ebv}")
        coefficients = extinction_coefficients(bands, extinction_law)
        meta.update({"EBV": float(ebv), "EXTLAW": extinction_law})

    fluxes, variances, masks, used_files, effective_fwhms = [], [], [], [], []
    for band in bands:
        flux, variance, coverage, used = reproject_band(
            frameset.frames(band), wcs_out, shape, method=method, kernel=kernel
        )
        x_c, y_c = (float(v) for v in wcs_out.world_to_pixel(center))
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
            meta[f"A_{band.upper()}"] = extinction
        fwhms = {frame.psf_fwhm for frame in used}
        if None in fwhms:
            raise ValueError(
                f"band {band}: the frames have no PSF FWHM; give psf_fwhm (band -> angle)"
            )
        fwhm_in = max(fwhms)
        scale_in = max(frame.pixel_scale for frame in used)
        blur = _resampling_blur(method, kernel, scale_in.to_value(u.arcsec),
                                pixel_scale.to_value(u.arcsec))
        effective = np.hypot(fwhm_in.to_value(u.arcsec), blur / gaussian_fwhm_to_sigma) * u.arcsec
        meta[f"PSF_{band.upper()}"] = fwhm_in.to_value(u.arcsec)
        meta[f"PSFSRC_{band.upper()}"] = sorted({frame.psf_fwhm_source for frame in used})[0]
        fluxes.append(flux)
        variances.append(variance)
        effective_fwhms.append(effective)
        masks.append(uncovered)
        used_files.extend(os.path.basename(frame.path) for frame in used if frame.path)
    effective_fwhms = u.Quantity(effective_fwhms)
    if widest:
        target_fwhm_angle = effective_fwhms.max()
    if target_psf_fwhm is not None:
        for index, band in enumerate(bands):
            fluxes[index], variances[index] = match_psf(
                fluxes[index], variances[index], effective_fwhms[index], target_fwhm_angle,
                pixel_scale, band=band, kpc_per_arcsec=kpc_per_arcsec,
            )
        psf_out = (target_fwhm_angle * kpc_per_arcsec).to(u.kpc)
        meta["PSFMATCH"] = psf_out.to_value(u.kpc)
    else:
        psf_out = effective_fwhms
    flux = np.stack(fluxes).astype(np.float32)
    variance = np.stack(variances).astype(np.float32)
    mask = np.stack(masks)
    if mask_sources:
        detect = bands.index("r") if "r" in bands else 0
        neighbours = mask_neighbours(flux[detect], variance[detect], threshold=mask_threshold)
        mask |= neighbours[np.newaxis]
        meta["NMASKED"] = int(neighbours.sum())
    meta["FRAMES"] = ",".join(used_files)
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
        mask=mask,
        variance=variance << u.nanomaggy**2,
        meta=meta,
    )
