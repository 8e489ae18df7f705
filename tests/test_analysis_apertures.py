import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable
from astropy.tests.helper import assert_quantity_allclose
from helpers_analysis import R_HALF_PER_SCALE_LENGTH, disc_maps, enclosed_fraction
from numpy.testing import assert_allclose

from picasso import PropertyMaps
from picasso.analysis.apertures import (
    DEFAULT_ANNULUS_EDGES,
    annulus_edges,
    aperture_total,
    aperture_totals,
    gradient,
    radial_profile,
)
from picasso.analysis.geometry import GalaxyGeometry

SHAPE = (96, 96)
CENTER = (47.3, 48.1)
R_HALF = 8.0
PIXEL = 0.5 * u.kpc
TOTAL = 1e10


def true_geometry():
    """The geometry the disc was drawn with (so apertures are tested on their own)."""
    return GalaxyGeometry(CENTER[0], CENTER[1], 0.4, 30 * u.deg, R_HALF * u.pix,
                          R_HALF * u.pix * PIXEL / u.pix, "isophote", "given", SHAPE)


@pytest.fixture(scope="module")
def maps():
    return disc_maps(SHAPE, pixel_scale=PIXEL, total=TOTAL, age=7.0, center=CENTER,
                     r_half=R_HALF, ellipticity=0.4, pa_deg=30.0)


def test_edges_are_the_papers():
    assert_allclose(DEFAULT_ANNULUS_EDGES, np.arange(0, 5.01, 0.5))
    assert_allclose(annulus_edges(include_center=False), np.arange(0.5, 5.01, 0.5))
    with pytest.raises(ValueError):
        annulus_edges(2, 1)


def test_aperture_sum_of_uniform_map_is_exact():
    """Constant surface density: the sum is density x ellipse area, to round-off."""
    density = 3e7 * u.Msun / u.kpc**2
    maps = PropertyMaps({"stellar_mass": np.full((64, 64), density.value) * density.unit},
                        pixel_scale=PIXEL)
    geometry = GalaxyGeometry(31.2, 32.7, 0.35, 61 * u.deg, 7.3 * u.pix, None, "isophote",
                              "given", (64, 64))
    for k in (0.5, 1.0, 2.0, 3.0):
        a = k * 7.3
        expected = density * np.pi * a * a * 0.65 * PIXEL**2
        assert_quantity_allclose(aperture_total(maps, "stellar_mass", geometry, k=k), expected,
                                 rtol=1e-10)


# The pixelised disc loses a little mass across each ellipse's edge (its
# profile is curved within a pixel): ~1% inside 0.5 R_half = 4 px, less outside.
@pytest.mark.parametrize(("k", "rtol"), [(0.5, 0.015), (1.0, 5e-3), (2.0, 3e-3), (3.0, 3e-3)])
def test_aperture_sum_matches_analytic_enclosed_mass(maps, k, rtol):
    total = aperture_total(maps, "stellar_mass", true_geometry(), k=k)
    assert total.unit == u.Msun
    assert_allclose(total.value, TOTAL * enclosed_fraction(k), rtol=rtol)
    # Other extensive properties scale exactly with their factor.
    metals = aperture_total(maps, "stellar_metal_mass", true_geometry(), k=k)
    assert_allclose(metals.value, 0.02 * total.value, rtol=1e-10)
    sfr = aperture_total(maps, "sfr", true_geometry(), k=k)
    assert sfr.unit == u.Msun / u.yr


def test_half_mass_radius_holds_half(maps):
    total = maps.total("stellar_mass", geometry=true_geometry(), k=1.0)
    assert_allclose(total.to_value(u.Msun), 0.5 * TOTAL, rtol=5e-3)


def test_propertymaps_total_delegates_and_whole_map(maps):
    geometry = true_geometry()
    assert maps.total("gas_mass", geometry=geometry) == aperture_total(maps, "gas_mass", geometry)
    # Without geometry: the whole map, as before.
    assert_allclose(maps.total("stellar_mass").value, TOTAL, rtol=1e-3)


def test_stellar_age_is_mass_weighted_mean():
    base = disc_maps((48, 48), pixel_scale=PIXEL, age=1.0, center=(23.5, 23.5), r_half=5.0)
    age = np.where(np.arange(48)[None, :] < 24, 2.0, 10.0) * np.ones((48, 48)) * u.Gyr
    mass = base["stellar_mass"].copy()
    mass[:, 24:] *= 3.0  # the old half carries three times the mass
    maps = PropertyMaps({"stellar_mass": mass, "stellar_age": age}, pixel_scale=PIXEL)
    geometry = GalaxyGeometry(23.5, 23.5, 0.0, 0 * u.deg, 5 * u.pix, None, "isophote",
                              "given", (48, 48))
    mean = aperture_total(maps, "stellar_age", geometry, k=2)
    assert mean.unit == u.Gyr
    assert_allclose(mean.value, (2.0 * 1 + 10.0 * 3) / 4, rtol=1e-9)
    without_mass = PropertyMaps({"stellar_age": age}, pixel_scale=PIXEL)
    with pytest.raises(ValueError, match="weighted by stellar_mass"):
        aperture_total(without_mass, "stellar_age", geometry)


