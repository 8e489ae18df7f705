"""
Readers for the PICASSO authors' training-data layouts.

Two layouts are known from the authors' public code (Buck & Wolf:
``github.com/Steffen-Wolf/picasso_training`` and ``github.com/TobiBu/picassso``).

zarr (``{split}.zarr/{downsampling}/{index}/img|gt``)
    ``img`` float32 ``(5, N, N)``: the natural log of the u, g, r, i, z flux,
    ``ln(max(flux, 1e-4))`` -- the ``normalization='log'`` step of their
    ``SyntheticSDSS.normalize_image`` (``picassso/ML/datasets.py``: ``np.clip(image,
    1e-4, None)`` then ``np.log``), so its minimum is ``ln(1e-4) = -9.21``. The
    flux is most likely in micro-Jy per steradian, the unit of the Torrey et al.
    (2015) / Snyder et al. (2015) ``sunpy`` image pipeline they called
    (`AUTHORS_FLUX_UNIT`). Their training loader
    (``src/datamodules/dsl_datamodule.py``) feeds these values to the network
    unchanged. ``gt`` float32 ``(7, N, N)``: log10 of **per-pixel totals** (Msun,
    Msun/yr) with -100 in empty pixels (their loss and ``predict.py`` mask
    ``gt == -100``), channels in the alphabetical order of the Illustris keys
    (`AUTHORS_CHANNELS`). No pixel scale is stored: each image spans 10 stellar
    half-mass radii.
per-galaxy HDF5 (``halo_{id}_camera_{c}_physical_data.h5``)
    One linear 2-D map per Illustris key present (the authors' public test files
    hold only ``stars_Masses``, ``stars_GFM_Metallicity`` and
    ``stars_GFM_StellarFormationTime``, 256 x 256 float64), with a ``psize``
    attribute on each map (their ``_load_halo_properties`` reads it from the
    first dataset). Per-pixel totals are ``map * psize**2`` (their
    ``scale_to_physical_units``); ``psize`` is in kpc but, as their own plotting
    code says (``paper_analysis/maps.py``: ``psize * 0.704  # bug in creation of
    physical size, one h correction too much``), one factor of h = 0.704 too
    large: the physical pixel side is ``psize * 0.704`` kpc (`ILLUSTRIS_HUBBLE`).

Stellar age. The age channel is a per-pixel **sum** of particle ages (Gyr),
not a mean: the authors' figures (``paper_analysis/maps.py``) show the
"mass weighted mean age" as ``stars_GFM_StellarFormationTime /
(stars_Masses / 1.26e6)`` on a 0-13.8 Gyr scale, i.e. the sum divided by the
number of particles estimated as ``mass / 1.26e6 Msun`` (the Illustris-1
baryonic mass resolution, `ILLUSTRIS_PARTICLE_MASS`). With ``age="sum"``
(default) these readers do the same: ``log10 mean = age - mass +
log10(particle_mass)``. The estimate is exact only if every star particle in
a pixel weighs ``particle_mass``; Illustris star particles do not (they are
born with the mass of a gas cell, and then lose up to about 40 % of it to
stellar evolution), so pixels of old, mass-poor particles come out too old. Pixels
whose mean age exceeds the age of the universe (``cosmology.age(0)``; Planck18
by default -- Illustris-1 itself used H0 = 70.4, Om0 = 0.2726, 13.75 Gyr) are
impossible and are masked with a logged warning giving their number
(``impossible_ages="mask"``), or refused (``"raise"``). ``age="mean"`` takes
the channel as a mean already. Comparisons with the paper's age sigma
(0.086 dex) must keep in mind that a summed channel is dominated by the mass.
"""

import logging
from pathlib import Path

import astropy.units as u
import h5py
import numpy as np

from ..cutout import GalaxyCutout
from ..maps import PropertyMaps
from ..properties import LOG10_EMPTY, PROPERTIES
from ..utils.optional_deps import require

__all__ = [
    "AUTHORS_CHANNELS",
    "ILLUSTRIS_PARTICLE_MASS",
    "ILLUSTRIS_HUBBLE",
    "AUTHORS_FLUX_UNIT",
    "AUTHORS_FLUX_FLOOR",
    "authors_truth_to_picasso",
    "read_authors_zarr",
    "read_authors_halo",
    "authors_zarr_indices",
]

log = logging.getLogger(__name__)

