"""
Read Illustris / IllustrisTNG particle cutouts into `~picasso.particles.Particles`.

A cutout (from the simulations' web API or cut from a snapshot) is an HDF5
file with a ``Header`` group and one group per particle type. picasso reads

* ``PartType4`` (stars): ``Coordinates``, ``Masses``, ``GFM_InitialMass``,
  ``GFM_Metallicity``, ``GFM_StellarFormationTime``;
* ``PartType0`` (gas): ``Coordinates``, ``Masses``, ``GFM_Metallicity``,
  ``StarFormationRate``, ``NeutralHydrogenAbundance`` and ``Density`` or
  ``SmoothingLength`` for the cell size: by default the radius of the sphere
  with the cell's volume, Masses / Density (TNG cutouts have no
  ``SmoothingLength``; in Illustris it is twice the largest Delaunay radius
  around the cell, a larger smoothing scale), else ``SmoothingLength``;
* ``Header`` attributes ``HubbleParam``, ``Omega0``, ``OmegaLambda``, ``Time``
  (the scale factor a) and, if present, ``BoxSize`` (for periodic wrapping).

Units are converted from the simulations' comoving code units: lengths
ckpc/h -> kpc (x a / h), masses 1e10 Msun/h -> Msun (x 1e10 / h),
densities -> via the cell volume; star formation rates are already Msun/yr.
``GFM_StellarFormationTime`` is the scale factor at birth; star particles with
a value <= 0 are wind-phase cells, not stars, and are excluded. Stellar ages
are cosmic time at the snapshot minus cosmic time at birth, in the file's own
cosmology (a `~astropy.cosmology.FlatLambdaCDM` from its header: Illustris-1
has h = 0.704, Omega_m = 0.2726; TNG has Planck 2015, h = 0.6774,
Omega_m = 0.3089).

Positions are returned relative to the galaxy centre: a given one, or by
default the stellar centre of mass (after undoing periodic wrapping).
"""

import logging
from pathlib import Path

import astropy.units as u
import h5py
import numpy as np
from astropy.cosmology import FlatLambdaCDM, LambdaCDM

from picasso.particles import GasCells, Particles, StarParticles

__all__ = ["STAR_FIELDS", "GAS_FIELDS", "read_particles", "cosmology_from_header"]

log = logging.getLogger(__name__)

#: Fields read from ``PartType4``.
STAR_FIELDS = (
    "Coordinates",
    "Masses",
    "GFM_InitialMass",
    "GFM_Metallicity",
    "GFM_StellarFormationTime",
)
#: Fields read from ``PartType0`` (plus ``Density`` or ``SmoothingLength``).
GAS_FIELDS = (
    "Coordinates",
    "Masses",
    "GFM_Metallicity",
    "StarFormationRate",
    "NeutralHydrogenAbundance",
)

_MASS_UNIT = 1e10  # Msun / h


def cosmology_from_header(header):
    """
    The simulation's cosmology from its ``Header`` attributes.

    Parameters
    ----------
    header : mapping
        Attributes with ``HubbleParam``, ``Omega0`` and ``OmegaLambda``.

    Returns
    -------
    cosmology : `~astropy.cosmology.FlatLambdaCDM` or `~astropy.cosmology.LambdaCDM`
        Flat when Omega0 + OmegaLambda = 1 (to 1e-4); no radiation, as in the
        simulations.

    Raises
    ------
    ValueError
        If an attribute is missing.
    """
    missing = [key for key in ("HubbleParam", "Omega0", "OmegaLambda") if key not in header]
    if missing:
        raise ValueError(
            f"Header lacks attribute(s) {', '.join(missing)}; pass cosmology= to read_particles"
        )
    h = float(header["HubbleParam"])
    omega_m = float(header["Omega0"])
    omega_lambda = float(header["OmegaLambda"])
    if abs(omega_m + omega_lambda - 1.0) < 1e-4:
        return FlatLambdaCDM(H0=100 * h, Om0=omega_m, name="simulation header")
    return LambdaCDM(H0=100 * h, Om0=omega_m, Ode0=omega_lambda, name="simulation header")


