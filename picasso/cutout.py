"""
`GalaxyCutout`: a multi-band image of one galaxy with units, WCS and scale.
"""

import logging
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.cosmology import Cosmology, default_cosmology
from astropy.io import fits, registry
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from .properties import BANDS, flux_equivalencies
from .radius import HalfRadius
from .utils.atomic import atomic_path
from .utils.fits import (
    UnifiedRead,
    UnifiedWrite,
    cosmology_from_string,
    cosmology_to_string,
    decode_meta,
    encode_meta,
    is_fits,
    open_fits,
)
from .utils.scales import kpc_per_arcsec

__all__ = ["GalaxyCutout", "read_cutout_fits", "write_cutout_fits"]

log = logging.getLogger(__name__)

#: Value of the ``PICASSO`` primary-header keyword in cutout files.
CUTOUT_FILE_KIND = "GalaxyCutout"


def _flux_kind(unit):
    """Say whether ``unit`` is a flux density per pixel or a surface brightness."""
    if unit.is_equivalent(u.Jy, equivalencies=flux_equivalencies()):
        return "flux"
    if unit.is_equivalent(u.Jy / u.sr):
        return "surface brightness"
    raise u.UnitTypeError(
        f"flux unit {unit} is neither a flux density per pixel (e.g. nanomaggy, Jy) nor a "
        "surface brightness (e.g. Jy / sr); images must be flux-calibrated"
    )


def _as_scalar_scale(value, name):
    """Return a pixel scale as a positive scalar angle or length (no '/pix')."""
    if not isinstance(value, u.Quantity):
        raise TypeError(f"{name} must be a Quantity (e.g. 0.396 * u.arcsec or 0.24 * u.kpc)")
    if value.unit.is_equivalent(u.arcsec / u.pix) or value.unit.is_equivalent(u.kpc / u.pix):
        value = value * u.pix
    if not (value.unit.is_equivalent(u.arcsec) or value.unit.is_equivalent(u.kpc)):
        raise u.UnitTypeError(
            f"{name} must be an angle or a length per pixel, got unit {value.unit}"
        )
    if not value.isscalar or not np.isfinite(value.value) or value.value <= 0:
        raise ValueError(f"{name} must be one positive finite value, got {value}")
    return value


class _GalaxyCutoutRead(UnifiedRead):
    # one class per data class: the registry writes each class's formats into its docstring
    __doc__ = UnifiedRead.__doc__


class _GalaxyCutoutWrite(UnifiedWrite):
    __doc__ = UnifiedWrite.__doc__


