import astropy.units as u
import h5py
import numpy as np
import pytest
from astropy.tests.helper import assert_quantity_allclose
from numpy.testing import assert_allclose, assert_array_equal
from test_maps import make_maps

from picasso import GalaxyCutout
from picasso.io.dataset import DatasetWriter, PairDataset

N = 32


def make_pair(rng, scale=0.5 * u.kpc):
    cutout = GalaxyCutout(rng.random((5, N, N)) * u.nanomaggy, pixel_scale=scale, redshift=0.05)
    return cutout, make_maps((N, N), pixel_scale=scale)


def write(path, rng, n=3, **kwargs):
    with DatasetWriter(path, image_size=N, attrs={"seed": 7}, **kwargs) as writer:
        for galaxy in range(n):
            cutout, truth = make_pair(rng)
            writer.append(cutout, truth, galaxy_id=galaxy, view=galaxy % 2, seed=galaxy,
                          ellipticity=0.25 * u.one)
    return path


def test_round_trip(tmp_path, rng):
    path = write(tmp_path / "pairs.h5", rng)
    assert not (tmp_path / "pairs.h5.partial").exists()
    dataset = PairDataset(path)
    assert len(dataset) == 3
    item = dataset[1]
    assert item["image"].shape == (5, N, N) and item["truth"].shape == (7, N, N)
    table = dataset.table
    assert table["galaxy_id"].tolist() == [0, 1, 2]
    truth = make_maps((N, N))
    assert_quantity_allclose(table["total_stellar_mass"][0], truth.total("stellar_mass"))
    assert_quantity_allclose(table["r_half_kpc"], [5, 5, 5] * u.kpc)
    assert_quantity_allclose(dataset.truth_maps(0).total("sfr"), truth.total("sfr"), rtol=1e-5)
    assert_array_equal(dataset.truth_maps(0).empty("sfr"), truth.empty("sfr"))
    cutout = dataset.cutout(2)
    assert cutout.pixel_scale_kpc == 0.5 * u.kpc and cutout.redshift == 0.05


def test_band_and_property_selection_and_subset(tmp_path, rng):
    path = write(tmp_path / "pairs.h5", rng)
    full = PairDataset(path)
    chosen = PairDataset(path, bands="gr", properties=["gas_mass", "sfr"])
    assert_array_equal(chosen[0]["image"], full[0]["image"][1:3])
    assert_array_equal(chosen[0]["truth"], full[0]["truth"][[4, 3]])
    sub = full.subset([2, 0])
    assert len(sub) == 2 and sub[0]["index"] == 2
    assert sub.table["galaxy_id"].tolist() == [2, 0]
    with pytest.raises(ValueError, match="unknown band"):
        PairDataset(path, bands=["q"])


def test_resume_after_interruption_matches_straight_build(tmp_path):
    straight = write(tmp_path / "straight.h5", np.random.default_rng(1), n=4)
    path = tmp_path / "resumed.h5"
    rng = np.random.default_rng(1)
    with pytest.raises(RuntimeError):
        with DatasetWriter(path, image_size=N, attrs={"seed": 7}) as writer:
            for galaxy in range(4):
                if galaxy == 2:
                    raise RuntimeError("killed")
                cutout, truth = make_pair(rng)
                writer.append(cutout, truth, galaxy_id=galaxy, view=galaxy % 2, seed=galaxy,
                              ellipticity=0.25 * u.one)
    assert not path.exists() and (tmp_path / "resumed.h5.partial").exists()
    with pytest.raises(FileNotFoundError, match="unfinished build"):
        PairDataset(path)
    with pytest.raises(ValueError, match="cannot resume.*seed"):
        DatasetWriter(path, image_size=N, attrs={"seed": 8}, resume=True)
    with DatasetWriter(path, image_size=N, attrs={"seed": 7}, resume=True) as writer:
        assert len(writer) == 2
        for galaxy in range(2, 4):
            cutout, truth = make_pair(rng)
            writer.append(cutout, truth, galaxy_id=galaxy, view=galaxy % 2, seed=galaxy,
                          ellipticity=0.25 * u.one)
    a, b = PairDataset(straight), PairDataset(path)
    for i in range(4):
        assert_array_equal(a[i]["image"], b[i]["image"])
        assert_array_equal(a[i]["truth"], b[i]["truth"])
    assert_allclose(a.table["total_gas_mass"].value, b.table["total_gas_mass"].value)


