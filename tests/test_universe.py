"""The synthetic universe: seeding, scaling relations and internal structure."""

import astropy.units as u
import numpy as np
import pytest
from helpers_mock import small_universe
from numpy.testing import assert_allclose, assert_array_equal

from picasso.mock import realise, relations
from picasso.mock import universe as uni
from picasso.mock.populations import stellar_fluxes
from picasso.particles import weighted_half_radius


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


def test_young_stars_add_up_to_the_sfr_the_gas_carries():
    # Only the disc forms stars now (bulge, bar and halo stopped long ago), so its history
    # carries the whole galaxy's SFR; otherwise the light of the young stars of a galaxy
    # with a bulge says less than its SFR map (0.6-0.7 of it with a third in the bulge).
    universe = small_universe(
        5, n_star_particles=30000, min_star_particles=30000, max_star_particles=30000,
        companion_fraction=0.0,
    )
    with_bulge = [index for index in range(300)
                  if not universe.properties(index).quenched
                  and universe.properties(index).bulge_fraction > 0.3][:6]
    assert len(with_bulge) == 6
    formed = drawn = 0.0
    for index in with_bulge:
        galaxy = universe.particles(index)
        young = galaxy.stars.age_value <= 0.1
        formed += galaxy.stars.initial_mass_value[young].sum() / 1e8
        drawn += galaxy.total_sfr.to_value(u.Msun / u.yr)
    assert formed / drawn == pytest.approx(1.0, abs=0.12)


def test_metallicity_aperture_holds_the_drawn_metallicity_inside_it():
    # Gallazzi et al. (2005) measured metallicities in SDSS fibres: by default the stars inside
    # one carry the drawn value, and nothing else about the galaxy changes from the universe
    # whose drawn value is at the half-mass radius.
    aperture = uni.SDSS_FIBRE_RADIUS
    assert aperture.to_value(u.kpc) == pytest.approx(2.86, abs=0.01)
    default, anchored = small_universe(7, metallicity_aperture=None), small_universe(7)
    assert anchored.parameters()["metallicity_aperture"] == pytest.approx(2.86, abs=0.01)
    assert default.parameters()["metallicity_aperture"] is None
    shifts = []
    for index in range(4):
        props = default.properties(index)
        before, after = default.particles(index).stars, anchored.particles(index).stars
        assert_array_equal(after.position_value, before.position_value)
        assert_array_equal(after.age_value, before.age_value)
        main = slice(0, default.particles(index).meta["n_main_stars"])
        inside = np.linalg.norm(after.position_value[main], axis=1) < aperture.to_value(u.kpc)
        mean = np.average(after.metallicity[main][inside], weights=after.mass_value[main][inside])
        assert np.log10(mean / relations.SOLAR_METALLICITY_BC03) == pytest.approx(
            props.log_stellar_metallicity, abs=1e-3)
        # one shift per galaxy, the same for all its stars away from the clamped ends
        low, high = realise.LOG_METALLICITY_RANGE
        free = [np.log10(z / relations.SOLAR_METALLICITY_BC03) for z in
                (before.metallicity[main], after.metallicity[main])]
        free = (free[0] > low + 0.5) & (free[0] < high - 0.5)
        shift = np.log10(after.metallicity[main][free] / before.metallicity[main][free])
        assert np.ptp(shift) < 1e-9
        shifts.append(shift[0])
    assert max(np.abs(shifts)) > 0.01
    with pytest.raises(ValueError, match="metallicity_aperture must be a positive length"):
        small_universe(7, metallicity_aperture=-1 * u.kpc)


