"""
Observing particles: exact truth maps and mock SDSS ugriz images.

One galaxy, given as `~picasso.mock.particles.Particles`, becomes a pair:

* **truth** `~picasso.PropertyMaps`: every particle's mass, metal mass, age,
  SFR, gas and HI mass is deposited into the pixel that holds its centre
  (nearest grid point, `numpy.bincount`), so totals are conserved exactly and
  pixels without particles stay empty, as in the PICASSO training data.
* **image** `~picasso.GalaxyCutout`: every star particle shines with the light
  of a Bruzual & Charlot (2003) simple stellar population of its age and
  metallicity observed at the galaxy's redshift (`picasso.mock.populations`,
  so cosmological dimming and the k-correction are in the fluxes), spread over
  a region set by the distance to its 16th nearest neighbour as in the SUNRISE
  set-up of Torrey et al. (2015); the image is convolved with the PSF, binned
  to the native pixel, given sky noise and background sources, and resampled
  flux-conservingly to ``N x N`` pixels spanning 10 stellar half-mass radii.

The default `ObservingConfig` is the paper's (Buck & Wolf, Sect. 2): FWHM
1 kpc Gaussian PSF, 0.24 kpc pixels, S/N 25 per galaxy pixel, z = 0.05, no
dust. `ObservingConfig.sdss` has the real depth of SDSS frames instead.

Rendering
---------
Each particle's emission region is a Gaussian with the second moment of a
cubic-spline kernel whose support is the 16-neighbour radius (sigma = 0.274
r16). Particles are grouped by that width (groups a factor 1.4 apart) and
deposited per group; each group is convolved in Fourier space with its
Gaussian and the PSF (a normalised `astropy.convolution` kernel), which
conserves flux exactly for sources away from the field edge. When the output
pixels are coarser than the native pixels the image is rendered straight on
the output grid (the native binning is then a no-op up to sub-pixel
positions); otherwise it is rendered on the native grid and rebinned with
exact pixel-overlap weights.
"""

import functools
import logging
import re
from dataclasses import dataclass, field, fields, replace

import astropy.units as u
import numpy as np
import scipy.fft
from astropy.convolution import Gaussian2DKernel
from astropy.cosmology import Planck18
from scipy.spatial import cKDTree

from ..cutout import GalaxyCutout
from ..maps import PropertyMaps
from ..properties import BANDS, PROPERTIES
from .particles import Particles
from .populations import stellar_fluxes

__all__ = [
    "ObservingConfig",
    "PreparedGalaxy",
    "SDSS_SKY_RMS",
    "SDSS_PIXEL_SCALE",
    "prepare",
    "observe",
    "observe_views",
    "project_truth",
    "render_image",
    "attenuation",
    "load_sky_frames",
    "smoothing_lengths",
    "rebin_matrix",
    "rebin",
    "psf_transfer",
]

log = logging.getLogger(__name__)

#: Clipped per-pixel rms of real SDSS frames (run 2583, camcol 2, field 136),
#: nanomaggy per 0.396 arcsec pixel, in u, g, r, i, z.
SDSS_SKY_RMS = (0.049, 0.020, 0.031, 0.051, 0.210)
#: SDSS imaging pixel.
SDSS_PIXEL_SCALE = 0.396 * u.arcsec

#: Gaussian sigma of a cubic-spline kernel's projection, in units of its support radius.
SPLINE_SIGMA_PER_SUPPORT = 0.2739

_MAX_MARGIN = 32


