"""The PICASSO authors' data layouts (zarr pairs, per-galaxy HDF5) and their ellipse recipe."""

import logging

import astropy.units as u
import h5py
import numpy as np
import pytest
from astropy.cosmology import Planck18
from helpers_analysis import exponential_disc
from numpy.testing import assert_allclose, assert_array_equal

from picasso import GalaxyCutout, PropertyMaps
from picasso.analysis import (
    AUTHORS_ELLIPSE_EPS0,
    AUTHORS_ELLIPSE_PA0,
    authors_geometry,
    fit_geometry,
)
from picasso.io import authors
from picasso.properties import LOG10_EMPTY, PROPERTIES

PARTICLE = 1.26e6  # Msun, the authors' particle mass
CHANNEL = authors.AUTHORS_CHANNELS.index


def angle_difference(a, b):
    """Smallest difference of two axial angles (period 180 deg), in degrees."""
    diff = (a - b).to_value(u.deg) % 180.0
    return min(diff, 180.0 - diff)


# ----------------------------------------------------------------- synthetic truth


def stellar_pixels(n, seed=0):
    """
    Per-pixel totals built from star particles of exactly `PARTICLE` Msun.

    Returns total mass, summed ages, metal mass and the true mean age per
    pixel; the first two rows are empty, and pixel (2, 0) holds three old
    particles that lost most of their mass (0.4e6 Msun each, 12 Gyr): the
    authors' count mass / 1.26e6 gives one particle there, a mean age of
    38 Gyr, older than the universe.
    """
    rng = np.random.default_rng(seed)
    count = rng.integers(1, 6, (n, n))
    count[:2] = 0
    mass = np.zeros((n, n))
    age_sum = np.zeros((n, n))
    metals = np.zeros((n, n))
    for j, i in zip(*np.nonzero(count)):
        ages = rng.uniform(1.0, 12.0, count[j, i])
        metallicity = rng.uniform(0.001, 0.03, count[j, i])
        mass[j, i] = PARTICLE * count[j, i]
        age_sum[j, i] = ages.sum()
        metals[j, i] = (PARTICLE * metallicity).sum()
    mass[2, 0], age_sum[2, 0], metals[2, 0] = 3 * 0.4e6, 3 * 12.0, 3 * 0.4e6 * 0.02
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_age = np.where(mass > 0, age_sum / np.maximum(count, 1), 0.0)
    return {"stars_Masses": mass, "stars_GFM_StellarFormationTime": age_sum,
            "stars_GFM_Metallicity": metals, "mean_age": mean_age}


