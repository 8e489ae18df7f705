"""
Tests of picasso.io.sdss: SDSS frame files to model-ready cutouts.

Synthetic frames are written in the real DR8+ layout (tests/helpers_sdss.py)
with Gaussian galaxies of known flux and position. When the real field in
../shared/data/sdss (or $PICASSO_SDSS_DATA) is present, it is checked too.
"""

import bz2
import os
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.cosmology import Planck18
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS
from helpers_sdss import gaussian_image, write_sdss_frame
from numpy.testing import assert_allclose
from photutils.centroids import centroid_2dg, centroid_com

from picasso import GalaxyCutout
from picasso import instrument
from picasso.io import sdss
from picasso.properties import flux_equivalencies

RA, DEC = 150.0, 2.0
BAND_FLUX = {"u": 6.0, "g": 20.0, "r": 40.0, "i": 55.0, "z": 70.0}
GALAXY = {"ra": RA, "dec": DEC, "sigma": 1.5, "axis_ratio": 0.7, "flux": BAND_FLUX}
# Offset the frame centre from the galaxy so that nothing lines up by chance.
FRAME_CENTRE = (RA + 3.3 / 3600, DEC - 2.1 / 3600)


@pytest.fixture(scope="module")
def frame_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sdss_frames")
    truths = {}
    for band in "ugriz":
        path, truth = write_sdss_frame(directory, band, crval=FRAME_CENTRE, galaxies=[GALAXY])
        truths[band] = (path, truth)
    return directory, truths


@pytest.fixture(scope="module")
def frameset(frame_dir):
    return sdss.FrameSet.read(frame_dir[0], cache=False)


@pytest.fixture(scope="module")
def straddle_dir(tmp_path_factory):
    """Two consecutive fields per band (overlapping by 40 rows); the galaxy on the seam."""
    directory = tmp_path_factory.mktemp("sdss_straddle")
    ny = 200
    overlap = 40
    # Field 136 centred on FRAME_CENTRE; field 137 continues the scan.
    from helpers_sdss import sdss_wcs

    wcs_first = sdss_wcs(FRAME_CENTRE, (ny, 300))
    wcs_second = sdss_wcs(FRAME_CENTRE, (ny, 300), row_offset=ny - overlap)
    # The galaxy sits where the second frame starts (row 5 of field 137).
    ra, dec = wcs_second.pixel_to_world_values(150.0, 5.0)
    galaxy = dict(GALAXY, ra=float(ra), dec=float(dec))
    for band in "gr":
        write_sdss_frame(directory, band, field=136, crval=FRAME_CENTRE, galaxies=[galaxy])
        write_sdss_frame(directory, band, field=137, crval=FRAME_CENTRE, galaxies=[galaxy],
                         row_offset=ny - overlap)
    return directory, galaxy, (wcs_first, wcs_second)


def centre_offset(image):
    """Centroid minus the grid centre, in pixels (x, y)."""
    ny, nx = image.shape
    x, y = centroid_com(image)
    return x - (nx - 1) / 2, y - (ny - 1) / 2


# ----------------------------------------------------------------- tables


def test_gain_and_dark_variance_tables():
    # Values from the SDSS frame data model page.
    assert instrument.sdss_gain(1, "u") == 1.62
    assert instrument.sdss_gain(6, "z") == 4.69
    assert instrument.sdss_dark_variance(1, "g") == 15.6025
    # Entries that changed during the survey need the run.
    assert instrument.sdss_gain(2, "u", run=1000) == 1.595
    assert instrument.sdss_gain(2, "u", run=2583) == 1.825
    assert instrument.sdss_dark_variance(4, "z", run=1400) == 9.61
    assert instrument.sdss_dark_variance(4, "z", run=2583) == 12.6025
    with pytest.raises(ValueError, match="give the run number"):
        instrument.sdss_gain(2, "u")
    with pytest.raises(ValueError, match="camcol must be 1-6"):
        instrument.sdss_gain(7, "r")
    with pytest.raises(ValueError, match="camcol must be 1-6"):
        instrument.sdss_dark_variance(1, "y")


def test_typical_psf_and_extinction_coefficients():
    assert instrument.typical_psf_fwhm("r") == instrument.SDSS_MEDIAN_PSF_FWHM_R
    fwhm = [instrument.typical_psf_fwhm(band).to_value(u.arcsec) for band in "ugriz"]
    assert np.all(np.diff(fwhm) < 0)  # seeing improves to the red
    sf11 = instrument.extinction_coefficients("ugriz")
    assert sf11["r"] == 2.285
    f99 = instrument.extinction_coefficients("ugriz", law="F99")
    # SF11 coefficients apply to the SFD E(B-V), which is 14% too high
    # (E(B-V)_true = 0.86 E(B-V)_SFD); F99 at the effective wavelength takes the true one.
    for band in "ugriz":
        assert 0.86 * f99[band] == pytest.approx(sf11[band], rel=0.04)
    with pytest.raises(ValueError, match="unknown extinction law"):
        instrument.extinction_coefficients("r", law="CCM")


