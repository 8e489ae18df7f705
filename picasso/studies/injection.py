"""
Inject synthetic galaxies into real imaging frames, keeping their exact truth.

A model trained on synthetic images is only trustworthy on real frames if we
measure what real conditions (real noise and sky residuals, real PSFs, bands
on different pixel grids, neighbours and stars) do to it. picasso's universe
knows the truth exactly, so a synthetic galaxy can be put into real SDSS
frames and recovered through the whole user path
(``frames -> GalaxyCutout.from_sdss_frames -> predict -> analysis``).

How a galaxy is injected, per band and per frame:

1. the galaxy's star particles get their ugriz fluxes from the BC03 tables at
   the chosen redshift (`~picasso.mock.populations.stellar_fluxes`) and their
   16-neighbour emission sizes (`~picasso.mock.observe.smoothing_lengths`),
   exactly as in the mock observer (`~picasso.mock.observe.prepare`);
2. every particle's projected position (kpc) becomes a sky position: a
   tangent plane at the injection RA/Dec with the galaxy's proper angular
   scale from `astropy.cosmology` (image x to the west, y to the north, as
   on picasso's cutout grids);
3. these sky positions go through **that band's own WCS** (the five SDSS
   frames of a field are offset by up to 11 pixels), and the particles are
   rendered on that frame's pixel grid with their emission sizes and the
   band's Gaussian PSF, with the mock's flux-conserving renderer;
4. the light, in nanomaggies, is added to the real pixels, with its own
   photon noise from the frame's gain and calibration (optional);
5. the frame is written back in its original layout (every HDU kept, plain
   or bzip2), so `picasso.io.sdss` and `picasso.GalaxyCutout.from_sdss_frames`
   read it unchanged.

The truth maps are projected as in `~picasso.mock.observe.observe` (a grid of
``image_size`` pixels spanning ``field_of_view`` 3D stellar half-mass radii)
and carry a WCS centred on the injection position with north up and east
left, the same orientation as the cutouts `picasso.io.sdss.target_wcs` makes.
"""

import bz2
import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.cosmology import Planck18
from astropy.io import fits
from astropy.stats import gaussian_fwhm_to_sigma
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from ..cutout import GalaxyCutout
from ..io.sdss import SDSSFrame, frame_from_hdul, open_frame_file, parse_frame_name, target_wcs
from ..maps import PropertyMaps
from ..mock.observe import (
    SPLINE_SIGMA_PER_SUPPORT,
    ObservingConfig,
    PreparedGalaxy,
    attenuation,
    prepare,
    project_truth,
    render_particles,
)
from ..particles import Particles, weighted_half_radius
from ..properties import BANDS
from ..radius import HalfRadius
from ..utils.atomic import atomic_path
from ..utils.scales import kpc_per_arcsec

__all__ = [
    "Placement",
    "InjectedGalaxy",
    "InjectionResult",
    "inject",
    "inject_galaxy",
    "render_on_frame",
    "sky_positions",
    "crop_frame",
]

log = logging.getLogger(__name__)

#: Default side of the region rendered around a galaxy, in units of its truth field.
RENDER_FIELD = 2.0


