"""
`Model`: a trained network with everything needed to use it correctly.

A `Model` joins a `~picasso.nn.UNet` to the `~picasso.nn.transforms.InputTransform`
it was trained with, the image size and the field-of-view convention of its
training images, and the provenance recorded in its file
(`picasso.nn.model_file`). It checks every cutout against all of that and
refuses a mismatch with a message that says what to do
(`Model.input_flux`), runs the network (`Model.predict_log10`) and returns
`~picasso.PropertyMaps` in physical units with the cutout's WCS
(`Model.predict`), with out-of-distribution diagnostics in ``maps.meta``.

On CPUs and GPUs that compute in bf16 natively (`native_bf16`) the network
runs in bf16 autocast with its 1x1 output heads in float32, unless that moves
a model's outputs by more than `BF16_TOLERANCE_DEX` (checked once per model
and device); ``precision="fp32"`` forces float32.
"""

import logging
from pathlib import Path

import astropy.units as u
import numpy as np
import torch

from ..cutout import GalaxyCutout
from ..maps import PropertyMaps
from ..properties import LOG10_EMPTY, PROPERTIES
from ..radius import RADIUS_KINDS
from ..utils.version import version
from .diagnostics import (
    diagnose,
    log_unphysical,
    psf_fwhm_pixels,
    unphysical_pixels,
    warn_out_of_distribution,
)
from .model_file import (
    HEADER_KEYS,
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    read_model_file,
    write_model_file,
)
from .transforms import InputTransform, d4_inverse, d4_transform
from .unet import UNet

__all__ = [
    "Model",
    "ESTIMATES",
    "native_bf16",
    "PRECISIONS",
    "BF16_TOLERANCE_DEX",
    "BF16_CHECK_IMAGES",
    "FIELD_OF_VIEW_R_HALF",
    "FIELD_OF_VIEW_R_HALF_KIND",
    "FIELD_OF_VIEW_TOLERANCE",
]

log = logging.getLogger(__name__)

#: Field of view of a training image in stellar half radii (+-5 R_half) ...
FIELD_OF_VIEW_R_HALF = 10.0
#: ... of this kind (`picasso.radius.RADIUS_KINDS`): the mocks' fields are cut to
#: 10 3-D stellar half-mass radii.
FIELD_OF_VIEW_R_HALF_KIND = "mass_3d"

#: What predicted maps hold (`Model.predict`): the expected value of each pixel (unbiased
#: totals) or the network's median (the mean of log10).
ESTIMATES = ("mean", "median")

#: Largest accepted relative difference between a cutout's field of view (in
#: the model's half radii, when the cutout knows its radius) and the model's.
FIELD_OF_VIEW_TOLERANCE = 0.25


#: Inference precisions of `Model.predict_log10`.
PRECISIONS = ("auto", "fp32", "bf16")

#: Largest move (dex) from a pixel's median to its expected value (`Model.expected_log10`).
#: It is reached at a 1-sigma of about 3 dex, where the network says it knows nothing of
#: the pixel (the sky around faint galaxies, which the loss hardly weights); unbounded, the
#: lognormal mean of such a pixel overflowed to infinity (a 1-sigma of ~20 dex in one SFR
#: pixel of the bundled model). Values this far above the median exceed every property's
#: `~picasso.properties.Property.physical_maximum` and are counted as unphysical.
MAX_MEAN_SHIFT_DEX = 10.0

#: Largest change (dex) that bf16 may make to any pixel of any output (a log10 map or its
#: 1-sigma) for ``precision="auto"`` to keep it.
BF16_TOLERANCE_DEX = 0.01

#: Images of the first batch on which ``precision="auto"`` compares bf16 with float32.
BF16_CHECK_IMAGES = 4


def _same_device(wanted, current):
    """Whether ``wanted`` (``cuda`` means the current CUDA device) is ``current``."""
    if wanted.type != current.type:
        return False
    if wanted.index is None:
        return wanted.type != "cuda" or current.index == torch.cuda.current_device()
    return wanted.index == current.index


