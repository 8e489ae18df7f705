"""
Classical stellar masses from colour mass-to-light ratios, for comparison
with the network on the same galaxies.

A relation ``log10(M/L_band) = a + b * colour`` turns a colour into a
mass-to-light ratio; the luminosity comes from the cutout's flux at its
redshift (`astropy.cosmology` distance modulus) and the Sun's absolute
magnitude in the band. Two uses:

- per galaxy (`colour_mass_total`): colour and luminosity of the light inside
  the same elliptical aperture as the network's totals, as Bell et al. (2003)
  calibrated their relations on integrated colours;
- per pixel (`colour_mass_map`): a stellar-mass surface-density map from
  each pixel's colour, as Zibetti et al. (2009) do for resolved maps; it is a
  `~picasso.PropertyMaps` that the aperture and metric functions take as they
  take the network's prediction.

Simplifications, stated: observed-frame colours and magnitudes without
K-correction (a few hundredths of a magnitude at the paper's z = 0.05) and
without dust correction (the paper's mocks have no dust). All masses are for a
Chabrier IMF, as in Illustris: Bell et al.'s "diet Salpeter" values are
shifted by `CHABRIER_FROM_DIET_SALPETER`.
"""

import logging
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.convolution import Gaussian2DKernel, convolve_fft
from astropy.stats import sigma_clipped_stats

from ..maps import PropertyMaps
from ..properties import SOLAR_ABSOLUTE_MAGNITUDES, flux_equivalencies

#: S/N per pixel a colour needs in the resolved baseline (Zibetti et al. 2009).
ADAPTIVE_MIN_SNR = 20.0

#: Gaussian smoothing sigmas (pixels) the resolved baseline tries in turn.
ADAPTIVE_SCALES = (0.0, 1.0, 2.0, 4.0, 8.0)

__all__ = [
    "ADAPTIVE_MIN_SNR",
    "ADAPTIVE_SCALES",
    "ColourMassToLight",
    "COLOUR_RELATIONS",
    "CHABRIER_FROM_DIET_SALPETER",
    "DEFAULT_TOTAL_RELATION",
    "DEFAULT_MAP_RELATION",
    "band_luminosity",
    "colour_mass_total",
    "colour_mass_map",
]

log = logging.getLogger(__name__)


#: dex added to a "diet Salpeter" log stellar mass to get a Chabrier IMF mass
#: (Bell et al. 2003's IMF is 0.7 x Salpeter; Chabrier is about 0.093 dex lower
#: still, as commonly adopted, e.g. Gallazzi et al. 2008).
CHABRIER_FROM_DIET_SALPETER = -0.093


@dataclass(frozen=True)
class ColourMassToLight:
    """
    One colour mass-to-light relation, ``log10(M/L) = a + b * colour + imf_offset``.

    Parameters
    ----------
    name : str
        Identifier (``"bell03_gr_r"``).
    blue, red : str
        The colour is ``blue - red`` in AB magnitudes.
    band : str
        Band of the luminosity ``L`` the ratio applies to.
    a, b : float
        Coefficients as published.
    imf_offset : float
        dex added to reach a Chabrier IMF (0 when the relation is already
        Chabrier).
    reference : str
        Where the coefficients come from.
    """

    name: str
    blue: str
    red: str
    band: str
    a: float
    b: float
    imf_offset: float
    reference: str

    @property
    def bands(self):
        """tuple of str: the bands the relation needs."""
        return tuple(dict.fromkeys((self.blue, self.red, self.band)))

    def log_mass_to_light(self, colour):
        """
        log10 of the stellar mass-to-light ratio (Chabrier IMF).

        Parameters
        ----------
        colour : float or array-like
            ``blue - red`` in magnitudes.

        Returns
        -------
        log_ml : ndarray
            log10(M / L) in solar units of the band.
        """
        return self.a + self.b * np.asarray(colour, dtype=float) + self.imf_offset


_BELL = "Bell et al. 2003, ApJS 149, 289, Table 7 (diet Salpeter IMF)"
_ZIBETTI = "Zibetti, Charlot & Rix 2009, MNRAS 400, 1181, Table B1 (Chabrier IMF)"
_TAYLOR = "Taylor et al. 2011, MNRAS 418, 1587, GAMA (Chabrier IMF)"

