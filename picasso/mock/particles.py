"""
Particle containers: star particles and gas cells of one galaxy.

A galaxy from the synthetic universe or from a hydrodynamical simulation is a
`Particles` object: a `StarParticles` set and a `GasCells` set in a common
Cartesian frame centred on the galaxy, in kpc. The observing code projects
these along the frame's z axis, so the image plane is x-y and the observer
sits at +z; `Particles.viewed_from` rotates a galaxy so that a chosen
direction points at the observer.

Quantities with units go in and come out of the public API. Internally every
field is a plain numpy array in a fixed unit (kpc, Msun, Gyr, Msun/yr) so that
the renderer can work on arrays without unit overhead; the ``*_value``
attributes give those arrays directly (they are views, not copies: treat them
as read-only).

Hydrogen convention
-------------------
``neutral_fraction`` is the fraction of the cell's *hydrogen* that is neutral
(atomic plus molecular), exactly IllustrisTNG's ``NeutralHydrogenAbundance``.
``molecular_fraction`` is the fraction of that neutral hydrogen which is
molecular, H2 / (HI + H2). The HI mass of a cell is therefore::

    hi_mass = mass * X_H * neutral_fraction * (1 - molecular_fraction)

with the primordial hydrogen mass fraction ``X_H = 0.76``
(`HYDROGEN_MASS_FRACTION`, as used by Illustris and TNG for this field). When
``molecular_fraction`` is not given it is taken as zero, i.e. all neutral
hydrogen counts as HI (the PICASSO authors' ``gas_NeutralHydrogenAbundance``
channel makes no H2 correction either).
"""

import logging

import astropy.units as u
import numpy as np
from scipy.spatial.transform import Rotation

__all__ = [
    "HYDROGEN_MASS_FRACTION",
    "StarParticles",
    "GasCells",
    "Particles",
]

log = logging.getLogger(__name__)

#: Primordial hydrogen mass fraction used to turn gas mass into hydrogen mass.
HYDROGEN_MASS_FRACTION = 0.76

_LENGTH = u.kpc
_MASS = u.Msun
_AGE = u.Gyr
_SFR = u.Msun / u.yr


def _as_unit_array(value, unit, name, kind):
    """Return ``value`` (a Quantity) as a float ndarray in ``unit``."""
    if not isinstance(value, u.Quantity):
        raise TypeError(
            f"{kind} {name} must be an astropy Quantity in units convertible to "
            f"{unit} (e.g. {name}=array * u.{unit.to_string()}); got "
            f"{type(value).__name__}. Use {kind}.from_arrays for plain arrays "
            f"already in {unit}."
        )
    try:
        array = value.to_value(unit)
    except u.UnitConversionError:
        raise u.UnitConversionError(
            f"{kind} {name} has unit {value.unit}, which cannot be converted to {unit}"
        ) from None
    return _as_float_array(array)


def _as_dimensionless_array(value, name, kind):
    """Return a dimensionless Quantity or plain array as a float ndarray."""
    if isinstance(value, u.Quantity):
        try:
            value = value.to_value(u.dimensionless_unscaled)
        except u.UnitConversionError:
            raise u.UnitConversionError(
                f"{kind} {name} must be dimensionless (a fraction), got unit {value.unit}"
            ) from None
    return _as_float_array(value)


def _as_float_array(array):
    array = np.asarray(array)
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    return array


def _check_vector_field(array, name, kind):
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"{kind} {name} must have shape (n, 3), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{kind} {name} contains NaN or infinite values")


def _check_scalar_field(array, name, kind, n, minimum=None, maximum=None, positive=False):
    if array.shape != (n,):
        raise ValueError(
            f"{kind} {name} must have shape ({n},) to match the {n} positions, got "
            f"shape {array.shape}"
        )
    if n == 0:
        return
    if not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{kind} {name} contains {bad} NaN or infinite value(s)")
    if positive and array.min() <= 0:
        raise ValueError(f"{kind} {name} must be positive; minimum is {array.min()}")
    if minimum is not None and array.min() < minimum:
        raise ValueError(
            f"{kind} {name} must be >= {minimum}; {int(np.count_nonzero(array < minimum))} "
            f"value(s) are below, minimum {array.min()}"
        )
    if maximum is not None and array.max() > maximum:
        raise ValueError(
            f"{kind} {name} must be <= {maximum}; {int(np.count_nonzero(array > maximum))} "
            f"value(s) are above, maximum {array.max()}"
        )