@dataclass(frozen=True)
class ObservingConfig:
    """
    Every knob of the mock observation, with the paper's values as defaults.

    Parameters
    ----------
    redshift : float
        Redshift of the galaxy (paper: 0.05).
    image_size : int
        Output pixels per side ``N`` (paper: 256).
    field_of_view : float
        Side of the image in 3D stellar half-mass radii (paper: 10).
    native_pixel_scale : `~astropy.units.Quantity`
        Native pixel, length (paper: 0.24 kpc) or angle (SDSS: 0.396 arcsec).
    psf_fwhm : `~astropy.units.Quantity`
        FWHM of the Gaussian PSF, length (paper: 1 kpc) or angle.
    noise : {"snr", "sky", "none"}
        ``"snr"``: Gaussian noise scaled per galaxy and band to a mean S/N of
        ``target_snr`` per galaxy pixel (paper); ``"sky"``: the per-band sky
        rms ``sky_rms`` of real frames; ``"none"``: noiseless.
    target_snr : float
        Mean S/N per native galaxy pixel for ``noise="snr"`` (paper: 25).
    snr_radius : float
        Galaxy pixels for the S/N are those within this many projected
        half-mass radii of the centre.
    sky_rms : tuple of float
        Per-band noise rms in nanomaggy per ``sky_pixel_scale`` pixel, in the
        order of ``bands`` (default: measured on real SDSS frames).
    sky_pixel_scale : `~astropy.units.Quantity`
        Pixel that ``sky_rms`` refers to (SDSS: 0.396 arcsec).
    background_sources : bool
        Add synthetic contaminating stars and background galaxies.
    sky_frames : str or None
        Directory (or glob pattern) of real SDSS ``frame-{band}-*.fits[.bz2]``
        files: every image gets a random patch of that real sky (its noise,
        stars and galaxies), aligned across bands with the frames' WCS, as
        the paper added real SDSS backgrounds. Patches avoid the columns in
        ``sky_columns``.
    galaxy_density : float
        Background galaxies brighter than r = 22.5 per arcmin^2 (about 5.5;
        approximate SDSS counts, Yasuda et al. 2001).
    star_density : float
        Stars brighter than r = 22.5 per arcmin^2 (about 0.8 at high Galactic
        latitude; approximate).
    smoothing_neighbours : int
        Neighbours that set a star particle's emission radius (SUNRISE: 16).
    smoothing_subsample : int
        Estimate the k-th neighbour distance as the (k / s)-th neighbour
        distance among every s-th particle (1: exact; the default 8 is several
        times faster, nearly unbiased, with ~0.2 dex scatter per particle).
    nebular : bool
        Nebular emission for populations younger than 10 Myr.
    dust : bool
        Dust attenuation (default off, as in the paper): every star particle
        is seen through a screen of the neutral gas in front of it along the
        line of sight, with a Milky Way extinction curve (`dust_extinction`
        G23, R_V = 3.1).
    dust_per_hydrogen : float
        A_V in magnitudes per Msun/pc^2 of neutral hydrogen at solar gas
        metallicity (0.066: Bohlin et al. 1978, N_H / E(B-V) = 5.8e21 cm^-2,
        R_V = 3.1), scaled linearly with the gas metallicity.
    birth_cloud_av : float
        Extra A_V of stars younger than 10 Myr, still in their birth clouds
        (about 1 mag, Charlot & Fall 2000).
    bands : tuple of str
        Bands to render.
    cosmology : `~astropy.cosmology.Cosmology`
    """

    redshift: float = 0.05
    image_size: int = 256
    field_of_view: float = 10.0
    native_pixel_scale: u.Quantity = field(default_factory=lambda: 0.24 * u.kpc)
    psf_fwhm: u.Quantity = field(default_factory=lambda: 1.0 * u.kpc)
    noise: str = "snr"
    target_snr: float = 25.0
    snr_radius: float = 2.0
    sky_rms: tuple = SDSS_SKY_RMS
    sky_pixel_scale: u.Quantity = field(default_factory=lambda: SDSS_PIXEL_SCALE)
    background_sources: bool = True
    sky_frames: object = None
    sky_columns: tuple = (1024, 2048)
    galaxy_density: float = 5.5
    star_density: float = 0.8
    smoothing_neighbours: int = 16
    smoothing_subsample: int = 8
    nebular: bool = True
    dust: bool = False
    dust_per_hydrogen: float = 0.066
    birth_cloud_av: float = 1.0
    bands: tuple = BANDS.names
    cosmology: object = field(default_factory=lambda: Planck18)

    def __post_init__(self):
        if self.noise not in ("snr", "sky", "none"):
            raise ValueError(f"noise must be 'snr', 'sky' or 'none', got {self.noise!r}")
        if not isinstance(self.image_size, (int, np.integer)) or self.image_size < 2:
            raise ValueError(f"image_size must be an integer >= 2, got {self.image_size!r}")
        if not 0 < self.redshift < 1:
            raise ValueError(f"redshift must be in (0, 1), got {self.redshift}")
        if self.field_of_view <= 0 or self.target_snr <= 0 or self.snr_radius <= 0:
            raise ValueError("field_of_view, target_snr and snr_radius must be positive")
        for name in ("native_pixel_scale", "psf_fwhm", "sky_pixel_scale"):
            value = getattr(self, name)
            if not isinstance(value, u.Quantity) or not (
                value.unit.is_equivalent(u.kpc) or value.unit.is_equivalent(u.arcsec)
            ):
                raise TypeError(f"{name} must be a Quantity in kpc or arcsec, got {value!r}")
            if not value.isscalar or value.value <= 0:
                raise ValueError(f"{name} must be one positive value, got {value}")
        object.__setattr__(self, "bands", BANDS.validate(self.bands))
        if len(self.sky_rms) != len(BANDS):
            raise ValueError(f"sky_rms needs one value per band of {BANDS.names}")
        if self.smoothing_neighbours < 1 or self.smoothing_subsample < 1:
            raise ValueError("smoothing_neighbours and smoothing_subsample must be >= 1")
        if self.smoothing_subsample > self.smoothing_neighbours:
            raise ValueError("smoothing_subsample cannot exceed smoothing_neighbours")
        if self.dust_per_hydrogen < 0 or self.birth_cloud_av < 0:
            raise ValueError("dust_per_hydrogen and birth_cloud_av must be non-negative")

    @classmethod
    def paper(cls, **changes):
        """
        The paper's set-up: 1 kpc PSF, 0.24 kpc pixels, S/N 25, z = 0.05.

        Parameters
        ----------
        **changes
            Fields to override.

        Returns
        -------
        config : `ObservingConfig`
        """
        return cls(**changes)

    @classmethod
    def sdss(cls, **changes):
        """
        Real SDSS depth: 0.396 arcsec pixels, the measured sky rms per band, 1.4 arcsec seeing.

        The rms values (`SDSS_SKY_RMS`) were measured on a real SDSS field; the
        seeing is approximately the median r-band FWHM of SDSS imaging. Given
        ``sky_frames``, real sky patches replace the Gaussian noise and the
        synthetic contaminants.

        Parameters
        ----------
        **changes
            Fields to override.

        Returns
        -------
        config : `ObservingConfig`
        """
        values = dict(native_pixel_scale=SDSS_PIXEL_SCALE, psf_fwhm=1.4 * u.arcsec, noise="sky")
        if changes.get("sky_frames") is not None:
            # Real sky patches carry the real noise and contaminants already.
            values.update(noise="none", background_sources=False)
        values.update(changes)
        return cls(**values)

    @classmethod
    def preset(cls, name, **changes):
        """
        A named preset: ``"paper"`` or ``"sdss"``.

        Parameters
        ----------
        name : str
        **changes
            Fields to override.

        Returns
        -------
        config : `ObservingConfig`
        """
        presets = {"paper": cls.paper, "sdss": cls.sdss}
        if name not in presets:
            raise ValueError(f"unknown observing preset {name!r}; choose from {', '.join(presets)}")
        return presets[name](**changes)

    def replace(self, **changes):
        """
        A copy with some fields changed.

        Returns
        -------
        config : `ObservingConfig`
        """
        return replace(self, **changes)

    def to_dict(self):
        """
        The configuration as JSON-friendly values (Quantities as strings).

        Returns
        -------
        values : dict
        """
        values = {}
        for item in fields(self):
            key, value = item.name, getattr(self, item.name)
            if isinstance(value, u.Quantity):
                value = str(value)
            elif key == "cosmology":
                value = getattr(value, "name", str(value))
            elif isinstance(value, tuple):
                value = list(value)
            values[key] = value
        return values

    @classmethod
    def from_dict(cls, values):
        """
        The configuration written by `to_dict` (a dataset's or model's record).

        Parameters
        ----------
        values : dict
            Fields as `to_dict` writes them; missing fields take their
            defaults.

        Returns
        -------
        config : `ObservingConfig`

        Raises
        ------
        ValueError
            For an unknown field or a cosmology astropy does not name.
        """
        from astropy.cosmology import realizations

        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown observing setting(s) {unknown}")
        converted = {}
        for key, value in values.items():
            if key in ("native_pixel_scale", "psf_fwhm", "sky_pixel_scale"):
                value = u.Quantity(value)
            elif key in ("bands", "sky_rms", "sky_columns"):
                value = tuple(value)
            elif key == "cosmology":
                # earlier records wrote the cosmology's parameters, named inside the text
                named = re.match(r"\{'name': '(\w+)'", str(value))
                value = named.group(1) if named else value
                if value not in realizations.available:
                    raise ValueError(f"unknown cosmology {value!r}; astropy names "
                                     f"{', '.join(realizations.available)}")
                value = getattr(realizations, value)
            converted[key] = value
        return cls(**converted)

    def kpc(self, value):
        """
        A length or angle of this configuration in kpc at its redshift.

        Parameters
        ----------
        value : `~astropy.units.Quantity`

        Returns
        -------
        kpc : float
        """
        if value.unit.is_equivalent(u.kpc):
            return float(value.to_value(u.kpc))
        scale = self.cosmology.kpc_proper_per_arcmin(self.redshift)
        return float((value * scale).to_value(u.kpc))

    def arcmin_per_kpc(self):
        """float: angular size of 1 kpc at the redshift, in arcmin."""
        return float(
            1.0 / self.cosmology.kpc_proper_per_arcmin(self.redshift).to_value(u.kpc / u.arcmin)
        )


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


