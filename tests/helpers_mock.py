"""Small synthetic galaxies for the universe, observing and build tests."""

import astropy.units as u
import numpy as np

from picasso.mock.observe import ObservingConfig
from picasso.mock.universe import Universe


def small_universe(seed=0, **changes):
    """A universe with few particles, so that tests run in milliseconds."""
    values = dict(
        n_star_particles=1200, min_star_particles=800, max_star_particles=1600, max_gas_cells=600
    )
    values.update(changes)
    return Universe(seed, **values)


def small_config(**changes):
    """The paper's observing set-up on a 32 x 32 grid."""
    values = dict(image_size=32)
    values.update(changes)
    return ObservingConfig(**values)


def kpc(value):
    return u.Quantity(value, u.kpc)


def rng(seed=0):
    return np.random.default_rng(seed)
