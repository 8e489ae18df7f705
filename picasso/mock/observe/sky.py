"""
What lies around a mock galaxy: synthetic stars and background galaxies, or
patches of real SDSS sky.
"""

import functools
import glob
import logging
from pathlib import Path

import astropy.units as u
import numpy as np

from ...instrument import SDSS_PIXEL_SCALE
from ...io.sdss.frames import read_frame
from ...properties import BANDS
from .grid import BandedRebin

__all__ = ["background_sources", "load_sky_frames", "sky_patch"]

log = logging.getLogger(__name__)


def background_sources(rng, config, half_size_kpc):
    """Positions (kpc), fluxes (nanomaggy, per band) and sizes (kpc) of contaminants."""
    side_arcmin = 2.0 * half_size_kpc * config.arcmin_per_kpc()
    area = side_arcmin**2
    positions, fluxes, sizes = [], [], []
    band_index = [BANDS.names.index(b) for b in config.bands]
    kpc_per_arcsec = 1.0 / (config.arcmin_per_kpc() * 60.0)
    # Galaxies: dN/dm ~ 10^(0.45 m) (approximate SDSS r-band counts) from r = 16 to 24.
    for kind, density, slope, bright in (
        ("galaxy", config.galaxy_density, 0.45, 16.0),
        ("star", config.star_density, 0.15, 14.0),
    ):
        faint = 24.0
        norm_limit = 22.5
        expected = (
            density
            * area
            * (10 ** (slope * (faint - bright)) - 1)
            / (10 ** (slope * (norm_limit - bright)) - 1)
        )
        count = rng.poisson(expected)
        if count == 0:
            continue
        u_draw = rng.uniform(size=count)
        low, high = 10 ** (slope * bright), 10 ** (slope * faint)
        r_mag = np.log10(low + u_draw * (high - low)) / slope
        if kind == "galaxy":
            # Colours of faint field galaxies at z ~ 0.2-0.6 (approximate ranges).
            g_r = rng.uniform(0.4, 1.6, count)
            u_g = 0.9 + 0.8 * g_r + rng.normal(0, 0.2, count)
            r_i = 0.15 + 0.35 * g_r + rng.normal(0, 0.08, count)
            i_z = 0.05 + 0.25 * g_r + rng.normal(0, 0.08, count)
            size = kpc_per_arcsec * 10 ** rng.uniform(np.log10(0.2), np.log10(1.2), count)
        else:
            # An approximate main-sequence stellar locus in g - r.
            g_r = rng.uniform(0.2, 1.45, count)
            u_g = 0.75 + 1.1 * g_r + rng.normal(0, 0.1, count)
            r_i = np.where(g_r < 1.2, 0.38 * g_r - 0.05, 0.4 + 1.5 * (g_r - 1.2))
            i_z = 0.5 * r_i
            size = np.zeros(count)
        mags = np.column_stack(
            [r_mag + g_r + u_g, r_mag + g_r, r_mag, r_mag - r_i, r_mag - r_i - i_z]
        )
        flux = 10 ** (-0.4 * (mags - 22.5))  # nanomaggy
        positions.append(rng.uniform(-half_size_kpc, half_size_kpc, size=(count, 2)))
        fluxes.append(flux[:, band_index])
        sizes.append(size)
    if not positions:
        return np.zeros((0, 2)), np.zeros((0, len(config.bands))), np.zeros(0)
    return np.concatenate(positions), np.concatenate(fluxes), np.concatenate(sizes)



@functools.lru_cache(maxsize=2)
def load_sky_frames(source, bands=BANDS.names, columns=(1024, 2048)):
    """
    Read real SDSS frames into band-aligned sky arrays (cached per process).

    Parameters
    ----------
    source : str
        Directory holding ``frame-{band}-*.fits[.bz2]`` files, or a glob
        pattern with ``{band}`` in it.
    bands : tuple of str
    columns : tuple of int
        Column range of the r-band frame to use (e.g. away from a bright
        cluster).

    Returns
    -------
    sky : ndarray float32 (n_bands, ny, nx)
        Nanomaggies per 0.396 arcsec pixel, every band shifted (by whole
        pixels, from the WCS) onto the r-band grid.

    Raises
    ------
    FileNotFoundError
        If a band's frame is missing.
    """
    pattern = source if "{band}" in str(source) else str(Path(source) / "frame-{band}-*.fits*")
    frames = {}
    for band in set(bands) | {"r"}:
        matches = sorted(glob.glob(pattern.format(band=band)))
        if not matches:
            raise FileNotFoundError(f"no SDSS frame for band {band!r} matches {pattern!r}")
        frame = read_frame(matches[0], band=band)
        frames[band] = (frame.image.to_value(u.nanomaggy).astype(np.float32), frame.wcs)
    reference, reference_wcs = frames["r"]
    ny, nx = reference.shape
    first, last = int(columns[0]), int(min(columns[1], nx))
    y_mid, x_mid = ny / 2.0, (first + last) / 2.0
    sky = reference_wcs.pixel_to_world(x_mid, y_mid)
    planes = []
    row_range, col_range = [0, ny], [0, last - first]
    for band in bands:
        image, wcs = frames[band]
        x, y = wcs.world_to_pixel(sky)
        dx, dy = int(round(float(x) - x_mid)), int(round(float(y) - y_mid))
        plane = np.zeros((ny, last - first), dtype=np.float32)
        rows = slice(max(0, dy), min(ny, ny + dy))
        cols = slice(max(first + dx, 0), min(last + dx, image.shape[1]))
        block = image[rows, cols]
        row0, col0 = rows.start - dy, cols.start - first - dx
        plane[row0 : row0 + block.shape[0], col0 : col0 + block.shape[1]] = block
        planes.append(plane)
        # Keep only the rows and columns that every band covers.
        row_range = [max(row_range[0], row0), min(row_range[1], row0 + block.shape[0])]
        col_range = [max(col_range[0], col0), min(col_range[1], col0 + block.shape[1])]
    if row_range[1] <= row_range[0] or col_range[1] <= col_range[0]:
        raise ValueError(f"the frames matching {pattern!r} do not overlap on the sky")
    cube = np.stack(planes)[:, row_range[0] : row_range[1], col_range[0] : col_range[1]]
    return np.ascontiguousarray(cube)


def sky_patch(config, rng, half_size, grid_half, n_grid):
    """A random real-sky patch covering the render grid, rebinned onto it."""
    sky = load_sky_frames(str(config.sky_frames), tuple(config.bands), tuple(config.sky_columns))
    pixel = config.kpc(SDSS_PIXEL_SCALE)
    n_sky = int(np.ceil(2.0 * grid_half / pixel - 1e-9))
    if n_sky > min(sky.shape[1:]):
        raise ValueError(
            f"the field of view ({2 * half_size:.1f} kpc) needs {n_sky} SDSS pixels, more than "
            f"the sky frames offer ({sky.shape[1]} x {sky.shape[2]})"
        )
    y0 = rng.integers(0, sky.shape[1] - n_sky + 1)
    x0 = rng.integers(0, sky.shape[2] - n_sky + 1)
    patch = sky[:, y0 : y0 + n_sky, x0 : x0 + n_sky].astype(np.float64)
    edges_in = (np.arange(n_sky + 1) - n_sky / 2.0) * pixel
    weights = BandedRebin.from_edges(edges_in, np.linspace(-grid_half, grid_half, n_grid + 1))
    return weights(patch)


