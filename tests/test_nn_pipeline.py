"""The training input pipeline: batched reads, finishing on the device, one loader per run,
and the choice of precision."""

import numpy as np
import pytest
import torch
from helpers_nn import make_pairs, tiny_config

from picasso.io.dataset import PairDataset
from picasso.nn import train
from picasso.nn.train import NetworkDataset, TrainConfig, Trainer
from picasso.nn.transforms import InputTransform

FAST = dict(batch_size=2, learning_rate=1e-2, milestones=(5,), seed=3, epochs=1)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    path = tmp_path_factory.mktemp("pairs") / "pairs.h5"
    return PairDataset(make_pairs(path))


class _ItemsOnly:
    """A pairs object without ``read_batch``: items are read one by one."""

    def __init__(self, pairs):
        self._pairs = pairs
        for name in ("bands", "properties", "pixel_scale_kpc", "table", "flux_unit"):
            setattr(self, name, getattr(pairs, name))

    def __len__(self):
        return len(self._pairs)

    def __getitem__(self, item):
        return self._pairs[item]


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_a_batch_equals_its_items(pairs, memory_format):
    transform = InputTransform(bands=("g", "r", "i"), reference_redshift=0.08,
                               conditions=("redshift",), keep_bands=("g", "r"),
                               floor_at_zero=True)
    data = NetworkDataset(pairs, [5, 0, 7, 3, 11, 2], transform=transform,
                          properties=("sfr",), augment=True, seed=4)
    data.set_epoch(3)
    positions = [4, 1, 1, 5, 0]  # out of order, with a repeat
    images, truth = data.finish_batch(data.raw_batch(positions), memory_format=memory_format)
    assert images.is_contiguous(memory_format=memory_format)
    assert images.shape == (5, 4, 16, 16) and truth.shape == (5, 1, 16, 16)
    for row, position in enumerate(positions):
        image, target = data[position]
        assert torch.equal(images[row], image) and torch.equal(truth[row], target)
    # the draws are those of (seed, epoch, pair) and differ between pairs
    assert len(set(data.symmetries(range(len(data))).tolist())) > 1
    # a pairs object that only has items gives the same batch
    plain = NetworkDataset(_ItemsOnly(pairs), [5, 0, 7, 3, 11, 2], transform=transform,
                           properties=("sfr",), augment=True, seed=4)
    plain.set_epoch(3)
    again = plain.finish_batch(plain.raw_batch(positions), memory_format=memory_format)
    assert torch.equal(again[0], images) and torch.equal(again[1], truth)


def test_the_input_matches_the_per_item_numpy_transform(pairs):
    # what NetworkDataset computed item by item in numpy before batches: equal to float32
    # rounding (numpy's and torch's logarithms may differ in the last bit)
    transform = InputTransform(bands=pairs.bands, reference_redshift=0.1, floor_at_zero=True)
    data = NetworkDataset(pairs, [0, 3], transform=transform)
    for item, index in enumerate([0, 3]):
        flux = pairs[index]["image"] * np.float32(transform.pair_scales(pairs, [index])[0])
        expected = transform.normalise(flux)
        np.testing.assert_allclose(data[item][0].numpy(), expected, rtol=0, atol=2e-6)


def test_validation_is_independent_of_the_batch_size(pairs, tmp_path):
    trainer = Trainer(pairs, tmp_path, model_config=tiny_config(),
                      config=TrainConfig(**FAST), progress=False)
    metrics = trainer.validate()
    # the same sums, one pair at a time, in float64
    network = trainer.network.eval()
    loss_sum = 0.0
    squared = np.zeros(2)
    count = np.zeros(2)
    with torch.no_grad():
        for item in range(len(trainer.validation_data)):
            image, truth = (tensor.to(trainer.device) for tensor in trainer.validation_data[item])
            prediction, log_sigma = trainer._forward(image[None], network)
            loss_sum += float(trainer._loss(prediction, log_sigma, truth[None]))
            known = (truth > -50).cpu().numpy()
            error = ((truth - prediction[0]) ** 2).cpu().numpy()
            squared += np.where(known, error, 0).sum(axis=(1, 2))
            count += known.sum(axis=(1, 2))
    n = len(trainer.validation_data)
    assert metrics["validation_loss"] == pytest.approx(loss_sum / n, rel=1e-5)
    assert metrics["rms_dex_stellar_mass"] == pytest.approx(np.sqrt(squared[0] / count[0]),
                                                            rel=1e-5)


def test_loader_workers_start_once_per_run(pairs, tmp_path):
    trainer = Trainer(pairs, tmp_path, model_config=tiny_config(),
                      config=TrainConfig(**{**FAST, "num_workers": 1}), progress=False)
    trainer.train_epoch()
    workers = [worker.pid for worker in trainer._loader._iterator._workers]
    trainer.validate()
    trainer.epoch, trainer.step_in_epoch = 1, 0
    trainer.train_epoch()
    assert [worker.pid for worker in trainer._loader._iterator._workers] == workers
    trainer.close_loader()
    assert trainer._loader is None
    # a replaced training set (as picasso.studies.experiments does) gets a new loader
    trainer.train_data = NetworkDataset(pairs, trainer.split.train[:4],
                                        transform=trainer.transform,
                                        properties=trainer.model_config.properties)
    trainer.epoch, trainer.step_in_epoch = 2, 0
    trainer.train_epoch()
    assert trainer.global_step == 8 + 8 + 2
    trainer.close_loader()


def test_precision_follows_the_cpu(pairs, tmp_path, monkeypatch):
    def make(**settings):
        return Trainer(pairs, tmp_path, model_config=tiny_config(),
                       config=TrainConfig(**{**FAST, "device": "cpu", **settings}),
                       progress=False)

    monkeypatch.setattr(train, "_native_bf16_cpu", lambda: False)
    assert make().precision == "fp32"
    assert make(precision="bf16").precision == "bf16"
    monkeypatch.setattr(train, "_native_bf16_cpu", lambda: True)
    trainer = make()
    assert trainer.precision == "bf16" and trainer.num_workers == 0
    assert make(precision="fp32").precision == "fp32"
    # the weights stay float32; the output layer computes in float32 under autocast
    assert all(p.dtype == torch.float32 for p in trainer.network.parameters())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = torch.randn(1, trainer.model_config.base_width, 8, 8)
        assert trainer.network.head(features).dtype == torch.float32
        assert trainer.network.inc(torch.randn(1, 5, 8, 8)).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="num_workers"):
        TrainConfig(num_workers=-1)