# ---------------------------------------------------------------- reading


def test_read_frame_recovers_counts_and_data_model_variance(frame_dir):
    path, truth = frame_dir[1]["r"]
    frame = sdss.read_frame(path, cache=False)
    assert isinstance(frame, sdss.SDSSFrame)
    assert (frame.band, frame.run, frame.camcol, frame.field) == ("r", 2583, 2, 136)
    assert frame.image.unit == u.nanomaggy
    assert frame.pixel_scale.to_value(u.arcsec) == pytest.approx(0.396, rel=1e-6)
    assert frame.psf_fwhm_source == "typical"
    assert_allclose(frame.sky(), truth["sky"], rtol=1e-5)
    # The data model's recipe, written out independently.
    calibration = truth["calibration"]
    counts = truth["data"] / calibration + truth["sky"]
    expected = (counts / truth["gain"] + truth["dark_variance"]) * calibration**2
    assert_allclose(frame.counts(), counts, rtol=1e-5)
    assert_allclose(frame.variance.to_value(u.nanomaggy**2), expected, rtol=1e-5)
    # A region gives the same numbers as the full frame.
    rows, cols = slice(20, 60), slice(100, 180)
    assert_allclose(frame.variance_in(rows, cols), expected[rows, cols], rtol=1e-5)


def test_psf_fwhm_from_the_header(tmp_path):
    path, _ = write_sdss_frame(tmp_path, "i", shape=(40, 60), header_changes={"PSF_FWHM": 1.21})
    frame = sdss.read_frame(path, cache=False)
    assert frame.psf_fwhm == 1.21 * u.arcsec and frame.psf_fwhm_source == "header"
    given = sdss.read_frame(path, cache=False, psf_fwhm=1.5 * u.arcsec)
    assert given.psf_fwhm == 1.5 * u.arcsec and given.psf_fwhm_source == "given"


def test_compressed_frames_read_once_and_shared(frame_dir, tmp_path):
    parallel = sdss.FrameSet.read(frame_dir[0], cache=False, workers=2)
    assert parallel.bands == tuple("ugriz")
    for band in "ugriz":
        assert_allclose(parallel.frames(band)[0].image.value, frame_dir[1][band][1]["data"])
    path, truth = write_sdss_frame(tmp_path, "g", compress=True, galaxies=[GALAXY])
    cache = sdss.FrameCache(max_frames=2)
    first = sdss.read_frame(path, cache=cache)
    again = sdss.read_frame(path, cache=cache)
    assert again is first
    assert (cache.hits, cache.misses) == (1, 1)
    assert_allclose(first.image.value, truth["data"])
    wider = sdss.read_frame(path, cache=cache, psf_fwhm=2.0 * u.arcsec)
    assert wider.psf_fwhm == 2.0 * u.arcsec and wider.psf_fwhm_source == "given"
    assert np.shares_memory(wider._image, first._image)
    assert first.psf_fwhm_source == "typical"


def test_generic_image_with_bunit_and_surface_brightness(tmp_path):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [RA, DEC]
    wcs.wcs.crpix = [40.5, 40.5]
    wcs.wcs.cdelt = [-0.262 / 3600, 0.262 / 3600]
    flux = gaussian_image((80, 80), 39.5, 39.5, 3.0, 3.0, 25.0)
    header = wcs.to_header()
    header["BUNIT"] = "nanomaggy"
    fits.writeto(tmp_path / "legacy-r.fits", flux.astype(np.float32), header)
    frame = sdss.read_frame(tmp_path / "legacy-r.fits", band="r", cache=False)
    assert type(frame) is sdss.Frame and frame.variance_source == "background"
    assert frame.image.sum().to_value(u.nanomaggy) == pytest.approx(25.0, rel=1e-6)
    # The same image as surface brightness in MJy/sr comes back as the same flux.
    pixel_area = (0.262 * u.arcsec) ** 2
    surface = (flux * u.nanomaggy).to(u.MJy, flux_equivalencies()) / pixel_area.to(u.sr)
    header["BUNIT"] = "MJy/sr"
    fits.writeto(tmp_path / "sb.fits", surface.value.astype(np.float64), header)
    frame = sdss.read_image(tmp_path / "sb.fits", "r")
    assert frame.image.sum().to_value(u.nanomaggy) == pytest.approx(25.0, rel=1e-5)
    del header["BUNIT"]
    fits.writeto(tmp_path / "nounit.fits", flux.astype(np.float32), header)
    with pytest.raises(ValueError, match="no BUNIT.*unit="):
        sdss.read_image(tmp_path / "nounit.fits", "r")
    frame = sdss.read_image(tmp_path / "nounit.fits", "r", unit=u.nanomaggy)
    assert frame.image.sum().to_value(u.nanomaggy) == pytest.approx(25.0, rel=1e-6)
    with pytest.raises(ValueError, match="not an SDSS frame file; give the band"):
        sdss.read_frame(tmp_path / "legacy-r.fits", cache=False)


