"""
What happens to images and maps between the data and the network.

- Input normalisation: ``ln(max(flux, floor))`` per pixel and band as in the
  authors' code, with no per-band scaling, applied to the flux per pixel
  divided by the pixel area in kpc2 (`flux_per_area`): the authors' targets
  were amounts per pixel, picasso's are surface densities, so picasso's input
  is a surface brightness per kpc2 and the network never has to guess a pixel
  scale. A model with a reference redshift also moves every input to that
  distance (`distance_factor`), so it serves galaxies at any redshift.
- Targets: log10 of the maps in registry units, `~picasso.properties.LOG10_EMPTY`
  where a pixel is empty; `known_mask` tells the two apart.
- Augmentation: the 8 symmetries of the square (the dihedral group D4),
  applied identically to an image and its maps.
- Band studies: `zero_bands` zeroes dropped channels and keeps the network's
  5 inputs (the authors' way); `select_band_channels` builds the input of a
  true fewer-band model.

Every function takes numpy arrays or torch tensors and returns the same kind.
"""

import numpy as np
import torch

from ..properties import BANDS, LOG10_EMPTY

__all__ = [
    "DEFAULT_FLUX_FLOOR",
    "EMPTY_THRESHOLD",
    "N_SYMMETRIES",
    "normalize_flux",
    "flux_per_area",
    "distance_factor",
    "known_mask",
    "d4_transform",
    "d4_inverse",
    "random_symmetry",
    "zero_bands",
    "select_band_channels",
]

#: Floor of the input normalisation, in the model's flux unit (the authors'
#: value, 1e-4, in theirs).
DEFAULT_FLUX_FLOOR = 1e-4

#: log10 truth values at or below this mark empty pixels (half the sentinel,
#: so the test is robust to rounding and to resampled sentinels).
EMPTY_THRESHOLD = LOG10_EMPTY / 2

#: Number of symmetries of the square.
N_SYMMETRIES = 8


def _is_torch(array):
    return isinstance(array, torch.Tensor)


def distance_factor(redshift, reference_redshift, cosmology=None):
    """
    ``(D_L(z) / D_L(z_ref))**2 (1 + z_ref) / (1 + z)``: what moves a flux from ``z`` to ``z_ref``.

    On a grid of fixed physical pixels, the flux density per unit frequency
    (nanomaggies, Jy) of a galaxy goes as ``(1 + z) / D_L(z)**2``: the
    distance and the (1+z)**4 surface-brightness dimming together. Multiplied
    by this factor, the flux per kpc2 of a galaxy at ``redshift`` is the one
    it would show at ``reference_redshift``, so one network serves galaxies
    at any distance. What each filter samples of the rest-frame spectrum
    (the rest of the k-correction) and evolution are not undone: both stay
    small between the redshifts of SDSS galaxies.

    Parameters
    ----------
    redshift : float or array-like
        The galaxy's redshift (or one per galaxy).
    reference_redshift : float
        The redshift of the model's training images.
    cosmology : `~astropy.cosmology.FLRW`, optional
        Planck18 by default; the ratio barely depends on it (H0 cancels).

    Returns
    -------
    factor : float or `numpy.ndarray`
        Of the shape of ``redshift``.
    """
    if cosmology is None:
        from astropy.cosmology import Planck18 as cosmology
    redshift = np.asarray(redshift, dtype=np.float64)
    reference = float(reference_redshift)
    for name, value in (("redshift", redshift), ("reference_redshift", reference)):
        if not np.all(np.isfinite(value) & (np.asarray(value) > 0)):
            raise ValueError(f"{name} must be positive and finite, got {value}")
    ratio = (cosmology.luminosity_distance(redshift).value
             / cosmology.luminosity_distance(reference).value)
    factor = ratio**2 * (1 + reference) / (1 + redshift)
    return float(factor) if factor.ndim == 0 else factor


def flux_per_area(flux, pixel_scale_kpc, *, redshift=None, reference_redshift=None):
    """
    Flux per pixel divided by the pixel's physical area (kpc2).

    The truth maps are surface densities per kpc2 and picasso's images span 10
    half-mass radii, so the physical pixel size differs from galaxy to galaxy.
    A network fed flux per pixel would have to guess the pixel area from the
    galaxy's appearance to reach a density per kpc2; divided by the area, the
    input is a surface brightness per kpc2 and the map from input to target
    is local, whatever the pixel scale. With a ``reference_redshift`` the
    result is also moved to that distance (`distance_factor`), so the input
    does not depend on how far away the galaxy is.

    Parameters
    ----------
    flux : `numpy.ndarray`
        Flux per pixel as plain numbers, ``(n_bands, ny, nx)``.
    pixel_scale_kpc : float or `~astropy.units.Quantity`
        Side of a pixel in kpc.
    redshift : float, optional
        The galaxy's redshift; required with ``reference_redshift``.
    reference_redshift : float, optional
        Redshift the flux is moved to (the model's); none by default.

    Returns
    -------
    flux_per_kpc2 : `numpy.ndarray`
        float32, in the flux unit per kpc2.
    """
    if hasattr(pixel_scale_kpc, "unit"):
        pixel_scale_kpc = pixel_scale_kpc.to_value("kpc")
    pixel_scale_kpc = float(pixel_scale_kpc)
    if not np.isfinite(pixel_scale_kpc) or pixel_scale_kpc <= 0:
        raise ValueError(f"the pixel scale must be a positive length in kpc, got {pixel_scale_kpc}")
    scale = 1.0 / pixel_scale_kpc**2
    if reference_redshift is not None:
        if redshift is None:
            raise ValueError(
                f"the input is moved to redshift {reference_redshift:g}, which needs the "
                "galaxy's redshift; give it one"
            )
        scale *= distance_factor(redshift, reference_redshift)
    return (np.asarray(flux, dtype=np.float32) * np.float32(scale)).astype(np.float32)