def test_published_relations_at_reference_points():
    # Speagle et al. (2014) eq. 28 at t = 13.09 Gyr, log M = 10
    t = 13.09
    assert_allclose(
        relations.speagle2014_main_sequence(10.0, t), (0.84 - 0.026 * t) * 10 - (6.51 - 0.11 * t)
    )
    # Renzini & Peng (2015) below 10^9.87 Msun at z ~ 0.05, Speagle et al. above
    assert_allclose(relations.renzini_peng2015_main_sequence(9.0), 0.76 * 9 - 7.64)
    low, high = relations.bending_main_sequence(np.array([9.0, 10.5]), 13.1)
    assert_allclose(low, 0.76 * 9 - 7.64)
    assert_allclose(high, relations.speagle2014_main_sequence(10.5, 13.1))
    # at another epoch the low-mass deficit under Speagle et al.'s relation is kept
    assert_allclose(
        relations.bending_main_sequence(9.0, 10.0) - relations.speagle2014_main_sequence(9.0, 10.0),
        low - relations.speagle2014_main_sequence(9.0, 13.1),
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
    # the relations are read at the mass observers assign, the SFR scaled to the true mass
    observed = mass - universe.mass_scale_offset
    offset = (
        np.array([p.log_sfr for p in props])
        - relations.bending_main_sequence(observed, universe.age_of_universe)
        - universe.mass_scale_offset
    )
    assert quenched[mass > 11.2].mean() > quenched[mass < 10.0].mean()
    assert abs(np.median(offset[~quenched])) < 0.1
    # below 10^9.6 Msun star-forming galaxies follow the steeper SDSS ridge line, not Speagle's
    low = (observed < 9.6) & ~quenched
    speagle = relations.speagle2014_main_sequence(observed, universe.age_of_universe)
    assert np.median(offset[low] + (relations.bending_main_sequence(
        observed, universe.age_of_universe) - speagle)[low]) < -0.1
    assert np.median(offset[quenched]) < -1.0


def test_star_forming_discs_are_as_thick_as_real_ones():
    """h_R / h_z of star-forming discs as in edge-on late types: 7.3 +- 2.2 (Kregel et al. 2002)."""
    universe = small_universe(5)
    props = [universe.properties(i) for i in range(400)]
    late = [p for p in props if not p.quenched and not p.early_type]
    # the disc's sech^2 height z0 is twice the exponential scale height h_z
    ratio = np.array([2.0 * p.disc_scale_length / p.disc_scale_height for p in late])
    assert len(late) > 100
    assert abs(np.mean(ratio) - 7.3) < 0.5
    assert 1.5 < np.std(ratio) < 2.6
    assert ratio.min() > 4.0 - 1e-9 and ratio.max() < 12.0 + 1e-9  # the clipped range


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
        (dict(mass_scale_offset=np.nan), ValueError),
        (dict(mass_scale_offset=-0.5), ValueError),
        (dict(quenched_mass_scale_offset=np.nan), ValueError),
        (dict(quenched_mass_scale_offset=1.5), ValueError),
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


def test_quenched_galaxies_have_no_starburst_after_their_quench():
    universe = small_universe(3, mass_range=[10**10.5, 10**11.5] * u.Msun, companion_fraction=0.0)
    after = []
    for index in range(40):
        props = universe.properties(index)
        if not props.quenched:
            continue
        if props.burst_fraction > 0:
            assert props.burst_lookback >= props.quench_lookback
        stars = universe.particles(index, properties=props).stars
        young = stars.age_value < props.quench_lookback
        after.append(stars.initial_mass_value[young].sum() / stars.initial_mass_value.sum())
    # only the slow decline that keeps the drawn (low) SFR forms stars after the quench
    assert len(after) > 10
    assert np.median(after) < 0.03 and max(after) < 0.15


def test_passive_galaxies_are_metal_rich_and_the_population_keeps_gallazzi():
    log_mass = np.array([9.5, 10.3, 10.8, 11.2])
    quenched = relations.passive_metallicity_offset(log_mass, True)
    star_forming = relations.passive_metallicity_offset(log_mass, False)
    # passive minus star-forming: ~0.23 dex at 10^10.3 (Vaughan et al. 2022), none above 10^11
    assert_allclose(quenched - star_forming, [0.3, 0.21, 0.06, 0.0], atol=1e-9)
    fraction = relations.quenched_fraction(log_mass)
    assert_allclose(fraction * quenched + (1 - fraction) * star_forming, 0.0, atol=1e-12)


def _quenched_galaxies_on_the_red_sequence(universe, n_galaxies):
    """
    Yield every quenched galaxy of the first ``n_galaxies``: its properties, its stars, the
    rest-frame u light of each star and its rest-frame u - r (SDSS u = AB u + 0.04) minus the
    red sequence of Baldry et al. (2004) at its M_r. The colour is an SDSS model colour, as
    theirs: the stars' light seen face-on, with a PSF of 1.4 kpc FWHM (1.4 arcsec at
    z = 0.05) and photon-noise weights; it is redder than the summed light's by 0.04-0.05 mag
    in these galaxies, whose middles are old and metal-rich.
    """
    from picasso.analysis.photometry import model_photometry
    from picasso.mock.observe.render import render_particles
    from picasso.mock.populations import SSPTable

    table = SSPTable.load()
    psf_sigma, n_pixels = 0.6, 96
    for index in range(n_galaxies):
        props = universe.properties(index)
        if not props.quenched:
            continue
        stars = universe.particles(index, properties=props).stars
        magnitude = table.absolute_magnitude(
            stars.age_value * u.Gyr, stars.metallicity, bands=("u", "r")
        ).value
        light = 10 ** (-0.4 * magnitude) * stars.initial_mass_value[:, None]
        r_mag = -2.5 * np.log10(light[:, 1].sum())
        xy = stars.position_value[:, :2]
        grid_half = 6 * weighted_half_radius(np.hypot(*xy.T), light[:, 1])
        image = np.clip(render_particles(xy, light, np.zeros(len(xy)), grid_half, n_pixels,
                                         psf_sigma), 0.0, None)
        fit = model_photometry(image, psf_sigma * n_pixels / (2 * grid_half),
                               variance=image + 1e-3 * image[1].max(), reference=1)
        u_model, r_model = -2.5 * np.log10(fit.fluxes)
        mean, _ = relations.baldry2004_colour_magnitude(r_mag, "red")
        yield props, stars, light[:, 0], u_model + 0.04 - r_model - mean


def test_red_sequence_sits_on_the_sdss_one():
    """Quenched galaxies have the rest-frame u - r of Baldry et al. (2004) at their M_r."""
    universe = small_universe(5, mass_range=[10**10.8, 10**11.4] * u.Msun, companion_fraction=0.0)
    offsets, young_u = [], []
    for props, stars, u_light, offset in _quenched_galaxies_on_the_red_sequence(universe, 40):
        offsets.append(offset)
        if props.quench_lookback > 1.0:
            young_u.append(u_light[stars.age_value < 1.0].sum() / u_light.sum())
    assert len(offsets) > 15
    assert abs(np.median(offsets)) < 0.08
    # Galaxies quenched over 1 Gyr ago get light from stars younger than that only through
    # their drawn (low) SFR: a fifth of their u light in few of them (15-18% with the bursts
    # after quenching that used to happen).
    assert len(young_u) > 10
    assert np.mean(np.array(young_u) > 0.2) < 0.1


def test_red_sequence_is_as_narrow_as_the_sdss_one():
    """Quenched galaxies of one mass spread in u - r at fixed M_r as little as SDSS ones."""
    universe = small_universe(7, mass_range=[10**10.2, 10**10.6] * u.Msun, companion_fraction=0.0)
    offsets = [offset for *_, offset in _quenched_galaxies_on_the_red_sequence(universe, 90)]
    assert len(offsets) > 20
    low, high = np.percentile(offsets, [16, 84])
    # Baldry et al. (2004): 0.13-0.16 mag at these M_r (-20 to -21), measurement errors included.
    # Here 0.23 in model colours (0.21 in the summed light; 0.32 there with the whole 16-84%
    # range of Gallazzi et al. (2005) as the scatter of metallicity).
    assert 0.5 * (high - low) < 0.26


def test_gas_discs_molecular_on_the_stars_atomic_saturated_and_extended():
    universe = small_universe(
        11, companion_fraction=0.0, mass_range=[10**10.0, 10**10.5] * u.Msun, max_gas_cells=3000
    )
    props = next(p for p in map(universe.properties, range(20)) if not p.quenched)
    galaxy = universe.particles(0, properties=props)
    gas, stars = galaxy.gas, galaxy.stars
    radius = np.hypot(*gas.position_value[:, :2].T)
    hi, h2 = gas.hi_mass.value, gas.h2_mass.value
    r_stars = weighted_half_radius(np.hypot(*stars.position_value[:, :2].T), stars.mass_value)
    r_hi, r_h2 = weighted_half_radius(radius, hi), weighted_half_radius(radius, h2)
    assert 0.6 < r_h2 / r_stars < 1.8
    assert r_hi > 3 * r_stars
    edges = np.linspace(0.0, 2 * r_hi, 20)
    sigma_hi = np.histogram(radius, edges, weights=hi)[0] / (np.pi * np.diff(edges**2) * 1e6)
    # saturated, up to the cells that clumps and arms move between annuli (10-25%)
    assert sigma_hi.max() < 1.25 * relations.HI_SATURATION_SURFACE_DENSITY
    assert_allclose(np.log10(hi.sum() + h2.sum()),
                    np.log10(0.925 * (10**props.log_hi_mass + 10**props.log_h2_mass)), atol=0.05)
    # the profile reaches 1 Msun / pc^2 at the radius of Wang et al. (2016)
    sigma0, scale = relations.hi_surface_density_profile(9.5)
    radius_1 = relations.wang2016_hi_radius(9.5)
    assert_allclose(min(sigma0 * np.exp(-radius_1 / scale), 6.62), 1.0, rtol=0.01)


def test_published_colour_relations():
    # Baldry et al. (2004): the divider lies between the sequences
    abs_mag = np.array([-18.0, -20.0, -22.0])
    red, _ = relations.baldry2004_colour_magnitude(abs_mag, "red")
    blue, _ = relations.baldry2004_colour_magnitude(abs_mag, "blue")
    assert np.all((blue < relations.baldry2004_divider(abs_mag)) & (
        relations.baldry2004_divider(abs_mag) < red))
    assert_allclose(relations.baldry2004_divider(-20.07), 2.06)
    # placed at a mass with the Baldry et al. (2006) M/L, self-consistently
    abs_mag, colour, _ = relations.baldry_sequence_at_mass(np.array([10.0, 11.0]), "red")
    log_mass = (4.62 - abs_mag) / 2.5 + relations.baldry2006_mass_to_light(colour)
    assert_allclose(log_mass, [10.0, 11.0], atol=1e-6)
    gr_red, _ = relations.smith2017_colour_magnitude(-21.0, "red")
    gr_blue, _ = relations.smith2017_colour_magnitude(-21.0, "blue")
    assert_allclose(gr_red, 0.964)
    assert gr_blue < gr_red
    with pytest.raises(ValueError):
        relations.baldry2004_colour_magnitude(-20.0, "green")


def test_relations_are_read_at_the_mass_observers_assign():
    """A galaxy is the observed galaxy of 10^-0.25 its mass, with its stars and SFR scaled up."""
    offset = uni.MASS_SCALE_OFFSET
    scaled = uni.Universe(seed=4, mass_range=10 ** np.array([10.0, 11.0]) * u.Msun)
    plain = uni.Universe(seed=4, mass_range=10 ** (np.array([10.0, 11.0]) - offset) * u.Msun,
                         mass_scale_offset=0.0,
                         quenched_mass_scale_offset=uni.QUENCHED_MASS_SCALE_OFFSET - offset)
    for index in range(6):
        a, b = scaled.properties(index), plain.properties(index)
        assert_allclose(a.log_stellar_mass - b.log_stellar_mass, offset, atol=1e-9)
        assert_allclose([a.log_sfr - b.log_sfr, a.log_h2_mass - b.log_h2_mass], offset, atol=1e-9)
        assert a.quenched == b.quenched and a.early_type == b.early_type
        for name in ("half_mass_radius", "log_stellar_metallicity", "log_hi_mass", "sfh_start"):
            assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9)
    # the mass function is on the observers' scale too
    draws = uni.Universe(seed=1, mass_function="baldry2012")
    masses = np.array([draws.properties(i).log_stellar_mass for i in range(300)])
    grid = np.linspace(9.5, 12.0, 200)
    cdf = np.cumsum(relations.baldry2012_mass_function(grid - offset))
    assert_allclose(np.median(masses), np.interp(0.5, cdf / cdf[-1], grid), atol=0.08)