@pytest.mark.parametrize(
    ("changes", "drop", "message"),
    [
        ({}, ("BUNIT",), "no BUNIT"),
        ({"BUNIT": "counts"}, (), "must be in nanomaggies"),
        ({"FILTER": "g"}, (), "band mismatch.*'g'.*'r' in the file name"),
        ({}, ("FILTER",), "no FILTER keyword"),
        ({"FILTER": "y"}, (), "not an SDSS band"),
        ({}, ("CTYPE1", "CTYPE2"), "no WCS"),
        ({"CTYPE1": "LINEAR", "CTYPE2": "LINEAR"}, (), "not celestial"),
        ({"CD1_2": 1e-3, "CD2_1": 1e-3}, (), "inconsistent with an SDSS frame"),
        ({"CAMCOL": 3}, (), "camcol 3 in the header but 2 in the file name"),
    ],
)
def test_malformed_frames_fail_clearly(tmp_path, changes, drop, message):
    path, _ = write_sdss_frame(tmp_path, "r", shape=(40, 60), header_changes=changes,
                               drop_keys=drop)
    with pytest.raises(ValueError, match=message):
        sdss.read_frame(path, cache=False)


def test_truncated_and_incomplete_files_fail_clearly(tmp_path):
    path, _ = write_sdss_frame(tmp_path, "r", shape=(40, 60))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ValueError, match="truncated"):
        sdss.read_frame(path, cache=False)
    packed = tmp_path / "frame-r-002583-2-0137.fits.bz2"
    compressed = bz2.compress(raw)
    packed.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        sdss.read_frame(packed, cache=False)
    # Only the image HDU: the layout is not an SDSS frame's.
    other = tmp_path / "other"
    other.mkdir()
    full, _ = write_sdss_frame(other, "g", shape=(40, 60))
    with fits.open(full) as hdul:
        single = tmp_path / "frame-g-002583-2-0136.fits"
        fits.HDUList([hdul[0].copy()]).writeto(single)
    with pytest.raises(ValueError, match="4 HDUs"):
        sdss.read_frame(single, cache=False)
    with pytest.raises(FileNotFoundError):
        sdss.read_frame(tmp_path / "frame-r-002583-2-0999.fits", cache=False)


# ---------------------------------------------------------------- cutouts


def test_cutout_recovers_flux_and_centre(frameset):
    cutout = GalaxyCutout.from_sdss_frames(
        frameset, RA * u.deg, DEC * u.deg, 0.05, size=64, field=24 * u.arcsec,
        target_psf_fwhm="widest",
    )
    assert cutout.bands == tuple("ugriz") and cutout.shape == (64, 64)
    assert cutout.unit == u.nanomaggy
    assert cutout.pixel_scale.to_value(u.arcsec) == pytest.approx(24 / 64)
    kpc_per_arcsec = Planck18.kpc_proper_per_arcmin(0.05).to_value(u.kpc / u.arcsec)
    assert cutout.pixel_scale_kpc.to_value(u.kpc) == pytest.approx(24 / 64 * kpc_per_arcsec)
    totals = cutout.flux.sum(axis=(1, 2)).to_value(u.nanomaggy)
    assert_allclose(totals, [BAND_FLUX[band] for band in "ugriz"], rtol=0.01)
    for plane in cutout.flux.value:
        assert np.hypot(*centre_offset(plane)) < 0.1
    # The common PSF is the widest band's (u), in kpc.
    assert np.allclose(cutout.psf_fwhm, cutout.psf_fwhm[0])
    assert cutout.psf_fwhm.unit == u.kpc
    assert cutout.psf_fwhm[0] > instrument.typical_psf_fwhm("u") * kpc_per_arcsec * u.kpc / u.arcsec
    assert not cutout.mask.any()


@pytest.mark.parametrize("method", ["exact", "interp"])
def test_other_resampling_methods_conserve_flux(frameset, method):
    cutout = sdss.cutout_from_frames(
        frameset, RA * u.deg, DEC * u.deg, 0.05, size=48, field=24 * u.arcsec, bands=["r"],
        target_psf_fwhm=None, method=method,
    )
    assert cutout.flux.sum().to_value(u.nanomaggy) == pytest.approx(BAND_FLUX["r"], rel=0.01)
    assert np.hypot(*centre_offset(cutout.flux[0].value)) < 0.1


