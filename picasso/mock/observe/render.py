"""
The image of a galaxy: star particles spread over their emission regions,
convolved with the PSF, binned to pixels and given noise.
"""

import functools
import logging
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.ndimage

from ...properties import BANDS
from .grid import MAX_MARGIN, SPLINE_SIGMA_PER_SUPPORT, BandedRebin, psf_transfer
from .sky import background_sources, sky_patch

__all__ = ["group_plan", "render_particles", "render_compact", "render_image",
           "ingest_noise_sigma", "NEGLIGIBLE_TRANSFER"]

log = logging.getLogger(__name__)

#: A group's Gaussian below this fraction of its peak is left out of its transform: it
#: carries less light than float32 round-off.
NEGLIGIBLE_TRANSFER = 1e-12

#: Bytes of one group's spectrum worth transforming at once (half a typical L2 cache).
CACHE_BYTES = 1 << 19


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


def _level_transfer(sigma_group, psf_px, level, coarse):
    """
    The Gaussian transfer functions of a level's groups, separable in fy and fx.

    Rows are the groups; the phase moves every source from its coarse cell's corner to its
    centre. The same numbers as a per-group loop (complex128, rounded to complex64).
    """
    own2 = np.maximum(sigma_group**2 - psf_px**2, 0.0)[:, None]
    fy = scipy.fft.fftfreq(coarse) / level
    fx = scipy.fft.rfftfreq(coarse) / level
    shift = 0.5 * (level - 1)
    gy = np.exp(-2.0 * np.pi**2 * own2 * fy**2 - 2j * np.pi * fy * shift).astype(np.complex64)
    gx = np.exp(-2.0 * np.pi**2 * own2 * fx**2 - 2j * np.pi * fx * shift).astype(np.complex64)
    return gy, gx


