"""Dataset builds: round trips, determinism, resuming, the command line.

The authors' layouts are tested in test_authors.py.
"""

import json
import multiprocessing
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import astropy.units as u
import h5py
import numpy as np
import pytest
from helpers_mock import small_config, small_universe
from numpy.testing import assert_allclose, assert_array_equal

from picasso.cli import main
from picasso.io.dataset import DatasetWriter, PairDataset
from picasso.mock import build
from picasso.properties import LOG10_EMPTY, PROPERTIES


def _build(path, n=3, views=2, **kwargs):
    return build.build_dataset(
        path,
        n,
        image_size=32,
        seed=0,
        views=views,
        config=small_config(),
        processes=kwargs.pop("processes", 1),
        progress=False,
        universe=small_universe(0),
        **kwargs,
    )


def _contents(path):
    with h5py.File(path, "r") as handle:
        return (
            handle["images"][...],
            handle["truth"][...],
            handle["galaxies"][...],
            dict(handle.attrs),
        )


def _assert_same_file(a, b):
    images_a, truth_a, table_a, attrs_a = _contents(a)
    images_b, truth_b, table_b, attrs_b = _contents(b)
    assert_array_equal(images_a, images_b)
    assert_array_equal(truth_a, truth_b)
    assert_array_equal(table_a, table_b)
    assert attrs_a["generator"] == attrs_b["generator"]


def test_round_trip(tmp_path):
    path = _build(tmp_path / "pairs.h5")
    dataset = PairDataset(path)
    assert len(dataset) == 6
    assert dataset.image_size == 32
    table = dataset.table
    assert_array_equal(table["galaxy_id"], [0, 0, 1, 1, 2, 2])
    assert_array_equal(table["view"], [0, 1, 0, 1, 0, 1])
    pairs = build.galaxy_pairs(small_universe(0), 1, small_config(), views=2)
    image, truth, row = pairs[1]
    assert_array_equal(dataset[3]["image"], image)
    assert_array_equal(dataset[3]["truth"], truth)
    assert_allclose(table["r_half_kpc"][3].to_value(u.kpc), row["r_half_kpc"].value)
    # the code that rendered the pairs is recorded, so stale pairs can be told apart
    generator = json.loads(dataset.attrs["generator"])
    assert generator["renderer"] == build.renderer_fingerprint()
    maps = dataset.truth_maps(3)
    assert_allclose(
        maps.total("stellar_mass").value, table["total_stellar_mass"][3].to_value(u.Msun), rtol=1e-5
    )
    assert np.all(dataset[0]["truth"][PROPERTIES.index("stellar_mass")] >= LOG10_EMPTY)


def test_galaxy_pairs_are_the_observed_cutouts_and_maps():
    """The build's arrays are the images, log10 maps and totals of `observe_views`' objects."""
    from picasso.mock.observe import observe_views

    universe, config = small_universe(0), small_config()
    pairs = build.galaxy_pairs(universe, 1, config, views=2)
    streams = universe.seed_sequence(1).spawn(build.OBSERVING_STREAM + 1)
    observed = observe_views(
        universe.particles(1), build.galaxy_observing(config, streams[build.OBSERVING_STREAM]),
        seed=streams[build.VIEW_STREAM], views=2)
    for (image, truth_log10, row), (cutout, truth) in zip(pairs, observed):
        assert_array_equal(image, cutout.flux.to_value(u.nanomaggy).astype(np.float32))
        assert_array_equal(truth_log10, truth.to_log10())
        expected = {
            "pixel_scale_kpc": truth.pixel_scale,
            "r_half_kpc": truth.r_half.value,
            "r_half_3d_kpc": truth.meta["r_half_3d"].to(u.kpc),
            "fov_kpc": truth.meta["fov"].to(u.kpc),
            "inclination_deg": truth.meta["inclination"] * u.deg,
            "psf_fwhm_pixels": float(np.max(cutout.psf_fwhm_pixels)),
            "noise_rms_r": cutout.meta["noise_rms_native"][list(cutout.bands).index("r")],
        }
        expected.update({f"total_{name}": truth.total(name) for name in PROPERTIES.names})
        for key, value in expected.items():
            assert u.Quantity(row[key]).unit == u.Quantity(value).unit, key
            assert_allclose(u.Quantity(row[key]).value, u.Quantity(value).value, rtol=1e-14,
                            err_msg=key)