# ---------------------------------------------------------------------------
# per-galaxy preparation (view independent)
# ---------------------------------------------------------------------------


@dataclass
class PreparedGalaxy:
    """
    The view-independent parts of a galaxy's observation, computed once.

    Parameters
    ----------
    particles : `~picasso.mock.particles.Particles`
        Centred on the main galaxy.
    fluxes : ndarray (n_stars, n_bands)
        Observed flux of every star particle (nanomaggy).
    smoothing : ndarray (n_stars,)
        16-neighbour radius of every star particle (kpc).
    n_main_stars : int
        The first ``n_main_stars`` star particles belong to the main galaxy
        (the rest to companions); half-mass radii use only those.
    half_mass_radius_3d : float
        3D stellar half-mass radius of the main galaxy (kpc).
    """

    particles: Particles
    fluxes: np.ndarray
    smoothing: np.ndarray
    n_main_stars: int
    half_mass_radius_3d: float


def _half_radius(radius, weight):
    order = np.argsort(radius)
    cumulative = np.cumsum(weight[order])
    index = np.searchsorted(cumulative, 0.5 * cumulative[-1])
    return float(radius[order][min(index, radius.size - 1)])


def prepare(particles, config=None):
    """
    Compute the view-independent parts of an observation: fluxes and smoothing.

    Parameters
    ----------
    particles : `~picasso.mock.particles.Particles`
        The galaxy, centred on its main body. ``meta["n_main_stars"]`` (if
        present) marks the main galaxy's stars.
    config : `ObservingConfig`, optional

    Returns
    -------
    prepared : `PreparedGalaxy`

    Raises
    ------
    TypeError
        If ``particles`` is not `~picasso.mock.particles.Particles`.
    ValueError
        If the galaxy has no stellar mass.
    """
    config = ObservingConfig() if config is None else config
    if not isinstance(particles, Particles):
        raise TypeError(
            f"particles must be picasso.mock.particles.Particles, got {type(particles).__name__}"
        )
    stars = particles.stars
    if len(stars) == 0 or stars.mass_value.sum() <= 0:
        raise ValueError("the galaxy has no stellar mass: cannot set a field of view or render it")
    n_main = int(particles.meta.get("n_main_stars", len(stars)))
    n_main = min(max(n_main, 1), len(stars))
    fluxes = stellar_fluxes(
        stars,
        redshift=config.redshift,
        bands=config.bands,
        cosmology=None if config.cosmology is Planck18 else config.cosmology,
        nebular=config.nebular,
    ).to_value(u.nanomaggy)
    smoothing = smoothing_lengths(
        stars.position_value, config.smoothing_neighbours, config.smoothing_subsample
    )
    main = stars.position_value[:n_main]
    r3 = _half_radius(np.linalg.norm(main, axis=1), stars.mass_value[:n_main])
    return PreparedGalaxy(particles, fluxes, smoothing, n_main, max(r3, 1e-3))