#: Channel order of the authors' ``gt`` arrays (alphabetical Illustris keys).
AUTHORS_CHANNELS = (
    "gas_GFM_Metallicity",
    "gas_Masses",
    "gas_NeutralHydrogenAbundance",
    "gas_StarFormationRate",
    "stars_GFM_Metallicity",
    "stars_GFM_StellarFormationTime",
    "stars_Masses",
)

#: Illustris-1 baryonic mass resolution, by which the authors divided the stellar
#: mass to count the particles behind a summed age (``paper_analysis/maps.py``).
ILLUSTRIS_PARTICLE_MASS = 1.26e6 * u.Msun

#: Hubble parameter h of Illustris-1; the authors' ``psize`` is too large by 1/h.
ILLUSTRIS_HUBBLE = 0.704

#: Most likely flux unit of the authors' images (Torrey et al. 2015 pipeline).
AUTHORS_FLUX_UNIT = u.uJy / u.sr

#: Value (in `AUTHORS_FLUX_UNIT`) at which the authors clipped the flux before
#: taking its natural log.
AUTHORS_FLUX_FLOOR = 1e-4

_LN_FLOOR = float(np.log(np.float32(AUTHORS_FLUX_FLOOR)))
# float32 round-off of ln(1e-4): values this close to the floor were clipped.
_LN_FLOOR_TOLERANCE = 1e-5

_IMPOSSIBLE_AGE_MODES = ("mask", "raise", "keep")


def _check_age_mode(age):
    if age not in ("sum", "mean"):
        raise ValueError(
            f"age must be 'sum' (the authors' channel is a per-pixel sum) or 'mean', got {age!r}"
        )


def _check_impossible_mode(impossible_ages):
    if impossible_ages not in _IMPOSSIBLE_AGE_MODES:
        raise ValueError(
            f"impossible_ages must be one of {_IMPOSSIBLE_AGE_MODES} (what to do with pixels "
            f"older than the universe), got {impossible_ages!r}"
        )


def _age_limit_gyr(cosmology):
    if cosmology is None:
        from astropy.cosmology import Planck18 as cosmology
    if not hasattr(cosmology, "age"):
        raise TypeError(
            f"cosmology must be an astropy cosmology (e.g. astropy.cosmology.Planck18), "
            f"got {cosmology!r}"
        )
    return float(cosmology.age(0).to_value(u.Gyr))


def _log_area(pixel_scale):
    """log10 of the pixel area in kpc^2, from a scale in kpc or kpc / pix."""
    scale = pixel_scale if isinstance(pixel_scale, u.Quantity) else None
    if scale is not None and scale.unit.is_equivalent(u.kpc / u.pix):
        scale = scale * u.pix
    if scale is None or not scale.unit.is_equivalent(u.kpc) or not scale.isscalar \
            or not np.isfinite(scale.value) or scale.value <= 0:
        raise ValueError(
            f"pixel_scale must be one positive length per pixel, e.g. 0.2 * u.kpc, "
            f"got {pixel_scale!r}"
        )
    return 2.0 * np.log10(scale.to_value(u.kpc))


