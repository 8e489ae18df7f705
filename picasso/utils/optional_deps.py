"""
Optional dependencies: one flag per package and one clear error when it is missing.

Modelled on photutils' ``utils/_optional_deps.py``: ``HAS_ZARR`` and friends
say whether a package can be imported (without importing it), tests skip on
them, and `require` raises an `ImportError` that names the pip extra that
installs the package.
"""

import importlib.util

__all__ = ["OPTIONAL_DEPENDENCIES", "require", "HAS_ZARR", "HAS_SPECUTILS", "HAS_SPECLITE",
           "HAS_DUST_EXTINCTION", "HAS_DASK", "HAS_DISTRIBUTED"]

#: Import name -> (what it is for, the pip extra of astro-picasso that installs it).
OPTIONAL_DEPENDENCIES = {
    "zarr": ("reading the PICASSO authors' zarr training sets", "all"),
    "specutils": ("building the SSP table (tools/build_ssp_table.py)", "all"),
    "speclite": ("building the SSP table (tools/build_ssp_table.py)", "all"),
    # a dependency of picasso, checked all the same: an environment can lack it
    "dust_extinction": ("dust attenuation in mock observations and the F99 Galactic "
                        "extinction law", "all"),
    "dask": ("catalogue runs and universe builds on a Dask cluster", "all"),
    "distributed": ("catalogue runs and universe builds on a Dask cluster", "all"),
}


def _available(name):
    return importlib.util.find_spec(name) is not None


HAS_ZARR = _available("zarr")
HAS_SPECUTILS = _available("specutils")
HAS_SPECLITE = _available("speclite")
HAS_DUST_EXTINCTION = _available("dust_extinction")
HAS_DASK = _available("dask")
HAS_DISTRIBUTED = _available("distributed")


def require(name, purpose=None):
    """
    Raise a clear `ImportError` when an optional package is missing.

    Call it in the process that starts the work (not only inside worker
    processes), so a missing package is reported once, before anything runs.

    Parameters
    ----------
    name : str
        Import name (a key of `OPTIONAL_DEPENDENCIES`).
    purpose : str, optional
        What needs it, for the message; the registry's description by default.

    Raises
    ------
    ImportError
        If the package cannot be imported; the message names the package and
        the command that installs it.
    """
    if _available(name):
        return
    default_purpose, extra = OPTIONAL_DEPENDENCIES.get(name, (None, "all"))
    raise ImportError(
        f"{purpose or default_purpose or 'this feature'} needs the optional package {name!r}, "
        f"which is not installed; install it with pip install {name.replace('_', '-')} "
        f"(or pip install 'astro-picasso[{extra}]')"
    )
