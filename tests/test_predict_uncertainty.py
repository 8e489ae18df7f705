"""predict(..., uncertainty=...): per-pixel 1-sigma in dex from ensembles and uncertainty heads."""

import astropy.units as u
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from picasso import GalaxyCutout, load_model
from picasso.nn.ensemble import Ensemble
from picasso.nn.predict import predict_cutouts
from picasso.nn.unet import UNet, UNetConfig
from picasso.nn.model import Model


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
