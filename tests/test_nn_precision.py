"""Inference precision: bf16 autocast where it pays and is accurate, float32 on demand."""

import json
import logging

import h5py
import numpy as np
import pytest
import torch
from helpers_nn import make_pairs, tiny_config
from numpy.testing import assert_allclose, assert_array_equal

from picasso.cli import build_parser
from picasso.io.dataset import PairDataset
from picasso.nn import model as model_module
from picasso.nn.ensemble import Ensemble
from picasso.nn.model import BF16_TOLERANCE_DEX, Model, native_bf16
from picasso.nn.predict import predict_dataset
from picasso.nn.unet import UNet


def _model(seed=1, bias=8.0, heteroscedastic=False):
    """A tiny network whose outputs sit near log10 = 8, where bf16 itself rounds to 0.03 dex."""
    torch.manual_seed(seed)
    network = UNet(tiny_config(heteroscedastic=heteroscedastic))
    with torch.no_grad():
        network.head.bias.fill_(bias)
    return Model(network.eval(), image_size=16, trained=True)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(3)
    return (10 ** rng.uniform(-1, 1, (3, 5, 16, 16))).astype(np.float32)


def test_fp32_is_the_plain_float32_network(images):
    model = _model()
    maps, _ = model.predict_log10(images, precision="fp32")
    with torch.inference_mode():
        direct = model.network(model.transform.normalise(torch.from_numpy(images)))
    assert_array_equal(maps, direct.numpy())
    assert model.last_precision["precision"] == "fp32"


@pytest.mark.parametrize("heteroscedastic", [False, True])
def test_bf16_stays_within_a_hundredth_of_a_dex(images, heteroscedastic):
    model = _model(heteroscedastic=heteroscedastic)
    fp32, sigma32 = model.predict_log10(images, precision="fp32")
    bf16, sigma16 = model.predict_log10(images, precision="bf16")
    assert model.last_precision["precision"] == "bf16"
    assert bf16.dtype == np.float32
    # the heads run in float32: values near 8 are not rounded to bf16's 0.0625 steps
    assert np.abs(bf16 - fp32).max() < BF16_TOLERANCE_DEX
    assert np.unique(np.round(bf16 / 0.0625 % 1, 3)).size > 10
    if heteroscedastic:
        assert np.abs(sigma16 - sigma32).max() < BF16_TOLERANCE_DEX


def test_auto_uses_float32_without_native_bf16(images, monkeypatch):
    monkeypatch.setattr(model_module, "native_bf16", lambda device: None)
    model = _model()
    maps, _ = model.predict_log10(images)
    assert model.last_precision["precision"] == "fp32"
    assert "no native bf16" in model.last_precision["reason"]
    assert_array_equal(maps, model.predict_log10(images, precision="fp32")[0])


def test_auto_checks_bf16_once_and_records_it(images, monkeypatch):
    monkeypatch.setattr(model_module, "native_bf16", lambda device: "amx")
    model = _model()
    calls = []
    check = model._check_bf16
    monkeypatch.setattr(model, "_check_bf16", lambda *a: calls.append(1) or check(*a))
    auto, _ = model.predict_log10(images)
    record = model.last_precision
    assert record["precision"] == "bf16"
    assert set(record["max_abs_delta_dex"]) == set(model.properties)
    assert max(record["max_abs_delta_dex"].values()) <= BF16_TOLERANCE_DEX
    assert_array_equal(auto, model.predict_log10(images, precision="bf16")[0])
    model.predict_log10(images)
    assert len(calls) == 1  # decided once per model and device


def test_auto_falls_back_to_float32_when_bf16_moves_the_maps(images, monkeypatch, caplog):
    monkeypatch.setattr(model_module, "native_bf16", lambda device: "amx")
    monkeypatch.setattr(model_module, "BF16_TOLERANCE_DEX", 0.0)
    model = _model()
    with caplog.at_level(logging.WARNING, logger="picasso.nn.model"):
        maps, _ = model.predict_log10(images)
    assert model.last_precision["precision"] == "fp32"
    assert "moved" in model.last_precision["reason"]
    assert "predicting in float32" in caplog.text
    assert_array_equal(maps, model.predict_log10(images, precision="fp32")[0])


def test_bad_precision(images):
    with pytest.raises(ValueError, match="precision must be one of"):
        _model().predict_log10(images, precision="fp16")


def test_native_bf16_reads_cpuinfo_when_torch_cannot_say(monkeypatch, tmp_path):
    assert native_bf16("cpu") in (None, "amx", "avx512_bf16")
    assert native_bf16("meta") is None
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.delattr(torch.cpu, probe, raising=False)
    monkeypatch.setattr(model_module, "_cpuinfo_bf16", lambda: "avx512_bf16")
    assert native_bf16("cpu") == "avx512_bf16"


def test_maps_and_files_record_the_precision(tmp_path, monkeypatch):
    monkeypatch.setattr(model_module, "native_bf16", lambda device: "amx")
    pairs = PairDataset(make_pairs(tmp_path / "pairs.h5", n_galaxies=2, views=1))
    model = _model()
    maps = model.predict(pairs.cutout(0), precision="fp32")
    assert maps.meta["precision"]["precision"] == "fp32"
    maps = model.predict(pairs.cutout(0))
    assert maps.meta["precision"]["precision"] == "bf16"
    [path] = predict_dataset(model, pairs, tmp_path / "out.h5", precision="fp32")
    with h5py.File(path) as handle:
        assert json.loads(handle.attrs["precision"])["precision"] == "fp32"


def test_ensemble_lists_its_members_precision(images):
    ensemble = Ensemble([_model(0), _model(1)])
    ensemble.predict_log10(images, precision="fp32")
    assert ensemble.last_precision["precision"] == "fp32"
    assert len(ensemble.last_precision["members"]) == 2
    mean32, _ = ensemble.predict_log10(images, precision="fp32")
    mean16, _ = ensemble.predict_log10(images, precision="bf16")
    assert_allclose(mean16, mean32, atol=BF16_TOLERANCE_DEX)


def test_predict_command_takes_a_precision():
    parser = build_parser()
    args = parser.parse_args(["predict", "default", "x.h5", "-o", "out.h5", "--precision",
                              "fp32"])
    assert args.precision == "fp32"
    assert parser.parse_args(["predict", "default", "x.h5", "-o", "o.h5"]).precision == "auto"
