"""
Dust: starlight attenuated by the gas in front of it, and by birth clouds around young stars.
"""

import functools
import logging

import astropy.units as u
import numpy as np

from ...particles import HYDROGEN_MASS_FRACTION
from ...properties import BANDS
from ...utils.optional_deps import require
from .truth import pixel_index

__all__ = ["attenuation"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# dust
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _extinction_ratios(bands, redshift):
    """A_band / A_V at the rest-frame effective wavelength of every band (G23, R_V = 3.1)."""
    require("dust_extinction", "dust attenuation in mock observations (dust=True)")
    from dust_extinction.parameter_averages import G23

    curve = G23(Rv=3.1)
    wavelength = u.Quantity([BANDS[b].effective_wavelength for b in bands]) / (1.0 + redshift)
    return np.asarray(curve(wavelength.to(u.micron)), dtype=float)


def attenuation(viewed, half_size, config, n_cells=64):
    """
    Dust transmission of every star particle in a view: a screen of the gas in front of it.

    The neutral hydrogen of the gas cells (scaled by their metallicity) is
    binned on an ``n_cells`` x ``n_cells`` grid over the field; in each cell
    the gas layer along the line of sight is described by its mass-weighted
    mean and spread, and a star sees the part of the layer in front of it.

    Parameters
    ----------
    viewed : `~picasso.particles.Particles`
        Rotated to the view (observer at +z).
    half_size : float
        Half the side of the field (kpc).
    config : `ObservingConfig`
    n_cells : int

    Returns
    -------
    transmission : ndarray (n_stars, n_bands)
        Fraction of each band's light that escapes.
    a_v : ndarray (n_stars,)
        V-band attenuation of every star (mag).
    """
    from scipy.special import erfc

    stars, gas = viewed.stars, viewed.gas
    n_stars = len(stars)
    ratios = _extinction_ratios(tuple(config.bands), float(config.redshift))
    a_v = np.zeros(n_stars)
    if len(gas):

        weight = (
            gas.mass_value
            * HYDROGEN_MASS_FRACTION
            * gas.neutral_fraction
            * gas.metallicity
            / 0.0142
        )
        g_index, g_in = pixel_index(gas.position_value, half_size, n_cells)
        w = weight[g_in]
        z = gas.position_value[g_in, 2]
        total = np.bincount(g_index, w, minlength=n_cells**2)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(g_index, w * z, minlength=n_cells**2) / total
            spread = np.sqrt(
                np.maximum(
                    np.bincount(g_index, w * z * z, minlength=n_cells**2) / total - mean**2, 0.0
                )
            )
        spread = np.maximum(np.nan_to_num(spread), 0.05)
        mean = np.nan_to_num(mean)
        cell_area_pc2 = (2.0 * half_size / n_cells * 1e3) ** 2
        s_index, s_in = pixel_index(stars.position_value, half_size, n_cells)
        z_star = stars.position_value[s_in, 2]
        front = 0.5 * erfc((z_star - mean[s_index]) / (np.sqrt(2.0) * spread[s_index]))
        a_v[s_in] = config.dust_per_hydrogen * total[s_index] * front / cell_area_pc2
    a_v = a_v + np.where(stars.age_value < 0.01, config.birth_cloud_av, 0.0)
    return 10.0 ** (-0.4 * a_v[:, None] * ratios[None, :]), a_v


