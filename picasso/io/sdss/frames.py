"""
SDSS frame files (and other calibrated images): reading them, with their noise.

Reads SDSS ``frame-{band}-{run}-{camcol}-{field}.fits(.bz2)`` files in the
DR8+ layout and recovers their noise from the SDSS data model (see
`picasso.io.sdss`); any other calibrated image with a celestial WCS and a
``BUNIT`` is read by `read_image`. Each file is decompressed once and shared
(`FrameCache`): a catalogue has many galaxies per field.
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
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from astropy.table import Table
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_area, proj_plane_pixel_scales

from ...instrument import (
    SDSS_PIXEL_SCALE,
    sdss_dark_variance,
    sdss_gain,
    typical_psf_fwhm,
)
from ...properties import BANDS, flux_equivalencies
from ...utils.scales import as_angle
from ...utils.threads import catch_warnings_locked

__all__ = [
    "PSF_FWHM_KEYWORDS",
    "Frame",
    "SDSSFrame",
    "FrameSet",
    "FrameCache",
    "DEFAULT_CACHE",
    "read_frame",
    "read_image",
    "open_frame_file",
    "read_file_bytes",
    "frame_from_hdul",
    "parse_frame_name",
    "celestial_wcs",
    "crop_origin",
    "as_frameset",
]

logger = logging.getLogger(__name__)

_SDSS_NAME = re.compile(
    r"^frame-(?P<band>[a-z])-(?P<run>\d{6})-(?P<camcol>\d)-(?P<field>\d{4})\.fits(\.bz2|\.gz)?$"
)



# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------


#: Header keywords read as the PSF FWHM in arcsec when present (SDSS frames have none).
PSF_FWHM_KEYWORDS = ("PSF_FWHM", "PSFFWHM", "SEEING")


def _header_psf_fwhm(header):
    for key in PSF_FWHM_KEYWORDS:
        value = header.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value) * u.arcsec
    return None


def celestial_wcs(header, source):
    """
    The 2-D celestial WCS of an image header, or an error that says what is wrong with it.

    Parameters
    ----------
    header : `~astropy.io.fits.Header`
    source : str
        Where the header comes from, for the messages.

    Returns
    -------
    wcs : `~astropy.wcs.WCS`

    Raises
    ------
    ValueError
        If the header has no WCS, one astropy cannot read, one that is not
        celestial, or a singular pixel scale.
    """
    if "CTYPE1" not in header or "CTYPE2" not in header:
        raise ValueError(
            f"{source}: no WCS in the header (CTYPE1/CTYPE2 missing); a celestial WCS "
            "is needed to place the image on the sky"
        )
    with catch_warnings_locked():
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
            self.psf_fwhm = as_angle(psf_fwhm, "psf_fwhm").to(u.arcsec)
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
        return (np.sqrt(self._pixel_area_deg2()) * u.deg).to(u.arcsec)

    @property
    def pixel_area(self):
        """`~astropy.units.Quantity`: solid angle of a pixel (deg2)."""
        return self._pixel_area_deg2() * u.deg**2

    def _pixel_area_deg2(self):
        # the WCS does not change: computed once (proj_plane_pixel_area copies the WCS)
        area = self.__dict__.get("_area_deg2")
        if area is None:
            area = self.__dict__["_area_deg2"] = float(proj_plane_pixel_area(self.wcs))
        return area

    def sky_to_pixel(self, coords):
        """
        Pixel positions (x, y) of sky positions on this frame.

        Parameters
        ----------
        coords : `~astropy.coordinates.SkyCoord`

        Returns
        -------
        x, y : `~numpy.ndarray`
            Zero-based pixel coordinates.
        """
        wcs = self.wcs
        fast = self.__dict__.get("_icrs_axes")
        if fast is None:
            # ICRS positions on an ICRS frame need no frame transformation (which costs
            # milliseconds per call through SkyCoord)
            radesys = str(wcs.wcs.radesys).strip().upper()
            fast = self.__dict__["_icrs_axes"] = (
                radesys == "ICRS" and wcs.wcs.lngtyp == "RA" and wcs.wcs.lng in (0, 1))
        if fast and coords.frame.name == "icrs":
            values = [None, None]
            values[wcs.wcs.lng] = coords.ra.deg
            values[1 - wcs.wcs.lng] = coords.dec.deg
            return wcs.world_to_pixel_values(*values)
        return wcs.world_to_pixel(coords)

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
        clone.psf_fwhm = as_angle(psf_fwhm, "psf_fwhm").to(u.arcsec)
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
        x, y = self.sky_to_pixel(coords)
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
        x, y = self.sky_to_pixel(coord)
        ny, nx = self.shape
        return bool(-0.5 <= x < nx - 0.5 and -0.5 <= y < ny - 0.5)


def _bilinear_weights(position, n):
    """Lower grid index and fraction of positions on a grid of ``n`` nodes, clamped to it."""
    position = np.clip(np.asarray(position, dtype=np.float64), 0, n - 1)
    lower = np.minimum(np.floor(position).astype(np.intp), max(n - 2, 0))
    return lower, position - lower


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
        #: (row, column) of this image's first pixel in the full frame (a cut frame)
        self.crop_origin = (0, 0)

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
        grid = self.sky_grid
        y0, fy = _bilinear_weights(self.sky_y[rows], grid.shape[0])
        x0, fx = _bilinear_weights(self.sky_x[cols], grid.shape[1])
        y1 = np.minimum(y0 + 1, grid.shape[0] - 1)
        x1 = np.minimum(x0 + 1, grid.shape[1] - 1)
        fx = fx[np.newaxis]
        low = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x1] * fx
        high = grid[y1][:, x0] * (1 - fx) + grid[y1][:, x1] * fx
        return low * (1 - fy[:, np.newaxis]) + high * fy[:, np.newaxis]

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


def read_file_bytes(path):
    """
    The bytes of a file, decompressed (bzip2 or gzip, recognised by their first bytes).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    data : bytes

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it cannot be decompressed (truncated or corrupt).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    # the compression is read from the file's first bytes, not its name: files in
    # astropy's download cache have none
    data = path.read_bytes()
    decompress = None
    if data[:3] == b"BZh":
        decompress = bz2.decompress
    elif data[:2] == b"\x1f\x8b":
        decompress = gzip.decompress
    elif path.suffix in (".bz2", ".gz"):
        raise ValueError(
            f"{path}: not a {path.suffix[1:]} file (it starts with {data[:3]!r}); the file is "
            "corrupt or an error page was saved in its place, download it again"
        )
    if decompress is None:
        return data
    try:
        # one call on the whole file: the decompressor then runs without the interpreter
        # lock, so several files decompress side by side in threads (streaming through
        # bz2.open hands the lock back and forth every few kB and does not)
        return decompress(data)
    except (OSError, EOFError, ValueError) as error:
        raise ValueError(
            f"{path}: cannot decompress ({error}); the file is truncated or corrupt, "
            "download it again"
        ) from None


