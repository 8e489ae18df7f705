import json

import astropy.units as u
import pytest
import torch
from helpers_nn import tiny_config

import picasso
from picasso.nn.unet import UNet
from picasso.nn.loading import load_model
from picasso.nn.model import Model
from picasso.nn.model_file import MODEL_FILENAME
from picasso.nn.transforms import InputTransform


def _model():
    torch.manual_seed(0)
    network = UNet(tiny_config(heteroscedastic=True)).eval()
    transform = InputTransform(bands=network.config.in_bands, flux_floor=1e-3,
                               reference_redshift=0.05)
    return Model(network, transform, image_size=16, trained=True,
                 info={"seed": 7, "metrics": {"validation_loss": 0.1}})


def test_round_trip_gives_identical_outputs(tmp_path):
    model = _model()
    path = model.save(tmp_path / "tiny.safetensors")
    loaded = picasso.load_model(path)
    x = torch.randn(2, 5, 16, 16)
    with torch.inference_mode():
        assert torch.equal(model.network(x), loaded.network(x))
    assert loaded.config == model.config
    assert loaded.flux_unit == u.nanomaggy and loaded.flux_floor == 1e-3
    assert loaded.image_size == 16 and loaded.trained and loaded.reference_redshift == 0.05
    assert "D_L(0.05)" in loaded.header["input_transform"]["formula"]
    assert loaded.info["seed"] == 7
    header = loaded.header
    assert header["properties"][1]["name"] == "sfr"
    assert u.Unit(header["properties"][1]["unit"]) == u.Msun / u.yr / u.kpc**2
    assert header["pixel_scale_convention"]["field_of_view_r_half"] == 10.0
    # a directory holding model.safetensors loads too
    model.save(tmp_path)
    assert (tmp_path / MODEL_FILENAME).exists()
    assert load_model(tmp_path).config == model.config
    with pytest.raises(FileExistsError):
        model.save(path)


def test_paper_architecture_by_name():
    model = load_model("paper")
    assert not model.trained and model.network.n_parameters == 28_944_327
    assert model.image_size == 256 and model.bands == ("u", "g", "r", "i", "z")
    assert not model.network.training


def test_files_that_are_not_models_fail_clearly(tmp_path):
    path = _model().save(tmp_path / "m.safetensors")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) - 100])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_model(truncated)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "absent.safetensors")
    with pytest.raises(FileNotFoundError, match="holds no model.safetensors"):
        load_model(tmp_path / "empty_dir" if (tmp_path / "empty_dir").mkdir() is None else None)

    from safetensors.torch import save_file

    weights = {k: v.contiguous() for k, v in _model().network.state_dict().items()}
    header = _model().header

    def write(name, metadata, tensors=weights):
        target = tmp_path / name
        save_file(tensors, str(target), metadata=metadata)
        return target

    with pytest.raises(ValueError, match="no 'picasso' header"):
        load_model(write("bare.safetensors", None))
    with pytest.raises(ValueError, match="format_version 99"):
        load_model(write("future.safetensors", {"picasso": json.dumps({**header,
                                                                      "format_version": 99})}))
    with pytest.raises(ValueError, match="bad architecture"):
        bad = {**header, "architecture": {**header["architecture"], "depth": -1}}
        load_model(write("arch.safetensors", {"picasso": json.dumps(bad)}))
    with pytest.raises(ValueError, match="do not fit the architecture"):
        wider = {**header, "architecture": {**header["architecture"], "base_width": 8}}
        load_model(write("wider.safetensors", {"picasso": json.dumps(wider)}))
    with pytest.raises(ValueError, match="not JSON"):
        load_model(write("json.safetensors", {"picasso": "{not json"}))
