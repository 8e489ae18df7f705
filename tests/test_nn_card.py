"""Tests of picasso.studies.card: model cards rendered from the model header."""

import json

import pytest
from helpers_nn import tiny_config

from picasso.nn import Model, UNet, load_model
from picasso.studies.card import LIMITATIONS, model_card, record_results

EVALUATION = {
    "n_galaxies": 40,
    "settings": {"k": 2.0},
    "per_galaxy": {"label": "model", "unit": "dex", "properties": {
        "stellar_mass": {"mu": 0.0123, "sigma": 0.0871}, "sfr": {"mu": -0.21, "sigma": 0.456}}},
    "per_pixel": [{"property": "stellar_mass", "mu": 0.031, "sigma": 0.1234},
                  {"property": "sfr", "mu": None, "sigma": None}],
    "baselines": {"bell03": {"label": "colour M/L per galaxy (bell03)", "properties": {
        "stellar_mass": {"mu": -0.05, "sigma": 0.1777}}}},
}
CALIBRATION = [{"property": "stellar_mass", "coverage": 0.61, "expected": 0.6827,
                "z_mean": 0.02, "z_std": 1.21, "median_sigma": 0.09}]
REAL = {"conditions": ["mock", "real"], "redshifts": [0.03, 0.1], "k": 2.0,
        "frames": "sdss", "galaxies": [{}, {}], "command": "bench_real_conditions.py --model m",
        "summary": {c: {"per_galaxy": {"stellar_mass": {"mu": 0.01, "sigma": s}},
                        "per_pixel": {"stellar_mass": {"mu": 0.02, "sigma": 2 * s}},
                        "colour_ml_baseline_stellar_mass": {"mu": 0.0, "sigma": 0.2}}
                    for c, s in (("mock", 0.0999), ("real", 0.3333))}}


def make_model():
    return Model(UNet(tiny_config()), image_size=16, trained=True,
                 info={"training_data": {"n_pairs": 24, "generator": json.dumps(
                     {"universe": {"seed": 3}, "observing": {"psf_fwhm": "1.0 kpc"}})},
                       "train_config": {"epochs": 6, "loss": "paper"},
                       "metrics": {"validation_loss": 0.5}})


def test_card_without_results_says_what_is_missing():
    card = model_card(make_model())
    assert card.count("Not measured for this model") == 3
    assert "| n_pairs | 24 |" in card and "| observing psf_fwhm | 1.0 kpc |" in card
    assert "| universe seed | 3 |" in card
    assert all(limitation in card for limitation in LIMITATIONS)
    # a universe from before the mass-scale offset: the card says what its masses were
    assert "0.6 mag fainter" in card
    # No statistics were recorded: no OOD thresholds are invented either.
    assert "no training-input statistics" in card


def test_recorded_results_travel_with_the_weights(tmp_path):
    model = record_results(make_model(), evaluation=EVALUATION, calibration=CALIBRATION,
                           real_conditions=REAL, limitations=["Trained for a test."])
    loaded = load_model(model.save(tmp_path / "model.safetensors"))
    card = model_card(loaded)
    assert "Not measured" not in card
    assert "| stellar_mass | +0.012 | 0.087 | +0.031 | 0.123 |" in card
    assert "| sfr | -0.210 | 0.456 | n/a | n/a |" in card
    assert "0.178" in card and "| stellar_mass | 0.610 | 0.683 | +0.020 | 1.210 | 0.090 |" in card
    assert "+0.01, 0.10 / +0.02, 0.20" in card and "+0.01, 0.33 / +0.02, 0.67" in card
    assert "Trained for a test." in card
    # The same card from the file path, and given results override stored ones.
    assert model_card(tmp_path / "model.safetensors") == card
    other = model_card(loaded, real_conditions={**REAL, "conditions": ["real"]})
    assert "| property | real |" in other


def test_rst_card_is_valid_restructuredtext():
    docutils_core = pytest.importorskip("docutils.core")
    model = record_results(make_model(), evaluation=EVALUATION, real_conditions=REAL)
    text = model_card(model, format="rst", title="Test model")
    assert text.startswith("Test model\n==========")
    document = docutils_core.publish_doctree(
        text, settings_overrides={"report_level": 5, "halt_level": 5})
    problems = [node for node in document.findall()
                if node.tagname == "system_message" and int(node["level"]) >= 2]
    assert problems == []
    with pytest.raises(ValueError, match="format"):
        model_card(model, format="html")
    # nested inside a page section, as the documentation includes the bundled card
    nested = model_card(model, format="rst", title="Test model", rst_underlines="-~")
    assert nested.startswith("Test model\n----------") and "\nModel\n~~~~~\n" in nested
    with pytest.raises(ValueError, match="two characters"):
        model_card(model, format="rst", rst_underlines="=")


