import astropy.units as u
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM, Planck18
from astropy.tests.helper import assert_quantity_allclose
from astropy.wcs import WCS
from conftest import make_celestial_wcs
from numpy.testing import assert_array_equal

from picasso import GalaxyCutout
from picasso.analysis import plot_cutout
from picasso.radius import HalfRadius


def test_defaults_and_physical_scale(galaxy_flux):
    cutout = GalaxyCutout(galaxy_flux, pixel_scale=0.396 * u.arcsec, redshift=0.05)
    assert cutout.bands == ("u", "g", "r", "i", "z")
    assert cutout.shape == (64, 64)
    expected = (0.396 * u.arcsec * Planck18.kpc_proper_per_arcmin(0.05)).to(u.kpc)
    assert_quantity_allclose(cutout.pixel_scale_kpc, expected)
    assert_array_equal(cutout.band("r"), galaxy_flux[2])


def test_angular_scale_from_physical_and_wcs(galaxy_flux, wcs64):
    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    cutout = GalaxyCutout(galaxy_flux, pixel_scale=0.24 * u.kpc, redshift=0.05, cosmology=cosmo)
    assert_quantity_allclose(
        cutout.pixel_scale, (0.24 * u.kpc / cosmo.kpc_proper_per_arcmin(0.05)).to(u.arcsec)
    )
    from_wcs = GalaxyCutout(galaxy_flux, wcs=wcs64)
    assert_quantity_allclose(from_wcs.pixel_scale, 0.396 * u.arcsec)
    assert from_wcs.pixel_scale_kpc is None
    with pytest.raises(ValueError, match="disagrees with the WCS"):
        GalaxyCutout(galaxy_flux, wcs=wcs64, pixel_scale=0.5 * u.arcsec)


def test_physical_scale_must_agree_with_wcs_and_redshift(galaxy_flux, wcs64):
    implied = (0.396 * u.arcsec * Planck18.kpc_proper_per_arcmin(0.05)).to(u.kpc)
    with pytest.raises(ValueError, match=r"5 kpc disagrees with the WCS.*0\.396 arcsec.*"
                                         r"redshift 0\.05"):
        GalaxyCutout(galaxy_flux, wcs=wcs64, pixel_scale=5 * u.kpc, redshift=0.05)
    agreeing = GalaxyCutout(galaxy_flux, wcs=wcs64, pixel_scale=implied, redshift=0.05)
    assert_quantity_allclose(agreeing.pixel_scale_kpc, implied)


def test_wcs_without_axis_types_is_named():
    flux = np.ones((5, 8, 8)) * u.nanomaggy
    with pytest.raises(ValueError, match=r"3 axes \(no CTYPE, no CTYPE, no CTYPE\); it has no "
                                         "celestial axes"):
        GalaxyCutout(flux, wcs=WCS(naxis=3))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"bands": ["u", "g", "r", "i"]}, ValueError, r"4 band name\(s\).*5 image plane"),
        ({"bands": ["u", "g", "r", "i", "y"]}, ValueError, "unknown band name.*'y'"),
        ({"bands": ["u", "g", "g", "i", "z"]}, ValueError, "more than once: g"),
        ({"bands": ["g", "u", "r", "i", "z"]}, ValueError, "not in wavelength order"),
        ({"mask": np.zeros((3, 3), bool)}, ValueError, "mask shape"),
        ({"mask": np.zeros((64, 64))}, TypeError, "boolean"),
        ({"redshift": -1}, ValueError, "redshift must be positive"),
        ({"pixel_scale": 0.4}, TypeError, "Quantity"),
        ({"pixel_scale": 0.4 * u.s}, u.UnitTypeError, "angle or a length"),
        ({"psf_fwhm": [1, 2] * u.arcsec}, ValueError, "one per band"),
        ({"variance": np.ones((5, 64, 64)) * u.Jy**2}, u.UnitConversionError, "flux unit squared"),
        ({"variance": np.ones((5, 8, 8)) * u.nanomaggy**2}, ValueError, "variance shape"),
        ({"wcs": "not a wcs"}, TypeError, "astropy.wcs.WCS"),
        ({"wcs": WCS(naxis=3)}, ValueError, "2-D celestial WCS"),
    ],
)
def test_bad_input_is_named(galaxy_flux, kwargs, error, match):
    with pytest.raises(error, match=match):
        GalaxyCutout(galaxy_flux, **kwargs)


def test_flux_must_be_flux(galaxy_flux):
    with pytest.raises(TypeError, match="must be an astropy Quantity"):
        GalaxyCutout(galaxy_flux.value)
    with pytest.raises(u.UnitTypeError, match="flux-calibrated"):
        GalaxyCutout(galaxy_flux.value * u.kpc)
    with pytest.raises(ValueError, match="3 dimensions|4 dimensions"):
        GalaxyCutout(np.ones((1, 5, 8, 8)) * u.nanomaggy)
    with pytest.raises(ValueError, match="no band names"):
        GalaxyCutout(np.ones((3, 8, 8)) * u.nanomaggy)


def test_wcs_of_wrong_shape(galaxy_flux):
    with pytest.raises(ValueError, match="describes a 32 x 32 image but the planes are 64 x 64"):
        GalaxyCutout(galaxy_flux, wcs=make_celestial_wcs((32, 32)))


