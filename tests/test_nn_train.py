import json
import socket
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from helpers_nn import ddp_worker, make_pairs, straight_and_interrupted, tiny_config
from numpy.testing import assert_allclose
from safetensors.torch import load_file

from picasso.io.dataset import PairDataset
from picasso.nn.loading import load_model
from picasso.nn.train import (
    NetworkDataset,
    TrainConfig,
    Trainer,
    preset,
    split_by_galaxy,
)
from picasso.nn.transforms import InputTransform

# On the CPU, where training is bitwise reproducible (CUDA kernels are not; test_nn_cuda.py
# checks a GPU run) and the data-parallel test forks its processes.
FAST = dict(batch_size=2, learning_rate=1e-2, milestones=(1,), seed=3, device="cpu")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    path = tmp_path_factory.mktemp("pairs") / "pairs.h5"
    return PairDataset(make_pairs(path))


def test_split_by_galaxy_is_stratified_and_keeps_views_together():
    galaxy_ids = np.repeat(np.arange(50), 4)
    mass = np.repeat(10 ** np.linspace(9.5, 12, 50)[::-1], 4)  # galaxy 49 is the lightest
    split = split_by_galaxy(galaxy_ids, mass)
    # by mass the galaxies are 49, 48, ... 0; every 5th (positions 4, 9, ...) is tested
    assert split.test_galaxies == tuple(sorted(range(45, -1, -5)))
    sets = [set(galaxy_ids[s]) for s in (split.train, split.validation, split.test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert len(sets[1]) == 8  # 20% of the 40 remaining galaxies
    assert split.train.size + split.validation.size + split.test.size == 200
    assert split.train.size == 32 * 4
    assert json.dumps(split.to_dict())
    with pytest.raises(ValueError, match="too few"):
        split_by_galaxy([1, 2, 3], [1.0, 2.0, 3.0])


def test_network_dataset_normalises_and_augments_reproducibly(pairs):
    data = NetworkDataset(pairs, [0, 1], augment=True, seed=1,
                          transform=InputTransform(bands=("g", "r")))
    image, truth = data[0]
    raw = pairs[0]
    area = pairs.pixel_scale_kpc[0].to_value("kpc") ** 2
    assert area != 1
    assert image.shape == (2, 16, 16) and truth.shape == (2, 16, 16)
    # flux per kpc2, so the input does not depend on the galaxy's pixel scale
    assert_allclose(np.sort(image[1].numpy().ravel()),
                    np.sort(np.log(np.maximum(raw["image"][2] / area, 1e-4)).ravel()),
                    rtol=1e-5)
    again, _ = data[0]
    assert torch.equal(image, again)
    data.set_epoch(5)
    assert any(not torch.equal(data[i][0], NetworkDataset(pairs, [0, 1], seed=1,
               transform=InputTransform(bands=("g", "r")))[i][0]) for i in range(2))


def test_inputs_are_moved_to_the_reference_redshift(pairs):
    from picasso.nn.transforms import distance_factor

    plain = NetworkDataset(pairs, [0])[0][0]
    moved = NetworkDataset(pairs, [0], transform=InputTransform(bands=pairs.bands,
                                                                  reference_redshift=0.1))[0][0]
    bright = plain > np.log(1e-4) + 1
    shift = np.log(distance_factor(0.05, 0.1))
    assert_allclose((moved - plain)[bright].numpy(), shift, atol=1e-5)
    with pytest.raises(ValueError, match="positive redshift"):
        TrainConfig(reference_redshift=-1)
    # settings written before the reference redshift existed had none
    old = {key: value for key, value in TrainConfig().to_dict().items()
           if key != "reference_redshift"}
    assert TrainConfig.from_dict(old).reference_redshift is None
    assert TrainConfig().reference_redshift == "median"


def test_training_lowers_the_loss(pairs, tmp_path):
    trainer = Trainer(pairs, tmp_path, model_config=tiny_config(),
                      config=TrainConfig(**{**FAST, "epochs": 2, "milestones": (5,),
                                            "init_output_bias": False}),
                      progress=False)
    before = trainer.validate()["validation_loss"]
    trainer.fit()
    after = trainer.validate()["validation_loss"]
    assert after < 0.5 * before
    rows = json.loads((tmp_path / "log.json").read_text())["epochs"]
    assert rows[0]["train_loss"] > 0 and (tmp_path / "log.csv").exists()
    split = json.loads((tmp_path / "split.json").read_text())
    assert split["n_pairs"] == {"train": 16, "validation": 4, "test": 4}
    model = load_model(tmp_path)
    assert model.trained and model.info["split"] == split
    # every pair is at z = 0.05: the inputs are moved to that distance, i.e. left as they are
    assert model.reference_redshift == pytest.approx(0.05)
    best = min(rows, key=lambda row: row["validation_loss"])
    assert model.info["metrics"]["validation_loss"] == pytest.approx(best["validation_loss"])


def test_output_bias_starts_at_the_targets(pairs, tmp_path):
    config = TrainConfig(**{**FAST, "epochs": 1, "milestones": (5,)})
    cold = Trainer(pairs, tmp_path / "cold", model_config=tiny_config(),
                   config=replace(config, init_output_bias=False), progress=False)
    warm = Trainer(pairs, tmp_path / "warm", model_config=tiny_config(), config=config,
                   progress=False)
    # the same random weights; only the output bias differs, set to the mean known truth
    truth = np.stack([warm.train_data[i][1].numpy() for i in range(len(warm.train_data))])
    known = truth[:, 0] > -50
    assert float(warm.network.head.bias[0].detach()) == pytest.approx(truth[:, 0][known].mean(), rel=1e-5)
    assert torch.equal(cold.network.inc[0].weight, warm.network.inc[0].weight)
    assert warm.validate()["validation_loss"] < cold.validate()["validation_loss"]


def test_block_sum_term_in_the_loss(pairs, tmp_path):
    config = TrainConfig(**{**FAST, "epochs": 1, "milestones": (5,)})
    plain = Trainer(pairs, tmp_path / "plain", model_config=tiny_config(), config=config,
                    progress=False)
    blocks = Trainer(pairs, tmp_path / "blocks", model_config=tiny_config(),
                     config=replace(config, block_weights={"stellar_mass": 3.0}),
                     progress=False)
    assert blocks.validate()["validation_loss"] > plain.validate()["validation_loss"]
    with pytest.raises(ValueError, match="block_weights.*hi_mass"):
        Trainer(pairs, tmp_path / "bad", model_config=tiny_config(),
                config=replace(config, block_weights={"hi_mass": 1.0}), progress=False)


@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=pytest.mark.slow)])
def test_resume_reproduces_the_uninterrupted_run(pairs, tmp_path, precision):
    settings = dict(FAST, epochs=2, checkpoint_every=3, precision=precision)
    straight, _, resumed = straight_and_interrupted(pairs, tmp_path, settings)
    assert resumed.epoch == 1
    resumed.fit()
    assert resumed.precision == precision
    for name, tensor in straight.network.state_dict().items():
        assert torch.equal(tensor, resumed.network.state_dict()[name]), name
    assert straight.history[-1]["validation_loss"] == resumed.history[-1]["validation_loss"]
    assert resumed.optimizer.param_groups[0]["lr"] == straight.optimizer.param_groups[0]["lr"]


