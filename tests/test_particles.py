"""Tests for picasso.particles."""

import astropy.units as u
import numpy as np
import pytest
from astropy.tests.helper import assert_quantity_allclose
from numpy.testing import assert_allclose
from scipy.spatial.transform import Rotation

from picasso.particles import HYDROGEN_MASS_FRACTION, GasCells, Particles, StarParticles


def make_stars(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return StarParticles(
        rng.normal(size=(n, 3)) * u.kpc,
        rng.uniform(1e5, 1e6, n) * u.Msun,
        rng.uniform(1e6, 2e6, n) * u.Msun,
        rng.uniform(0.01, 13.0, n) * u.Gyr,
        rng.uniform(0.001, 0.04, n),
    )


def make_gas(n=40, seed=1):
    rng = np.random.default_rng(seed)
    return GasCells(
        rng.normal(size=(n, 3)) * u.kpc,
        rng.uniform(1e5, 1e6, n) * u.Msun,
        rng.uniform(0.001, 0.04, n),
        rng.uniform(0, 1e-3, n) * u.Msun / u.yr,
        rng.uniform(0, 1, n),
        rng.uniform(0.1, 1, n) * u.kpc,
    )


def test_units_convert_at_the_edge():
    stars = StarParticles(
        [[1.0, 2.0, 3.0]] * u.pc,
        [2e30] * u.kg,
        [1e-6] * u.Msun * 1e9,
        [500.0] * u.Myr,
        [0.02] * u.dimensionless_unscaled,
    )
    assert_quantity_allclose(stars.position, [[1e-3, 2e-3, 3e-3]] * u.kpc)
    assert_quantity_allclose(stars.mass, (2e30 * u.kg).to(u.Msun) * [1.0])
    assert_quantity_allclose(stars.initial_mass, [1e3] * u.Msun)
    assert_quantity_allclose(stars.age, [0.5] * u.Gyr)
    assert stars.metallicity[0] == 0.02


def test_totals_and_hi_convention():
    gas = GasCells(
        [[0, 0, 0], [1, 0, 0]] * u.kpc,
        [1e6, 3e6] * u.Msun,
        [0.01, 0.02],
        [0.1, 0.0] * u.Msun / u.yr,
        [0.5, 1.0],
        [0.2, 0.2] * u.kpc,
        molecular_fraction=[0.0, 0.25],
    )
    galaxy = Particles(make_stars(), gas)
    expected_hi = 1e6 * HYDROGEN_MASS_FRACTION * 0.5 + 3e6 * HYDROGEN_MASS_FRACTION * 0.75
    assert_quantity_allclose(galaxy.total_hi_mass, expected_hi * u.Msun)
    assert_quantity_allclose(gas.h2_mass.sum(), 3e6 * 0.76 * 0.25 * u.Msun)
    assert_quantity_allclose(galaxy.total_gas_mass, 4e6 * u.Msun)
    assert_quantity_allclose(galaxy.total_gas_metal_mass, (1e4 + 6e4) * u.Msun)
    assert_quantity_allclose(galaxy.total_sfr, 0.1 * u.Msun / u.yr)
    stars = galaxy.stars
    assert_quantity_allclose(galaxy.total_stellar_mass, stars.mass.sum())
    assert_quantity_allclose(
        galaxy.total_stellar_metal_mass, (stars.mass * stars.metallicity).sum()
    )
    assert_quantity_allclose(
        galaxy.mass_weighted_age, (stars.mass * stars.age).sum() / stars.mass.sum()
    )


def test_dust_to_metals_defaults_to_one_and_travels_with_the_cells():
    gas = make_gas()
    assert np.all(gas.dust_to_metals == 1.0)
    poorer = GasCells.from_arrays(
        gas.position_value, gas.mass_value, gas.metallicity, gas.sfr_value,
        gas.neutral_fraction, gas.smoothing_length_value,
        dust_to_metals=np.linspace(0.0, 1.0, len(gas)),
    )
    rotated = Particles(make_stars(), poorer).rotated(Rotation.from_euler("z", 40, degrees=True))
    assert_allclose(rotated.gas.dust_to_metals, poorer.dust_to_metals)
    assert_allclose(poorer[1:].dust_to_metals, poorer.dust_to_metals[1:])


def test_rotation_preserves_radii_and_mass():
    galaxy = Particles(make_stars(), make_gas())
    rotation = Rotation.from_euler("zyx", [30, 50, 70], degrees=True)
    rotated = galaxy.rotated(rotation)
    assert_allclose(
        np.linalg.norm(rotated.stars.position_value, axis=1),
        np.linalg.norm(galaxy.stars.position_value, axis=1),
    )
    assert_allclose(
        rotated.stars.position_value, galaxy.stars.position_value @ rotation.as_matrix().T
    )
    assert_quantity_allclose(rotated.total_stellar_mass, galaxy.total_stellar_mass)
    # a matrix works as well as a Rotation
    again = galaxy.rotated(rotation.as_matrix())
    assert_allclose(again.gas.position_value, rotated.gas.position_value)


@pytest.mark.parametrize("direction", [[1, 0, 0], [0, 1, 0], [0, 0, -1], [1, 2, 3], [0, 0, 1]])
def test_viewed_from_puts_direction_on_z(direction):
    stars = StarParticles.from_arrays(
        np.array([direction], dtype=float) * 2.0, [1.0], [1.0], [1.0], [0.02]
    )
    viewed = Particles(stars).viewed_from(direction)
    norm = 2.0 * np.linalg.norm(direction)
    assert_allclose(viewed.stars.position_value[0], [0, 0, norm], atol=1e-12)
    assert viewed.meta["view_direction"] == [float(x) for x in direction]


def test_viewed_from_with_up_vector():
    stars = StarParticles.from_arrays(
        np.eye(3), np.ones(3), np.ones(3), np.ones(3), np.full(3, 0.02)
    )
    viewed = Particles(stars).viewed_from([1, 0, 0], up=[0, 0, 1])
    assert_allclose(viewed.stars.position_value[0], [0, 0, 1], atol=1e-12)  # x -> line of sight
    assert_allclose(viewed.stars.position_value[2], [0, 1, 0], atol=1e-12)  # z -> image up


def test_half_mass_radius_and_centre():
    positions = np.array([[1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 5.0], [4.0, 0, 0]])
    stars = StarParticles.from_arrays(
        positions, np.ones(4), np.ones(4), np.ones(4), np.full(4, 0.02)
    )
    galaxy = Particles(stars)
    assert_quantity_allclose(galaxy.stellar_centre_of_mass(), [2.5, 0, 1.25] * u.kpc)
    assert_quantity_allclose(galaxy.stellar_half_mass_radius(), 2.0 * u.kpc)
    centred = galaxy.centered()
    assert_allclose(centred.stars.position_value.mean(axis=0), 0.0, atol=1e-12)


def test_selection_and_concatenation():
    stars = make_stars(10)
    both = StarParticles.concatenate([stars, stars[:4]])
    assert len(both) == 14
    assert_allclose(both.mass_value[10:], stars.mass_value[:4])
    joined = Particles.concatenate([Particles(stars, make_gas(5)), Particles(None, make_gas(3))])
    assert (len(joined.stars), len(joined.gas)) == (10, 8)
    assert len(Particles().stars) == 0 and np.isnan(Particles().mass_weighted_age)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"position": np.zeros((3, 2)) * u.kpc}, "shape \\(n, 3\\)"),
        ({"mass": [1.0, -1.0, 1.0] * u.Msun}, "mass must be >= 0"),
        ({"age": [1.0, -0.1, 1.0] * u.Gyr}, "age must be >= 0"),
        ({"metallicity": [0.02, 1.5, 0.02]}, "metallicity must be <= 1"),
        ({"metallicity": [0.02, np.nan, 0.02]}, "NaN"),
        ({"initial_mass": [1.0, 1.0] * u.Msun}, "shape \\(3,\\)"),
    ],
)
def test_star_validation(change, message):
    fields = dict(
        position=np.zeros((3, 3)) * u.kpc,
        mass=np.ones(3) * u.Msun,
        initial_mass=np.ones(3) * u.Msun,
        age=np.ones(3) * u.Gyr,
        metallicity=np.full(3, 0.02),
    )
    fields.update(change)
    with pytest.raises(ValueError, match=message):
        StarParticles(**fields)


