"""
The image of a galaxy: star particles spread over their emission regions,
convolved with the PSF, binned to pixels and given noise.
"""

import logging

import numpy as np
import scipy.fft

from ...properties import BANDS
from .grid import MAX_MARGIN, SPLINE_SIGMA_PER_SUPPORT, psf_transfer, rebin_matrix
from .sky import background_sources, sky_patch

__all__ = ["group_plan", "render_particles", "render_compact", "render_image"]

log = logging.getLogger(__name__)


def group_plan(sigma_total_px, ratio=1.45, coarse_sigma=1.25):
    """Group index, representative total width and coarsening factor of every source."""
    base = float(np.min(sigma_total_px))
    group = np.floor(np.log(sigma_total_px / base) / np.log(ratio)).astype(np.int64)
    groups = np.flatnonzero(np.bincount(group))
    lookup = np.zeros(groups[-1] + 1, dtype=np.int64)
    lookup[groups] = np.arange(groups.size)
    inverse = lookup[group]
    sigma_group = base * ratio ** (groups + 0.5)
    sigma_group[groups == 0] = np.maximum(base * np.sqrt(ratio), base)
    factor = np.maximum(1, 2 ** np.floor(np.log2(np.maximum(sigma_group / coarse_sigma, 1.0))))
    return inverse, sigma_group, factor.astype(np.int64)


