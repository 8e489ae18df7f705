"""
Model files: a trained network plus everything needed to use it correctly.

A picasso model file is ONE safetensors file (``*.safetensors``). The tensors
are the network weights in float32; the safetensors metadata holds one key,
``"picasso"``, whose value is a JSON header:

``format``, ``format_version``
    ``"picasso-model"`` and 1.
``architecture``
    The `~picasso.nn.UNetConfig` as a dict (depth, widths, bands, properties,
    uncertainty head).
``bands``, ``properties``
    Input bands in channel order; output properties with their units (checked
    against `picasso.properties.PROPERTIES` on load).
``flux_unit``, ``flux_floor``, ``normalisation``
    The input is ``ln(max(flux / pixel_area, flux_floor))`` with the flux per
    pixel in ``flux_unit`` and the pixel area in kpc2.
``reference_redshift``
    When present, every input is first moved to this redshift (multiplied by
    ``(D_L(z) / D_L(reference_redshift))**2``,
    `picasso.nn.transforms.distance_factor`), so the model serves galaxies at
    any distance; cutouts must then give their redshift.
``target``
    ``"log10"``: outputs are log10 of the maps in registry units.
``image_size``
    Side of the training images in pixels.
``pixel_scale_convention``
    How the field of view was chosen: every training image spans
    ``field_of_view_r_half`` (10) stellar half-mass radii, so the physical
    pixel scale differs from galaxy to galaxy.
``keep_bands``
    Present for a model trained with zeroed input channels (the authors'
    band studies): the bands it saw; prediction zeroes the others too.
``trained``, ``training_data``, ``train_config``, ``metrics``, ``split``, ``seed``
    Provenance: whether the weights were trained, a summary of the data,
    the training settings, validation metrics, the galaxy split and the seed.
``picasso_version``
    Version that wrote the file.

Reading uses `safetensors` and `json` only, so loading a model never executes
code from the file (unlike pickle-based ``torch.load``). `load_model` also
accepts a directory holding ``model.safetensors`` (the output of
``picasso train``).
"""

import json
import logging
from pathlib import Path

import astropy.units as u
import numpy as np

from ..properties import PROPERTIES
from .transforms import DEFAULT_FLUX_FLOOR
from .unet import UNet, UNetConfig

__all__ = [
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "MODEL_FILENAME",
    "write_model_file",
    "generator_record",
    "FIELD_OF_VIEW_R_HALF",
    "ARCHITECTURES",
    "Model",
    "load_model",
    "default_model",
]

log = logging.getLogger(__name__)

MODEL_FORMAT = "picasso-model"
MODEL_FORMAT_VERSION = 1

#: File name of the model inside a training output directory.
MODEL_FILENAME = "model.safetensors"

#: Field of view of a training image in stellar half-mass radii (+-5 R_half).
FIELD_OF_VIEW_R_HALF = 10.0

#: Named architectures `load_model` builds untrained.
ARCHITECTURES = {
    "paper": UNetConfig(),
    "small": UNetConfig(depth=4, base_width=16),
}

_METADATA_KEY = "picasso"


def _normalisation(reference_redshift):
    if reference_redshift is None:
        return "ln(max(flux / pixel_area_kpc2, flux_floor))"
    return ("ln(max(flux / pixel_area_kpc2 * (D_L(z) / D_L(reference_redshift))**2, "
            "flux_floor))")


def generator_record(header):
    """
    The generator record of a model's training pairs, from its header or info.

    Parameters
    ----------
    header : dict
        A model header (or `Model.info`) with a ``training_data`` entry.

    Returns
    -------
    record : dict
        ``universe``, ``observing``, ... as `picasso.mock.build.build_dataset`
        wrote them; empty when the header does not say.
    """
    generator = (header.get("training_data") or {}).get("generator")
    if isinstance(generator, str):
        try:
            generator = json.loads(generator)
        except json.JSONDecodeError:
            return {}
    return generator if isinstance(generator, dict) else {}