class GalaxyCutout:
    """
    A multi-band image of one galaxy.

    The flux is held as a `~astropy.units.Quantity` shaped
    ``(n_bands, ny, nx)`` together with the band names, an optional celestial
    WCS, the pixel scale (angular and, given a redshift, physical), the
    redshift, the PSF, a mask and a variance: everything picasso needs to feed
    the image to a model and to put the predicted maps back on the sky.

    Parameters
    ----------
    flux : `~astropy.units.Quantity`
        Image planes shaped ``(n_bands, ny, nx)`` (a single 2-D plane is taken
        as one band). Flux per pixel (``u.nanomaggy``, ``u.Jy``, ...) or
        surface brightness (``u.Jy / u.sr``, ...).
    bands : sequence of str, optional
        Band names, in wavelength order, one per plane. By default all of
        `~picasso.BANDS` (``u, g, r, i, z``), which needs five planes.
    wcs : `~astropy.wcs.WCS`, optional
        Two-dimensional celestial WCS of the image planes.
    pixel_scale : `~astropy.units.Quantity`, optional
        Angle per pixel (``0.396 * u.arcsec``) or physical length per pixel
        (``0.24 * u.kpc``). The other one is derived from ``redshift`` and
        ``cosmology`` when both are known; the angular scale is taken from the
        WCS when not given.
    redshift : float, optional
        Redshift of the galaxy.
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Cosmology for the physical scale; the astropy default (Planck18).
    psf_fwhm : `~astropy.units.Quantity`, optional
        Full width at half maximum of the point spread function, one value or
        one per band, as an angle or a physical length.
    r_half : `~picasso.radius.HalfRadius`, optional
        The galaxy's half radius and its kind (3-D or projected, mass or
        light): the radius the field of view was cut to, which a model checks
        against its training images.
    mask : array-like of bool, optional
        Bad pixels (`True` = bad), shaped ``(ny, nx)`` for every band or
        ``(n_bands, ny, nx)``.
    variance : `~astropy.units.Quantity`, optional
        Per-pixel variance of ``flux`` in the flux unit squared.
    meta : dict, optional
        Free-form metadata, written to and read from FITS files.
    invalid : {'raise', 'mask'}
        What to do with NaN or infinite flux not covered by ``mask``: raise a
        `ValueError` (default) or add those pixels to the mask.

    Raises
    ------
    TypeError
        If ``flux`` is not a Quantity or ``wcs`` not a WCS.
    ValueError
        For an unknown, repeated or misordered band, a band count that does
        not match the planes, non-2-D planes, non-finite or all-zero planes, or
        a mask, variance, WCS or scale that does not fit the image.
    astropy.units.UnitTypeError
        If ``flux`` does not have a flux or surface-brightness unit.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from picasso import GalaxyCutout
    >>> cutout = GalaxyCutout(np.ones((5, 64, 64)) * u.nanomaggy,
    ...                       pixel_scale=0.396 * u.arcsec, redshift=0.05)
    >>> cutout.bands
    ('u', 'g', 'r', 'i', 'z')
    >>> round(cutout.pixel_scale_kpc.to_value(u.kpc), 3)
    0.4
    """

    def __init__(
        self,
        flux,
        bands=None,
        *,
        wcs=None,
        pixel_scale=None,
        redshift=None,
        cosmology=None,
        psf_fwhm=None,
        r_half=None,
        mask=None,
        variance=None,
        meta=None,
        invalid="raise",
    ):
        if not isinstance(flux, u.Quantity):
            raise TypeError(
                "flux must be an astropy Quantity with a flux unit, e.g. "
                "np.asarray(image) * u.nanomaggy"
            )
        self._flux_kind = _flux_kind(flux.unit)
        flux = u.Quantity(flux, dtype=np.float64 if flux.dtype == np.float64 else np.float32,
                          copy=True)
        if flux.ndim == 2:
            flux = flux[np.newaxis]
        if flux.ndim != 3:
            raise ValueError(
                f"flux must be shaped (n_bands, ny, nx); got {flux.ndim} dimensions "
                f"with shape {flux.shape}"
            )
        if flux.shape[1] < 2 or flux.shape[2] < 2:
            raise ValueError(f"image planes must be 2-D images, got shape {flux.shape[1:]}")
        self._bands = self._check_bands(bands, flux.shape[0])
        self._mask = self._check_mask(mask, flux.shape)
        bad = ~np.isfinite(flux.value)
        if self._mask is not None:
            bad &= ~self._mask
        if bad.any():
            if invalid == "mask":
                self._mask = bad if self._mask is None else (self._mask | bad)
            elif invalid == "raise":
                where = ", ".join(b for b, plane in zip(self._bands, bad) if plane.any())
                raise ValueError(
                    f"flux has {int(bad.sum())} NaN or infinite pixel(s) in band(s) {where} "
                    "that the mask does not cover; pass mask=~np.isfinite(flux) or "
                    "invalid='mask' to mask them"
                )
            else:
                raise ValueError(f"invalid must be 'raise' or 'mask', got {invalid!r}")
        if self._mask is not None:
            flux[self._mask] = 0 * flux.unit
        for band, plane in zip(self._bands, flux.value):
            if not np.any(plane):
                raise ValueError(
                    f"band {band!r} is all zero (or entirely masked): the image holds no "
                    "signal in that band; check the input file or drop the band"
                )
        self._flux = flux
        self._variance = self._check_variance(variance)
        self._wcs = self._check_wcs(wcs)
        self._redshift = self._check_redshift(redshift)
        if cosmology is not None and not isinstance(cosmology, Cosmology):
            raise TypeError(f"cosmology must be an astropy Cosmology, got {cosmology!r}")
        self._cosmology = cosmology if cosmology is not None else default_cosmology.get()
        self._pixel_scale, self._pixel_scale_kpc = self._check_pixel_scale(pixel_scale)
        self._psf_fwhm = self._check_psf(psf_fwhm)
        if r_half is not None and not isinstance(r_half, HalfRadius):
            raise TypeError(
                "r_half must be a picasso.radius.HalfRadius (a length and its kind, e.g. "
                f"HalfRadius(3 * u.kpc, 'light_projected')), got {r_half!r}"
            )
        self._r_half = r_half
        self.meta = dict(meta) if meta is not None else {}

    # ------------------------------------------------------------------ checks

    @staticmethod
    def _check_bands(bands, n_planes):
        if bands is None:
            if n_planes != len(BANDS):
                raise ValueError(
                    f"flux has {n_planes} plane(s) but no band names were given; pass "
                    f"bands=[...] naming each plane (known bands: {', '.join(BANDS)})"
                )
            return BANDS.names
        bands = BANDS.validate(bands)
        if len(bands) != n_planes:
            raise ValueError(
                f"{len(bands)} band name(s) {bands} given for {n_planes} image plane(s)"
            )
        order = [BANDS.index(band) for band in bands]
        if order != sorted(order):
            raise ValueError(
                f"bands {', '.join(bands)} are not in wavelength order "
                f"({', '.join(BANDS)}); reorder the planes and the names together"
            )
        return bands

    @staticmethod
    def _check_mask(mask, shape):
        if mask is None:
            return None
        mask = np.asarray(mask)
        if mask.dtype != bool:
            raise TypeError(f"mask must be a boolean array (True = bad), got dtype {mask.dtype}")
        if mask.shape == shape[1:]:
            mask = np.broadcast_to(mask, shape)
        if mask.shape != shape:
            raise ValueError(
                f"mask shape {mask.shape} fits neither the image {shape[1:]} nor the "
                f"flux {shape}"
            )
        return mask.copy()

    def _check_variance(self, variance):
        if variance is None:
            return None
        if not isinstance(variance, u.Quantity):
            raise TypeError("variance must be a Quantity in the flux unit squared")
        try:
            variance = variance.to(self._flux.unit**2)
        except u.UnitConversionError:
            raise u.UnitConversionError(
                f"variance unit {variance.unit} is not the flux unit squared ({self._flux.unit**2})"
            ) from None
        if variance.shape != self._flux.shape:
            raise ValueError(
                f"variance shape {variance.shape} does not match flux shape {self._flux.shape}"
            )
        good = ~self._mask if self._mask is not None else np.ones(variance.shape, bool)
        if not np.all(np.isfinite(variance.value[good])) or np.any(variance.value[good] < 0):
            raise ValueError("variance must be finite and non-negative on unmasked pixels")
        variance = variance.copy()
        if self._mask is not None:
            variance[self._mask] = 0 * variance.unit
        return variance

    def _check_wcs(self, wcs):
        if wcs is None:
            return None
        if not isinstance(wcs, WCS):
            raise TypeError(f"wcs must be an astropy.wcs.WCS, got {type(wcs).__name__}")
        if wcs.pixel_n_dim != 2 or not wcs.has_celestial or wcs.naxis != 2:
            axes = ", ".join(repr(ctype) if ctype else "no CTYPE" for ctype in wcs.wcs.ctype)
            hint = ("use wcs.celestial" if wcs.has_celestial
                    else "it has no celestial axes (RA/Dec); give the image's sky WCS")
            raise ValueError(
                f"wcs must be a 2-D celestial WCS for the image planes, got one with "
                f"{wcs.naxis} axes ({axes}); {hint}"
            )
        ny, nx = self._flux.shape[1:]
        if wcs.pixel_shape is not None and tuple(wcs.pixel_shape) != (nx, ny):
            raise ValueError(
                f"wcs describes a {wcs.pixel_shape[1]} x {wcs.pixel_shape[0]} image but the "
                f"planes are {ny} x {nx}"
            )
        wcs = wcs.deepcopy()
        wcs.pixel_shape = (nx, ny)
        return wcs

    @staticmethod
    def _check_redshift(redshift):
        if redshift is None:
            return None
        redshift = float(redshift)
        if not np.isfinite(redshift) or redshift <= 0:
            raise ValueError(f"redshift must be positive and finite, got {redshift}")
        return redshift

    def _angle_to_kpc(self):
        """kpc per arcsec at the galaxy's redshift."""
        return kpc_per_arcsec(self._redshift, self._cosmology)

    def _check_pixel_scale(self, pixel_scale):
        angular = physical = None
        if pixel_scale is not None:
            pixel_scale = _as_scalar_scale(pixel_scale, "pixel_scale")
            if pixel_scale.unit.is_equivalent(u.arcsec):
                angular = pixel_scale.to(u.arcsec)
            else:
                physical = pixel_scale.to(u.kpc)
        if self._wcs is not None:
            scales = proj_plane_pixel_scales(self._wcs) * u.deg
            if not np.isclose(scales[0], scales[1], rtol=1e-3):
                raise ValueError(
                    f"the WCS has non-square pixels ({scales.to(u.arcsec)}); resample onto a "
                    "grid with square pixels first"
                )
            wcs_scale = scales.mean().to(u.arcsec)
            if angular is None:
                angular = wcs_scale
            elif not np.isclose(angular, wcs_scale, rtol=1e-3):
                raise ValueError(
                    f"pixel_scale {angular} disagrees with the WCS pixel scale {wcs_scale}"
                )
        if self._redshift is not None:
            if angular is not None and physical is None:
                physical = (angular * self._angle_to_kpc()).to(u.kpc)
            elif physical is not None and angular is None:
                angular = (physical / self._angle_to_kpc()).to(u.arcsec)
            elif physical is not None:
                implied = (angular * self._angle_to_kpc()).to(u.kpc)
                if not np.isclose(physical, implied, rtol=1e-3):
                    raise ValueError(
                        f"pixel_scale {physical:.4g} disagrees with the WCS: its "
                        f"{angular:.4g} pixels are {implied:.4g} at redshift "
                        f"{self._redshift:g} ({self._cosmology.name or 'given cosmology'}); "
                        "drop pixel_scale, or fix the WCS or the redshift"
                    )
        return angular, physical

    def _check_psf(self, psf_fwhm):
        if psf_fwhm is None:
            return None
        if not isinstance(psf_fwhm, u.Quantity):
            raise TypeError("psf_fwhm must be a Quantity (angle or length)")
        if not (psf_fwhm.unit.is_equivalent(u.arcsec) or psf_fwhm.unit.is_equivalent(u.kpc)):
            raise u.UnitTypeError(f"psf_fwhm must be an angle or a length, got {psf_fwhm.unit}")
        if psf_fwhm.isscalar:
            psf_fwhm = np.full(self.n_bands, psf_fwhm.value) * psf_fwhm.unit
        if psf_fwhm.shape != (self.n_bands,):
            raise ValueError(
                f"psf_fwhm needs one value or one per band ({self.n_bands}), got {psf_fwhm.shape}"
            )
        if not np.all(np.isfinite(psf_fwhm.value)) or np.any(psf_fwhm.value <= 0):
            raise ValueError(f"psf_fwhm must be positive and finite, got {psf_fwhm}")
        return psf_fwhm

    # -------------------------------------------------------------- attributes

    @property
    def flux(self):
        """`~astropy.units.Quantity`: image planes, ``(n_bands, ny, nx)``."""
        return self._flux

    @property
    def bands(self):
        """tuple of str: band names, one per plane."""
        return self._bands

    @property
    def n_bands(self):
        """int: number of bands."""
        return len(self._bands)

    @property
    def shape(self):
        """tuple: ``(ny, nx)`` of each plane."""
        return self._flux.shape[1:]

    @property
    def wcs(self):
        """`~astropy.wcs.WCS` or None: celestial WCS of the planes."""
        return self._wcs

    @property
    def mask(self):
        """ndarray of bool or None: bad pixels, ``(n_bands, ny, nx)``."""
        return self._mask

    @property
    def combined_mask(self):
        """ndarray of bool or None: pixels bad in any band, ``(ny, nx)``."""
        return None if self._mask is None else self._mask.any(axis=0)

    @property
    def r_half(self):
        """`~picasso.radius.HalfRadius` or None: the half radius the field was cut to."""
        return self._r_half

    @property
    def field_of_view(self):
        """`~astropy.units.Quantity` or None: side of the image as a proper length (kpc)."""
        if self._pixel_scale_kpc is None:
            return None
        return self.shape[0] * self._pixel_scale_kpc

    @property
    def variance(self):
        """`~astropy.units.Quantity` or None: per-pixel variance."""
        return self._variance

    @property
    def redshift(self):
        """float or None: redshift of the galaxy."""
        return self._redshift

    @property
    def cosmology(self):
        """`~astropy.cosmology.Cosmology`: cosmology for physical scales."""
        return self._cosmology

    @property
    def pixel_scale(self):
        """`~astropy.units.Quantity` or None: angle per pixel (arcsec)."""
        return self._pixel_scale

    @property
    def pixel_scale_kpc(self):
        """`~astropy.units.Quantity` or None: physical length per pixel (kpc)."""
        return self._pixel_scale_kpc

    @property
    def pixel_area(self):
        """`~astropy.units.Quantity` or None: solid angle of one pixel."""
        return None if self._pixel_scale is None else (self._pixel_scale**2).to(u.sr)

    @property
    def psf_fwhm(self):
        """`~astropy.units.Quantity` or None: PSF FWHM per band."""
        return self._psf_fwhm

    @property
    def unit(self):
        """`~astropy.units.Unit`: unit of ``flux``."""
        return self._flux.unit

    @property
    def psf_fwhm_pixels(self):
        """ndarray or None: PSF FWHM per band in this cutout's pixels (None when unknown)."""
        if self._psf_fwhm is None:
            return None
        angular = self._psf_fwhm.unit.is_equivalent(u.arcsec)
        scale = self._pixel_scale if angular else self._pixel_scale_kpc
        if scale is None:
            return None
        return (self._psf_fwhm / scale).to_value(u.dimensionless_unscaled)

    def __repr__(self):
        scale = []
        if self._pixel_scale is not None:
            scale.append(f"{self._pixel_scale:.4g}")
        if self._pixel_scale_kpc is not None:
            scale.append(f"{self._pixel_scale_kpc:.4g}")
        return (
            f"<GalaxyCutout {''.join(self._bands)} {self.shape[0]}x{self.shape[1]} "
            f"[{self.unit}] z={self._redshift} pixel={' = '.join(scale) or 'unknown'}"
            f"{' with WCS' if self._wcs is not None else ''}>"
        )

    # ----------------------------------------------------------------- methods

    def band(self, name):
        """
        One band's image.

        Parameters
        ----------
        name : str
            Band name.

        Returns
        -------
        image : `~astropy.units.Quantity`
            2-D plane.

        Raises
        ------
        KeyError
            If the cutout has no such band.
        """
        if name not in self._bands:
            raise KeyError(f"this cutout has no band {name!r}; it has {', '.join(self._bands)}")
        return self._flux[self._bands.index(name)]

    def _replace(self, **changes):
        """A new cutout with some constructor arguments replaced."""
        arguments = dict(
            flux=self._flux,
            bands=self._bands,
            wcs=self._wcs,
            pixel_scale=self._pixel_scale if self._pixel_scale is not None
            else self._pixel_scale_kpc,
            redshift=self._redshift,
            cosmology=self._cosmology,
            psf_fwhm=self._psf_fwhm,
            r_half=self._r_half,
            mask=self._mask,
            variance=self._variance,
            meta=self.meta,
        )
        arguments.update(changes)
        return GalaxyCutout(**arguments)

    def select_bands(self, names):
        """
        A cutout holding only some bands.

        Parameters
        ----------
        names : sequence of str
            Bands to keep, in wavelength order.

        Returns
        -------
        cutout : `GalaxyCutout`
        """
        names = BANDS.validate(names)
        missing = [name for name in names if name not in self._bands]
        if missing:
            raise ValueError(
                f"band(s) {', '.join(missing)} not in this cutout ({', '.join(self._bands)})"
            )
        index = [self._bands.index(name) for name in names]
        return self._replace(
            flux=self._flux[index],
            bands=names,
            psf_fwhm=None if self._psf_fwhm is None else self._psf_fwhm[index],
            mask=None if self._mask is None else self._mask[index],
            variance=None if self._variance is None else self._variance[index],
        )

    def to_unit(self, unit):
        """
        The same cutout with flux in another unit.

        Flux densities per pixel and surface brightnesses convert into each
        other through the pixel's solid angle; maggies convert to janskys
        through the AB zero point.

        Parameters
        ----------
        unit : str or `~astropy.units.Unit`

        Returns
        -------
        cutout : `GalaxyCutout`

        Raises
        ------
        ValueError
            If the conversion needs the pixel scale and it is unknown.
        """
        unit = u.Unit(unit)
        target_kind = _flux_kind(unit)
        equivalencies = flux_equivalencies()
        one = 1.0 * self.unit
        one = one.to(u.Jy, equivalencies) if self._flux_kind == "flux" else one.to(u.Jy / u.sr)
        if target_kind != self._flux_kind:
            if self.pixel_area is None:
                raise ValueError(
                    f"converting {self.unit} to {unit} needs the pixel scale; give pixel_scale "
                    "or a WCS"
                )
            one = one / self.pixel_area if self._flux_kind == "flux" else one * self.pixel_area
        factor = one.to_value(unit, equivalencies)
        variance = None if self._variance is None else self._variance.value * factor**2 * unit**2
        return self._replace(flux=self._flux.value * factor * unit, variance=variance)

    read = registry.UnifiedReadWriteMethod(_GalaxyCutoutRead)
    write = registry.UnifiedReadWriteMethod(_GalaxyCutoutWrite)

    @classmethod
    def from_sdss_frames(cls, frames, ra, dec, redshift, **kwargs):
        """
        Cut a model-ready cutout from SDSS frame files (or other calibrated images).

        The same as ``GalaxyCutout.read(frames, format="sdss", ra=ra, dec=dec,
        redshift=redshift, ...)``: reads the frames (each file once, shared
        between calls), puts every band on one tangent-plane grid centred on
        the galaxy with flux-conserving reprojection, propagates the SDSS
        noise model and matches the PSF. See
        `picasso.io.sdss.cutout_from_frames` for every option and what is and
        is not corrected.

        Parameters
        ----------
        frames : `~picasso.io.sdss.FrameSet`, list of frames, or paths
            Frame files, directories of them, or frames already read.
        ra, dec : `~astropy.units.Quantity`
            Galaxy centre.
        redshift : float
            Galaxy redshift.
        **kwargs
            Passed to `picasso.io.sdss.cutout_from_frames` (``size``,
            ``field``, ``r_half``, ``target_psf_fwhm``, ...).

        Returns
        -------
        cutout : `GalaxyCutout`
        """
        return cls.read(frames, format="sdss", ra=ra, dec=dec, redshift=redshift, **kwargs)

    def rgb(self, *, stretch=0.5, Q=8, minimum=0.0, bands=("i", "r", "g")):
        """
        A colour image from three bands with the Lupton et al. (2004) asinh
        stretch (`astropy.visualization.make_lupton_rgb`).

        Parameters
        ----------
        stretch, Q, minimum : float
            Parameters of the stretch, in the cutout's flux unit for
            ``stretch`` and ``minimum``.
        bands : tuple of str
            Bands for red, green and blue.

        Returns
        -------
        image : ndarray
            ``(ny, nx, 3)`` uint8 array.
        """
        from astropy.visualization import make_lupton_rgb

        red, green, blue = (self.band(name).value for name in bands)
        return make_lupton_rgb(red, green, blue, minimum=minimum, stretch=stretch, Q=Q)

    def predict(self, model=None, **kwargs):
        """
        Predict the property maps of this galaxy with a trained model.

        Parameters
        ----------
        model : str, path-like or model object, optional
            A model file or one loaded with `picasso.load_model`; by default
            the model bundled with picasso.
        **kwargs
            Passed to `picasso.nn.Model.predict` (``uncertainty``,
            ``symmetries``, ``device``, ...).

        Returns
        -------
        maps : `~picasso.PropertyMaps`
            The maps in physical units on this cutout's grid and WCS.
        """
        from . import load_model  # the public entry point; imports torch only now

        if model is None or isinstance(model, (str, Path)):
            model = load_model("default" if model is None else model)
        return model.predict(self, **kwargs)


