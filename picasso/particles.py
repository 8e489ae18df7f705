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
    "weighted_half_radius",
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


def weighted_half_radius(radius, weight):
    """
    The radius that encloses half of the total weight.

    Parameters
    ----------
    radius, weight : `numpy.ndarray`
        Radius and weight (e.g. mass) of every particle.

    Returns
    -------
    radius : float
        NaN without weight.
    """
    if radius.size == 0 or weight.sum() <= 0:
        return np.nan
    order = np.argsort(radius)
    cumulative = np.cumsum(weight[order])
    index = np.searchsorted(cumulative, 0.5 * cumulative[-1])
    return float(radius[order][min(index, radius.size - 1)])


class _Field:
    """
    One per-particle field of a particle set, as a descriptor.

    ``particles.<name>`` gives the field with its unit (a `~astropy.units.Quantity`,
    or a plain array for a dimensionless fraction) and ``particles.<name>_value``
    the array in picasso's internal unit; both share the stored array.

    Parameters
    ----------
    unit : `~astropy.units.Unit` or None
        Internal unit; `None` for a dimensionless fraction.
    doc : str
        What the field holds, for its docstring.
    minimum, maximum : float, optional
        Valid range (inclusive).
    positive : bool
        Values must be strictly positive.
    vector : bool
        The field is ``(n, 3)`` (positions); scalar fields are ``(n,)``.
    """

    def __init__(self, unit, doc, *, minimum=None, maximum=None, positive=False, vector=False):
        self.unit = unit
        self.doc = doc
        self.minimum = minimum
        self.maximum = maximum
        self.positive = positive
        self.vector = vector

    def __set_name__(self, owner, name):
        self.name = name
        kind = "`~astropy.units.Quantity`" if self.unit is not None else "ndarray"
        unit = f" ({self.unit})" if self.unit is not None else ""
        self.__doc__ = f"{kind}: {self.doc}{unit}."

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        array = instance._data[self.name]
        return array if self.unit is None else array << self.unit

    def convert(self, value, kind):
        """A user's value as a float array in the internal unit (checks the unit)."""
        if self.unit is None:
            return _as_dimensionless_array(value, self.name, kind)
        return _as_unit_array(value, self.unit, self.name, kind)

    def check(self, array, kind, n):
        """Raise a `ValueError` naming the field when ``array`` is not valid."""
        if self.vector:
            _check_vector_field(array, self.name, kind)
        else:
            _check_scalar_field(array, self.name, kind, n, minimum=self.minimum,
                                maximum=self.maximum, positive=self.positive)


class _Value:
    """The ``<name>_value`` companion of a `_Field`: the bare internal array."""

    def __init__(self, name):
        self.name = name
        self.__doc__ = f"ndarray: ``{name}`` in picasso's internal unit, without units (a view)."

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return instance._data[self.name]


def _with_values(cls):
    """Class decorator: a ``<name>_value`` attribute for every unit-carrying field."""
    for name in cls._field_names():
        if cls._field(name).unit is not None:
            setattr(cls, f"{name}_value", _Value(name))
    return cls


