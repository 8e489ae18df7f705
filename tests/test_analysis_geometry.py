import astropy.units as u
import numpy as np
import pytest
from helpers_analysis import exponential_disc
from numpy.testing import assert_allclose

from picasso.analysis import geometry as geometry_module
from picasso.analysis.geometry import (
    AUTHORS_IMAGE_SIZE,
    AUTHORS_R_HALF_PIXELS,
    GalaxyGeometry,
    authors_r_half,
    fit_geometry,
)


def angle_difference(a, b):
    """Smallest difference of two axial angles (period 180 deg), in degrees."""
    diff = (a - b).to_value(u.deg) % 180.0
    return min(diff, 180.0 - diff)


@pytest.mark.parametrize(
    ("shape", "r_half", "ellipticity", "pa_deg"),
    [((96, 96), 10.0, 0.4, 30.0), ((64, 80), 6.0, 0.25, 125.0), ((96, 96), 9.0, 0.6, 172.0)],
)
def test_exponential_disc_is_recovered(shape, r_half, ellipticity, pa_deg):
    center = (shape[1] / 2 - 0.7, shape[0] / 2 + 0.4)
    image = exponential_disc(shape, center=center, r_half=r_half, ellipticity=ellipticity,
                             pa_deg=pa_deg)
    geometry = fit_geometry(image * u.Msun / u.kpc**2, pixel_scale=0.25 * u.kpc / u.pix)
    assert geometry.method == "isophote"
    assert geometry.r_half_method == "measured"
    assert geometry.shape == shape
    assert_allclose(geometry.r_half.to_value(u.pix), r_half, rtol=0.02)
    assert_allclose(geometry.r_half_kpc.to_value(u.kpc), 0.25 * r_half, rtol=0.02)
    assert abs(geometry.ellipticity - ellipticity) < 0.02
    assert angle_difference(geometry.position_angle, pa_deg * u.deg) < 2.0
    assert 0 <= geometry.position_angle.to_value(u.deg) < 180
    assert_allclose(geometry.center, center, atol=0.1)


def test_round_disc_has_no_ellipticity_and_scale_in_kpc():
    image = exponential_disc((64, 64), center=(31.5, 31.5), r_half=6.0, ellipticity=0.0)
    geometry = fit_geometry(image, pixel_scale=0.5 * u.kpc)
    assert geometry.ellipticity < 0.02
    assert_allclose(geometry.r_half.value, 6.0, rtol=0.02)
    assert geometry.r_half_kpc.unit == u.kpc
    assert_allclose(geometry.pixel_scale.to_value(u.kpc / u.pix), 0.5)


def test_authors_assumption_scales_with_image_size():
    assert authors_r_half(AUTHORS_IMAGE_SIZE) == AUTHORS_R_HALF_PIXELS * u.pix
    assert authors_r_half(64) == 6.25 * u.pix
    image = exponential_disc((64, 64), r_half=4.0, center=(31.5, 31.5))
    geometry = fit_geometry(image, r_half="authors", pixel_scale=0.1 * u.kpc)
    assert geometry.r_half_method == "authors"
    assert geometry.r_half == 6.25 * u.pix
    assert_allclose(geometry.r_half_kpc.to_value(u.kpc), 0.625)


def test_given_r_half_in_kpc():
    image = exponential_disc((64, 64), r_half=4.0, center=(31.5, 31.5))
    geometry = fit_geometry(image, r_half=2.0 * u.kpc, pixel_scale=0.5 * u.kpc)
    assert geometry.r_half_method == "given"
    assert_allclose(geometry.r_half.to_value(u.pix), 4.0)
    with pytest.raises(ValueError, match="pixel_scale"):
        fit_geometry(image, r_half=2.0 * u.kpc)


def test_failing_isophote_fit_falls_back_to_moments(monkeypatch):
    from photutils.isophote import Ellipse

    def broken(self, *args, **kwargs):
        raise ValueError("no meaningful isophote")

    monkeypatch.setattr(Ellipse, "fit_image", broken)
    image = exponential_disc((64, 64), center=(30.2, 33.1), r_half=6.0, ellipticity=0.3,
                             pa_deg=60.0)
    geometry = fit_geometry(image)
    assert geometry.method == "moments"
    # Moments of a clean disc still give its shape closely.
    assert_allclose(geometry.center, (30.2, 33.1), atol=0.2)
    assert angle_difference(geometry.position_angle, 60 * u.deg) < 3.0
    assert_allclose(geometry.r_half.value, 6.0, rtol=0.05)