# ---------------------------------------------------------------------- FITS


def write_cutout_fits(cutout, path, overwrite=False):
    """
    Write a cutout to a multi-extension FITS file (``cutout.write(path)``).

    The primary HDU carries the redshift, cosmology, pixel scales, half
    radius and metadata; each band is an image HDU named after it (``BAND``,
    ``BUNIT`` and the WCS in its header), followed by ``VAR_<band>`` variance
    HDUs and a ``MASK`` HDU when present. The file is written atomically.

    Parameters
    ----------
    cutout : `GalaxyCutout`
    path : str or path-like
    overwrite : bool
        Replace an existing file.
    """
    primary = fits.PrimaryHDU()
    header = primary.header
    header["PICASSO"] = (CUTOUT_FILE_KIND, "picasso file kind")
    header["BANDS"] = ("".join(cutout.bands), "bands in HDU order")
    header["FLUXKIND"] = (cutout._flux_kind, "flux per pixel or surface brightness")
    if cutout.redshift is not None:
        header["REDSHIFT"] = cutout.redshift
    header["COSMO"] = cosmology_to_string(cutout.cosmology)
    if cutout.pixel_scale is not None:
        header["PIXSCALE"] = (cutout.pixel_scale.to_value(u.arcsec), "[arcsec] pixel scale")
    if cutout.pixel_scale_kpc is not None:
        header["PIXKPC"] = (cutout.pixel_scale_kpc.to_value(u.kpc), "[kpc] pixel scale")
    if cutout.r_half is not None:
        cutout.r_half.to_fits_header(header)
    header["PMETA"] = encode_meta(cutout.meta)
    wcs_header = cutout.wcs.to_header(relax=True) if cutout.wcs is not None else fits.Header()
    hdus = [primary]
    psf = cutout.psf_fwhm
    for index, band in enumerate(cutout.bands):
        hdu = fits.ImageHDU(cutout.flux[index].value, header=wcs_header.copy(), name=band.upper())
        hdu.header["BAND"] = band
        hdu.header["BUNIT"] = cutout.unit.to_string()
        if psf is not None:
            hdu.header["PSFFWHM"] = psf[index].value
            hdu.header["PSFUNIT"] = psf.unit.to_string()
        hdus.append(hdu)
    if cutout.variance is not None:
        for index, band in enumerate(cutout.bands):
            hdu = fits.ImageHDU(cutout.variance[index].value, header=wcs_header.copy(),
                                name=f"VAR_{band.upper()}")
            hdu.header["BAND"] = band
            hdu.header["BUNIT"] = cutout.variance.unit.to_string()
            hdus.append(hdu)
    if cutout.mask is not None:
        hdus.append(fits.ImageHDU(cutout.mask.astype(np.uint8), name="MASK"))
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList(hdus).writeto(tmp)