def open_frame_file(path, raw=None):
    """Open a (possibly compressed) FITS file fully into memory, with clear errors."""
    path = Path(path)
    if raw is None:
        raw = read_file_bytes(path)
    with catch_warnings_locked(record=True) as caught:
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


def parse_frame_name(path):
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
    if parse_frame_name(path) is not None:
        return True
    header = hdul[0].header
    return header.get("ORIGIN", "").strip() == "SDSS" and "CAMCOL" in header


def frame_from_hdul(hdul, path, psf_fwhm=None, band=None):
    source = str(path)
    if len(hdul) < 4:
        raise ValueError(
            f"{source}: an SDSS frame file has 4 HDUs (image, calibration vector, sky, "
            f"asTrans), this one has {len(hdul)}; it may be truncated"
        )
    header = hdul[0].header
    if hdul[0].data is None or hdul[0].data.ndim != 2:
        raise ValueError(f"{source}: HDU0 holds no 2D image")
    named = parse_frame_name(path) or {}
    header_band = str(header.get("FILTER", "")).strip()
    if not header_band:
        raise ValueError(f"{source}: the header has no FILTER keyword, so the band is unknown")
    if header_band not in BANDS.names:
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
    wcs = celestial_wcs(header, source)
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
    calibration = np.asarray(calibration, dtype=np.float64).ravel()
    ny, nx = hdul[0].data.shape
    origin = (0, 0)
    if sky_x.shape != (nx,) or sky_y.shape != (ny,) or calibration.shape != (nx,):
        # a part cut from a full frame whose sky table (and perhaps calibration vector)
        # still describes the full frame: take the rows and columns of the part
        full_nx = sky_x.size
        origin = crop_origin(header, (sky_y.size, full_nx), (ny, nx), source)
        (row0, col0) = origin
        sky_x = sky_x[col0:col0 + nx]
        sky_y = sky_y[row0:row0 + ny]
        if calibration.size == full_nx:
            calibration = calibration[col0:col0 + nx]
    astrans = Table(hdul[3].data) if isinstance(hdul[3], fits.BinTableHDU) else None
    frame = SDSSFrame(
        np.asarray(hdul[0].data, dtype=np.float32) << u.nanomaggy,
        wcs,
        header_band,
        calibration=calibration,
        sky_grid=sky_grid,
        sky_x=sky_x,
        sky_y=sky_y,
        run=run,
        camcol=camcol,
        # the file name's field: the FRAME card counts frames of that band's CCD (in field
        # 136 of run 2583 it is 140 for u, 136 for r)
        field=named.get("field", header.get("FRAME")),
        psf_fwhm=psf_fwhm if psf_fwhm is not None else _header_psf_fwhm(header),
        astrans=astrans,
        path=source,
        meta=dict(header),
    )
    if psf_fwhm is None and _header_psf_fwhm(header) is not None:
        frame.psf_fwhm_source = "header"
    frame.crop_origin = origin
    return frame


