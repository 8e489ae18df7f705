"""
Frames cut from full ones, and the crop of a real field that picasso ships.
"""

import bz2
import io
import os
import re
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.wcs import WCS, FITSFixedWarning
from helpers_sdss import write_sdss_frame
from numpy.testing import assert_allclose, assert_array_equal

from picasso import GalaxyCutout
from picasso.io import sdss
from picasso.io.sdss import EXAMPLE_FRAMES, EXAMPLE_GALAXY, example_frames

REAL_DIR = Path(os.environ.get("PICASSO_SDSS_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data" / "sdss"))
needs_real = pytest.mark.skipif(
    not (REAL_DIR.is_dir() and sorted(REAL_DIR.glob("frame-*-002583-2-0136.fits.bz2"))),
    reason=f"the real SDSS field (run 2583, camcol 2, field 136) is not at {REAL_DIR}",
)


@pytest.fixture(scope="module")
def full_frame(tmp_path_factory):
    directory = tmp_path_factory.mktemp("full")
    path, truth = write_sdss_frame(directory, "r", run=1000, camcol=1, field=100,
                                   noise_seed=3, shape=(200, 300))
    return path, sdss.read_frame(path, cache=False)


def _cut(source, target, rows, cols, *, calibration=True, wcs="keep", header=None):
    """Write part of a frame: HDU0 (and HDU1 when asked) cut, HDU2 left whole."""
    with fits.open(source) as hdul:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            full = WCS(hdul[0].header)
        image = hdul[0].data
        hdul[0].data = np.ascontiguousarray(image[rows, cols])
        if wcs == "cutout2d":
            cut = Cutout2D(np.zeros(image.shape), ((cols.start + cols.stop - 1) / 2,
                                                               (rows.start + rows.stop - 1) / 2),
                           (rows.stop - rows.start, cols.stop - cols.start), wcs=full)
            assert cut.slices_original == (rows, cols)
            hdul[0].header["CRPIX1"], hdul[0].header["CRPIX2"] = cut.wcs.wcs.crpix
        for key, value in (header or {}).items():
            hdul[0].header[key] = value
        if calibration:
            hdul[1].data = np.ascontiguousarray(hdul[1].data[cols])
        hdul.writeto(target)
    return target


def test_a_corner_cut_from_a_frame_reads_with_the_full_sky_table(full_frame, tmp_path):
    # 100 x 100 corner of frame-r-001000-1-0100, HDU1 and HDU2 of the full frame kept:
    # failed with "sky table (HDU2) does not match the image" before.
    source, full = full_frame
    rows, cols = slice(0, 100), slice(0, 100)
    path = _cut(source, tmp_path / "corner.fits", rows, cols, calibration=False)
    corner = sdss.read_frame(path, band="r", cache=False)
    assert corner.shape == (100, 100) and corner.crop_origin == (0, 0)
    assert_array_equal(corner.image.value, full.image.value[rows, cols])
    assert_allclose(corner.sky(), full.sky(rows, cols))
    assert_allclose(corner.variance_in(), full.variance_in(rows, cols), rtol=1e-6)


@pytest.mark.parametrize("wcs", ["cutout2d", "ltv"])
def test_a_part_anywhere_is_placed_by_its_wcs_or_ltv_keywords(full_frame, tmp_path, wcs):
    source, full = full_frame
    rows, cols = slice(37, 137), slice(150, 260)
    header = {"LTV1": -150, "LTV2": -37} if wcs == "ltv" else None
    path = _cut(source, tmp_path / "part.fits", rows, cols, wcs="cutout2d", header=header)
    part = sdss.read_frame(path, band="r", cache=False)
    assert part.crop_origin == (37, 150)
    assert_allclose(part.sky(), full.sky(rows, cols))
    assert_allclose(part.calibration, full.calibration[cols])
    assert_allclose(part.variance_in(), full.variance_in(rows, cols), rtol=1e-6)
    # the sky position of a pixel is unchanged
    assert part.wcs.pixel_to_world(5, 7).separation(
        full.wcs.pixel_to_world(155, 44)).to_value(u.arcsec) < 1e-6


