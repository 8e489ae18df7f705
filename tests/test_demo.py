"""``picasso demo`` end to end at toy size."""

import json

import pytest

from picasso.cli import main
from picasso.cutout import GalaxyCutout
from picasso.maps import PropertyMaps


@pytest.mark.slow
def test_demo_writes_maps_figures_and_metrics(tmp_path, capsys, monkeypatch):
    import picasso.commands.demo as demo

    # whatever is bundled, this test exercises the no-bundled-model path
    monkeypatch.setattr(demo, "_bundled_model", lambda: None)
    out = tmp_path / "demo"
    status = main(["demo", "-o", str(out), "--galaxies", "2", "--size", "32",
                   "--train-galaxies", "6", "--train-seconds", "2", "--processes", "1",
                   "--examples", "1", "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "no trained model is bundled" in printed
    cutout = GalaxyCutout.read(out / "cutouts" / "g0_v0.fits")
    assert cutout.shape == (32, 32) and cutout.bands == ("u", "g", "r", "i", "z")
    predicted = PropertyMaps.read(out / "maps" / "g1_v0_predicted.fits")
    truth = PropertyMaps.read(out / "maps" / "g1_v0_true.fits")
    assert predicted.properties == truth.properties and predicted.shape == (32, 32)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_galaxies"] == 2
    assert set(metrics["per_galaxy"]["properties"]) == set(truth.properties)
    assert (out / "fig5_true_vs_predicted.png").stat().st_size > 1000
    assert (out / "fig1_galaxy_0.png").exists() and not (out / "fig1_galaxy_1.png").exists()
    # one real SDSS galaxy too, from the crop shipped with picasso
    assert "a real SDSS galaxy" in printed
    assert PropertyMaps.read(out / "real_sdss_maps.fits").shape == (32, 32)
    assert (out / "real_sdss_maps.png").exists()
    # the stand-in was trained by the Trainer, within its time budget
    assert (out / "quick_model" / "model.safetensors").exists()
    log = json.loads((out / "quick_model" / "log.json").read_text())
    assert sum(row["seconds"] for row in log["epochs"]) < 2 + 5


def test_demo_refuses_size_mismatch(tmp_path, capsys):
    from picasso.nn.unet import UNet, UNetConfig
    from picasso.nn.model import Model

    path = Model(UNet(UNetConfig(depth=2, base_width=2)), image_size=16, trained=True).save(
        tmp_path / "m.safetensors")
    assert main(["demo", "-o", str(tmp_path / "d"), "--model", str(path), "--size", "32"]) == 1
    assert "--size 16" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_predicts_the_shipped_real_galaxy(tmp_path, capsys):
    from picasso.commands.demo import predict_real_galaxy
    from picasso.nn.loading import default_model

    maps = predict_real_galaxy(default_model(), tmp_path)
    assert maps.shape == (64, 64)
    assert "within the model's training inputs" in capsys.readouterr().out
    assert GalaxyCutout.read(tmp_path / "real_sdss_cutout.fits").shape == (64, 64)
    assert (tmp_path / "real_sdss_cutout.png").stat().st_size > 1000
