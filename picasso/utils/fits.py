"""
Shared FITS helpers: headers for JSON-like metadata, cosmologies, checks on
files written by picasso, and the ``read`` / ``write`` methods that send
picasso's data classes through `astropy.io.registry` (as `~astropy.nddata.CCDData`
does), so a format is registered where it is implemented.
"""

import json
import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.cosmology import Cosmology, realizations
from astropy.io import fits, registry

__all__ = [
    "encode_meta",
    "decode_meta",
    "cosmology_to_string",
    "cosmology_from_string",
    "open_fits",
    "is_fits",
    "UnifiedRead",
    "UnifiedWrite",
]

_FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fits.bz2", ".fit.gz")


def is_fits(origin, path, fileobj, *args, **kwargs):
    """
    Identify a FITS file for `astropy.io.registry`: by its name, or its first bytes.

    Parameters
    ----------
    origin : str
        ``"read"`` or ``"write"``.
    path : str or None
        The file name, when given as a string.
    fileobj : file-like or None
        An open file, when given as one.
    *args, **kwargs
        The rest of the read or write call (ignored).

    Returns
    -------
    bool
    """
    if path is not None and str(path).lower().endswith(_FITS_SUFFIXES):
        return True
    if fileobj is not None:
        position = fileobj.tell()
        signature = fileobj.read(30)
        fileobj.seek(position)
        return signature.startswith(b"SIMPLE  =")
    if origin == "read" and path is not None and Path(path).is_file():
        with open(path, "rb") as handle:
            return handle.read(30).startswith(b"SIMPLE  =")
    return False


class UnifiedRead(registry.UnifiedReadWrite):
    """
    Read an object of this class with a registered reader.

    A FITS file is recognised by its name or content; other formats (such as
    ``format="sdss"`` for `~picasso.GalaxyCutout`) are named.
    ``Class.read.help(format)`` documents a format's options.

    Parameters
    ----------
    *args
        The source (a path, or what the format reads) and the reader's
        positional arguments.
    format : str, optional
        The format; identified from the source when not given.
    **kwargs
        The reader's keyword arguments.

    Returns
    -------
    obj
        A new object of the class.

    Notes
    -----
    """

    def __init__(self, instance, cls):
        super().__init__(instance, cls, "read", registry=None)

    def __call__(self, *args, **kwargs):
        source = args[0] if args else None
        if (isinstance(source, (str, os.PathLike)) and kwargs.get("format") in (None, "fits")
                and not Path(source).exists()):
            raise FileNotFoundError(f"{self._cls.__name__} file {source} does not exist")
        return self.registry.read(self._cls, *args, **kwargs)


class UnifiedWrite(registry.UnifiedReadWrite):
    """
    Write this object with a registered writer (atomically).

    Parameters
    ----------
    *args
        The destination path and the writer's positional arguments.
    format : str, optional
        The format; identified from the file name when not given.
    overwrite : bool
        Replace an existing file.
    **kwargs
        The writer's keyword arguments.

    Notes
    -----
    """

    def __init__(self, instance, cls):
        super().__init__(instance, cls, "write", registry=None)

    def __call__(self, *args, **kwargs):
        self.registry.write(self._instance, *args, **kwargs)

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