#: The colour mass-to-light relations picasso knows, by name.
COLOUR_RELATIONS = {
    relation.name: relation
    for relation in (
        ColourMassToLight("bell03_gr_r", "g", "r", "r", -0.306, 1.097,
                          CHABRIER_FROM_DIET_SALPETER, _BELL),
        ColourMassToLight("bell03_gr_i", "g", "r", "i", -0.222, 0.864,
                          CHABRIER_FROM_DIET_SALPETER, _BELL),
        ColourMassToLight("bell03_gi_r", "g", "i", "r", -0.220, 0.661,
                          CHABRIER_FROM_DIET_SALPETER, _BELL),
        ColourMassToLight("bell03_gi_i", "g", "i", "i", -0.152, 0.518,
                          CHABRIER_FROM_DIET_SALPETER, _BELL),
        ColourMassToLight("zibetti09_gr_r", "g", "r", "r", -0.840, 1.654, 0.0, _ZIBETTI),
        ColourMassToLight("zibetti09_gi_r", "g", "i", "r", -0.977, 1.157, 0.0, _ZIBETTI),
        ColourMassToLight("zibetti09_gi_i", "g", "i", "i", -0.963, 1.032, 0.0, _ZIBETTI),
        ColourMassToLight("taylor11_gi_i", "g", "i", "i", -0.68, 0.70, 0.0, _TAYLOR),
    )
}

#: Relation for per-galaxy totals (integrated colour).
DEFAULT_TOTAL_RELATION = "bell03_gr_r"

#: Relation for per-pixel maps (resolved colour).
DEFAULT_MAP_RELATION = "zibetti09_gi_r"


def _relation(relation):
    if isinstance(relation, ColourMassToLight):
        return relation
    try:
        return COLOUR_RELATIONS[relation]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown colour relation {relation!r}; known: {', '.join(COLOUR_RELATIONS)}"
        ) from None


def _check_cutout(cutout, relation, need_kpc):
    if not (hasattr(cutout, "flux") and hasattr(cutout, "band")):
        raise TypeError(f"expected a picasso GalaxyCutout, got {type(cutout).__name__}")
    missing = [band for band in relation.bands if band not in cutout.bands]
    if missing:
        raise ValueError(
            f"relation {relation.name} needs band(s) {', '.join(relation.bands)}; the cutout lacks "
            f"{', '.join(missing)}"
        )
    if cutout.redshift is None:
        raise ValueError("a colour mass needs the cutout's redshift for the luminosity distance")
    if need_kpc and cutout.pixel_scale_kpc is None:
        raise ValueError("a stellar-mass map needs the cutout's physical pixel scale (kpc)")


def _nanomaggies(cutout, band):
    """One band in nanomaggies per pixel (surface brightness converted through the pixel)."""
    image = cutout.band(band)
    if image.unit.is_equivalent(u.Jy / u.sr):
        if cutout.pixel_area is None:
            raise ValueError("converting a surface brightness to flux needs the pixel scale")
        image = image * cutout.pixel_area
    return image.to_value(u.nanomaggy, flux_equivalencies())