def test_writer_rejects_bad_pairs(tmp_path, rng):
    cutout, truth = make_pair(rng)
    with pytest.raises(FileExistsError):
        write(tmp_path / "x.h5", rng)
        DatasetWriter(tmp_path / "x.h5", image_size=N)
    writer = DatasetWriter(tmp_path / "y.h5", image_size=N)
    with pytest.raises(ValueError, match="lacks the column"):
        writer.append(cutout, truth, galaxy_id=0, view=0)
    with pytest.raises(ValueError, match="image shape"):
        writer.append_arrays(np.zeros((5, 8, 8)), np.zeros((7, N, N)), {})
    with pytest.raises(ValueError, match="must be finite"):
        writer.append_arrays(np.full((5, N, N), np.nan), np.zeros((7, N, N)), {})
    with pytest.raises(ValueError, match="cutout bands"):
        writer.append(cutout.select_bands("gri"), truth, galaxy_id=0, view=0, seed=0)
    with pytest.raises(ValueError, match="no pairs were written"):
        writer.close()


def test_reader_rejects_malformed_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        PairDataset(tmp_path / "nothing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(OSError, match="not a readable HDF5"):
        PairDataset(junk)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["x"] = np.ones(3)
    with pytest.raises(ValueError, match="not a picasso pair dataset"):
        PairDataset(other)
    with h5py.File(other, "a") as handle:
        handle.attrs["format"] = "picasso-pairs"
    with pytest.raises(ValueError, match="lacks the dataset"):
        PairDataset(other)


def test_read_batch_equals_items(tmp_path, rng):
    path = write(tmp_path / "pairs.h5", rng, n=6)
    for dataset in (PairDataset(path), PairDataset(path, bands="gr", properties=["sfr"]),
                    PairDataset(path).subset([5, 1, 2, 3])):
        items = [3, 0, 1, 1, 2] if len(dataset) > 4 else [2, 3, 0, 0]
        batch = dataset.read_batch(items)
        assert batch["image"].dtype == np.float32
        for row, item in enumerate(items):
            assert_array_equal(batch["image"][row], dataset[item]["image"])
            assert_array_equal(batch["truth"][row], dataset[item]["truth"])
            assert batch["index"][row] == dataset[item]["index"]
    assert PairDataset(path).read_batch([])["image"].shape == (0, 5, N, N)
    with pytest.raises(IndexError):
        PairDataset(path).read_batch([6])


@pytest.mark.parametrize("compression, shuffle, stored", [
    ("lzf", None, True), ("lzf", False, False), (None, None, False)])
def test_compressed_chunks_are_byte_shuffled(tmp_path, compression, shuffle, stored):
    reference = write(tmp_path / "reference.h5", np.random.default_rng(2), compression=None)
    path = write(tmp_path / "pairs.h5", np.random.default_rng(2), compression=compression,
                 shuffle=shuffle)
    with h5py.File(reference, "r") as a, h5py.File(path, "r") as b:
        for name in ("images", "truth"):
            assert b[name].compression == compression
            assert b[name].shuffle == stored
            assert_array_equal(a[name][...], b[name][...])


@pytest.mark.parametrize("compression", ["lzf", None])
def test_append_file_joins_datasets(tmp_path, compression):
    whole = write(tmp_path / "whole.h5", np.random.default_rng(1), n=5)
    rng = np.random.default_rng(1)
    first = write(tmp_path / "first.h5", rng, n=2)
    second = write(tmp_path / "second.h5", rng, n=3)
    # the second file's galaxies are galaxies 2-4 of the whole
    with h5py.File(second, "a") as handle:
        table = handle["galaxies"][...]
        table["galaxy_id"] += 2
        table["view"] = table["galaxy_id"] % 2
        table["seed"] += 2
        handle["galaxies"][...] = table
    joined = tmp_path / "joined.h5"
    # lzf chunks are copied as they are; into an uncompressed file they are decoded
    with DatasetWriter(joined, image_size=N, attrs={"seed": 7},
                       compression=compression) as writer:
        assert writer.append_file(first) == 2
        assert writer.append_file(second, skip=1) == 2
        assert writer.append_file(second, skip=3) == 0
    with h5py.File(whole, "r") as a, h5py.File(joined, "r") as b:
        for name in ("images", "truth", "galaxies"):
            assert_array_equal(a[name][[0, 1, 3, 4]], b[name][...])
        assert b.attrs["n_complete"] == 4
        assert b["galaxies"].attrs["units"] == a["galaxies"].attrs["units"]
    with pytest.raises(ValueError, match="bands"):
        with DatasetWriter(tmp_path / "other.h5", image_size=N, bands="gr") as writer:
            writer.append_file(first)
