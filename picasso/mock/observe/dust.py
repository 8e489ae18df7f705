"""
Dust: starlight attenuated by the gas in front of it, and by birth clouds around young stars.
"""

import functools
import logging

import astropy.units as u
import numpy as np

from ...properties import BANDS
from ...utils.optional_deps import require
from .truth import pixel_index

__all__ = ["attenuation", "relative_dust_to_gas"]

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


def _front_columns(gas_position, weights, star_position, half_size, n_cells, smoothing):
    """
    Columns of the gas in front of every star, one per set of weights (per unit area, pc^-2).

    The weights, and their first and second moments in depth, are binned on
    an ``n_cells`` x ``n_cells`` grid over the field and smoothed by a
    Gaussian of ``smoothing`` kpc; in each cell the gas along the line of
    sight is then described by its weighted mean depth and spread, and a star
    sees the part of the layer in front of it (observer at +z).
    """
    from scipy.ndimage import gaussian_filter
    from scipy.special import erfc

    g_index, g_in = pixel_index(gas_position, half_size, n_cells)
    s_index, s_in = pixel_index(star_position, half_size, n_cells)
    z_gas = gas_position[g_in, 2]
    z_star = star_position[s_in, 2]
    cell = 2.0 * half_size / n_cells
    moments = np.stack(
        [
            np.bincount(g_index, weight[g_in] * z_gas**power, minlength=n_cells**2)
            for weight in weights
            for power in (0, 1, 2)
        ]
    ).reshape(len(weights), 3, n_cells, n_cells)
    if smoothing > 0:
        moments = gaussian_filter(
            moments, (0, 0, smoothing / cell, smoothing / cell), mode="constant", truncate=3.0
        )
    moments = moments.reshape(len(weights), 3, n_cells**2)[:, :, s_index]
    columns = []
    for total, first, second in moments:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nan_to_num(first / total)
            spread = np.sqrt(np.maximum(np.nan_to_num(second / total) - mean**2, 0.0))
        spread = np.maximum(spread, 0.05)
        front = 0.5 * erfc((z_star - mean) / (np.sqrt(2.0) * spread))
        column = np.zeros(star_position.shape[0])
        column[s_in] = np.maximum(total, 0.0) * front / (cell * 1e3) ** 2
        columns.append(column)
    return columns


def relative_dust_to_gas(gas, config):
    """
    Dust-to-gas ratio of every gas cell over that of the reference metallicity.

    Parameters
    ----------
    gas : `~picasso.particles.GasCells`
    config : `ObservingConfig`
        For ``dust_reference_metallicity``.

    Returns
    -------
    ratio : ndarray
        Metallicity over the reference one, times the cell's dust-to-metals
        ratio (`~picasso.particles.GasCells`).
    """
    return np.asarray(gas.metallicity) / config.dust_reference_metallicity * gas.dust_to_metals


def attenuation(viewed, half_size, config, n_cells=None, resolution=0.2):
    """
    Dust transmission of every star particle in a view, from the gas in front of it.

    The dust follows the neutral hydrogen of the gas cells, with a dust-to-gas
    ratio proportional to their metallicity and their dust-to-metals ratio
    (``config.dust_per_hydrogen`` mag of A_V per Msun/pc^2 at
    ``config.dust_reference_metallicity`` and a relative dust-to-metals ratio
    of one, `~picasso.particles.GasCells`):

    * atomic hydrogen is a smooth screen: a star is dimmed by
      ``10^(-0.4 A_V k_band)`` for the column in front of it (G23 extinction
      curve, k = A_band / A_V);
    * molecular hydrogen sits in clouds of surface density
      ``config.molecular_cloud_surface_density``, which cover only part of
      the disc: with ``n`` clouds in front of a star on average (its H2
      column over the clouds'), a Poisson number of them dims it by
      ``exp(-n (1 - 10^(-0.4 A_cloud k_band)))``, the "mega-grain" limit of
      a clumpy medium (Natta & Panagia 1984; Witt & Gordon 2000): opaque
      clouds hide light without reddening what escapes between them;
    * stars younger than 10 Myr are also inside their birth clouds
      (``config.birth_cloud_av``, Charlot & Fall 2000).

    Gas without a molecular fraction (e.g. simulation cells) is all atomic.
    The front columns come from a grid over the field, smoothed by a Gaussian
    of ``resolution`` kpc so that the columns do not depend on the grid (gas
    cells are points; a finer unsmoothed grid would leave holes between
    them): in each grid cell the gas along the line of sight is described by
    its mass-weighted mean depth and spread, and a star sees the part in
    front of it.

    Parameters
    ----------
    viewed : `~picasso.particles.Particles`
        Rotated to the view (observer at +z).
    half_size : float
        Half the side of the field (kpc).
    config : `ObservingConfig`
    n_cells : int, optional
        Grid cells per side (default: cells of ``resolution``, 64 to 512).
    resolution : float
        Smoothing of the gas columns (kpc; 0: none), about the thickness of
        a gas disc.

    Returns
    -------
    transmission : ndarray (n_stars, n_bands)
        Fraction of each band's light that escapes.
    a_v : ndarray (n_stars,)
        V-band attenuation of every star (mag).
    """
    stars, gas = viewed.stars, viewed.gas
    n_stars = len(stars)
    if n_cells is None:
        n_cells = int(np.clip(np.ceil(2.0 * half_size / resolution), 64, 512))
    ratios = _extinction_ratios(tuple(config.bands), float(config.redshift))
    optical_depth = np.zeros((n_stars, len(ratios)))
    a_v = np.zeros(n_stars)
    if len(gas):
        hydrogen = gas.neutral_hydrogen_mass_value
        molecular = hydrogen * gas.molecular_fraction
        dust = relative_dust_to_gas(gas, config)
        atomic_dust, cloud_gas, cloud_dust = _front_columns(
            gas.position_value,
            [(hydrogen - molecular) * dust, molecular, molecular * dust],
            stars.position_value,
            half_size,
            n_cells,
            resolution,
        )
        screen = config.dust_per_hydrogen * atomic_dust  # A_V of the atomic screen
        n_clouds = cloud_gas / config.molecular_cloud_surface_density
        with np.errstate(invalid="ignore", divide="ignore"):
            cloud_metallicity = np.where(cloud_gas > 0, cloud_dust / cloud_gas, 0.0)
        cloud_av = config.dust_per_hydrogen * config.molecular_cloud_surface_density * (
            cloud_metallicity
        )
        ln10 = np.log(10.0)
        optical_depth += 0.4 * ln10 * screen[:, None] * ratios[None, :]
        optical_depth += n_clouds[:, None] * (
            1.0 - 10.0 ** (-0.4 * cloud_av[:, None] * ratios[None, :])
        )
        a_v += screen + n_clouds * (1.0 - 10.0 ** (-0.4 * cloud_av)) / (0.4 * ln10)
    birth = np.where(stars.age_value < 0.01, config.birth_cloud_av, 0.0)
    optical_depth += 0.4 * np.log(10.0) * birth[:, None] * ratios[None, :]
    a_v = a_v + birth
    return np.exp(-optical_depth), a_v