def native_bf16(device="cpu"):
    """
    How ``device`` computes in bf16 natively, or `None` where bf16 would be emulated.

    bf16 inference pays only where the hardware has bf16 arithmetic: on CPUs
    with AMX or AVX512-BF16 instructions (asked of torch, or read from
    ``/proc/cpuinfo`` when torch cannot say), on CUDA GPUs that support it.

    Parameters
    ----------
    device : str or `torch.device`

    Returns
    -------
    instructions : str or None
        ``"amx"``, ``"avx512_bf16"``, ``"cuda"``, or `None`.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return "cuda" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else None
    if device.type != "cpu":
        return None
    for name, probe in (("amx", "_is_amx_tile_supported"),
                        ("avx512_bf16", "_is_avx512_bf16_supported")):
        check = getattr(torch.cpu, probe, None)
        if check is None:
            break
        try:
            if check():
                return name
        except RuntimeError:
            break
    else:
        return None
    return _cpuinfo_bf16()


def _cpuinfo_bf16():
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines()
                      if line.startswith("flags")), []))
    if "amx_bf16" in flags:
        return "amx"
    if "avx512_bf16" in flags:
        return "avx512_bf16"
    return None


class _Features(torch.nn.Module):
    """The network without its heads, as a module (what `torch.compile` is given)."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, x):
        return self.network.features(x)


def _pixel_scale_convention():
    return {
        "field_of_view_r_half": FIELD_OF_VIEW_R_HALF,
        "r_half_kind": FIELD_OF_VIEW_R_HALF_KIND,
        "description": (
            f"each image spans field_of_view_r_half {RADIUS_KINDS[FIELD_OF_VIEW_R_HALF_KIND]}"
            "ii (centred on the galaxy), so the pixel scale in kpc is field_of_view_r_half * "
            "r_half / image_size"
        ),
    }