def band_luminosity(flux, band, redshift, cosmology=None):
    """
    Luminosity in a band from an observed flux, in solar units of that band.

    ``L / L_sun = 10 ** (-0.4 * (m - DM(z) - M_sun))`` with the AB magnitude
    ``m`` of ``flux``, the cosmology's distance modulus and
    `~picasso.properties.SOLAR_ABSOLUTE_MAGNITUDES`; no K-correction.

    Parameters
    ----------
    flux : `~astropy.units.Quantity`
        Flux (nanomaggy, Jy, ...); any shape.
    band : str
        SDSS band name.
    redshift : float
        Positive redshift.
    cosmology : `~astropy.cosmology.Cosmology`, optional
        The astropy default (Planck18) if not given.

    Returns
    -------
    luminosity : `~astropy.units.Quantity`
        In ``u.Lsun`` (meaning the Sun's luminosity in ``band``); zero where
        the flux is not positive.
    """
    from astropy.cosmology import default_cosmology

    if band not in SOLAR_ABSOLUTE_MAGNITUDES:
        raise ValueError(f"no solar magnitude for band {band!r}; known: "
                         f"{', '.join(SOLAR_ABSOLUTE_MAGNITUDES)}")
    if not isinstance(flux, u.Quantity):
        raise TypeError("flux must be a Quantity (e.g. nanomaggy)")
    if not (redshift is not None and np.isfinite(redshift) and redshift > 0):
        raise ValueError(f"redshift must be positive, got {redshift}")
    cosmology = default_cosmology.get() if cosmology is None else cosmology
    maggies = np.asarray(flux.to_value(u.mgy, flux_equivalencies()), dtype=float)
    distance_modulus = cosmology.distmod(redshift).to_value(u.mag)
    scale = 10 ** (0.4 * (distance_modulus + SOLAR_ABSOLUTE_MAGNITUDES[band]))
    return np.where(maggies > 0, maggies, 0.0) * scale * u.Lsun


def _colour(blue_flux, red_flux):
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = -2.5 * np.log10(np.asarray(blue_flux, float) / np.asarray(red_flux, float))
    return np.where((np.asarray(blue_flux) > 0) & (np.asarray(red_flux) > 0), colour, np.nan)


def colour_mass_total(cutout, geometry=None, *, k=2.0, relation=DEFAULT_TOTAL_RELATION,
                      mask=None):
    """
    Stellar mass of a galaxy from its integrated colour and luminosity.

    Parameters
    ----------
    cutout : `~picasso.GalaxyCutout`
        Image with the relation's bands and a redshift.
    geometry : `~picasso.analysis.GalaxyGeometry`, optional
        Sum the light inside the ellipse of semi-major axis ``k`` R_half
        (exact pixel overlap); the whole image by default.
    k : float
        Aperture semi-major axis in half-mass radii.
    relation : str or `ColourMassToLight`
        One of `COLOUR_RELATIONS` (default Bell et al. 2003, g - r, L_r).
    mask : array-like of bool, optional
        Pixels to leave out (True); pass the truth's empty pixels to sum over
        the same pixels as the network's totals.

    Returns
    -------
    mass : `~astropy.units.Quantity`
        Stellar mass in Msun (Chabrier IMF); NaN when the colour is undefined
        (no positive flux in a band).
    """
    relation = _relation(relation)
    _check_cutout(cutout, relation, need_kpc=False)
    excluded = np.zeros(cutout.shape, bool) if mask is None else np.asarray(mask, dtype=bool)
    if excluded.shape != tuple(cutout.shape):
        raise ValueError(f"mask has shape {excluded.shape}, the cutout {cutout.shape}")
    fluxes = {}
    for band in relation.bands:
        image = _nanomaggies(cutout, band)
        if geometry is None:
            fluxes[band] = float(image[~excluded].sum())
        else:
            if tuple(geometry.shape) != tuple(cutout.shape):
                raise ValueError(
                    f"the geometry was fitted on a {geometry.shape} map, the cutout is "
                    f"{cutout.shape}"
                )
            total, _ = geometry.aperture(k).do_photometry(image, mask=excluded, method="exact")
            fluxes[band] = float(total[0])
    colour = _colour(fluxes[relation.blue], fluxes[relation.red])
    luminosity = band_luminosity(fluxes[relation.band] * u.nanomaggy, relation.band,
                                 cutout.redshift, cutout.cosmology)
    if not np.isfinite(colour) or not luminosity.value > 0:
        return np.nan * u.Msun
    mass_to_light = 10 ** relation.log_mass_to_light(colour) * u.Msun / u.Lsun
    return (mass_to_light * luminosity).to(u.Msun)


def _gaussian_smooth(image, sigma):
    """A flux-conserving Gaussian smoothing (sigma in pixels; 0: the image itself)."""
    if sigma <= 0:
        return np.asarray(image, dtype=float)
    return convolve_fft(image, Gaussian2DKernel(sigma), boundary="fill", fill_value=0.0,
                        normalize_kernel=True)


