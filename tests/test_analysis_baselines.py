import astropy.units as u
import numpy as np
import pytest
from astropy.cosmology import Planck18
from astropy.tests.helper import assert_quantity_allclose
from numpy.testing import assert_allclose

from picasso import GalaxyCutout
from picasso.analysis.baselines import (
    CHABRIER_FROM_DIET_SALPETER,
    COLOUR_RELATIONS,
    band_luminosity,
    colour_mass_map,
    colour_mass_total,
)
from picasso.analysis.geometry import GalaxyGeometry
from picasso.properties import SOLAR_ABSOLUTE_MAGNITUDES

REDSHIFT = 0.05


def flux_for_magnitude(m_ab):
    """nanomaggies of an AB magnitude."""
    return 10 ** (-0.4 * (m_ab - 22.5))


def uniform_cutout(shape=(32, 32), g_minus_r=0.7, g_minus_i=1.0, r_mag_per_pixel=22.0):
    """Every pixel the same colours; u and z are filler."""
    r = flux_for_magnitude(r_mag_per_pixel)
    g = r * 10 ** (-0.4 * g_minus_r)
    i = g * 10 ** (0.4 * g_minus_i)
    planes = np.stack([0.5 * g, g, r, i, i]) [:, None, None] * np.ones((5, *shape))
    return GalaxyCutout(planes * u.nanomaggy, pixel_scale=0.396 * u.arcsec, redshift=REDSHIFT)


def test_luminosity_by_hand():
    # m_r = 15 at z = 0.05: L_r = 10**(-0.4 (15 - DM - M_sun,r)) L_sun.
    distance_modulus = Planck18.distmod(REDSHIFT).value
    expected = 10 ** (-0.4 * (15.0 - distance_modulus - 4.65))
    luminosity = band_luminosity(flux_for_magnitude(15.0) * u.nanomaggy, "r", REDSHIFT, Planck18)
    assert luminosity.unit == u.Lsun
    assert_allclose(luminosity.value, expected, rtol=1e-10)
    # Janskys work through the AB zero point: 3631 Jy is magnitude 0.
    assert_allclose(band_luminosity(3631 * u.Jy, "r", REDSHIFT, Planck18).value,
                    10 ** (0.4 * (distance_modulus + 4.65)), rtol=1e-10)
    assert band_luminosity([-1.0] * u.nanomaggy, "r", REDSHIFT).value[0] == 0
    with pytest.raises(ValueError, match="band"):
        band_luminosity(1 * u.nanomaggy, "H", REDSHIFT)


def test_bell_total_of_a_uniform_galaxy():
    cutout = uniform_cutout()
    mass = colour_mass_total(cutout, relation="bell03_gr_r")
    n_pixels = 32 * 32
    luminosity = band_luminosity(flux_for_magnitude(22.0) * n_pixels * u.nanomaggy, "r",
                                 REDSHIFT, cutout.cosmology)
    log_ml = -0.306 + 1.097 * 0.7 + CHABRIER_FROM_DIET_SALPETER
    assert_quantity_allclose(mass, 10**log_ml * luminosity.value * u.Msun, rtol=1e-9)


def test_total_inside_aperture_and_mask():
    cutout = uniform_cutout()
    geometry = GalaxyGeometry(15.5, 15.5, 0.0, 0 * u.deg, 4.0 * u.pix, None, "isophote",
                              "given", (32, 32))
    whole = colour_mass_total(cutout, relation="zibetti09_gi_i")
    inside = colour_mass_total(cutout, geometry, k=2, relation="zibetti09_gi_i")
    # Same colour everywhere: mass scales with the aperture area (pi 8^2 of 32^2 pixels).
    assert_allclose((inside / whole).value, np.pi * 64 / 1024, rtol=1e-9)
    half = np.zeros((32, 32), bool)
    half[:, :16] = True
    masked = colour_mass_total(cutout, geometry, k=2, relation="zibetti09_gi_i", mask=half)
    assert_allclose((masked / inside).value, 0.5, rtol=1e-9)


def test_map_sums_to_the_total_for_uniform_colour():
    cutout = uniform_cutout()
    maps = colour_mass_map(cutout, relation="zibetti09_gi_r")
    assert maps.properties == ("stellar_mass",)
    assert_quantity_allclose(maps.pixel_scale, cutout.pixel_scale_kpc)
    total = colour_mass_total(cutout, relation="zibetti09_gi_r")
    assert_quantity_allclose(maps.total("stellar_mass"), total, rtol=1e-9)
    assert maps.meta["baseline"] == "zibetti09_gi_r"


def test_map_smooths_to_the_needed_snr_and_leaves_hopeless_pixels_empty():
    cutout = uniform_cutout()
    flux = cutout.flux.copy()
    variance = np.full(flux.shape, 1e-12) * u.nanomaggy**2
    variance[:, :4, :4] = 1e6 * u.nanomaggy**2  # no S/N at any smoothing
    flux[1, 10, 10] = -0.01 * u.nanomaggy  # one bad g pixel among good ones
    noisy = GalaxyCutout(flux, pixel_scale=0.396 * u.arcsec, redshift=REDSHIFT, variance=variance)
    maps = colour_mass_map(noisy)
    assert maps.empty("stellar_mass")[:4, :4].all()
    assert np.all(maps["stellar_mass"].value[:4, :4] == 0)
    # the bad pixel is measured at the first smoothing scale that reaches the S/N: its
    # neighbours' colour, hence their surface density
    assert not maps.empty("stellar_mass")[10, 10]
    assert maps.meta["smoothing"][0.0] == 32 * 32 - 16 - 1
    assert maps.meta["smoothing"][1.0] >= 1


def test_redder_means_heavier():
    blue = colour_mass_total(uniform_cutout(g_minus_r=0.3))
    red = colour_mass_total(uniform_cutout(g_minus_r=0.8))
    # Same r flux: the mass ratio is exactly the M/L ratio.
    assert_allclose(np.log10((red / blue).value), 1.097 * 0.5, rtol=1e-9)


def test_relations_are_documented_and_errors_are_clear():
    for relation in COLOUR_RELATIONS.values():
        assert relation.reference and set(relation.bands) <= set(SOLAR_ABSOLUTE_MAGNITUDES)
    with pytest.raises(ValueError, match="unknown colour relation"):
        colour_mass_total(uniform_cutout(), relation="taylor11")
    no_redshift = GalaxyCutout(uniform_cutout().flux, pixel_scale=0.396 * u.arcsec)
    with pytest.raises(ValueError, match="redshift"):
        colour_mass_total(no_redshift)
    gr_only = uniform_cutout().select_bands(["g", "r"])
    with pytest.raises(ValueError, match="lacks i"):
        colour_mass_map(gr_only, relation="zibetti09_gi_r")
