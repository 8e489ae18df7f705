"""Shared fixtures for the picasso test suite."""

import astropy.units as u
import matplotlib
import numpy as np
import pytest
from astropy.wcs import WCS

matplotlib.use("Agg")

try:
    import torch

    # Two cores are shared by the test workers: one thread each.
    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass


def make_celestial_wcs(shape, pixel_scale=0.396 * u.arcsec, ra=150.0, dec=2.0):
    """A TAN WCS centred on (ra, dec) for an image of ``shape`` (ny, nx)."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    scale = pixel_scale.to_value(u.deg)
    wcs.wcs.cd = [[-scale, 0.0], [0.0, scale]]
    wcs.pixel_shape = (shape[1], shape[0])
    return wcs


def make_exponential_image(shape, total, r_scale, centre=None, ellipticity=0.0, theta=0.0):
    """An elliptical exponential profile whose pixel sum is ``total``."""
    ny, nx = shape
    y, x = np.mgrid[:ny, :nx].astype(float)
    cy, cx = centre if centre is not None else ((ny - 1) / 2, (nx - 1) / 2)
    dx, dy = x - cx, y - cy
    cos, sin = np.cos(theta), np.sin(theta)
    major = dx * cos + dy * sin
    minor = (-dx * sin + dy * cos) / (1 - ellipticity)
    image = np.exp(-np.hypot(major, minor) / r_scale)
    return image * (total / image.sum())


@pytest.fixture
def rng():
    """A seeded random generator."""
    return np.random.default_rng(20260101)


@pytest.fixture
def wcs64():
    """A 64 x 64 celestial WCS with SDSS pixels."""
    return make_celestial_wcs((64, 64))


@pytest.fixture
def galaxy_flux(rng):
    """Five-band exponential galaxy with noise, nanomaggies, 64 x 64."""
    colours = np.array([0.3, 1.0, 2.0, 2.6, 3.0])
    base = make_exponential_image((64, 64), 100.0, 4.0, ellipticity=0.3, theta=0.5)
    flux = colours[:, None, None] * base + rng.normal(0, 0.02, (5, 64, 64))
    return flux * u.nanomaggy