@dataclass
class Placement:
    """
    Where and how one galaxy is injected.

    Parameters
    ----------
    particles : `~picasso.particles.Particles` or `~picasso.mock.observe.PreparedGalaxy`
        The galaxy in its own frame, centred on its main body (as
        `~picasso.mock.universe.Universe.particles` returns it). A
        `~picasso.mock.observe.PreparedGalaxy` must have been prepared at
        ``redshift``.
    ra, dec : `~astropy.units.Quantity`
        Sky position of the galaxy centre.
    redshift : float
        Redshift at which the galaxy is seen (fluxes and angular size).
    direction : array-like (3,)
        Direction from the galaxy to the observer in the galaxy's frame
        (default: face-on for a universe galaxy).
    up : array-like (3,), optional
        Direction that points north in the image.
    name : str, optional
        Label recorded in the frame headers and the result.
    """

    particles: object
    ra: u.Quantity
    dec: u.Quantity
    redshift: float
    direction: tuple = (0.0, 0.0, 1.0)
    up: object = None
    name: str = None

    def __post_init__(self):
        for key in ("ra", "dec"):
            value = getattr(self, key)
            if not isinstance(value, u.Quantity) or not value.unit.is_equivalent(u.deg):
                raise TypeError(
                    f"{key} must be an angle Quantity (e.g. 322.7 * u.deg), got {value!r}"
                )
        if not isinstance(self.particles, (Particles, PreparedGalaxy)):
            raise TypeError(
                "particles must be picasso.particles.Particles (or a PreparedGalaxy), got "
                f"{type(self.particles).__name__}"
            )
        self.redshift = float(self.redshift)
        if not 0 < self.redshift < 1:
            raise ValueError(f"redshift must be in (0, 1), got {self.redshift}")

    @property
    def coord(self):
        """`~astropy.coordinates.SkyCoord`: the centre (ICRS)."""
        return SkyCoord(self.ra, self.dec, frame="icrs")


@dataclass
class InjectedGalaxy:
    """
    One injected galaxy: where it went, what light was added and its truth.

    Attributes
    ----------
    placement : `Placement`
    truth : `~picasso.PropertyMaps`
        The seven truth maps on a grid of ``image_size`` pixels spanning
        ``fov``, with a WCS centred on the injection position (north up, east
        left). ``meta`` holds ``r_half`` (projected stellar half-mass radius,
        kpc), ``r_half_3d``, ``fov``, ``redshift``, ``ra``, ``dec``,
        ``galaxy_id``.
    flux : dict
        Band -> `~astropy.units.Quantity`: light added to the frames
        (noiseless, summed over the pixels that fell on a frame), nanomaggy.
    model_flux : dict
        Band -> total flux of the galaxy's star particles (nanomaggy); larger
        than ``flux`` only where light fell off the frames or outside the
        rendered region.
    psf_fwhm : dict
        Band -> PSF FWHM used (arcsec).
    stamps : dict
        Band -> list of ``(frame file name, (rows, cols), image)``: the
        noiseless light added to each frame, ``image`` in nanomaggy on the
        frame pixels ``rows, cols`` (slices).
    """

    placement: Placement
    truth: PropertyMaps
    flux: dict = field(default_factory=dict)
    model_flux: dict = field(default_factory=dict)
    psf_fwhm: dict = field(default_factory=dict)
    stamps: dict = field(default_factory=dict)

    @property
    def coord(self):
        """`~astropy.coordinates.SkyCoord`: the injection position."""
        return self.placement.coord

    @property
    def redshift(self):
        """float: the injection redshift."""
        return self.placement.redshift

    @property
    def fov(self):
        """`~astropy.units.Quantity`: side of the truth field (kpc)."""
        return self.truth.meta["fov"]

    def cutout(self, frames, *, size=None, **kwargs):
        """
        Cut this galaxy from (injected) frames on its truth field.

        A thin call of `picasso.GalaxyCutout.from_sdss_frames` with the
        galaxy's position, redshift and the truth field as ``field``, so the
        cutout and the truth maps cover the same sky.

        Parameters
        ----------
        frames : paths, `~picasso.io.sdss.FrameSet` or list of frames
        size : int, optional
            Pixels per side; the truth grid's by default.
        **kwargs
            Passed to `picasso.io.sdss.cutout_from_frames` (``target_psf_fwhm``, ``method``, ...).

        Returns
        -------
        cutout : `~picasso.GalaxyCutout`
        """

        size = self.truth.shape[0] if size is None else int(size)
        coord = self.coord
        return GalaxyCutout.from_sdss_frames(frames, coord.ra, coord.dec, self.redshift,
                                             size=size, field=self.fov, **kwargs)


