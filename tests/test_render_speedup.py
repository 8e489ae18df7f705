"""
The fast renderer gives the pairs the original one gave, to float round-off.

``tests/data/render_pin.npz`` holds (image, variance, truth) pairs of a synthetic
galaxy observed by the renderer as it was before it was made faster (picasso
commit e93d4f8). A synthetic galaxy, not one of the universe's, so that changes
to the universe do not move the pin; every observing knob that matters is
written out, so that a new default does not either. Regenerate it (only when
the rendering is *meant* to change) with::

    python tests/test_render_speedup.py

The renderer's core, `render_particles`, is also compared with a copy of the
original algorithm (`reference_render_particles`) on random particles across
the regimes it meets (PSF or none, coarse or fine grids, wide and narrow
kernels, sources near and beyond the edges).
"""

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import scipy.fft
from numpy.testing import assert_allclose, assert_array_equal

from picasso.mock import observe as obs
from picasso.mock.observe.grid import MAX_MARGIN, psf_transfer
from picasso.mock.observe.render import group_plan
from picasso.particles import GasCells, Particles, StarParticles
from picasso.properties import PROPERTIES

PIN_PATH = Path(__file__).parent / "data" / "render_pin.npz"

#: Pin cases: observing set-up (every knob that matters), view direction, up, noise seed.
PIN_CASES = {
    # output pixels finer than the native ones: rendered on the output grid
    "paper": (dict(image_size=48, field_of_view=10.0, native_pixel_scale=0.24 * u.kpc,
                   psf_fwhm=1.0 * u.kpc, noise="snr", target_snr=25.0, snr_radius=2.0,
                   background_sources=True, smoothing_neighbours=16, smoothing_subsample=8,
                   nebular=True, dust=False, truth_deposit="kernel", redshift=0.05),
              (0.3, -0.5, 0.8), (0.0, 1.0, 0.2), 11),
    # native pixels coarser than the output: rendered natively and rebinned, sky noise
    "coarse_native": (dict(image_size=32, field_of_view=10.0, native_pixel_scale=1.5 * u.kpc,
                           psf_fwhm=1.6 * u.kpc, noise="sky", background_sources=False,
                           smoothing_neighbours=16, smoothing_subsample=1, nebular=False,
                           dust=False, truth_deposit="kernel", redshift=0.05),
                      (1.0, 0.2, 0.05), (0.0, 0.0, 1.0), 12),
}

#: Agreement asked of the fast renderer: float32 round-off of the FFTs, relative to a plane's
#: largest value.
RTOL_OF_MAX = 2e-5


def make_pin_galaxy(seed=3, n_stars=4000, n_gas=1500):
    """A disc galaxy with a bulge, young and old stars, and a star-forming gas disc."""
    rng = np.random.default_rng(seed)
    n_bulge = n_stars // 4
    n_disc = n_stars - n_bulge
    radius = rng.gamma(2.0, 2.5, n_disc)
    phi = rng.uniform(0, 2 * np.pi, n_disc)
    disc = np.column_stack([radius * np.cos(phi), radius * np.sin(phi),
                            rng.laplace(0, 0.3, n_disc)])
    bulge = rng.normal(0, 0.8, (n_bulge, 3)) * rng.gamma(2.0, 0.5, (n_bulge, 1))
    position = np.concatenate([disc, bulge])
    age = np.concatenate([10 ** rng.uniform(-2.5, 1.0, n_disc), rng.uniform(6, 12, n_bulge)])
    metallicity = np.clip(10 ** rng.normal(-1.7, 0.3, n_stars), 1e-4, 0.08)
    mass = 10 ** rng.normal(6.0, 0.2, n_stars)
    stars = StarParticles.from_arrays(position, mass, mass * 1.6, age, metallicity)
    radius = rng.gamma(2.0, 3.5, n_gas)
    phi = rng.uniform(0, 2 * np.pi, n_gas)
    gas_position = np.column_stack([radius * np.cos(phi), radius * np.sin(phi),
                                    rng.laplace(0, 0.2, n_gas)])
    gas_mass = 10 ** rng.normal(6.3, 0.3, n_gas)
    sfr = np.where(rng.uniform(size=n_gas) < 0.3, 10 ** rng.normal(-3.5, 0.5, n_gas), 0.0)
    gas = GasCells.from_arrays(
        gas_position, gas_mass, np.clip(10 ** rng.normal(-1.8, 0.2, n_gas), 1e-4, 0.1), sfr,
        rng.uniform(0.2, 1.0, n_gas), 10 ** rng.uniform(-1.0, 0.2, n_gas),
        rng.uniform(0.0, 0.5, n_gas),
    )
    return Particles(stars, gas, meta={"galaxy_id": 0, "n_main_stars": n_stars})