def test_card_command_stores_results_and_writes_the_card(tmp_path, capsys):
    from picasso.cli import main

    path = make_model().save(tmp_path / "model.safetensors")
    real = tmp_path / "real.json"
    real.write_text(json.dumps(REAL))
    assert main(["card", str(path)]) == 0
    assert "Not measured for this model yet. Run ``benchmarks" in capsys.readouterr().out
    assert main(["card", str(path), "--real-conditions", str(real), "--save", "--format", "rst",
                 "-o", str(tmp_path / "card.rst")]) == 0
    text = (tmp_path / "card.rst").read_text()
    assert "Real conditions\n---------------" in text and "+0.01, 0.33 / +0.02, 0.67" in text
    # Stored in the model file: the plain card shows it from now on.
    assert "+0.01, 0.33 / +0.02, 0.67" in model_card(path)
    assert main(["card", str(path), "--save"]) == 1


def test_card_of_a_psf_aware_model_shows_its_ranges_and_the_floor():
    from picasso.nn.transforms import InputTransform

    config = tiny_config(conditions=("psf_fwhm", "redshift"))
    observing = {"psf_fwhm": "1.43 arcsec", "psf_fwhm_range": ["0.9 arcsec", "2.2 arcsec"],
                 "redshift": 0.05, "redshift_range": [0.02, 0.15], "truth_deposit": "kernel"}
    model = Model(UNet(config), InputTransform(bands=config.in_bands,
                                               conditions=config.conditions),
                  image_size=16, trained=True,
                  info={"training_data": {"generator": json.dumps({"observing": observing})}})
    stats = {"picasso": {"n": 8, "mu": 0.02, "sigma": 0.2}, "bell03": {"mu": 0.1, "sigma": 0.4},
             "oracle": {"mu": 0.03, "sigma": 0.09}}
    evaluation = {**EVALUATION, "settings": {"k": 2.0, "estimate": "mean"},
                  "comparison": {"circle": {"all": stats}}}
    card = model_card(model, evaluation=evaluation)
    assert "| observing psf_fwhm | 0.9 arcsec - 2.2 arcsec, drawn per galaxy |" in card
    assert "| observing redshift | 0.02 - 0.15, drawn per galaxy |" in card
    assert "seeing 0.9 arcsec-2.2 arcsec, redshift 0.02-0.15" in card
    assert "maps are expected values" in card
    assert "| circle | all | 8 | +0.020 / 0.200 | +0.100 / 0.400 |  | +0.030 / 0.090 |" in card
    # a model not told the PSF is told to match it instead
    assert "must be matched to the training PSF (1.0 kpc)" in model_card(make_model())


def test_card_states_the_training_universe_mass_scale():
    model = make_model()
    model.info["training_data"]["generator"] = json.dumps(
        {"universe": {"seed": 3, "mass_scale_offset": 0.25}, "observing": {}})
    card = model_card(model)
    assert "| universe mass_scale_offset | 0.25 |" in card
    # written before the quenched fraction had its own mass scale: it was read at the same
    assert "| universe quenched_mass_scale_offset | 0.25 |" in card
    assert "0.25 dex above the masses observers infer" in card
    assert "0.6 mag fainter" not in card
    model.info["training_data"]["generator"] = json.dumps(
        {"universe": {"seed": 3, "mass_scale_offset": 0.25, "quenched_mass_scale_offset": 0.15},
         "observing": {}})
    assert "| universe quenched_mass_scale_offset | 0.15 |" in model_card(model)


def test_card_states_the_command_and_devices_that_trained_the_model():
    model = make_model()
    assert "| trained on |" not in model_card(model)
    model.info["recipe"] = {"command": "python tools/train_default_model.py --device cuda",
                            "train_devices": ["cuda:0"]}
    card = model_card(model)
    assert "| command | ``python tools/train_default_model.py --device cuda`` |" in card
    assert "| trained on | cuda:0 |" in card