@dataclass
class InjectionResult:
    """
    What `inject` wrote.

    Attributes
    ----------
    paths : list of `~pathlib.Path`
        The frame files written (one per input frame).
    galaxies : list of `InjectedGalaxy`
    """

    paths: list
    galaxies: list

    def __iter__(self):
        return iter(self.galaxies)

    def __len__(self):
        return len(self.galaxies)


def _kpc_plane_wcs(coord, redshift, cosmology):
    """TAN WCS whose 'pixels' are proper kpc in the galaxy's plane, x west, y north, origin at 0."""
    arcsec_per_kpc = 1.0 / kpc_per_arcsec(redshift, cosmology).to_value(u.kpc / u.arcsec)
    scale = arcsec_per_kpc / 3600.0
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crval = [coord.ra.deg, coord.dec.deg]
    wcs.wcs.crpix = [1.0, 1.0]
    wcs.wcs.cdelt = [-scale, scale]
    wcs.wcs.radesys = "ICRS"
    return wcs, arcsec_per_kpc


def sky_positions(xy, coord, redshift, cosmology=None):
    """
    Sky positions of points given in proper kpc on the plane of the sky of a galaxy.

    The plane is the tangent plane at ``coord``; ``x`` points west and ``y``
    north, so image x runs to the right in a north-up, east-left image.

    Parameters
    ----------
    xy : array-like (n, 2)
        Projected positions in kpc relative to the galaxy centre.
    coord : `~astropy.coordinates.SkyCoord`
        The galaxy centre.
    redshift : float
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Planck18 by default.

    Returns
    -------
    ra, dec : `numpy.ndarray`
        Degrees.
    """
    cosmology = Planck18 if cosmology is None else cosmology
    xy = np.asarray(xy, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"xy must have shape (n, 2), got {xy.shape}")
    wcs, _ = _kpc_plane_wcs(coord.icrs, redshift, cosmology)
    return wcs.pixel_to_world_values(xy[:, 0], xy[:, 1])


def _pixel_scale_arcsec(wcs):
    scales = proj_plane_pixel_scales(wcs) * 3600.0
    return float(np.sqrt(scales[0] * scales[1]))


def render_on_frame(ra, dec, fluxes, sigma_arcsec, coord, frame_wcs, frame_shape, psf_fwhm,
                    *, half_size):
    """
    Render sources given on the sky onto one frame's pixel grid.

    Each source is a Gaussian of its own width, the whole image is convolved
    with a Gaussian PSF, with the mock observer's flux-conserving renderer.

    Parameters
    ----------
    ra, dec : `numpy.ndarray`
        Source positions (degrees).
    fluxes : `numpy.ndarray` (n,)
        Flux of each source (nanomaggy).
    sigma_arcsec : `numpy.ndarray` (n,)
        Gaussian sigma of each source (arcsec).
    coord : `~astropy.coordinates.SkyCoord`
        Centre of the rendered region.
    frame_wcs : `~astropy.wcs.WCS`
        Celestial WCS of the frame.
    frame_shape : tuple
        (ny, nx) of the frame.
    psf_fwhm : `~astropy.units.Quantity`
        FWHM of the Gaussian PSF (angle).
    half_size : `~astropy.units.Quantity`
        Half the side of the rendered square (angle).

    Returns
    -------
    region : tuple of slice or None
        ``(rows, cols)`` of the frame covered, `None` if the region misses it.
    image : `numpy.ndarray` or None
        Light on those pixels (nanomaggy, float64).
    """
    pixel = _pixel_scale_arcsec(frame_wcs)
    cx, cy = (float(v) for v in frame_wcs.world_to_pixel(coord))
    psf_sigma = psf_fwhm.to_value(u.arcsec) * gaussian_fwhm_to_sigma / pixel
    half = int(np.ceil(half_size.to_value(u.arcsec) / pixel + 4.0 * psf_sigma))
    n_grid = 2 * half
    col0 = int(round(cx)) - half
    row0 = int(round(cy)) - half
    ny, nx = frame_shape
    rows = slice(max(row0, 0), min(row0 + n_grid, ny))
    cols = slice(max(col0, 0), min(col0 + n_grid, nx))
    if rows.stop - rows.start < 1 or cols.stop - cols.start < 1:
        return None, None
    px, py = frame_wcs.world_to_pixel_values(ra, dec)
    # Stamp coordinates of render_particles: column j spans [j - half, j + 1 - half), and frame
    # pixel col0 + j spans [col0 + j - 0.5, col0 + j + 0.5).
    xy = np.column_stack([px - col0 + 0.5 - half, py - row0 + 0.5 - half])
    image = render_particles(xy, np.asarray(fluxes, dtype=float)[:, None],
                    np.asarray(sigma_arcsec, dtype=float) / pixel, float(half), n_grid,
                    float(psf_sigma))[0]
    image = image[rows.start - row0:rows.stop - row0, cols.start - col0:cols.stop - col0]
    return (rows, cols), image


