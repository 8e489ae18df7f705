"""
`HalfRadius`: a galaxy's half radius together with what kind of radius it is.

A "half-mass radius" can mean three different lengths, and they differ by
tens of per cent: the radius of the sphere holding half the stellar mass (3-D),
the radius of the circle holding half the projected mass in one view, or the
half-light radius measured on an image. picasso's training images span 10
3-D stellar half-mass radii; SDSS cutouts are cut to 10 x 4/3 half-light
radii measured on the r-band image, the same field by `DEPROJECTION_FACTOR`.
Holding the kind with the value lets a model check a cutout's field of view
like for like.
"""

from dataclasses import dataclass

import astropy.units as u
import numpy as np

__all__ = ["HalfRadius", "RADIUS_KINDS", "DEPROJECTION_FACTOR"]

#: The kinds of half radius picasso knows, with what each one is.
RADIUS_KINDS = {
    "mass_3d": "3-D stellar half-mass radius",
    "mass_projected": "projected stellar half-mass radius (in the image plane)",
    "light_projected": "projected half-light radius (measured on an image)",
}

#: 3-D half radius over projected half radius for the stellar bodies of
#: galaxies: about 4/3 for a wide range of Sersic profiles (Ciotti 1991;
#: Wolf et al. 2010, MNRAS 406, 1220). Used only to compare radii of
#: different kinds; for a given galaxy the ratio depends on its shape and view.
DEPROJECTION_FACTOR = 4.0 / 3.0


@dataclass(frozen=True)
class HalfRadius:
    """
    A half radius with its kind.

    Parameters
    ----------
    value : `~astropy.units.Quantity`
        A proper length (kpc).
    kind : str
        One of `RADIUS_KINDS`: ``"mass_3d"``, ``"mass_projected"`` or
        ``"light_projected"``.

    Raises
    ------
    ValueError
        For an unknown kind or a value that is not one positive finite length.

    Examples
    --------
    >>> import astropy.units as u
    >>> from picasso.radius import HalfRadius
    >>> HalfRadius(3 * u.kpc, "mass_3d").as_kind("mass_projected")
    HalfRadius(value=<Quantity 2.25 kpc>, kind='mass_projected')
    """

    value: u.Quantity
    kind: str

    def __post_init__(self):
        if self.kind not in RADIUS_KINDS:
            raise ValueError(
                f"unknown half-radius kind {self.kind!r}; use one of {', '.join(RADIUS_KINDS)}"
            )
        value = self.value
        if not isinstance(value, u.Quantity) or not value.unit.is_equivalent(u.kpc):
            raise u.UnitTypeError(f"a half radius is a length (e.g. 3 * u.kpc), got {value!r}")
        if not value.isscalar or not np.isfinite(value.value) or value.value <= 0:
            raise ValueError(f"a half radius must be one positive finite length, got {value}")
        object.__setattr__(self, "value", value.to(u.kpc))

    @property
    def description(self):
        """str: what kind of radius this is, in words."""
        return RADIUS_KINDS[self.kind]

    def as_kind(self, kind):
        """
        The radius expressed as another kind, approximately.

        3-D and projected radii are related by `DEPROJECTION_FACTOR`; a
        half-light radius is taken as the projected half-mass radius (colour
        gradients make real ones differ by ~10-30%).

        Parameters
        ----------
        kind : str
            One of `RADIUS_KINDS`.

        Returns
        -------
        radius : `HalfRadius`
        """
        if kind not in RADIUS_KINDS:
            raise ValueError(f"unknown half-radius kind {kind!r}; use one of "
                             f"{', '.join(RADIUS_KINDS)}")
        if kind == self.kind:
            return self
        value = self.value
        if self.kind == "mass_3d":
            value = value / DEPROJECTION_FACTOR
        if kind == "mass_3d":
            value = value * DEPROJECTION_FACTOR
        return HalfRadius(value, kind)

    def to_dict(self):
        """dict: JSON-ready (``value_kpc``, ``kind``), for file headers."""
        return {"value_kpc": float(self.value.to_value(u.kpc)), "kind": self.kind}

    @classmethod
    def from_dict(cls, record):
        """Rebuild a radius written by `to_dict`."""
        return cls(float(record["value_kpc"]) * u.kpc, record["kind"])

    def to_fits_header(self, header):
        """Write the radius into a FITS header (keys ``RHALF`` in kpc and ``RHALFKND``)."""
        header["RHALF"] = (float(self.value.to_value(u.kpc)), "[kpc] half radius")
        header["RHALFKND"] = (self.kind, "kind of half radius")

    @classmethod
    def from_fits_header(cls, header):
        """The radius `to_fits_header` wrote, or `None` where the header holds none."""
        if "RHALF" not in header:
            return None
        return cls(header["RHALF"] * u.kpc, header["RHALFKND"])
