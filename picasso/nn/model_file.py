"""
Model files: one safetensors file, the network weights and a JSON header.

A picasso model file is ONE safetensors file (``*.safetensors``). The tensors
are the network weights in float32; the safetensors metadata holds one key,
``"picasso"``, whose value is a JSON header:

``format``, ``format_version``
    ``"picasso-model"`` and 2 (version 1 files, written before the input
    contract was recorded as one object, are read too).
``architecture``
    The `~picasso.nn.UNetConfig` as a dict (depth, widths, bands, properties,
    uncertainty head).
``bands``, ``properties``
    Input bands in channel order; output properties with their units (checked
    against `picasso.properties.PROPERTIES` on load).
``input_transform``
    The `~picasso.nn.transforms.InputTransform`: flux unit, floor, reference
    redshift and its cosmology, zeroed bands, and the formula.
``target``
    ``"log10"``: outputs are log10 of the maps in registry units.
``image_size``, ``pixel_scale_convention``
    Side of the training images in pixels, and how their field of view was
    chosen (``field_of_view_r_half`` half radii of kind ``r_half_kind``).
``trained``, ``training_data``, ``train_config``, ``metrics``, ``split``, ``seed``
    Provenance: whether the weights were trained, a summary of the data,
    the training settings, validation metrics, the galaxy split and the seed.
``picasso_version``
    Version that wrote the file.

Reading uses `safetensors` and `json` only, so loading a model never executes
code from the file (unlike pickle-based ``torch.load``).
"""

import json
from pathlib import Path

import astropy.units as u
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..properties import PROPERTIES
from ..utils.atomic import atomic_path
from .transforms import InputTransform
from .unet import UNetConfig

__all__ = [
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "MODEL_FILENAME",
    "HEADER_KEYS",
    "write_model_file",
    "read_model_file",
    "resolve_model_path",
]

MODEL_FORMAT = "picasso-model"
MODEL_FORMAT_VERSION = 2

#: File name of the model inside a training output directory.
MODEL_FILENAME = "model.safetensors"

#: Header entries that describe the network and its input; everything else is provenance.
HEADER_KEYS = frozenset({
    "format", "format_version", "architecture", "bands", "properties", "input_transform",
    "image_size", "trained", "target", "pixel_scale_convention",
    # version 1 kept the input contract in separate entries
    "flux_unit", "flux_floor", "reference_redshift", "normalisation",
})

_METADATA_KEY = "picasso"


def write_model_file(path, tensors, header, *, overwrite=False):
    """
    Write tensors and a JSON header as one safetensors model file, atomically.

    Parameters
    ----------
    path : str or path-like
        A ``.safetensors`` file, or a directory (``model.safetensors`` is
        written inside it).
    tensors : dict
        Name to CPU tensor.
    header : dict
        JSON-ready header, stored in the file's metadata.
    overwrite : bool

    Returns
    -------
    path : `~pathlib.Path`
        The file written.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILENAME
    elif path.suffix != ".safetensors":
        raise ValueError(f"model files end in .safetensors, or give a directory; got {path}")
    metadata = {_METADATA_KEY: json.dumps(header)}
    with atomic_path(path, overwrite=overwrite) as tmp_path:
        save_file(tensors, str(tmp_path), metadata=metadata)
    return path


def _fail(path, problem):
    raise ValueError(f"{path} is not a valid picasso model file: {problem}")


def _legacy_transform(header):
    """The input transform of a version-1 header (Planck18 was the only cosmology then)."""
    return InputTransform(
        bands=tuple(header["bands"]), flux_unit=header["flux_unit"],
        flux_floor=header["flux_floor"], reference_redshift=header.get("reference_redshift"),
        keep_bands=header.get("keep_bands"),
    ).to_dict()


def _check_header(path, metadata):
    """The validated header (version 1 brought up to date) and its `UNetConfig`."""
    if not metadata or _METADATA_KEY not in metadata:
        _fail(path, "its safetensors metadata has no 'picasso' header")
    try:
        header = json.loads(metadata[_METADATA_KEY])
    except json.JSONDecodeError as error:
        _fail(path, f"the header is not JSON ({error})")
    if not isinstance(header, dict) or header.get("format") != MODEL_FORMAT:
        _fail(path, f"format is {header.get('format') if isinstance(header, dict) else None!r}, "
              f"expected {MODEL_FORMAT!r}")
    version = header.get("format_version")
    if version not in (1, MODEL_FORMAT_VERSION):
        _fail(path, f"format_version {version!r} is not supported (this picasso reads versions "
              f"1 and {MODEL_FORMAT_VERSION}; the file was written by picasso "
              f"{header.get('picasso_version', 'of an unknown version')}); update picasso")
    needed = ("architecture", "image_size", "properties", "bands")
    needed += ("flux_unit", "flux_floor") if version == 1 else ("input_transform",)
    for key in needed:
        if key not in header:
            _fail(path, f"the header lacks {key!r}")
    try:
        config = UNetConfig.from_dict(header["architecture"])
    except (TypeError, ValueError) as error:
        _fail(path, f"bad architecture: {error}")
    if list(config.in_bands) != list(header["bands"]):
        _fail(path, "the header's bands disagree with its architecture")
    names = [entry.get("name") for entry in header["properties"]]
    if names != list(config.properties):
        _fail(path, "the header's properties disagree with its architecture")
    for entry in header["properties"]:
        unit = u.Unit(entry.get("unit"))
        if unit != PROPERTIES[entry["name"]].unit:
            _fail(path, f"property {entry['name']} is in {unit}, but picasso's registry uses "
                  f"{PROPERTIES[entry['name']].unit}; the model was written by an incompatible "
                  "picasso version")
    try:
        if version == 1:
            header["input_transform"] = _legacy_transform(header)
        transform = InputTransform.from_dict(header["input_transform"])
    except (TypeError, ValueError) as error:
        _fail(path, f"bad input transform ({error})")
    if transform.bands != config.in_bands:
        _fail(path, "the input transform's bands disagree with the architecture")
    return header, config


def resolve_model_path(path):
    """
    The model file a path names: the file itself, or ``model.safetensors`` in a directory.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    path : `~pathlib.Path`

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    """
    path = Path(path)
    if path.is_dir():
        candidate = path / MODEL_FILENAME
        if not candidate.exists():
            raise FileNotFoundError(
                f"directory {path} holds no {MODEL_FILENAME}; give the model file itself or "
                "the output directory of 'picasso train'"
            )
        return candidate
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist")
    return path


def read_model_file(path):
    """
    Read and check a model file: its header, architecture and tensors.

    Parameters
    ----------
    path : str or path-like
        A ``.safetensors`` file or a directory holding ``model.safetensors``.

    Returns
    -------
    header : dict
        The JSON header; a version-1 header gains its ``input_transform``.
    config : `~picasso.nn.UNetConfig`
    tensors : dict
        Name -> CPU tensor.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a picasso model file: no or a wrong header, or truncated
        or corrupt weights.
    """
    path = resolve_model_path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            header, config = _check_header(path, handle.metadata())
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except SafetensorError as error:
        _fail(path, f"the weights are truncated or corrupt ({error})")
    return header, config, tensors