def test_a_part_that_cannot_be_placed_fails_clearly(full_frame, tmp_path):
    source, _ = full_frame
    # the WCS moved by half a pixel: neither the reference-pixel rule nor LTV places it
    path = _cut(source, tmp_path / "lost.fits", slice(10, 60), slice(10, 60),
                header={"CRPIX1": 1000.25})
    with pytest.raises(ValueError, match="is part of a larger frame .* LTV1 = -column"):
        sdss.read_frame(path, band="r", cache=False)
    path = _cut(source, tmp_path / "outside.fits", slice(10, 60), slice(10, 60),
                header={"LTV1": -280, "LTV2": -10})
    with pytest.raises(ValueError, match="LTV1 gives 280"):
        sdss.read_frame(path, band="r", cache=False)


def test_the_shipped_crop_reads_and_cuts_the_galaxy():
    frames = example_frames()
    assert frames.bands == tuple("ugriz")
    sizes = sum(path.stat().st_size for path in EXAMPLE_FRAMES.glob("frame-*.fits.bz2"))
    assert sizes < 300_000
    assert (EXAMPLE_FRAMES / "README.rst").is_file()
    for frame in frames:
        assert frame.shape == (192, 192) and frame.run == 2583 and frame.field == 136
        # the galaxy sits in the middle of every band's crop
        x, y = frame.sky_to_pixel(SkyCoord(EXAMPLE_GALAXY["ra"], EXAMPLE_GALAXY["dec"]))
        assert abs(x - 95.5) < 1 and abs(y - 95.5) < 1
    # the noise is the data model's noise of that part of the real frame
    rms = {"u": 0.049, "g": 0.020, "r": 0.031, "i": 0.051, "z": 0.210}
    for band, expected in rms.items():
        frame = frames.frames(band)[0]
        assert np.sqrt(np.median(frame.variance_in())) == pytest.approx(expected, rel=0.25)
    cutout = GalaxyCutout.from_sdss_frames(frames, size=64, **EXAMPLE_GALAXY)
    assert cutout.shape == (64, 64) and cutout.meta["r_half_source"] == "measured on r"
    assert "widest band" in cutout.meta["psf_rule"]
    assert cutout.combined_mask is None or not cutout.combined_mask.any()
    flux = cutout.flux.sum(axis=(1, 2)).to_value(u.nanomaggy)
    assert np.all(flux[1:] > 0) and flux[2] > 5  # a galaxy of r ~ 20


def test_the_bundled_model_predicts_the_shipped_galaxy_without_a_psf_option():
    frames = example_frames()
    cutout = GalaxyCutout.from_sdss_frames(frames, size=64, **EXAMPLE_GALAXY)
    maps = cutout.predict()
    assert maps.shape == (64, 64)
    assert 1e8 < maps.total("stellar_mass").to_value(u.Msun) < 1e12
    assert maps.meta["ood"]["out_of_distribution"] is False


@needs_real
def test_the_shipped_crop_is_the_real_frame_where_its_readme_says(tmp_path):
    # One band is enough to check the recipe (decompressing a full frame takes a second).
    crop_path = EXAMPLE_FRAMES / "frame-r-002583-2-0136.fits.bz2"
    with fits.open(io.BytesIO(bz2.decompress(crop_path.read_bytes()))) as hdul:
        history = "".join(str(card) for card in hdul[0].header["HISTORY"])
    rows0, rows1, cols0, cols1 = map(int, re.search(
        r"picasso crop of frame-r-002583-2-0136.fits.bz2: rows (\d+):(\d+), cols (\d+):(\d+)",
        history).groups())
    readme = (EXAMPLE_FRAMES / "README.rst").read_text()
    assert f"r     {rows0}:{rows1}" in readme and f"{cols0}:{cols1}" in readme
    crop = sdss.read_frame(crop_path, cache=False)
    full = sdss.read_frame(REAL_DIR / crop_path.name, cache=False)
    rows, cols = slice(rows0, rows1), slice(cols0, cols1)
    assert_array_equal(crop.image.value, full.image.value[rows, cols])
    assert_allclose(crop.calibration, full.calibration[cols])
    assert_allclose(crop.sky(), full.sky(rows, cols), rtol=1e-6)
    assert_allclose(crop.variance_in(), full.variance_in(rows, cols), rtol=1e-5)
    assert crop.wcs.pixel_to_world(0, 0).separation(
        full.wcs.pixel_to_world(cols0, rows0)).to_value(u.arcsec) < 1e-6
