"""
Readers for the PICASSO authors' training-data layouts.

Two layouts are known from the authors' public code (Buck & Wolf):

zarr (``{split}.zarr/{downsampling}/{index}/img|gt``)
    ``img`` float32 ``(5, N, N)``: u, g, r, i, z flux (most likely micro-Jy per
    steradian, from the Torrey et al. 2015 pipeline); ``gt`` float32
    ``(7, N, N)``: log10 of **per-pixel totals** (Msun, Msun/yr) with -100 in
    empty pixels, channels in the alphabetical order of the Illustris keys
    (`AUTHORS_CHANNELS`). No pixel scale is stored: each image spans 10 stellar
    half-mass radii.
per-galaxy HDF5 (``halo_{id}_camera_{c}_physical_data.h5``)
    One linear map per Illustris key, surface densities per kpc^2, with a
    ``psize`` attribute (kpc per pixel; per-pixel totals = map x psize^2).

Stellar age. On the authors' one public example pair the log10 age channel has
median 1.71 and maximum 3.49 while the stellar-mass channel has median 6.93 and
maximum 8.71: the age channel is most likely a per-pixel **sum** of particle
ages (Gyr), not a mean. With ``age="sum"`` (default) these readers convert it to
picasso's mass-weighted mean age as ``mean = sum / N`` with ``N = mass /
particle_mass`` (Illustris-1 star particles have about 1.3e6 Msun), i.e.
``log10 mean = age - mass + log10(particle_mass)``; this is exact only if all
particles in a pixel have the same mass. ``age="mean"`` takes the channel as
a mean already. Comparisons with the paper's age sigma (0.086 dex) must keep in
mind that a summed channel is dominated by the mass.
"""

import logging
from pathlib import Path

import astropy.units as u
import h5py
import numpy as np

from ..cutout import GalaxyCutout
from ..maps import PropertyMaps
from ..properties import LOG10_EMPTY, PROPERTIES