def _convert_channels(channels, *, log_area, age, particle_mass, cosmology, impossible_ages,
                      source):
    """
    Authors' log10 channels -> picasso log10 planes, for the channels present.

    ``channels`` maps authors' keys to log10 arrays (values at or below half of
    LOG10_EMPTY, or non-finite, are empty). Extensive channels have ``log_area``
    subtracted. Returns ``(names, planes, n_impossible)`` in registry order.
    """
    _check_age_mode(age)
    _check_impossible_mode(impossible_ages)
    empty = {key: ~np.isfinite(values) | (values <= LOG10_EMPTY / 2)
             for key, values in channels.items()}
    names = [name for name in PROPERTIES.names if PROPERTIES[name].authors_channel in channels]
    planes = []
    n_impossible = 0
    for name in names:
        key = PROPERTIES[name].authors_channel
        values = channels[key]
        bad = empty[key]
        if name == "stellar_age":
            if age == "sum":
                if "stars_Masses" not in channels:
                    raise ValueError(
                        f"{source}: the summed age channel {key} needs stars_Masses to count "
                        "the particles per pixel; pass age='mean' if the channel is a mean"
                    )
                mass = channels["stars_Masses"]
                mp = u.Quantity(particle_mass)
                if not mp.unit.is_equivalent(u.Msun) or not mp.isscalar or not mp.value > 0:
                    raise ValueError(
                        f"particle_mass must be one positive mass, e.g. 1.26e6 * u.Msun, "
                        f"got {particle_mass!r}"
                    )
                # mass and age are on the same footing (per pixel or per unit area).
                values = values - mass + np.log10(mp.to_value(u.Msun))
                bad = bad | empty["stars_Masses"]
            limit = _age_limit_gyr(cosmology)
            with np.errstate(invalid="ignore"):
                too_old = ~bad & (values > np.log10(limit))
            n_impossible = int(too_old.sum())
            if n_impossible:
                oldest = float(10 ** values[too_old].max())
                message = (
                    f"{source}: {n_impossible} of {int((~bad).sum())} stellar pixels have a mean "
                    f"age above the age of the universe ({limit:.2f} Gyr; oldest {oldest:.1f} "
                    "Gyr): the particle count mass / particle_mass is too low there (star "
                    "particles lighter than particle_mass)"
                )
                if impossible_ages == "raise":
                    raise ValueError(
                        message + "; pass impossible_ages='mask' to drop these pixels"
                    )
                if impossible_ages == "mask":
                    log.warning("%s; masked as empty", message)
                    bad = bad | too_old
                else:
                    log.warning("%s; kept", message)
        elif log_area:
            values = values - log_area
        planes.append(np.where(bad, LOG10_EMPTY, values))
    return names, planes, n_impossible


def authors_truth_to_picasso(
    gt, *, pixel_scale=None, age="sum", particle_mass=ILLUSTRIS_PARTICLE_MASS, per_pixel=True,
    cosmology=None, impossible_ages="mask",
):
    """
    Convert an authors' ``gt`` stack to picasso's property order and convention.

    Parameters
    ----------
    gt : array-like (7, N, N)
        log10 maps in `AUTHORS_CHANNELS` order, -100 (or below -50) where empty.
    pixel_scale : `~astropy.units.Quantity`, optional
        kpc per pixel. With it, per-pixel totals become surface densities
        (picasso's convention); without it, extensive channels stay per-pixel
        totals.
    age : {"sum", "mean"}
        How the age channel was made (see the module notes): ``"sum"`` divides
        the summed ages by ``mass / particle_mass`` particles.
    particle_mass : `~astropy.units.Quantity`
        Star particle mass for ``age="sum"`` (the authors' 1.26e6 Msun).
    per_pixel : bool
        `True` if ``gt`` holds per-pixel totals (zarr layout); `False` if it
        already holds surface densities per kpc^2 (``pixel_scale`` is then not
        applied).
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Sets the age of the universe that no mean age may exceed (Planck18 by
        default).
    impossible_ages : {"mask", "raise", "keep"}
        What to do with pixels older than the universe: mark them empty and log
        a warning with their number (default), raise, or keep them (with the
        warning).

    Returns
    -------
    truth_log10 : ndarray float32 (7, N, N)
        In `picasso.PROPERTIES` order with `~picasso.properties.LOG10_EMPTY` in
        empty pixels; stellar age is the mean in Gyr.

    Raises
    ------
    ValueError
        If ``gt`` is not shaped (7, N, N), ``age`` or ``impossible_ages`` is
        unknown, or (with ``impossible_ages="raise"``) a pixel is older than
        the universe.
    """
    _check_age_mode(age)
    gt = np.asarray(gt, dtype=np.float64)
    if gt.ndim != 3 or gt.shape[0] != len(AUTHORS_CHANNELS):
        raise ValueError(
            f"authors' truth must be shaped ({len(AUTHORS_CHANNELS)}, N, N) in the channel "
            f"order {AUTHORS_CHANNELS}, got shape {gt.shape}"
        )
    log_area = 0.0
    if pixel_scale is not None:
        log_area = _log_area(pixel_scale)
    channels = {key: gt[index] for index, key in enumerate(AUTHORS_CHANNELS)}
    _, planes, _ = _convert_channels(
        channels, log_area=log_area if per_pixel else 0.0, age=age, particle_mass=particle_mass,
        cosmology=cosmology, impossible_ages=impossible_ages, source="authors' truth",
    )
    return np.stack(planes).astype(np.float32)


