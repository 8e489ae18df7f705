"""
The network: U-Net, transforms, loss, training, model files and prediction.

Importing `picasso` does not import torch; importing `picasso.nn` does.
"""

from . import loss, predict, train, transforms, unet, weights
from .loss import *  # noqa: F401,F403
from .predict import *  # noqa: F401,F403
from .train import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .unet import *  # noqa: F401,F403
from .weights import *  # noqa: F401,F403

__all__ = (
    unet.__all__ + transforms.__all__ + loss.__all__ + train.__all__ + weights.__all__
    + predict.__all__
)