__all__ = [
    "AUTHORS_CHANNELS",
    "ILLUSTRIS_PARTICLE_MASS",
    "AUTHORS_FLUX_UNIT",
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

#: Typical Illustris-1 star particle mass, used to turn summed ages into means.
ILLUSTRIS_PARTICLE_MASS = 1.3e6 * u.Msun

#: Most likely flux unit of the authors' images (Torrey et al. 2015 pipeline).
AUTHORS_FLUX_UNIT = u.uJy / u.sr

_CHANNEL_TO_PROPERTY = {PROPERTIES[name].authors_channel: name for name in PROPERTIES.names}


def _check_age_mode(age):
    if age not in ("sum", "mean"):
        raise ValueError(
            f"age must be 'sum' (the authors' channel is a per-pixel sum) or 'mean', got {age!r}"
        )


def authors_truth_to_picasso(
    gt, *, pixel_scale=None, age="sum", particle_mass=ILLUSTRIS_PARTICLE_MASS, per_pixel=True
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
        How the age channel was made (see the module notes).
    particle_mass : `~astropy.units.Quantity`
        Star particle mass for ``age="sum"``.
    per_pixel : bool
        `True` if ``gt`` holds per-pixel totals (zarr layout); `False` if it holds
        surface densities per kpc^2 (HDF5 layout, log10 of the maps).

    Returns
    -------
    truth_log10 : ndarray float32 (7, N, N)
        In `picasso.PROPERTIES` order with `~picasso.properties.LOG10_EMPTY` in
        empty pixels.

    Raises
    ------
    ValueError
        If ``gt`` is not shaped (7, N, N) or ``age`` is unknown.
    """
    _check_age_mode(age)
    gt = np.asarray(gt, dtype=np.float64)
    if gt.ndim != 3 or gt.shape[0] != len(AUTHORS_CHANNELS):
        raise ValueError(
            f"authors' truth must be shaped ({len(AUTHORS_CHANNELS)}, N, N) in the channel "
            f"order {AUTHORS_CHANNELS}, got shape {gt.shape}"
        )
    empty = ~np.isfinite(gt) | (gt <= LOG10_EMPTY / 2)
    channel = {name: i for i, name in enumerate(AUTHORS_CHANNELS)}
    log_area = 0.0
    if pixel_scale is not None:
        scale = u.Quantity(pixel_scale)
        if scale.unit.is_equivalent(u.kpc / u.pix):
            scale = scale * u.pix
        if not scale.unit.is_equivalent(u.kpc) or not scale.isscalar or scale.value <= 0:
            raise ValueError(
                f"pixel_scale must be one positive length per pixel (kpc), got {pixel_scale}"
            )
        log_area = 2.0 * np.log10(scale.to_value(u.kpc))
    out = np.full((len(PROPERTIES),) + gt.shape[1:], LOG10_EMPTY, dtype=np.float64)
    mass = gt[channel["stars_Masses"]]
    mass_empty = empty[channel["stars_Masses"]]
    for name in PROPERTIES.names:
        source = channel[PROPERTIES[name].authors_channel]
        values = gt[source]
        if name == "stellar_age":
            if age == "sum":
                # mass and age channels are on the same footing (both per pixel or both per kpc^2).
                values = values - mass + np.log10(u.Quantity(particle_mass).to_value(u.Msun))
            bad = empty[source] | mass_empty
        else:
            if per_pixel and pixel_scale is not None:
                values = values - log_area
            bad = empty[source]
        out[PROPERTIES.index(name)] = np.where(bad, LOG10_EMPTY, values)
    return out.astype(np.float32)


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
    try:
        import zarr
    except ImportError as error:  # pragma: no cover - zarr is in the "all" extra
        raise ImportError(
            "reading the authors' zarr layout needs zarr: pip install zarr"
        ) from error
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
):
    """
    Read one (image, truth) pair from an authors' zarr split.

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
        Unit of ``img``.
    age, particle_mass
        Age-channel convention, see `authors_truth_to_picasso`.

    Returns
    -------
    pair : dict or tuple
        Without ``pixel_scale``: ``{"image": float32 (5, N, N), "truth":
        float32 (7, N, N) log10 per-pixel totals in picasso order (age:
        mean, Gyr)}``. With it: ``(GalaxyCutout, PropertyMaps)``.

    Raises
    ------
    ValueError
        If the pair is missing or its arrays have the wrong shapes.
    """
    group = _zarr_level(path, downsampling)
    key = str(index)
    if key not in group:
        raise ValueError(f"{path} has no pair {key!r} at this resolution")
    pair = group[key]
    missing = [name for name in ("img", "gt") if name not in pair]
    if missing:
        raise ValueError(f"pair {key!r} in {path} lacks the array(s) {', '.join(missing)}")
    image = np.asarray(pair["img"][...], dtype=np.float32)
    gt = np.asarray(pair["gt"][...], dtype=np.float32)
    if image.ndim != 3 or image.shape[0] != 5:
        raise ValueError(f"img of pair {key!r} must be shaped (5, N, N), got {image.shape}")
    if gt.shape != (len(AUTHORS_CHANNELS),) + image.shape[1:]:
        raise ValueError(
            f"gt of pair {key!r} must be shaped ({len(AUTHORS_CHANNELS)}, {image.shape[1]}, "
            f"{image.shape[2]}), got {gt.shape}"
        )
    truth = authors_truth_to_picasso(
        gt, pixel_scale=pixel_scale, age=age, particle_mass=particle_mass, per_pixel=True
    )
    if pixel_scale is None:
        return {"image": image, "truth": truth}
    meta = {"source": str(path), "authors_index": key, "age_channel": age}
    cutout = GalaxyCutout(
        image * u.Unit(flux_unit), pixel_scale=pixel_scale, redshift=redshift, meta=meta
    )
    maps = PropertyMaps.from_log10(truth, pixel_scale=pixel_scale, meta=meta)
    return cutout, maps


def read_authors_halo(path, *, age="sum", particle_mass=ILLUSTRIS_PARTICLE_MASS):
    """
    Read an authors' per-galaxy ``halo_{id}_camera_{c}_physical_data.h5`` file.

    Parameters
    ----------
    path : str or path-like
    age, particle_mass
        Age-channel convention, see `authors_truth_to_picasso`.

    Returns
    -------
    maps : `~picasso.PropertyMaps`
        With ``pixel_scale`` from ``psize`` and ``meta["halo_id"]``,
        ``meta["camera"]`` parsed from the file name when it follows the pattern.

    Raises
    ------
    ValueError
        If a channel or the ``psize`` attribute is missing, or maps differ in shape.
    """
    _check_age_mode(age)
    path = Path(path)
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not an HDF5 file")
    with h5py.File(path, "r") as handle:
        missing = [name for name in AUTHORS_CHANNELS if name not in handle]
        if missing:
            raise ValueError(
                f"{path} lacks the dataset(s) {', '.join(missing)}; an authors' physical-data "
                f"file has one map per key of {AUTHORS_CHANNELS}"
            )
        maps = {name: np.asarray(handle[name][...], dtype=np.float64) for name in AUTHORS_CHANNELS}
        psize = handle.attrs.get("psize")
        if psize is None:
            psize = next(
                (
                    handle[name].attrs["psize"]
                    for name in AUTHORS_CHANNELS
                    if "psize" in handle[name].attrs
                ),
                None,
            )
    if psize is None:
        raise ValueError(f"{path} has no 'psize' attribute (kpc per pixel) on the file or its maps")
    psize = float(np.atleast_1d(psize)[0])
    if not np.isfinite(psize) or psize <= 0:
        raise ValueError(f"{path}: psize must be a positive number of kpc, got {psize}")
    shapes = {array.shape for array in maps.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"{path}: maps must be 2-D and share one shape, got {sorted(shapes)}")
    for name, array in maps.items():
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"{path}: map {name} must be finite and non-negative (linear values)")
    with np.errstate(divide="ignore"):
        gt = np.stack(
            [
                np.where(maps[name] > 0, np.log10(maps[name]), LOG10_EMPTY)
                for name in AUTHORS_CHANNELS
            ]
        )
    truth = authors_truth_to_picasso(
        gt, pixel_scale=psize * u.kpc, age=age, particle_mass=particle_mass, per_pixel=False
    )
    meta = {"source": str(path), "psize_kpc": psize, "age_channel": age}
    parts = path.name.split("_")
    if len(parts) >= 4 and parts[0] == "halo" and parts[2] == "camera":
        meta["halo_id"], meta["camera"] = parts[1], parts[3]
    return PropertyMaps.from_log10(truth, pixel_scale=psize * u.kpc, meta=meta)