def _gaussian_smooth_variance(variance, sigma):
    """The variance of `_gaussian_smooth` of independent pixels: smoothed by the squared kernel."""
    if sigma <= 0:
        return np.asarray(variance, dtype=float)
    kernel = Gaussian2DKernel(sigma)
    kernel.normalize()
    return np.clip(convolve_fft(variance, kernel.array**2, boundary="fill", fill_value=0.0,
                                normalize_kernel=False), 0.0, None)


def colour_mass_map(cutout, *, relation=DEFAULT_MAP_RELATION, min_snr=ADAPTIVE_MIN_SNR,
                    scales=ADAPTIVE_SCALES):
    """
    Stellar-mass surface-density map from each pixel's colour.

    As Zibetti et al. (2009) did with ADAPTSMOOTH, every pixel's colour and
    luminosity are measured on the least-smoothed version of the images in
    which the pixel reaches ``min_snr`` in every band the relation needs
    (Gaussian smoothing of increasing width, ``scales``); a pixel that never
    does is empty. Without a variance, each band's noise is the sigma-clipped
    rms of its pixels (the sky dominates a cutout of 10 half radii).

    Parameters
    ----------
    cutout : `~picasso.GalaxyCutout`
        Image with the relation's bands, a redshift and a physical pixel scale.
    relation : str or `ColourMassToLight`
        One of `COLOUR_RELATIONS` (default Zibetti et al. 2009, g - i, L_r).
    min_snr : float
        S/N per pixel that the colour needs (Zibetti et al.: 20 in g and i).
    scales : sequence of float
        Gaussian sigmas in pixels tried in turn (0: no smoothing).

    Returns
    -------
    maps : `~picasso.PropertyMaps`
        A ``stellar_mass`` map on the cutout's grid and WCS; pixels that
        reach the S/N at no scale, or without positive flux in every band the
        relation needs, are empty (zero and masked). ``meta['smoothing']``
        counts the pixels measured at each scale.
    """
    relation = _relation(relation)
    _check_cutout(cutout, relation, need_kpc=True)
    images = {band: _nanomaggies(cutout, band) for band in relation.bands}
    if cutout.variance is not None:
        variances = {band: cutout.variance[cutout.bands.index(band)].to_value(u.nanomaggy**2)
                     for band in relation.bands}
    else:
        variances = {band: np.full(images[band].shape,
                                   sigma_clipped_stats(images[band], sigma=3.0)[2] ** 2)
                     for band in relation.bands}
    smoothed = {band: np.full(images[band].shape, np.nan) for band in relation.bands}
    done = np.zeros(images[relation.band].shape, bool)
    counts = {}
    for sigma in scales:
        level = {band: _gaussian_smooth(images[band], sigma) for band in relation.bands}
        good = ~done
        for band in relation.bands:
            noise = np.sqrt(_gaussian_smooth_variance(variances[band], sigma))
            good &= level[band] >= min_snr * noise
        for band in relation.bands:
            smoothed[band][good] = level[band][good]
        counts[float(sigma)] = int(good.sum())
        done |= good
    colour = _colour(smoothed[relation.blue], smoothed[relation.red])
    luminosity = band_luminosity(np.nan_to_num(smoothed[relation.band]) * u.nanomaggy,
                                 relation.band, cutout.redshift, cutout.cosmology)
    empty = ~done | ~np.isfinite(colour) | (luminosity.value <= 0)
    log_ml = np.where(empty, 0.0, relation.log_mass_to_light(np.where(empty, 0.0, colour)))
    mass = np.where(empty, 0.0, 10**log_ml * luminosity.value) * u.Msun
    density = mass / cutout.pixel_scale_kpc**2
    return PropertyMaps(
        {"stellar_mass": density.to(u.Msun / u.kpc**2)},
        wcs=cutout.wcs,
        pixel_scale=cutout.pixel_scale_kpc,
        mask={"stellar_mass": empty},
        meta={"baseline": relation.name, "reference": relation.reference,
              "smoothing": counts},
    )