def test_resume_from_mid_epoch_checkpoint(pairs, tmp_path):
    settings = dict(epochs=1, checkpoint_every=2, **FAST)
    straight = Trainer(pairs, tmp_path / "a", model_config=tiny_config(),
                       config=TrainConfig(**settings), progress=False)
    straight.fit()
    partial = Trainer(pairs, tmp_path / "b", model_config=tiny_config(),
                      config=TrainConfig(**settings), progress=False)
    partial.output_dir.mkdir()
    # train two steps as a killed run would have, leaving its mid-epoch checkpoint
    partial.train_data.set_epoch(0)
    original_step = partial.optimizer.step
    calls = []

    def step_then_maybe_die():
        original_step()
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt

    partial.optimizer.step = step_then_maybe_die
    with pytest.raises(KeyboardInterrupt):
        partial.fit()
    resumed = Trainer.resume(pairs, tmp_path / "b", progress=False)
    assert resumed.step_in_epoch == 2
    resumed.fit()
    for name, tensor in straight.network.state_dict().items():
        assert torch.equal(tensor, resumed.network.state_dict()[name]), name


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_two_process_gloo_data_parallel(pairs, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = dict(epochs=1, augment=False, **FAST)
    # fork: the children reuse the imported torch and picasso (spawn re-imports them, which
    # costs tens of seconds on a busy 2-core machine); torchrun is the production launcher.
    # Where a GPU has run autograd in this process, its threads make forking unsafe: spawn.
    method = "spawn" if torch.cuda.is_available() else "fork"
    mp.start_processes(ddp_worker, args=(2, port, str(pairs.path), str(tmp_path), settings),
                       nprocs=2, start_method=method)
    rank0 = load_file(tmp_path / "rank0.safetensors")
    rank1 = load_file(tmp_path / "rank1.safetensors")
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name])
    log = json.loads((tmp_path / "log.json").read_text())
    assert log["world_size"] == 2 and log["epochs"][0]["step"] == 4  # 16 pairs / (2 x 2)
    # the same samples in one process with twice the batch: the same training
    single = Trainer(pairs, tmp_path / "single", model_config=tiny_config(),
                     config=TrainConfig(**{**settings, "batch_size": 4}), progress=False)
    single.fit()
    assert single.history[0]["validation_loss"] == pytest.approx(
        log["epochs"][0]["validation_loss"], rel=1e-3)