def test_resume_after_interruption_gives_the_same_file(tmp_path, monkeypatch):
    reference = _build(tmp_path / "reference.h5")
    original = build.galaxy_pairs

    def failing(universe, index, config, views=4):
        if index == 2:
            raise RuntimeError("killed")
        return original(universe, index, config, views)

    monkeypatch.setattr(build, "galaxy_pairs", failing)
    target = tmp_path / "resumed.h5"
    with pytest.raises(RuntimeError):
        _build(target)
    partial = tmp_path / "resumed.h5.partial"
    assert partial.exists() and not target.exists()
    # pretend the process died half-way through galaxy 1 (one of its two views written)
    with h5py.File(partial, "a") as handle:
        handle.attrs["n_complete"] = 3
    monkeypatch.setattr(build, "galaxy_pairs", original)
    _build(target, resume=True)
    _assert_same_file(reference, target)


def _skip_without_default_signal_handlers():
    """The tests that raise signals need the build to install its own handlers."""
    if not (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    ):
        pytest.skip("SIGINT and SIGTERM are handled by the test runner, not by default")


def test_sigterm_stops_the_build_and_keeps_a_resumable_file(tmp_path, monkeypatch):
    _skip_without_default_signal_handlers()
    reference = _build(tmp_path / "reference.h5")
    original = build.galaxy_pairs

    def terminated(universe, index, config, views=4):
        if index == 2:
            signal.raise_signal(signal.SIGTERM)
        return original(universe, index, config, views)

    monkeypatch.setattr(build, "galaxy_pairs", terminated)
    target = tmp_path / "resumed.h5"
    with pytest.raises(build.BuildInterrupted) as info:
        _build(target)
    interrupted = info.value
    assert isinstance(interrupted, KeyboardInterrupt)
    assert interrupted.signum == signal.SIGTERM and interrupted.signal_name == "SIGTERM"
    assert (interrupted.n_pairs, interrupted.n_total) == (4, 6)
    assert interrupted.partial_path == tmp_path / "resumed.h5.partial"
    assert "resume=True" in str(interrupted)
    assert interrupted.partial_path.exists() and not target.exists()
    # the build's handlers are gone again
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setattr(build, "galaxy_pairs", original)
    _build(target, resume=True)
    _assert_same_file(reference, target)


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="workers must inherit the patched function"
)
def test_a_failing_worker_stops_the_build_and_its_workers(tmp_path, monkeypatch):
    original = build.galaxy_pairs

    def failing(universe, index, config, views=4):
        if index == 1:
            raise RuntimeError("galaxy 1 failed")
        return original(universe, index, config, views)

    # the forked workers inherit the patched function
    monkeypatch.setattr(build, "galaxy_pairs", failing)
    with pytest.raises(RuntimeError, match="galaxy 1 failed"):
        _build(tmp_path / "pairs.h5", n=4, processes=2)
    assert multiprocessing.active_children() == []
    with h5py.File(tmp_path / "pairs.h5.partial", "r") as handle:
        assert handle.attrs["n_complete"] == 2


def _zeros(size):
    return bytes(size)


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="workers must inherit this module"
)
def test_stopping_workers_half_way_through_a_result_does_not_hang():
    # Results of tens of MB (a 256 x 256 galaxy is 12 MB) take a while to go through the
    # pipe; workers killed during a send used to leave the executor waiting for the rest.
    for _ in range(3):
        executor = ProcessPoolExecutor(2, initializer=build._init_worker)
        futures = [executor.submit(_zeros, 32_000_000) for _ in range(6)]
        wait(futures, return_when=FIRST_COMPLETED)  # results are on their way
        stopping = threading.Thread(target=build._stop_workers, args=(executor,), daemon=True)
        stopping.start()
        stopping.join(20)
        if stopping.is_alive():
            executor._result_queue._writer.close()  # let the test run end
            pytest.fail("stopping the workers hung")
        assert multiprocessing.active_children() == []


