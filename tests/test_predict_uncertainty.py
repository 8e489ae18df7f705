"""predict(..., uncertainty=...): per-pixel 1-sigma in dex from ensembles and uncertainty heads."""

import astropy.units as u
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from picasso import GalaxyCutout, load_model
from picasso.maps import PropertyMaps
from picasso.nn.diagnostics import unphysical_pixels
from picasso.nn.ensemble import Ensemble
from picasso.nn.model import MAX_MEAN_SHIFT_DEX, Model
from picasso.nn.predict import predict_cutouts
from picasso.nn.unet import UNet, UNetConfig


def _model(seed, **config):
    torch.manual_seed(seed)
    network = UNet(UNetConfig(depth=2, base_width=4, **config)).eval()
    return Model(network, image_size=16, trained=True, info={"seed": seed})


@pytest.fixture(scope="module")
def cutouts():
    rng = np.random.default_rng(2)
    return [GalaxyCutout(10 ** rng.uniform(-1, 1, (5, 16, 16)) * u.nanomaggy,
                         pixel_scale=0.5 * u.kpc, redshift=0.05) for _ in range(2)]


def test_ensemble_uncertainty_in_maps(tmp_path, cutouts):
    ensemble = Ensemble([_model(0), _model(1), _model(2)])
    path = ensemble.save(tmp_path / "ensemble.safetensors")
    loaded = load_model(path)  # the ordinary loader recognises an ensemble file
    assert isinstance(loaded, Ensemble) and len(loaded) == 3
    maps = predict_cutouts(cutouts, loaded, uncertainty=True)
    mean, sigma = ensemble.predict_log10([ensemble.input_flux(c) for c in cutouts])
    for index, prediction in enumerate(maps):
        assert set(prediction.uncertainty) == set(prediction.properties)
        assert_allclose(prediction.uncertainty["stellar_mass"], sigma[index, 0], rtol=1e-5)
    single = cutouts[0].predict(loaded, uncertainty=True)
    assert_allclose(single.uncertainty["sfr"], sigma[0, 3], rtol=1e-5)
    assert predict_cutouts(cutouts, loaded, uncertainty=False)[0].uncertainty is None


def test_heteroscedastic_uncertainty(cutouts):
    model = _model(0, heteroscedastic=True)
    maps = model.predict(cutouts[0], uncertainty=True)
    assert np.all(maps.uncertainty["stellar_mass"] > 0)


def test_uncertainty_needs_a_source(cutouts):
    with pytest.raises(ValueError, match="deep ensemble"):
        predict_cutouts(cutouts, _model(0), uncertainty=True)
    assert predict_cutouts(cutouts, _model(0))[0].uncertainty is None


def test_maps_hold_expected_values_so_totals_are_unbiased(cutouts):
    model = _model(0, heteroscedastic=True)
    images = [model.input_flux(cutouts[0])]
    mu, sigma = model.predict_log10(images, precision="fp32")
    expected = model.expected_log10(mu, sigma)
    # the mean of a lognormal: 10**(mu + ln(10) sigma**2 / 2) for surface densities
    stellar = model.properties.index("stellar_mass")
    assert_allclose(expected[0, stellar], mu[0, stellar] + np.log(10) * sigma[0, stellar]**2 / 2,
                    rtol=1e-6)
    # the mass-weighted age is a mean, not a surface density: it keeps its median
    age = model.properties.index("stellar_age")
    assert_allclose(expected[0, age], mu[0, age])
    mean_maps = model.predict(cutouts[0], precision="fp32")
    median_maps = model.predict(cutouts[0], precision="fp32", estimate="median")
    assert mean_maps.meta["estimate"] == "mean" and median_maps.meta["estimate"] == "median"
    assert_allclose(np.log10(median_maps["sfr"].value), mu[0, model.properties.index("sfr")],
                    rtol=1e-5)
    assert mean_maps.total("stellar_mass") > median_maps.total("stellar_mass")
    with pytest.raises(ValueError, match="estimate must be"):
        model.predict(cutouts[0], estimate="mode")