def _level_spectrum(local, iy, ix, weights, gy, gx, coarse):
    """
    Spectrum of one level: every group deposited, transformed and multiplied by its Gaussian.

    Only the rows that hold a source are transformed along x, and along y only the columns
    where a group's Gaussian is above `NEGLIGIBLE_TRANSFER` (the rest carries less than that
    fraction of the light: float round-off). One group at a time, so that its rows and
    transforms stay in the cache.

    Parameters
    ----------
    local : ndarray of int (n,)
        Group of every source within the level, in non-decreasing order.
    iy, ix : ndarray of int (n,)
        Coarse cell of every source.
    weights : ndarray (n, n_weights)
    gy, gx : ndarray complex64 (n_groups, coarse) and (n_groups, coarse // 2 + 1)
    coarse : int

    Returns
    -------
    spectrum : ndarray complex64 (n_weights, coarse, coarse // 2 + 1)
        The sum over groups.
    """
    n_groups = gy.shape[0]
    n_weights = weights.shape[1]
    n_fx = coarse // 2 + 1
    group_start = np.searchsorted(local, np.arange(n_groups + 1))
    # columns each group needs: its Gaussian decreases with |fx|
    needed = (np.abs(gx) >= NEGLIGIBLE_TRANSFER).sum(axis=1)
    spectrum = np.zeros((n_weights, coarse, n_fx), dtype=np.complex64)
    # without the cell-centre phase (level 1) the Gaussians are real: real products are cheaper
    real = not (gy.imag.any() or gx.imag.any())
    gy_factor = gy.real[:, None, :, None] if real else gy[:, None, :, None]
    # as many weights at a time as keep a group's transform in the cache
    chunk = max(1, min(n_weights, CACHE_BYTES // (8 * coarse * n_fx)))
    weights = np.ascontiguousarray(weights.T)
    compact = np.zeros(coarse, dtype=np.int64)
    for group in range(n_groups):
        first, last = group_start[group], group_start[group + 1]
        n_columns = int(needed[group])
        if first == last or n_columns == 0:
            continue
        # the group's occupied rows, numbered without a sort
        y = iy[first:last]
        occupied = np.flatnonzero(np.bincount(y, minlength=coarse))
        compact[occupied] = np.arange(occupied.size)
        flat = compact[y] * coarse + ix[first:last]
        for first_weight in range(0, n_weights, chunk):
            part = slice(first_weight, first_weight + chunk)
            columns = weights[part, first:last]
            # summed in float64 in the sources' order, as a full-grid bincount would
            rows = np.empty((len(columns), occupied.size, coarse), dtype=np.float32)
            for row_block, column in zip(rows, columns):
                row_block.reshape(-1)[...] = np.bincount(flat, weights=column,
                                                         minlength=occupied.size * coarse)
            rows = scipy.fft.rfft(rows, axis=-1, workers=1)
            block = np.zeros((len(columns), coarse, n_columns), dtype=np.complex64)
            block[:, occupied] = rows[:, :, :n_columns] * gx[group, :n_columns]
            block = scipy.fft.fft(block, axis=1, workers=1, overwrite_x=True)
            if real:
                block.view(np.float32)[...] *= gy_factor[group]
            else:
                block *= gy_factor[group]
            spectrum[part, :, :n_columns] += block
    return spectrum


@functools.lru_cache(maxsize=16)
def _psf_transfer64(size, psf_px):
    return psf_transfer((size, size), psf_px).astype(np.complex64)


class _ArrayKey:
    """A float array as a cache key: hashed by its bytes, equal to an array of equal values."""

    def __init__(self, array):
        self.array = np.array(array, dtype=np.float64)
        self._hash = hash((self.array.shape, self.array.tobytes()))

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return isinstance(other, _ArrayKey) and np.array_equal(self.array, other.array)


@dataclass(frozen=True)
class _Level:
    """The sources of one coarsening level, in the order they are deposited, and its transfers."""

    level: int
    coarse: int
    members: np.ndarray
    local: np.ndarray
    gy: np.ndarray
    gx: np.ndarray


@dataclass(frozen=True)
class _Plan:
    """What a render needs besides the positions and fluxes: the same for every view."""

    pixel: float
    psf_px: float
    margin: int
    size: int
    origin: float
    levels: tuple


@functools.lru_cache(maxsize=8)
def _plan(sigma_key, grid_half, n_grid, psf_sigma_kpc, coarse_sigma):
    """
    The groups, levels, deposit order and transfer functions of sources of these widths.

    They depend on the widths and the grid only, so the views of a galaxy share them
    (cached).
    """
    sigma_kpc = sigma_key.array
    pixel = 2.0 * grid_half / n_grid
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
    # Sources sorted by group (stably: each cell still sums its sources in their order), so
    # that every level, a run of consecutive groups, is a slice.
    order = np.argsort(inverse.astype(np.uint16), kind="stable")
    group_start = np.searchsorted(inverse[order], np.arange(sigma_group.size + 1))
    levels = []
    for level in np.unique(factor):
        coarse = size // level
        in_level = np.flatnonzero(factor == level)
        members = order[group_start[in_level[0]]:group_start[in_level[-1] + 1]]
        gy, gx = _level_transfer(sigma_group[in_level], psf_px, level, coarse)
        levels.append(_Level(int(level), int(coarse), members, inverse[members] - in_level[0],
                             gy, gx))
    return _Plan(pixel, psf_px, margin, size, grid_half + margin * pixel, tuple(levels))


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

    The transforms are pruned, which changes nothing but float round-off: rows
    without a source are not transformed, nor the frequencies where a group's
    Gaussian is below `NEGLIGIBLE_TRANSFER`, nor the rows and columns of the
    margin on the way back. The grouping and the transfer functions depend on
    the widths only: they are computed once for all views of a galaxy.
    """
    n_bands = fluxes.shape[1]
    if xy.shape[0] == 0:
        return np.zeros((n_bands, n_grid, n_grid))
    plan = _plan(_ArrayKey(sigma_kpc), float(grid_half), int(n_grid), float(psf_sigma_kpc),
                 float(coarse_sigma))
    size, margin, pixel = plan.size, plan.margin, plan.pixel
    spectrum = None
    for step in plan.levels:
        level, coarse = step.level, step.coarse
        position = xy[step.members]
        ix = np.floor((position[:, 0] + plan.origin) / (pixel * level)).astype(np.int64)
        iy = np.floor((position[:, 1] + plan.origin) / (pixel * level)).astype(np.int64)
        keep = (ix >= 0) & (ix < coarse) & (iy >= 0) & (iy < coarse)
        combined = _level_spectrum(step.local[keep], iy[keep], ix[keep],
                                   fluxes[step.members[keep]], step.gy, step.gx, coarse)
        if level == 1:
            spectrum = combined
            continue
        if spectrum is None:
            spectrum = np.zeros((n_bands, size, size // 2 + 1), dtype=np.complex64)
        # Non-negative and negative frequencies, leaving out the coarse Nyquist ones.
        positive = (coarse - 1) // 2 + 1
        negative = (coarse - 1) // 2
        spectrum[:, :positive, :positive] += combined[:, :positive, :positive]
        if negative:
            spectrum[:, size - negative :, :positive] += combined[
                :, coarse - negative :, :positive
            ]
    if plan.psf_px > 0:
        spectrum *= _psf_transfer64(size, float(plan.psf_px))
    # back along y, then along x for the rows inside the field only
    rows = scipy.fft.ifft(spectrum, axis=1, workers=1, overwrite_x=True)
    image = scipy.fft.irfft(rows[:, margin : margin + n_grid], n=size, axis=2, workers=1)
    return image[:, :, margin : margin + n_grid]


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



def ingest_noise_sigma(config, native_pixel, out_pixel):
    """
    Gaussian sigma (kpc) per band that picasso's SDSS ingest smooths the sky noise with.

    A real cutout (`~picasso.io.sdss.cutout_from_frames`) resamples every band
    with the adaptive Gaussian kernel (`~picasso.io.sdss.resampling_blur`) and
    convolves it to the widest band's PSF, ``config.psf_fwhm`` here; the light
    of a band has passed through its own PSF as well, the noise has not. The
    bands' own PSFs scale with wavelength as
    `~picasso.instrument.typical_psf_fwhm`, the widest reaching ``psf_fwhm``
    with the resampling blur.

    Parameters
    ----------
    config : `ObservingConfig`
    native_pixel, out_pixel : float
        Native and output pixel sides (kpc).

    Returns
    -------
    sigma : `numpy.ndarray`
        One per band of ``config.bands`` (kpc), at least the resampling blur.
    """
    from ...instrument import typical_psf_fwhm
    from ...io.sdss.resample import resampling_blur

    fwhm_to_sigma = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    psf_sigma = config.kpc(config.psf_fwhm) * fwhm_to_sigma
    blur = min(resampling_blur("adaptive", "gaussian", native_pixel, out_pixel), psf_sigma)
    widths = np.array([typical_psf_fwhm(band).to_value("arcsec") for band in config.bands])
    own = np.sqrt(psf_sigma**2 - blur**2) * widths / widths.max()
    return np.sqrt(psf_sigma**2 - own**2)


def _smoothed_rms_factor(sigma):
    """The rms of unit white noise after `scipy.ndimage.gaussian_filter` of this sigma."""
    size = 2 * int(np.ceil(4 * sigma)) + 1
    impulse = np.zeros((size, size))
    impulse[size // 2, size // 2] = 1.0
    return float(np.sqrt(np.sum(scipy.ndimage.gaussian_filter(impulse, sigma) ** 2)))


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
    smoothed = np.ones(n_bands)
    if config.noise != "none":
        noise = rng.standard_normal(size=image.shape, dtype=np.float32)
        noise *= rms[:, None, None].astype(np.float32)
        if config.noise == "sky" and config.ingest_smoothing:
            sigma = ingest_noise_sigma(config, native, out_pixel) / render_pixel
            for index in range(n_bands):
                noise[index] = scipy.ndimage.gaussian_filter(noise[index], sigma[index])
            smoothed = np.array([_smoothed_rms_factor(value) for value in sigma])
        image = image + noise
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
        weights = BandedRebin.centred(float(grid_half), n_grid, float(half_size), n_out)
        image = weights(image, dtype=np.float32)
        squared = weights.squared_sums(np.float32)
        variance_pattern = np.outer(squared, squared)
    # smoothed noise has a lower rms per pixel (its variance pattern ignores the correlation)
    variance = np.multiply(((rms * smoothed) ** 2)[:, None, None], variance_pattern[None],
                           out=np.empty((n_bands, *variance_pattern.shape), dtype=np.float32),
                           casting="unsafe")
    info = {
        "noise_rms_native": [float(v) for v in rms],
        "native_pixel_kpc": float(render_pixel),
        "n_background_sources": int(n_contaminants),
    }
    return image.astype(np.float32, copy=False), variance, info