def test_a_signal_never_interrupts_the_writing_of_a_galaxy(tmp_path, monkeypatch):
    _skip_without_default_signal_handlers()
    original = DatasetWriter.append_arrays
    calls = []

    def append_arrays(self, image, truth_log10, row):
        calls.append(row["view"])
        if len(calls) == 1:
            signal.raise_signal(signal.SIGINT)
        return original(self, image, truth_log10, row)

    monkeypatch.setattr(DatasetWriter, "append_arrays", append_arrays)
    with pytest.raises(build.BuildInterrupted) as info:
        _build(tmp_path / "pairs.h5", views=3)
    # the signal came with the first view; all three views of galaxy 0 were written
    assert info.value.signum == signal.SIGINT
    assert info.value.n_pairs == 3 and calls == [0, 1, 2]
    with h5py.File(tmp_path / "pairs.h5.partial", "r") as handle:
        assert handle.attrs["n_complete"] == 3 and len(handle["images"]) == 3


def test_a_second_signal_is_not_held_back(tmp_path, monkeypatch):
    _skip_without_default_signal_handlers()
    original = DatasetWriter.append_arrays

    def append_arrays(self, image, truth_log10, row):
        signal.raise_signal(signal.SIGINT)  # held back: a galaxy is being written
        signal.raise_signal(signal.SIGINT)  # Ctrl-C again: stop now
        return original(self, image, truth_log10, row)

    monkeypatch.setattr(DatasetWriter, "append_arrays", append_arrays)
    with pytest.raises(KeyboardInterrupt) as info:
        _build(tmp_path / "pairs.h5")
    assert not isinstance(info.value, build.BuildInterrupted)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with h5py.File(tmp_path / "pairs.h5.partial", "r") as handle:
        assert handle.attrs["n_complete"] == 0


def test_a_signal_while_the_file_is_closed_comes_after_it(tmp_path, monkeypatch):
    _skip_without_default_signal_handlers()
    original = DatasetWriter.close

    def close(self):
        signal.raise_signal(signal.SIGINT)
        return original(self)

    monkeypatch.setattr(DatasetWriter, "close", close)
    with pytest.raises(KeyboardInterrupt) as info:
        _build(tmp_path / "pairs.h5", n=1)
    # the dataset was finished, then Ctrl-C met Python's own handler
    assert not isinstance(info.value, build.BuildInterrupted)
    assert len(PairDataset(tmp_path / "pairs.h5")) == 2
    assert not (tmp_path / "pairs.h5.partial").exists()


def test_interrupted_command_line(tmp_path, monkeypatch, capsys):
    def interrupted(path, *args, **kwargs):
        raise build.BuildInterrupted(signal.SIGTERM, tmp_path / "cli.h5.partial", 8, 40)

    (tmp_path / "cli.h5.partial").touch()
    monkeypatch.setattr(build, "build_dataset", interrupted)
    status = main(["simulate", "-n", "10", "-o", str(tmp_path / "cli.h5"), "--no-progress"])
    assert status == 143
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "interrupted by SIGTERM after 8 of 40 pairs" in captured.err
    assert "--resume" in captured.err


def test_command_line_reports_what_it_wrote(tmp_path, capsys):
    def simulate(n, views, output):
        arguments = ["simulate", "-n", str(n), "--views", str(views), "--size", "32"]
        assert main([*arguments, "--processes", "1", "--no-progress", "-o", str(output)]) == 0
        return capsys.readouterr()

    output = tmp_path / "two.h5"
    captured = simulate(2, 2, output)
    assert captured.out == f"wrote 4 pairs (2 galaxies x 2 views, 32 x 32 px) to {output}\n"
    assert captured.err == ""
    output = tmp_path / "one.h5"
    captured = simulate(1, 1, output)
    assert captured.out == f"wrote 1 pair (1 galaxy x 1 view, 32 x 32 px) to {output}\n"


def test_two_processes_give_the_same_file(tmp_path):
    one = _build(tmp_path / "one.h5", n=2)
    two = _build(tmp_path / "two.h5", n=2, processes=2)
    _assert_same_file(one, two)


def test_command_line(tmp_path):
    output = tmp_path / "cli.h5"
    status = main(
        [
            "simulate",
            "-n",
            "1",
            "--size",
            "32",
            "--views",
            "1",
            "--processes",
            "1",
            "--no-progress",
            "-o",
            str(output),
        ]
    )
    assert status == 0
    dataset = PairDataset(output)
    assert len(dataset) == 1 and dataset.image_size == 32
    assert main(["simulate", "-n", "1", "--size", "32", "-o", str(output), "--no-progress"]) == 1


def test_bad_build_arguments(tmp_path):
    with pytest.raises(ValueError):
        build.build_dataset(tmp_path / "x.h5", 0, progress=False)
    with pytest.raises(ValueError):
        build.build_dataset(tmp_path / "x.h5", 1, config="hubble", progress=False)