def crop_origin(header, full_shape, shape, source="the frame"):
    """
    Where a part cut from an SDSS frame starts in the full frame.

    SDSS frames are often cut (to save space, or with `astropy.nddata.Cutout2D`)
    while their sky table (HDU2: ``XINTERP`` and ``YINTERP``) keeps the full
    frame's length; the part's pixels then need their rows and columns in the
    full frame to find their sky and calibration.

    The origin is read, in this order, from

    1. ``LTV1`` and ``LTV2`` (the IRAF convention that CFITSIO image sections
       such as ``frame.fits[101:200,1:100]`` write: ``LTV1 = -first column``);
    2. the WCS reference pixel: the DR8+ pipeline puts a frame's reference
       pixel at its centre (``CRPIX = 1025, 745`` for 2048 x 1489 pixels), and a
       cut keeps ``CRVAL`` and shifts ``CRPIX`` by its origin (as
       `~astropy.nddata.Cutout2D` does), so ``origin = centre - CRPIX``; the
       centre is taken as ``n // 2 + 1`` or ``(n + 1) / 2``, whichever gives a
       whole number of pixels.

    Parameters
    ----------
    header : `~astropy.io.fits.Header`
        Header of the part (HDU0).
    full_shape : tuple of int
        ``(ny, nx)`` of the full frame (the lengths of ``YINTERP`` and ``XINTERP``).
    shape : tuple of int
        ``(ny, nx)`` of the part.
    source : str
        Named in error messages.

    Returns
    -------
    origin : tuple of int
        ``(first row, first column)`` of the part in the full frame (0-based).

    Raises
    ------
    ValueError
        If the origin cannot be found or puts the part outside the full frame.
    """
    origin = []
    for axis, (full, size) in enumerate(zip(full_shape, shape)):
        number = 2 - axis  # FITS axis 1 is the column, axis 2 the row
        if full == size:
            origin.append(0)
            continue
        if full < size:
            raise ValueError(
                f"{source}: sky table (HDU2) does not match the image: "
                f"{'YINTERP' if axis == 0 else 'XINTERP'} has {full} entries for "
                f"{size} image {'rows' if axis == 0 else 'columns'}"
            )
        if f"LTV{number}" in header:
            start, how = -float(header[f"LTV{number}"]), f"LTV{number}"
        elif f"CRPIX{number}" in header:
            crpix = float(header[f"CRPIX{number}"])
            starts = [centre - crpix for centre in (full // 2 + 1, (full + 1) / 2)]
            start = next((value for value in starts if abs(value - round(value)) < 1e-3),
                         starts[0])
            how = f"CRPIX{number} (the full frame's reference pixel is its centre)"
        else:
            start, how = np.nan, "nothing"
        if not (abs(start - round(start)) < 1e-3 and 0 <= round(start) <= full - size):
            raise ValueError(
                f"{source}: the image ({shape[1]} x {shape[0]}) is part of a larger frame "
                f"({full_shape[1]} x {full_shape[0]}: the length of the sky table's XINTERP "
                f"and YINTERP) but where it lies cannot be found ({how} gives "
                f"{start:g}); write its first column and row as LTV1 = -column and "
                "LTV2 = -row in the header (0-based), or cut the sky table too "
                "(picasso.studies.crop_frame)"
            )
        origin.append(int(round(start)))
    return tuple(origin)


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
    hdul = open_frame_file(path)
    if hdu is None:
        candidates = [h for h in hdul if h.is_image and h.data is not None and h.data.ndim == 2]
        if not candidates:
            raise ValueError(f"{source}: no 2D image HDU")
        image_hdu = candidates[0]
    else:
        image_hdu = hdul[hdu]
    header = image_hdu.header
    image_unit = _image_unit(header, unit, source)
    wcs = celestial_wcs(header, source)
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


def read_frame(path, *, band=None, psf_fwhm=None, cache=None, source=None, raw=None):
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
    source : str, optional
        Where the file came from, when its path does not say (a file in
        astropy's download cache has no name of its own): its URL or original
        name, used to recognise an SDSS frame name, in messages and as the
        frame's `~Frame.path`.
    raw : bytes, optional
        The file's decompressed bytes when they were read already
        (`read_file_bytes`), so that they are not read again.

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
    hdul = open_frame_file(path, raw)
    name = path if source is None else source
    if _looks_like_sdss_frame(hdul, name):
        frame = frame_from_hdul(hdul, name, band=band)
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
                    p for p in path.iterdir() if parse_frame_name(p) is not None
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
                for index, raw in zip(todo, pool.map(read_file_bytes, [files[i] for i in todo])):
                    raws[index] = raw
        loaded = [read_frame(path, band=bands.get(str(path)), cache=cache, raw=raw)
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


def as_frameset(frames, psf_fwhm=None):
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
        return as_frameset(FrameSet(frames), psf_fwhm)
    if all(isinstance(frame, (str, os.PathLike)) for frame in frames):
        return FrameSet.read(frames, psf_fwhm=psf_fwhm)
    raise TypeError(
        "frames must be a FrameSet, Frame objects, or paths to frame files / directories"
    )

