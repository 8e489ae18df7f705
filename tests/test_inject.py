"""
Tests of picasso.studies.injection: synthetic galaxies injected into SDSS frame files.

Blank frames are written in the real DR8+ layout (tests/helpers_sdss.py), each
band with its own pointing, so that the bands sit on different pixel grids as
in real fields. When the real field in ../shared/data/sdss (or
$PICASSO_SDSS_DATA) is present, a crop of it is used too.
"""

import bz2
import io
import os
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.stats import SigmaClip
from astropy.wcs import WCS, FITSFixedWarning
from helpers_mock import small_universe
from helpers_sdss import write_sdss_frame
from numpy.testing import assert_allclose
from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture, aperture_photometry
from photutils.centroids import centroid_com

from picasso import GalaxyCutout
from picasso.io import sdss
from picasso.studies.injection import Placement, crop_frame, inject, inject_galaxy
from picasso.particles import Particles, StarParticles
from picasso.utils.optional_deps import HAS_DUST_EXTINCTION

RA, DEC = 150.0, 2.0
#: Pointing of each band's frame: offsets of several pixels between bands, as in real fields.
POINTING = {band: (RA + 1.1e-3 * (i - 2) / 3, DEC - 0.9e-3 * (i - 2) / 3)
            for i, band in enumerate("ugriz")}
REDSHIFT = 0.08


@pytest.fixture(scope="module")
def blank_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("blank")
    for index, band in enumerate("ugriz"):
        write_sdss_frame(directory, band, crval=POINTING[band], shape=(160, 200),
                         noise_seed=10 + index)
    return directory


@pytest.fixture(scope="module")
def galaxy_particles():
    universe = small_universe(seed=4, companion_fraction=0.0)
    return universe.particles(1)


@pytest.fixture(scope="module")
def injected(blank_dir, galaxy_particles, tmp_path_factory):
    output = tmp_path_factory.mktemp("injected")
    galaxy, paths = inject_galaxy(blank_dir, galaxy_particles, RA * u.deg, DEC * u.deg,
                                  REDSHIFT, output, image_size=32, seed=1)
    return galaxy, paths, output


def one_population(positions):
    """Star particles of one age and metallicity, so light is proportional to mass."""
    n = len(positions)
    stars = StarParticles.from_arrays(positions, np.full(n, 1e6), np.full(n, 1.6e6),
                                      np.full(n, 3.0), np.full(n, 0.02))
    return Particles(stars, meta={"galaxy_id": 7})


def test_injected_flux_is_recovered_by_aperture_photometry(injected, blank_dir):
    galaxy, paths, _ = injected
    for path in paths:
        frame = sdss.read_frame(path, cache=False)
        band = frame.band
        # The light added is the galaxy's light: lost only beyond the rendered region.
        assert galaxy.flux[band].value == pytest.approx(galaxy.model_flux[band].value, rel=0.02)
        (_, (rows, cols), stamp), = galaxy.stamps[band]
        noiseless = np.zeros(frame.shape)
        noiseless[rows, cols] = stamp
        x, y = frame.wcs.world_to_pixel(galaxy.coord)
        aperture = CircularAperture((float(x), float(y)), r=25.0)
        expected = float(aperture_photometry(noiseless, aperture)["aperture_sum"][0])
        assert expected > 0.97 * galaxy.flux[band].value
        measured = aperture_photometry(frame.image.value.astype(float), aperture,
                                       error=np.sqrt(frame.variance_in()))
        flux = float(measured["aperture_sum"][0])
        error = float(measured["aperture_sum_err"][0])
        assert abs(flux - expected) < 4 * error, band
        # Measurable: the galaxy is detected in every band.
        assert expected > 5 * error, band


def test_each_band_is_rendered_on_its_own_grid(blank_dir, tmp_path):
    # A mirror-symmetric galaxy: its light centres exactly on the injection position.
    rng = np.random.default_rng(3)
    half = rng.normal(0.0, 1.5, size=(1500, 3)) * [1.0, 0.6, 0.3]
    particles = one_population(np.concatenate([half, -half]))
    coord = SkyCoord(RA + 2e-4, DEC - 1e-4, unit="deg")
    galaxy, paths = inject_galaxy(blank_dir, particles, coord.ra, coord.dec, 0.05, tmp_path,
                                  image_size=32, photon_noise=False)
    pixels = {}
    for path in paths:
        frame = sdss.read_frame(path, cache=False)
        (_, (rows, cols), stamp), = galaxy.stamps[frame.band]
        x, y = centroid_com(stamp)
        centre = frame.wcs.pixel_to_world(cols.start + x, rows.start + y)
        assert centre.separation(coord).to_value(u.arcsec) < 0.02, frame.band
        pixels[frame.band] = frame.wcs.world_to_pixel(coord)
    # The bands really are on different grids (several pixels apart).
    positions = np.array([[float(v) for v in p] for p in pixels.values()])
    spread = np.hypot(*(positions[:, None] - positions[None, :]).transpose(2, 0, 1)).max()
    assert spread > 3


