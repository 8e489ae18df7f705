"""
Truth maps: particles deposited into pixels, every total conserved.
"""

import logging

import astropy.units as u
import numpy as np

from ...maps import PropertyMaps
from ...properties import PROPERTIES
from .grid import SPLINE_SIGMA_PER_SUPPORT
from .render import render_particles

__all__ = ["project_truth", "truth_planes", "planes_to_maps", "pixel_index", "TRUTH_COARSE_SIGMA",
           "NEAREST_BELOW"]

#: Smallest kernel width (coarse pixels) of a kernel-deposited truth map: no ringing.
TRUTH_COARSE_SIGMA = 2.5

#: Kernels narrower than this (Gaussian sigma in pixels) deposit into one pixel.
NEAREST_BELOW = 1.0

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# truth
# ---------------------------------------------------------------------------


def pixel_index(xy, half_size, n):
    """Flat pixel index of positions inside the square [-half, half)^2, and the mask."""
    scale = n / (2.0 * half_size)
    ix = np.floor((xy[:, 0] + half_size) * scale).astype(np.int64)
    iy = np.floor((xy[:, 1] + half_size) * scale).astype(np.int64)
    inside = (ix >= 0) & (ix < n) & (iy >= 0) & (iy < n)
    return iy[inside] * n + ix[inside], inside


def project_truth(particles, half_size, image_size, properties=None, r_half=None, meta=None,
                  star_smoothing=None):
    """
    Project particles onto an ``N x N`` grid: the seven truth maps.

    By default each particle goes whole into the pixel holding its centre
    (x, y after projection along z): sums over the grid equal the particle
    totals inside the field exactly and pixels without particles stay empty.
    Given ``star_smoothing``, every particle is spread over the same Gaussian
    kernel that spreads its light (stars: the 16-neighbour kernel of the
    image, `picasso.mock.observe.smoothing_lengths`; gas cells: their
    ``smoothing_length``), so light and mass agree pixel by pixel; the kernels
    conserve mass, and a pixel is empty only where less than a thousandth of
    a particle falls.

    Parameters
    ----------
    particles : `~picasso.particles.Particles`
        Already rotated to the view (observer at +z).
    half_size : `~astropy.units.Quantity` or float
        Half the side of the field (kpc).
    image_size : int
        Pixels per side.
    properties : sequence of str, optional
        Which maps (all seven by default).
    r_half : `~picasso.radius.HalfRadius`, optional
        The galaxy's half radius, carried by the maps.
    meta : dict, optional
        Metadata for the maps.
    star_smoothing : `numpy.ndarray`, optional
        Support radius (kpc) of every star particle's kernel; `None` deposits
        every particle into one pixel.

    Returns
    -------
    maps : `~picasso.PropertyMaps`
        Surface densities (Msun/kpc^2, Msun/yr/kpc^2) and the stellar-mass
        weighted mean age (Gyr); ``mask`` marks empty pixels per property.
    """
    names = PROPERTIES.validate(properties)
    half = float(u.Quantity(half_size, u.kpc).value)
    n = int(image_size)
    if half <= 0 or n < 1:
        raise ValueError("half_size and image_size must be positive")
    planes = truth_planes(particles, half, n, star_smoothing)
    return planes_to_maps(planes, 2.0 * half / n, properties=names, r_half=r_half, meta=meta)


def planes_to_maps(planes, pixel, *, properties=None, r_half=None, meta=None):
    """
    `PropertyMaps` of the planes of `truth_planes`.

    Parameters
    ----------
    planes : dict
        ``name: (value, empty)`` (`truth_planes`).
    pixel : float
        Pixel side (kpc).
    properties : sequence of str, optional
        Which maps (all seven by default).
    r_half, meta
        As for `project_truth`.

    Returns
    -------
    maps : `~picasso.PropertyMaps`
    """
    names = PROPERTIES.validate(properties)
    return PropertyMaps({name: planes[name][0] << PROPERTIES[name].unit for name in names},
                        pixel_scale=pixel * u.kpc, mask={name: planes[name][1] for name in names},
                        r_half=r_half, meta=meta)