def test_field_defaults_to_the_training_field_in_measured_half_light_radii(frameset):
    cutout = sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.05, size=32,
                                     bands=["g", "r"], target_psf_fwhm=None)
    # Circularised half-light radius of the elliptical Gaussian.
    sigma = GALAXY["sigma"] * np.sqrt(GALAXY["axis_ratio"])
    expected = sigma * np.sqrt(2 * np.log(2))
    assert cutout.meta["r_half_source"] == "measured on r"
    assert cutout.r_half.kind == "light_projected"
    r_half = (cutout.r_half.value / cutout.pixel_scale_kpc * cutout.pixel_scale).to_value(u.arcsec)
    assert r_half == pytest.approx(expected, rel=0.1)
    # 10 3-D half-mass radii, the half-light radius taken as the projected half-mass radius
    assert sdss.DEFAULT_N_HALF_LIGHT == pytest.approx(40 / 3)
    assert cutout.meta["field_arcsec"] == pytest.approx(sdss.DEFAULT_N_HALF_LIGHT * r_half)
    assert cutout.pixel_scale.to_value(u.arcsec) == pytest.approx(cutout.meta["field_arcsec"] / 32)
    # A physical r_half gives the field in kpc.
    given = sdss.cutout_from_frames(frameset, SkyCoord(RA, DEC, unit="deg"), None, 0.05,
                                    size=32, r_half=1.5 * u.kpc, bands=["r"],
                                    target_psf_fwhm=None)
    assert (given.pixel_scale_kpc * 32).to_value(u.kpc) == pytest.approx(20.0, rel=1e-6)


def test_galaxy_straddling_two_frames(straddle_dir):
    directory, galaxy, _ = straddle_dir
    frames = sdss.FrameSet.read(directory, cache=False)
    assert len(frames.frames("r")) == 2
    cutout = sdss.cutout_from_frames(
        frames, galaxy["ra"] * u.deg, galaxy["dec"] * u.deg, 0.05, size=48,
        field=20 * u.arcsec, bands=["g", "r"], target_psf_fwhm=None,
    )
    totals = cutout.flux.sum(axis=(1, 2)).to_value(u.nanomaggy)
    assert_allclose(totals, [BAND_FLUX["g"], BAND_FLUX["r"]], rtol=0.01)
    for plane in cutout.flux.value:
        assert np.hypot(*centre_offset(plane)) < 0.1
    assert not cutout.mask.any()
    assert any("0136" in name for name in cutout.meta["frames"])
    assert any("0137" in name for name in cutout.meta["frames"])
    # One frame alone does not cover the galaxy: pixels off it are masked.
    single = sdss.cutout_from_frames(
        [frames.frames("r")[1]], galaxy["ra"] * u.deg, galaxy["dec"] * u.deg, 0.05,
        size=48, field=20 * u.arcsec, bands=["r"], target_psf_fwhm=None,
    )
    assert single.mask.any() and not single.mask.all()


def test_variance_is_propagated(frameset, frame_dir):
    cutout = sdss.cutout_from_frames(
        frameset, RA * u.deg, DEC * u.deg, 0.05, size=40, field=30 * u.arcsec, bands=["r"],
        target_psf_fwhm=None,
    )
    frame = frameset.frames("r")[0]
    # The variance is resampled like flux: per unit sky area it is the frame's.
    x, y = cutout.wcs.world_to_pixel(frame.wcs.pixel_to_world(*np.meshgrid(
        np.arange(frame.shape[1]), np.arange(frame.shape[0]))))
    inside = (x > 5) & (x < 34) & (y > 5) & (y < 34)
    frame_density = frame.variance.value[inside].sum() / inside.sum() / 0.396**2
    cut = cutout.variance[0].value[6:34, 6:34]
    cutout_density = cut.mean() / cutout.pixel_scale.to_value(u.arcsec) ** 2
    assert cutout_density == pytest.approx(frame_density, rel=0.01)
    # The galaxy's Poisson noise shows up at the centre.
    assert cutout.variance[0, 20, 20] > 1.5 * cutout.variance[0, 2, 2]
    # PSF matching keeps the summed variance (an aperture's variance).
    flux = cutout.flux[0].value
    variance = cutout.variance[0].value
    _, matched = sdss.match_psf(flux, variance, 1.0 * u.arcsec, 2.0 * u.arcsec,
                                cutout.pixel_scale)
    assert matched[10:30, 10:30].sum() == pytest.approx(variance[10:30, 10:30].sum(), rel=0.02)


def test_variance_gives_the_scatter_of_aperture_sums():
    # Noise realisations of one frame, resampled onto a grid twice as fine.
    from helpers_sdss import sdss_wcs

    rng = np.random.default_rng(5)
    wcs = sdss_wcs((RA, DEC), (60, 60))
    variance = 0.03**2 * (1 + np.linspace(0, 1, 60))[np.newaxis] * np.ones((60, 1))
    target = sdss.target_wcs(SkyCoord(RA, DEC, unit="deg"), 40, 0.2 * u.arcsec)
    sums, pixels = [], []
    for _ in range(100):
        noise = rng.normal(size=(60, 60)) * np.sqrt(variance)
        frame = sdss.Frame(noise * u.nanomaggy, wcs, "r", variance=variance * u.nanomaggy**2)
        flux, cutout_variance, _, _ = sdss.reproject_band([frame], target, (40, 40))
        sums.append(flux[5:35, 5:35].sum())
        pixels.append(flux[20, 20])
    # Summed over an aperture the variance is the aperture flux's (to the sampling
    # error of 100 draws, ~14%, and the partial input pixels on the aperture's edge;
    # measured: 0.81)...
    assert np.var(sums) == pytest.approx(cutout_variance[5:35, 5:35].sum(), rel=0.25)
    # ... while one pixel of the finer, correlated grid scatters far less than its
    # value (measured: 0.04 of it with the adaptive Gaussian kernel).
    assert np.var(pixels) < 0.2 * cutout_variance[20, 20]


