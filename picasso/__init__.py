"""
picasso: resolved physical property maps of galaxies from multi-band images.

picasso learns the map from SDSS ugriz photometry to resolved maps of seven
physical properties with a U-Net, following Buck & Wolf, "Predicting resolved
galaxy properties from photometric images using convolutional neural
networks".
"""

try:
    from ._version import version as __version__
except ImportError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from .cutout import GalaxyCutout
from .maps import PropertyMaps
from .properties import BANDS, PROPERTIES

__all__ = ["GalaxyCutout", "PropertyMaps", "PROPERTIES", "BANDS", "__version__"]
