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

__all__ = ["GalaxyCutout", "PropertyMaps", "PROPERTIES", "BANDS", "load_model", "__version__"]


def load_model(path, *, device="cpu"):
    """
    Load a trained picasso model (see `picasso.nn.load_model`; torch is
    imported only when this is called).
    """
    from .nn.weights import load_model as _load_model

    return _load_model(path, device=device)