def authors_zarr_indices(path, downsampling=None):
    """
    The pair indices stored in an authors' zarr split.

    Parameters
    ----------
    path : str or path-like
        The ``{split}.zarr`` directory.
    downsampling : str or int, optional
        The resolution group; the only one if omitted.

    Returns
    -------
    indices : list of str
        Sorted numerically where possible.
    """
    group = _zarr_level(path, downsampling)
    keys = list(group.group_keys())
    return sorted(keys, key=lambda key: (0, int(key)) if key.isdigit() else (1, key))


def _zarr_level(path, downsampling):
    require("zarr", "reading the PICASSO authors' zarr training sets")
    import zarr

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path} is not a directory; expected an authors' '{{split}}.zarr' store"
        )
    try:
        root = zarr.open_group(str(path), mode="r")
    except Exception as error:  # zarr raises several types for a non-store directory
        raise ValueError(f"{path} is not a zarr group ({error})") from None
    levels = sorted(root.group_keys())
    if not levels:
        raise ValueError(f"{path} holds no resolution groups ('{{downsampling}}/{{index}}/img|gt')")
    if downsampling is None:
        if len(levels) > 1:
            raise ValueError(
                f"{path} holds several resolutions {levels}; choose one with downsampling="
            )
        downsampling = levels[0]
    downsampling = str(downsampling)
    if downsampling not in levels:
        raise ValueError(f"{path} has no resolution group {downsampling!r}; it has {levels}")
    return root[downsampling]


def _ln_image_to_flux(log_image, key, path):
    """Linear flux (float32, authors' unit) from the authors' ln image, and the clipped count."""
    if not np.all(np.isfinite(log_image)):
        raise ValueError(f"img of pair {key!r} in {path} has NaN or infinite values")
    lowest = float(log_image.min())
    if lowest < _LN_FLOOR - _LN_FLOOR_TOLERANCE:
        raise ValueError(
            f"img of pair {key!r} in {path} has values down to {lowest:.3g}, below "
            f"ln({AUTHORS_FLUX_FLOOR:g}) = {_LN_FLOOR:.2f}: the authors' img holds "
            f"ln(max(flux, {AUTHORS_FLUX_FLOOR:g})), so this is not their layout (a linear "
            "image would need no conversion)"
        )
    clipped = int(np.count_nonzero(log_image <= _LN_FLOOR + _LN_FLOOR_TOLERANCE))
    flux = np.exp(log_image.astype(np.float64))
    flux[log_image <= _LN_FLOOR + _LN_FLOOR_TOLERANCE] = AUTHORS_FLUX_FLOOR
    return flux.astype(np.float32), clipped