def test_quenched_fraction_is_read_at_the_mass_observers_assign_quenched_galaxies():
    """The red fraction at M* / 10^0.15, not at the other relations' M* / 10^0.25."""
    log_mass = 10.65
    universe = uni.Universe(seed=2, mass_range=10 ** np.array([log_mass - 0.02, log_mass + 0.02])
                            * u.Msun, companion_fraction=0.0)
    n_galaxies = 2000
    quenched = np.mean([universe.properties(i).quenched for i in range(n_galaxies)])
    expected = relations.quenched_fraction(log_mass - uni.QUENCHED_MASS_SCALE_OFFSET)
    other = relations.quenched_fraction(log_mass - uni.MASS_SCALE_OFFSET)
    sigma = np.sqrt(expected * (1 - expected) / n_galaxies)
    assert abs(quenched - expected) < 3 * sigma, (quenched, expected)
    assert abs(quenched - other) > 3 * sigma, (quenched, other)
    assert universe.parameters()["quenched_mass_scale_offset"] == uni.QUENCHED_MASS_SCALE_OFFSET


def test_mass_scale_offset_is_the_universe_m_to_l_over_taylor_et_al():
    """Taylor et al. (2011)'s colour M/L (the mass function's scale) reads the observed mass."""
    from picasso.analysis.baselines import COLOUR_RELATIONS
    from picasso.mock.populations import SSPTable
    from picasso.properties import SOLAR_ABSOLUTE_MAGNITUDES

    relation = COLOUR_RELATIONS["taylor11_gi_i"]
    table = SSPTable.load()
    universe = small_universe(8, mass_range=[10**10.0, 10**11.0] * u.Msun, companion_fraction=0.0)
    read = []
    for index in range(16):
        props = universe.properties(index)
        stars = universe.particles(index, properties=props).stars
        magnitude = table.absolute_magnitude(
            stars.age_value * u.Gyr, stars.metallicity, bands=("g", "i")
        ).value
        g, i = -2.5 * np.log10((10 ** (-0.4 * magnitude) * stars.initial_mass_value[:, None])
                               .sum(axis=0))
        log_mass = relation.log_mass_to_light(g - i) + 0.4 * (SOLAR_ABSOLUTE_MAGNITUDES["i"] - i)
        read.append(log_mass - props.log_stellar_mass)
    # dust-free light; the offset was measured with dust (0.24-0.28 dex)
    assert abs(np.median(read) + uni.MASS_SCALE_OFFSET) < 0.05, np.median(read)


