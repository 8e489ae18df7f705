import astropy.units as u
import h5py
import numpy as np
import pytest
import torch
from astropy.wcs import WCS
from helpers_nn import make_pairs, tiny_config
from numpy.testing import assert_allclose, assert_array_equal

from picasso import GalaxyCutout, HalfRadius, PropertyMaps
from picasso.cli import main
from picasso.io.dataset import PairDataset
from picasso.nn.predict import parse_shard, predict_cutouts, predict_dataset, shard_indices
from picasso.nn.transforms import normalize_flux
from picasso.nn.unet import UNet
from picasso.nn.model import Model


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return PairDataset(make_pairs(tmp_path_factory.mktemp("pairs") / "pairs.h5", n_galaxies=3))


def _model(heteroscedastic=False):
    torch.manual_seed(1)
    network = UNet(tiny_config(heteroscedastic=heteroscedastic))
    # a bias that keeps outputs in a physical range
    with torch.no_grad():
        network.head.bias.fill_(1.0)
    return Model(network.eval(), image_size=16, trained=True)


def _cutout(pairs, **kwargs):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [8.5, 8.5]
    wcs.wcs.cdelt = [-0.396 / 3600, 0.396 / 3600]
    image = pairs[0]["image"]
    return GalaxyCutout(image * u.nanomaggy, wcs=wcs, redshift=0.05, **kwargs)


def test_cutout_predict_gives_physical_maps_on_the_cutout_grid(pairs):
    model = _model()
    cutout = _cutout(pairs)
    maps = cutout.predict(model=model, precision="fp32")
    assert isinstance(maps, PropertyMaps)
    assert maps.properties == ("stellar_mass", "sfr")
    assert maps["stellar_mass"].unit == u.Msun / u.kpc**2
    assert maps.wcs.wcs.crval[0] == 150.0
    assert_allclose(maps.pixel_scale.to_value(u.kpc), cutout.pixel_scale_kpc.to_value(u.kpc))
    # the numbers are 10**network(ln flux per kpc2)
    area = cutout.pixel_scale_kpc.to_value(u.kpc) ** 2
    with torch.inference_mode():
        direct = model.network(torch.from_numpy(normalize_flux(pairs[0]["image"][None] / area)))
    assert_allclose(np.log10(maps["sfr"].value), direct[0, 1].numpy(), rtol=1e-5)
    # the same surface brightness on pixels twice as large gives the same surface densities
    coarse = GalaxyCutout(4 * pairs[0]["image"] * u.nanomaggy,
                          pixel_scale=2 * cutout.pixel_scale_kpc, redshift=0.05)
    assert_allclose(model.predict(coarse, precision="fp32")["sfr"].value, maps["sfr"].value,
                    rtol=1e-4)
    with pytest.raises(ValueError, match="physical pixel scale is unknown"):
        model.predict(GalaxyCutout(pairs[0]["image"] * u.nanomaggy))
    # the same flux in janskys gives the same maps
    in_jansky = cutout.to_unit(u.Jy)
    assert_allclose(model.predict(in_jansky, precision="fp32")["stellar_mass"].value,
                    maps["stellar_mass"].value, rtol=1e-4)
    # batches do not change the answer
    several = model.predict([cutout, cutout, cutout], batch_size=2, precision="fp32")
    assert_allclose(several[2]["sfr"].value, maps["sfr"].value, rtol=1e-5)


def test_uncertainty_and_test_time_augmentation(pairs):
    model = _model(heteroscedastic=True)
    cutout = _cutout(pairs)
    maps = predict_cutouts([cutout], model, symmetries=range(8))[0]
    assert set(maps.uncertainty) == {"stellar_mass", "sfr"}
    assert np.all(maps.uncertainty["sfr"] > 0)


def test_mismatches_are_refused_with_advice(pairs):
    model = _model()
    cutout = _cutout(pairs)
    gri = Model(UNet(tiny_config(in_bands=("g", "r", "i"))), image_size=16)
    with pytest.raises(ValueError, match=r"select_bands\(\['g', 'r', 'i'\]\)"):
        gri.predict(cutout)
    assert gri.predict(cutout.select_bands(["g", "r", "i"])).shape == (16, 16)
    with pytest.raises(ValueError, match="lacks i, z"):
        model.predict(cutout.select_bands(["u", "g", "r"]))
    small = GalaxyCutout(pairs[0]["image"][:, :8, :8] * u.nanomaggy)
    with pytest.raises(ValueError, match="trained on 16 x 16 images.*resample"):
        model.predict(small)
    wrong_field = _cutout(pairs, r_half=HalfRadius(5 * u.kpc, "mass_3d"))
    with pytest.raises(ValueError, match="spans .* times its 3-D stellar half-mass radius"):
        model.predict(wrong_field)
    surface = GalaxyCutout(pairs[0]["image"] * u.MJy / u.sr, pixel_scale=0.5 * u.kpc)
    with pytest.raises(ValueError, match="cannot convert the cutout's flux"):
        model.predict(surface)
    with pytest.raises(TypeError, match="picasso Model"):
        predict_cutouts([cutout], model=42)


def test_a_reference_redshift_makes_the_prediction_distance_free(pairs):
    from picasso.nn.transforms import distance_factor

    model = _model()
    model.transform = model.transform.replace(reference_redshift=0.05)
    near = _cutout(pairs)
    # the same galaxy twice as far: same kpc per pixel, fainter by (D_L ratio)**2
    far_flux = near.flux / distance_factor(0.1, 0.05)
    far = GalaxyCutout(far_flux, pixel_scale=near.pixel_scale_kpc, redshift=0.1)
    assert_allclose(model.input_flux(far), model.input_flux(near), rtol=1e-5)
    assert_allclose(model.predict(far)["stellar_mass"], model.predict(near)["stellar_mass"],
                    rtol=1e-4)
    no_redshift = GalaxyCutout(near.flux, pixel_scale=near.pixel_scale_kpc)
    with pytest.raises(ValueError, match="needs the galaxy's redshift"):
        model.predict(no_redshift)