# ---------------------------------------------------------------------------
# truth
# ---------------------------------------------------------------------------


def _pixel_index(xy, half_size, n):
    """Flat pixel index of positions inside the square [-half, half)^2, and the mask."""
    scale = n / (2.0 * half_size)
    ix = np.floor((xy[:, 0] + half_size) * scale).astype(np.int64)
    iy = np.floor((xy[:, 1] + half_size) * scale).astype(np.int64)
    inside = (ix >= 0) & (ix < n) & (iy >= 0) & (iy < n)
    return iy[inside] * n + ix[inside], inside


def project_truth(particles, half_size, image_size, properties=None, meta=None):
    """
    Project particles onto an ``N x N`` grid: the seven truth maps.

    Each particle goes whole into the pixel holding its centre (x, y after
    projection along z), so sums over the grid equal the particle totals
    inside the field exactly and pixels without particles stay empty.

    Parameters
    ----------
    particles : `~picasso.mock.particles.Particles`
        Already rotated to the view (observer at +z).
    half_size : `~astropy.units.Quantity` or float
        Half the side of the field (kpc).
    image_size : int
        Pixels per side.
    properties : sequence of str, optional
        Which maps (all seven by default).
    meta : dict, optional
        Metadata for the maps.

    Returns
    -------
    maps : `~picasso.PropertyMaps`
        Surface densities (Msun/kpc^2, Msun/yr/kpc^2) and the stellar-mass
        weighted mean age (Gyr); ``mask`` marks empty pixels per property.
    """
    names = PROPERTIES.validate(properties)
    half = float(u.Quantity(half_size, u.kpc).value)
    n = int(image_size)
    if half <= 0 or n < 1:
        raise ValueError("half_size and image_size must be positive")
    pixel = 2.0 * half / n
    area = pixel**2
    npix = n * n
    stars, gas = particles.stars, particles.gas
    s_index, s_in = _pixel_index(stars.position_value, half, n)
    g_index, g_in = _pixel_index(gas.position_value, half, n)

    def deposit(index, weights):
        return np.bincount(index, weights=weights, minlength=npix).reshape(n, n)

    s_mass = stars.mass_value[s_in]
    g_mass = gas.mass_value[g_in]
    star_count = np.bincount(s_index, minlength=npix).reshape(n, n)
    gas_count = np.bincount(g_index, minlength=npix).reshape(n, n)
    maps, masks = {}, {}
    stellar_mass = deposit(s_index, s_mass)
    for name in names:
        if name == "stellar_mass":
            value, empty = stellar_mass / area, star_count == 0
        elif name == "stellar_metal_mass":
            value = deposit(s_index, s_mass * stars.metallicity[s_in]) / area
            empty = star_count == 0
        elif name == "stellar_age":
            weighted = deposit(s_index, s_mass * stars.age_value[s_in])
            with np.errstate(invalid="ignore", divide="ignore"):
                value = np.where(stellar_mass > 0, weighted / stellar_mass, 0.0)
            empty = stellar_mass <= 0
        elif name == "sfr":
            value = deposit(g_index, gas.sfr_value[g_in]) / area
            empty = value <= 0
        elif name == "gas_mass":
            value, empty = deposit(g_index, g_mass) / area, gas_count == 0
        elif name == "gas_metal_mass":
            value = deposit(g_index, g_mass * gas.metallicity[g_in]) / area
            empty = gas_count == 0
        elif name == "hi_mass":
            value = deposit(g_index, gas.hi_mass_value[g_in]) / area
            empty = value <= 0
        maps[name] = value * PROPERTIES[name].unit
        masks[name] = empty
    return PropertyMaps(maps, pixel_scale=pixel * u.kpc, mask=masks, meta=meta)