def _pixel_scale_convention():
    return {
        "field_of_view_r_half": FIELD_OF_VIEW_R_HALF,
        "description": (
            "each image spans field_of_view_r_half stellar half-mass radii (centred on the "
            "galaxy), so the pixel scale in kpc is field_of_view_r_half * r_half / image_size"
        ),
    }


class Model:
    """
    A network with the header that says how to feed it and read its output.

    Parameters
    ----------
    network : `~picasso.nn.UNet`
    flux_unit : str or `~astropy.units.Unit`
        Flux unit of the input images (per pixel).
    flux_floor : float
        Floor of the ``ln(max(flux / pixel_area, floor))`` normalisation, in
        ``flux_unit`` per kpc2.
    reference_redshift : float, optional
        Redshift every input is moved to before normalisation
        (`picasso.nn.transforms.distance_factor`); `None` feeds the observed
        flux per kpc2 (a model trained at one distance then only fits
        galaxies at that distance).
    image_size : int
        Side of the training images in pixels.
    trained : bool
        Whether the weights were trained (an untrained architecture predicts
        noise).
    info : dict, optional
        Provenance for the header (``training_data``, ``train_config``,
        ``metrics``, ``split``, ``seed``, ...).
    """

    def __init__(self, network, *, flux_unit="nanomaggy", flux_floor=DEFAULT_FLUX_FLOOR,
                 reference_redshift=None, image_size=256, trained=False, info=None):
        if not isinstance(network, UNet):
            raise TypeError(f"network must be a picasso.nn.UNet, got {type(network).__name__}")
        self.network = network
        self.flux_unit = u.Unit(flux_unit)
        if not float(flux_floor) > 0:
            raise ValueError(f"flux_floor must be positive, got {flux_floor!r}")
        self.flux_floor = float(flux_floor)
        if reference_redshift is not None:
            reference_redshift = float(reference_redshift)
            if not (np.isfinite(reference_redshift) and reference_redshift > 0):
                raise ValueError(
                    f"reference_redshift must be positive and finite, got {reference_redshift}"
                )
        self.reference_redshift = reference_redshift
        self.image_size = int(image_size)
        if self.image_size % network.config.divisor:
            raise ValueError(
                f"image_size {self.image_size} is not divisible by 2**depth = "
                f"{network.config.divisor}"
            )
        self.trained = bool(trained)
        self.info = dict(info or {})

    def __repr__(self):
        config = self.config
        state = "trained" if self.trained else "untrained"
        return (
            f"<picasso Model ({state}): {''.join(config.in_bands)} -> "
            f"{len(config.properties)} properties, {self.image_size}x{self.image_size}, depth "
            f"{config.depth}, width {config.base_width}, {self.network.n_parameters:,} parameters>"
        )

    @property
    def config(self):
        """`~picasso.nn.UNetConfig`: the architecture."""
        return self.network.config

    @property
    def bands(self):
        """tuple of str: input bands in channel order."""
        return self.config.in_bands

    @property
    def properties(self):
        """tuple of str: output properties in channel order."""
        return self.config.properties

    @property
    def keep_bands(self):
        """tuple of str or None: bands the model saw; the other input channels are zeroed
        (a model trained with the authors' band dropping), `None` for all."""
        keep = self.info.get("keep_bands")
        return None if keep is None else tuple(keep)

    @property
    def device(self):
        """`torch.device`: where the weights are."""
        return next(self.network.parameters()).device

    def to(self, device):
        """Move the network to ``device``; returns ``self``."""
        self.network.to(device)
        return self

    @property
    def header(self):
        """dict: the JSON header written with the weights."""
        from .. import __version__

        header = {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "architecture": self.config.to_dict(),
            "bands": list(self.bands),
            "properties": [
                {"name": name, "unit": PROPERTIES[name].unit.to_string()}
                for name in self.properties
            ],
            "flux_unit": self.flux_unit.to_string(),
            "flux_floor": self.flux_floor,
            "normalisation": _normalisation(self.reference_redshift),
            "reference_redshift": self.reference_redshift,
            "target": "log10",
            "image_size": self.image_size,
            "pixel_scale_convention": _pixel_scale_convention(),
            "trained": self.trained,
        }
        for key, value in self.info.items():
            header.setdefault(key, value)
        # a re-saved model keeps the version that trained it
        header.setdefault("picasso_version", __version__)
        return header

    def training_generator(self):
        """
        The generator record of the training pairs (``universe``, ``observing``, ...).

        Returns
        -------
        record : dict
            Empty when the model was not trained on ``picasso.mock`` pairs or
            does not say.
        """
        return generator_record(self.info)

    def training_observing(self):
        """
        How the model's synthetic training images were observed.

        Returns
        -------
        config : `~picasso.mock.observe.ObservingConfig` or None
            Rebuilt from the generator record of the training pairs (with
            ``image_size`` and ``bands`` of the model); `None` when the model
            was not trained on ``picasso.mock`` pairs or does not say.
        """
        from ..mock.observe import ObservingConfig

        observing = self.training_generator().get("observing")
        if not observing:
            return None
        return ObservingConfig.from_dict(observing).replace(image_size=self.image_size,
                                                            bands=tuple(self.bands))

    @property
    def card(self):
        """str: the model card in markdown (`picasso.nn.card.model_card`)."""
        from .card import model_card

        return model_card(self)

    def save(self, path, *, overwrite=False):
        """
        Write the model file.

        Parameters
        ----------
        path : str or path-like
            A ``.safetensors`` file, or a directory (``model.safetensors`` is
            written inside it).
        overwrite : bool

        Returns
        -------
        path : `~pathlib.Path`
            The file written.
        """
        tensors = {
            name: tensor.detach().to("cpu", dtype=tensor.dtype).contiguous()
            for name, tensor in self.network.state_dict().items()
        }
        path = write_model_file(path, tensors, self.header, overwrite=overwrite)
        log.info("wrote model %s", path)
        return path

    def predict_log10(self, images, *, batch_size=8, device=None, symmetries=(0,),
                      progress=False, channels_last=None, compile=False):
        """
        Network-space prediction for flux arrays (see
        `picasso.nn.predict.predict_log10`); subclasses such as ensembles
        override it, and every prediction path goes through it.
        """
        from .predict import predict_log10

        return predict_log10(self, images, batch_size=batch_size, device=device,
                             symmetries=symmetries, progress=progress,
                             channels_last=channels_last, compile=compile)

    def predict(self, cutouts, *, batch_size=8, device=None, progress=False, uncertainty=None):
        """
        Predict property maps for one cutout or a list of cutouts.

        Parameters
        ----------
        cutouts : `~picasso.GalaxyCutout` or sequence of them
        batch_size : int
        device : str or `torch.device`, optional
            Default: where the model is.
        progress : bool
            Show a progress bar.
        uncertainty : bool or None
            Per-pixel 1-sigma in dex in ``maps.uncertainty`` (see
            `picasso.nn.predict.predict_cutouts`).

        Returns
        -------
        maps : `~picasso.PropertyMaps` or list of them
            One per cutout (a single object for a single cutout).
        """
        from ..cutout import GalaxyCutout
        from .predict import predict_cutouts

        single = isinstance(cutouts, GalaxyCutout)
        maps = predict_cutouts(
            [cutouts] if single else cutouts, model=self, batch_size=batch_size, device=device,
            progress=progress, uncertainty=uncertainty,
        )
        return maps[0] if single else maps


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
    from safetensors.torch import save_file

    from ..io.atomic import atomic_path

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


