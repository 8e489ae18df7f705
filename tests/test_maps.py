import astropy.units as u
import numpy as np
import pytest
from astropy.tests.helper import assert_quantity_allclose
from conftest import make_celestial_wcs, make_exponential_image
from numpy.testing import assert_allclose, assert_array_equal

from picasso import PROPERTIES, PropertyMaps
from picasso.properties import LOG10_EMPTY
from picasso.analysis import plot_maps
from picasso.radius import HalfRadius


def make_maps(shape=(32, 32), pixel_scale=0.5 * u.kpc, with_wcs=False):
    stellar = make_exponential_image(shape, 1e10, 3.0) / pixel_scale.value**2
    age = np.full(shape, 5.0)
    age[: shape[0] // 2] = 9.0
    maps = {}
    for name in PROPERTIES:
        prop = PROPERTIES[name]
        values = age if name == "stellar_age" else stellar * 10 ** (-PROPERTIES.index(name))
        maps[name] = values * prop.unit
    empty = np.zeros(shape, bool)
    empty[0, :] = True
    maps["sfr"][empty] = 0 * maps["sfr"].unit
    return PropertyMaps(
        maps, pixel_scale=pixel_scale, mask={"sfr": empty},
        wcs=make_celestial_wcs(shape) if with_wcs else None,
        r_half=HalfRadius(5.0 * u.kpc, "mass_projected"), meta={"view": 0},
    )


def test_mapping_interface_and_units():
    maps = make_maps()
    assert maps.properties == PROPERTIES.names
    assert list(maps) == list(PROPERTIES.names)
    assert maps["gas_mass"].unit == u.Msun / u.kpc**2
    with pytest.raises(KeyError, match="no map of 'hi'"):
        maps["hi"]


def test_total_of_known_analytic_map():
    shape, scale = (40, 40), 0.25 * u.kpc
    density = make_exponential_image(shape, 3e9, 4.0) / scale.value**2
    maps = PropertyMaps({"stellar_mass": density * u.Msun / u.kpc**2}, pixel_scale=scale)
    assert_quantity_allclose(maps.total("stellar_mass"), 3e9 * u.Msun, rtol=1e-12)
    uniform = PropertyMaps({"sfr": np.full(shape, 0.01) * u.Msun / u.yr / u.kpc**2},
                           pixel_scale=scale)
    assert_quantity_allclose(uniform.total("sfr"), 0.01 * 40 * 40 * 0.0625 * u.Msun / u.yr)
    half = np.zeros(shape, bool)
    half[:20] = True
    assert_quantity_allclose(uniform.total("sfr", mask=half), uniform.total("sfr") / 2)


def test_total_age_is_mass_weighted():
    stellar = np.ones((4, 4))
    stellar[:2] = 3.0
    age = np.ones((4, 4))
    age[:2] = 10.0
    maps = PropertyMaps(
        {"stellar_mass": stellar * u.Msun / u.kpc**2, "stellar_age": age * u.Gyr},
        pixel_scale=1 * u.kpc,
    )
    assert_quantity_allclose(maps.total("stellar_age"), (3 * 10 + 1) / 4 * u.Gyr)
    alone = PropertyMaps({"stellar_age": age * u.Gyr}, pixel_scale=1 * u.kpc)
    with pytest.raises(ValueError, match="weighted by stellar_mass"):
        alone.total("stellar_age")


def test_unit_conversion_on_input():
    maps = PropertyMaps({"stellar_mass": np.ones((4, 4)) * u.Msun / u.pc**2},
                        pixel_scale=1 * u.kpc)
    assert_quantity_allclose(maps["stellar_mass"], 1e6 * u.Msun / u.kpc**2)
    assert_quantity_allclose(maps.total("stellar_mass"), 16e6 * u.Msun)


@pytest.mark.parametrize(
    ("maps", "kwargs", "error", "match"),
    [
        ({"stellar_mass": np.ones((4, 4))}, {}, TypeError, "must be a Quantity"),
        ({"stellar_mass": np.ones((4, 4)) * u.Gyr}, {}, u.UnitConversionError, "does not convert"),
        ({"mass": np.ones((4, 4)) * u.Msun / u.kpc**2}, {}, ValueError, "unknown property"),
        ({"stellar_mass": np.ones(4) * u.Msun / u.kpc**2}, {}, ValueError, "must be 2-D"),
        ({"stellar_mass": -np.ones((4, 4)) * u.Msun / u.kpc**2}, {}, ValueError, "negative"),
        ({"stellar_mass": np.full((4, 4), np.nan) * u.Msun / u.kpc**2}, {}, ValueError, "NaN"),
        ({"stellar_mass": np.ones((4, 4)) * u.Msun / u.kpc**2,
          "gas_mass": np.ones((5, 5)) * u.Msun / u.kpc**2}, {}, ValueError, "share one grid"),
        ({"stellar_mass": np.ones((4, 4)) * u.Msun / u.kpc**2},
         {"pixel_scale": 0.4 * u.arcsec}, u.UnitTypeError, "physical length"),
        ({"stellar_mass": np.ones((4, 4)) * u.Msun / u.kpc**2},
         {"mask": {"gas_mass": np.zeros((4, 4), bool)}}, ValueError, "not among the maps"),
        ({"stellar_mass": np.ones((4, 4)) * u.Msun / u.kpc**2},
         {"uncertainty": {"stellar_mass": np.ones((3, 3))}}, ValueError, "uncertainty of"),
    ],
)
def test_bad_maps_are_named(maps, kwargs, error, match):
    with pytest.raises(error, match=match):
        PropertyMaps(maps, **kwargs)


def test_total_needs_pixel_scale():
    maps = PropertyMaps({"gas_mass": np.ones((4, 4)) * u.Msun / u.kpc**2})
    with pytest.raises(ValueError, match="no physical pixel scale"):
        maps.total("gas_mass")


def test_log10_round_trip_keeps_empty_pixels():
    maps = make_maps()
    log10 = maps.to_log10()
    assert log10.dtype == np.float32 and log10.shape == (7, 32, 32)
    assert np.all(log10[PROPERTIES.index("sfr"), 0] == LOG10_EMPTY)
    back = PropertyMaps.from_log10(log10, pixel_scale=maps.pixel_scale)
    assert_array_equal(back.empty("sfr"), maps.empty("sfr"))
    assert_allclose(back["gas_mass"].value, maps["gas_mass"].value, rtol=1e-6)
    assert_quantity_allclose(back.total("sfr"), maps.total("sfr"), rtol=1e-5)
    with pytest.raises(ValueError, match=r"shaped \(2, ny, nx\)"):
        PropertyMaps.from_log10(log10, ["gas_mass", "sfr"])


def test_fits_round_trip(tmp_path):
    maps = make_maps(with_wcs=True)
    sigma = {"stellar_mass": np.full(maps.shape, 0.05)}
    maps = PropertyMaps(dict(maps), wcs=maps.wcs, pixel_scale=maps.pixel_scale,
                        mask=maps.mask, uncertainty=sigma, meta=maps.meta,
                        r_half=HalfRadius(3.2 * u.kpc, "mass_projected"))
    path = tmp_path / "maps.fits"
    maps.write(path)
    back = PropertyMaps.read(path)
    assert back.properties == maps.properties
    for name in maps:
        assert_array_equal(back[name], maps[name])
        assert back[name].unit == PROPERTIES[name].unit
    assert_array_equal(back.mask["sfr"], maps.mask["sfr"])
    assert_array_equal(back.uncertainty["stellar_mass"], sigma["stellar_mass"])
    assert back.pixel_scale == maps.pixel_scale
    assert back.meta == maps.meta
    assert back.r_half == maps.r_half
    assert_array_equal(back.wcs.wcs.crval, maps.wcs.wcs.crval)
    for name in maps:
        assert_quantity_allclose(back.total(name), maps.total(name))


def test_select_and_plot():
    maps = make_maps()
    chosen = maps.select(["gas_mass", "sfr"])
    assert chosen.properties == ("sfr", "gas_mass")
    assert_array_equal(chosen.mask["sfr"], maps.mask["sfr"])
    fig = plot_maps(chosen)
    assert len(fig.axes) == 4  # two panels, two colour bars
