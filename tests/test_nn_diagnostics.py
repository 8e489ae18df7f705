"""
Tests of picasso.nn.diagnostics: out-of-distribution warnings.

A tiny pair dataset from the synthetic universe (32 x 32, few particles, one
view per galaxy) is split by galaxy: the statistics are built on 24
galaxies, the other 8 are held-out mocks that must pass; a star, pure noise,
a galaxy far outside the training redshift and size range and band-swapped
input must each warn.
"""

import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.convolution import Gaussian2DKernel
from helpers_mock import small_universe
from helpers_nn import tiny_config

from picasso.io.dataset import PairDataset
from picasso.mock.build import build_dataset
from picasso.mock.observe import ObservingConfig, observe
from picasso.nn.transforms import InputTransform
from picasso.studies import model_card, training_observing
from picasso.nn.diagnostics import (
    STATISTICS_KEY,
    InputStatistics,
    PicassoOODWarning,
    diagnose,
    feature_names,
    input_features,
    psf_fwhm_pixels,
    training_statistics,
    warn_out_of_distribution,
)

SIZE = 32
N_GALAXIES = 32
N_TRAIN_GALAXIES = 24
#: Approximate colours (u-g, g-r, r-i, i-z) of an early-M dwarf on the SDSS stellar locus
#: (Covey et al. 2007), the commonest faint star at high Galactic latitude.
STAR_COLOURS = (2.6, 1.35, 0.65, 0.37)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    path = tmp_path_factory.mktemp("ood") / "pairs.h5"
    build_dataset(path, N_GALAXIES, image_size=SIZE, seed=2, views=1, processes=1,
                  progress=False, universe=small_universe(seed=2))
    return PairDataset(path)


@pytest.fixture(scope="module")
def split(pairs):
    galaxy = np.asarray(pairs.table["galaxy_id"])
    return np.flatnonzero(galaxy < N_TRAIN_GALAXIES), np.flatnonzero(galaxy >= N_TRAIN_GALAXIES)


@pytest.fixture(scope="module")
def statistics(pairs, split):
    return training_statistics(pairs, InputTransform(bands=pairs.bands), split[0])


def network_input(image, pixel_scale):
    """What the network sees before its logarithm: flux per kpc2."""
    return np.asarray(image) / u.Quantity(pixel_scale, u.kpc).to_value(u.kpc) ** 2


@pytest.fixture(scope="module")
def held_out(pairs, split):
    scales = u.Quantity(pairs.table["pixel_scale_kpc"], u.kpc)
    return np.stack([network_input(pairs[int(i)]["image"], scales[i]) for i in split[1]])


@pytest.fixture(scope="module")
def held_out_psf(pairs, split):
    return np.array([psf_fwhm_pixels(pairs.cutout(int(i))) for i in split[1]])