def test_non_finite_flux_raises_or_is_masked(galaxy_flux):
    flux = galaxy_flux.copy()
    flux[1, 3, 4] = np.nan
    flux[4, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 NaN or infinite pixel\(s\) in band\(s\) g, z"):
        GalaxyCutout(flux)
    cutout = GalaxyCutout(flux, invalid="mask")
    assert cutout.mask.sum() == 2 and cutout.mask[1, 3, 4] and cutout.mask[4, 0, 0]
    assert np.all(np.isfinite(cutout.flux))
    explicit = GalaxyCutout(flux, mask=~np.isfinite(flux.value))
    assert_array_equal(explicit.mask, cutout.mask)


def test_all_zero_band_is_rejected(galaxy_flux):
    flux = galaxy_flux.copy()
    flux[0] = 0
    with pytest.raises(ValueError, match="band 'u' is all zero"):
        GalaxyCutout(flux)


def test_unit_conversions_preserve_flux(galaxy_flux):
    cutout = GalaxyCutout(galaxy_flux, pixel_scale=0.396 * u.arcsec,
                          variance=np.full((5, 64, 64), 4e-4) * u.nanomaggy**2)
    in_jy = cutout.to_unit(u.Jy)
    assert_quantity_allclose(in_jy.flux, galaxy_flux.value * 3.631e-6 * u.Jy)
    assert_quantity_allclose(in_jy.variance, 4e-4 * (3.631e-6) ** 2 * u.Jy**2)
    surface = cutout.to_unit(u.uJy / u.arcsec**2)
    assert_quantity_allclose(
        surface.flux, galaxy_flux.value * 3.631 / 0.396**2 * u.uJy / u.arcsec**2
    )
    back = surface.to_unit(u.nanomaggy)
    assert_quantity_allclose(back.flux, galaxy_flux, rtol=1e-6)
    with pytest.raises(ValueError, match="needs the pixel scale"):
        GalaxyCutout(galaxy_flux).to_unit(u.Jy / u.sr)


def test_select_bands(galaxy_flux):
    cutout = GalaxyCutout(galaxy_flux, psf_fwhm=[1.5, 1.4, 1.3, 1.2, 1.1] * u.arcsec)
    gri = cutout.select_bands("gri")
    assert gri.bands == ("g", "r", "i")
    assert_array_equal(gri.flux, galaxy_flux[1:4])
    assert_quantity_allclose(gri.psf_fwhm, [1.4, 1.3, 1.2] * u.arcsec)
    with pytest.raises(KeyError, match="no band 'u'"):
        gri.band("u")


def test_fits_round_trip_is_exact(tmp_path, galaxy_flux, wcs64):
    mask = np.zeros((64, 64), bool)
    mask[:2] = True
    cosmo = FlatLambdaCDM(H0=68, Om0=0.31, name="custom")
    cutout = GalaxyCutout(
        galaxy_flux, wcs=wcs64, redshift=0.0731, cosmology=cosmo, mask=mask,
        psf_fwhm=1.3 * u.arcsec, variance=np.full((5, 64, 64), 4e-4) * u.nanomaggy**2,
        r_half=HalfRadius(2.5 * u.kpc, "light_projected"),
        meta={"objid": 1237, "r_half": 2.5 * u.kpc, "note": "test"},
    )
    path = tmp_path / "cutout.fits"
    cutout.write(path)
    back = GalaxyCutout.read(path)
    assert back.bands == cutout.bands
    assert_array_equal(back.flux.value, cutout.flux.value)
    assert back.unit == u.nanomaggy
    assert_array_equal(back.variance, cutout.variance)
    assert_array_equal(back.mask, cutout.mask)
    assert back.redshift == cutout.redshift
    assert back.pixel_scale == cutout.pixel_scale
    assert back.pixel_scale_kpc == cutout.pixel_scale_kpc
    assert back.cosmology == cosmo
    assert_quantity_allclose(back.psf_fwhm, cutout.psf_fwhm)
    assert back.meta == cutout.meta
    assert back.r_half == cutout.r_half
    assert_array_equal(back.wcs.wcs.crval, wcs64.wcs.crval)
    assert_array_equal(back.wcs.pixel_scale_matrix, wcs64.pixel_scale_matrix)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        cutout.write(path)


def test_read_rejects_other_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        GalaxyCutout.read(tmp_path / "missing.fits")
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"not a fits file at all" * 10)
    with pytest.raises(OSError, match="not a readable GalaxyCutout FITS"):
        GalaxyCutout.read(junk)
    from astropy.io import fits

    other = tmp_path / "other.fits"
    fits.PrimaryHDU(np.ones((4, 4))).writeto(other)
    with pytest.raises(ValueError, match="not a picasso GalaxyCutout file"):
        GalaxyCutout.read(other)


def test_rgb_and_plot(galaxy_flux):
    cutout = GalaxyCutout(galaxy_flux)
    image = cutout.rgb()
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert image[32, 32].sum() > image[0, 0].sum()
    fig = plot_cutout(cutout)
    assert len(fig.axes) == 6
