"""
The network: U-Net, input transform, loss, training, models and prediction.

Importing `picasso` does not import torch; importing `picasso.nn` does.
"""

from .diagnostics import InputStatistics, PicassoOODWarning, diagnose, training_statistics
from .ensemble import Ensemble, load_ensemble, train_ensemble
from .loading import ARCHITECTURES, default_model, load_model, resolve_model
from .loss import (
    LOSSES,
    authors_two_term_loss,
    block_sum_loss,
    gaussian_nll,
    masked_squared_error,
)
from .model import FIELD_OF_VIEW_R_HALF, Model
from .model_file import MODEL_FILENAME, read_model_file, write_model_file
from .predict import parse_shard, predict_cutouts, predict_dataset, shard_indices
from .train import PRESETS, NetworkDataset, Split, TrainConfig, Trainer, preset, split_by_galaxy
from .transforms import (
    InputTransform,
    d4_inverse,
    d4_transform,
    distance_factor,
    known_mask,
    normalize_flux,
    random_symmetry,
    select_band_channels,
    zero_bands,
)
from .unet import UNet, UNetConfig

__all__ = [
    "UNet", "UNetConfig",
    "InputTransform", "distance_factor", "normalize_flux", "known_mask", "d4_transform",
    "d4_inverse", "random_symmetry", "zero_bands", "select_band_channels",
    "LOSSES", "masked_squared_error", "authors_two_term_loss", "gaussian_nll", "block_sum_loss",
    "TrainConfig", "PRESETS", "preset", "Split", "split_by_galaxy", "NetworkDataset", "Trainer",
    "Model", "FIELD_OF_VIEW_R_HALF", "MODEL_FILENAME", "read_model_file", "write_model_file",
    "Ensemble", "load_ensemble", "train_ensemble",
    "ARCHITECTURES", "load_model", "default_model", "resolve_model",
    "predict_cutouts", "predict_dataset", "parse_shard", "shard_indices",
    "InputStatistics", "PicassoOODWarning", "diagnose", "training_statistics",
]