def log10_or_empty(values):
    with np.errstate(divide="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), LOG10_EMPTY)


def authors_gt(n=8, seed=0):
    """The authors' ``gt``: float32 log10 per-pixel totals, -100 where empty, their order."""
    stars = stellar_pixels(n, seed)
    rng = np.random.default_rng(seed + 1)
    gt = np.full((7, n, n), LOG10_EMPTY, dtype=np.float32)
    for key in ("stars_Masses", "stars_GFM_StellarFormationTime", "stars_GFM_Metallicity"):
        gt[CHANNEL(key)] = log10_or_empty(stars[key])
    for key in ("gas_Masses", "gas_GFM_Metallicity", "gas_NeutralHydrogenAbundance",
                "gas_StarFormationRate"):
        gt[CHANNEL(key), 3:] = rng.uniform(-3.0, 8.0, (n - 3, n))
    return gt, stars


def ln_image(flux):
    """The authors' ``img``: ln(max(flux, 1e-4)) in float32 (their normalize_image)."""
    return np.log(np.clip(flux, 1e-4, None)).astype(np.float32)


def write_zarr(store, pairs, level="0"):
    """An authors' split: ``{store}/{level}/{index}/img|gt``, zarr format 2 as theirs."""
    zarr = pytest.importorskip("zarr")
    root = zarr.open_group(str(store), mode="w", zarr_format=2)
    group = root.create_group(level)
    for index, (img, gt) in pairs.items():
        pair = group.create_group(str(index))
        pair.create_array("img", data=img)
        pair.create_array("gt", data=gt)
    return root


def test_flux_from_ln_image_round_trips_and_counts_the_floor(tmp_path):
    rng = np.random.default_rng(3)
    flux = rng.lognormal(2.0, 3.0, (5, 8, 8))
    flux[0, 0, :4] = [-5.0, 0.0, 1e-6, 1e-4]  # at or below the authors' clip
    gt, _ = authors_gt()
    store = tmp_path / "test.zarr"
    write_zarr(store, {10000: (ln_image(flux), gt)})
    pair = authors.read_authors_zarr(store, 10000)
    image = pair["image"]
    assert image.unit == u.uJy / u.sr and image.dtype == np.float32 and image.shape == (5, 8, 8)
    above = flux > 1e-4 * (1 + 1e-5)
    assert_allclose(image.value[above], flux[above], rtol=2e-6)
    assert_array_equal(image.value[~above], np.float32(1e-4))
    assert pair["clipped_pixels"] == int((~above).sum()) >= 4
    cutout, maps = authors.read_authors_zarr(store, "10000", pixel_scale=0.3 * u.kpc)
    assert isinstance(cutout, GalaxyCutout) and isinstance(maps, PropertyMaps)
    assert cutout.shape == (8, 8)
    assert cutout.meta["clipped_pixels"] == pair["clipped_pixels"]
    assert cutout.meta["flux_floor"] == authors.AUTHORS_FLUX_FLOOR
    nanomaggies = authors.read_authors_zarr(store, 10000, flux_unit=u.nanomaggy)["image"]
    assert nanomaggies.unit == u.nanomaggy
    assert_allclose(nanomaggies.value, image.value)


def test_zarr_truth_keeps_masses_and_mean_ages(tmp_path, caplog):
    gt, stars = authors_gt()
    store = tmp_path / "train.zarr"
    write_zarr(store, {0: (ln_image(np.ones((5, 8, 8))), gt)})
    with caplog.at_level(logging.WARNING, logger="picasso.io.authors"):
        pair = authors.read_authors_zarr(store, 0)
    truth = pair["truth"]
    mass = truth[PROPERTIES.index("stellar_mass")]
    filled = stars["stars_Masses"] > 0
    assert_allclose(10 ** mass[filled].astype(float), stars["stars_Masses"][filled], rtol=1e-5)
    assert np.all(mass[~filled] == LOG10_EMPTY)
    age = truth[PROPERTIES.index("stellar_age")]
    exact = filled.copy()
    exact[2, 0] = False
    assert_allclose(10 ** age[exact].astype(float), stars["mean_age"][exact], rtol=1e-5)
    # the pixel of light old particles would be 38 Gyr old: masked and reported
    assert age[2, 0] == LOG10_EMPTY and pair["impossible_age_pixels"] == 1
    assert "1 of" in caplog.text and "age of the universe" in caplog.text
    gas = truth[PROPERTIES.index("gas_mass")]
    assert_allclose(gas, gt[CHANNEL("gas_Masses")])
    kept = authors.read_authors_zarr(store, 0, impossible_ages="keep")["truth"]
    # 36 Gyr summed over 1.2e6 / 1.26e6 = 0.95 "particles"
    assert_allclose(10 ** float(kept[PROPERTIES.index("stellar_age"), 2, 0]),
                    36.0 / (1.2e6 / PARTICLE), rtol=1e-5)
    with pytest.raises(ValueError, match="age of the universe"):
        authors.read_authors_zarr(store, 0, impossible_ages="raise")
    # per-pixel totals become surface densities with a pixel scale
    _, maps = authors.read_authors_zarr(store, 0, pixel_scale=0.5 * u.kpc / u.pix)
    assert_allclose(maps.total("stellar_mass").to_value(u.Msun), stars["stars_Masses"].sum(),
                    rtol=1e-5)
    assert_allclose(maps["stellar_mass"].value[3, 3], stars["stars_Masses"][3, 3] / 0.25,
                    rtol=1e-5)
    assert maps.empty("stellar_age")[2, 0] and not maps.empty("stellar_mass")[2, 0]
    assert maps.meta["impossible_age_pixels"] == 1


def test_age_limit_follows_the_cosmology(tmp_path):
    from astropy.cosmology import FlatLambdaCDM

    gt, _ = authors_gt()
    young = FlatLambdaCDM(H0=200, Om0=0.3)  # a universe only ~4.6 Gyr old
    truth = authors.authors_truth_to_picasso(gt, cosmology=young)
    age = truth[PROPERTIES.index("stellar_age")]
    filled = age > LOG10_EMPTY / 2
    assert np.all(10 ** age[filled] <= young.age(0).to_value(u.Gyr))
    assert filled.sum() < (authors.authors_truth_to_picasso(gt, cosmology=Planck18)[
        PROPERTIES.index("stellar_age")] > LOG10_EMPTY / 2).sum()
    mean = authors.authors_truth_to_picasso(gt, age="mean", impossible_ages="keep")
    assert_allclose(mean[PROPERTIES.index("stellar_age")],
                    gt[CHANNEL("stars_GFM_StellarFormationTime")])


def test_zarr_errors_say_what_is_wrong(tmp_path):
    gt, _ = authors_gt()
    good = ln_image(np.ones((5, 8, 8)))
    linear = np.full((5, 8, 8), -20.0, dtype=np.float32)
    nan = good.copy()
    nan[0, 0, 0] = np.nan
    store = tmp_path / "test.zarr"
    root = write_zarr(store, {0: (good, gt), 1: (good, gt[:6]), 2: (linear, gt),
                              3: (nan, gt), 4: (good[:4], gt)})
    root["0"].create_group("5").create_array("img", data=good)
    with pytest.raises(ValueError, match="no pair '9'"):
        authors.read_authors_zarr(store, 9)
    with pytest.raises(ValueError, match=r"gt of pair '1' must be shaped \(7, 8, 8\)"):
        authors.read_authors_zarr(store, 1)
    with pytest.raises(ValueError, match=r"below ln\(0.0001\)"):
        authors.read_authors_zarr(store, 2)
    with pytest.raises(ValueError, match="NaN"):
        authors.read_authors_zarr(store, 3)
    with pytest.raises(ValueError, match=r"img of pair '4' must be shaped \(5, N, N\)"):
        authors.read_authors_zarr(store, 4)
    with pytest.raises(ValueError, match="lacks the array"):
        authors.read_authors_zarr(store, 5)
    with pytest.raises(ValueError, match="age must be 'sum'"):
        authors.read_authors_zarr(store, 0, age="median")
    with pytest.raises(ValueError, match="impossible_ages"):
        authors.read_authors_zarr(store, 0, impossible_ages="drop")
    with pytest.raises(ValueError, match="pixel_scale"):
        authors.read_authors_zarr(store, 0, pixel_scale=2 * u.arcsec)
    with pytest.raises(ValueError, match="particle_mass"):
        authors.read_authors_zarr(store, 0, particle_mass=-1 * u.Msun)
    with pytest.raises(ValueError, match="shaped"):
        authors.authors_truth_to_picasso(gt[:5])
    with pytest.raises(FileNotFoundError, match="zarr"):
        authors.read_authors_zarr(tmp_path / "missing.zarr", 0)
    root.create_group("2")
    with pytest.raises(ValueError, match="downsampling="):
        authors.read_authors_zarr(store, 0)
    assert authors.authors_zarr_indices(store, downsampling=0) == ["0", "1", "2", "3", "4", "5"]


# ---------------------------------------------------------------- per-galaxy HDF5


def write_halo(path, maps, psize, where="datasets", extra=()):
    """The authors' physical-data file: linear maps per (psize kpc)^2, psize on each map."""
    with h5py.File(path, "w") as handle:
        for key, totals in maps.items():
            handle.create_dataset(key, data=np.asarray(totals, dtype=np.float64) / psize**2)
            if where == "datasets":
                handle[key].attrs["psize"] = psize
        if where == "file":
            handle.attrs["psize"] = psize
        for name in extra:
            handle.create_dataset(name, data=np.arange(3))
    return path


def test_stellar_only_halo_file_is_read_with_what_it_holds(tmp_path, caplog):
    stars = stellar_pixels(256)
    psize = 0.35
    path = write_halo(tmp_path / "halo_1454_camera_3_physical_data.h5",
                      {key: stars[key] for key in ("stars_Masses", "stars_GFM_Metallicity",
                                                   "stars_GFM_StellarFormationTime")},
                      psize, extra=("metadata",))
    with caplog.at_level(logging.INFO, logger="picasso.io.authors"):
        maps = authors.read_authors_halo(path)
    assert maps.properties == ("stellar_mass", "stellar_metal_mass", "stellar_age")
    absent = ["sfr", "gas_mass", "gas_metal_mass", "hi_mass"]
    assert maps.meta["absent_properties"] == absent
    assert "holds no map of sfr, gas_mass, gas_metal_mass, hi_mass" in caplog.text
    assert maps.meta["halo_id"] == "1454" and maps.meta["camera"] == "3"
    assert maps.meta["psize_kpc"] == psize and maps.shape == (256, 256)
    side = psize * authors.ILLUSTRIS_HUBBLE
    assert_allclose(maps.pixel_scale.to_value(u.kpc), side)
    # per-pixel totals (map * psize^2) survive exactly; surface densities use the true side
    assert_allclose(maps.total("stellar_mass").to_value(u.Msun), stars["stars_Masses"].sum(),
                    rtol=1e-9)
    assert_allclose(maps.total("stellar_metal_mass").to_value(u.Msun),
                    stars["stars_GFM_Metallicity"].sum(), rtol=1e-9)
    assert_allclose(maps["stellar_mass"].to_value(u.Msun / u.kpc**2)[5, 7],
                    stars["stars_Masses"][5, 7] / side**2, rtol=1e-9)
    age = maps["stellar_age"].to_value(u.Gyr)
    exact = stars["stars_Masses"] > 0
    exact[2, 0] = False
    assert_allclose(age[exact], stars["mean_age"][exact], rtol=1e-9)
    assert maps.empty("stellar_age")[2, 0] and maps.meta["impossible_age_pixels"] == 1
    assert "age of the universe" in caplog.text
    literal = authors.read_authors_halo(path, hubble=1.0)
    assert_allclose(literal.pixel_scale.to_value(u.kpc), psize)
    assert_allclose(literal.total("stellar_mass").to_value(u.Msun), stars["stars_Masses"].sum(),
                    rtol=1e-9)


def test_full_halo_file_with_psize_on_the_file(tmp_path):
    gt, stars = authors_gt(16)
    totals = {key: np.where(gt[i] > LOG10_EMPTY / 2, 10.0 ** gt[i].astype(float), 0.0)
              for i, key in enumerate(authors.AUTHORS_CHANNELS)}
    path = write_halo(tmp_path / "halo_7_camera_0_physical_data.h5", totals, 0.2, where="file")
    maps = authors.read_authors_halo(path, impossible_ages="keep")
    assert maps.properties == PROPERTIES.names and maps.meta["absent_properties"] == []
    for name in ("gas_mass", "sfr", "hi_mass"):
        key = PROPERTIES[name].authors_channel
        assert_allclose(maps.total(name).value, totals[key].sum(), rtol=1e-5)
    assert maps.meta["impossible_age_pixels"] == 1


def test_halo_errors_say_what_is_wrong(tmp_path):
    mass = {"stars_Masses": np.full((4, 4), 2 * PARTICLE)}
    no_psize = write_halo(tmp_path / "halo_1_camera_0_physical_data.h5", mass, 0.3, where=None)
    with pytest.raises(ValueError, match="no 'psize' attribute"):
        authors.read_authors_halo(no_psize)
    disagree = write_halo(tmp_path / "halo_2_camera_0_physical_data.h5",
                          {**mass, "stars_GFM_Metallicity": np.ones((4, 4))}, 0.3)
    with h5py.File(disagree, "a") as handle:
        handle["stars_GFM_Metallicity"].attrs["psize"] = 0.5
    with pytest.raises(ValueError, match="disagree on psize"):
        authors.read_authors_halo(disagree)
    nothing = write_halo(tmp_path / "halo_3_camera_0_physical_data.h5", {}, 0.3,
                         extra=("metadata",))
    with pytest.raises(ValueError, match="none of the authors' maps"):
        authors.read_authors_halo(nothing)
    logs = write_halo(tmp_path / "halo_4_camera_0_physical_data.h5",
                      {"stars_Masses": np.full((4, 4), -3.0)}, 0.3)
    with pytest.raises(ValueError, match="negative values.*log10"):
        authors.read_authors_halo(logs)
    ages = write_halo(tmp_path / "halo_5_camera_0_physical_data.h5",
                      {"stars_GFM_StellarFormationTime": np.full((4, 4), 20.0)}, 0.3)
    with pytest.raises(ValueError, match="needs stars_Masses"):
        authors.read_authors_halo(ages)
    only_ages = authors.read_authors_halo(ages, age="mean", impossible_ages="keep")
    assert only_ages.properties == ("stellar_age",)
    shapes = write_halo(tmp_path / "halo_6_camera_0_physical_data.h5",
                        {**mass, "stars_GFM_Metallicity": np.ones((5, 5))}, 0.3)
    with pytest.raises(ValueError, match="share one shape"):
        authors.read_authors_halo(shapes)
    text = tmp_path / "halo_8_camera_0_physical_data.h5"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match="not an HDF5"):
        authors.read_authors_halo(text)
    with pytest.raises(FileNotFoundError):
        authors.read_authors_halo(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="hubble"):
        authors.read_authors_halo(no_psize, hubble=0)