def test_hi_discs_flare_no_further_than_the_milky_way_s():
    # compact galaxies with extended HI discs: before the flare was bounded, the outermost
    # cells of about one galaxy in ten were thrown tens of kpc to 10^25 kpc off the plane
    universe = small_universe(5, companion_fraction=0.0, max_gas_cells=3000)
    extreme = []
    for index in range(200):
        props = universe.properties(index)
        edge = 2.0 * float(relations.wang2016_hi_radius(props.log_hi_mass))
        if (edge - 3.0 * props.disc_scale_length) / (3.5 * props.disc_scale_length) > 8:
            extreme.append(index)
        if len(extreme) == 2:
            break
    assert len(extreme) == 2
    for index in extreme:
        gas = universe.particles(index).gas
        cold = gas.neutral_fraction > 0.5
        # the thickest layer: sech^2 scale 0.12 x 1.4 kpc times the largest flare; its cells
        # lie within ~5 scales of the plane (a few thousand draws of a sech^2 distribution)
        assert realise.HI_FLARE_EFOLDS == pytest.approx((35 - 8.5) / 9.8, abs=0.05)
        limit = 6 * 0.12 * 1.4 * np.exp(2.7)  # 15 kpc
        assert np.abs(gas.position_value[cold, 2]).max() < limit