def test_truth_wcs_follows_the_galaxy(blank_dir, tmp_path):
    # A lopsided galaxy of one population: the mass centroid of the truth maps and the
    # light centroid on the frame are the same point on the sky.
    rng = np.random.default_rng(5)
    body = rng.normal(0.0, 1.0, size=(2000, 3)) * [1.0, 1.0, 0.3]
    clump = rng.normal(0.0, 0.4, size=(1000, 3)) + [2.5, 1.5, 0.0]
    particles = one_population(np.concatenate([body, clump]))
    coord = SkyCoord(RA, DEC, unit="deg")
    galaxy, paths = inject_galaxy(blank_dir, particles, coord.ra, coord.dec, 0.05, tmp_path,
                                  image_size=48, photon_noise=False)
    truth = galaxy.truth
    centre = truth.wcs.world_to_pixel(coord)
    assert_allclose(centre, ((48 - 1) / 2, (48 - 1) / 2), atol=1e-6)
    assert truth.meta["fov"].unit == u.kpc and truth.wcs.pixel_shape == (48, 48)
    mass = truth["stellar_mass"].value
    yy, xx = np.indices(mass.shape)
    mass_centre = truth.wcs.pixel_to_world((mass * xx).sum() / mass.sum(),
                                           (mass * yy).sum() / mass.sum())
    frame = sdss.read_frame(next(p for p in paths if "frame-r-" in p.name), cache=False)
    (_, (rows, cols), stamp), = galaxy.stamps["r"]
    x, y = centroid_com(stamp)
    light_centre = frame.wcs.pixel_to_world(cols.start + x, rows.start + y)
    truth_pixel = proj_scale(truth.wcs)
    # Truth pixels deposit whole particles: agreement to a quarter of a truth pixel.
    assert light_centre.separation(mass_centre).to_value(u.arcsec) < 0.25 * truth_pixel
    # The clump (+x, +y in the galaxy's plane) lies west and north of the centre.
    offset_east = (mass_centre.ra.deg - RA) * np.cos(np.radians(DEC))
    assert offset_east < 0 and mass_centre.dec.deg > DEC
    # The stellar mass in the truth field is the galaxy's (one population, nothing outside).
    # the kernels conserve mass; only their far tails reach past the field's edge
    assert truth.total("stellar_mass").to_value(u.Msun) == pytest.approx(3000 * 1e6, rel=1e-4)


def proj_scale(wcs):
    from astropy.wcs.utils import proj_plane_pixel_scales

    return float(proj_plane_pixel_scales(wcs)[0] * 3600)


def test_frames_keep_their_layout_and_read_unchanged(injected, blank_dir):
    galaxy, paths, output = injected
    assert sorted(p.name for p in paths) == sorted(p.name for p in blank_dir.iterdir())
    for path in paths:
        with fits.open(blank_dir / path.name) as before, fits.open(path) as after:
            assert len(after) == len(before) == 4
            for index in (1, 2, 3):
                assert after[index].header == before[index].header
                if index == 1:
                    assert np.array_equal(after[1].data, before[1].data)
                else:
                    for name in before[index].columns.names:
                        assert np.array_equal(after[index].data[name], before[index].data[name])
            header = after[0].header
            for key in ("FILTER", "BUNIT", "CRPIX1", "CD1_2", "RUN", "CAMCOL"):
                assert header[key] == before[0].header[key]
            assert any("picasso inject" in str(card) for card in header["HISTORY"])
            changed = after[0].data != before[0].data
            assert changed.any() and not changed.all()
    frameset = sdss.FrameSet.read(output, cache=False)
    cutout = galaxy.cutout(frameset, target_psf_fwhm="widest")
    assert isinstance(cutout, GalaxyCutout) and cutout.shape == galaxy.truth.shape
    # The cutout and the truth share the sky: same centre and same field.
    assert_allclose(cutout.wcs.world_to_pixel(galaxy.coord), galaxy.truth.wcs.world_to_pixel(
        galaxy.coord), atol=1e-6)
    direct = GalaxyCutout.from_sdss_frames(output, galaxy.coord.ra, galaxy.coord.dec,
                                           REDSHIFT, size=32, field=galaxy.fov,
                                           target_psf_fwhm="widest")
    assert np.all(np.isfinite(direct.flux.value))


