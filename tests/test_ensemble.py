"""Deep ensembles (picasso.nn.ensemble) and the calibration check (picasso.studies.calibration)."""

import math

import numpy as np
import pytest
import torch
from helpers_nn import make_pairs, tiny_config
from numpy.testing import assert_allclose

from picasso.studies.calibration import calibration_table, expected_coverage, interval_coverage
from picasso.io.dataset import PairDataset
from picasso.nn.ensemble import Ensemble, load_ensemble
from picasso.nn.unet import UNet
from picasso.nn.model import Model
from picasso.properties import LOG10_EMPTY


def _member(seed, size=16, **config):
    torch.manual_seed(seed)
    network = UNet(tiny_config(**config)).eval()
    return Model(network, image_size=size, trained=True, info={"seed": seed})


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    return (10 ** rng.uniform(-1, 1, (3, 5, 16, 16))).astype(np.float32)


def test_ensemble_mean_and_spread(images):
    members = [_member(seed) for seed in (0, 1, 2)]
    ensemble = Ensemble(members)
    mean, sigma = ensemble.predict_log10(images, batch_size=2)
    single = np.stack([m.predict_log10(images)[0] for m in members])
    assert_allclose(mean, single.mean(0), rtol=1e-5, atol=1e-5)
    assert_allclose(sigma, single.std(0), rtol=1e-4, atol=1e-5)
    assert len(ensemble) == 3 and ensemble.bands == members[0].bands


def test_ensemble_adds_heteroscedastic_variance(images):
    members = [_member(seed, heteroscedastic=True) for seed in (0, 1)]
    mean, sigma = Ensemble(members).predict_log10(images)
    outputs = [m.predict_log10(images) for m in members]
    means = np.stack([o[0] for o in outputs])
    variances = np.stack([o[1] for o in outputs]) ** 2
    expected = np.sqrt(variances.mean(0) + means.var(0))
    assert_allclose(sigma, expected, rtol=1e-4, atol=1e-5)
    assert np.all(sigma >= np.sqrt(variances.mean(0)) - 1e-6)


def test_ensemble_file_round_trip(tmp_path, images):
    ensemble = Ensemble([_member(0), _member(5)], info={"purpose": "test"})
    path = ensemble.save(tmp_path / "ensemble.safetensors")
    loaded = load_ensemble(path)
    assert isinstance(loaded, Ensemble) and len(loaded) == 2
    assert loaded.header["ensemble"]["n_members"] == 2
    assert [m.info["seed"] for m in loaded.members] == [0, 5]
    assert loaded.info["purpose"] == "test"
    for got, want in zip(loaded.predict_log10(images), ensemble.predict_log10(images)):
        assert_allclose(got, want, rtol=1e-6)


def test_ensemble_keeps_shared_input_convention(tmp_path):
    members = [_member(seed) for seed in (0, 1)]
    for member in members:
        member.transform = member.transform.replace(keep_bands=("g", "r"))
    loaded = load_ensemble(Ensemble(members).save(tmp_path / "zeroed.safetensors"))
    assert loaded.keep_bands == ("g", "r")
    assert all(member.keep_bands == ("g", "r") for member in loaded.members)
    members[1].transform = members[1].transform.replace(keep_bands=("r",))
    with pytest.raises(ValueError, match="transform"):
        Ensemble(members)


def test_ensemble_rejects_bad_members(tmp_path):
    with pytest.raises(ValueError, match="at least two"):
        Ensemble([_member(0)])
    with pytest.raises(ValueError, match="differs from member 0 in config"):
        Ensemble([_member(0), _member(1, heteroscedastic=True)])
    with pytest.raises(TypeError, match="picasso Model"):
        Ensemble([_member(0), "model.safetensors"])
    single = _member(0).save(tmp_path / "single.safetensors")
    with pytest.raises(ValueError, match="single model"):
        load_ensemble(single)


def test_expected_coverage():
    assert expected_coverage(1.0) == pytest.approx(0.682689, abs=1e-6)
    assert expected_coverage(2.0) == pytest.approx(0.954500, abs=1e-6)
    with pytest.raises(ValueError):
        expected_coverage(0)


def test_interval_coverage_gaussian_truth():
    rng = np.random.default_rng(3)
    shape = (20, 2, 64, 64)
    pred = rng.normal(7, 1, shape).astype(np.float32)
    sigma = np.full(shape, 0.1, dtype=np.float32)
    sigma[:, 1] = 0.3
    truth = pred + sigma * rng.standard_normal(shape).astype(np.float32)
    truth[:, :, :8] = LOG10_EMPTY  # empty pixels never count
    table = interval_coverage(truth, pred, sigma, ["stellar_mass", "sfr"])
    assert list(table["n_pixels"]) == [20 * 56 * 64] * 2
    assert_allclose(table["coverage"], expected_coverage(1.0), atol=0.01)
    assert_allclose(table["z_std"], 1.0, atol=0.02)
    assert_allclose(table["median_sigma"].value, [0.1, 0.3], rtol=1e-5)
    # an uncertainty twice too large covers 95 %, and z shrinks to 0.5
    wide = interval_coverage(truth, pred, 2 * sigma, ["stellar_mass", "sfr"])
    assert_allclose(wide["coverage"], math.erf(2 / math.sqrt(2)), atol=0.01)
    assert_allclose(wide["z_std"], 0.5, atol=0.01)


def test_interval_coverage_checks_input():
    with pytest.raises(ValueError, match="same shape"):
        interval_coverage(np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), np.zeros((2, 4, 5)),
                          ["stellar_mass", "sfr"])
    with pytest.raises(ValueError, match="planes"):
        interval_coverage(np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), np.ones((2, 4, 4)),
                          ["stellar_mass"])


def test_calibration_table_needs_uncertainty(tmp_path):
    pairs = PairDataset(make_pairs(tmp_path / "pairs.h5", n_galaxies=2, views=1))
    with pytest.raises(ValueError, match="no uncertainty"):
        calibration_table(_member(0), pairs)
    table = calibration_table(Ensemble([_member(0), _member(1)]), pairs)
    assert list(table["property"]) == ["stellar_mass", "sfr"]
    assert np.all((table["coverage"] >= 0) & (table["coverage"] <= 1))
    assert np.all(table["n_pixels"] > 0)
