"""Reading and writing: FITS cutouts and maps, HDF5 pair datasets, SDSS frames, simulations."""
