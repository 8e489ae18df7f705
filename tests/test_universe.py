"""The synthetic universe: seeding, scaling relations and internal structure."""

import astropy.units as u
import numpy as np
import pytest
from helpers_mock import small_universe
from numpy.testing import assert_allclose, assert_array_equal

from picasso.mock import relations
from picasso.mock import universe as uni
from picasso.mock.populations import stellar_fluxes


def test_same_seed_gives_identical_galaxies():
    a = small_universe(3).particles(5)
    b = small_universe(3).particles(5)
    assert_array_equal(a.stars.position_value, b.stars.position_value)
    assert_array_equal(a.stars.age_value, b.stars.age_value)
    assert_array_equal(a.gas.sfr_value, b.gas.sfr_value)
    c = small_universe(4).particles(5)
    assert not np.array_equal(a.stars.mass_value, c.stars.mass_value)


def test_galaxy_does_not_depend_on_draw_order():
    universe = small_universe(1)
    direct = universe.particles(7)
    for index in range(3):
        universe.particles(index)
    again = universe.particles(7)
    assert_array_equal(direct.stars.position_value, again.stars.position_value)


def test_stellar_mass_and_sfr_match_the_drawn_properties():
    universe = small_universe(2, companion_fraction=0.0)
    for index in range(4):
        props = universe.properties(index)
        galaxy = universe.particles(index)
        assert_allclose(
            galaxy.total_stellar_mass.to_value(u.Msun), 10**props.log_stellar_mass, rtol=1e-9
        )
        assert_allclose(galaxy.total_sfr.to_value(u.Msun / u.yr), 10**props.log_sfr, rtol=1e-9)
        # initial masses exceed current masses by the returned fraction
        assert np.all(galaxy.stars.initial_mass_value >= galaxy.stars.mass_value)


def test_published_relations_at_reference_points():
    # Speagle et al. (2014) eq. 28 at t = 13.09 Gyr, log M = 10
    t = 13.09
    assert_allclose(
        relations.speagle2014_main_sequence(10.0, t), (0.84 - 0.026 * t) * 10 - (6.51 - 0.11 * t)
    )
    # Shen et al. (2003): early type at 1e11 Msun is 2.88e-6 * 1e11^0.56 kpc
    radius, _ = relations.shen2003_size(11.0, True)
    assert_allclose(radius, 2.88e-6 * 1e11**0.56)
    late, _ = relations.shen2003_size(10.0, False)
    assert 2.0 < late < 3.5
    median, sigma = relations.gallazzi2005_metallicity(10.51)
    assert_allclose(median, -0.01)
    assert 0.2 < sigma < 0.4
    assert_allclose(relations.tremonti2004_oxygen_abundance(10.0), -1.492 + 18.47 - 8.026)
    fraction = relations.quenched_fraction(np.array([9.5, 10.5, 11.5]))
    assert np.all(np.diff(fraction) > 0) and fraction[0] < 0.3 < 0.8 < fraction[-1]
    # Blitz & Rosolowsky: R_mol rises with pressure
    ratios = relations.blitz_rosolowsky_molecular_ratio(np.array([5.0, 20.0, 80.0]), 100.0, 300.0)
    assert np.all(np.diff(ratios) > 0)
    # mass function decreasing above the knee
    phi = relations.baldry2012_mass_function(np.array([10.0, 11.0, 11.5]))
    assert np.all(np.diff(phi) < 0)
    assert_allclose(relations.mass_loss_fraction(10.0), 0.046 * np.log1p(10.0 / 2.76e-4))


def test_mass_function_option_draws_more_low_mass_galaxies():
    flat = [small_universe(0).properties(i).log_stellar_mass for i in range(150)]
    smf = [
        small_universe(0, mass_function="baldry2012").properties(i).log_stellar_mass
        for i in range(150)
    ]
    assert min(flat) >= 9.5 and max(flat) <= 12.0
    assert np.median(smf) < np.median(flat) - 0.3


def test_quiescent_population_and_main_sequence():
    universe = small_universe(5)
    props = [universe.properties(i) for i in range(300)]
    mass = np.array([p.log_stellar_mass for p in props])
    quenched = np.array([p.quenched for p in props])
    offset = np.array([p.log_sfr for p in props]) - relations.speagle2014_main_sequence(
        mass, universe.age_of_universe
    )
    assert quenched[mass > 11.2].mean() > quenched[mass < 10.0].mean()
    assert abs(np.median(offset[~quenched])) < 0.1
    assert np.median(offset[quenched]) < -1.0


def test_inside_out_ages_and_negative_metallicity_gradient():
    universe = small_universe(
        11,
        companion_fraction=0.0,
        n_star_particles=6000,
        min_star_particles=6000,
        max_star_particles=6000,
    )
    props = universe.properties(0)
    star_forming = uni.GalaxyProperties(
        **{
            **{k: getattr(props, k) for k in props.__dataclass_fields__},
            "quenched": False,
            "early_type": False,
            "log_stellar_mass": 10.3,
            "log_sfr": 0.1,
            "bulge_fraction": 0.05,
            "inside_out": 0.8,
            "stellar_metallicity_gradient": -0.15,
            "quench_lookback": 0.0,
            "companion": None,
            "halo_fraction": 0.0,
            "burst_fraction": 0.0,
        }
    )
    galaxy = universe.particles(0, properties=star_forming)
    stars = galaxy.stars
    radius = np.hypot(*stars.position_value[:, :2].T)
    old = stars.age_value > 8.0
    young = stars.age_value < 2.0
    assert np.median(radius[old]) < np.median(radius[young])
    inner = radius < np.median(radius)
    log_z = np.log10(stars.metallicity)
    assert np.mean(log_z[inner]) > np.mean(log_z[~inner])


def test_colour_does_not_determine_mass_to_light():
    """Integrated g - r predicts M/L_r only with scatter (age-metallicity degeneracy)."""
    universe = small_universe(21)
    colours, log_ml = [], []
    for index in range(40):
        galaxy = universe.particles(index)
        flux = stellar_fluxes(galaxy.stars).to_value(u.nanomaggy).sum(axis=0)
        colours.append(-2.5 * np.log10(flux[1] / flux[2]))
        log_ml.append(np.log10(galaxy.total_stellar_mass.value / flux[2]))
    colours, log_ml = np.array(colours), np.array(log_ml)
    slope, intercept = np.polyfit(colours, log_ml, 1)
    scatter = np.std(log_ml - (slope * colours + intercept))
    assert slope > 0.5
    assert 0.03 < scatter < 0.4
    # both a blue cloud and a red sequence
    assert colours.min() < 0.55 and colours.max() > 0.75


def test_view_directions_face_and_edge_on():
    directions, names = uni.view_directions(np.random.default_rng(0), 4)
    assert names[:2] == ["face-on", "edge-on"]
    assert_allclose(directions[0], [0, 0, 1])
    assert_allclose(directions[1][2], 0.0)
    assert_allclose(np.linalg.norm(directions, axis=1), 1.0)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(mass_function="schechter"), ValueError),
        (dict(companion_fraction=2.0), ValueError),
        (dict(mass_range=[1e12, 1e10] * u.Msun), ValueError),
        (dict(n_star_particles=10, min_star_particles=100), ValueError),
    ],
)
def test_bad_universe_arguments(kwargs, error):
    with pytest.raises(error):
        uni.Universe(0, **kwargs)


def test_bad_seed_and_index():
    with pytest.raises(TypeError):
        uni.Universe(-1)
    with pytest.raises(ValueError):
        small_universe(0).particles(-3)