class _ParticleSet:
    """
    Behaviour shared by star particles and gas cells.

    Subclasses declare their fields as `_Field` class attributes, in
    constructor order; construction, validation, selection, rotation and
    joining work from that declaration alone.
    """

    _kind = "particles"
    #: Fields that may be omitted (`None`): name -> fill value.
    _optional = {}

    position = _Field(_LENGTH, "positions (n, 3) relative to the galaxy centre", vector=True)

    @classmethod
    def _field_names(cls):
        names = []
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, _Field) and name not in names:
                    names.append(name)
        return names

    @classmethod
    def _field(cls, name):
        return getattr(cls, name)

    def __init__(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        kind = type(self).__name__
        self._set({name: None if value is None else self._field(name).convert(value, kind)
                   for name, value in values.items()}, validate=True)

    @classmethod
    def _bind(cls, args, kwargs):
        names = cls._field_names()
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__} takes {len(names)} fields, got {len(args)}")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{cls.__name__} has no field {name!r}; its fields are "
                                f"{', '.join(names)}")
            if name in values:
                raise TypeError(f"{cls.__name__} got {name!r} twice")
            values[name] = value
        missing = [name for name in names if name not in values and name not in cls._optional]
        if missing:
            raise TypeError(f"{cls.__name__} needs {', '.join(missing)}")
        return {name: values.get(name) for name in names}

    @classmethod
    def from_arrays(cls, *args, validate=True, **kwargs):
        """
        Build from plain arrays already in picasso's internal units.

        This is the fast path for generators that work in fixed units (kpc,
        Msun, Gyr, Msun/yr); the arguments are the constructor's.

        Parameters
        ----------
        *args, **kwargs
            The fields, as plain arrays.
        validate : bool
            Check shapes and ranges (as the constructor does). Turn off only for
            arrays that are valid by construction.

        Returns
        -------
        particles : same type
        """
        self = cls.__new__(cls)
        values = cls._bind(args, kwargs)
        self._set({name: None if value is None else _as_float_array(value)
                   for name, value in values.items()}, validate=validate)
        return self

    @classmethod
    def empty(cls):
        """A set with no particles."""
        arrays = {name: np.zeros((0, 3)) if cls._field(name).vector else np.zeros(0)
                  for name in cls._field_names()}
        return cls.from_arrays(**arrays)

    def _set(self, values, *, validate):
        n = values["position"].shape[0] if values["position"].ndim else 0
        for name, fill in self._optional.items():
            if values.get(name) is None:
                values[name] = np.full(n, fill, dtype=np.float64)
        if validate:
            kind = type(self).__name__
            for name, array in values.items():
                self._field(name).check(array, kind, n)
        self._data = values

    def __len__(self):
        return self._data["position"].shape[0]

    def __repr__(self):
        return f"<{type(self).__name__}: {len(self)} {self._kind}>"

    @property
    def n(self):
        """int: number of particles."""
        return len(self)

    def _replace(self, **arrays):
        """New set sharing every array except those given (no validation)."""
        return type(self).from_arrays(**{**self._data, **arrays}, validate=False)

    def __getitem__(self, index):
        """Select particles with a boolean mask, an index array or a slice."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        return type(self).from_arrays(
            **{name: array[index] for name, array in self._data.items()}, validate=False
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
        position = self.position_value
        return self._replace(position=rotation.apply(position) if len(self) else position)

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
        return self._replace(position=self.position_value + offset)

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
        return cls.from_arrays(
            **{name: np.concatenate([item._data[name] for item in sets])
               for name in cls._field_names()},
            validate=False,
        )


@_with_values
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

    mass = _Field(_MASS, "current masses", minimum=0.0)
    initial_mass = _Field(_MASS, "masses at birth", minimum=0.0)
    age = _Field(_AGE, "ages", minimum=0.0)
    metallicity = _Field(None, "metal mass fractions Z", minimum=0.0, maximum=1.0)

    @property
    def metal_mass(self):
        """`~astropy.units.Quantity`: metal masses, mass x Z (Msun)."""
        return (self.mass_value * self.metallicity) << _MASS


@_with_values
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
    dust_to_metals : array-like, dimensionless Quantity or None
        Dust-to-metals ratio of the cell relative to the reference of the
        dust model (`picasso.mock.observe.attenuation`), >= 0: the cell's
        dust-to-gas ratio is this times its metallicity over the reference
        metallicity. `None` means one (dust everywhere in proportion to the
        metals).

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
    _optional = {"molecular_fraction": 0.0, "dust_to_metals": 1.0}

    mass = _Field(_MASS, "gas masses", minimum=0.0)
    metallicity = _Field(None, "metal mass fractions Z", minimum=0.0, maximum=1.0)
    sfr = _Field(_SFR, "star formation rates", minimum=0.0)
    neutral_fraction = _Field(None, "neutral (HI + H2) fraction of the hydrogen",
                              minimum=0.0, maximum=1.0)
    smoothing_length = _Field(_LENGTH, "cell sizes", positive=True)
    molecular_fraction = _Field(None, "H2 / (HI + H2) of the neutral hydrogen (zeros if never "
                                "given)", minimum=0.0, maximum=1.0)
    dust_to_metals = _Field(None, "dust-to-metals ratios relative to the dust model's reference "
                            "(ones if never given)", minimum=0.0)

    @property
    def metal_mass(self):
        """`~astropy.units.Quantity`: metal masses, mass x Z (Msun)."""
        return (self.mass_value * self.metallicity) << _MASS

    @property
    def neutral_hydrogen_mass_value(self):
        """ndarray: neutral (atomic + molecular) hydrogen masses in Msun."""
        return self.mass_value * HYDROGEN_MASS_FRACTION * self.neutral_fraction

    @property
    def hi_mass_value(self):
        """ndarray: atomic hydrogen masses in Msun (see the module docstring)."""
        return self.neutral_hydrogen_mass_value * (1.0 - self.molecular_fraction)

    @property
    def hi_mass(self):
        """`~astropy.units.Quantity`: atomic hydrogen masses (Msun), see the module docstring."""
        return self.hi_mass_value << _MASS

    @property
    def h2_mass(self):
        """`~astropy.units.Quantity`: molecular hydrogen masses (Msun)."""
        return (self.neutral_hydrogen_mass_value * self.molecular_fraction) << _MASS

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
        field = self._field("molecular_fraction")
        fraction = field.convert(molecular_fraction, "GasCells")
        field.check(fraction, "GasCells", len(self))
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
    >>> from picasso.particles import StarParticles, Particles
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
        return self.stars.mass_value.sum() << _MASS

    @property
    def total_initial_stellar_mass(self):
        """`~astropy.units.Quantity`: stellar mass at birth (Msun)."""
        return self.stars.initial_mass_value.sum() << _MASS

    @property
    def total_stellar_metal_mass(self):
        """`~astropy.units.Quantity`: metal mass in stars (Msun)."""
        return (self.stars.mass_value * self.stars.metallicity).sum() << _MASS

    @property
    def mass_weighted_age(self):
        """`~astropy.units.Quantity`: current-mass-weighted mean stellar age (Gyr, NaN if none)."""
        total = self.stars.mass_value.sum()
        if total <= 0:
            return np.nan << _AGE
        return (self.stars.mass_value * self.stars.age_value).sum() / total << _AGE

    @property
    def total_gas_mass(self):
        """`~astropy.units.Quantity`: gas mass (Msun)."""
        return self.gas.mass_value.sum() << _MASS

    @property
    def total_gas_metal_mass(self):
        """`~astropy.units.Quantity`: metal mass in gas (Msun)."""
        return (self.gas.mass_value * self.gas.metallicity).sum() << _MASS

    @property
    def total_sfr(self):
        """`~astropy.units.Quantity`: star formation rate (Msun/yr)."""
        return self.gas.sfr_value.sum() << _SFR

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
        total = self.stars.mass_value.sum()
        if len(self.stars) == 0 or total <= 0:
            raise ValueError("cannot compute a stellar centre of mass: no stars with mass")
        return (self.stars.mass_value @ self.stars.position_value) / total << _LENGTH

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
        position = self.stars.position_value
        if projected:
            radius = np.hypot(position[:, 0], position[:, 1])
        else:
            radius = np.linalg.norm(position, axis=1)
        return weighted_half_radius(radius, self.stars.mass_value) << _LENGTH
