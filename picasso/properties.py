"""
The registry of physical properties and photometric bands.

Property order, names and units live here and nowhere else: every map, dataset,
model file and table in picasso takes them from `PROPERTIES` and `BANDS`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import astropy.units as u
import numpy as np

__all__ = [
    "Property",
    "Band",
    "Registry",
    "PROPERTIES",
    "BANDS",
    "SDSS_BANDS",
    "AB_ZERO_POINT",
    "LOG10_EMPTY",
    "SURFACE_DENSITY_UNIT",
    "SFR_SURFACE_DENSITY_UNIT",
    "AGE_UNIT",
    "flux_equivalencies",
    "SOLAR_ABSOLUTE_MAGNITUDES",
]

#: Flux density of magnitude zero in the AB system (Oke & Gunn 1983).
AB_ZERO_POINT = 3631.0 * u.Jy

#: Value that marks an empty pixel (no particle) in log10 maps, as in the
#: PICASSO training data.
LOG10_EMPTY = -100.0

SURFACE_DENSITY_UNIT = u.Msun / u.kpc**2
SFR_SURFACE_DENSITY_UNIT = u.Msun / (u.yr * u.kpc**2)
AGE_UNIT = u.Gyr


def flux_equivalencies():
    """
    Equivalencies that relate maggies (SDSS flux ratios) to flux densities.

    SDSS images are calibrated in nanomaggies, a flux *ratio* to the AB zero
    point; astropy treats ``mgy`` as dimensionless. These equivalencies let
    nanomaggies convert to janskys and back.

    Returns
    -------
    equivalencies : list
        The `astropy.units.zero_point_flux` equivalency for 3631 Jy.
    """
    return u.zero_point_flux(AB_ZERO_POINT)


@dataclass(frozen=True)
class Property:
    """
    One physical property that picasso maps.

    Parameters
    ----------
    name : str
        Identifier used throughout picasso (``"stellar_mass"``).
    unit : `~astropy.units.Unit`
        Unit of the map: a surface density per unit area for extensive
        properties, a mean for intensive ones (stellar age).
    long_name : str
        Human-readable name for labels.
    illustris_field : str
        The Illustris / IllustrisTNG particle field the map is built from.
    authors_channel : str
        The channel name in the PICASSO authors' training data.
    weighted_by : str or None
        For an intensive property, the extensive property that weights its
        mean (stellar age is mass weighted); `None` for surface densities.
    physical_maximum : float or None
        The highest value, in ``unit``, that any galaxy is known to reach;
        predictions above it are flagged (`None`: no such bound is used).
    """

    name: str
    unit: u.UnitBase
    long_name: str
    illustris_field: str
    authors_channel: str
    weighted_by: str | None = None
    physical_maximum: float | None = None

    @property
    def is_extensive(self):
        """bool: `True` if the map is a surface density that sums over area."""
        return self.weighted_by is None

    @property
    def total_unit(self):
        """`~astropy.units.Unit`: unit of the map summed over an area
        (or of the weighted mean for intensive properties)."""
        if self.is_extensive:
            return self.unit * u.kpc**2
        return self.unit

    def combine(self, values, weights, weighted_by=None):
        """
        The pixel-weighted sum of a map of this property, or its weighted mean.

        Parameters
        ----------
        values : ndarray
            The map, in this property's unit (plain numbers).
        weights : ndarray
            Weight of every pixel (0 leaves it out), e.g. an aperture's overlap.
        weighted_by : ndarray, optional
            For an intensive property, the map it is averaged over (e.g. the
            stellar mass surface density of the stellar age), 0 where empty.

        Returns
        -------
        total : float
            ``sum(weights * values)`` (times the pixel area, this is the total
            in `total_unit`), or the mean weighted by ``weights * weighted_by``
            (NaN where those weights are all zero).
        """
        if self.is_extensive:
            return float(np.sum(weights * values))
        weights = weights * weighted_by
        total = weights.sum()
        return float(np.sum(values * weights) / total) if total > 0 else np.nan


@dataclass(frozen=True)
class Band:
    """
    One photometric band.

    Parameters
    ----------
    name : str
        Band name (``"r"``).
    effective_wavelength : `~astropy.units.Quantity`
        Effective wavelength of the filter.
    ab_zero_point : `~astropy.units.Quantity`
        Flux density of magnitude zero.
    ab_offset : float
        Magnitude to add to the survey magnitude to get an AB magnitude
        (SDSS u and z are slightly off the AB system).
    softening : float
        Asinh softening parameter ``b`` of the survey's luptitudes.
    solar_absolute_magnitude : float
        Absolute AB magnitude of the Sun in the band, for luminosities in
        solar units.
    """

    name: str
    effective_wavelength: u.Quantity
    ab_zero_point: u.Quantity = AB_ZERO_POINT
    ab_offset: float = 0.0
    softening: float = 0.0
    solar_absolute_magnitude: float = float("nan")


class Registry(Mapping):
    """
    An ordered, read-only collection of `Property` or `Band` entries.

    Iterating gives the names in their canonical order; indexing by name gives
    the entry, and an unknown name raises a `KeyError` that lists the known
    ones.

    Parameters
    ----------
    entries : iterable
        Objects with a ``name`` attribute, in canonical order.
    kind : str
        What the entries are, for error messages (``"property"``).
    """

    def __init__(self, entries, kind):
        self._entries = {entry.name: entry for entry in entries}
        self._kind = kind

    def __getitem__(self, name):
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise KeyError(
                f"unknown {self._kind} {name!r}; known {self._kind} names are "
                f"{', '.join(self._entries)}"
            ) from None

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)

    def __repr__(self):
        return f"<Registry of {len(self)} {self._kind} entries: {', '.join(self)}>"

    @property
    def names(self):
        """tuple of str: the names in canonical order."""
        return tuple(self._entries)

    def validate(self, names=None, *, allow_duplicates=False):
        """
        Check a selection of names and return it as a tuple.

        Parameters
        ----------
        names : str, iterable of str or None
            Names to check. `None` selects every entry in canonical order; a
            string of one-letter names (``"gri"``) is split into them.
        allow_duplicates : bool
            Accept a name given twice.

        Returns
        -------
        names : tuple of str

        Raises
        ------
        ValueError
            If a name is unknown, repeated or the selection is empty.
        """
        if names is None:
            return self.names
        if isinstance(names, str):
            # "ugriz" is a common way to write a set of one-letter band names.
            spelled_out = names not in self._entries and all(ch in self._entries for ch in names)
            names = tuple(names) if spelled_out else (names,)
        if not isinstance(names, Iterable):
            raise TypeError(f"{self._kind} names must be strings, got {names!r}")
        names = tuple(names)
        if not names:
            raise ValueError(f"at least one {self._kind} is needed")
        unknown = [name for name in names if name not in self._entries]
        if unknown:
            raise ValueError(
                f"unknown {self._kind} name(s) {', '.join(map(repr, unknown))}; "
                f"known names are {', '.join(self._entries)}"
            )
        if not allow_duplicates and len(set(names)) != len(names):
            repeated = sorted({name for name in names if names.count(name) > 1})
            raise ValueError(f"{self._kind} name(s) given more than once: {', '.join(repeated)}")
        return names

    def index(self, name):
        """int: position of ``name`` in canonical order."""
        return self.names.index(self[name].name)


PROPERTIES = Registry(
    [
        Property(
            "stellar_mass",
            SURFACE_DENSITY_UNIT,
            "stellar mass surface density",
            "PartType4/Masses",
            "stars_Masses",
            # the densest stellar systems of every kind: Hopkins et al. 2010, MNRAS 401, L19
            physical_maximum=1e11,
        ),
        Property(
            "stellar_metal_mass",
            SURFACE_DENSITY_UNIT,
            "stellar metal mass surface density",
            "PartType4/GFM_Metallicity",
            "stars_GFM_Metallicity",
        ),
        Property(
            "stellar_age",
            AGE_UNIT,
            "mass-weighted mean stellar age",
            "PartType4/GFM_StellarFormationTime",
            "stars_GFM_StellarFormationTime",
            weighted_by="stellar_mass",
        ),
        Property(
            "sfr",
            SFR_SURFACE_DENSITY_UNIT,
            "star formation rate surface density",
            "PartType0/StarFormationRate",
            "gas_StarFormationRate",
            # Eddington-limited starbursts: Crocker et al. 2018, MNRAS 478, 81
            physical_maximum=1e3,
        ),
        Property(
            "gas_mass",
            SURFACE_DENSITY_UNIT,
            "gas mass surface density",
            "PartType0/Masses",
            "gas_Masses",
        ),
        Property(
            "gas_metal_mass",
            SURFACE_DENSITY_UNIT,
            "gas metal mass surface density",
            "PartType0/GFM_Metallicity",
            "gas_GFM_Metallicity",
        ),
        Property(
            "hi_mass",
            SURFACE_DENSITY_UNIT,
            "neutral hydrogen (HI) mass surface density",
            "PartType0/NeutralHydrogenAbundance",
            "gas_NeutralHydrogenAbundance",
        ),
    ],
    kind="property",
)

# Effective wavelengths of the SDSS filters (Fukugita et al. 1996), softening
# parameters of SDSS asinh magnitudes, the offsets of u and z from AB (SDSS DR7
# photometric calibration notes) and the absolute AB magnitudes of the Sun
# (Willmer 2018, ApJS 236, 47, Table 3).
SDSS_BANDS = Registry(
    [
        Band("u", 3551.0 * u.AA, ab_offset=-0.04, softening=1.4e-10, solar_absolute_magnitude=6.39),
        Band("g", 4686.0 * u.AA, softening=0.9e-10, solar_absolute_magnitude=5.11),
        Band("r", 6166.0 * u.AA, softening=1.2e-10, solar_absolute_magnitude=4.65),
        Band("i", 7480.0 * u.AA, softening=1.8e-10, solar_absolute_magnitude=4.53),
        Band("z", 8932.0 * u.AA, ab_offset=0.02, softening=7.4e-10, solar_absolute_magnitude=4.50),
    ],
    kind="band",
)

#: The bands picasso knows, in wavelength order.
BANDS = SDSS_BANDS

#: Absolute AB magnitudes of the Sun per band (from `BANDS`), for luminosities in solar units.
SOLAR_ABSOLUTE_MAGNITUDES = {name: band.solar_absolute_magnitude for name, band in BANDS.items()}