def test_shards_cover_the_dataset_once(pairs, tmp_path):
    assert parse_shard("1/4") == (1, 4)
    with pytest.raises(ValueError, match="0 <= i < n"):
        parse_shard("4/4")
    parts = [shard_indices(len(pairs), (i, 4)) for i in range(4)]
    assert_array_equal(np.concatenate(parts), np.arange(len(pairs)))

    model = _model()
    model_path = model.save(tmp_path / "m.safetensors")
    for i in range(2):
        assert main(["predict", str(model_path), str(pairs.path), "-o",
                     str(tmp_path / "out.h5"), "--shard", f"{i}/2", "--no-progress"]) == 0
    whole = predict_dataset(model, pairs, tmp_path / "whole.h5")[0]
    with h5py.File(whole) as handle:
        expected = handle["log10_maps"][()]
    got = []
    for i in range(2):
        with h5py.File(tmp_path / f"out.shard{i}of2.h5") as handle:
            got.append(handle["log10_maps"][()])
            assert handle.attrs["n_source"] == len(pairs)
    assert_allclose(np.concatenate(got), expected, rtol=1e-5)


def test_one_fits_file_per_galaxy(pairs, tmp_path):
    model = _model()
    written = predict_dataset(model, pairs, tmp_path / "maps", shard=(0, 3))
    assert [path.name for path in written] == ["g100_v0.fits", "g100_v1.fits"]
    maps = PropertyMaps.read(written[0])
    assert maps.properties == ("stellar_mass", "sfr")
    assert_allclose(maps.pixel_scale.to_value(u.kpc), 0.5)


def test_masked_input_pixels_carry_into_the_maps_and_their_file(pairs, tmp_path):
    model = _model()
    mask = np.zeros((16, 16), bool)
    mask[0, :] = mask[:, -2:] = True  # off the frame
    cutout = _cutout(pairs, mask=mask)
    maps = model.predict(cutout)
    assert_array_equal(maps.no_data, mask)
    for name in maps.properties:
        assert maps.empty(name)[mask].all()
        assert np.all(maps[name].value[mask] == 0)
    # a total leaves them out
    unmasked = model.predict(_cutout(pairs))
    assert maps.total("stellar_mass") < unmasked.total("stellar_mass")
    maps.write(tmp_path / "maps.fits")
    assert_array_equal(PropertyMaps.read(tmp_path / "maps.fits").no_data, mask)


def test_a_model_told_the_psf_needs_it_and_uses_it(pairs):
    from picasso.nn.transforms import InputTransform
    from picasso.nn.unet import UNet

    torch.manual_seed(2)
    config = tiny_config(conditions=("psf_fwhm", "redshift"))
    model = Model(UNet(config).eval(), InputTransform(bands=config.in_bands,
                                                      conditions=config.conditions,
                                                      floor_at_zero=True),
                  image_size=16, trained=True)
    with pytest.raises(ValueError, match="told the image's PSF"):
        model.predict(_cutout(pairs))
    sharp = _cutout(pairs, psf_fwhm=1.0 * u.arcsec)
    blurred = _cutout(pairs, psf_fwhm=3.0 * u.arcsec)
    stacked = model.input_flux(sharp)
    assert stacked.shape == (7, 16, 16)
    assert_allclose(stacked[5], 1.0 / 0.396, rtol=1e-5)  # FWHM in pixels
    assert_allclose(stacked[6], 0.05)
    assert not np.allclose(model.predict(sharp)["sfr"].value, model.predict(blurred)["sfr"].value)


def test_an_array_or_a_list_of_images_gives_the_same_maps_and_a_broken_network_is_refused():
    model = _model(heteroscedastic=True)
    rng = np.random.default_rng(4)
    images = rng.lognormal(0.0, 1.0, (3, 5, 16, 16)).astype(np.float32)
    # batches of 2 over 3 images: the last batch is short
    as_array = model.predict_log10(images, batch_size=2)
    as_list = model.predict_log10(list(images), batch_size=2)
    for array_result, list_result in zip(as_array, as_list):
        assert_array_equal(array_result, list_result)
    assert as_array[0].shape == (3, 2, 16, 16) and np.all(as_array[1] > 0)
    with torch.no_grad():
        model.network.head.bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="non-finite"):
        model.predict_log10(images, batch_size=2)


def test_values_no_galaxy_reaches_are_counted_and_logged(caplog):
    from picasso.nn.diagnostics import log_unphysical, unphysical_pixels

    names = ["stellar_mass", "stellar_age", "sfr"]
    log10_maps = np.zeros((2, 3, 4, 4))
    log10_maps[0, 2, 0, :2] = 5.0  # 1e5 Msun/yr/kpc2: above any starburst
    log10_maps[1, 0, 1, 1] = 12.0  # above the densest stellar systems
    log10_maps[1, 1] = 20.0  # an intensive property has no such bound here
    records = unphysical_pixels(log10_maps, names)
    assert records == [{"sfr": 2}, {"stellar_mass": 1}]
    assert unphysical_pixels(np.zeros((1, 3, 4, 4)), names) == [{}]
    with caplog.at_level("WARNING", logger="picasso.nn.diagnostics"):
        assert log_unphysical(records, ["a", "b"]) == [0, 1]
    assert "2 sfr pixel(s) above 1000" in caplog.text and "b (1 stellar_mass" in caplog.text
    assert "estimate='median'" in caplog.text and "subtract_background=True" in caplog.text