def flagged(statistics, images, psf=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        positions = warn_out_of_distribution(diagnose(statistics, images,
                                                      psf_fwhm_pixels=psf))
    ood = [w for w in caught if issubclass(w.category, PicassoOODWarning)]
    return positions, ood


def background_noise(image):
    """Per-band pixel rms of the image's corners (where the mock has only noise)."""
    corners = np.concatenate([image[:, :5, :5].reshape(5, -1), image[:, -5:, -5:].reshape(5, -1)],
                             axis=1)
    return corners.std(axis=1)


def test_held_out_mocks_do_not_warn(statistics, held_out, held_out_psf):
    assert statistics.feature_names == feature_names("ugriz")
    for psf in (held_out_psf, None):
        positions, caught = flagged(statistics, held_out, psf)
        assert positions == [] and caught == []
    records = diagnose(statistics, held_out, psf_fwhm_pixels=held_out_psf)
    assert all(r["distance"] < r["threshold"] for r in records)
    # Without the PSF the resolution feature is left out, not guessed.
    record = diagnose(statistics, held_out[0])[0]
    assert record["features"]["log_resolution"] is None
    assert "log_resolution" not in record["largest"]


def test_a_star_warns(statistics, held_out, held_out_psf):
    # A point source as bright as a held-out galaxy in r, with the colours of an M dwarf,
    # through a Gaussian PSF of 1 pixel sigma, with the galaxy's noise. The galaxy is the
    # one with the quietest corners: a large galaxy's light reaches the corners, where it
    # would pass for noise.
    galaxy = held_out[np.argmin([background_noise(image)[2] for image in held_out])]
    psf = Gaussian2DKernel(1.0, x_size=SIZE, y_size=SIZE).array
    r_flux = galaxy[2].sum()
    magnitudes = np.concatenate([[0.0], -np.cumsum(STAR_COLOURS)])
    flux = 10 ** (-0.4 * (magnitudes - magnitudes[2])) * r_flux
    star = flux[:, None, None] * psf[None]
    star = star + np.random.default_rng(1).normal(size=star.shape) * background_noise(
        galaxy)[:, None, None]
    positions, caught = flagged(statistics, star[np.newaxis], 2.0 * np.sqrt(2 * np.log(2)))
    assert positions == [0] and len(caught) == 1
    record = diagnose(statistics, star, psf_fwhm_pixels=2.0 * np.sqrt(2 * np.log(2)))[0]
    # A point source is as wide as its PSF (up to the growth curve on 1-pixel steps).
    assert record["features"]["log_resolution"] == pytest.approx(0.0, abs=0.2)


def test_pure_noise_warns(statistics, held_out):
    noise = np.random.default_rng(2).normal(size=held_out[0].shape) * background_noise(
        held_out[0])[:, None, None]
    positions, caught = flagged(statistics, noise[np.newaxis])
    assert positions == [0] and "outside the model's training inputs" in str(caught[0].message)


def test_galaxy_outside_training_redshift_and_size_warns(statistics):
    # A dwarf (10^8 Msun: the training universe starts at 10^9.5) at z = 0.3 (training: 0.05).
    dwarfs = small_universe(seed=5, mass_range=(10**8, 10**8.3) * u.Msun)
    cutout, _ = observe(dwarfs.particles(0), ObservingConfig(image_size=SIZE, redshift=0.3),
                        seed=1)
    image = network_input(cutout.flux.to_value(u.nanomaggy), cutout.pixel_scale_kpc)
    positions, caught = flagged(statistics, image[np.newaxis], psf_fwhm_pixels(cutout))
    assert positions == [0] and len(caught) == 1


def test_band_swapped_input_warns(statistics, held_out, held_out_psf):
    positions, caught = flagged(statistics, held_out[:, ::-1], held_out_psf)
    assert positions == list(range(len(held_out))) and len(caught) == 1
    record = diagnose(statistics, held_out[0, ::-1])[0]
    assert record["largest"][0].startswith("colour")


def test_statistics_travel_in_the_model_header(statistics, held_out, tmp_path):
    from picasso.nn import Model, UNet, load_model

    model = Model(UNet(tiny_config()), image_size=SIZE, trained=True,
                  info={STATISTICS_KEY: statistics.to_dict()})
    loaded = load_model(model.save(tmp_path / "model.safetensors"))
    expected = [r["distance"] for r in diagnose(statistics, held_out)]
    assert [r["distance"] for r in diagnose(loaded, held_out)] == pytest.approx(expected)
    # A model without statistics gives no diagnostics (and no warning).
    bare = Model(UNet(tiny_config()), image_size=SIZE)
    assert diagnose(bare, held_out) is None and warn_out_of_distribution(None) == []
    sigma = np.full((len(held_out), 2, SIZE, SIZE), 0.2)
    record = diagnose(loaded, held_out, sigma_dex=sigma, properties=("stellar_mass", "sfr"))[0]
    assert record["spread_dex"] == pytest.approx({"stellar_mass": 0.2, "sfr": 0.2})


def test_threshold_and_bad_input(statistics):
    k = len(statistics.feature_names)
    # The documented threshold: at least the chi-square point of false-alarm rate 1e-4.
    from scipy.stats import chi2

    assert statistics.threshold >= np.sqrt(chi2.isf(1e-4, k))
    assert statistics.threshold >= 1.5 * statistics.distance_quantiles[2]
    with pytest.raises(ValueError, match="shape"):
        input_features(np.zeros((3, SIZE, SIZE)), "ugriz")
    with pytest.raises(ValueError, match=f"at least {k + 2}"):
        InputStatistics.from_features(np.zeros((k, k)), "ugriz", flux_unit="nmgy", image_size=8)
    n = statistics.n_images
    small_sample = (n * n - 1) / (n * (n - k))
    assert statistics.threshold >= 0.999999 * np.sqrt(chi2.isf(1e-4, k) * small_sample)
    with pytest.raises(ValueError, match="lack"):
        InputStatistics.from_dict({"bands": ["r"]})


def test_only_the_bands_the_model_sees_count(pairs, split, held_out, held_out_psf):
    # A model that zeroes u, i and z is judged on g and r only: a wild u band is no warning.
    transform = InputTransform(bands=pairs.bands, keep_bands=("g", "r"))
    statistics = training_statistics(pairs, transform, split[0])
    assert statistics.bands == ("g", "r") and statistics.feature_names[0] == "colour_g_r"
    wild = held_out.copy()
    wild[:, 0] *= 1e3
    records = diagnose(statistics, wild, bands="ugriz", psf_fwhm_pixels=held_out_psf)
    assert not any(record["out_of_distribution"] for record in records)
    with pytest.raises(ValueError, match="need"):
        diagnose(statistics, held_out[:, 3:], bands="iz")


@pytest.mark.slow
def test_trained_model_records_statistics_and_predict_warns(pairs, tmp_path):
    import picasso
    from picasso import GalaxyCutout
    from picasso.nn.predict import predict_cutouts
    from picasso.nn.train import TrainConfig, Trainer

    trainer = Trainer(pairs, tmp_path, model_config=tiny_config(),
                      config=TrainConfig(epochs=1, batch_size=8), progress=False)
    model = trainer.fit()
    assert STATISTICS_KEY in model.info
    # the model knows how its training images were observed (the paper's set-up here)
    from picasso.mock.observe import ObservingConfig

    assert training_observing(model) == ObservingConfig(image_size=SIZE)
    assert model.info[STATISTICS_KEY]["n_images"] == trainer.split.train.size
    assert "Training inputs and out-of-distribution warnings" in model_card(model)
    held_out = [pairs.cutout(int(i)) for i in trainer.split.test]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PicassoOODWarning)
        maps = predict_cutouts(held_out, model)
    assert all(not m.meta["ood"]["out_of_distribution"] for m in maps)
    galaxy = held_out[0].flux.to_value(u.nanomaggy)
    swapped = GalaxyCutout(galaxy[::-1] * u.nanomaggy, pixel_scale=held_out[0].pixel_scale_kpc,
                           redshift=held_out[0].redshift)
    with pytest.warns(PicassoOODWarning, match="cutout 0"):
        (prediction,) = predict_cutouts([swapped], model)
    assert prediction.meta["ood"]["out_of_distribution"]
    assert prediction.meta["ood"]["largest"][0].startswith("colour")
    # The diagnostics survive writing the maps to FITS.
    path = tmp_path / "maps.fits"
    prediction.write(path)
    assert picasso.PropertyMaps.read(path).meta["ood"]["distance"] == pytest.approx(
        prediction.meta["ood"]["distance"])