# ------------------------------------------------------------- the ellipse recipe


def test_authors_recipe_recovers_an_elliptical_disc():
    image = exponential_disc((256, 256), center=(127.6, 128.3), r_half=25.0, ellipticity=0.4,
                             pa_deg=30.0)
    geometry = authors_geometry(image * u.Msun, pixel_scale=0.2 * u.kpc)
    assert geometry.method == "isophote" and geometry.r_half_method == "authors"
    assert abs(geometry.ellipticity - 0.4) < 0.005
    assert angle_difference(geometry.position_angle, 30 * u.deg) < 0.5
    assert_allclose(geometry.center, (127.6, 128.3), atol=0.05)
    assert geometry.r_half == 25 * u.pix
    assert_allclose(geometry.r_half_kpc.to_value(u.kpc), 5.0)
    # fit_geometry(method="authors") shares the shape; r_half=None measures the radius
    same = fit_geometry(image, method="authors", r_half="authors")
    assert same == authors_geometry(image)
    measured = fit_geometry(image, method="authors")
    assert measured.r_half_method == "measured" and measured.ellipticity == same.ellipticity
    assert_allclose(measured.r_half.value, 25.0, rtol=0.02)


def test_authors_recipe_is_one_isophote_at_25_px(monkeypatch, caplog):
    from photutils.isophote import Ellipse

    original = Ellipse.fit_isophote
    calls = []

    def spy(self, sma, **kwargs):
        if not calls:
            start = self._geometry
            calls.append(("start", start.x0, start.y0, start.sma, start.eps, start.pa,
                          start.astep, start.linear_growth, start.centerer_threshold))
        isophote = original(self, sma, **kwargs)
        calls.append((sma, kwargs))
        isophote.stop_code = 3  # the authors call anything above 2 bad and retry
        return isophote

    monkeypatch.setattr(Ellipse, "fit_isophote", spy)
    image = exponential_disc((128, 128), center=(63.5, 63.5), r_half=12.0, ellipticity=0.3,
                             pa_deg=60.0)
    with caplog.at_level(logging.WARNING, logger="picasso.analysis.geometry"):
        geometry = authors_geometry(image)
    start, fits = calls[0], calls[1:]
    # 25 px at 256 px is 12.5 px here; eps 0.25 and pa=45 passed in radians, as theirs
    assert start == ("start", 64.0, 64.0, 12.5, AUTHORS_ELLIPSE_EPS0, AUTHORS_ELLIPSE_PA0, 0.1,
                     False, 0.1)
    assert AUTHORS_ELLIPSE_EPS0 == 0.25 and AUTHORS_ELLIPSE_PA0 == 45.0
    assert len(fits) == 11  # one fit and ten retries
    assert_allclose([sma for sma, _ in fits], 12.5 * 1.1 ** np.arange(11))
    assert all(kwargs == {"fflag": 0.25} for _, kwargs in fits)
    assert "stop code 3" in caplog.text
    assert geometry.method == "isophote" and geometry.r_half == 12.5 * u.pix