def test_extinction_correction(frameset):
    common = dict(size=32, field=24 * u.arcsec, bands=["g", "r"], target_psf_fwhm=None)
    plain = sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.05, **common)
    dusty = sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.05, ebv=0.1, **common)
    ratio = dusty.flux.sum(axis=(1, 2)) / plain.flux.sum(axis=(1, 2))
    assert_allclose(ratio, 10 ** (0.4 * 0.1 * np.array([3.303, 2.285])), rtol=1e-5)
    assert_allclose(dusty.variance.sum() / plain.variance.sum(),
                    np.average(ratio**2, weights=plain.variance.sum(axis=(1, 2))), rtol=1e-4)
    # The redshift sets the kpc scale only: fluxes stay as observed.
    far = sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.1, **common)
    assert_allclose(far.flux, plain.flux)


def test_refuses_to_sharpen(frameset):
    with pytest.raises(ValueError, match="refusing to sharpen: band u .* kpc"):
        sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.05, size=32,
                                field=24 * u.arcsec, target_psf_fwhm=1 * u.kpc)
    with pytest.raises(ValueError, match="refusing to sharpen"):
        sdss.match_psf(np.ones((8, 8)), np.ones((8, 8)), 2 * u.arcsec, 1 * u.arcsec,
                       0.3 * u.arcsec)
    # Matching to a wider PSF widens the image as expected.
    image = gaussian_image((65, 65), 32, 32, 2.0, 2.0, 1.0)
    matched, _ = sdss.match_psf(image, image, 2.0 * 2.3548 * u.arcsec,
                                4.0 * 2.3548 * u.arcsec, 1 * u.arcsec)
    y, x = np.mgrid[:65, :65]
    width = np.sqrt((matched * (x - 32) ** 2).sum() / matched.sum())
    assert width == pytest.approx(4.0, rel=0.02)
    assert matched.sum() == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("kernel", ["gaussian", "hann"])
def test_matched_psf_has_the_target_width(tmp_path, kernel):
    # A star whose pixelised profile is the frame's PSF (Gaussian, sigma 0.6 arcsec).
    sigma = 0.6
    star = {"ra": RA, "dec": DEC, "sigma": sigma, "flux": {"r": 50.0}}
    path, _ = write_sdss_frame(tmp_path, "r", crval=FRAME_CENTRE, galaxies=[star])
    fwhm = 2.3548 * np.sqrt(sigma**2 + 0.396**2 / 12) * u.arcsec
    target = 2.5 * u.arcsec
    cutout = sdss.cutout_from_frames([path], RA * u.deg, DEC * u.deg, 0.05, size=64,
                                     field=16 * u.arcsec, bands=["r"], psf_fwhm=fwhm,
                                     target_psf_fwhm=target, kernel=kernel)
    image = cutout.flux[0].value
    y, x = np.mgrid[:64, :64]
    width = np.sqrt((image * (x - 31.5) ** 2).sum() / image.sum())
    # The resampling kernel's own blur is part of the PSF that is matched.
    expected = target.to_value(u.arcsec) / 2.3548 / cutout.pixel_scale.to_value(u.arcsec)
    assert width == pytest.approx(expected, rel=0.01)
    kpc = (target * Planck18.kpc_proper_per_arcmin(0.05)).to_value(u.kpc)
    assert cutout.psf_fwhm[0].to_value(u.kpc) == pytest.approx(kpc)


