"""SDSS-like model photometry: exact profiles, centre-weighted colours, bad input."""

import astropy.units as u
import numpy as np
import pytest

from picasso.analysis.photometry import model_photometry, profile_image

SHAPE = (72, 72)
PSF_SIGMA = 1.5
BAND_AMPLITUDES = np.array([0.3, 0.8, 1.0, 1.2, 1.4])


def _galaxy(profile, r_eff=7.0, axis_ratio=0.55, theta=0.6):
    shape = profile_image(profile, r_eff, axis_ratio, theta, SHAPE, PSF_SIGMA)
    return BAND_AMPLITUDES[:, None, None] * shape


@pytest.mark.parametrize("profile", ["exp", "deV"])
def test_a_pure_profile_is_recovered_with_its_colours(profile):
    images = _galaxy(profile)
    fit = model_photometry(images, PSF_SIGMA, variance=1e-3 + 1e-3 * images)
    assert fit.profile == profile
    assert fit.chi2[profile] < 1e-12 * fit.chi2["deV" if profile == "exp" else "exp"]
    assert fit.r_eff == pytest.approx(7.0, rel=1e-4)
    assert fit.axis_ratio == pytest.approx(0.55, rel=1e-4)
    assert fit.theta == pytest.approx(0.6, abs=1e-4)
    np.testing.assert_allclose(fit.fluxes / fit.fluxes[2], BAND_AMPLITUDES, rtol=1e-8)


def test_model_flux_of_an_exponential_is_its_light_in_the_image():
    images = _galaxy("exp", r_eff=5.0)
    fit = model_photometry(images, PSF_SIGMA)
    np.testing.assert_allclose(fit.fluxes, images.sum(axis=(1, 2)), rtol=5e-3)


def test_noisy_exponential_keeps_its_profile_and_size():
    rng = np.random.default_rng(4)
    images = 50.0 * _galaxy("exp", r_eff=6.0)
    noisy = images + rng.normal(0.0, 0.05, images.shape)
    fit = model_photometry(noisy, PSF_SIGMA, variance=0.05**2)
    assert fit.profile == "exp"
    assert fit.r_eff == pytest.approx(6.0, rel=0.03)
    np.testing.assert_allclose(fit.fluxes / fit.fluxes[2], BAND_AMPLITUDES, rtol=0.02)


def test_blue_outskirts_make_the_model_colour_redder_than_the_total():
    # A red core inside a larger blue disc: the r-band profile weights the core.
    core = profile_image("exp", 3.0, 0.8, 0.0, SHAPE, PSF_SIGMA)
    disc = profile_image("exp", 10.0, 0.8, 0.0, SHAPE, PSF_SIGMA)
    red, blue = np.array([0.2, 0.6, 1.0]), np.array([0.8, 0.9, 1.0])
    images = red[:, None, None] * core + 0.2 * blue[:, None, None] * disc
    fit = model_photometry(images, PSF_SIGMA)
    model_u_r = -2.5 * np.log10(fit.fluxes[0] / fit.fluxes[2])
    totals = images.sum(axis=(1, 2))
    total_u_r = -2.5 * np.log10(totals[0] / totals[2])
    assert model_u_r > total_u_r + 0.1
    # ... and a galaxy of one colour throughout has its total colour
    one_colour = red[:, None, None] * (core + 0.2 * disc)
    fit = model_photometry(one_colour, PSF_SIGMA)
    np.testing.assert_allclose(fit.fluxes / fit.fluxes[2], red / red[2], rtol=1e-10)


def test_measure_applies_the_fitted_profile_to_other_images():
    images = _galaxy("deV")
    fit = model_photometry(images, PSF_SIGMA)
    np.testing.assert_allclose(fit.measure(images, PSF_SIGMA), fit.fluxes, rtol=1e-12)
    np.testing.assert_allclose(fit.measure(3.0 * images[::-1], PSF_SIGMA),
                               3.0 * fit.fluxes[::-1], rtol=1e-12)


def test_quantity_images_keep_their_unit():
    fit = model_photometry(_galaxy("exp") * u.nanomaggy, PSF_SIGMA)
    assert fit.fluxes.unit == u.nanomaggy


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda images: images[0], "must be"),
        (lambda images: np.where(images > images.max() / 2, np.nan, images), "NaN or inf"),
        (lambda images: images * np.array([1, 1, 0, 1, 1])[:, None, None], "no positive light"),
    ],
)
def test_bad_images_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        model_photometry(change(_galaxy("exp")), PSF_SIGMA)


def test_bad_settings_are_refused():
    images = _galaxy("exp")
    with pytest.raises(ValueError, match="reference band 5"):
        model_photometry(images, PSF_SIGMA, reference=5)
    with pytest.raises(ValueError, match="psf_sigma"):
        model_photometry(images, -1.0)
    with pytest.raises(ValueError, match="variance"):
        model_photometry(images, PSF_SIGMA, variance=0.0)
    with pytest.raises(ValueError, match="unknown model profile 'sersic'"):
        profile_image("sersic", 5.0, 1.0, 0.0, SHAPE, PSF_SIGMA)
    with pytest.raises(ValueError, match="axis_ratio"):
        profile_image("exp", 5.0, 1.5, 0.0, SHAPE, PSF_SIGMA)
