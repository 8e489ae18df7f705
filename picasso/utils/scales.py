"""
Angles and lengths at a redshift: the one place picasso converts between them.
"""

import astropy.units as u
from astropy.cosmology import default_cosmology

__all__ = [
    "kpc_per_arcsec", "angle_to_length", "length_to_angle", "to_length", "to_angle", "as_angle",
]


def kpc_per_arcsec(redshift, cosmology=None):
    """
    Proper kpc per arcsec at ``redshift`` (the angular-diameter scale).

    Parameters
    ----------
    redshift : float or array-like
    cosmology : `~astropy.cosmology.Cosmology`, optional
        The astropy default (Planck18) when not given.

    Returns
    -------
    scale : `~astropy.units.Quantity`
        In kpc / arcsec.
    """
    cosmology = default_cosmology.get() if cosmology is None else cosmology
    return cosmology.kpc_proper_per_arcmin(redshift).to(u.kpc / u.arcsec)


def angle_to_length(angle, redshift, cosmology=None):
    """
    The proper length that ``angle`` subtends at ``redshift``.

    Parameters
    ----------
    angle : `~astropy.units.Quantity`
    redshift : float
    cosmology : `~astropy.cosmology.Cosmology`, optional

    Returns
    -------
    length : `~astropy.units.Quantity`
        In kpc.
    """
    return (angle * kpc_per_arcsec(redshift, cosmology)).to(u.kpc)


def length_to_angle(length, redshift, cosmology=None):
    """
    The angle a proper ``length`` subtends at ``redshift``.

    Parameters
    ----------
    length : `~astropy.units.Quantity`
    redshift : float
    cosmology : `~astropy.cosmology.Cosmology`, optional

    Returns
    -------
    angle : `~astropy.units.Quantity`
        In arcsec.
    """
    return (length / kpc_per_arcsec(redshift, cosmology)).to(u.arcsec)


def to_length(value, redshift=None, cosmology=None):
    """
    A length or an angle as a proper length in kpc.

    Parameters
    ----------
    value : `~astropy.units.Quantity`
        A length, or an angle (which needs ``redshift``).
    redshift : float, optional
    cosmology : `~astropy.cosmology.Cosmology`, optional

    Returns
    -------
    length : `~astropy.units.Quantity`
        In kpc.

    Raises
    ------
    ValueError
        For an angle without a redshift.
    astropy.units.UnitTypeError
        For a value that is neither a length nor an angle.
    """
    if value.unit.is_equivalent(u.kpc):
        return value.to(u.kpc)
    if not value.unit.is_equivalent(u.arcsec):
        raise u.UnitTypeError(f"expected a length or an angle, got {value}")
    if redshift is None:
        raise ValueError(f"{value} is an angle; a redshift is needed to turn it into a length")
    return angle_to_length(value, redshift, cosmology)


def as_angle(value, name):
    """
    Check that ``value`` is an angle Quantity; return it.

    Parameters
    ----------
    value : `~astropy.units.Quantity`
    name : str
        The argument's name, for the message.

    Returns
    -------
    angle : `~astropy.units.Quantity`

    Raises
    ------
    TypeError
        If ``value`` is not an angle.
    """
    if not isinstance(value, u.Quantity) or not value.unit.is_equivalent(u.deg):
        raise TypeError(f"{name} must be an angle Quantity (e.g. 1.4 * u.arcsec), got {value!r}")
    return value


def to_angle(value, redshift=None, cosmology=None):
    """
    A length or an angle as an angle in arcsec.

    Parameters
    ----------
    value : `~astropy.units.Quantity`
        An angle, or a proper length (which needs ``redshift``).
    redshift : float, optional
    cosmology : `~astropy.cosmology.Cosmology`, optional

    Returns
    -------
    angle : `~astropy.units.Quantity`
        In arcsec.

    Raises
    ------
    ValueError
        For a length without a redshift.
    astropy.units.UnitTypeError
        For a value that is neither a length nor an angle.
    """
    if value.unit.is_equivalent(u.arcsec):
        return value.to(u.arcsec)
    if not value.unit.is_equivalent(u.kpc):
        raise u.UnitTypeError(f"expected a length or an angle, got {value}")
    if redshift is None:
        raise ValueError(f"{value} is a length; a redshift is needed to turn it into an angle")
    return length_to_angle(value, redshift, cosmology)