def pin_pairs():
    """Every pin case observed with the current renderer: a dict of arrays."""
    galaxy = make_pin_galaxy()
    arrays = {}
    for name, (knobs, direction, up, seed) in PIN_CASES.items():
        config = obs.ObservingConfig(**knobs)
        cutout, truth = obs.observe(galaxy, config, seed=seed, direction=direction, up=up)
        arrays[f"{name}_image"] = cutout.flux.to_value(u.nanomaggy).astype(np.float32)
        arrays[f"{name}_variance"] = cutout.variance.to_value(u.nanomaggy**2).astype(np.float32)
        arrays[f"{name}_truth"] = np.stack(
            [truth[prop].value for prop in PROPERTIES.names]).astype(np.float32)
        arrays[f"{name}_empty"] = np.packbits(
            np.stack([truth.empty(prop) for prop in PROPERTIES.names]))
    return arrays


def _assert_planes_close(actual, expected, what):
    for index, (new, old) in enumerate(zip(actual, expected)):
        scale = float(np.abs(old).max()) or 1.0
        assert_allclose(new, old, rtol=0, atol=RTOL_OF_MAX * scale,
                        err_msg=f"{what}, plane {index}")


def _weighted_truth(planes):
    """Truth planes with the intensive ones (mean age) times their weight (mass).

    A mean age is a ratio, as uncertain as its weight is small: where the mass is float
    round-off, so is the age; the mass-weighted age is what must agree.
    """
    planes = planes.astype(np.float64)
    names = PROPERTIES.names
    for index, name in enumerate(names):
        weight = PROPERTIES[name].weighted_by
        if not PROPERTIES[name].is_extensive and weight is not None:
            planes[index] = planes[index] * planes[names.index(weight)]
    return planes


@pytest.fixture(scope="module")
def pinned():
    with np.load(PIN_PATH) as stored:
        return dict(stored), pin_pairs()


@pytest.mark.parametrize("case", list(PIN_CASES))
def test_pairs_match_the_pinned_renderer(pinned, case):
    stored, new = pinned
    _assert_planes_close(new[f"{case}_image"], stored[f"{case}_image"], f"{case} image")
    assert_allclose(new[f"{case}_variance"], stored[f"{case}_variance"], rtol=1e-5)
    truth_new, truth_old = _weighted_truth(new[f"{case}_truth"]), _weighted_truth(
        stored[f"{case}_truth"])
    _assert_planes_close(truth_new, truth_old, f"{case} truth")
    empty_new = np.unpackbits(new[f"{case}_empty"]).astype(bool)
    empty_old = np.unpackbits(stored[f"{case}_empty"]).astype(bool)
    # a pixel may cross the emptiness floor only if it holds round-off, nothing real
    changed = np.flatnonzero(empty_new != empty_old)
    assert changed.size <= 1e-3 * empty_old.size, f"{changed.size} pixels changed emptiness"


# ---------------------------------------------------------------------------------------------
# render_particles against the original algorithm
# ---------------------------------------------------------------------------------------------


def reference_render_particles(xy, fluxes, sigma_kpc, grid_half, n_grid, psf_sigma_kpc,
                               coarse_sigma=1.25):
    """`picasso.mock.observe.render_particles` as it was at commit e93d4f8 (the slow one)."""
    pixel = 2.0 * grid_half / n_grid
    n_bands = fluxes.shape[1]
    if xy.shape[0] == 0:
        return np.zeros((n_bands, n_grid, n_grid))
    psf_px = psf_sigma_kpc / pixel
    own_px = sigma_kpc / pixel
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
        fy = scipy.fft.fftfreq(coarse) / level
        fx = scipy.fft.rfftfreq(coarse) / level
        shift = 0.5 * (level - 1)
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
            positive = (coarse - 1) // 2 + 1
            negative = (coarse - 1) // 2
            spectrum[:, :positive, :positive] += combined[:, :positive, :positive]
            if negative:
                spectrum[:, size - negative:, :positive] += combined[
                    :, coarse - negative:, :positive
                ]
    if psf_px > 0:
        spectrum *= psf_transfer((size, size), float(psf_px)).astype(np.complex64)
    image = scipy.fft.irfft2(spectrum, s=(size, size), axes=(1, 2), workers=1)
    return image[:, margin:margin + n_grid, margin:margin + n_grid]


