"""
Shared FITS helpers: headers for JSON-like metadata, cosmologies and checks on
files written by picasso.
"""

import json

import astropy.units as u
import numpy as np
from astropy.cosmology import Cosmology, realizations
from astropy.io import fits

__all__ = [
    "encode_meta",
    "decode_meta",
    "cosmology_to_string",
    "cosmology_from_string",
    "open_fits",
]

_QUANTITY_KEY = "__quantity__"


class _MetaEncoder(json.JSONEncoder):
    """JSON encoder that keeps Quantities and numpy values."""

    def default(self, obj):
        if isinstance(obj, u.Quantity):
            return {_QUANTITY_KEY: np.asarray(obj.value).tolist(), "unit": obj.unit.to_string()}
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, Cosmology):
            return {"__cosmology__": cosmology_to_string(obj)}
        return super().default(obj)


def _decode_hook(obj):
    if _QUANTITY_KEY in obj:
        return u.Quantity(obj[_QUANTITY_KEY], obj["unit"])
    if "__cosmology__" in obj:
        return cosmology_from_string(obj["__cosmology__"])
    return obj


def encode_meta(meta):
    """
    Serialise a metadata dictionary to a JSON string.

    Quantities, numpy arrays and scalars and cosmologies are supported and come
    back as the same types from `decode_meta`.

    Parameters
    ----------
    meta : dict

    Returns
    -------
    text : str

    Raises
    ------
    TypeError
        If a value cannot be stored (for example an arbitrary object).
    """
    try:
        return json.dumps(dict(meta), cls=_MetaEncoder, sort_keys=True)
    except TypeError as error:
        raise TypeError(
            f"meta cannot be written to FITS: {error}; keep meta to numbers, strings, "
            "lists, dicts, numpy arrays and Quantities"
        ) from None


def decode_meta(text):
    """
    Read a metadata dictionary written by `encode_meta`.

    Parameters
    ----------
    text : str

    Returns
    -------
    meta : dict
    """
    return json.loads(text, object_hook=_decode_hook) if text else {}


def cosmology_to_string(cosmology):
    """
    Describe a cosmology as a string: its name if it is one of astropy's
    realizations (``"Planck18"``), else a JSON mapping of its parameters.

    Parameters
    ----------
    cosmology : `~astropy.cosmology.Cosmology`

    Returns
    -------
    text : str
    """
    if cosmology.name in realizations.available:
        if getattr(realizations, cosmology.name) == cosmology:
            return cosmology.name
    mapping = cosmology.to_format("mapping", cosmology_as_str=True)
    return json.dumps(mapping, cls=_MetaEncoder)


def cosmology_from_string(text):
    """
    Rebuild a cosmology written by `cosmology_to_string`.

    Parameters
    ----------
    text : str

    Returns
    -------
    cosmology : `~astropy.cosmology.Cosmology`
    """
    if text in realizations.available:
        return getattr(realizations, text)
    mapping = json.loads(text, object_hook=_decode_hook)
    return Cosmology.from_format(mapping, format="mapping")


def open_fits(path, *, kind):
    """
    Open a FITS file with a clear error when it is missing or corrupt.

    Parameters
    ----------
    path : str or path-like
    kind : str
        What the file should hold, for the error message.

    Returns
    -------
    hdul : `~astropy.io.fits.HDUList`
        Loaded into memory (the file is closed).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    OSError
        If the file is not a readable FITS file.
    """
    try:
        with fits.open(path, memmap=False) as hdul:
            hdul.verify("exception")
            hdul.readall()
            return fits.HDUList([hdu.copy() for hdu in hdul])
    except FileNotFoundError:
        raise FileNotFoundError(f"{kind} file {path} does not exist") from None
    except (OSError, fits.VerifyError, ValueError, TypeError) as error:
        raise OSError(f"{path} is not a readable {kind} FITS file: {error}") from None
