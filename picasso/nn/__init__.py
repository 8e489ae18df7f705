"""The network: U-Net, transforms, loss, training, model files and prediction."""

from .loss import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .unet import *  # noqa: F401,F403
from . import loss, transforms, unet

__all__ = unet.__all__ + transforms.__all__ + loss.__all__