def _random_sources(rng, n, half, sigma_range, spread=0.4):
    """Sources concentrated to the centre, some beyond the edges, log-uniform widths."""
    xy = rng.normal(0.0, spread * half, (n, 2))
    xy[: n // 20] = rng.uniform(-1.3 * half, 1.3 * half, (n // 20, 2))
    sigma = 10 ** rng.uniform(*np.log10(sigma_range), n)
    return xy, sigma


@pytest.mark.parametrize(
    "n, n_grid, n_weights, psf_px, sigma_px, coarse_sigma",
    [
        (3000, 64, 5, 1.8, (0.3, 40.0), 1.25),  # an image: PSF, every level
        (3000, 64, 3, 0.0, (1.0, 40.0), 2.5),  # truth maps: no PSF, fine coarse grids
        (2500, 48, 4, 0.0, (1.0, 3.0), 2.5),  # narrow kernels only: one level
        (800, 40, 5, 3.0, (0.1, 0.5), 1.25),  # PSF-dominated
        (1500, 56, 2, 0.0, (5.0, 200.0), 2.5),  # wider than the margin
        (5, 32, 5, 1.0, (0.5, 8.0), 1.25),  # a handful of sources
    ],
)
def test_render_particles_matches_the_original_algorithm(n, n_grid, n_weights, psf_px,
                                                         sigma_px, coarse_sigma):
    rng = np.random.default_rng(n + n_grid)
    half = 7.0
    pixel = 2 * half / n_grid
    xy, sigma = _random_sources(rng, n, half, np.array(sigma_px) * pixel)
    weights = 10 ** rng.uniform(-1, 1, (n, n_weights))
    expected = reference_render_particles(xy, weights, sigma, half, n_grid, psf_px * pixel,
                                          coarse_sigma=coarse_sigma)
    actual = obs.render_particles(xy, weights, sigma, half, n_grid, psf_px * pixel,
                                  coarse_sigma=coarse_sigma)
    assert actual.shape == expected.shape
    _assert_planes_close(actual, expected, "render_particles")
    # flux inside the field: the same to float32 round-off
    assert_allclose(actual.sum(axis=(1, 2)), expected.sum(axis=(1, 2)), rtol=1e-5)


def test_render_particles_without_sources():
    assert_array_equal(obs.render_particles(np.zeros((0, 2)), np.zeros((0, 3)), np.zeros(0),
                                            5.0, 16, 0.1), np.zeros((3, 16, 16)))


@pytest.mark.parametrize("n_in, n_out, half_in, half_out", [
    (139, 256, 16.7, 16.0),  # native pixels coarser than the output's
    (256, 90, 10.0, 12.0),  # finer, and the output reaching beyond the input
    (33, 33, 4.0, 4.0),  # the same grid
])
def test_banded_rebin_is_the_dense_product(n_in, n_out, half_in, half_out):
    from picasso.mock.observe.grid import BandedRebin, rebin, rebin_matrix

    rng = np.random.default_rng(n_in)
    image = rng.normal(size=(3, n_in, n_in))
    edges_in = np.linspace(-half_in, half_in, n_in + 1)
    edges_out = np.linspace(-half_out, half_out, n_out + 1)
    weights = rebin_matrix(edges_in, edges_out)
    assert_allclose(rebin(image, edges_in, edges_out), weights @ image @ weights.T,
                    rtol=1e-12, atol=1e-12)
    banded = BandedRebin.centred(half_in, n_in, half_out, n_out)
    assert_allclose(banded.squared_sums(), (weights**2).sum(axis=1), rtol=1e-12)
    single = banded(image.astype(np.float32), dtype=np.float32)
    assert single.dtype == np.float32
    assert_allclose(single, weights @ image @ weights.T, rtol=0, atol=1e-5)


def test_smoothing_lengths_are_the_exact_kth_neighbour_distance():
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(5)
    positions = rng.normal(0, [3.0, 3.0, 0.4], (3000, 3))
    for neighbours, subsample in ((16, 1), (16, 8), (4, 2)):
        reference = positions[::subsample]
        k = min(max(1, round(neighbours / subsample)), reference.shape[0] - 1)
        distance, _ = cKDTree(reference).query(positions, k=k + 1)
        expected = np.maximum(distance[:, -1], 1e-4)
        assert_allclose(obs.smoothing_lengths(positions, neighbours, subsample), expected,
                        rtol=1e-12)


if __name__ == "__main__":
    PIN_PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(PIN_PATH, **pin_pairs())
    print(f"wrote {PIN_PATH} ({PIN_PATH.stat().st_size / 1e3:.0f} kB)")