def read_cutout_fits(path):
    """
    Read a cutout written by `write_cutout_fits` (``GalaxyCutout.read(path)``).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    cutout : `GalaxyCutout`

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    OSError
        If it is not a readable FITS file.
    ValueError
        If it is not a picasso cutout file or an extension is missing.
    """
    hdul = open_fits(path, kind="GalaxyCutout")
    header = hdul[0].header
    if header.get("PICASSO") != CUTOUT_FILE_KIND:
        raise ValueError(
            f"{path} is not a picasso GalaxyCutout file (primary header PICASSO="
            f"{header.get('PICASSO')!r}); for SDSS frames use GalaxyCutout.from_sdss_frames"
        )
    bands = tuple(header["BANDS"])
    names = {hdu.name for hdu in hdul}
    missing = [band.upper() for band in bands if band.upper() not in names]
    if missing:
        raise ValueError(f"{path} lacks the image HDU(s) {', '.join(missing)}")
    planes = [hdul[band.upper()] for band in bands]
    unit = u.Unit(planes[0].header["BUNIT"])
    flux = np.stack([hdu.data for hdu in planes]) * unit
    wcs = WCS(planes[0].header) if planes[0].header.get("CTYPE1") else None
    variance = None
    if all(f"VAR_{band.upper()}" in names for band in bands):
        var_hdus = [hdul[f"VAR_{band.upper()}"] for band in bands]
        variance = np.stack([hdu.data for hdu in var_hdus]) * u.Unit(var_hdus[0].header["BUNIT"])
    mask = hdul["MASK"].data.astype(bool) if "MASK" in names else None
    psf_fwhm = None
    if "PSFFWHM" in planes[0].header:
        psf_fwhm = u.Quantity([hdu.header["PSFFWHM"] for hdu in planes],
                              planes[0].header["PSFUNIT"])
    if "PIXSCALE" in header:
        pixel_scale = header["PIXSCALE"] * u.arcsec
    elif "PIXKPC" in header:
        pixel_scale = header["PIXKPC"] * u.kpc
    else:
        pixel_scale = None
    cutout = GalaxyCutout(
        flux, bands, wcs=wcs, pixel_scale=pixel_scale, redshift=header.get("REDSHIFT"),
        cosmology=cosmology_from_string(header["COSMO"]), psf_fwhm=psf_fwhm,
        r_half=HalfRadius.from_fits_header(header),
        mask=mask, variance=variance, meta=decode_meta(header.get("PMETA", "")),
    )
    # Keep the stored physical scale bit for bit rather than re-deriving it.
    if "PIXKPC" in header:
        cutout._pixel_scale_kpc = header["PIXKPC"] * u.kpc
    return cutout


registry.register_reader("fits", GalaxyCutout, read_cutout_fits)
registry.register_writer("fits", GalaxyCutout, write_cutout_fits)
registry.register_identifier("fits", GalaxyCutout, is_fits)