def test_shards_give_the_same_file(tmp_path):
    # in this process, in worker processes, one shard per galaxy or two galaxies per shard
    one = _build(tmp_path / "one.h5", n=4)
    shards = _build(tmp_path / "shards.h5", n=4, shard_size=3)
    two = _build(tmp_path / "two.h5", n=4, processes=2, shard_size=2)
    _assert_same_file(one, shards)
    _assert_same_file(one, two)
    assert not (tmp_path / "two.h5.shards").exists()
    assert build.default_shard_size(4, 2) == 1 and build.default_shard_size(10_000, 16) == 64
    assert build._shard_ranges(3, 10, 4) == [(3, 4), (4, 8), (8, 10)]


def test_an_interrupted_sharded_build_keeps_its_shards(tmp_path, monkeypatch):
    reference = _build(tmp_path / "reference.h5", n=5)
    original = build.galaxy_pairs

    def failing(universe, index, config, views=4):
        if index == 3:
            raise RuntimeError("killed")
        return original(universe, index, config, views)

    monkeypatch.setattr(build, "galaxy_pairs", failing)
    target = tmp_path / "resumed.h5"
    with pytest.raises(RuntimeError):
        _build(target, n=5, shard_size=2)
    shards = tmp_path / "resumed.h5.shards"
    # shard 0-1 was joined (and deleted), shard 2-3 stopped after galaxy 2
    with h5py.File(tmp_path / "resumed.h5.partial", "r") as handle:
        assert handle.attrs["n_complete"] == 4
    assert not (shards / "galaxies-0000000-0000002.h5").exists()
    with h5py.File(shards / "galaxies-0000002-0000004.h5.partial", "r") as handle:
        assert handle.attrs["n_complete"] == 2

    def done_already(universe, index, config, views=4):
        assert index >= 3, f"galaxy {index} was rendered again"
        return original(universe, index, config, views)

    # the resumed build keeps the recorded shard size and renders galaxies 3 and 4 only
    monkeypatch.setattr(build, "galaxy_pairs", done_already)
    _build(target, n=5, resume=True, processes=1, shard_size=None)
    _assert_same_file(reference, target)
    assert not shards.exists()


def test_a_shard_of_another_build_is_not_reused(tmp_path):
    reference = _build(tmp_path / "reference.h5", n=2)
    # a finished shard of another universe, where this build puts its galaxies 0-1
    shards = tmp_path / "target.h5.shards"
    other = build.build_dataset(tmp_path / "other.h5", 2, image_size=32, seed=1, views=2,
                                config=small_config(), processes=1, progress=False,
                                universe=small_universe(1))
    shards.mkdir()
    other.rename(shards / "galaxies-0000000-0000002.h5")
    target = _build(tmp_path / "target.h5", n=2, shard_size=2, resume=True)
    _assert_same_file(reference, target)


def test_a_build_on_dask(tmp_path):
    distributed = pytest.importorskip("distributed")
    reference = _build(tmp_path / "reference.h5", n=3)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=":0") as client:
        target = _build(tmp_path / "dask.h5", n=3, scheduler=client, shard_size=2)
        assert client.status == "running"  # a client it was given stays open
    _assert_same_file(reference, target)


def test_renderer_fingerprint_follows_the_code_not_the_version_or_weights(tmp_path):
    package = tmp_path / "picasso"
    (package / "mock").mkdir(parents=True)
    (package / "data").mkdir()
    (package / "mock" / "realise.py").write_text("SHARE = 1.0\n")
    (package / "data" / "bc03_sdss_ssp.fits").write_bytes(b"table")
    first = build.renderer_fingerprint(package)
    assert len(first) == 40 and first == build.renderer_fingerprint(package)
    # an editable install's version file and the model's weights do not render
    (package / "_version.py").write_text("version = '0.2'\n")
    (package / "data" / "model.safetensors").write_bytes(b"weights")
    assert build.renderer_fingerprint(package) == first
    (package / "mock" / "realise.py").write_text("SHARE = 0.5\n")
    assert build.renderer_fingerprint(package) != first
    (package / "mock" / "realise.py").write_text("SHARE = 1.0\n")
    (package / "data" / "bc03_sdss_ssp.fits").write_bytes(b"other table")
    assert build.renderer_fingerprint(package) != first
    assert len(build.renderer_fingerprint()) == 40