def test_masks_are_honoured(maps):
    geometry = true_geometry()
    left = np.zeros(SHAPE, bool)
    left[:, :48] = True
    masked = aperture_total(maps, "stellar_mass", geometry, mask=left)
    cut = maps["stellar_mass"].copy()
    cut[:, :48] = 0
    by_hand = aperture_total(PropertyMaps({"stellar_mass": cut}, pixel_scale=PIXEL),
                             "stellar_mass", geometry)
    assert_quantity_allclose(masked, by_hand, rtol=1e-12)
    assert masked < aperture_total(maps, "stellar_mass", geometry)
    # The counted area shrinks by the masked pixels only.
    table = aperture_totals(maps, geometry, properties=["stellar_mass"],
                            mask={"stellar_mass": left})
    full = aperture_totals(maps, geometry, properties=["stellar_mass"])
    assert table["stellar_mass_area"][0] < full["stellar_mass_area"][0]
    with pytest.raises(ValueError, match="shape"):
        aperture_total(maps, "stellar_mass", geometry, mask=np.zeros((4, 4), bool))
    with pytest.raises(TypeError, match="boolean"):
        aperture_total(maps, "stellar_mass", geometry, mask=np.zeros(SHAPE))


def test_prediction_summed_over_the_truths_pixels(maps):
    """A prediction with signal where the truth is empty gains nothing from those pixels."""
    geometry = true_geometry()
    hole = np.zeros(SHAPE, bool)
    hole[40:56, 40:56] = True
    gas = maps["gas_mass"].copy()
    gas[hole] = 0
    truth = PropertyMaps({"stellar_mass": maps["stellar_mass"], "gas_mass": gas},
                         pixel_scale=PIXEL, mask={"gas_mass": hole | maps.empty("gas_mass")})
    prediction = PropertyMaps({"stellar_mass": maps["stellar_mass"], "gas_mass": maps["gas_mass"]},
                              pixel_scale=PIXEL)
    own = aperture_total(prediction, "gas_mass", geometry)
    shared = aperture_total(prediction, "gas_mass", geometry, mask=truth)
    true_total = aperture_total(truth, "gas_mass", geometry)
    assert own > 1.1 * true_total
    assert_quantity_allclose(shared, true_total, rtol=1e-12)
    # The counted area is the truth's, for prediction and truth alike.
    areas = aperture_totals(prediction, geometry, mask=truth)["gas_mass_area"]
    assert_quantity_allclose(areas, aperture_totals(truth, geometry)["gas_mass_area"], rtol=1e-12)
    assert areas[0] < aperture_totals(prediction, geometry)["gas_mass_area"][0]


def test_totals_table_has_units(maps):
    table = aperture_totals(maps, true_geometry())
    assert isinstance(table, QTable) and len(table) == 1
    assert table["sma"].unit == u.pix and table["sma_kpc"].unit == u.kpc
    assert_quantity_allclose(table["sma_kpc"][0], 2 * R_HALF * PIXEL)
    for name in maps.properties:
        assert table[name].unit == maps.total(name).unit
        assert table[f"{name}_area"].unit == u.kpc**2


def test_radial_profile_of_an_exponential_disc(maps):
    geometry = true_geometry()
    profile = radial_profile(maps, geometry)
    assert len(profile) == 10
    assert_allclose(profile["r_inner"], DEFAULT_ANNULUS_EDGES[:-1])
    # Annulus totals follow the analytic enclosed-mass differences.
    expected = TOTAL * np.diff(enclosed_fraction(DEFAULT_ANNULUS_EDGES))
    assert_allclose(profile["stellar_mass"].to_value(u.Msun), expected, rtol=0.015)
    # The full annulus area is that of the ellipses.
    q = 0.6
    area = np.pi * q * np.diff((DEFAULT_ANNULUS_EDGES * R_HALF) ** 2) * PIXEL.value**2
    assert_allclose(profile["area"].to_value(u.kpc**2), area, rtol=1e-10)
    assert_allclose(profile["stellar_age_mean"].to_value(u.Gyr), 7.0, rtol=1e-12)
    # Profiles sum back to the total inside 5 R_half.
    assert_quantity_allclose(profile["gas_mass"].sum(),
                             aperture_total(maps, "gas_mass", geometry, k=5), rtol=1e-9)
    assert profile["radius_kpc"].unit == u.kpc


def test_gradient_of_an_exponential_disc(maps):
    geometry = true_geometry()
    fit = gradient(maps, geometry, "stellar_mass", radius_range=(1.0, 5.0))
    # log10 Sigma falls by log10(e) / h per unit radius; h = R_half / 1.678.
    per_r_half = -R_HALF_PER_SCALE_LENGTH * np.log10(np.e)
    assert fit.slope.unit == u.dex
    assert_allclose(fit.slope.value, per_r_half, rtol=0.02)
    assert fit.slope_error.value < 0.02
    assert_allclose(fit.slope_kpc.to_value(u.dex / u.kpc), fit.slope.value / (R_HALF * 0.5))
    assert fit.n_bins == 8
    # The same from a profile table.
    again = gradient(radial_profile(maps, geometry), name="stellar_mass", radius_range=(1.0, 5.0))
    assert again.slope == fit.slope
    flat = gradient(maps, geometry, "stellar_age")
    assert abs(flat.slope.value) < 1e-12


def test_gradient_with_too_few_bins_is_nan(maps):
    fit = gradient(maps, true_geometry(), "stellar_mass", edges=[0.0, 1.0, 2.0])
    assert fit.n_bins == 2 and np.isfinite(fit.slope.value) and np.isnan(fit.slope_error.value)
    with pytest.raises(ValueError, match="geometry"):
        gradient(maps, None, "stellar_mass")


def test_geometry_must_match_grid(maps):
    other = GalaxyGeometry(5, 5, 0, 0 * u.deg, 2 * u.pix, None, "moments", "given", (16, 16))
    with pytest.raises(ValueError, match="same grid"):
        aperture_total(maps, "stellar_mass", other)
    with pytest.raises(TypeError, match="GalaxyGeometry"):
        aperture_total(maps, "stellar_mass", {"r_half": 3})
