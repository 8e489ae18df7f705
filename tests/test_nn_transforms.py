import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

from picasso.nn.transforms import (
    d4_inverse,
    d4_transform,
    distance_factor,
    InputTransform,
    known_mask,
    normalize_flux,
    random_symmetry,
    select_band_channels,
    zero_bands,
)
from picasso.properties import LOG10_EMPTY


def test_normalize_flux_is_ln_with_floor():
    flux = np.array([-3.0, 0.0, 1e-5, 1.0, np.e**2])
    assert_allclose(normalize_flux(flux), [np.log(1e-4)] * 3 + [0.0, 2.0], rtol=1e-6)
    assert_allclose(normalize_flux(torch.tensor(flux), floor=1e-2).numpy(),
                    [np.log(1e-2)] * 3 + [0.0, 2.0], rtol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        normalize_flux(flux, floor=0)


def test_input_transform_moves_the_galaxy_to_the_reference_distance():
    from astropy.cosmology import Planck18

    flux = np.full((5, 4, 4), 2.0)
    plain = InputTransform(bands="ugriz")
    assert_allclose(plain.flux_per_kpc2(flux, 0.5), 8.0, rtol=1e-6)
    assert distance_factor(0.05, 0.05) == pytest.approx(1.0)
    # a flux density per kpc2 falls as (1 + z) / D_L**2 = (1 + z)**-3 / D_A**2
    z, z_ref = 0.1, 0.05
    expected = ((1 + z) ** 3 * Planck18.angular_diameter_distance(z) ** 2
                / ((1 + z_ref) ** 3 * Planck18.angular_diameter_distance(z_ref) ** 2)).value
    assert distance_factor(z, z_ref) == pytest.approx(expected, rel=1e-9)
    for far in (0.02, 0.1, 0.3):
        dimming = (1 + far) / Planck18.luminosity_distance(far).value ** 2
        reference = (1 + z_ref) / Planck18.luminosity_distance(z_ref).value ** 2
        assert distance_factor(far, z_ref) * dimming == pytest.approx(reference, rel=1e-10)
    assert_allclose(distance_factor([z_ref, z], z_ref), [1.0, expected], rtol=1e-9)
    transform = plain.replace(reference_redshift=z_ref)
    moved = transform.flux_per_kpc2(flux, 0.5, redshift=z)
    assert_allclose(moved, 8.0 * expected, rtol=1e-6)
    with pytest.raises(ValueError, match="galaxy's redshift"):
        transform.flux_per_kpc2(flux, 0.5)
    with pytest.raises(ValueError, match="positive"):
        distance_factor(-0.1, z_ref)


def test_known_mask_separates_the_sentinel():
    truth = np.array([LOG10_EMPTY, -3.0, 7.5, LOG10_EMPTY + 1e-3])
    assert_array_equal(known_mask(truth), [False, True, True, False])


def _pair():
    """An asymmetric image and a truth that is a pixel-wise function of it."""
    rng = np.random.default_rng(1)
    image = rng.uniform(0.1, 10, (5, 8, 8)).astype(np.float32)
    image[:, 0, 1] = 50.0  # break every symmetry
    truth = np.stack([np.log10(image[2]) + 7, np.where(image[0] > 5, -1.0, LOG10_EMPTY)])
    return image, truth.astype(np.float32)


def test_d4_maps_image_and_truth_consistently():
    image, truth = _pair()
    seen = set()
    for k in range(8):
        image_k, truth_k = d4_transform(image, k), d4_transform(truth, k)
        # the rotated input has exactly the rotated truth
        expected = np.stack([np.log10(image_k[2]) + 7,
                             np.where(image_k[0] > 5, -1.0, LOG10_EMPTY)])
        assert_allclose(truth_k, expected, rtol=1e-6)
        assert_array_equal(d4_inverse(image_k, k), image)
        # torch and numpy agree
        assert_array_equal(d4_transform(torch.from_numpy(image), k).numpy(), image_k)
        seen.add(image_k.tobytes())
    assert len(seen) == 8  # eight distinct symmetries
    assert_array_equal(d4_transform(image, 1), np.rot90(image, 1, axes=(1, 2)))
    assert_array_equal(d4_transform(image, 4), image[..., ::-1])


def test_random_symmetry_is_reproducible_and_covers_the_group():
    draws = [random_symmetry(3, epoch, index) for epoch in range(4) for index in range(50)]
    assert draws == [random_symmetry(3, epoch, index) for epoch in range(4) for index in range(50)]
    assert set(draws) == set(range(8))
    with pytest.raises(ValueError, match="0..7"):
        d4_transform(np.zeros((2, 2)), 8)


def test_band_dropping_two_ways():
    image = np.arange(5 * 2 * 2, dtype=np.float32).reshape(5, 2, 2) + 1
    bands = ("u", "g", "r", "i", "z")
    zeroed = zero_bands(image, bands, ("g", "r"))
    assert zeroed.shape == image.shape
    assert_array_equal(zeroed[[0, 3, 4]], 0)
    assert_array_equal(zeroed[[1, 2]], image[[1, 2]])
    assert image.min() > 0  # the input is not modified
    picked = select_band_channels(torch.from_numpy(image), bands, ("r", "g"))
    assert_array_equal(picked.numpy(), image[[2, 1]])
    with pytest.raises(ValueError, match="not among the image bands"):
        select_band_channels(image[:2], ("u", "g"), ("r",))