@pytest.mark.parametrize("kernel", ["gaussian", "auto"])
def test_coarse_grids_bin_the_frame_first_and_keep_flux_centre_and_psf(tmp_path, kernel):
    # 2.5 arcsec output pixels are 6.3 frame pixels: the sub-image is binned 3 x 3 before
    # the adaptive reprojection, which adds a box of 3 pixels to the blur that is counted;
    # 'auto' takes the Hann window there (faster, less blur).
    if kernel == "auto":
        assert (sdss.resampling_blur("adaptive", "auto", 0.396, 2.5)
                == sdss.resampling_blur("adaptive", "hann", 0.396, 2.5)
                < sdss.resampling_blur("adaptive", "gaussian", 0.396, 2.5))
        assert (sdss.resampling_blur("adaptive", "auto", 0.396, 0.5)
                == sdss.resampling_blur("adaptive", "gaussian", 0.396, 0.5))
    sigma = 0.6
    star = {"ra": RA, "dec": DEC, "sigma": sigma, "flux": {"r": 50.0}}
    path, _ = write_sdss_frame(tmp_path, "r", crval=FRAME_CENTRE, galaxies=[star])
    fwhm = 2.3548 * np.sqrt(sigma**2 + 0.396**2 / 12) * u.arcsec
    assert sdss.resampling_blur("adaptive", "gaussian", 0.396, 2.5) > 0.65 * 2.5
    for target in (None, 9.0 * u.arcsec):
        cutout = sdss.cutout_from_frames([path], RA * u.deg, DEC * u.deg, 0.05, size=32,
                                         field=80 * u.arcsec, bands=["r"], psf_fwhm=fwhm,
                                         target_psf_fwhm=target, kernel=kernel)
        image = cutout.flux[0].value
        # the Hann window errs by up to 1% on a point-like source (0.4% on resolved ones)
        assert image.sum() == pytest.approx(50.0, rel=0.003 if kernel == "gaussian" else 0.015)
        assert np.hypot(*centre_offset(image)) < 0.02
    y, x = np.mgrid[:32, :32]
    width = np.sqrt((image * (x - 15.5) ** 2).sum() / image.sum())
    assert width * 2.5 * 2.3548 == pytest.approx(9.0, rel=0.03)


def test_auto_target_psf_is_1_kpc_where_reachable_else_the_widest_band(frameset):
    assert sdss.DEFAULT_TARGET_PSF_FWHM == "auto"
    near = sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.01, size=32,
                                   field=24 * u.arcsec, bands=["g", "r"])
    assert near.meta["psf_rule"] == "auto: 1 kpc"
    assert near.meta["psf_matched_kpc"] == pytest.approx(1.0)
    far = sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.1, size=32,
                                  field=24 * u.arcsec, bands=["g", "r"])
    assert "widest band" in far.meta["psf_rule"]
    widest = sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.1, size=32,
                                     field=24 * u.arcsec, bands=["g", "r"],
                                     target_psf_fwhm="widest")
    assert far.meta["psf_matched_kpc"] == pytest.approx(widest.meta["psf_matched_kpc"])
    assert far.meta["psf_matched_kpc"] > 2.0
    with pytest.raises(ValueError, match="'auto', 'widest' or None"):
        sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.1, size=32,
                                field=24 * u.arcsec, target_psf_fwhm="sharpest")


def test_bad_positions_and_bands(frameset):
    with pytest.raises(TypeError, match="angle Quantity"):
        sdss.cutout_from_frames(frameset, RA, DEC, 0.05, field=20 * u.arcsec)
    with pytest.raises(ValueError, match="not covered|none of the frames"):
        sdss.cutout_from_frames(frameset, (RA + 0.1) * u.deg, DEC * u.deg, 0.05,
                                field=20 * u.arcsec, target_psf_fwhm=None)
    only_r = sdss.FrameSet(frameset.frames("r"))
    with pytest.raises(ValueError, match="no frames for band.*u, g, i, z"):
        sdss.cutout_from_frames(only_r, RA * u.deg, DEC * u.deg, 0.05, field=20 * u.arcsec)
    with pytest.raises(ValueError, match="unknown method 'lanczos'"):
        sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.05, method="lanczos")
    with pytest.raises(ValueError, match="field or r_half, not both"):
        sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.05, field=20 * u.arcsec,
                                r_half=2 * u.arcsec)
    with pytest.raises(ValueError, match="give r_half or field"):
        sdss.cutout_from_frames(frameset, (RA + 20 / 3600) * u.deg, DEC * u.deg, 0.05,
                                bands=["r"], target_psf_fwhm=None)


def test_mask_neighbours_keeps_the_galaxy(tmp_path):
    star = {"ra": RA + 6 / 3600, "dec": DEC + 5 / 3600, "sigma": 0.6, "flux": {"r": 30.0}}
    path, _ = write_sdss_frame(tmp_path, "r", crval=FRAME_CENTRE, galaxies=[GALAXY, star],
                               noise_seed=3)
    cutout = sdss.cutout_from_frames([path], RA * u.deg, DEC * u.deg, 0.05, size=48,
                                     field=24 * u.arcsec, bands=["r"], target_psf_fwhm=None,
                                     mask_sources=True)
    x, y = (float(v) for v in cutout.wcs.world_to_pixel(
        SkyCoord(star["ra"], star["dec"], unit="deg")))
    assert cutout.mask[0, int(round(y)), int(round(x))]
    assert not cutout.mask[0, 23:25, 23:25].any()
    assert cutout.meta["n_masked_neighbour_pixels"] > 10


