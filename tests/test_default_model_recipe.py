"""The default model's recipe script and the accuracy benchmark's entry checks."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(relative):
    spec = importlib.util.spec_from_file_location(Path(relative).stem, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipe_defaults_and_smoke_overrides():
    recipe = _load("tools/train_default_model.py")
    args = recipe.parse_args([])
    assert (args.galaxies, args.views, args.size, args.base_width, args.depth) == (
        recipe.RECIPE["galaxies"], 4, 64, 16, 4)
    assert args.output == ROOT / "picasso" / "data" / "model.safetensors"
    smoke = recipe.parse_args(["--smoke", "--epochs", "2"])
    assert smoke.galaxies == recipe.SMOKE["galaxies"] and smoke.size == recipe.SMOKE["size"]
    assert smoke.epochs == 2  # an explicit flag beats the smoke size
    assert smoke.output == smoke.work_dir / "model.safetensors"
    assert smoke.output != args.output  # a smoke run never replaces the bundled model


def test_benchmark_refuses_without_a_model(monkeypatch):
    bench = _load("benchmarks/bench_accuracy.py")
    import picasso.nn.loading as loading

    def no_model():
        raise RuntimeError("no trained model is bundled with picasso yet")

    monkeypatch.setattr(loading, "default_model", no_model)
    with pytest.raises(SystemExit, match="no model to benchmark.*--model PATH"):
        bench.main(["--galaxies", "1"])


def test_recorded_command_keeps_no_machine_paths(tmp_path):
    recipe = _load("tools/train_default_model.py")
    work = tmp_path / "scratch"
    arguments = ["--work-dir", str(work), "--output", str(work / "model.safetensors"),
                 "--galaxies", "10", "--sky", "/elsewhere/frames"]
    assert recipe.portable_arguments(arguments, work) == [
        "--work-dir", "WORK_DIR", "--output", "WORK_DIR/model.safetensors",
        "--galaxies", "10", "--sky", "frames"]


def test_bundled_header_holds_no_absolute_paths():
    import json

    from safetensors import safe_open

    with safe_open(str(ROOT / "picasso" / "data" / "model.safetensors"), "pt") as handle:
        header = handle.metadata()["picasso"]
    strings = []

    def collect(value):
        if isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)
        elif isinstance(value, str):
            strings.append(value)

    collect(json.loads(header))
    # a unit such as "solMass / kpc2" is not a path; "/root/run" is
    assert not [text for text in strings if re.search(r"(?:^|\s)/\w", text)]


def test_a_finished_gpu_run_is_evaluated_on_a_machine_without_one(tmp_path, monkeypatch):
    import json

    import torch

    recipe = _load("tools/train_default_model.py")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for epoch, expected in ((24, "cpu"), (23, "cuda")):
        torch.save({"epoch": epoch, "train_config": json.dumps({"epochs": 24})},
                   tmp_path / "checkpoint.pt")
        # finished: nothing left to train, the CPU evaluates; unfinished: it needs the GPU
        assert recipe.finishing_device("cuda", tmp_path) == expected
    assert recipe.finishing_device("cpu", tmp_path) == "cpu"


def test_recipe_refuses_pairs_another_universe_rendered(tmp_path, caplog):
    import json

    from picasso.mock.build import renderer_fingerprint

    recipe = _load("tools/train_default_model.py")

    class Pairs:
        def __init__(self, generator):
            self.attrs = {} if generator is None else {"generator": json.dumps(generator).encode()}

    path = tmp_path / "train.h5"
    recipe.check_rendered_here(Pairs({"renderer": renderer_fingerprint()}), path)
    with pytest.raises(SystemExit, match="rendered by other picasso code.*fresh --work-dir"):
        recipe.check_rendered_here(Pairs({"renderer": "0" * 40}), path)
    with caplog.at_level("WARNING"):
        recipe.check_rendered_here(Pairs(None), path)
    assert "does not record the code that rendered it" in caplog.text
