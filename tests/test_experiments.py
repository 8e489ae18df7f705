"""The paper's studies: resampling invariants and tiny end-to-end runs of picasso experiment."""

import json

import astropy.units as u
import numpy as np
import pytest
from helpers_nn import make_pairs
from numpy.testing import assert_allclose

from picasso.studies.experiments import (
    block_sum_images,
    block_sum_truth,
    downsample_dataset,
    run_bands,
)
from picasso.cli import main
from picasso.io.dataset import PairDataset
from picasso.properties import LOG10_EMPTY

TINY = dict(preset="small", epochs=1, depth=2, base_width=4, batch_size=8, progress=False)
PROPS = ("stellar_mass", "stellar_age", "sfr")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    path = tmp_path_factory.mktemp("experiments") / "pairs.h5"
    return PairDataset(make_pairs(path, n_galaxies=6, views=2, size=32))


def test_block_sum_images_conserves_flux():
    rng = np.random.default_rng(0)
    images = rng.normal(1, 2, (3, 5, 8, 8)) * u.nanomaggy
    coarse = block_sum_images(images, 4)
    assert coarse.shape == (3, 5, 2, 2) and coarse.unit == u.nanomaggy
    assert_allclose(coarse.sum(axis=(-2, -1)).value, images.sum(axis=(-2, -1)).value, rtol=1e-5)
    assert_allclose(coarse[0, 0, 1, 0].value, images[0, 0, 4:, :4].sum().value, rtol=1e-5)
    with pytest.raises(ValueError, match="divides 8"):
        block_sum_images(images, 3)


def test_block_sum_truth_conserves_mass_and_keeps_empty():
    rng = np.random.default_rng(1)
    truth = rng.uniform(5, 8, (3, 4, 4)).astype(np.float32)
    truth[1] = rng.uniform(0, 1, (4, 4))  # log10 age in Gyr
    truth[:, :2, :2] = LOG10_EMPTY  # one fully empty 2x2 block
    truth[0, 3, 3] = LOG10_EMPTY  # one partly empty block (mass and age known elsewhere)
    truth[1, 3, 3] = LOG10_EMPTY
    coarse = block_sum_truth(truth, 2, PROPS)
    assert coarse.shape == (3, 2, 2)
    assert np.all(coarse[:, 0, 0] == LOG10_EMPTY)
    # mass: total per unit fine-pixel area is conserved (coarse pixel is 4x larger)
    known = truth[0] > LOG10_EMPTY / 2
    assert_allclose(4 * np.sum(10.0 ** coarse[0][coarse[0] > -50]), np.sum(10.0 ** truth[0][known]),
                    rtol=1e-5)
    # age: mass-weighted mean over the block's pixels with both mass and age
    mass, age = 10.0 ** truth[0, 2:, 2:], 10.0 ** truth[1, 2:, 2:]
    both = (truth[0, 2:, 2:] > -50) & (truth[1, 2:, 2:] > -50)
    expected = np.sum((mass * age)[both]) / np.sum(mass[both])
    assert_allclose(10.0 ** coarse[1, 1, 1], expected, rtol=1e-5)
    with pytest.raises(ValueError, match="stellar_mass"):
        block_sum_truth(truth[1:], 2, ("stellar_age", "sfr"))


def test_downsample_dataset(pairs, tmp_path):
    coarse = downsample_dataset(pairs, 2, tmp_path / "coarse.h5")
    assert coarse.image_size == 16 and len(coarse) == len(pairs)
    assert_allclose(coarse.table["pixel_scale_kpc"], 2 * pairs.table["pixel_scale_kpc"])
    assert_allclose(coarse.table["total_stellar_mass"], pairs.table["total_stellar_mass"])
    assert_allclose(coarse[3]["image"].sum(axis=(-2, -1)), pairs[3]["image"].sum(axis=(-2, -1)),
                    rtol=1e-4)
    truth_maps, coarse_maps = pairs.truth_maps(3), coarse.truth_maps(3)
    assert_quantity = truth_maps.total("stellar_mass"), coarse_maps.total("stellar_mass")
    assert_allclose(assert_quantity[1].to_value(u.Msun), assert_quantity[0].to_value(u.Msun),
                    rtol=1e-4)


@pytest.mark.slow
def test_band_study_zeroed_and_true(pairs, tmp_path):
    result = run_bands(pairs, tmp_path / "bands", band_sets=["ugriz", "gr"], mode="both", **TINY)
    names = [variant.name for variant in result.variants]
    assert names == ["ugriz", "gr (zeroed)", "gr (true)"]
    relative = result.relative()
    for name in result.properties:
        assert relative["ugriz"][name]["sigma"] == pytest.approx(1.0)
    record = json.loads((tmp_path / "bands" / "results.json").read_text())
    assert record["variants"][2]["settings"] == {"bands": "gr", "mode": "true"}
    assert (tmp_path / "bands" / "fig7_bands.png").stat().st_size > 1000
    assert len(record["settings"]["test_galaxies"]) == 1
    from picasso.nn.loading import load_model

    assert load_model(result.variants[2].model_path).bands == ("g", "r")
    assert result.variants[2].model_path.endswith("gr_true/model.safetensors")


@pytest.mark.slow
def test_resolution_and_size_commands(pairs, tmp_path, capsys):
    common = ["--epochs", "1", "--depth", "2", "--base-width", "4", "--batch-size", "8",
              "--no-progress"]
    out = tmp_path / "resolution"
    assert main(["experiment", "resolution", str(pairs.path), "-o", str(out), "--sizes", "32",
                 "16", *common]) == 0
    record = json.loads((out / "results.json").read_text())
    assert [v["name"] for v in record["variants"]] == ["32 px", "16 px"]
    assert (out / "fig8_resolution.png").exists() and (out / "pairs_16px.h5").exists()

    out = tmp_path / "size"
    assert main(["experiment", "training-size", str(pairs.path), "-o", str(out), "--sizes", "4",
                 *common]) == 0
    record = json.loads((out / "results.json").read_text())
    assert [v["n_train"] for v in record["variants"]] == [8, 4]
    assert (out / "fig9_training_size.png").exists()
    assert "stellar_mass sigma" in capsys.readouterr().out

    assert main(["experiment", "training-size", str(pairs.path), "-o", str(tmp_path / "x"),
                 "--sizes", "999", *common]) == 1
    assert "exceed" in capsys.readouterr().err