def test_cutout_writes_and_reads_back(frameset, tmp_path):
    cutout = sdss.cutout_from_frames(frameset, RA * u.deg, DEC * u.deg, 0.05, size=32,
                                     field=20 * u.arcsec, target_psf_fwhm="widest")
    cutout.write(tmp_path / "cutout.fits")
    back = GalaxyCutout.read(tmp_path / "cutout.fits")
    assert_allclose(back.flux.value, cutout.flux.value)
    assert back.meta["field_source"] == "given"


# ----------------------------------------------------------- real frames


def _real_data_dir():
    env = os.environ.get("PICASSO_SDSS_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sdss"


REAL_DIR = _real_data_dir()
needs_real = pytest.mark.skipif(
    not sorted(REAL_DIR.glob("frame-*-002583-2-0136.fits*")) if REAL_DIR.is_dir() else True,
    reason=f"the real SDSS field (run 2583, camcol 2, field 136) is not at {REAL_DIR}; set "
           "PICASSO_SDSS_DATA to a directory holding its five frame files",
)

#: Clipped rms (nanomaggies) of the right half of each real frame, from
#: ../shared/data/README.md.
REAL_RMS = {"u": 0.049, "g": 0.020, "r": 0.031, "i": 0.051, "z": 0.210}


@pytest.fixture(scope="module")
def real_frames():
    # Decompressing the five bz2 frames is the slow step (seconds): once per module,
    # two files at a time.
    return sdss.FrameSet.read(REAL_DIR, cache=False, workers=2)


@pytest.mark.slow
@needs_real
def test_real_frames_noise_matches_the_data_model(real_frames):
    for frame in real_frames:
        nx = frame.shape[1]
        right = (slice(None), slice(nx // 2, None))
        _, _, rms = sigma_clipped_stats(frame.image.value[right], sigma=3, maxiters=10)
        assert rms == pytest.approx(REAL_RMS[frame.band], rel=0.05)
        model = np.sqrt(np.median(frame.variance_in(*right)))
        # Measured here: the data-model noise is within 2% of the scatter in g and r,
        # 4% in z, 7% low in i and 19% high in u.
        assert model == pytest.approx(rms, rel=0.25), frame.band


@pytest.mark.slow
@needs_real
def test_real_stars_align_in_every_band(real_frames):
    from photutils.segmentation import SourceCatalog, detect_sources

    reference = real_frames.frames("r")[0]
    image = reference.image.value.astype(float)
    error = np.sqrt(reference.variance_in())
    catalog = SourceCatalog(image, detect_sources(image, 5 * error, n_pixels=5), error=error,
                            wcs=reference.wcs)
    x, y = catalog.x_centroid, catalog.y_centroid
    roundness = catalog.semimajor_axis / catalog.semiminor_axis
    # Bright, unsaturated, round, isolated sources in the right half (M2 fills the left).
    distance = np.array([np.sort(np.hypot(x - x0, y - y0))[1] for x0, y0 in zip(x, y)])
    good = ((x > 1100) & (x < 2000) & (y > 50) & (y < 1440) & (catalog.segment_flux > 300)
            & (catalog.max_value < 300) & (roundness < 1.15) & (distance > 25))
    stars = np.flatnonzero(good)[:3]
    assert len(stars) == 3
    offsets = []
    for index in stars:
        coord = catalog.sky_centroid[index]
        cutout = sdss.cutout_from_frames(real_frames, coord.ra, coord.dec, 0.05, size=48,
                                         field=48 * 0.3 * u.arcsec, target_psf_fwhm=None)
        for band, plane in zip(cutout.bands, cutout.flux.value):
            frame = real_frames.frames(band)[0]
            # The star on the band's own frame, placed on the cutout grid by the WCS...
            fx, fy = (int(round(float(v))) for v in frame.wcs.world_to_pixel(coord))
            box = frame.image.value[fy - 6:fy + 7, fx - 6:fx + 7].astype(float)
            bx, by = centroid_2dg(box - np.median(frame.image.value[fy - 30:fy + 30,
                                                                    fx - 30:fx + 30]))
            expected = cutout.wcs.world_to_pixel(frame.wcs.pixel_to_world(fx - 6 + bx,
                                                                          fy - 6 + by))
            # ... and measured after reprojection.
            cx, cy = centroid_2dg(plane[18:30, 18:30] - np.median(plane))
            measured = (cx + 18, cy + 18)
            assert np.hypot(measured[0] - expected[0], measured[1] - expected[1]) < 0.1, band
            offsets.append((band, measured[0] - 23.5, measured[1] - 23.5))
    # Band to band, averaged over the stars (in arcsec): g, i and z sit within 0.04
    # arcsec (0.1 SDSS pixel) of r; u is off by ~0.07 arcsec in declination in these
    # frames. That is the frames' own astrometry (the check above shows the
    # reprojection keeps each band's positions to 0.1 cutout pixel); allow 0.1 arcsec.
    mean = {band: 0.3 * np.mean([(dx, dy) for b, dx, dy in offsets if b == band], axis=0)
            for band in "ugriz"}
    for band in "giz":
        assert np.hypot(*(mean[band] - mean["r"])) < 0.04, band
    assert np.hypot(*(mean["u"] - mean["r"])) < 0.1


def test_predict_command_from_frames(frame_dir, tmp_path, capsys):
    import torch
    from helpers_nn import tiny_config

    from picasso import PropertyMaps
    from picasso.cli import main
    from picasso.nn.unet import UNet
    from picasso.nn.model import Model

    torch.manual_seed(0)
    model_path = tmp_path / "tiny.safetensors"
    Model(UNet(tiny_config()).eval(), image_size=16, trained=True).save(model_path)
    output = tmp_path / "maps.fits"
    arguments = ["predict", str(model_path), "--sdss-frames", str(frame_dir[0]),
                 "--ra", str(RA), "--dec", str(DEC), "--z", "0.05", "--field", "20 arcsec",
                 "--target-psf", "widest", "--save-cutout", str(tmp_path / "cutout.fits"),
                 "-o", str(output)]
    assert main(arguments) == 0
    maps = PropertyMaps.read(output)
    assert maps.shape == (16, 16)
    cutout = GalaxyCutout.read(tmp_path / "cutout.fits")
    assert cutout.flux.sum(axis=(1, 2))[2].to_value(u.nanomaggy) == pytest.approx(40, rel=0.01)
    assert_allclose(maps.pixel_scale.to_value(u.kpc), cutout.pixel_scale_kpc.to_value(u.kpc))
    # The default ('auto') works at z = 0.05 without a PSF option: 1 kpc would need
    # sharpening there, so the widest band's PSF is the target.
    assert main(arguments[:-6] + ["-o", str(tmp_path / "default.fits")]) == 0
    default = PropertyMaps.read(tmp_path / "default.fits")
    assert "widest band" in default.meta["psf_rule"]
    # 1 kpc is sharper than SDSS seeing at z = 0.05: refused, clearly, naming the
    # command-line flags rather than Python arguments.
    capsys.readouterr()
    assert main(arguments[:-6] + ["--target-psf", "1 kpc", "-o", str(tmp_path / "other.fits")]) == 1
    message = capsys.readouterr().err
    assert "refusing to sharpen" in message and "Choose --target-psf of at least" in message
    assert "target_psf_fwhm" not in message
    assert main(arguments) == 1
    message = capsys.readouterr().err
    assert "already exists; pass --overwrite to replace it" in message
    assert main(["predict", str(model_path), "--sdss-frames", str(frame_dir[0]), "--ra",
                 str(RA), "-o", str(tmp_path / "x.fits")]) == 1


def test_the_sky_left_at_the_border_is_subtracted(tmp_path):
    # A galaxy on a diffuse glow (a 2,000 arcsec wide Gaussian: flat across the cutout),
    # like one seen through the halo of a globular cluster.
    glow = {"ra": RA, "dec": DEC, "sigma": 2000.0, "flux": {band: 4e6 for band in "gr"}}
    for band in "gr":
        write_sdss_frame(tmp_path, band, crval=FRAME_CENTRE, galaxies=[GALAXY, glow])
    frames = sdss.FrameSet.read(tmp_path, cache=False)
    level = 4e6 / (2 * np.pi * (2000.0 / 0.396) ** 2)  # nanomaggy per frame pixel
    options = dict(size=48, field=30 * u.arcsec, bands=["g", "r"], target_psf_fwhm=None)
    with pytest.warns(AstropyUserWarning, match="the sky at the cutout's border is"):
        kept = sdss.cutout_from_frames(frames, RA * u.deg, DEC * u.deg, 0.05, **options)
    cleaned = sdss.cutout_from_frames(frames, RA * u.deg, DEC * u.deg, 0.05,
                                      subtract_background=True, **options)
    glow_total = level * (30 / 0.396) ** 2
    for index, band in enumerate("gr"):
        assert kept.flux[index].sum().to_value(u.nanomaggy) == pytest.approx(
            BAND_FLUX[band] + glow_total, rel=0.02)
        assert cleaned.flux[index].sum().to_value(u.nanomaggy) == pytest.approx(
            BAND_FLUX[band], rel=0.02)
        assert cleaned.meta["background_nanomaggy"][band] == pytest.approx(
            level * (30 / 0.396 / 48) ** 2, rel=0.02)
    assert glow_total > 0.5 * BAND_FLUX["g"]


def test_local_background_leaves_out_masked_pixels():
    flux = np.zeros((2, 40, 40))
    flux[:, :, :20] = 5.0  # half the border covered by something masked
    mask = np.zeros((40, 40), dtype=bool)
    mask[:, :20] = True
    assert_allclose(sdss.local_background(flux, mask), [0.0, 0.0])
    assert np.all(sdss.local_background(flux) > 0)
    assert_allclose(sdss.local_background(flux + 2.0, mask), [2.0, 2.0])