def read_authors_zarr(
    path,
    index,
    *,
    downsampling=None,
    pixel_scale=None,
    redshift=0.05,
    flux_unit=AUTHORS_FLUX_UNIT,
    age="sum",
    particle_mass=ILLUSTRIS_PARTICLE_MASS,
    cosmology=None,
    impossible_ages="mask",
):
    """
    Read one (image, truth) pair from an authors' zarr split.

    The ``img`` array holds the natural log of the flux, ``ln(max(flux,
    1e-4))`` (their ``normalize_image`` with ``normalization='log'``), from
    -9.21 up to about 32 on their data; this reader takes it back to linear
    flux with ``exp``. Pixels at the floor ``ln(1e-4)`` had a flux at or below
    1e-4 in the authors' unit (their true value, possibly zero or negative, is
    lost) and come back as exactly `AUTHORS_FLUX_FLOOR`; their number is
    returned (``clipped_pixels``).

    Parameters
    ----------
    path : str or path-like
        The ``{split}.zarr`` directory.
    index : int or str
        Pair index.
    downsampling : str or int, optional
        Resolution group (the only one if omitted).
    pixel_scale : `~astropy.units.Quantity`, optional
        kpc per pixel. The zarr layout does not store it (images span 10
        stellar half-mass radii); with it the reader returns picasso objects.
    redshift : float
        Redshift of the mocks (paper: 0.05).
    flux_unit : `~astropy.units.Unit`
        Unit of the linear flux, ``exp(img)``; most likely micro-Jy per
        steradian (`AUTHORS_FLUX_UNIT`).
    age, particle_mass, cosmology, impossible_ages
        Age-channel convention and the check against the age of the universe,
        see `authors_truth_to_picasso`.

    Returns
    -------
    pair : dict or tuple
        Without ``pixel_scale``: ``{"image": float32 Quantity (5, N, N) of
        linear flux in flux_unit, "truth": float32 (7, N, N) log10 per-pixel
        totals in picasso order (age: mean, Gyr), "clipped_pixels": int,
        "impossible_age_pixels": int}``. With it: ``(GalaxyCutout,
        PropertyMaps)``, both with these counts in ``meta``.

    Raises
    ------
    ValueError
        If the pair is missing, its arrays have the wrong shapes, ``img`` has
        values below ``ln(1e-4)`` or that are not finite, or (with
        ``impossible_ages="raise"``) a pixel is older than the universe.
    """
    _check_age_mode(age)
    _check_impossible_mode(impossible_ages)
    group = _zarr_level(path, downsampling)
    key = str(index)
    if key not in group:
        raise ValueError(f"{path} has no pair {key!r} at this resolution")
    pair = group[key]
    missing = [name for name in ("img", "gt") if name not in pair]
    if missing:
        raise ValueError(f"pair {key!r} in {path} lacks the array(s) {', '.join(missing)}")
    log_image = np.asarray(pair["img"][...], dtype=np.float32)
    gt = np.asarray(pair["gt"][...], dtype=np.float32)
    if log_image.ndim != 3 or log_image.shape[0] != 5:
        raise ValueError(f"img of pair {key!r} must be shaped (5, N, N), got {log_image.shape}")
    if gt.shape != (len(AUTHORS_CHANNELS),) + log_image.shape[1:]:
        raise ValueError(
            f"gt of pair {key!r} must be shaped ({len(AUTHORS_CHANNELS)}, "
            f"{log_image.shape[1]}, {log_image.shape[2]}), got {gt.shape}"
        )
    flux, clipped = _ln_image_to_flux(log_image, key, path)
    log_area = 0.0 if pixel_scale is None else _log_area(pixel_scale)
    channels = {name: gt[i].astype(np.float64) for i, name in enumerate(AUTHORS_CHANNELS)}
    _, planes, n_impossible = _convert_channels(
        channels, log_area=log_area, age=age, particle_mass=particle_mass, cosmology=cosmology,
        impossible_ages=impossible_ages, source=f"{path} pair {key}",
    )
    truth = np.stack(planes).astype(np.float32)
    unit = u.Unit(flux_unit)
    if pixel_scale is None:
        return {"image": flux * unit, "truth": truth, "clipped_pixels": clipped,
                "impossible_age_pixels": n_impossible}
    meta = {"source": str(path), "authors_index": key, "age_channel": age,
            "clipped_pixels": clipped, "flux_floor": AUTHORS_FLUX_FLOOR,
            "impossible_age_pixels": n_impossible}
    cutout = GalaxyCutout(flux * unit, pixel_scale=pixel_scale, redshift=redshift, meta=meta)
    maps = PropertyMaps.from_log10(truth, pixel_scale=pixel_scale, meta=meta)
    return cutout, maps


def _read_psize(handle, present, path):
    """The ``psize`` attribute, from the file or its maps (which must agree)."""
    values = {}
    if "psize" in handle.attrs:
        values["file"] = handle.attrs["psize"]
    for name in present:
        if "psize" in handle[name].attrs:
            values[name] = handle[name].attrs["psize"]
    if not values:
        raise ValueError(
            f"{path} has no 'psize' attribute (kpc per pixel) on the file or on its maps "
            f"{', '.join(present)}; the pixel size is needed for totals"
        )
    numbers = {}
    for where, value in values.items():
        value = np.atleast_1d(np.asarray(value, dtype=float))
        if value.size != 1 or not np.isfinite(value[0]) or value[0] <= 0:
            raise ValueError(f"{path}: psize on {where} must be one positive number, got {value}")
        numbers[where] = float(value[0])
    distinct = sorted(set(numbers.values()))
    if max(distinct) > min(distinct) * (1 + 1e-6):
        raise ValueError(f"{path}: the maps disagree on psize: {numbers}")
    return distinct[0]