def _read_group(handle, group, fields, path):
    """Read ``fields`` of ``group`` as float64 arrays, checking presence and shapes."""
    if group not in handle:
        raise ValueError(f"{path} has no group {group!r}; an Illustris/TNG cutout needs it")
    data = handle[group]
    missing = [name for name in fields if name not in data]
    if missing:
        raise ValueError(f"{path}: group {group!r} lacks field(s) {', '.join(missing)}")
    arrays = {name: np.asarray(data[name][()], dtype=np.float64) for name in fields}
    coordinates = arrays["Coordinates"]
    if coordinates.ndim != 2 or coordinates.shape[1] != 3:
        raise ValueError(
            f"{path}: {group}/Coordinates must have shape (n, 3), got {coordinates.shape}"
        )
    n = coordinates.shape[0]
    for name, array in arrays.items():
        if name != "Coordinates" and array.shape != (n,):
            raise ValueError(
                f"{path}: {group}/{name} must have shape ({n},) like {group}/Coordinates, "
                f"got {array.shape}"
            )
    return arrays


def _wrap(offset, box):
    """Map comoving offsets into [-box/2, box/2) (periodic boundaries)."""
    if box is None or box <= 0:
        return offset
    return (offset + 0.5 * box) % box - 0.5 * box


def read_particles(
    path,
    centre=None,
    *,
    cosmology=None,
    scale_factor=None,
    require_gas=True,
    exclude_wind=True,
    gas_size="auto",
):
    """
    Read an Illustris / IllustrisTNG cutout into `~picasso.particles.Particles`.

    Parameters
    ----------
    path : str or Path
        The HDF5 cutout.
    centre : `~astropy.units.Quantity` (3,) or None
        Galaxy centre in *physical* kpc in the file's frame (e.g. the
        group catalogue's ``SubhaloPos`` x a / h). `None` uses the stellar
        centre of mass.
    cosmology : `~astropy.cosmology.Cosmology` or None
        Overrides the cosmology built from the header
        (`cosmology_from_header`); its ``h`` converts the units.
    scale_factor : float or None
        Overrides the header's ``Time``.
    require_gas : bool
        If `False`, a file without ``PartType0`` gives a galaxy without gas
        (a gas-poor cutout omits the group); otherwise that is an error.
    exclude_wind : bool
        Drop ``PartType4`` entries with ``GFM_StellarFormationTime <= 0``
        (wind-phase gas cells, not stars). Keeping them is an error, since they
        have no stellar age.
    gas_size : {'auto', 'density', 'smoothing_length'}
        Cell size from the equivalent-sphere radius of ``Masses / Density``,
        from ``SmoothingLength``, or ('auto') the first of these the file has.

    Returns
    -------
    particles : `~picasso.particles.Particles`
        Positions relative to the centre (kpc), masses (Msun), ages (Gyr).
        ``meta`` records the source, scale factor, redshift, h, cosmology,
        centre and the number of wind cells dropped.

    Raises
    ------
    ValueError
        If the file is not HDF5, or a group, field or header attribute is
        missing, or a field has the wrong shape; the message names it.
    """
    if gas_size not in ("auto", "density", "smoothing_length"):
        raise ValueError(
            f"gas_size must be 'auto', 'density' or 'smoothing_length', got {gas_size!r}"
        )
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"simulation cutout {path} does not exist")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not an HDF5 file; expected an Illustris/TNG particle cutout")
    with h5py.File(path, "r") as handle:
        if "Header" not in handle:
            raise ValueError(
                f"{path} has no 'Header' group (needed for h, the scale factor and cosmology)"
            )
        header = dict(handle["Header"].attrs)
        if cosmology is None:
            cosmology = cosmology_from_header(header)
        if scale_factor is None:
            if "Time" not in header:
                raise ValueError(
                    f"{path}: Header lacks attribute 'Time' (the scale factor); pass scale_factor="
                )
            scale_factor = float(header["Time"])
        if not 0 < scale_factor <= 1.0 + 1e-9:
            raise ValueError(f"scale factor must be in (0, 1], got {scale_factor}")
        box = float(header["BoxSize"]) if "BoxSize" in header else None
        stars = _read_group(handle, "PartType4", STAR_FIELDS, path)
        gas = None
        if "PartType0" in handle or require_gas:
            group = handle.get("PartType0")
            size_field = {"density": "Density", "smoothing_length": "SmoothingLength"}.get(gas_size)
            if size_field is None:  # auto
                has_density = group is not None and "Density" in group
                size_field = "Density" if has_density else "SmoothingLength"
                if group is not None and size_field not in group:
                    raise ValueError(
                        f"{path}: group 'PartType0' lacks both Density and SmoothingLength "
                        "(one is needed for the cell size)"
                    )
            gas = _read_group(handle, "PartType0", GAS_FIELDS + (size_field,), path)

    h = cosmology.H0.to_value(u.km / u.s / u.Mpc) / 100.0
    length_scale = scale_factor / h  # ckpc/h -> kpc
    mass_scale = _MASS_UNIT / h  # 1e10 Msun/h -> Msun

    birth = stars["GFM_StellarFormationTime"]
    wind = birth <= 0
    if np.any(wind) and not exclude_wind:
        raise ValueError(
            f"{path}: {int(wind.sum())} wind-phase cells in PartType4 (formation time <= 0)"
        )
    is_star = ~wind
    n_wind = int(np.count_nonzero(wind))
    if n_wind:
        log.info("excluding %d wind-phase cells from %s", n_wind, path)
    if np.any(birth[is_star] > scale_factor * (1 + 1e-6)):
        raise ValueError(f"{path}: stars born after the snapshot (GFM_StellarFormationTime > Time)")

    # Periodic unwrapping relative to a reference point, in comoving units.
    comoving = stars["Coordinates"][is_star]
    if centre is not None:
        centre = u.Quantity(centre)
        if centre.shape != (3,) or not centre.unit.is_equivalent(u.kpc):
            raise ValueError("centre must be a length Quantity of shape (3,) in physical units")
        reference = centre.to_value(u.kpc) / length_scale
    elif comoving.shape[0]:
        reference = np.median(comoving, axis=0)
    else:
        raise ValueError(f"{path}: no star particles to find a centre from; pass centre=")
    star_position = _wrap(comoving - reference, box) * length_scale  # kpc from the reference
    star_mass = stars["Masses"][is_star] * mass_scale
    centre_physical = reference * length_scale
    if centre is None:
        shift = (star_mass @ star_position) / star_mass.sum()
        star_position -= shift
        centre_physical = centre_physical + shift

    snapshot_redshift = 1.0 / scale_factor - 1.0
    birth_redshift = 1.0 / birth[is_star] - 1.0
    age = (cosmology.age(snapshot_redshift) - cosmology.age(birth_redshift)).to_value(u.Gyr)
    try:
        star_particles = StarParticles.from_arrays(
            star_position,
            star_mass,
            stars["GFM_InitialMass"][is_star] * mass_scale,
            np.clip(age, 0.0, None),  # a star born at the snapshot time may round to -1e-16
            stars["GFM_Metallicity"][is_star],
        )
    except ValueError as error:
        raise ValueError(f"{path}: PartType4 has invalid values: {error}") from None

    gas_cells = None
    if gas is not None:
        gas_position = (
            _wrap(gas["Coordinates"] - centre_physical / length_scale, box) * length_scale
        )
        if size_field == "SmoothingLength":
            size = gas["SmoothingLength"] * length_scale
        else:
            density = gas["Density"]
            if np.any(density <= 0):
                raise ValueError(f"{path}: PartType0/Density must be positive")
            volume = gas["Masses"] / density  # (ckpc/h)^3
            size = np.cbrt(3.0 * volume / (4.0 * np.pi)) * length_scale
        try:
            gas_cells = GasCells.from_arrays(
                gas_position,
                gas["Masses"] * mass_scale,
                gas["GFM_Metallicity"],
                gas["StarFormationRate"],
                gas["NeutralHydrogenAbundance"],
                size,
            )
        except ValueError as error:
            raise ValueError(f"{path}: PartType0 has invalid values: {error}") from None
    elif not require_gas:
        log.info("%s has no PartType0: galaxy without gas", path)

    meta = {
        "source": str(path),
        "scale_factor": scale_factor,
        "redshift": snapshot_redshift,
        "hubble_param": h,
        "cosmology": repr(cosmology),
        "centre_kpc": [float(x) for x in centre_physical],
        "n_wind_excluded": n_wind,
    }
    return Particles(star_particles, gas_cells, meta=meta)