@pytest.mark.parametrize("kind", ["line", "pair", "speckle"])
def test_irregular_maps_do_not_raise(kind):
    rng = np.random.default_rng(5)
    image = np.zeros((64, 64))
    if kind == "line":  # edge-on: isophotes degenerate
        image[32, 10:54] = 1.0
    elif kind == "pair":  # equal-mass merger far apart
        image = (exponential_disc((64, 64), center=(16, 16), r_half=3, ellipticity=0.1)
                 + exponential_disc((64, 64), center=(48, 48), r_half=3, ellipticity=0.1))
    else:
        rows, cols = rng.integers(0, 64, (2, 30))
        image[rows, cols] = rng.random(30)
    geometry = fit_geometry(image)
    assert geometry.method == "moments"
    assert geometry.r_half.value > 0
    assert 0 <= geometry.ellipticity < 1


def test_empty_map_is_assumed_round_and_centred():
    geometry = fit_geometry(np.zeros((32, 48)))
    assert geometry.method == "assumed"
    assert geometry.r_half_method == "authors"
    assert geometry.center == (23.5, 15.5)
    assert geometry.ellipticity == 0


def test_mask_hides_a_companion():
    image = exponential_disc((64, 64), center=(31.5, 31.5), r_half=5.0, ellipticity=0.2)
    companion = exponential_disc((64, 64), center=(55, 55), r_half=2.0, total=3e10)
    mask = np.zeros((64, 64), bool)
    mask[45:, 45:] = True
    unmasked = fit_geometry(image + companion, method="moments")
    masked = fit_geometry(image + companion, mask=mask)
    assert np.hypot(unmasked.x_center - 31.5, unmasked.y_center - 31.5) > 5
    assert_allclose(masked.center, (31.5, 31.5), atol=0.1)
    assert_allclose(masked.r_half.value, 5.0, rtol=0.03)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2-D"):
        fit_geometry(np.ones((3, 8, 8)))
    with pytest.raises(ValueError, match="log10"):
        fit_geometry(-np.ones((8, 8)))
    with pytest.raises(ValueError, match="mask shape"):
        fit_geometry(np.ones((8, 8)), mask=np.zeros((4, 4), bool))
    with pytest.raises(TypeError, match="Quantity"):
        fit_geometry(np.ones((8, 8)), pixel_scale=0.5)
    with pytest.raises(ValueError, match="length per pixel"):
        fit_geometry(np.ones((8, 8)), pixel_scale=0.4 * u.arcsec)
    with pytest.raises(ValueError, match="method"):
        fit_geometry(np.ones((8, 8)), method="guess")
    with pytest.raises(ValueError, match="r_half"):
        fit_geometry(np.ones((8, 8)), r_half="paper")


def test_geometry_apertures_and_dict():
    geometry = GalaxyGeometry(10.0, 12.0, 0.5, 90 * u.deg, 4.0 * u.pix, 2.0 * u.kpc,
                              "isophote", "measured", (32, 32))
    aperture = geometry.aperture(2)
    assert_allclose([aperture.a, aperture.b, aperture.theta.to_value(u.deg)], [8, 4, 90])
    annulus = geometry.annulus(0.5, 1.0)
    assert_allclose([annulus.a_in, annulus.a_out, annulus.b_out], [2, 4, 2])
    assert geometry.annulus(0, 1).area == pytest.approx(np.pi * 4 * 2)
    record = geometry.to_dict()
    assert record["r_half_kpc"] == 2.0 and record["method"] == "isophote"
    with pytest.raises(ValueError, match="ellipticity"):
        GalaxyGeometry(0, 0, 1.2, 0 * u.deg, 1 * u.pix, None, "moments", "given", (4, 4))
    with pytest.raises(ValueError, match="method"):
        GalaxyGeometry(0, 0, 0.1, 0 * u.deg, 1 * u.pix, None, "guess", "given", (4, 4))
    assert geometry_module.GEOMETRY_METHODS == ("isophote", "moments", "assumed")