def read_authors_halo(
    path,
    *,
    age="sum",
    particle_mass=ILLUSTRIS_PARTICLE_MASS,
    hubble=ILLUSTRIS_HUBBLE,
    cosmology=None,
    impossible_ages="mask",
):
    """
    Read an authors' per-galaxy ``halo_{id}_camera_{c}_physical_data.h5`` file.

    Every map of `AUTHORS_CHANNELS` that the file holds is read; other
    datasets (their ``metadata``) are ignored. The authors' public test files
    hold only the stellar maps (``stars_Masses``, ``stars_GFM_Metallicity``,
    ``stars_GFM_StellarFormationTime``); the returned maps then hold only
    ``stellar_mass``, ``stellar_metal_mass`` and ``stellar_age``, the absent
    properties are logged (at INFO level) and listed in
    ``meta["absent_properties"]``.

    Units: per-pixel totals are ``map * psize**2`` (Msun, Msun/yr, summed
    Gyr), as in the authors' ``scale_to_physical_units``; the physical pixel
    side is ``psize * hubble`` kpc (their plotting code corrects ``psize``
    by h = 0.704, "one h correction too much"). Surface densities are the
    totals over ``(psize * hubble)**2``.

    The maps are returned as stored; the authors' loaders transposed them
    (``data.transpose(0, 2, 1)``) to align them with their mock images.

    Parameters
    ----------
    path : str or path-like
    age, particle_mass, cosmology, impossible_ages
        Age-channel convention and the check against the age of the
        universe, see `authors_truth_to_picasso`.
    hubble : float
        Factor from ``psize`` to the physical pixel side in kpc
        (`ILLUSTRIS_HUBBLE`); 1 takes ``psize`` literally.

    Returns
    -------
    maps : `~picasso.PropertyMaps`
        The properties present, with ``pixel_scale`` = ``psize * hubble`` kpc
        and ``meta`` holding ``psize_kpc`` (as stored), ``hubble``,
        ``absent_properties``, ``impossible_age_pixels`` and, when the file
        name follows the pattern, ``halo_id`` and ``camera``.

    Raises
    ------
    ValueError
        If the file is not HDF5, holds none of the authors' maps, has no
        (or inconsistent) ``psize``, maps of different shapes or negative or
        non-finite values, a summed age without ``stars_Masses``, or (with
        ``impossible_ages="raise"``) a pixel older than the universe.
    """
    _check_age_mode(age)
    _check_impossible_mode(impossible_ages)
    if not (np.isfinite(hubble) and hubble > 0):
        raise ValueError(f"hubble must be a positive number (Illustris: 0.704), got {hubble!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not an HDF5 file")
    with h5py.File(path, "r") as handle:
        present = [name for name in AUTHORS_CHANNELS
                   if name in handle and isinstance(handle[name], h5py.Dataset)]
        if not present:
            raise ValueError(
                f"{path} holds none of the authors' maps {AUTHORS_CHANNELS} (it has "
                f"{sorted(handle.keys())}); expected a 'halo_{{id}}_camera_{{c}}_physical_data.h5' "
                "file"
            )
        maps = {name: np.asarray(handle[name][...], dtype=np.float64) for name in present}
        psize = _read_psize(handle, present, path)
    shapes = {array.shape for array in maps.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"{path}: maps must be 2-D and share one shape, got {sorted(shapes)}")
    for name, array in maps.items():
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{path}: map {name} has NaN or infinite values")
        if np.any(array < 0):
            raise ValueError(
                f"{path}: map {name} has negative values; the authors' physical-data maps are "
                "linear and non-negative (files of log10 values, as their prediction script "
                "writes with LOGSPACE=False, are not supported)"
            )
    log_psize2 = 2.0 * np.log10(psize)
    with np.errstate(divide="ignore"):
        # log10 per-pixel totals: map * psize^2.
        channels = {
            name: np.where(array > 0, np.log10(np.where(array > 0, array, 1.0)) + log_psize2,
                           LOG10_EMPTY)
            for name, array in maps.items()
        }
    scale = psize * hubble * u.kpc
    names, planes, n_impossible = _convert_channels(
        channels, log_area=_log_area(scale), age=age, particle_mass=particle_mass,
        cosmology=cosmology, impossible_ages=impossible_ages, source=str(path),
    )
    absent = [name for name in PROPERTIES.names if name not in names]
    if absent:
        log.info("%s holds no map of %s; the maps hold only %s", path.name, ", ".join(absent),
                 ", ".join(names))
    meta = {"source": str(path), "psize_kpc": psize, "hubble": float(hubble),
            "age_channel": age, "absent_properties": absent,
            "impossible_age_pixels": n_impossible}
    parts = path.name.split("_")
    if len(parts) >= 4 and parts[0] == "halo" and parts[2] == "camera":
        meta["halo_id"], meta["camera"] = parts[1], parts[3]
    return PropertyMaps.from_log10(np.stack(planes), names, pixel_scale=scale, meta=meta)