def normalize_flux(flux, floor=DEFAULT_FLUX_FLOOR):
    """
    The network input: ``ln(max(flux, floor))``.

    Parameters
    ----------
    flux : `numpy.ndarray` or `torch.Tensor`
        Flux per pixel as plain numbers in the model's flux unit (convert a
        Quantity first, e.g. with `picasso.GalaxyCutout.to_unit`).
    floor : float
        Smallest flux kept; negative and zero fluxes (sky noise) are raised to
        it. Must be positive.

    Returns
    -------
    normalised : same type as ``flux``, float32
    """
    if not floor > 0:
        raise ValueError(f"the flux floor must be positive, got {floor!r}")
    if _is_torch(flux):
        return torch.log(torch.clamp(flux.float(), min=floor))
    if hasattr(flux, "unit"):
        raise TypeError(
            "normalize_flux takes plain numbers in the model's flux unit; convert the Quantity "
            "with .to_value(unit) first"
        )
    return np.log(np.maximum(np.asarray(flux, dtype=np.float32), np.float32(floor)))


def known_mask(truth_log10):
    """
    Where log10 truth maps carry a value (not the empty-pixel sentinel).

    Parameters
    ----------
    truth_log10 : `numpy.ndarray` or `torch.Tensor`
        log10 maps with `~picasso.properties.LOG10_EMPTY` in empty pixels.

    Returns
    -------
    mask : bool array of the same shape and type family
        `True` where the pixel is known (non-empty).
    """
    return truth_log10 > EMPTY_THRESHOLD


def _check_symmetry(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < N_SYMMETRIES:
        raise ValueError(f"symmetry index must be an integer in 0..7, got {k!r}")
    return int(k)


def d4_transform(array, k):
    """
    Apply symmetry ``k`` of the square to the last two axes.

    Symmetry ``k`` is ``k % 4`` counter-clockwise quarter turns (as
    `numpy.rot90`), followed by a left-right flip when ``k >= 4``. Index 0 is
    the identity.

    Parameters
    ----------
    array : `numpy.ndarray` or `torch.Tensor`
        ``(..., ny, nx)``; square unless ``k`` is 0, 2, 4 or 6.
    k : int
        Symmetry index in ``0..7``.

    Returns
    -------
    transformed : same type as ``array``
    """
    k = _check_symmetry(k)
    turns = k % 4
    if _is_torch(array):
        out = torch.rot90(array, turns, dims=(-2, -1)) if turns else array
        return torch.flip(out, dims=(-1,)) if k >= 4 else out
    out = np.rot90(array, turns, axes=(-2, -1)) if turns else array
    out = np.flip(out, axis=-1) if k >= 4 else out
    return np.ascontiguousarray(out)


def d4_inverse(array, k):
    """
    Undo `d4_transform` with the same ``k``.

    Parameters
    ----------
    array : `numpy.ndarray` or `torch.Tensor`
    k : int

    Returns
    -------
    restored : same type as ``array``
    """
    k = _check_symmetry(k)
    if k >= 4:
        # a flip after quarter turns is its own inverse
        return d4_transform(array, k)
    return d4_transform(array, (4 - k) % 4)


def random_symmetry(seed, *keys):
    """
    Draw a symmetry index from a seed and any integer keys.

    The draw depends only on its arguments, so a data loader gives the same
    augmentation for the same (seed, epoch, index) in any worker process and
    after resuming a run.

    Parameters
    ----------
    seed : int
    *keys : int
        For example the epoch and the sample index.

    Returns
    -------
    k : int
        In ``0..7``.
    """
    return int(np.random.default_rng([int(seed), *map(int, keys)]).integers(N_SYMMETRIES))


def _band_indices(bands, names, what):
    bands = tuple(bands)
    names = BANDS.validate(names)
    missing = [name for name in names if name not in bands]
    if missing:
        raise ValueError(
            f"{what}: band(s) {', '.join(missing)} not among the image bands {', '.join(bands)}"
        )
    return [bands.index(name) for name in names]


def zero_bands(image, bands, keep):
    """
    Zero the channels of dropped bands, keeping the channel count.

    The authors' band studies (ugri, gr, r) kept the 5-band network and set
    the dropped input channels to zero. Apply this to the normalised input
    (zero means ``ln(flux) = 0`` there; the network simply never sees
    information in the channel).

    Parameters
    ----------
    image : `numpy.ndarray` or `torch.Tensor`
        ``(..., n_bands, ny, nx)``.
    bands : sequence of str
        Band of each channel.
    keep : sequence of str
        Bands to keep.

    Returns
    -------
    image : same type as ``image``, a copy
    """
    keep_index = set(_band_indices(bands, keep, "zero_bands"))
    drop = [index for index in range(len(tuple(bands))) if index not in keep_index]
    out = image.clone() if _is_torch(image) else np.array(image, copy=True)
    out[..., drop, :, :] = 0
    return out


def select_band_channels(image, bands, in_bands):
    """
    Pick and order the channels a model takes (a true fewer-band model).

    Parameters
    ----------
    image : `numpy.ndarray` or `torch.Tensor`
        ``(..., n_bands, ny, nx)``.
    bands : sequence of str
        Band of each channel of ``image``.
    in_bands : sequence of str
        Bands the model takes, in its channel order.

    Returns
    -------
    image : same type as ``image``
        ``(..., len(in_bands), ny, nx)``.
    """
    index = _band_indices(bands, in_bands, "select_band_channels")
    if list(index) == list(range(len(tuple(bands)))):
        return image
    if _is_torch(image):
        return image[..., index, :, :]
    return np.ascontiguousarray(np.asarray(image)[..., index, :, :])
