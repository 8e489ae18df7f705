"""
picasso.nn on a CUDA GPU: training, its checkpoints, and prediction.

Skipped where no GPU is present (CI); run on a GPU machine with
``pytest tests/test_nn_cuda.py``.
"""

import numpy as np
import pytest
import torch
from helpers_nn import make_pairs, straight_and_interrupted, tiny_config

from picasso.io.dataset import PairDataset
from picasso.mock.observe import observe, prepare
from picasso.mock.universe import Universe
from picasso.nn.loading import default_model, load_model
from picasso.nn.train import TrainConfig, Trainer
from picasso.studies import training_observing

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

FAST = dict(batch_size=2, learning_rate=1e-2, milestones=(5,), seed=3, device="cuda")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    path = tmp_path_factory.mktemp("pairs") / "pairs.h5"
    return PairDataset(make_pairs(path))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_on_the_gpu_lowers_the_loss(pairs, tmp_path, precision):
    trainer = Trainer(pairs, tmp_path, model_config=tiny_config(),
                      config=TrainConfig(**FAST, epochs=2, precision=precision,
                                         init_output_bias=False),
                      progress=False)
    assert trainer.device.type == "cuda" and trainer.precision == precision
    before = trainer.validate()["validation_loss"]
    trainer.fit()
    assert trainer.validate()["validation_loss"] < 0.5 * before
    # the weights written from the GPU give the same maps on the CPU
    model = load_model(tmp_path)
    images = torch.stack([trainer.validation_data[i][0] for i in range(2)])
    trainer.network.eval()
    with torch.no_grad():
        on_gpu = trainer.network(images.to("cuda")).float().cpu()
        on_cpu = model.network(images)
    assert torch.allclose(on_gpu, on_cpu, atol=5e-3)


def test_resume_on_the_gpu_continues_the_run(pairs, tmp_path):
    settings = dict(FAST, epochs=2, checkpoint_every=3)
    straight, first, resumed = straight_and_interrupted(pairs, tmp_path, settings)
    assert resumed.epoch == 1 and resumed.device.type == "cuda"
    for name, tensor in first.network.state_dict().items():
        assert torch.equal(tensor, resumed.network.state_dict()[name]), name
    resumed.fit()
    assert resumed.history[-1]["validation_loss"] == pytest.approx(
        straight.history[-1]["validation_loss"], rel=1e-3)


def test_the_bundled_model_predicts_on_the_gpu_as_on_the_cpu():
    model = default_model()
    config = training_observing(model)
    galaxy = prepare(Universe(3).particles(2), config)
    cutout, _ = observe(galaxy, config, seed=11)
    on_cpu = model.predict(cutout, device="cpu", precision="fp32")
    on_gpu = model.predict(cutout, device="cuda", precision="fp32")
    for name in model.properties:
        known = np.isfinite(on_cpu[name].value) & (on_cpu[name].value > 0)
        difference = np.log10(on_gpu[name].value[known] / on_cpu[name].value[known])
        assert np.max(np.abs(difference)) < 0.01, name