def test_quenched_galaxies_are_as_poor_in_hi_as_early_types():
    """ATLAS3D detects HI in about a third of early types; GASS finds red galaxies HI-poor."""
    universe = uni.Universe(0, mass_range=[1e10, 10**11.5] * u.Msun)
    quenched, star_forming = [], []
    for index in range(300):
        props = universe.properties(index)
        fraction = props.log_hi_mass - props.log_stellar_mass
        (quenched if props.quenched else star_forming).append(fraction)
    assert 0.2 < np.mean(np.array(quenched) > -3.5) < 0.45
    assert np.median(star_forming) - np.median(quenched) > 2.0


def test_a_tidal_stretch_moves_cells_and_keeps_what_they_hold():
    universe = small_universe(2, mass_range=[1e10, 10**10.5] * u.Msun, companion_fraction=0.0)
    galaxy = universe.particles(0)
    gas = galaxy.gas
    poorer = gas._replace(dust_to_metals=np.linspace(0.0, 1.0, len(gas)))
    stars, stretched = realise.tidal_stretch(
        galaxy.stars, poorer, np.array([10.0, 0.0, 0.0]), np.random.default_rng(1), 5.0
    )
    assert not np.allclose(stretched.position_value, gas.position_value)
    for name in ("mass_value", "metallicity", "neutral_fraction", "molecular_fraction",
                 "dust_to_metals"):
        assert_array_equal(getattr(stretched, name), getattr(poorer, name))
    assert_array_equal(stars.mass_value, galaxy.stars.mass_value)
