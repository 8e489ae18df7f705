import json

import astropy.units as u
import numpy as np
import pytest
from helpers_analysis import write_predictions, write_test_set
from numpy.testing import assert_allclose

from picasso import PROPERTIES
from picasso.studies.evaluation import evaluate, load_predictions
from picasso.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    return write_test_set(tmp_path_factory.mktemp("evaluate") / "test.h5", n=3, size=64)


@pytest.mark.parametrize("offset", [0.0, 0.1])
def test_known_offset_through_the_whole_pipeline(test_set, tmp_path, offset):
    """Predictions = truth + offset (dex) give mu = -offset exactly, sigma = 0, at every level."""
    predictions = write_predictions(tmp_path / "pred.h5", test_set, offset=offset)
    if offset:
        # In memory, as the experiment runner hands them over.
        source = load_predictions(predictions)
        predictions = {**source, "log10_maps": source["log10_maps"][()], "handle": None}
        source["handle"].close()
    result = evaluate(test_set, predictions=predictions, examples=0, baselines=False,
                      progress=False, r_half="table")
    assert result.properties == PROPERTIES.names
    assert len(result.galaxies) == 3
    for name in PROPERTIES.names:
        stats = result.report[name]
        assert stats["n"] == 3
        if offset == 0:
            assert stats["mu"] == 0 * u.dex and stats["sigma"] == 0 * u.dex
        else:
            # Stellar age too: the mass-weighted mean of ages all scaled by 10**0.1.
            assert_allclose(stats["mu"].to_value(u.dex), -offset, atol=1e-6)
            assert_allclose(stats["sigma"].to_value(u.dex), 0, atol=1e-6)
        assert_allclose(result.radial[name]["p50"].to_value(u.dex), -offset, atol=1e-5)
    assert_allclose(result.pixels["mu"].to_value(u.dex), -offset, atol=1e-5)
    assert set(result.galaxies["r_half_method"]) == {"given"}


@pytest.mark.slow
def test_report_renders_with_every_property(test_set, tmp_path):
    predictions = write_predictions(tmp_path / "pred.h5", test_set, scatter=0.05)
    output = tmp_path / "report"
    status = main(["evaluate", str(predictions), str(test_set), "-o", str(output),
                   "--examples", "1"])
    assert status == 0
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["n_galaxies"] == 3
    assert set(metrics["per_galaxy"]["properties"]) == set(PROPERTIES.names)
    assert sum(metrics["geometry_methods"].values()) == 3
    for name in PROPERTIES.names:
        sigma = metrics["per_galaxy"]["properties"][name]["sigma"]
        assert 0 < sigma < 0.05  # 0.05 dex pixel noise averages down over a galaxy
    assert set(metrics["baselines"]) == {"bell03", "zibetti09"}
    table = (output / "report.md").read_text()
    for name in PROPERTIES.names:
        assert f"| {name} | 3 |" in table
    assert "| 0.103 | 0.090 |" in table  # the paper's stellar-mass mu and sigma
    assert "colour M/L per galaxy (bell03_gr_r)" in table
    figures = sorted(path.name for path in output.glob("*.png"))
    assert figures == ["fig1_galaxy_0.png", "fig4_distributions.png",
                       "fig5_baseline_bell03.png", "fig5_baseline_zibetti09.png",
                       "fig5_true_vs_predicted.png", "fig6_radial_residuals.png"]
    for name in figures:
        data = (output / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    # A second run refuses to overwrite without --overwrite.
    assert main(["evaluate", str(predictions), str(test_set), "-o", str(output),
                 "--no-figures"]) == 1


def test_evaluate_runs_a_model(test_set, tmp_path):
    torch = pytest.importorskip("torch")
    from picasso.nn.unet import UNet, UNetConfig
    from picasso.nn.model import Model

    torch.manual_seed(0)
    model = Model(UNet(UNetConfig(depth=2, base_width=4)), image_size=64)
    path = model.save(tmp_path / "tiny.safetensors")
    output = tmp_path / "report"
    assert main(["evaluate", str(path), str(test_set), "-o", str(output), "--no-figures",
                 "--no-baseline", "--limit", "2"]) == 0
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["n_galaxies"] == 2
    assert metrics["baselines"] == {}


def test_prediction_files_are_checked(test_set, tmp_path):
    import h5py

    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as handle:
        handle.create_dataset("something", data=np.zeros(3))
    with pytest.raises(ValueError, match="not a predictions file"):
        load_predictions(bad)
    short = tmp_path / "short.h5"
    with h5py.File(short, "w") as handle:
        handle.create_dataset("truth", data=np.zeros((1, 7, 64, 64), np.float32))
    with pytest.raises(ValueError, match="row by row"):
        evaluate(test_set, predictions=short, progress=False)
    with pytest.raises(ValueError, match="either"):
        evaluate(test_set, progress=False)
    with pytest.raises(ValueError, match="r_half"):
        evaluate(test_set, predictions=short, r_half="guess", progress=False)
    # On the command line a missing model is one clear error, not a traceback.
    assert main(["evaluate", str(tmp_path / "missing.safetensors"), str(test_set),
                 "-o", str(tmp_path / "report")]) == 1
