"""Dataset builds: round trips, determinism, resuming, the command line; authors' layouts."""

import astropy.units as u
import h5py
import numpy as np
import pytest
from helpers_mock import small_config, small_universe
from numpy.testing import assert_allclose, assert_array_equal

from picasso.cli import main
from picasso.io import authors
from picasso.io.dataset import PairDataset
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
    maps = dataset.truth_maps(3)
    assert_allclose(
        maps.total("stellar_mass").value, table["total_stellar_mass"][3].to_value(u.Msun), rtol=1e-5
    )
    assert np.all(dataset[0]["truth"][PROPERTIES.index("stellar_mass")] >= LOG10_EMPTY)


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


# --------------------------------------------------------------- authors' layouts


def _authors_gt(n=8):
    """Log10 per-pixel totals in the authors' channel order, with empty pixels."""
    rng = np.random.default_rng(0)
    gt = rng.uniform(5.0, 8.0, (7, n, n)).astype(np.float32)
    gt[:, :2, :] = LOG10_EMPTY
    channel = authors.AUTHORS_CHANNELS.index
    # age channel: sum over N = mass / 1.3e6 particles of 8 Gyr each
    mass = gt[channel("stars_Masses")]
    gt[channel("stars_GFM_StellarFormationTime")] = np.where(
        mass > 0, mass - np.log10(1.3e6) + np.log10(8.0), LOG10_EMPTY
    )
    return gt


def test_authors_zarr_layout(tmp_path):
    zarr = pytest.importorskip("zarr")
    store = tmp_path / "test.zarr"
    root = zarr.open_group(str(store), mode="w", zarr_format=2)
    gt = _authors_gt()
    image = np.random.default_rng(1).random((5, 8, 8)).astype(np.float32)
    pair = root.create_group("256").create_group("0")
    pair.create_array("img", data=image)
    pair.create_array("gt", data=gt)
    assert authors.authors_zarr_indices(store) == ["0"]
    arrays = authors.read_authors_zarr(store, 0)
    assert_array_equal(arrays["image"], image)
    truth = arrays["truth"]
    channel = authors.AUTHORS_CHANNELS.index
    assert_allclose(truth[PROPERTIES.index("stellar_mass")], gt[channel("stars_Masses")])
    assert_allclose(truth[PROPERTIES.index("gas_mass")], gt[channel("gas_Masses")])
    age = truth[PROPERTIES.index("stellar_age")]
    assert_allclose(age[2:], np.log10(8.0), rtol=1e-5)
    assert np.all(age[:2] == LOG10_EMPTY)
    cutout, maps = authors.read_authors_zarr(store, 0, pixel_scale=0.5 * u.kpc)
    per_pixel = 10 ** gt[channel("stars_Masses")][2:].astype(float)
    assert_allclose(maps.total("stellar_mass").value, per_pixel.sum(), rtol=1e-5)
    assert cutout.shape == (8, 8)
    with pytest.raises(ValueError, match="no pair"):
        authors.read_authors_zarr(store, 5)
    bad = root["256"].create_group("1")
    bad.create_array("img", data=image)
    bad.create_array("gt", data=gt[:6])
    with pytest.raises(ValueError, match="shaped"):
        authors.read_authors_zarr(store, 1)
    with pytest.raises(ValueError, match="age"):
        authors.read_authors_zarr(store, 0, age="median")


def test_authors_halo_layout(tmp_path):
    gt = _authors_gt()
    psize = 0.4
    path = tmp_path / "halo_123_camera_2_physical_data.h5"
    with h5py.File(path, "w") as handle:
        for index, name in enumerate(authors.AUTHORS_CHANNELS):
            linear = np.where(gt[index] > LOG10_EMPTY / 2, 10.0 ** gt[index], 0.0) / psize**2
            handle.create_dataset(name, data=linear)
            handle[name].attrs["psize"] = psize
    maps = authors.read_authors_halo(path)
    assert maps.meta["halo_id"] == "123" and maps.meta["camera"] == "2"
    assert_allclose(maps.pixel_scale.to_value(u.kpc), psize)
    mass = 10 ** gt[authors.AUTHORS_CHANNELS.index("stars_Masses")][2:].astype(float)
    assert_allclose(maps.total("stellar_mass").value, mass.sum(), rtol=1e-5)
    assert_allclose(maps.total("stellar_age").value, 8.0, rtol=1e-4)
    with h5py.File(path, "a") as handle:
        for name in authors.AUTHORS_CHANNELS:
            del handle[name].attrs["psize"]
    with pytest.raises(ValueError, match="psize"):
        authors.read_authors_halo(path)
    broken = tmp_path / "halo_1_camera_0_physical_data.h5"
    with h5py.File(broken, "w") as handle:
        handle.create_dataset("stars_Masses", data=np.ones((4, 4)))
    with pytest.raises(ValueError, match="lacks"):
        authors.read_authors_halo(broken)
    text = tmp_path / "halo_2_camera_0_physical_data.h5"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match="not an HDF5"):
        authors.read_authors_halo(text)
