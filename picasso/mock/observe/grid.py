"""
Pixel grids: exact rebinning, Gaussian PSF transfer functions and particle smoothing lengths.
"""

import functools
import logging

import numpy as np
import scipy.fft
from astropy.convolution import Gaussian2DKernel
from scipy.spatial import cKDTree

__all__ = [
    "SPLINE_SIGMA_PER_SUPPORT", "MAX_MARGIN", "rebin_matrix", "rebin", "psf_transfer",
    "smoothing_lengths",
]

log = logging.getLogger(__name__)


#: Gaussian sigma of a cubic-spline kernel's projection, in units of its support radius.
SPLINE_SIGMA_PER_SUPPORT = 0.2739

MAX_MARGIN = 32


# ---------------------------------------------------------------------------
# geometry helpers
# ---------------------------------------------------------------------------


def rebin_matrix(edges_in, edges_out):
    """
    Exact 1D overlap weights between two pixel grids.

    ``W[j, i]`` is the fraction of input pixel ``i`` that lies in output pixel
    ``j``, so ``W @ x`` conserves the flux of input pixels inside the output
    range.

    Parameters
    ----------
    edges_in, edges_out : array-like
        Increasing pixel edges (n + 1 values) in a common coordinate.

    Returns
    -------
    weights : ndarray (n_out, n_in)
    """
    edges_in = np.asarray(edges_in, dtype=float)
    edges_out = np.asarray(edges_out, dtype=float)
    if np.any(np.diff(edges_in) <= 0) or np.any(np.diff(edges_out) <= 0):
        raise ValueError("pixel edges must be strictly increasing")
    low = np.maximum(edges_out[:-1, None], edges_in[None, :-1])
    high = np.minimum(edges_out[1:, None], edges_in[None, 1:])
    return np.clip(high - low, 0.0, None) / np.diff(edges_in)[None, :]


def rebin(image, edges_in, edges_out):
    """
    Resample images flux-conservingly onto another square grid.

    Parameters
    ----------
    image : ndarray (..., n_in, n_in)
        Flux per pixel.
    edges_in, edges_out : array-like
        Pixel edges of the input and output grids (same coordinate, both axes).

    Returns
    -------
    rebinned : ndarray (..., n_out, n_out)
        Flux per output pixel; the total over the output equals the input
        flux inside the output range.
    """
    weights = rebin_matrix(edges_in, edges_out)
    return weights @ np.asarray(image) @ weights.T


@functools.lru_cache(maxsize=64)
def psf_transfer(shape, sigma_pixels):
    """
    Fourier transfer function of a normalised Gaussian PSF on a grid.

    The kernel is an `astropy.convolution.Gaussian2DKernel` (integrated over
    pixels, normalised to unit sum), so convolving with it conserves flux.

    Parameters
    ----------
    shape : tuple of int
        Grid shape (ny, nx) of the real-space array.
    sigma_pixels : float
        Gaussian sigma in pixels.

    Returns
    -------
    transfer : ndarray (ny, nx // 2 + 1), complex
    """
    ny, nx = shape
    half = int(min(np.ceil(5 * sigma_pixels), (min(ny, nx) - 1) // 2))
    half = max(half, 1)
    kernel = Gaussian2DKernel(
        sigma_pixels, x_size=2 * half + 1, y_size=2 * half + 1, mode="oversample", factor=5
    )
    kernel.normalize()
    padded = np.zeros(shape)
    padded[: 2 * half + 1, : 2 * half + 1] = kernel.array
    padded = np.roll(padded, (-half, -half), axis=(0, 1))
    return scipy.fft.rfft2(padded, workers=1)


def smoothing_lengths(positions, neighbours=16, subsample=1):
    """
    Distance of every particle to its k-th nearest neighbour (3D).

    Parameters
    ----------
    positions : ndarray (n, 3)
        Positions in kpc.
    neighbours : int
        k (SUNRISE uses 16).
    subsample : int
        Use every ``subsample``-th particle as the neighbour set and the
        ``neighbours / subsample``-th neighbour: same expected distance,
        ``subsample`` times fewer neighbours to search.

    Returns
    -------
    radius : ndarray (n,)
        In kpc.
    """
    positions = np.asarray(positions, dtype=float)
    n = positions.shape[0]
    if n == 0:
        return np.zeros(0)
    if n < 2:
        return np.full(n, 1.0)
    subsample = max(1, min(int(subsample), n // (neighbours + 1) or 1))
    reference = positions[::subsample]
    k = max(1, int(round(neighbours / subsample)))
    k = min(k, reference.shape[0] - 1)
    # the query point itself is in the reference set for every subsample-th particle;
    # asking for k + 1 neighbours and taking the last is within one neighbour for the others.
    tree = cKDTree(reference, balanced_tree=False, compact_nodes=False)
    distance, _ = tree.query(positions, k=k + 1, workers=1)
    return np.maximum(distance[:, -1], 1e-4)


