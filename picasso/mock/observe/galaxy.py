"""
One galaxy observed: the view-independent preparation, then any number of views.
"""

import logging
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.cosmology import Planck18

from ...cutout import GalaxyCutout
from ...particles import Particles, weighted_half_radius
from ...radius import HalfRadius
from ..populations import stellar_fluxes
from ..universe import view_directions
from .config import ObservingConfig
from .dust import attenuation
from .grid import smoothing_lengths
from .render import render_image
from .truth import planes_to_maps, truth_planes

__all__ = ["PreparedGalaxy", "prepare", "observe", "observe_views", "observe_arrays", "ViewArrays",
           "view_cameras", "disc_geometry"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# per-galaxy preparation (view independent)
# ---------------------------------------------------------------------------


@dataclass
class PreparedGalaxy:
    """
    The view-independent parts of a galaxy's observation, computed once.

    Parameters
    ----------
    particles : `~picasso.particles.Particles`
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


def prepare(particles, config=None):
    """
    Compute the view-independent parts of an observation: fluxes and smoothing.

    Parameters
    ----------
    particles : `~picasso.particles.Particles`
        The galaxy, centred on its main body. ``meta["n_main_stars"]`` (if
        present) marks the main galaxy's stars.
    config : `ObservingConfig`, optional

    Returns
    -------
    prepared : `PreparedGalaxy`

    Raises
    ------
    TypeError
        If ``particles`` is not `~picasso.particles.Particles`.
    ValueError
        If the galaxy has no stellar mass.
    """
    config = ObservingConfig() if config is None else config
    if not isinstance(particles, Particles):
        raise TypeError(
            f"particles must be picasso.particles.Particles, got {type(particles).__name__}"
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
    r3 = weighted_half_radius(np.linalg.norm(main, axis=1), stars.mass_value[:n_main])
    return PreparedGalaxy(particles, fluxes, smoothing, n_main, max(r3, 1e-3))



# ---------------------------------------------------------------------------
# one view
# ---------------------------------------------------------------------------


def disc_geometry(rotation, normal):
    """Inclination (deg) and position angle (deg, from +y towards -x... of the major axis)."""
    n_view = rotation.apply(np.asarray(normal, dtype=float))
    inclination = float(np.degrees(np.arccos(np.clip(abs(n_view[2]), 0.0, 1.0))))
    # The major axis is perpendicular to the projected normal.
    position_angle = float(np.degrees(np.arctan2(n_view[1], n_view[0])) % 180.0)
    return inclination, position_angle


def _truth_smoothing(prepared, config):
    """The star particles' kernel sizes for the truth maps, or None for one pixel each."""
    return prepared.smoothing if config.truth_deposit == "kernel" else None


def observe(
    galaxy, config=None, *, seed=0, direction=(0.0, 0.0, 1.0), up=None, view=0, view_name=None
):
    """
    Observe one galaxy from one direction: the (image, truth) pair.

    Parameters
    ----------
    galaxy : `~picasso.particles.Particles` or `PreparedGalaxy`
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
        PSF; ``r_half`` is the 3-D stellar half-mass radius the field of
        view is cut to; ``meta`` holds the view and noise settings.
    truth : `~picasso.PropertyMaps`
        The seven maps; ``r_half`` is the projected stellar half-mass radius
        of the main galaxy in this view; ``meta`` holds ``r_half_3d``,
        ``centre`` (pixel x, y of the galaxy centre), ``fov`` (the side of the
        field) and the disc's ``inclination`` and ``position_angle``.
    """
    config = ObservingConfig() if config is None else config
    prepared = galaxy if isinstance(galaxy, PreparedGalaxy) else prepare(galaxy, config)
    arrays = observe_arrays(prepared, config, seed=seed, direction=direction, up=up)
    n = config.image_size
    half = arrays.half
    meta = {
        "galaxy_id": prepared.particles.meta.get("galaxy_id"),
        "view": int(view),
        "view_name": view_name,
        "direction": [float(v) for v in np.asarray(direction, dtype=float)],
        "r_half_3d": prepared.half_mass_radius_3d * u.kpc,
        "centre": [0.5 * (n - 1), 0.5 * (n - 1)],
        "fov": 2.0 * half * u.kpc,
        "inclination": arrays.inclination,
        "position_angle": arrays.position_angle,
    }
    truth = planes_to_maps(arrays.truth, arrays.pixel, meta=meta,
                           r_half=HalfRadius(arrays.r_half * u.kpc, "mass_projected"))
    cutout_meta = {key: value for key, value in meta.items() if not isinstance(value, u.Quantity)}
    cutout_meta.update(
        noise=config.noise,
        noise_rms_native=arrays.info["noise_rms_native"],
        native_pixel_kpc=arrays.info["native_pixel_kpc"],
        n_background_sources=arrays.info["n_background_sources"],
        dust=bool(config.dust),
        light_weighted_a_v=arrays.mean_a_v,
    )
    cutout = GalaxyCutout(
        arrays.image << u.nanomaggy,
        config.bands,
        pixel_scale=arrays.pixel * u.kpc,
        redshift=config.redshift,
        cosmology=config.cosmology,
        psf_fwhm=config.psf_fwhm,
        # the field spans config.field_of_view of these radii: what a model checks it against
        r_half=HalfRadius(prepared.half_mass_radius_3d * u.kpc, "mass_3d"),
        variance=arrays.variance << u.nanomaggy**2,
        meta=cutout_meta,
    )
    return cutout, truth


@dataclass
class ViewArrays:
    """
    One view of a galaxy as bare arrays: what `observe` makes its cutout and maps of.

    Parameters
    ----------
    image, variance : ndarray float32 (n_bands, N, N)
        Flux (nanomaggy) and noise variance per pixel.
    info : dict
        The noise and contaminant record of `~picasso.mock.observe.render_image`.
    truth : dict
        ``name: (value, empty)`` of every property (`truth_planes`).
    half : float
        Half the side of the field (kpc).
    pixel : float
        Pixel side (kpc).
    r_half : float
        Projected stellar half-mass radius of the main galaxy (kpc).
    inclination, position_angle : float
        Of the disc (deg).
    mean_a_v : float
        Light-weighted V-band attenuation (0 without dust).
    """

    image: np.ndarray
    variance: np.ndarray
    info: dict
    truth: dict
    half: float
    pixel: float
    r_half: float
    inclination: float
    position_angle: float
    mean_a_v: float


def observe_arrays(prepared, config, *, seed=0, direction=(0.0, 0.0, 1.0), up=None):
    """
    Observe one prepared galaxy from one direction, as arrays (`observe` without its objects).

    A dataset build stores arrays: it skips the construction and checks of a
    `~picasso.GalaxyCutout` and `~picasso.PropertyMaps` per view.

    Parameters
    ----------
    prepared : `PreparedGalaxy`
    config : `ObservingConfig`
    seed, direction, up
        As for `observe`.

    Returns
    -------
    arrays : `ViewArrays`
    """
    rng = np.random.default_rng(seed)
    particles = prepared.particles
    rotation = Particles.view_rotation(direction, up)
    viewed = particles.rotated(rotation)
    half = 0.5 * config.field_of_view * prepared.half_mass_radius_3d
    n = config.image_size
    stars = viewed.stars
    xy = stars.position_value[:, :2]
    main = slice(0, prepared.n_main_stars)
    r_half = weighted_half_radius(np.hypot(xy[main, 0], xy[main, 1]), stars.mass_value[main])
    normal = particles.meta.get("disc_normal", [0.0, 0.0, 1.0])
    inclination, position_angle = disc_geometry(rotation, normal)
    fluxes = prepared.fluxes
    mean_a_v = 0.0
    if config.dust:
        transmission, a_v = attenuation(viewed, half, config)
        fluxes = fluxes * transmission
        mean_a_v = float(np.average(a_v, weights=prepared.fluxes[:, min(2, fluxes.shape[1] - 1)]))
    image, variance, info = render_image(
        xy, fluxes, prepared.smoothing, half, config, rng, centre_radius=config.snr_radius * r_half
    )
    truth = truth_planes(viewed, half, n, star_smoothing=_truth_smoothing(prepared, config))
    return ViewArrays(image, variance, info, truth, half, 2.0 * half / n, r_half, inclination,
                      position_angle, mean_a_v)


def observe_views(particles, config=None, *, seed=0, views=4):
    """
    Observe a galaxy from the paper's four cameras: face-on, edge-on, two random.

    Parameters
    ----------
    particles : `~picasso.particles.Particles`
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
    config = ObservingConfig() if config is None else config
    prepared = prepare(particles, config)
    return [observe(prepared, config, seed=view_seed, direction=direction, up=up, view=index,
                    view_name=name)
            for index, (view_seed, direction, up, name) in enumerate(
                view_cameras(particles, seed, views))]


def view_cameras(particles, seed=0, views=4):
    """
    The cameras of `observe_views`: per view its noise seed, direction, up and name.

    Parameters
    ----------
    particles : `~picasso.particles.Particles`
        In the galaxy's own frame (``meta["disc_normal"]`` is the face-on axis).
    seed : int or `numpy.random.SeedSequence`
    views : int

    Returns
    -------
    cameras : list of (`numpy.random.SeedSequence`, ndarray (3,), ndarray (3,), str)
    """
    from scipy.spatial.transform import Rotation

    sequence = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    direction_seed, *view_seeds = sequence.spawn(views + 1)
    rng = np.random.default_rng(direction_seed)
    directions, names = view_directions(rng, views)
    normal = np.asarray(particles.meta.get("disc_normal", [0.0, 0.0, 1.0]), dtype=float)
    to_disc = Particles.view_rotation(normal).inv() if not np.allclose(normal, [0, 0, 1]) else None
    cameras = []
    for index, (direction, name) in enumerate(zip(directions, names)):
        if to_disc is not None:
            direction = to_disc.apply(direction)
        up = rng.normal(size=3)
        if np.linalg.norm(np.cross(up, direction)) < 1e-6:
            up = Rotation.from_rotvec([0.3, 0.2, 0.1]).apply(up)
        cameras.append((view_seeds[index], direction, up, name))
    return cameras
