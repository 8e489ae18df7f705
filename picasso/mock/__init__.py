"""
picasso's synthetic universe: galaxies drawn from published scaling relations
(`picasso.mock.relations`), realised as particles (`picasso.mock.realise`),
given stellar light (`picasso.mock.populations`) and observed as SDSS-like
images with exact truth maps (`picasso.mock.observe`); `build_dataset`
renders many of them into a training set.
"""

from .build import build_dataset
from .observe import ObservingConfig
from .populations import SSPTable, stellar_fluxes
from .universe import GalaxyProperties, Universe

__all__ = ["Universe", "GalaxyProperties", "ObservingConfig", "SSPTable", "stellar_fluxes",
           "build_dataset"]
