"""
Reading and writing galaxies: pair datasets (HDF5), SDSS frames, the PICASSO
authors' data and Illustris / IllustrisTNG particle cutouts.

Importing this package registers its formats with `astropy.io.registry`:
``GalaxyCutout.read(frames, format="sdss", ra=..., dec=..., redshift=...)``
cuts a galaxy from SDSS frames (`picasso.io.sdss.cutout_from_frames`). The
FITS formats of `~picasso.GalaxyCutout` and `~picasso.PropertyMaps` are
registered with the classes themselves.
"""

from . import sdss
from .authors import read_authors_halo, read_authors_zarr
from .dataset import DatasetWriter, PairDataset
from .simulation import read_particles

__all__ = ["sdss", "PairDataset", "DatasetWriter", "read_authors_zarr", "read_authors_halo",
           "read_particles"]