def truth_planes(particles, half, n, star_smoothing=None):
    """
    The seven truth maps of `project_truth` as bare arrays, before they become `PropertyMaps`.

    Parameters
    ----------
    particles : `~picasso.particles.Particles`
        Already rotated to the view (observer at +z).
    half : float
        Half the side of the field (kpc), positive.
    n : int
        Pixels per side, positive.
    star_smoothing : `numpy.ndarray`, optional
        As for `project_truth`.

    Returns
    -------
    planes : dict
        ``name: (value, empty)`` for every property: ``value`` float64 ``(n, n)``
        in the property's registry unit (surface densities per kpc2), zero
        where ``empty`` (bool ``(n, n)``) marks an empty pixel.
    """
    pixel = 2.0 * half / n
    area = pixel**2
    stars, gas = particles.stars, particles.gas
    star_weights = np.stack([stars.mass_value, stars.mass_value * stars.metallicity,
                             stars.mass_value * stars.age_value], axis=1)
    gas_weights = np.stack([gas.mass_value, gas.mass_value * gas.metallicity, gas.sfr_value,
                            gas.hi_mass_value], axis=1)
    if star_smoothing is None:
        star_maps = _deposit_nearest(stars.position_value, star_weights, half, n)
        gas_maps = _deposit_nearest(gas.position_value, gas_weights, half, n)
    else:
        star_sigma = SPLINE_SIGMA_PER_SUPPORT * np.asarray(star_smoothing, dtype=np.float64)
        gas_sigma = SPLINE_SIGMA_PER_SUPPORT * gas.smoothing_length_value
        star_maps = _deposit_kernels(stars.position_value, star_weights, star_sigma, half, n)
        gas_maps = _deposit_kernels(gas.position_value, gas_weights, gas_sigma, half, n)
    stellar_mass, stellar_metals, mass_times_age = star_maps
    gas_mass, gas_metals, sfr, hi_mass = gas_maps
    # Less than a thousandth of the lightest particle (or of the weakest star-forming cell)
    # is no particle at all: the kernels' far tails and the FFT's round-off.
    star_floor = 1e-3 * _smallest_positive(stars.mass_value)
    gas_floor = 1e-3 * _smallest_positive(gas.mass_value)
    sfr_floor = 1e-3 * _smallest_positive(gas.sfr_value)
    hi_floor = 1e-3 * _smallest_positive(gas.hi_mass_value)
    with np.errstate(invalid="ignore", divide="ignore"):
        age = np.where(stellar_mass > 0, mass_times_age / stellar_mass, 0.0)
    raw = {
        "stellar_mass": (stellar_mass, stellar_mass <= star_floor),
        "stellar_metal_mass": (stellar_metals, stellar_mass <= star_floor),
        "stellar_age": (age, stellar_mass <= star_floor),
        "sfr": (sfr, sfr <= sfr_floor),
        "gas_mass": (gas_mass, gas_mass <= gas_floor),
        "gas_metal_mass": (gas_metals, gas_mass <= gas_floor),
        "hi_mass": (hi_mass, hi_mass <= hi_floor),
    }
    planes = {}
    for name, (value, empty) in raw.items():
        if PROPERTIES[name].is_extensive:
            value = value / area
        planes[name] = (np.where(empty, 0.0, value), empty)
    return planes


def _smallest_positive(values):
    positive = values[values > 0]
    return float(positive.min()) if positive.size else np.inf


def _deposit_nearest(position, weights, half, n):
    """Every particle whole into the pixel holding its centre: (n_weights, n, n)."""
    index, inside = pixel_index(position, half, n)
    planes = np.empty((weights.shape[1], n, n))
    for plane, column in zip(planes, weights.T):
        plane.reshape(-1)[...] = np.bincount(index, weights=column[inside], minlength=n * n)
    return planes


def _deposit_kernels(position, weights, sigma, half, n):
    """Every particle spread over its Gaussian kernel, mass conserving: (n_weights, n, n).

    Kernels narrower than a pixel (sigma below `NEAREST_BELOW` pixels) hold nearly all their
    mass in one pixel, and a sampled Gaussian that narrow rings (negative pixels) in Fourier
    space: those particles go whole into their pixel.
    """
    if len(position) == 0:
        return np.zeros((weights.shape[1], n, n))
    pixel = 2.0 * half / n
    compact = sigma < NEAREST_BELOW * pixel
    planes = (_deposit_nearest(position[compact], weights[compact], half, n) if compact.any()
              else np.zeros((weights.shape[1], n, n)))
    if not compact.all():
        wide = render_particles(position[~compact, :2], weights[~compact].astype(np.float64),
                                sigma[~compact], half, n, 0.0, coarse_sigma=TRUTH_COARSE_SIGMA)
        planes += np.maximum(wide, 0.0, out=wide)
    return planes