class Model:
    """
    A network with the input contract and header that say how to feed it and read its output.

    Parameters
    ----------
    network : `~picasso.nn.UNet`
    transform : `~picasso.nn.transforms.InputTransform`, optional
        The input contract; by default flux per kpc2 in nanomaggies, the
        default floor, no reference redshift, for the network's bands.
    image_size : int
        Side of the training images in pixels.
    trained : bool
        Whether the weights were trained (an untrained architecture predicts
        noise).
    info : dict, optional
        Provenance for the header (``training_data``, ``train_config``,
        ``metrics``, ``split``, ``seed``, ...).

    Attributes
    ----------
    last_precision : dict or None
        The arithmetic of the last `predict_log10` call: ``precision``
        (``'bf16'`` or ``'fp32'``), ``reason``, and after an automatic choice
        the largest change bf16 made to each output (``max_abs_delta_dex``).
    """

    def __init__(self, network, transform=None, *, image_size=256, trained=False, info=None):
        if not isinstance(network, UNet):
            raise TypeError(f"network must be a picasso.nn.UNet, got {type(network).__name__}")
        self.network = network
        if transform is None:
            transform = InputTransform(bands=network.config.in_bands)
        if not isinstance(transform, InputTransform):
            raise TypeError(f"transform must be an InputTransform, got {type(transform).__name__}")
        if transform.bands != network.config.in_bands:
            raise ValueError(
                f"the input transform's bands {''.join(transform.bands)} differ from the "
                f"network's {''.join(network.config.in_bands)}"
            )
        if transform.conditions != network.config.conditions:
            raise ValueError(
                f"the input transform's conditions {transform.conditions} differ from the "
                f"network's {network.config.conditions}"
            )
        self.transform = transform
        self.image_size = int(image_size)
        if self.image_size % network.config.divisor:
            raise ValueError(
                f"image_size {self.image_size} is not divisible by 2**depth = "
                f"{network.config.divisor}"
            )
        self.trained = bool(trained)
        self.info = dict(info or {})
        self.last_precision = None

    def __repr__(self):
        config = self.config
        state = "trained" if self.trained else "untrained"
        return (
            f"<picasso Model ({state}): {''.join(config.in_bands)} -> "
            f"{len(config.properties)} properties, {self.image_size}x{self.image_size}, depth "
            f"{config.depth}, width {config.base_width}, {self.network.n_parameters:,} parameters>"
        )

    # -- what the model is -------------------------------------------------------------------

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
    def flux_unit(self):
        """`~astropy.units.Unit`: flux unit of the input images (per pixel)."""
        return self.transform.flux_unit

    @property
    def flux_floor(self):
        """float: floor of the input logarithm, in `flux_unit` per kpc2."""
        return self.transform.flux_floor

    @property
    def reference_redshift(self):
        """float or None: the redshift every input is moved to."""
        return self.transform.reference_redshift

    @property
    def keep_bands(self):
        """tuple of str or None: bands the model saw; the other input channels are zeroed."""
        return self.transform.keep_bands

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
        header = {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "architecture": self.config.to_dict(),
            "bands": list(self.bands),
            "properties": [
                {"name": name, "unit": PROPERTIES[name].unit.to_string()}
                for name in self.properties
            ],
            "input_transform": self.transform.to_dict(),
            "target": "log10",
            "image_size": self.image_size,
            "pixel_scale_convention": _pixel_scale_convention(),
            "trained": self.trained,
        }
        for key, value in self.info.items():
            header.setdefault(key, value)
        # a re-saved model keeps the version that trained it
        header.setdefault("picasso_version", version)
        return header

    # -- files -------------------------------------------------------------------------------

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

    @classmethod
    def from_file_contents(cls, header, config, tensors, *, source="the model file"):
        """
        Build a model from what `~picasso.nn.model_file.read_model_file` returned.

        Parameters
        ----------
        header : dict
        config : `~picasso.nn.UNetConfig`
        tensors : dict
            The network's state dict.
        source : str
            Named in error messages.

        Returns
        -------
        model : `Model`
            In evaluation mode, on the CPU.
        """
        network = UNet(config)
        try:
            network.load_state_dict(tensors, strict=True)
        except RuntimeError as error:
            raise ValueError(f"{source} is not a valid picasso model file: the weights do not "
                             f"fit the architecture in its header ({error})") from None
        network.eval()
        info = {key: value for key, value in header.items() if key not in HEADER_KEYS}
        return cls(network, InputTransform.from_dict(header["input_transform"]),
                   image_size=header["image_size"], trained=header.get("trained", True),
                   info=info)

    @classmethod
    def load(cls, path, *, device="cpu"):
        """
        Read a single-network model file (`picasso.load_model` reads ensembles too).

        Parameters
        ----------
        path : str or path-like
            A ``.safetensors`` file or a directory holding ``model.safetensors``.
        device : str or `torch.device`

        Returns
        -------
        model : `Model`
        """
        header, config, tensors = read_model_file(path)
        if "ensemble" in header:
            raise ValueError(f"{path} holds an ensemble; load it with picasso.load_model")
        return cls.from_file_contents(header, config, tensors, source=str(path)).to(device)

    # -- prediction --------------------------------------------------------------------------

    def _check_field_of_view(self, cutout):
        """Refuse a cutout whose field of view, in half radii, differs from the training images'."""
        r_half = getattr(cutout, "r_half", None)
        if r_half is None or cutout.pixel_scale_kpc is None:
            log.debug("the cutout does not record its half radius; its field of view is assumed "
                      "to follow the model's convention (%g r_half)", FIELD_OF_VIEW_R_HALF)
            return
        own = r_half.as_kind(FIELD_OF_VIEW_R_HALF_KIND)
        field = (cutout.shape[0] * u.pix * cutout.pixel_scale_kpc / own.value).decompose().value
        if abs(field / FIELD_OF_VIEW_R_HALF - 1) > FIELD_OF_VIEW_TOLERANCE:
            converted = ("" if r_half.kind == own.kind else
                         f" (its {r_half.description} {r_half.value:.3g} taken as "
                         f"{own.value:.3g})")
            raise ValueError(
                f"the cutout spans {field:.3g} times its {own.description}{converted}; the "
                f"model was trained on images spanning {FIELD_OF_VIEW_R_HALF:g} times it; re-cut "
                f"the image to {FIELD_OF_VIEW_R_HALF:g} x {own.value:.3g} = "
                f"{FIELD_OF_VIEW_R_HALF * own.value:.3g} across"
            )

    def input_flux(self, cutout):
        """
        Check a cutout against the model and give its flux as the model takes it.

        Parameters
        ----------
        cutout : `~picasso.GalaxyCutout`

        Returns
        -------
        flux_per_kpc2 : `numpy.ndarray`
            float32 ``(n_bands + n_conditions, N, N)``:
            `~picasso.nn.transforms.InputTransform.from_cutout`, the input
            before the logarithm.

        Raises
        ------
        TypeError
            If ``cutout`` is not a `~picasso.GalaxyCutout`.
        ValueError
            If bands, size, flux unit or field of view do not match, or the
            model needs a redshift or pixel scale the cutout lacks; the message
            says how to fix the cutout.
        """
        if not isinstance(cutout, GalaxyCutout):
            raise TypeError(f"expected a picasso.GalaxyCutout, got {type(cutout).__name__}")
        size = self.image_size
        if tuple(cutout.shape) != (size, size):
            raise ValueError(
                f"the model was trained on {size} x {size} images, the cutout is "
                f"{cutout.shape[0]} x {cutout.shape[1]}; resample it to {size} x {size} pixels "
                f"spanning {FIELD_OF_VIEW_R_HALF:g} stellar half-mass radii (e.g. with "
                "GalaxyCutout.from_sdss_frames(..., size=...))"
            )
        self._check_field_of_view(cutout)
        return self.transform.from_cutout(cutout)

    def _compiled_features(self):
        if getattr(self, "_compiled", None) is None:
            # frozen weights let inductor pack them for oneDNN and fuse each convolution with
            # its ReLU; the weights must not change afterwards (inference only)
            self._compiled = torch.compile(_Features(self.network), options={"freezing": True})
        return self._compiled

    def _forward(self, features, x, bf16):
        """
        The network's output in float32: its body in bf16 autocast or float32, its heads in
        float32 (bf16 would round log10 values near 8 to 0.03 dex).
        """
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            body = features(x)
        return self.network.heads(body.float())

    def _choose_precision(self, precision, device, features, x):
        """Resolve ``precision`` for this model and device; returns (use_bf16, record)."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if precision == "fp32":
            return False, {"precision": "fp32", "reason": "asked for"}
        instructions = native_bf16(device)
        if precision == "bf16":
            if instructions is None:
                log.warning("%s has no native bf16 arithmetic: bf16 inference is emulated and "
                            "slower than float32", device)
            return True, {"precision": "bf16", "reason": "asked for",
                          "instructions": instructions}
        if instructions is None:
            return False, {"precision": "fp32", "reason": f"no native bf16 on {device}"}
        checks = self.__dict__.setdefault("_bf16_checks", {})
        key = str(device)
        if key not in checks:
            checks[key] = self._check_bf16(features, x[:BF16_CHECK_IMAGES], instructions)
        return checks[key]["precision"] == "bf16", dict(checks[key])

    def _check_bf16(self, features, x, instructions):
        """Compare bf16 with float32 on a few images: bf16 if no output moves more than allowed."""
        reference = self.network.split_output(self._forward(features, x, False))
        trial = self.network.split_output(self._forward(features, x, True))
        moved = {}
        for kind, old, new in zip(("log10", "sigma"), reference, trial):
            if old is None:
                continue
            if kind == "sigma":  # ln(sigma / dex) -> the change of sigma in dex
                old, new = torch.exp(old), torch.exp(new)
            delta = (new - old).abs().amax(dim=(0, 2, 3))
            for name, value in zip(self.properties, delta.tolist()):
                label = name if kind == "log10" else f"{name}_sigma"
                moved[label] = float(value)
        worst = max(moved, key=moved.get)
        keep = moved[worst] <= BF16_TOLERANCE_DEX
        if not keep:
            log.warning("bf16 moves this model's %s by up to %.3g dex (more than %g) on the "
                        "first images: predicting in float32", worst, moved[worst],
                        BF16_TOLERANCE_DEX)
        return {"precision": "bf16" if keep else "fp32",
                "reason": (f"bf16 moved no output more than {BF16_TOLERANCE_DEX:g} dex on the "
                           f"first {x.shape[0]} image(s)") if keep else
                          f"bf16 moved {worst} by up to {moved[worst]:.3g} dex",
                "instructions": instructions, "tolerance_dex": BF16_TOLERANCE_DEX,
                "max_abs_delta_dex": moved}

    def predict_log10(self, images, *, batch_size=8, device=None, symmetries=(0,),
                      progress=False, channels_last=True, compile=False, precision="auto"):
        """
        Run the network on input fluxes: the numeric core of every prediction path.

        Parameters
        ----------
        images : array-like or sequence of arrays
            ``(n, n_planes, N, N)`` moved flux per kpc2 and condition planes
            (`input_flux`).
        batch_size : int
        device : str or `torch.device`, optional
            Default: where the model is.
        symmetries : sequence of int
            Symmetries of the square to average over (test-time augmentation);
            ``range(8)`` averages all eight, ``(0,)`` is a single pass.
        progress : bool
            Show a progress bar.
        channels_last : bool
            Channels-last memory format (measured faster than NCHW on CPUs,
            ``benchmarks/bench_nn.py``, and standard on GPUs).
        compile : bool
            Run the network through `torch.compile` with frozen weights: worth
            its minutes of compilation per image shape for a catalogue, not for
            one galaxy.
        precision : {'auto', 'fp32', 'bf16'}
            ``'auto'`` (default): bf16 autocast where the device computes in
            bf16 natively (`native_bf16`), unless bf16 moves any pixel of any
            output of this model by more than `BF16_TOLERANCE_DEX` on the
            first `BF16_CHECK_IMAGES` images (checked once per model and
            device, logged, and recorded in `last_precision`); float32
            elsewhere. ``'fp32'`` forces float32,
            ``'bf16'`` forces bf16. The 1x1 output heads always run in
            float32.

        Returns
        -------
        log10_maps : `numpy.ndarray`
            float32 ``(n, n_properties, N, N)``.
        sigma_dex : `numpy.ndarray` or None
            1-sigma uncertainty in dex, same shape, for a heteroscedastic model
            (combined with the spread across ``symmetries``).
        """
        from tqdm.auto import tqdm

        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        symmetries = tuple(symmetries)
        if not symmetries:
            raise ValueError("symmetries must name at least one symmetry (0 is the identity)")
        network = self.network
        here = next(network.parameters()).device
        if device is not None and not _same_device(torch.device(device), here):
            network.to(device)
        device = next(network.parameters()).device
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if getattr(network, "_picasso_memory_format", None) != (memory_format, device):
            # walking every parameter costs a millisecond a call on a GPU: done when it changes
            network.to(memory_format=memory_format)
            network._picasso_memory_format = (memory_format, device)
        network.eval()
        features = self._compiled_features() if compile else network.features
        n = len(images)
        n_properties = len(self.properties)
        log10_maps = sigmas = None
        use_bf16 = None
        finite = torch.ones((), dtype=torch.bool, device=device)
        # freezing needs no_grad; otherwise inference_mode skips autograd bookkeeping entirely
        with torch.no_grad() if compile else torch.inference_mode():
            for start in tqdm(range(0, n, int(batch_size)), disable=not progress, desc="predict"):
                chunk = images[start:start + int(batch_size)]
                if isinstance(chunk, np.ndarray):
                    # an array's rows are read in place, not copied into a new batch
                    batch = np.ascontiguousarray(chunk, dtype=np.float32)
                else:
                    batch = np.stack([np.asarray(image, dtype=np.float32) for image in chunk])
                x = self.transform.normalise(torch.from_numpy(batch).to(device))
                x = x.contiguous(memory_format=memory_format)
                if use_bf16 is None:
                    use_bf16, record = self._choose_precision(precision, device, features, x)
                    self.last_precision = record
                means, variances = [], []
                for k in symmetries:
                    xk = d4_transform(x, k).contiguous(memory_format=memory_format)
                    mean, log_sigma = network.split_output(self._forward(features, xk, use_bf16))
                    means.append(d4_inverse(mean, k))
                    if log_sigma is not None:
                        variances.append(d4_inverse(torch.exp(2 * log_sigma), k))
                stacked = torch.stack(means)
                mean = stacked.mean(0)
                # checked where the maps are, and read back once at the end
                finite &= torch.isfinite(mean).all()
                if log10_maps is None:
                    shape = (n, n_properties, *mean.shape[-2:])
                    log10_maps = np.empty(shape, dtype=np.float32)
                    if variances:
                        sigmas = np.empty(shape, dtype=np.float32)
                rows = slice(start, start + len(batch))
                # one copy from the device straight into the output
                torch.from_numpy(log10_maps[rows]).copy_(mean)
                if variances:
                    spread = stacked.var(0, unbiased=False)
                    sigma = torch.sqrt(torch.stack(variances).mean(0) + spread)
                    torch.from_numpy(sigmas[rows]).copy_(sigma)
        if log10_maps is None:
            return np.empty((0, n_properties, 0, 0), dtype=np.float32), None
        if not bool(finite):
            raise FloatingPointError("the network produced non-finite values; the model is broken")
        scale = self.info.get("uncertainty_scale")
        if sigmas is not None and scale:
            # calibrated on held-out pairs (picasso.studies.calibration.fit_uncertainty_scale)
            factors = np.array([scale.get(name, 1.0) for name in self.properties], np.float32)
            sigmas *= factors[None, :, None, None]
        return log10_maps, sigmas

    def expected_log10(self, log10_maps, sigma_dex):
        """
        log10 of the expected surface densities: the network's log10 maps moved to the mean.

        The network predicts the mean of log10 (the median of a lognormal)
        with a 1-sigma in dex; the expected linear value is
        ``10**(mu + c ln(10) sigma**2 / 2)`` with ``c = 1`` for Gaussian errors
        in log10, or the per-property ``c`` the model records
        (``info["mean_correction"]``, fitted on held-out galaxies by
        `picasso.studies.calibration.fit_mean_correction`: the errors of
        sparse maps are skewed). Sums of expected values are unbiased totals,
        where sums of medians fall short wherever the network is unsure (below
        the PSF, at low S/N). The mass-weighted age is an intensive property
        and keeps its median. A pixel whose median lies below the lowest
        surface densities the model was trained on (``info["known_floor_log10"]``,
        `picasso.studies.calibration.fit_known_floor`) keeps its median too:
        there the truth was empty, the sigma never trained, and its mean would
        put star formation in the sky. The move from the median is at most
        `MAX_MEAN_SHIFT_DEX`, so that a pixel the network knows nothing about
        gets a finite (and unphysical, hence counted) value, not infinity.

        Parameters
        ----------
        log10_maps : `numpy.ndarray`
            ``(n, n_properties, N, N)`` from `predict_log10`.
        sigma_dex : `numpy.ndarray` or None
            Its 1-sigma; without one the maps are returned as they are.

        Returns
        -------
        log10_maps : `numpy.ndarray`
        """
        if sigma_dex is None:
            return log10_maps
        extensive = np.array([PROPERTIES[name].is_extensive for name in self.properties])
        weights = self.info.get("mean_correction") or {}
        weight = np.array([weights.get(name, 1.0) for name in self.properties], np.float32)
        shift = np.minimum(0.5 * np.log(10.0) * weight[None, :, None, None]
                           * np.asarray(sigma_dex, dtype=np.float64) ** 2, MAX_MEAN_SHIFT_DEX)
        floors = self.info.get("known_floor_log10") or {}
        floor = np.array([floors.get(name, LOG10_EMPTY / 2) for name in self.properties])
        untrained = log10_maps <= floor[None, :, None, None]
        shift = np.where(untrained | ~extensive[None, :, None, None], 0.0, shift)
        return (log10_maps + shift).astype(np.float32)

    @property
    def has_uncertainty(self):
        """bool: whether predictions come with a per-pixel 1-sigma (uncertainty head)."""
        return bool(self.config.heteroscedastic)

    def predict(self, cutouts, *, batch_size=8, device=None, symmetries=(0,), progress=False,
                uncertainty=None, compile=False, precision="auto", estimate="mean"):
        """
        Predict property maps for one cutout or a list of cutouts.

        Parameters
        ----------
        cutouts : `~picasso.GalaxyCutout` or sequence of them
        batch_size : int
            Images per forward pass.
        device : str or `torch.device`, optional
            Default: where the model is.
        symmetries : sequence of int
            Test-time augmentation over these symmetries of the square.
        progress : bool
            Show a progress bar.
        uncertainty : bool or None
            ``True``: give every map a per-pixel 1-sigma in dex
            (``maps.uncertainty``), which needs a deep ensemble
            (`picasso.nn.ensemble.Ensemble`) or a model with the heteroscedastic
            head; ``False``: leave it out; `None` (default): include it when the
            model provides one.
        compile : bool
            Use the compiled network (see `predict_log10`).
        precision : {'auto', 'fp32', 'bf16'}
            Arithmetic of the network (see `predict_log10`); the one used is
            recorded in ``meta['precision']``.
        estimate : {'mean', 'median'}
            What a pixel holds when the model gives an uncertainty: its
            expected value (`expected_log10`; default: sums are unbiased
            totals) or the network's median; recorded in ``meta['estimate']``.

        Returns
        -------
        maps : `~picasso.PropertyMaps` or list of them
            One per cutout (a single object for a single cutout): surface
            densities (and mean age) in registry units with the cutout's WCS,
            physical pixel scale and mask; ``meta`` records the model, the
            cutout's own metadata and, when the model records its training
            inputs, the out-of-distribution diagnostics (``meta['ood']``), and
            the arithmetic of the network (``meta['precision']``: ``'bf16'`` or
            ``'fp32'``, why, and for ``'auto'`` the largest change bf16 made
            to each output on the first image).

        Raises
        ------
        ValueError
            If a cutout does not fit the model (see `input_flux`), or
            ``uncertainty=True`` and the model gives no uncertainty.
        """
        single = isinstance(cutouts, GalaxyCutout)
        cutouts = [cutouts] if single else list(cutouts)
        if uncertainty and not self.has_uncertainty:
            raise ValueError(
                "uncertainty=True needs a model that predicts one: a deep ensemble "
                "(picasso.nn.ensemble.train_ensemble / load_ensemble) or a network with the "
                "heteroscedastic head (UNetConfig(heteroscedastic=True)); this model has neither"
            )
        if not self.trained:
            log.warning("the model is untrained: its predictions are meaningless")
        images = []
        for index, cutout in enumerate(cutouts):
            try:
                images.append(self.input_flux(cutout))
            except ValueError as error:
                raise ValueError(f"cutout {index}: {error}") from None
        if estimate not in ESTIMATES:
            raise ValueError(f"estimate must be one of {ESTIMATES}, got {estimate!r}")
        log10_maps, sigmas = self.predict_log10(images, batch_size=batch_size, device=device,
                                                symmetries=symmetries, progress=progress,
                                                compile=compile, precision=precision)
        if estimate == "mean":
            log10_maps = self.expected_log10(log10_maps, sigmas)
        if uncertainty is False:
            sigmas = None
        model_meta = {"model_trained": self.trained,
                      "model_version": self.header.get("picasso_version"),
                      "estimate": estimate if sigmas is not None or estimate == "median"
                      else "median (the model gives no uncertainty)",
                      "precision": getattr(self, "last_precision", None)}
        ood = diagnose(self, images, psf_fwhm_pixels=[psf_fwhm_pixels(c) for c in cutouts],
                       sigma_dex=sigmas, properties=self.properties)
        labels = [f"cutout {i}" for i in range(len(cutouts))]
        warn_out_of_distribution(ood, labels, stacklevel=3)
        # an untrained network's values are meaningless anyway (and said to be)
        unphysical = (unphysical_pixels(log10_maps, self.properties) if self.trained
                      else [{} for _ in cutouts])
        log_unphysical(unphysical, labels)
        maps = []
        for index, cutout in enumerate(cutouts):
            meta = {**(cutout.meta or {}), **model_meta,
                    "unphysical_pixels": unphysical[index]}
            if ood is not None:
                meta["ood"] = ood[index]
            maps.append(PropertyMaps.from_log10(
                log10_maps[index], self.properties, pixel_scale=cutout.pixel_scale_kpc,
                wcs=cutout.wcs, uncertainty=None if sigmas is None else sigmas[index],
                no_data=cutout.combined_mask, r_half=cutout.r_half, meta=meta,
            ))
        return maps[0] if single else maps