def render_particles(xy, fluxes, sigma_kpc, grid_half, n_grid, psf_sigma_kpc, coarse_sigma=1.25):
    """
    Noiseless image of Gaussian sources convolved with the PSF; flux is conserved exactly.

    With ``psf_sigma_kpc=0`` it deposits the sources with their own kernels
    only (the truth maps, `picasso.mock.observe.project_truth`). The
    truncation at a coarse grid's Nyquist frequency rings at a relative level
    ``exp(-pi**2 coarse_sigma**2 / 2)`` (4e-4 for the default 1.25, well below
    the image noise; 2.5 makes it 5e-14, for maps that must conserve mass).

    Sources are grouped by total width (their own Gaussian and the PSF
    together, groups a factor 1.45 apart). Each group is deposited on a grid
    coarsened so that its width is at least 1.25 coarse pixels, transformed,
    multiplied by its Gaussian transfer function and placed into the
    low-frequency block of the full-resolution spectrum (the smoothed light of
    a wide group carries no power above the coarse Nyquist frequency); the sum
    is multiplied by the PSF's transfer function and transformed back once.
    """
    pixel = 2.0 * grid_half / n_grid
    n_bands = fluxes.shape[1]
    if xy.shape[0] == 0:
        return np.zeros((n_bands, n_grid, n_grid))
    psf_px = psf_sigma_kpc / pixel
    own_px = sigma_kpc / pixel
    # A margin for the wide kernels; the widest 0.1% of the light is narrowed to fit it.
    total_px = np.hypot(own_px, psf_px)
    wide = (
        np.partition(total_px, int(0.999 * (total_px.size - 1)))[int(0.999 * (total_px.size - 1))]
        if total_px.size > 1000
        else total_px.max()
    )
    margin = int(min(np.ceil(3.0 * wide) + 2, MAX_MARGIN))
    total_px = np.minimum(total_px, max(margin / 3.0, psf_px))
    inverse, sigma_group, factor = group_plan(total_px, coarse_sigma=coarse_sigma)
    block = int(factor.max())
    size = block * scipy.fft.next_fast_len(int(np.ceil((n_grid + 2 * margin) / block)), real=True)
    origin = grid_half + margin * pixel
    spectrum = np.zeros((n_bands, size, size // 2 + 1), dtype=np.complex64)
    source_level = factor[inverse]
    for level in np.unique(factor):
        coarse = size // level
        in_level = np.flatnonzero(factor == level)
        members = source_level == level
        ix = np.floor((xy[members, 0] + origin) / (pixel * level)).astype(np.int64)
        iy = np.floor((xy[members, 1] + origin) / (pixel * level)).astype(np.int64)
        keep = (ix >= 0) & (ix < coarse) & (iy >= 0) & (iy < coarse)
        local = np.searchsorted(in_level, inverse[members][keep])
        flat = (local * coarse + iy[keep]) * coarse + ix[keep]
        n_local = in_level.size
        cube = np.empty((n_bands, n_local, coarse, coarse), dtype=np.float32)
        source_flux = fluxes[members][keep]
        for band in range(n_bands):
            cube[band] = np.bincount(
                flat, weights=source_flux[:, band], minlength=n_local * coarse * coarse
            ).reshape(n_local, coarse, coarse)
        coarse_spectrum = scipy.fft.rfft2(cube, axes=(2, 3), workers=1)
        # Frequencies in cycles per fine pixel; phase for the coarse-cell centres.
        fy = scipy.fft.fftfreq(coarse) / level
        fx = scipy.fft.rfftfreq(coarse) / level
        shift = 0.5 * (level - 1)
        # Gaussians and the cell-centre phase are separable in fy and fx.
        combined = np.zeros((n_bands, coarse, coarse // 2 + 1), dtype=np.complex64)
        for j, g in enumerate(in_level):
            own2 = max(sigma_group[g] ** 2 - psf_px**2, 0.0)
            gy = np.exp(-2.0 * np.pi**2 * own2 * fy**2 - 2j * np.pi * fy * shift).astype(
                np.complex64
            )
            gx = np.exp(-2.0 * np.pi**2 * own2 * fx**2 - 2j * np.pi * fx * shift).astype(
                np.complex64
            )
            term = coarse_spectrum[:, j]
            term *= gx[None, None, :]
            term *= gy[None, :, None]
            combined += term
        if level == 1:
            spectrum += combined
        else:
            # Non-negative and negative frequencies, leaving out the coarse Nyquist ones.
            positive = (coarse - 1) // 2 + 1
            negative = (coarse - 1) // 2
            spectrum[:, :positive, :positive] += combined[:, :positive, :positive]
            if negative:
                spectrum[:, size - negative :, :positive] += combined[
                    :, coarse - negative :, :positive
                ]
    if psf_px > 0:
        spectrum *= psf_transfer((size, size), float(psf_px)).astype(np.complex64)
    image = scipy.fft.irfft2(spectrum, s=(size, size), axes=(1, 2), workers=1)
    return image[:, margin : margin + n_grid, margin : margin + n_grid]


def render_compact(xy, fluxes, sigma_kpc, grid_half, n_grid, psf_sigma_kpc):
    """Add a few sources as pixel-integrated Gaussian stamps (for contaminants)."""
    from scipy.special import ndtr

    image = np.zeros((fluxes.shape[1], n_grid, n_grid), dtype=np.float32)
    if xy.shape[0] == 0:
        return image
    pixel = 2.0 * grid_half / n_grid
    sigma = np.hypot(sigma_kpc, psf_sigma_kpc)
    half_width = int(np.clip(np.ceil(4.0 * sigma.max() / pixel), 1, n_grid))
    # Stamp pixels around each source, and their exact Gaussian weights (separable).
    centre_x = np.floor((xy[:, 0] + grid_half) / pixel).astype(np.int64)
    centre_y = np.floor((xy[:, 1] + grid_half) / pixel).astype(np.int64)
    offsets = np.arange(-half_width, half_width + 1)
    px = centre_x[:, None] + offsets[None, :]
    py = centre_y[:, None] + offsets[None, :]

    def weights(index, position):
        low = (index * pixel - grid_half - position[:, None]) / sigma[:, None]
        return ndtr(low + pixel / sigma[:, None]) - ndtr(low)

    wx, wy = weights(px, xy[:, 0]), weights(py, xy[:, 1])
    for k in range(xy.shape[0]):
        keep_x = (px[k] >= 0) & (px[k] < n_grid)
        keep_y = (py[k] >= 0) & (py[k] < n_grid)
        if not keep_x.any() or not keep_y.any():
            continue
        stamp = np.outer(wy[k, keep_y], wx[k, keep_x])
        x0, y0 = px[k, keep_x][0], py[k, keep_y][0]
        image[:, y0 : y0 + stamp.shape[0], x0 : x0 + stamp.shape[1]] += (
            fluxes[k][:, None, None] * stamp[None]
        ).astype(np.float32)
    return image



def render_image(xy, fluxes, smoothing, half_size, config, rng, *, centre_radius=None):
    """
    Render a noisy image of star particles (and contaminants) on the output grid.

    Parameters
    ----------
    xy : ndarray (n, 2)
        Projected positions in kpc (image x, y).
    fluxes : ndarray (n, n_bands)
        Flux of every particle in nanomaggy.
    smoothing : ndarray (n,)
        16-neighbour radii in kpc.
    half_size : float
        Half the side of the output field (kpc).
    config : `ObservingConfig`
    rng : `numpy.random.Generator`
    centre_radius : float, optional
        Radius (kpc) around the centre that holds the galaxy pixels for the
        S/N definition (``noise="snr"``).

    Returns
    -------
    image : ndarray (n_bands, N, N)
        Flux per output pixel (nanomaggy).
    variance : ndarray (n_bands, N, N)
        Noise variance per output pixel.
    info : dict
        ``noise_rms`` per band at the native pixel, ``native_pixel_kpc``,
        ``n_background_sources``.
    """
    n_out = config.image_size
    out_pixel = 2.0 * half_size / n_out
    native = config.kpc(config.native_pixel_scale)
    psf_sigma = config.kpc(config.psf_fwhm) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    sigma = SPLINE_SIGMA_PER_SUPPORT * smoothing
    if native >= out_pixel:
        n_grid = int(np.ceil(2.0 * half_size / native))
        grid_half = 0.5 * n_grid * native
        render_pixel = native
    else:
        n_grid, grid_half, render_pixel = n_out, half_size, out_pixel
    galaxy = render_particles(xy, fluxes, sigma, grid_half, n_grid, psf_sigma)

    n_bands = fluxes.shape[1]
    band_index = [BANDS.names.index(b) for b in config.bands]
    if config.noise == "snr":
        centre = np.arange(n_grid) * render_pixel - grid_half + 0.5 * render_pixel
        radius = np.hypot(centre[:, None], centre[None, :])
        limit = centre_radius if centre_radius else half_size / 5.0
        galaxy_pixels = radius <= max(limit, render_pixel)
        mean_flux = galaxy[:, galaxy_pixels].mean(axis=1)
        rms = np.maximum(mean_flux, 0.0) / config.target_snr
        rms = np.where(rms > 0, rms, 1e-6)
    elif config.noise == "sky":
        ref = config.kpc(config.sky_pixel_scale)
        rms = np.array([config.sky_rms[i] for i in band_index]) * (render_pixel / ref)
    else:
        rms = np.zeros(n_bands)
    image = galaxy
    n_contaminants = 0
    if config.background_sources:
        positions, flux, sizes = background_sources(rng, config, half_size)
        n_contaminants = positions.shape[0]
        if n_contaminants:
            image = image + render_compact(positions, flux, sizes, grid_half, n_grid, psf_sigma)
    if config.noise != "none":
        image = image + rng.standard_normal(size=image.shape, dtype=np.float32) * rms[
            :, None, None
        ].astype(np.float32)
    if config.sky_frames is not None:
        patch = sky_patch(config, rng, half_size, grid_half, n_grid)
        image = image + patch.astype(np.float32)
        # The real sky's own noise, from the median absolute deviation of the patch.
        sky_rms = 1.4826 * np.median(
            np.abs(patch - np.median(patch, axis=(1, 2), keepdims=True)), axis=(1, 2)
        )
        rms = np.sqrt(rms**2 + sky_rms**2)
    # The native noise is white with one rms per band, so after a linear rebinning its
    # variance is rms^2 times the outer product of the summed squared weights.
    variance_pattern = np.ones((n_grid, n_grid))
    if render_pixel != out_pixel:
        edges_in = np.linspace(-grid_half, grid_half, n_grid + 1)
        edges_out = np.linspace(-half_size, half_size, n_out + 1)
        weights = rebin_matrix(edges_in, edges_out).astype(np.float32)
        image = weights @ image.astype(np.float32) @ weights.T
        squared = (weights**2).sum(axis=1)
        variance_pattern = np.outer(squared, squared)
    variance = ((rms**2)[:, None, None] * variance_pattern[None]).astype(np.float32)
    info = {
        "noise_rms_native": [float(v) for v in rms],
        "native_pixel_kpc": float(render_pixel),
        "n_background_sources": int(n_contaminants),
    }
    return image.astype(np.float32), variance, info