def test_units_required_and_checked():
    with pytest.raises(TypeError, match="Quantity"):
        StarParticles(np.zeros((1, 3)), [1] * u.Msun, [1] * u.Msun, [1] * u.Gyr, [0.02])
    with pytest.raises(u.UnitConversionError, match="age"):
        StarParticles(np.zeros((1, 3)) * u.kpc, [1] * u.Msun, [1] * u.Msun, [1] * u.kpc, [0.02])
    with pytest.raises(u.UnitConversionError, match="neutral_fraction"):
        GasCells(
            np.zeros((1, 3)) * u.kpc,
            [1] * u.Msun,
            [0.02],
            [0] * u.Msun / u.yr,
            [1] * u.kpc,
            [1] * u.kpc,
        )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"sfr": [-1.0] * u.Msun / u.yr}, "sfr must be >= 0"),
        ({"neutral_fraction": [1.2]}, "neutral_fraction must be <= 1"),
        ({"smoothing_length": [0.0] * u.kpc}, "smoothing_length must be positive"),
        ({"molecular_fraction": [-0.1]}, "molecular_fraction must be >= 0"),
        ({"dust_to_metals": [-0.5]}, "dust_to_metals must be >= 0"),
    ],
)
def test_gas_validation(change, message):
    fields = dict(
        position=np.zeros((1, 3)) * u.kpc,
        mass=[1.0] * u.Msun,
        metallicity=[0.02],
        sfr=[0.0] * u.Msun / u.yr,
        neutral_fraction=[0.5],
        smoothing_length=[1.0] * u.kpc,
    )
    fields.update(change)
    with pytest.raises(ValueError, match=message):
        GasCells(**fields)


def test_bad_rotation_rejected():
    galaxy = Particles(make_stars(3))
    with pytest.raises(ValueError, match="determinant"):
        galaxy.rotated(np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(ValueError, match="zero vector"):
        galaxy.viewed_from([0, 0, 0])