def _as_rotation(rotation):
    """Accept a scipy Rotation or a 3x3 rotation matrix."""
    if isinstance(rotation, Rotation):
        if not rotation.single:
            raise ValueError("rotation must be a single rotation, not a stack of rotations")
        return rotation
    matrix = np.asarray(rotation, dtype=float)
    if matrix.shape != (3, 3):
        raise ValueError(
            f"rotation must be a scipy Rotation or a (3, 3) matrix, got shape {matrix.shape}"
        )
    if not np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-6) or np.linalg.det(matrix) < 0:
        raise ValueError(
            "rotation matrix must be orthogonal with determinant +1 (a proper rotation)"
        )
    return Rotation.from_matrix(matrix)


def _weighted_half_radius(radius, weight):
    """Radius that encloses half of the total weight."""
    if radius.size == 0 or weight.sum() <= 0:
        return np.nan
    order = np.argsort(radius)
    cumulative = np.cumsum(weight[order])
    index = np.searchsorted(cumulative, 0.5 * cumulative[-1])
    return float(radius[order][min(index, radius.size - 1)])


class _ParticleSet:
    """Behaviour shared by star particles and gas cells."""

    _kind = "particles"
    _fields = ()  # (attribute, unit or None for dimensionless)

    def __len__(self):
        return self._position.shape[0]

    def __repr__(self):
        return f"<{type(self).__name__}: {len(self)} {self._kind}>"

    @property
    def n(self):
        """int: number of particles."""
        return len(self)

    @property
    def position(self):
        """`~astropy.units.Quantity`: positions (n, 3) in kpc."""
        return self._position << _LENGTH

    @property
    def position_value(self):
        """ndarray: positions (n, 3) in kpc, without units."""
        return self._position

    def _arrays(self):
        return {name: getattr(self, "_" + name) for name, _ in self._fields}

    def _replace(self, **arrays):
        """New set sharing every array except those given (no validation)."""
        values = self._arrays()
        values.update(arrays)
        return type(self).from_arrays(**values, validate=False)

    def __getitem__(self, index):
        """Select particles with a boolean mask, an index array or a slice."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        return type(self).from_arrays(
            **{name: array[index] for name, array in self._arrays().items()}, validate=False
        )

    def rotated(self, rotation):
        """
        Rotate positions about the origin.

        Parameters
        ----------
        rotation : `scipy.spatial.transform.Rotation` or array-like (3, 3)
            The rotation; a matrix ``R`` maps position ``x`` to ``R @ x``.

        Returns
        -------
        rotated : same type
            A new set; fields other than position are shared, not copied.
        """
        rotation = _as_rotation(rotation)
        return self._replace(
            position=rotation.apply(self._position) if len(self) else self._position
        )

    def translated(self, offset):
        """
        Shift positions by ``offset``.

        Parameters
        ----------
        offset : `~astropy.units.Quantity` (3,)
            Length vector added to every position.

        Returns
        -------
        translated : same type
        """
        offset = _as_unit_array(offset, _LENGTH, "offset", type(self).__name__)
        if offset.shape != (3,):
            raise ValueError(f"offset must have shape (3,), got {offset.shape}")
        return self._replace(position=self._position + offset)

    @classmethod
    def concatenate(cls, sets):
        """
        Join several sets into one (e.g. a galaxy and its companion).

        Parameters
        ----------
        sets : sequence of the same type

        Returns
        -------
        joined : same type
        """
        sets = list(sets)
        if not sets:
            raise ValueError(f"need at least one {cls.__name__} to concatenate")
        for item in sets:
            if not isinstance(item, cls):
                raise TypeError(f"can only concatenate {cls.__name__}, got {type(item).__name__}")
        names = [name for name, _ in cls._fields]
        return cls.from_arrays(
            **{name: np.concatenate([getattr(s, "_" + name) for s in sets]) for name in names},
            validate=False,
        )


class StarParticles(_ParticleSet):
    """
    Star particles: simple stellar populations with a position, mass, age and metallicity.

    Parameters
    ----------
    position : `~astropy.units.Quantity` (n, 3)
        Positions (length), relative to the galaxy centre.
    mass : `~astropy.units.Quantity` (n,)
        Current stellar mass (after stellar mass loss), the mass the truth
        maps hold.
    initial_mass : `~astropy.units.Quantity` (n,)
        Mass at birth; stellar light per unit mass in
        `picasso.mock.populations` is normalised to it.
    age : `~astropy.units.Quantity` (n,)
        Time since birth (>= 0).
    metallicity : array-like or dimensionless `~astropy.units.Quantity` (n,)
        Metal mass fraction Z (solar is about 0.02 in BC03's convention,
        0.0127 in Illustris'), in [0, 1].

    Raises
    ------
    TypeError
        If a dimensional field is not a Quantity.
    ValueError
        If shapes disagree, a value is NaN or infinite, a mass or age is
        negative, or a metallicity is outside [0, 1].
    """

    _kind = "star particles"
    _fields = (
        ("position", _LENGTH),
        ("mass", _MASS),
        ("initial_mass", _MASS),
        ("age", _AGE),
        ("metallicity", None),
    )

    def __init__(self, position, mass, initial_mass, age, metallicity):
        kind = type(self).__name__
        self._set(
            _as_unit_array(position, _LENGTH, "position", kind),
            _as_unit_array(mass, _MASS, "mass", kind),
            _as_unit_array(initial_mass, _MASS, "initial_mass", kind),
            _as_unit_array(age, _AGE, "age", kind),
            _as_dimensionless_array(metallicity, "metallicity", kind),
            validate=True,
        )

    @classmethod
    def from_arrays(cls, position, mass, initial_mass, age, metallicity, *, validate=True):
        """
        Build from plain arrays already in picasso's internal units.

        This is the fast path for generators that work in fixed units.

        Parameters
        ----------
        position : ndarray (n, 3)
            Positions in kpc.
        mass, initial_mass : ndarray (n,)
            Current and initial masses in Msun.
        age : ndarray (n,)
            Ages in Gyr.
        metallicity : ndarray (n,)
            Metal mass fraction Z.
        validate : bool
            Check shapes and ranges (as the constructor does). Turn off only for
            arrays that are valid by construction.

        Returns
        -------
        stars : `StarParticles`
        """
        self = cls.__new__(cls)
        self._set(
            _as_float_array(position),
            _as_float_array(mass),
            _as_float_array(initial_mass),
            _as_float_array(age),
            _as_float_array(metallicity),
            validate=validate,
        )
        return self

    @classmethod
    def empty(cls):
        """`StarParticles` with no particles."""
        return cls.from_arrays(np.zeros((0, 3)), *(np.zeros(0) for _ in range(4)))

    def _set(self, position, mass, initial_mass, age, metallicity, *, validate):
        if validate:
            kind = type(self).__name__
            _check_vector_field(position, "position", kind)
            n = position.shape[0]
            _check_scalar_field(mass, "mass", kind, n, minimum=0.0)
            _check_scalar_field(initial_mass, "initial_mass", kind, n, minimum=0.0)
            _check_scalar_field(age, "age", kind, n, minimum=0.0)
            _check_scalar_field(metallicity, "metallicity", kind, n, minimum=0.0, maximum=1.0)
        self._position = position
        self._mass = mass
        self._initial_mass = initial_mass
        self._age = age
        self._metallicity = metallicity

    @property
    def mass(self):
        """`~astropy.units.Quantity`: current masses (Msun)."""
        return self._mass << _MASS

    @property
    def initial_mass(self):
        """`~astropy.units.Quantity`: masses at birth (Msun)."""
        return self._initial_mass << _MASS

    @property
    def age(self):
        """`~astropy.units.Quantity`: ages (Gyr)."""
        return self._age << _AGE

    @property
    def metallicity(self):
        """ndarray: metal mass fractions Z."""
        return self._metallicity

    @property
    def metal_mass(self):
        """`~astropy.units.Quantity`: metal masses, mass x Z (Msun)."""
        return (self._mass * self._metallicity) << _MASS

    mass_value = property(lambda self: self._mass, doc="ndarray: current masses in Msun.")
    initial_mass_value = property(
        lambda self: self._initial_mass, doc="ndarray: initial masses in Msun."
    )
    age_value = property(lambda self: self._age, doc="ndarray: ages in Gyr.")


class GasCells(_ParticleSet):
    """
    Gas cells (or SPH particles) with mass, metallicity, star formation and neutral hydrogen.

    Parameters
    ----------
    position : `~astropy.units.Quantity` (n, 3)
        Positions (length), relative to the galaxy centre.
    mass : `~astropy.units.Quantity` (n,)
        Gas mass.
    metallicity : array-like or dimensionless `~astropy.units.Quantity` (n,)
        Metal mass fraction Z in [0, 1].
    sfr : `~astropy.units.Quantity` (n,)
        Instantaneous star formation rate (mass per time, >= 0).
    neutral_fraction : array-like or dimensionless `~astropy.units.Quantity` (n,)
        Fraction of the cell's hydrogen that is neutral, HI + H2 (IllustrisTNG
        ``NeutralHydrogenAbundance``), in [0, 1].
    smoothing_length : `~astropy.units.Quantity` (n,)
        Size of the cell (length, > 0); the renderer spreads the cell over it.
    molecular_fraction : array-like, dimensionless Quantity or None
        Fraction of the neutral hydrogen that is molecular, H2 / (HI + H2),
        in [0, 1]. `None` means zero (all neutral hydrogen is atomic).

    Notes
    -----
    HI mass = mass x `HYDROGEN_MASS_FRACTION` x neutral_fraction x
    (1 - molecular_fraction); see the module docstring.

    Raises
    ------
    TypeError
        If a dimensional field is not a Quantity.
    ValueError
        If shapes disagree, a value is NaN or infinite, a mass or SFR is
        negative, a fraction is outside [0, 1] or a smoothing length is not
        positive.
    """

    _kind = "gas cells"
    _fields = (
        ("position", _LENGTH),
        ("mass", _MASS),
        ("metallicity", None),
        ("sfr", _SFR),
        ("neutral_fraction", None),
        ("smoothing_length", _LENGTH),
        ("molecular_fraction", None),
    )

    def __init__(
        self,
        position,
        mass,
        metallicity,
        sfr,
        neutral_fraction,
        smoothing_length,
        molecular_fraction=None,
    ):
        kind = type(self).__name__
        position = _as_unit_array(position, _LENGTH, "position", kind)
        if molecular_fraction is not None:
            molecular_fraction = _as_dimensionless_array(
                molecular_fraction, "molecular_fraction", kind
            )
        self._set(
            position,
            _as_unit_array(mass, _MASS, "mass", kind),
            _as_dimensionless_array(metallicity, "metallicity", kind),
            _as_unit_array(sfr, _SFR, "sfr", kind),
            _as_dimensionless_array(neutral_fraction, "neutral_fraction", kind),
            _as_unit_array(smoothing_length, _LENGTH, "smoothing_length", kind),
            molecular_fraction,
            validate=True,
        )

    @classmethod
    def from_arrays(
        cls,
        position,
        mass,
        metallicity,
        sfr,
        neutral_fraction,
        smoothing_length,
        molecular_fraction=None,
        *,
        validate=True,
    ):
        """
        Build from plain arrays already in picasso's internal units.

        Parameters
        ----------
        position : ndarray (n, 3)
            Positions in kpc.
        mass : ndarray (n,)
            Gas masses in Msun.
        metallicity : ndarray (n,)
            Metal mass fraction Z.
        sfr : ndarray (n,)
            Star formation rates in Msun/yr.
        neutral_fraction : ndarray (n,)
            Neutral fraction of hydrogen.
        smoothing_length : ndarray (n,)
            Cell sizes in kpc.
        molecular_fraction : ndarray (n,) or None
            Molecular fraction of the neutral hydrogen (`None`: zero).
        validate : bool
            Check shapes and ranges as the constructor does.

        Returns
        -------
        gas : `GasCells`
        """
        self = cls.__new__(cls)
        self._set(
            _as_float_array(position),
            _as_float_array(mass),
            _as_float_array(metallicity),
            _as_float_array(sfr),
            _as_float_array(neutral_fraction),
            _as_float_array(smoothing_length),
            None if molecular_fraction is None else _as_float_array(molecular_fraction),
            validate=validate,
        )
        return self

    @classmethod
    def empty(cls):
        """`GasCells` with no cells."""
        zeros = np.zeros(0)
        return cls.from_arrays(np.zeros((0, 3)), zeros, zeros, zeros, zeros, zeros)

    def _set(
        self,
        position,
        mass,
        metallicity,
        sfr,
        neutral_fraction,
        smoothing_length,
        molecular_fraction,
        *,
        validate,
    ):
        if molecular_fraction is None:
            molecular_fraction = np.zeros(position.shape[0] if position.ndim else 0)
        if validate:
            kind = type(self).__name__
            _check_vector_field(position, "position", kind)
            n = position.shape[0]
            _check_scalar_field(mass, "mass", kind, n, minimum=0.0)
            _check_scalar_field(metallicity, "metallicity", kind, n, minimum=0.0, maximum=1.0)
            _check_scalar_field(sfr, "sfr", kind, n, minimum=0.0)
            _check_scalar_field(
                neutral_fraction, "neutral_fraction", kind, n, minimum=0.0, maximum=1.0
            )
            _check_scalar_field(smoothing_length, "smoothing_length", kind, n, positive=True)
            _check_scalar_field(
                molecular_fraction, "molecular_fraction", kind, n, minimum=0.0, maximum=1.0
            )
        self._position = position
        self._mass = mass
        self._metallicity = metallicity
        self._sfr = sfr
        self._neutral_fraction = neutral_fraction
        self._smoothing_length = smoothing_length
        self._molecular_fraction = molecular_fraction

    @property
    def mass(self):
        """`~astropy.units.Quantity`: gas masses (Msun)."""
        return self._mass << _MASS

    @property
    def metallicity(self):
        """ndarray: metal mass fractions Z."""
        return self._metallicity

    @property
    def metal_mass(self):
        """`~astropy.units.Quantity`: metal masses, mass x Z (Msun)."""
        return (self._mass * self._metallicity) << _MASS

    @property
    def sfr(self):
        """`~astropy.units.Quantity`: star formation rates (Msun/yr)."""
        return self._sfr << _SFR

    @property
    def neutral_fraction(self):
        """ndarray: neutral (HI + H2) fraction of the hydrogen."""
        return self._neutral_fraction

    @property
    def molecular_fraction(self):
        """ndarray: H2 / (HI + H2) of the neutral hydrogen (zeros if never given)."""
        return self._molecular_fraction

    @property
    def smoothing_length(self):
        """`~astropy.units.Quantity`: cell sizes (kpc)."""
        return self._smoothing_length << _LENGTH

    @property
    def hi_mass(self):
        """`~astropy.units.Quantity`: atomic hydrogen masses (Msun), see the module docstring."""
        return self.hi_mass_value << _MASS

    @property
    def hi_mass_value(self):
        """ndarray: atomic hydrogen masses in Msun."""
        return (
            self._mass
            * HYDROGEN_MASS_FRACTION
            * self._neutral_fraction
            * (1.0 - self._molecular_fraction)
        )

    @property
    def h2_mass(self):
        """`~astropy.units.Quantity`: molecular hydrogen masses (Msun)."""
        return (
            self._mass * HYDROGEN_MASS_FRACTION * self._neutral_fraction * self._molecular_fraction
        ) << _MASS

    mass_value = property(lambda self: self._mass, doc="ndarray: gas masses in Msun.")
    sfr_value = property(lambda self: self._sfr, doc="ndarray: SFRs in Msun/yr.")
    smoothing_length_value = property(
        lambda self: self._smoothing_length, doc="ndarray: cell sizes in kpc."
    )

    def with_molecular_fraction(self, molecular_fraction):
        """
        Return a copy with a new molecular fraction (e.g. from a pressure law).

        Parameters
        ----------
        molecular_fraction : array-like (n,)
            H2 / (HI + H2) per cell, in [0, 1].

        Returns
        -------
        gas : `GasCells`
        """
        fraction = _as_dimensionless_array(molecular_fraction, "molecular_fraction", "GasCells")
        _check_scalar_field(
            fraction, "molecular_fraction", "GasCells", len(self), minimum=0.0, maximum=1.0
        )
        return self._replace(molecular_fraction=fraction)


class Particles:
    """
    One galaxy as particles: star particles and gas cells in a common frame.

    The frame is centred on the galaxy; the observing code projects along z
    (image plane x-y, observer at +z).

    Parameters
    ----------
    stars : `StarParticles` or None
        Star particles (`None`: none).
    gas : `GasCells` or None
        Gas cells (`None`: none).
    meta : dict or None
        Free-form metadata (galaxy id, source, geometry ...), carried through
        rotations and selections.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from picasso.mock.particles import StarParticles, Particles
    >>> stars = StarParticles(np.zeros((2, 3)) * u.kpc, [1e6, 2e6] * u.Msun,
    ...                       [2e6, 3e6] * u.Msun, [1.0, 5.0] * u.Gyr, [0.02, 0.01])
    >>> galaxy = Particles(stars)
    >>> galaxy.total_stellar_mass
    <Quantity 3000000. solMass>
    """

    def __init__(self, stars=None, gas=None, meta=None):
        if stars is None:
            stars = StarParticles.empty()
        if gas is None:
            gas = GasCells.empty()
        if not isinstance(stars, StarParticles):
            raise TypeError(f"stars must be StarParticles or None, got {type(stars).__name__}")
        if not isinstance(gas, GasCells):
            raise TypeError(f"gas must be GasCells or None, got {type(gas).__name__}")
        self.stars = stars
        self.gas = gas
        self.meta = dict(meta) if meta is not None else {}

    def __repr__(self):
        return f"<Particles: {len(self.stars)} star particles, {len(self.gas)} gas cells>"

    # -- transformations -------------------------------------------------
    def rotated(self, rotation):
        """
        Rotate stars and gas about the origin.

        Parameters
        ----------
        rotation : `scipy.spatial.transform.Rotation` or array-like (3, 3)

        Returns
        -------
        rotated : `Particles`
        """
        rotation = _as_rotation(rotation)
        return Particles(self.stars.rotated(rotation), self.gas.rotated(rotation), self.meta)

    @staticmethod
    def view_rotation(direction, up=None):
        """
        The rotation that brings ``direction`` onto +z (towards the observer).

        Parameters
        ----------
        direction : array-like (3,)
            Direction from the galaxy to the observer, in the current frame.
        up : array-like (3,) or None
            A direction that should point along +y in the image (projected
            onto the image plane). `None` takes the smallest rotation.

        Returns
        -------
        rotation : `scipy.spatial.transform.Rotation`
        """
        direction = np.asarray(direction, dtype=float)
        if direction.shape != (3,) or not np.all(np.isfinite(direction)):
            raise ValueError(f"direction must be a finite 3-vector, got {direction!r}")
        norm = np.linalg.norm(direction)
        if norm == 0:
            raise ValueError("direction must not be the zero vector")
        direction = direction / norm
        z_axis = np.array([0.0, 0.0, 1.0])
        if up is None:
            # Smallest rotation; the antiparallel case has no unique axis, so use x.
            if np.dot(direction, z_axis) < -1.0 + 1e-12:
                return Rotation.from_rotvec(np.pi * np.array([1.0, 0.0, 0.0]))
            rotation, _ = Rotation.align_vectors(z_axis[None, :], direction[None, :])
            return rotation
        up = np.asarray(up, dtype=float)
        if up.shape != (3,) or np.linalg.norm(np.cross(up, direction)) < 1e-12:
            raise ValueError("up must be a 3-vector not parallel to direction")
        rotation, _ = Rotation.align_vectors(
            np.array([z_axis, [0.0, 1.0, 0.0]]),
            np.array([direction, up]),
            weights=[np.inf, 1.0],
        )
        return rotation

    def viewed_from(self, direction, up=None):
        """
        Rotate the galaxy so that it is seen from ``direction``.

        Parameters
        ----------
        direction : array-like (3,)
            Direction from the galaxy to the observer, in the current frame
            (e.g. the disc's angular momentum axis for a face-on view).
        up : array-like (3,) or None
            Direction that should point up (+y) in the image.

        Returns
        -------
        viewed : `Particles`
            Rotated copy; its ``meta['view_direction']`` records ``direction``.
        """
        rotated = self.rotated(self.view_rotation(direction, up))
        rotated.meta = dict(self.meta, view_direction=list(np.asarray(direction, dtype=float)))
        return rotated

    def translated(self, offset):
        """
        Shift stars and gas by ``offset``.

        Parameters
        ----------
        offset : `~astropy.units.Quantity` (3,)

        Returns
        -------
        translated : `Particles`
        """
        return Particles(self.stars.translated(offset), self.gas.translated(offset), self.meta)

    def centered(self, centre=None):
        """
        Move the origin to ``centre`` (default: the stellar centre of mass).

        Parameters
        ----------
        centre : `~astropy.units.Quantity` (3,) or None
            New origin; `None` uses `stellar_centre_of_mass`.

        Returns
        -------
        centred : `Particles`
        """
        if centre is None:
            centre = self.stellar_centre_of_mass()
        return self.translated(-centre)

    @classmethod
    def concatenate(cls, galaxies, meta=None):
        """
        Join several particle sets (e.g. a galaxy and a companion) into one.

        Parameters
        ----------
        galaxies : sequence of `Particles`
        meta : dict or None
            Metadata of the result (default: the first galaxy's).

        Returns
        -------
        joined : `Particles`
        """
        galaxies = list(galaxies)
        if not galaxies:
            raise ValueError("need at least one Particles to concatenate")
        return cls(
            StarParticles.concatenate([g.stars for g in galaxies]),
            GasCells.concatenate([g.gas for g in galaxies]),
            galaxies[0].meta if meta is None else meta,
        )

    # -- summaries -------------------------------------------------------
    @property
    def total_stellar_mass(self):
        """`~astropy.units.Quantity`: current stellar mass (Msun)."""
        return self.stars._mass.sum() << _MASS

    @property
    def total_initial_stellar_mass(self):
        """`~astropy.units.Quantity`: stellar mass at birth (Msun)."""
        return self.stars._initial_mass.sum() << _MASS

    @property
    def total_stellar_metal_mass(self):
        """`~astropy.units.Quantity`: metal mass in stars (Msun)."""
        return (self.stars._mass * self.stars._metallicity).sum() << _MASS

    @property
    def mass_weighted_age(self):
        """`~astropy.units.Quantity`: current-mass-weighted mean stellar age (Gyr, NaN if none)."""
        total = self.stars._mass.sum()
        if total <= 0:
            return np.nan << _AGE
        return (self.stars._mass * self.stars._age).sum() / total << _AGE

    @property
    def total_gas_mass(self):
        """`~astropy.units.Quantity`: gas mass (Msun)."""
        return self.gas._mass.sum() << _MASS

    @property
    def total_gas_metal_mass(self):
        """`~astropy.units.Quantity`: metal mass in gas (Msun)."""
        return (self.gas._mass * self.gas._metallicity).sum() << _MASS

    @property
    def total_sfr(self):
        """`~astropy.units.Quantity`: star formation rate (Msun/yr)."""
        return self.gas._sfr.sum() << _SFR

    @property
    def total_hi_mass(self):
        """`~astropy.units.Quantity`: atomic hydrogen mass (Msun)."""
        return self.gas.hi_mass_value.sum() << _MASS

    def stellar_centre_of_mass(self):
        """
        Current-mass-weighted mean position of the stars.

        Returns
        -------
        centre : `~astropy.units.Quantity` (3,)

        Raises
        ------
        ValueError
            If there are no stars with mass.
        """
        total = self.stars._mass.sum()
        if len(self.stars) == 0 or total <= 0:
            raise ValueError("cannot compute a stellar centre of mass: no stars with mass")
        return (self.stars._mass @ self.stars._position) / total << _LENGTH

    def stellar_half_mass_radius(self, projected=True):
        """
        Radius around the origin that encloses half the current stellar mass.

        Parameters
        ----------
        projected : bool
            Use the radius in the image (x-y) plane (`True`, the paper's
            convention for the field of view) or in 3D.

        Returns
        -------
        radius : `~astropy.units.Quantity`
            NaN kpc without stars.
        """
        position = self.stars._position
        if projected:
            radius = np.hypot(position[:, 0], position[:, 1])
        else:
            radius = np.linalg.norm(position, axis=1)
        return _weighted_half_radius(radius, self.stars._mass) << _LENGTH
