"""
SDSS imaging frames (and other calibrated images) to model-ready cutouts.

This module reads SDSS ``frame-{band}-{run}-{camcol}-{field}.fits(.bz2)``
files in the DR8+ layout, recovers their noise from the SDSS data model,
and turns a set of frames plus a sky position and a redshift into a
`~picasso.GalaxyCutout` on one tangent-plane grid for all bands, with the
physical pixel scale, flux scaling, Galactic extinction and point-spread
function that a picasso model expects.

The frame layout and the noise recipe follow the SDSS data model page for
frame files,
https://data.sdss.org/datamodel/files/BOSS_PHOTOOBJ/frames/RERUN/RUN/CAMCOL/frame.html :

- HDU0: the calibrated, sky-subtracted image in nanomaggies with a TAN WCS
  (CD matrix, 0.396 arcsec pixels);
- HDU1: the calibration vector, nanomaggies per count for each column (flat
  field times photometric calibration);
- HDU2: the sky in counts on a coarse grid ``ALLSKY`` (about 256 x 192) with
  ``XINTERP`` and ``YINTERP`` giving each column's and row's position on it
  (bilinear interpolation);
- HDU3: the astrometric transformation (one ``asTrans`` row).

Counts and their variance are, in the data model's notation,
``dn = img / cimg + simg`` and ``dn_err**2 = dn / gain + darkVariance``
with ``gain`` and ``darkVariance`` tabulated per camera column and band;
the variance in nanomaggies squared is ``dn_err**2 * cimg**2``.
"""

from .example import *  # noqa: F401,F403
from .example import __all__ as _example_all
from .fetch import *  # noqa: F401,F403
from .fetch import __all__ as _fetch_all
from .frames import *  # noqa: F401,F403
from .frames import __all__ as _frames_all
from .ingest import *  # noqa: F401,F403
from .ingest import __all__ as _ingest_all
from .resample import *  # noqa: F401,F403
from .resample import __all__ as _resample_all

__all__ = _frames_all + _fetch_all + _resample_all + _ingest_all + _example_all