def test_a_pixel_of_no_information_gets_a_finite_counted_mean(cutouts):
    # a 1-sigma of 20 dex once overflowed the lognormal mean to infinity, and the maps refused it
    model = _model(0, heteroscedastic=True)
    images = [model.input_flux(cutouts[0])]
    mu, sigma = model.predict_log10(images, precision="fp32")
    sfr = model.properties.index("sfr")
    sigma[0, sfr, 0, 0] = 20.0
    expected = model.expected_log10(mu, sigma)
    assert np.all(np.isfinite(expected))
    assert_allclose(expected[0, sfr, 0, 0], mu[0, sfr, 0, 0] + MAX_MEAN_SHIFT_DEX, rtol=1e-6)
    maps = PropertyMaps.from_log10(expected[0], model.properties)
    assert np.isfinite(maps["sfr"].value).all()
    assert unphysical_pixels(expected[:1], model.properties)[0]["sfr"] >= 1


def test_pixels_below_the_known_floor_keep_their_median(cutouts):
    # In the sky the truth is empty and the sigma never trained: a bundled model gave sky
    # SFR pixels a median of 10^-8.5 and a sigma of 3.5 dex, whose mean (10 dex higher) put
    # 15% of the predicted SFR in the image's border rows.
    model = _model(0, heteroscedastic=True)
    mu, sigma = model.predict_log10([model.input_flux(cutouts[0])], precision="fp32")
    sfr = model.properties.index("sfr")
    mu[0, sfr, 0, 0], mu[0, sfr, 0, 1] = -8.5, -2.0
    sigma[0, sfr, 0, :2] = 3.5
    unfloored = model.expected_log10(mu, sigma)
    assert unfloored[0, sfr, 0, 0] > mu[0, sfr, 0, 0] + 9
    model.info["known_floor_log10"] = {"sfr": -5.5}
    floored = model.expected_log10(mu, sigma)
    assert floored[0, sfr, 0, 0] == mu[0, sfr, 0, 0]
    assert floored[0, sfr, 0, 1] == unfloored[0, sfr, 0, 1] > mu[0, sfr, 0, 1]
    # the other properties, without a floor, move as before
    assert_allclose(np.delete(floored, sfr, axis=1), np.delete(unfloored, sfr, axis=1))


def test_known_floor_is_a_low_quantile_of_the_known_truth(tmp_path):
    from helpers_mock import small_universe

    from picasso.io.dataset import PairDataset
    from picasso.mock.build import build_dataset
    from picasso.properties import LOG10_EMPTY
    from picasso.studies.calibration import fit_known_floor

    path = build_dataset(tmp_path / "pairs.h5", 3, image_size=16, seed=1, views=1,
                         processes=1, progress=False, universe=small_universe(1))
    pairs = PairDataset(path)
    floor = fit_known_floor(pairs, quantile=0.0)
    assert "stellar_age" not in floor and "sfr" in floor
    for name, value in floor.items():
        planes = np.stack([pairs[i]["truth"][pairs.properties.index(name)]
                           for i in range(len(pairs))])
        assert value == pytest.approx(planes[planes > LOG10_EMPTY / 2].min())
    assert fit_known_floor(pairs, quantile=0.5)["stellar_mass"] > floor["stellar_mass"]
    with pytest.raises(ValueError, match="quantile"):
        fit_known_floor(pairs, quantile=1.0)


def test_a_lognormal_field_sums_to_its_true_total_only_with_the_mean():
    # the estimator's defining property, with no network: pixels scattered lognormally
    # around a known mean recover it when summed as expected values, not as medians
    rng = np.random.default_rng(0)
    sigma = 0.4
    true = np.full(100_000, 1e8)
    median = np.log10(true) - np.log(10) * sigma**2 / 2  # the median of the lognormal
    drawn = 10 ** rng.normal(median, sigma)
    assert np.log10(drawn.sum() / true.sum()) == pytest.approx(0, abs=0.01)
    mean_estimate = 10 ** (median + np.log(10) * sigma**2 / 2)
    assert np.log10(mean_estimate.sum() / true.sum()) == pytest.approx(0, abs=1e-9)
    assert np.log10((10 ** median).sum() / true.sum()) < -0.15