def test_compressed_output_and_several_galaxies(blank_dir, galaxy_particles, tmp_path):
    placements = [
        Placement(galaxy_particles, (RA - 4e-3) * u.deg, DEC * u.deg, 0.1, name="west"),
        Placement(galaxy_particles, (RA + 4e-3) * u.deg, DEC * u.deg, 0.1, name="east",
                  direction=(1.0, 0.0, 0.0)),
    ]
    result = inject(blank_dir, placements, tmp_path, image_size=16, compress=True,
                    photon_noise=False)
    assert len(result) == 2 and all(p.name.endswith(".fits.bz2") for p in result.paths)
    frame = sdss.read_frame(next(p for p in result.paths if "frame-g-" in p.name), cache=False)
    original = sdss.read_frame(blank_dir / frame.path.split("/")[-1][:-4], cache=False)
    added = frame.image.value - original.image.value
    expected = sum(galaxy.flux["g"].value for galaxy in result)
    assert added.sum() == pytest.approx(expected, rel=1e-4)
    assert [str(card).split(":")[0] for card in frame.meta["HISTORY"]
            if str(card).startswith("picasso inject")] == ["picasso inject west",
                                                           "picasso inject east"]


def test_bad_input_fails_clearly(blank_dir, galaxy_particles, tmp_path):
    with pytest.raises(ValueError, match="holds the input frames"):
        inject_galaxy(blank_dir, galaxy_particles, RA * u.deg, DEC * u.deg, 0.05, blank_dir)
    with pytest.raises(ValueError, match="falls on none of the frames"):
        inject_galaxy(blank_dir, galaxy_particles, (RA + 1) * u.deg, DEC * u.deg, 0.05,
                      tmp_path, image_size=16)
    with pytest.raises(TypeError, match="angle Quantity"):
        Placement(galaxy_particles, RA, DEC * u.deg, 0.05)
    with pytest.raises(ValueError, match="redshift"):
        Placement(galaxy_particles, RA * u.deg, DEC * u.deg, 0.0)
    with pytest.raises(ValueError, match="no entry for band"):
        inject_galaxy(blank_dir, galaxy_particles, RA * u.deg, DEC * u.deg, 0.05, tmp_path,
                      image_size=16, psf_fwhm={"r": 1.2 * u.arcsec}, overwrite=True)


# ----------------------------------------------------------- real frames


