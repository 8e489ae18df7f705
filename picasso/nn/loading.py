"""
Finding a model: files, ensembles, the bundled model and named architectures.
"""

import logging
from pathlib import Path

from .ensemble import Ensemble, is_ensemble_header
from .model import Model
from .model_file import MODEL_FILENAME, read_model_file
from .unet import UNet, UNetConfig

__all__ = ["ARCHITECTURES", "load_model", "default_model", "resolve_model", "BUNDLED_MODEL"]

log = logging.getLogger(__name__)

#: Named architectures `load_model` builds untrained.
ARCHITECTURES = {
    "paper": UNetConfig(),
    "small": UNetConfig(depth=4, base_width=16),
}

#: Where the model bundled with picasso lives.
BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "data" / MODEL_FILENAME


def load_model(path, *, device="cpu"):
    """
    Load a model file, the bundled model, or build a named architecture untrained.

    Parameters
    ----------
    path : str or path-like
        A ``.safetensors`` model file (one network or an ensemble), a
        directory holding ``model.safetensors``, ``"default"`` (the bundled
        model, `default_model`), or the name of an architecture in
        `ARCHITECTURES` (``"paper"``: the untrained paper-size U-Net for 256 x
        256 ugriz images in nanomaggies).
    device : str or `torch.device`
        Where to put the weights.

    Returns
    -------
    model : `~picasso.nn.Model` or `~picasso.nn.ensemble.Ensemble`
        In evaluation mode.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not a picasso model: no or wrong header, truncated or
        corrupt weights, or weights that do not fit the architecture.
    """
    if isinstance(path, str) and path == "default":
        return default_model().to(device)
    if isinstance(path, str) and path in ARCHITECTURES:
        model = Model(UNet(ARCHITECTURES[path]), image_size=256, trained=False,
                      info={"architecture_name": path})
        model.network.eval()
        return model.to(device)
    try:
        header, config, tensors = read_model_file(path)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{error}; named models are 'default' and "
                                f"{', '.join(map(repr, ARCHITECTURES))}") from None
    if is_ensemble_header(header):
        model = Ensemble.from_file_contents(header, config, tensors, source=str(path))
    else:
        model = Model.from_file_contents(header, config, tensors, source=str(path))
    return model.to(device)


def default_model():
    """
    The model bundled with picasso (``picasso/data/model.safetensors``).

    A slim U-Net trained on picasso's synthetic universe, observed at SDSS
    depth, by ``tools/train_default_model.py``; its header records the exact
    command, seeds, dataset, held-out metrics and the calibration of its
    uncertainties (`picasso.studies.model_card` renders them). The paper-size
    network (124 MB in float32) is too big to ship; build it with
    ``load_model("paper")`` and train it on a GPU.

    Returns
    -------
    model : `~picasso.nn.Model`

    Raises
    ------
    RuntimeError
        If the bundled file is missing from the installation.
    """
    if BUNDLED_MODEL.exists():
        return load_model(BUNDLED_MODEL)
    raise RuntimeError(
        f"the model bundled with picasso is missing ({BUNDLED_MODEL} does not exist); reinstall "
        "picasso, or train one with 'picasso train pairs.h5 -o model_dir --preset small' and "
        "pass model='model_dir'"
    )


def resolve_model(model=None, device=None):
    """
    A model object from what a user may pass: a model, a path, a name or `None`.

    Parameters
    ----------
    model : `~picasso.nn.Model`, str, path-like or None
        `None` is the bundled model; a string or path goes to `load_model`.
    device : str or `torch.device`, optional
        Move the model there.

    Returns
    -------
    model : `~picasso.nn.Model`

    Raises
    ------
    TypeError
        For anything else.
    """
    if model is None:
        model = default_model()
    elif isinstance(model, (str, Path)):
        model = load_model(model)
    elif not isinstance(model, Model):
        raise TypeError(
            "model must be a picasso Model (picasso.load_model(path)), a model file or "
            f"directory, or None for the bundled model; got {type(model).__name__}"
        )
    if device is not None:
        model.to(device)
    return model