def test_recipes_differ_far_from_the_authors_start():
    # A disc at 125 deg, 67 deg from the authors' start (45 rad = 58.3 deg): their single
    # isophote stops (stop code -1, which their criterion accepts) on a wrong ellipse,
    # while picasso's median over 0.5-2 R_half, started from the moments, finds it.
    image = exponential_disc((256, 256), center=(127.6, 128.3), r_half=25.0, ellipticity=0.6,
                             pa_deg=125.0)
    theirs = authors_geometry(image)
    ours = fit_geometry(image)
    assert abs(ours.ellipticity - 0.6) < 0.01
    assert angle_difference(ours.position_angle, 125 * u.deg) < 1.0
    assert abs(theirs.ellipticity - 0.6) > 0.1 or \
        angle_difference(theirs.position_angle, 125 * u.deg) > 5.0


def test_authors_recipe_falls_back_like_fit_geometry(monkeypatch):
    from photutils.isophote import Ellipse

    empty = authors_geometry(np.zeros((32, 32)))
    assert empty.method == "assumed" and empty.center == (15.5, 15.5)

    def broken(self, *args, **kwargs):
        raise ValueError("no meaningful isophote")

    monkeypatch.setattr(Ellipse, "fit_isophote", broken)
    image = exponential_disc((64, 64), center=(30.2, 33.1), r_half=6.0, ellipticity=0.3,
                             pa_deg=60.0)
    geometry = authors_geometry(image)
    assert geometry.method == "moments"
    assert angle_difference(geometry.position_angle, 60 * u.deg) < 3.0
    with pytest.raises(ValueError, match="r_half"):
        authors_geometry(image, r_half="paper")
    with pytest.raises(ValueError, match="log10"):
        authors_geometry(-image)
    with pytest.raises(ValueError, match="'authors'"):
        fit_geometry(image, method="theirs")