# ---------------------------------------------------------------------------
# image
# ---------------------------------------------------------------------------


def _background_sources(rng, config, half_size_kpc):
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


def _group_plan(sigma_total_px, ratio=1.45, coarse_sigma=1.25):
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


def _render(xy, fluxes, sigma_kpc, grid_half, n_grid, psf_sigma_kpc):
    """
    Noiseless image of Gaussian sources convolved with the PSF; flux is conserved exactly.

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
    margin = int(min(np.ceil(3.0 * wide) + 2, _MAX_MARGIN))
    total_px = np.minimum(total_px, max(margin / 3.0, psf_px))
    inverse, sigma_group, factor = _group_plan(total_px)
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
    spectrum *= psf_transfer((size, size), float(psf_px)).astype(np.complex64)
    image = scipy.fft.irfft2(spectrum, s=(size, size), axes=(1, 2), workers=1)
    return image[:, margin : margin + n_grid, margin : margin + n_grid]


def _render_compact(xy, fluxes, sigma_kpc, grid_half, n_grid, psf_sigma_kpc):
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
    import glob
    import warnings
    from pathlib import Path

    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    pattern = source if "{band}" in str(source) else str(Path(source) / "frame-{band}-*.fits*")
    frames = {}
    for band in set(bands) | {"r"}:
        matches = sorted(glob.glob(pattern.format(band=band)))
        if not matches:
            raise FileNotFoundError(f"no SDSS frame for band {band!r} matches {pattern!r}")
        with fits.open(matches[0]) as hdul, warnings.catch_warnings():
            # SDSS headers use the deprecated RADECSYS keyword, which astropy fixes and reports.
            warnings.simplefilter("ignore", FITSFixedWarning)
            frames[band] = (
                np.asarray(hdul[0].data, dtype=np.float32),
                WCS(hdul[0].header, naxis=2),
            )
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


def _sky_patch(config, rng, half_size, grid_half, n_grid):
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
    weights = rebin_matrix(edges_in, np.linspace(-grid_half, grid_half, n_grid + 1))
    return weights @ patch @ weights.T


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
    galaxy = _render(xy, fluxes, sigma, grid_half, n_grid, psf_sigma)

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
        positions, flux, sizes = _background_sources(rng, config, half_size)
        n_contaminants = positions.shape[0]
        if n_contaminants:
            image = image + _render_compact(positions, flux, sizes, grid_half, n_grid, psf_sigma)
    if config.noise != "none":
        image = image + rng.standard_normal(size=image.shape, dtype=np.float32) * rms[
            :, None, None
        ].astype(np.float32)
    if config.sky_frames is not None:
        patch = _sky_patch(config, rng, half_size, grid_half, n_grid)
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


# ---------------------------------------------------------------------------
# dust
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _extinction_ratios(bands, redshift):
    """A_band / A_V at the rest-frame effective wavelength of every band (G23, R_V = 3.1)."""
    from dust_extinction.parameter_averages import G23

    curve = G23(Rv=3.1)
    wavelength = u.Quantity([BANDS[b].effective_wavelength for b in bands]) / (1.0 + redshift)
    return np.asarray(curve(wavelength.to(u.micron)), dtype=float)


def attenuation(viewed, half_size, config, n_cells=64):
    """
    Dust transmission of every star particle in a view: a screen of the gas in front of it.

    The neutral hydrogen of the gas cells (scaled by their metallicity) is
    binned on an ``n_cells`` x ``n_cells`` grid over the field; in each cell
    the gas layer along the line of sight is described by its mass-weighted
    mean and spread, and a star sees the part of the layer in front of it.

    Parameters
    ----------
    viewed : `~picasso.mock.particles.Particles`
        Rotated to the view (observer at +z).
    half_size : float
        Half the side of the field (kpc).
    config : `ObservingConfig`
    n_cells : int

    Returns
    -------
    transmission : ndarray (n_stars, n_bands)
        Fraction of each band's light that escapes.
    a_v : ndarray (n_stars,)
        V-band attenuation of every star (mag).
    """
    from scipy.special import erfc

    stars, gas = viewed.stars, viewed.gas
    n_stars = len(stars)
    ratios = _extinction_ratios(tuple(config.bands), float(config.redshift))
    a_v = np.zeros(n_stars)
    if len(gas):
        from .particles import HYDROGEN_MASS_FRACTION

        weight = (
            gas.mass_value
            * HYDROGEN_MASS_FRACTION
            * gas.neutral_fraction
            * gas.metallicity
            / 0.0142
        )
        g_index, g_in = _pixel_index(gas.position_value, half_size, n_cells)
        w = weight[g_in]
        z = gas.position_value[g_in, 2]
        total = np.bincount(g_index, w, minlength=n_cells**2)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(g_index, w * z, minlength=n_cells**2) / total
            spread = np.sqrt(
                np.maximum(
                    np.bincount(g_index, w * z * z, minlength=n_cells**2) / total - mean**2, 0.0
                )
            )
        spread = np.maximum(np.nan_to_num(spread), 0.05)
        mean = np.nan_to_num(mean)
        cell_area_pc2 = (2.0 * half_size / n_cells * 1e3) ** 2
        s_index, s_in = _pixel_index(stars.position_value, half_size, n_cells)
        z_star = stars.position_value[s_in, 2]
        front = 0.5 * erfc((z_star - mean[s_index]) / (np.sqrt(2.0) * spread[s_index]))
        a_v[s_in] = config.dust_per_hydrogen * total[s_index] * front / cell_area_pc2
    a_v = a_v + np.where(stars.age_value < 0.01, config.birth_cloud_av, 0.0)
    return 10.0 ** (-0.4 * a_v[:, None] * ratios[None, :]), a_v


# ---------------------------------------------------------------------------
# one view
# ---------------------------------------------------------------------------


def _disc_geometry(rotation, normal):
    """Inclination (deg) and position angle (deg, from +y towards -x... of the major axis)."""
    n_view = rotation.apply(np.asarray(normal, dtype=float))
    inclination = float(np.degrees(np.arccos(np.clip(abs(n_view[2]), 0.0, 1.0))))
    # The major axis is perpendicular to the projected normal.
    position_angle = float(np.degrees(np.arctan2(n_view[1], n_view[0])) % 180.0)
    return inclination, position_angle


def observe(
    galaxy, config=None, *, seed=0, direction=(0.0, 0.0, 1.0), up=None, view=0, view_name=None
):
    """
    Observe one galaxy from one direction: the (image, truth) pair.

    Parameters
    ----------
    galaxy : `~picasso.mock.particles.Particles` or `PreparedGalaxy`
        The galaxy in its own frame, centred on its main body.
    config : `ObservingConfig`, optional
        The paper's set-up by default.
    seed : int or `numpy.random.SeedSequence`
        Seed of the noise and the background sources.
    direction : array-like (3,)
        Direction from the galaxy to the observer in the galaxy's frame.
    up : array-like (3,), optional
        Direction that points up in the image.
    view : int
        View index, recorded in the metadata.
    view_name : str, optional
        Recorded in the metadata (``"face-on"`` ...).

    Returns
    -------
    cutout : `~picasso.GalaxyCutout`
        ugriz flux in nanomaggy with variance, pixel scale (kpc), redshift and
        PSF; ``meta`` holds the view and noise settings, ``r_half_kpc`` (the
        3-D half-mass radius the field of view is cut to) and
        ``r_half_projected_kpc``.
    truth : `~picasso.PropertyMaps`
        The seven maps; ``meta`` holds ``r_half`` (projected stellar
        half-mass radius of the main galaxy in this view, kpc), ``r_half_3d``,
        ``centre`` (pixel x, y of the galaxy centre), ``fov`` and the disc's
        ``inclination`` and ``position_angle``.
    """
    config = ObservingConfig() if config is None else config
    prepared = galaxy if isinstance(galaxy, PreparedGalaxy) else prepare(galaxy, config)
    rng = np.random.default_rng(seed)
    particles = prepared.particles
    rotation = Particles.view_rotation(direction, up)
    viewed = particles.rotated(rotation)
    half = 0.5 * config.field_of_view * prepared.half_mass_radius_3d
    n = config.image_size
    stars = viewed.stars
    xy = stars.position_value[:, :2]
    main = slice(0, prepared.n_main_stars)
    r_half = _half_radius(np.hypot(xy[main, 0], xy[main, 1]), stars.mass_value[main])
    normal = particles.meta.get("disc_normal", [0.0, 0.0, 1.0])
    inclination, position_angle = _disc_geometry(rotation, normal)
    fluxes = prepared.fluxes
    mean_a_v = 0.0
    if config.dust:
        transmission, a_v = attenuation(viewed, half, config)
        fluxes = fluxes * transmission
        mean_a_v = float(np.average(a_v, weights=prepared.fluxes[:, min(2, fluxes.shape[1] - 1)]))
    image, variance, info = render_image(
        xy, fluxes, prepared.smoothing, half, config, rng, centre_radius=config.snr_radius * r_half
    )
    pixel = 2.0 * half / n
    meta = {
        "galaxy_id": particles.meta.get("galaxy_id"),
        "view": int(view),
        "view_name": view_name,
        "direction": [float(v) for v in np.asarray(direction, dtype=float)],
        "r_half": r_half * u.kpc,
        "r_half_3d": prepared.half_mass_radius_3d * u.kpc,
        "centre": [0.5 * (n - 1), 0.5 * (n - 1)],
        "fov": 2.0 * half * u.kpc,
        "inclination": inclination,
        "position_angle": position_angle,
    }
    truth = project_truth(viewed, half, n, meta=meta)
    cutout_meta = {key: value for key, value in meta.items() if not isinstance(value, u.Quantity)}
    cutout_meta.update(
        # The field spans config.field_of_view 3-D half-mass radii: that is the
        # radius a model checks the field against (picasso.nn.predict).
        r_half_kpc=prepared.half_mass_radius_3d,
        r_half_projected_kpc=r_half,
        fov_kpc=2.0 * half,
        noise=config.noise,
        noise_rms_native=info["noise_rms_native"],
        native_pixel_kpc=info["native_pixel_kpc"],
        n_background_sources=info["n_background_sources"],
        dust=bool(config.dust),
        light_weighted_a_v=mean_a_v,
    )
    cutout = GalaxyCutout(
        image * u.nanomaggy,
        config.bands,
        pixel_scale=pixel * u.kpc,
        redshift=config.redshift,
        cosmology=config.cosmology,
        psf_fwhm=config.psf_fwhm,
        variance=variance * u.nanomaggy**2,
        meta=cutout_meta,
    )
    return cutout, truth


def observe_views(particles, config=None, *, seed=0, views=4):
    """
    Observe a galaxy from the paper's four cameras: face-on, edge-on, two random.

    Parameters
    ----------
    particles : `~picasso.mock.particles.Particles`
        In the galaxy's own frame (``meta["disc_normal"]`` is the face-on axis,
        +z by default).
    config : `ObservingConfig`, optional
    seed : int or `numpy.random.SeedSequence`
        Seed of the directions, in-plane orientations, noise and contaminants.
    views : int
        Number of views (the first two are face-on and edge-on).

    Returns
    -------
    pairs : list of (`~picasso.GalaxyCutout`, `~picasso.PropertyMaps`)
    """
    from scipy.spatial.transform import Rotation

    from .universe import view_directions

    config = ObservingConfig() if config is None else config
    prepared = prepare(particles, config)
    sequence = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    direction_seed, *view_seeds = sequence.spawn(views + 1)
    rng = np.random.default_rng(direction_seed)
    directions, names = view_directions(rng, views)
    normal = np.asarray(particles.meta.get("disc_normal", [0.0, 0.0, 1.0]), dtype=float)
    to_disc = Particles.view_rotation(normal).inv() if not np.allclose(normal, [0, 0, 1]) else None
    pairs = []
    for index, (direction, name) in enumerate(zip(directions, names)):
        if to_disc is not None:
            direction = to_disc.apply(direction)
        up = rng.normal(size=3)
        if np.linalg.norm(np.cross(up, direction)) < 1e-6:
            up = Rotation.from_rotvec([0.3, 0.2, 0.1]).apply(up)
        pairs.append(
            observe(
                prepared,
                config,
                seed=view_seeds[index],
                direction=direction,
                up=up,
                view=index,
                view_name=name,
            )
        )
    return pairs
