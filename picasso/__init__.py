"""
picasso: resolved physical property maps of galaxies from multi-band images.

picasso learns the map from SDSS ugriz photometry to resolved maps of seven
physical properties with a U-Net, following Buck & Wolf, "Predicting resolved
galaxy properties from photometric images using convolutional neural
networks".

Importing `picasso` gives the core objects and registers picasso's file
formats with `astropy.io.registry`; torch is imported only when a model is
loaded (`load_model`, `GalaxyCutout.predict`).
"""

from . import io  # noqa: F401  (registers the readers of io's formats, e.g. "sdss")
from .cutout import GalaxyCutout
from .maps import PropertyMaps
from .particles import GasCells, Particles, StarParticles
from .properties import BANDS, PROPERTIES
from .radius import HalfRadius
from .utils.version import version as __version__

__all__ = ["GalaxyCutout", "PropertyMaps", "Particles", "StarParticles", "GasCells",
           "HalfRadius", "PROPERTIES", "BANDS", "load_model", "__version__"]


def load_model(path="default", *, device="cpu"):
    """
    Load a trained picasso model: a file, a training directory or the bundled one.

    The same as `picasso.nn.load_model` (torch is imported only when this is
    called).

    Parameters
    ----------
    path : str or path-like
        A ``.safetensors`` model file, a directory holding
        ``model.safetensors``, or ``"default"`` for the model bundled with
        picasso.
    device : str or `torch.device`

    Returns
    -------
    model : `picasso.nn.Model`
    """
    from .nn.loading import load_model as _load_model

    return _load_model(path, device=device)
