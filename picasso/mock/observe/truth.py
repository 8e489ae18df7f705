"""
Truth maps: particles deposited into pixels with every total conserved exactly.
"""

import logging

import astropy.units as u
import numpy as np

from ...maps import PropertyMaps
from ...properties import PROPERTIES

__all__ = ["project_truth", "pixel_index"]

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


def project_truth(particles, half_size, image_size, properties=None, r_half=None, meta=None):
    """
    Project particles onto an ``N x N`` grid: the seven truth maps.

    Each particle goes whole into the pixel holding its centre (x, y after
    projection along z), so sums over the grid equal the particle totals
    inside the field exactly and pixels without particles stay empty.

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
    pixel = 2.0 * half / n
    area = pixel**2
    npix = n * n
    stars, gas = particles.stars, particles.gas
    s_index, s_in = pixel_index(stars.position_value, half, n)
    g_index, g_in = pixel_index(gas.position_value, half, n)

    def deposit(index, weights):
        return np.bincount(index, weights=weights, minlength=npix).reshape(n, n)

    s_mass = stars.mass_value[s_in]
    g_mass = gas.mass_value[g_in]
    star_count = np.bincount(s_index, minlength=npix).reshape(n, n)
    gas_count = np.bincount(g_index, minlength=npix).reshape(n, n)
    maps, masks = {}, {}
    stellar_mass = deposit(s_index, s_mass)
    for name in names:
        if name == "stellar_mass":
            value, empty = stellar_mass / area, star_count == 0
        elif name == "stellar_metal_mass":
            value = deposit(s_index, s_mass * stars.metallicity[s_in]) / area
            empty = star_count == 0
        elif name == "stellar_age":
            weighted = deposit(s_index, s_mass * stars.age_value[s_in])
            with np.errstate(invalid="ignore", divide="ignore"):
                value = np.where(stellar_mass > 0, weighted / stellar_mass, 0.0)
            empty = stellar_mass <= 0
        elif name == "sfr":
            value = deposit(g_index, gas.sfr_value[g_in]) / area
            empty = value <= 0
        elif name == "gas_mass":
            value, empty = deposit(g_index, g_mass) / area, gas_count == 0
        elif name == "gas_metal_mass":
            value = deposit(g_index, g_mass * gas.metallicity[g_in]) / area
            empty = gas_count == 0
        elif name == "hi_mass":
            value = deposit(g_index, gas.hi_mass_value[g_in]) / area
            empty = value <= 0
        maps[name] = value * PROPERTIES[name].unit
        masks[name] = empty
    return PropertyMaps(maps, pixel_scale=pixel * u.kpc, mask=masks, r_half=r_half, meta=meta)