def _psf_for(band, frame, psf_fwhm):
    if psf_fwhm is None:
        value = frame.psf_fwhm
    elif isinstance(psf_fwhm, dict):
        if band not in psf_fwhm:
            raise ValueError(f"psf_fwhm has no entry for band {band!r}; give one per band")
        value = psf_fwhm[band]
    else:
        value = psf_fwhm
    if not isinstance(value, u.Quantity) or not value.unit.is_equivalent(u.arcsec):
        raise TypeError(f"the PSF FWHM of band {band} must be an angle Quantity, got {value!r}")
    if not value.isscalar or not value.value > 0:
        raise ValueError(f"the PSF FWHM of band {band} must be one positive angle, got {value}")
    return value.to(u.arcsec)


def _frame_files(frames):
    if isinstance(frames, (str, os.PathLike)):
        frames = [frames]
    files = []
    for path in frames:
        path = Path(path)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if parse_frame_name(p) is not None)
            if not found:
                raise ValueError(f"{path}: no SDSS frame-*.fits(.bz2) files in this directory")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such frame file or directory: {path}")
    if not files:
        raise ValueError("no frame files given")
    return files


def _output_name(path, compress):
    name = path.name
    for suffix in (".bz2", ".gz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if compress is None:
        compress = path.name.endswith(".bz2")
    return name + (".bz2" if compress else ""), bool(compress)


def _write_hdul(hdul, path, compress, overwrite):
    with atomic_path(path, overwrite=overwrite) as tmp_path:
        if compress:
            buffer = io.BytesIO()
            hdul.writeto(buffer)
            Path(tmp_path).write_bytes(bz2.compress(buffer.getvalue(), compresslevel=9))
        else:
            hdul.writeto(tmp_path)
    return path


class _Galaxy:
    """A placement prepared once: fluxes, smoothing, view, truth."""

    def __init__(self, placement, bands, observing, cosmology):
        config = observing.replace(redshift=placement.redshift, bands=bands, cosmology=cosmology,
                                   noise="none", background_sources=False)
        source = placement.particles
        prepared = source if isinstance(source, PreparedGalaxy) else prepare(source, config)
        rotation = Particles.view_rotation(placement.direction, placement.up)
        viewed = prepared.particles.rotated(rotation)
        xy = viewed.stars.position_value[:, :2]
        main = slice(0, prepared.n_main_stars)
        r_half = weighted_half_radius(np.hypot(xy[main, 0], xy[main, 1]),
                              viewed.stars.mass_value[main])
        half = 0.5 * config.field_of_view * prepared.half_mass_radius_3d
        image_size = config.image_size
        coord = placement.coord
        self.placement = placement
        self.bands = tuple(bands)
        self.fluxes = prepared.fluxes
        if config.dust:
            # The same line-of-sight screen as the mock observer's, for this view.
            transmission, _ = attenuation(viewed, half, config)
            self.fluxes = self.fluxes * transmission
        self.ra, self.dec = sky_positions(xy, coord, placement.redshift, cosmology)
        _, arcsec_per_kpc = _kpc_plane_wcs(coord, placement.redshift, cosmology)
        self.sigma_arcsec = SPLINE_SIGMA_PER_SUPPORT * prepared.smoothing * arcsec_per_kpc
        self.half_size = RENDER_FIELD * half * arcsec_per_kpc * u.arcsec
        n = int(image_size)
        pixel_kpc = 2.0 * half / n

        wcs = target_wcs(coord, n, pixel_kpc * arcsec_per_kpc * u.arcsec)
        meta = {
            "galaxy_id": prepared.particles.meta.get("galaxy_id"),
            "name": placement.name,
            "r_half_3d": prepared.half_mass_radius_3d * u.kpc,
            "fov": 2.0 * half * u.kpc,
            "centre": [0.5 * (n - 1), 0.5 * (n - 1)],
            "redshift": placement.redshift,
            "ra": coord.ra.deg,
            "dec": coord.dec.deg,
            "injected": True,
        }
        smoothing = prepared.smoothing if config.truth_deposit == "kernel" else None
        projected = project_truth(viewed, half, n, meta=meta, star_smoothing=smoothing)
        self.truth = PropertyMaps({name: projected[name] for name in projected.properties},
                                  wcs=wcs, pixel_scale=projected.pixel_scale,
                                  mask=projected.mask,
                                  r_half=HalfRadius(r_half * u.kpc, "mass_projected"), meta=meta)
        self.result = InjectedGalaxy(placement, self.truth)
        for band in self.bands:
            self.result.flux[band] = 0.0 * u.nanomaggy
            self.result.model_flux[band] = float(
                self.fluxes[:, self.bands.index(band)].sum()) * u.nanomaggy
            self.result.stamps[band] = []


def inject(frames, placements, output_dir, *, psf_fwhm=None, image_size=None,
           field_of_view=None, observing=None, cosmology=None, photon_noise=True, seed=0,
           compress=None, overwrite=False):
    """
    Inject synthetic galaxies into frame files and write the frames back.

    Every input frame is read once, every galaxy is rendered on it with that
    frame's WCS and its band's PSF, and the frame is written to
    ``output_dir`` under its own name with every HDU as it was (the image in
    HDU0 gets the light, and a ``HISTORY`` card per galaxy).

    Parameters
    ----------
    frames : path-like or iterable of them
        SDSS ``frame-*.fits(.bz2)`` files or directories of them (several
        fields per band are fine: a galaxy is rendered on every frame it
        touches).
    placements : `Placement` or sequence of them
        The galaxies.
    output_dir : path-like
        Where the frames are written (created). Must not be where they came from.
    psf_fwhm : `~astropy.units.Quantity` or dict, optional
        Gaussian PSF FWHM: one angle for every band or band -> angle. By
        default each frame's own (`picasso.io.sdss` gives SDSS frames the
        survey's typical seeing per band, since frame files carry none; the
        same value the cutout maker assumes).
    image_size : int, optional
        Pixels per side of the truth maps (default: ``observing``'s, 256).
    field_of_view : float, optional
        Side of the truth field in 3D stellar half-mass radii (default:
        ``observing``'s, 10, the training convention).
    observing : `~picasso.mock.observe.ObservingConfig`, optional
        Where the galaxy light settings come from (nebular emission, dust
        and its parameters, smoothing; use the training set-up of the model
        being tested). Its redshift, bands, PSF, pixel and noise settings are
        not used: those are the placement's and the frames'. The paper's
        set-up (no dust) by default.
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Planck18 by default.
    photon_noise : bool
        Add the photon noise of the injected light (from each SDSS frame's
        gain and calibration vector; frames without them get none).
    seed : int
        Seed of the photon noise.
    compress : bool, optional
        Write ``.fits.bz2`` (`True`) or ``.fits`` (`False`); by default as the input.
    overwrite : bool
        Replace existing output files.

    Returns
    -------
    result : `InjectionResult`

    Raises
    ------
    ValueError
        If a galaxy falls on no frame, or ``output_dir`` holds the input frames.
    TypeError
        For placements that are not `Placement` objects.
    """

    cosmology = Planck18 if cosmology is None else cosmology
    if isinstance(placements, Placement):
        placements = [placements]
    placements = list(placements)
    if not placements:
        raise ValueError("no placements given")
    for index, placement in enumerate(placements):
        if not isinstance(placement, Placement):
            raise TypeError(f"placement {index} must be a picasso.mock.inject.Placement, got "
                            f"{type(placement).__name__}")
    files = _frame_files(frames)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if any(path.resolve().parent == output_dir.resolve() for path in files):
        raise ValueError(
            f"output_dir {output_dir} holds the input frames; write the injected frames "
            "elsewhere so the originals are kept"
        )
    # Read every frame once; find the bands present.
    loaded = []
    for path in files:
        hdul = open_frame_file(path)
        frame = frame_from_hdul(hdul, path)
        loaded.append((path, hdul, frame))
    bands = tuple(band for band in BANDS.names if any(f.band == band for _, _, f in loaded))
    observing = ObservingConfig() if observing is None else observing
    if not isinstance(observing, ObservingConfig):
        raise TypeError(f"observing must be an ObservingConfig, got {type(observing).__name__}")
    changes = {}
    if image_size is not None:
        changes["image_size"] = int(image_size)
    if field_of_view is not None:
        changes["field_of_view"] = float(field_of_view)
    observing = observing.replace(**changes)
    galaxies = [_Galaxy(placement, bands, observing, cosmology) for placement in placements]
    rng = np.random.default_rng(seed)
    written = []
    for path, hdul, frame in loaded:
        band = frame.band
        column = bands.index(band)
        fwhm = _psf_for(band, frame, psf_fwhm)
        data = np.array(hdul[0].data, dtype=np.float32, copy=True)
        history = []
        for galaxy in galaxies:
            region, image = render_on_frame(
                galaxy.ra, galaxy.dec, galaxy.fluxes[:, column], galaxy.sigma_arcsec,
                galaxy.placement.coord, frame.wcs, frame.shape, fwhm,
                half_size=galaxy.half_size,
            )
            galaxy.result.psf_fwhm[band] = fwhm
            if region is None:
                continue
            rows, cols = region
            added = image
            if photon_noise and isinstance(frame, SDSSFrame):
                # Electrons = flux / calibration * gain; variance in nanomaggy**2 is
                # flux * calibration / gain.
                variance = np.clip(image, 0, None) * frame.calibration[cols][None, :] / frame.gain
                added = image + rng.normal(size=image.shape) * np.sqrt(variance)
            data[rows, cols] += added.astype(np.float32)
            galaxy.result.flux[band] = galaxy.result.flux[band] + float(image.sum()) * u.nanomaggy
            galaxy.result.stamps[band].append((path.name, region, image.astype(np.float32)))
            placement = galaxy.placement
            label = placement.name or galaxy.truth.meta["galaxy_id"]
            history.append(
                f"picasso inject {label}: RA {placement.coord.ra.deg:.6f} "
                f"Dec {placement.coord.dec.deg:.6f} z {placement.redshift:.4f}"
            )
            history.append(f"  {label}: flux {image.sum():.5g} nmgy, Gaussian PSF FWHM "
                           f"{fwhm.to_value(u.arcsec):.3f} arcsec")
        hdul[0].data = data
        for line in history:
            hdul[0].header.add_history(line)
        name, compressed = _output_name(path, compress)
        written.append(_write_hdul(hdul, output_dir / name, compressed, overwrite))
        log.info("wrote %s with %d injected galaxies", output_dir / name, len(history) // 2)
    for galaxy in galaxies:
        if not any(galaxy.result.stamps[band] for band in bands):
            raise ValueError(
                f"galaxy {galaxy.placement.name or galaxy.truth.meta['galaxy_id']} at "
                f"{galaxy.placement.coord.to_string('decimal')} falls on none of the frames"
            )
    return InjectionResult(written, [galaxy.result for galaxy in galaxies])


def inject_galaxy(frames, particles, ra, dec, redshift, output_dir, *, direction=(0.0, 0.0, 1.0),
                  up=None, name=None, **kwargs):
    """
    Inject one galaxy (see `inject`).

    Parameters
    ----------
    frames : path-like or iterable of them
    particles : `~picasso.particles.Particles`
    ra, dec : `~astropy.units.Quantity`
    redshift : float
    output_dir : path-like
    direction, up, name
        See `Placement`.
    **kwargs
        Passed to `inject`.

    Returns
    -------
    galaxy : `InjectedGalaxy`
    paths : list of `~pathlib.Path`
        The frames written.
    """
    placement = Placement(particles, ra, dec, redshift, direction=direction, up=up, name=name)
    result = inject(frames, [placement], output_dir, **kwargs)
    return result.galaxies[0], result.paths


def crop_frame(source, rows, cols, output, *, compress=None, overwrite=False):
    """
    Write a rectangular part of an SDSS frame file, keeping its layout consistent.

    The image (HDU0) is cut, its WCS reference pixel shifted; the
    calibration vector (HDU1) keeps the cut columns; the sky table (HDU2)
    keeps the whole ``ALLSKY`` grid with the cut ``XINTERP`` and ``YINTERP``
    (so the sky and the noise model of every kept pixel are unchanged); the
    asTrans row (HDU3) is kept. A ``HISTORY`` card records the cut.

    Parameters
    ----------
    source : path-like or `~astropy.io.fits.HDUList`
        An SDSS ``frame-*.fits(.bz2)`` file, or one already opened (a bz2
        frame takes a second or more to decompress: open it once to cut several crops).
    rows, cols : tuple of int
        ``(start, stop)`` of the kept rows and columns (0-based, stop excluded).
    output : path-like
        Output file (``.bz2`` is compressed when ``compress`` is `None`).
    compress : bool, optional
    overwrite : bool

    Returns
    -------
    path : `~pathlib.Path`
    """

    if isinstance(source, fits.HDUList):
        hdul, name = source, "HDUList"
    else:
        hdul, name = open_frame_file(source), Path(source).name
    frame_from_hdul(hdul, name)  # validates the layout
    ny, nx = hdul[0].data.shape
    (r0, r1), (c0, c1) = (int(v) for v in rows), (int(v) for v in cols)
    if not (0 <= r0 < r1 <= ny and 0 <= c0 < c1 <= nx):
        raise ValueError(f"rows {rows} and cols {cols} must lie inside the {ny} x {nx} image")
    header = hdul[0].header.copy()
    header["CRPIX1"] = header["CRPIX1"] - c0
    header["CRPIX2"] = header["CRPIX2"] - r0
    header.add_history(f"picasso crop of {name}: rows {r0}:{r1}, cols {c0}:{c1}")
    image = fits.PrimaryHDU(np.ascontiguousarray(hdul[0].data[r0:r1, c0:c1]), header=header)
    calibration = fits.ImageHDU(np.ascontiguousarray(hdul[1].data[c0:c1]),
                                header=hdul[1].header.copy())
    sky = hdul[2]
    columns = []
    for column in sky.columns:
        array = sky.data[column.name]
        if column.name == "XINTERP":
            array = array[:, c0:c1]
        elif column.name == "YINTERP":
            array = array[:, r0:r1]
        else:
            columns.append(fits.Column(column.name, format=column.format, dim=column.dim,
                                       array=array))
            continue
        columns.append(fits.Column(column.name, format=f"{array.shape[1]}E", array=array))
    sky_hdu = fits.BinTableHDU.from_columns(columns)
    output = Path(output)
    new = fits.HDUList([image, calibration, sky_hdu, hdul[3].copy()])
    if compress is None:
        compress = output.name.endswith(".bz2")
    return _write_hdul(new, output, compress, overwrite)