def test_presets_and_bad_settings(pairs, tmp_path):
    model_config, train_config = preset("paper")
    assert (model_config.depth, model_config.base_width) == (4, 64)
    assert (train_config.learning_rate, train_config.epochs, train_config.milestones,
            train_config.batch_size) == (1e-5, 13, (8, 10), 16)
    small_model, small_train = preset("small", epochs=2)
    assert small_model.base_width < 64 and small_train.epochs == 2
    with pytest.raises(ValueError, match="unknown preset"):
        preset("huge")
    with pytest.raises(ValueError, match="heteroscedastic"):
        Trainer(pairs, tmp_path, model_config=tiny_config(),
                config=TrainConfig(loss="gaussian_nll"))
    with pytest.raises(ValueError, match="not divisible"):
        Trainer(pairs, tmp_path, model_config=tiny_config(depth=5) if False else
                tiny_config().__class__(depth=5, base_width=4, properties=("stellar_mass",
                                                                           "sfr")))


def test_more_processes_than_gpus_is_refused_with_advice(pairs, tmp_path, monkeypatch):
    # as torchrun would set it for a process beyond the last GPU (none on a CPU machine)
    monkeypatch.setenv("LOCAL_RANK", str(torch.cuda.device_count()))
    with pytest.raises(RuntimeError, match="one process per GPU.*--device cpu"):
        Trainer(pairs, tmp_path, model_config=tiny_config(),
                config=TrainConfig(**{**FAST, "device": "cuda"}), progress=False)


def test_train_command_and_resume(pairs, tmp_path, capsys):
    from picasso.cli import main

    out = tmp_path / "run"
    base = ["train", str(pairs.path), "-o", str(out), "--preset", "small", "--no-progress"]
    tiny = ["--depth", "2", "--base-width", "4", "--batch-size", "4", "--lr", "1e-2"]
    assert main(base + tiny + ["--epochs", "1"]) == 0
    assert "best validation loss" in capsys.readouterr().out
    assert main(base + tiny + ["--epochs", "1"]) == 1  # refuses to overwrite a run
    assert "pass --resume" in capsys.readouterr().err
    assert main(base + ["--resume", "--lr", "1"]) == 1  # a result-changing setting
    assert main(base + ["--resume", "--epochs", "2"]) == 0
    log = json.loads((out / "log.json").read_text())
    assert [row["epoch"] for row in log["epochs"]] == [1, 2]
    assert log["model_config"]["base_width"] == 4
    assert load_model(out).config.depth == 2


def test_uncertainty_head_with_workers_and_band_zeroing(pairs, tmp_path):
    trainer = Trainer(pairs, tmp_path, model_config=tiny_config(heteroscedastic=True),
                      config=TrainConfig(epochs=1, loss="gaussian_nll", num_workers=2,
                                         keep_bands=("g", "r"), **FAST), progress=False)
    model = trainer.fit()
    assert model.config.heteroscedastic and model.info["train_config"]["keep_bands"] == ["g", "r"]
    image, _ = trainer.train_data[0]
    assert torch.all(image[[0, 3, 4]] == 0) and torch.any(image[1] != 0)
    cutout = pairs.cutout(0)
    maps = model.predict(cutout)
    assert np.all(np.isfinite(maps.uncertainty["stellar_mass"]))
    # the zeroed bands are zeroed at prediction too: their flux cannot matter
    flux = cutout.flux.copy()
    flux[0] *= 1e3
    from picasso import GalaxyCutout

    brighter_u = GalaxyCutout(flux, pixel_scale=cutout.pixel_scale_kpc, redshift=0.05)
    assert_allclose(model.predict(brighter_u)["sfr"].value, maps["sfr"].value)
    assert load_model(tmp_path).keep_bands == ("g", "r")
