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
    "smoothing_lengths", "BandedRebin",
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
    return BandedRebin.from_edges(edges_in, edges_out)(np.asarray(image))


class BandedRebin:
    """
    `rebin_matrix` stored by its band: each output pixel overlaps a few consecutive inputs.

    ``W @ image @ W.T`` as a dense product costs ``n_out * n_in * (n_in + n_out)``
    multiply-adds per plane; an output pixel, though, overlaps at most
    ``ceil(output pixel / input pixel) + 1`` input pixels, so gathering those
    costs ``n_out * (n_in + n_out)`` times that band's width. The sums are the
    same up to float round-off.

    Parameters
    ----------
    weights : ndarray (n_out, n_in)
        A `rebin_matrix`.
    """

    def __init__(self, weights):
        weights = np.asarray(weights)
        nonzero = weights != 0
        any_overlap = nonzero.any(axis=1)
        first = np.where(any_overlap, nonzero.argmax(axis=1), 0)
        last = np.where(any_overlap, weights.shape[1] - 1 - nonzero[:, ::-1].argmax(axis=1), 0)
        width = int(max((last - first).max() + 1, 1))
        n_in = weights.shape[1]
        columns = np.minimum(first[:, None] + np.arange(width), n_in - 1)
        band = np.take_along_axis(weights, columns, axis=1)
        band[first[:, None] + np.arange(width) >= n_in] = 0.0
        self.shape = weights.shape
        self.columns = columns
        self.band = band

    @classmethod
    def from_edges(cls, edges_in, edges_out):
        """The banded `rebin_matrix` of two grids given by their pixel edges."""
        return cls(rebin_matrix(edges_in, edges_out))

    @classmethod
    @functools.lru_cache(maxsize=16)
    def centred(cls, half_in, n_in, half_out, n_out):
        """
        From ``n_in`` pixels across ``[-half_in, half_in]`` to ``n_out`` across ``[-half_out,
        half_out]`` (cached: the views of a galaxy share it).
        """
        return cls.from_edges(np.linspace(-half_in, half_in, n_in + 1),
                              np.linspace(-half_out, half_out, n_out + 1))

    def squared_sums(self, dtype=np.float64):
        """ndarray (n_out,): every row's sum of squared weights in ``dtype`` (noise variance)."""
        return (self.band.astype(dtype) ** 2).sum(axis=1)

    def __call__(self, image, dtype=None):
        """``W @ image @ W.T`` over the last two axes, in ``dtype`` (default the image's)."""
        image = np.asarray(image, dtype=dtype)
        band = self.band.astype(image.dtype, copy=False)
        rows = band[:, 0, None] * image[..., self.columns[:, 0], :]
        for k in range(1, band.shape[1]):
            rows += band[:, k, None] * image[..., self.columns[:, k], :]
        out = rows[..., self.columns[:, 0]] * band[:, 0]
        for k in range(1, band.shape[1]):
            out += rows[..., self.columns[:, k]] * band[:, k]
        return out


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
    # a balanced tree takes longer to build and less to query: 20% less in all here
    tree = cKDTree(reference)
    distance, _ = tree.query(positions, k=k + 1, workers=1)
    return np.maximum(distance[:, -1], 1e-4)