def _real_data_dir():
    env = os.environ.get("PICASSO_SDSS_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sdss"


REAL_DIR = _real_data_dir()
REAL_BANDS = ("u", "r")
needs_real = pytest.mark.skipif(
    not sorted(REAL_DIR.glob("frame-*-002583-2-0136.fits*")) if REAL_DIR.is_dir() else True,
    reason=f"the real SDSS field (run 2583, camcol 2, field 136) is not at {REAL_DIR}; set "
           "PICASSO_SDSS_DATA to a directory holding its five frame files",
)


@pytest.fixture(scope="module")
def real_crops(tmp_path_factory):
    # Decompressing a bz2 frame takes about a second: crop each band once per module, on
    # the clean right half of the field (the globular cluster M2 fills the left third).
    directory = tmp_path_factory.mktemp("real_crops")
    corner = {}
    for band in REAL_BANDS:
        source = REAL_DIR / f"frame-{band}-002583-2-0136.fits.bz2"
        # Decompress into memory once (astropy re-reads a bz2 stream from the start on
        # every backward seek).
        with fits.open(io.BytesIO(bz2.decompress(source.read_bytes()))) as hdul:
            crop_frame(hdul, (600, 800), (1500, 1750), directory / source.name[:-4])
            with warnings.catch_warnings():
                # Real SDSS headers use the deprecated RADECSYS keyword.
                warnings.simplefilter("ignore", FITSFixedWarning)
                corner[band] = WCS(hdul[0].header).pixel_to_world(1500, 600)
    return directory, corner


@pytest.mark.slow
@needs_real
def test_crop_keeps_sky_noise_and_astrometry(real_crops):
    directory, corner = real_crops
    for band in REAL_BANDS:
        crop = sdss.read_frame(directory / f"frame-{band}-002583-2-0136.fits", cache=False)
        assert crop.shape == (200, 250)
        # The data-model noise of the crop is that of the real frame in this region.
        rms = {"u": 0.049, "r": 0.031}[band]
        assert np.sqrt(np.median(crop.variance_in())) == pytest.approx(rms, rel=0.3)
        # Pixel (0, 0) of the crop is pixel (1500, 600) of the frame.
        assert crop.wcs.pixel_to_world(0, 0).separation(corner[band]).to_value(u.arcsec) < 1e-6


@needs_real
def test_injection_into_a_real_frame(real_crops, tmp_path):
    real_crops, _ = real_crops
    # A mirror-symmetric galaxy of one population: its light centres on the injection.
    rng = np.random.default_rng(8)
    half = rng.normal(0.0, 1.2, size=(1500, 3)) * [1.0, 0.7, 0.3]
    particles = one_population(np.concatenate([half, -half]))
    first = sdss.read_frame(real_crops / "frame-r-002583-2-0136.fits", cache=False)
    coord = first.wcs.pixel_to_world(125, 100)
    galaxy, paths = inject_galaxy(real_crops, particles, coord.ra, coord.dec, 0.05,
                                  tmp_path, image_size=32, seed=2)
    for path in paths:
        after = sdss.read_frame(path, cache=False)
        before = sdss.read_frame(real_crops / path.name, cache=False)
        band = after.band
        (_, (rows, cols), stamp), = galaxy.stamps[band]
        x, y = after.wcs.world_to_pixel(coord)
        aperture = CircularAperture((float(x), float(y)), r=18.0)
        noiseless = np.zeros(after.shape)
        noiseless[rows, cols] = stamp
        expected = float(aperture_photometry(noiseless, aperture)["aperture_sum"][0])
        difference = aperture_photometry(after.image.value - before.image.value, aperture)
        # What was added is the galaxy plus its own photon noise (frame gain and calibration).
        photon = np.sqrt(np.sum(noiseless * before.calibration[None, :] / before.gain))
        assert abs(float(difference["aperture_sum"][0]) - expected) < 4 * photon, band
        # On the real sky, aperture photometry of the injected frame with a local
        # background (the frame's sky subtraction leaves residuals of a few 0.001 nmgy per
        # pixel) finds it within the real noise (sky, read noise and the source's photons
        # from the data model, and the background's uncertainty).
        image = after.image.value.astype(float)
        annulus = ApertureStats(image, CircularAnnulus(aperture.positions, 25.0, 40.0),
                                sigma_clip=SigmaClip(3.0))
        background = float(annulus.median)
        background_error = float(annulus.std) / np.sqrt(float(annulus.sum_aper_area.value))
        measured = aperture_photometry(image - background, aperture,
                                       error=np.sqrt(after.variance_in()))
        error = np.hypot(float(measured["aperture_sum_err"][0]),
                         aperture.area * background_error * np.sqrt(np.pi / 2))
        assert abs(float(measured["aperture_sum"][0]) - expected) < 4 * error, band
        assert expected > 0.97 * galaxy.flux[band].value
        # The light lands where this band's own WCS puts the injection position.
        centre = after.wcs.pixel_to_world(cols.start + centroid_com(stamp)[0],
                                          rows.start + centroid_com(stamp)[1])
        assert centre.separation(coord).to_value(u.arcsec) < 0.02, band


@pytest.mark.skipif(not HAS_DUST_EXTINCTION, reason="dust needs the dust_extinction package")
def test_dust_follows_the_observing_set_up(injected, blank_dir, galaxy_particles, tmp_path):
    from picasso.mock.observe import ObservingConfig

    clear, _, _ = injected
    dusty, _ = inject_galaxy(blank_dir, galaxy_particles, RA * u.deg, DEC * u.deg, REDSHIFT,
                             tmp_path, observing=ObservingConfig(dust=True), image_size=16,
                             photon_noise=False)
    dimming = {band: dusty.model_flux[band] / clear.model_flux[band] for band in "ugriz"}
    assert all(0 < dimming[band] < 1 for band in "ugriz")
    # Blue light is attenuated more than near-infrared light; the truth does not see dust.
    assert dimming["u"] < dimming["z"] and dimming["g"] < dimming["z"]
    # (to the kernels' tails past the edge of grids of different sizes)
    assert dusty.truth.total("stellar_mass").to_value(u.Msun) == pytest.approx(
        clear.truth.total("stellar_mass").to_value(u.Msun), rel=1e-4)