def _read_header(path, metadata):
    if not metadata or _METADATA_KEY not in metadata:
        _fail(path, "its safetensors metadata has no 'picasso' header")
    try:
        header = json.loads(metadata[_METADATA_KEY])
    except json.JSONDecodeError as error:
        _fail(path, f"the header is not JSON ({error})")
    if not isinstance(header, dict) or header.get("format") != MODEL_FORMAT:
        _fail(path, f"format is {header.get('format') if isinstance(header, dict) else None!r}, "
              f"expected {MODEL_FORMAT!r}")
    if header.get("format_version") != MODEL_FORMAT_VERSION:
        _fail(path, f"format_version {header.get('format_version')!r} is not supported (this "
              f"picasso reads version {MODEL_FORMAT_VERSION}); update picasso")
    for key in ("architecture", "flux_unit", "flux_floor", "image_size", "properties", "bands"):
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
        u.Unit(header["flux_unit"])
    except ValueError as error:
        _fail(path, f"unknown flux unit {header['flux_unit']!r} ({error})")
    return header, config


def _resolve_path(path):
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
        raise FileNotFoundError(
            f"model file {path} does not exist; named architectures are "
            f"{', '.join(map(repr, ARCHITECTURES))}"
        )
    return path


def load_model(path, *, device="cpu"):
    """
    Load a model file, or build a named architecture untrained.

    Parameters
    ----------
    path : str or path-like
        A ``.safetensors`` model file, a directory holding
        ``model.safetensors``, ``"default"`` (the bundled model,
        `default_model`), or the name of an architecture in
        `ARCHITECTURES` (``"paper"``: the untrained paper-size U-Net for 256 x
        256 ugriz images in nanomaggies).
    device : str or `torch.device`
        Where to put the weights.

    Returns
    -------
    model : `Model`
        In evaluation mode.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not a picasso model: no or wrong header, truncated or
        corrupt weights, or weights that do not fit the architecture.
    """
    from safetensors import SafetensorError, safe_open

    if isinstance(path, str) and path == "default":
        return default_model().to(device)
    if isinstance(path, str) and path in ARCHITECTURES:
        model = Model(UNet(ARCHITECTURES[path]), image_size=256, trained=False,
                      info={"architecture_name": path})
        model.network.eval()
        return model.to(device)
    path = _resolve_path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            header, config = _read_header(path, handle.metadata())
            if isinstance(header.get("ensemble"), dict):
                from .ensemble import load_ensemble

                return load_ensemble(path, device=device)
            state = {name: handle.get_tensor(name) for name in handle.keys()}
    except SafetensorError as error:
        _fail(path, f"the weights are truncated or corrupt ({error})")
    network = UNet(config)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        _fail(path, f"the weights do not fit the architecture in its header ({error})")
    known = {"format", "format_version", "architecture", "bands", "properties", "flux_unit",
             "flux_floor", "image_size", "trained", "normalisation", "target",
             "pixel_scale_convention", "reference_redshift"}
    info = {key: value for key, value in header.items() if key not in known}
    model = Model(network, flux_unit=header["flux_unit"], flux_floor=header["flux_floor"],
                  reference_redshift=header.get("reference_redshift"),
                  image_size=header["image_size"], trained=header.get("trained", True), info=info)
    model.network.eval()
    return model.to(device)


def default_model():
    """
    The model bundled with picasso (``picasso/data/model.safetensors``).

    A slim U-Net trained on picasso's synthetic universe, observed at SDSS
    depth, by ``tools/train_default_model.py``; its header records the exact
    command, seeds, dataset, held-out metrics and the calibration of its
    uncertainties (``model.card`` renders them). The paper-size network
    (124 MB in float32) is too big to ship; build it with
    ``load_model("paper")`` and train it on a GPU.

    Returns
    -------
    model : `Model`

    Raises
    ------
    RuntimeError
        If the bundled file is missing from the installation.
    """
    bundled = Path(__file__).resolve().parent.parent / "data" / MODEL_FILENAME
    if bundled.exists():
        return load_model(bundled)
    raise RuntimeError(
        f"the model bundled with picasso is missing ({bundled} does not exist); reinstall "
        "picasso, or train one with 'picasso train pairs.h5 -o model_dir --preset small' and "
        "pass model='model_dir'"
    )
