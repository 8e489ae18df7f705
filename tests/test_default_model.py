"""The model bundled in picasso/data: documented by its header, usable with no arguments."""

import warnings

import astropy.units as u
import numpy as np
import pytest

from picasso.analysis import aperture_totals, fit_geometry
from picasso.mock.observe import observe, prepare
from picasso.mock.universe import Universe
from picasso.nn import loading
from picasso.nn.diagnostics import STATISTICS_KEY, PicassoOODWarning
from picasso.nn.loading import default_model
from picasso.studies import model_card, training_observing

#: Universe seed of held-out galaxies: the bundled model was trained on seed 1.
HELD_OUT_SEED = 3


@pytest.fixture(scope="module")
def model():
    return default_model()


def test_the_header_records_recipe_data_and_held_out_metrics(model):
    assert model.trained and model.bands == ("u", "g", "r", "i", "z")
    assert len(model.properties) == 7
    recipe = model.info["recipe"]
    assert recipe["command"].startswith("python tools/train_default_model.py")
    assert recipe["dataset"]["universe_seed"] == 1
    assert model.info["split"]["n_pairs"]["test"] > 0
    evaluation = model.info["evaluation"]["per_galaxy"]["properties"]["stellar_mass"]
    assert 0 < evaluation["sigma"] < 1
    assert STATISTICS_KEY in model.info and model.info.get("picasso_version")
    # trained across SDSS's redshifts and seeings, told each image's PSF and redshift
    low, high = recipe["dataset"]["redshift_range"]
    assert low < model.reference_redshift < high
    assert model.config.conditions == ("psf_fwhm", "redshift")
    # totals and intervals calibrated on the validation galaxies
    assert set(model.info["mean_correction"]) <= set(model.properties)
    assert 0.5 < model.info["uncertainty_scale"]["stellar_mass"] < 2
    # the uncertainty head's calibration on the held-out pairs is in the header
    assert model.config.heteroscedastic
    calibration = {row["property"]: row for row in model.info["calibration"]}
    assert set(calibration) == set(model.properties)
    assert all(0.5 < row["coverage"] < 0.9 for row in calibration.values())
    assert "Held-out accuracy" in model_card(model)


def test_predict_with_no_model_argument_on_a_held_out_galaxy(model):
    config = training_observing(model)
    assert config is not None and config.noise == "sky"
    galaxy = prepare(Universe(HELD_OUT_SEED).particles(2), config)
    cutout, truth = observe(galaxy, config, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PicassoOODWarning)
        maps = cutout.predict()
    assert maps.shape == cutout.shape and maps["stellar_mass"].unit == u.Msun / u.kpc**2
    assert maps.pixel_scale == cutout.pixel_scale_kpc
    assert not maps.meta["ood"]["out_of_distribution"]
    assert set(maps.uncertainty) == set(model.properties)
    assert np.all(maps.uncertainty["stellar_mass"] > 0)
    geometry = fit_geometry(truth["stellar_mass"], pixel_scale=truth.pixel_scale)
    true_total = aperture_totals(truth, geometry, properties=["stellar_mass"])["stellar_mass"][0]
    predicted = aperture_totals(maps, geometry, properties=["stellar_mass"],
                                mask=truth)["stellar_mass"][0]
    assert abs(np.log10((predicted / true_total).to_value(u.one))) < 0.5


def test_the_command_line_and_load_model_know_it_as_default(model, tmp_path):
    from picasso import load_model
    from picasso.cli import main
    from picasso.maps import PropertyMaps

    assert load_model("default").header == model.header
    config = training_observing(model)
    cutout, _ = observe(prepare(Universe(HELD_OUT_SEED).particles(2), config), config, seed=11)
    cutout.write(tmp_path / "galaxy.fits")
    assert main(["predict", "default", str(tmp_path / "galaxy.fits"), "-o", str(tmp_path / "maps"),
                 "--no-progress"]) == 0
    (written,) = (tmp_path / "maps").glob("*.fits")
    assert PropertyMaps.read(written).properties == model.properties


def test_a_missing_bundled_file_is_reported(monkeypatch):
    monkeypatch.setattr(loading, "BUNDLED_MODEL", loading.BUNDLED_MODEL.with_name("missing"))
    with pytest.raises(RuntimeError, match="bundled"):
        default_model()
