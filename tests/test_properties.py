import astropy.units as u
import numpy as np
import pytest

from picasso import BANDS, PROPERTIES
from picasso.properties import AB_ZERO_POINT, flux_equivalencies


def test_property_order_names_and_units():
    assert PROPERTIES.names == (
        "stellar_mass", "stellar_metal_mass", "stellar_age", "sfr",
        "gas_mass", "gas_metal_mass", "hi_mass",
    )
    assert PROPERTIES["stellar_mass"].unit == u.Msun / u.kpc**2
    assert PROPERTIES["sfr"].unit == u.Msun / (u.yr * u.kpc**2)
    assert PROPERTIES["stellar_age"].unit == u.Gyr
    assert PROPERTIES["stellar_age"].weighted_by == "stellar_mass"
    assert not PROPERTIES["stellar_age"].is_extensive
    assert PROPERTIES["gas_mass"].total_unit == u.Msun
    assert PROPERTIES["sfr"].total_unit == u.Msun / u.yr
    for prop in PROPERTIES.values():
        assert prop.long_name and prop.illustris_field and prop.authors_channel


def test_bands_in_wavelength_order():
    assert BANDS.names == ("u", "g", "r", "i", "z")
    wavelengths = [band.effective_wavelength.to_value(u.AA) for band in BANDS.values()]
    assert wavelengths == sorted(wavelengths)
    assert BANDS["r"].ab_zero_point == AB_ZERO_POINT


def test_nanomaggy_is_3631_microjansky():
    assert (1 * u.nanomaggy).to(u.uJy, flux_equivalencies()).value == pytest.approx(3.631)


def test_validate_rejects_unknown_and_duplicates():
    with pytest.raises(ValueError, match="unknown property name.*'stellar_mas'"):
        PROPERTIES.validate(["stellar_mas"])
    with pytest.raises(ValueError, match="more than once: gas_mass"):
        PROPERTIES.validate(["gas_mass", "gas_mass"])
    with pytest.raises(ValueError, match="at least one"):
        PROPERTIES.validate([])
    with pytest.raises(KeyError, match="known property names are stellar_mass"):
        PROPERTIES["mass"]


def test_validate_spelled_out_bands():
    assert BANDS.validate("gri") == ("g", "r", "i")
    assert BANDS.validate("r") == ("r",)
    assert BANDS.index("i") == 3


def test_combine_sums_extensive_maps_and_averages_intensive_ones():
    mass = PROPERTIES["stellar_mass"]
    age = PROPERTIES["stellar_age"]
    values = np.array([[1.0, 2.0], [3.0, 4.0]])
    weights = np.array([[1.0, 0.5], [0.0, 1.0]])
    assert mass.combine(values, weights) == pytest.approx(1.0 + 1.0 + 4.0)
    stellar_mass = np.array([[1.0, 2.0], [5.0, 0.0]])
    # weights 1 and 1 (0.5 x 2); the last pixel has no stellar mass, the third no weight
    assert age.combine(values, weights, stellar_mass) == pytest.approx((1.0 + 2.0) / 2.0)
    assert np.isnan(age.combine(values, np.zeros((2, 2)), stellar_mass))
