"""
The U-Net of PICASSO (Buck & Wolf): ugriz images in, log10 property maps out.

The default `UNetConfig` is the paper's network: depth 4, two 3x3 convolutions
(padding 1) with ReLU per level, 2x2 max pooling down, features 64-128-256-512
with a 1024-feature bottleneck, bilinear x2 upsampling followed by a 1x1
convolution, skip connections by concatenation, a 1x1 head and no final
activation or normalisation layers: 28.9 million parameters for 5 bands and 7
properties.
"""

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from ..properties import BANDS, PROPERTIES

__all__ = ["UNetConfig", "UNet", "ConvBlock", "Down", "Up", "CONDITIONS"]

#: Observing conditions a network can take as input planes (`UNetConfig.conditions`).
CONDITIONS = ("psf_fwhm", "redshift")


@dataclass(frozen=True)
class UNetConfig:
    """
    Architecture of a `UNet`; saved with the weights in every model file.

    Parameters
    ----------
    depth : int
        Number of 2x2 poolings; the image side must be divisible by
        ``2 ** depth``.
    base_width : int
        Features of the first level; level ``k`` has
        ``base_width * growth ** k``.
    growth : int
        Factor between the widths of consecutive levels.
    in_bands : tuple of str
        Input bands, in channel order (names from `picasso.properties.BANDS`).
        A model with fewer bands is a true fewer-band model; see
        `picasso.nn.transforms.zero_bands` for the authors' zeroed channels.
    properties : tuple of str
        Output properties, in channel order (names from
        `picasso.properties.PROPERTIES`).
    heteroscedastic : bool
        Add a second head that predicts the natural log of a per-pixel
        1-sigma uncertainty (in dex) for every property.
    conditions : tuple of str
        Observing conditions given to the network as constant input planes
        after the bands, in this order (`CONDITIONS`): ``"psf_fwhm"`` (the
        image's PSF FWHM in pixels) and ``"redshift"``. A network that knows
        its image's resolution serves galaxies observed at any of the
        resolutions it was trained on.
    """

    depth: int = 4
    base_width: int = 64
    growth: int = 2
    in_bands: tuple = BANDS.names
    properties: tuple = PROPERTIES.names
    heteroscedastic: bool = False
    conditions: tuple = ()

    def __post_init__(self):
        for name in ("depth", "base_width", "growth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"UNetConfig.{name} must be a positive integer, got {value!r}")
        object.__setattr__(self, "in_bands", BANDS.validate(self.in_bands))
        object.__setattr__(self, "properties", PROPERTIES.validate(self.properties))
        if not isinstance(self.heteroscedastic, bool):
            raise TypeError(
                f"UNetConfig.heteroscedastic must be True or False, got {self.heteroscedastic!r}"
            )
        conditions = tuple(self.conditions)
        unknown = [name for name in conditions if name not in CONDITIONS]
        if unknown or len(set(conditions)) != len(conditions):
            raise ValueError(f"UNetConfig.conditions must be distinct names from {CONDITIONS}, "
                             f"got {conditions!r}")
        object.__setattr__(self, "conditions", conditions)

    @property
    def in_channels(self):
        """int: input planes: one per band, then one per condition."""
        return len(self.in_bands) + len(self.conditions)

    @property
    def widths(self):
        """tuple of int: features per level, from the top level to the bottleneck."""
        return tuple(self.base_width * self.growth**level for level in range(self.depth + 1))

    @property
    def divisor(self):
        """int: the image side must be a multiple of this (``2 ** depth``)."""
        return 2**self.depth

    def to_dict(self):
        """dict: JSON-ready form (lists for the name tuples)."""
        config = asdict(self)
        config["in_bands"] = list(self.in_bands)
        config["properties"] = list(self.properties)
        config["conditions"] = list(self.conditions)
        return config

    @classmethod
    def from_dict(cls, config):
        """
        Build a configuration from `to_dict` output.

        Raises
        ------
        ValueError
            If a key is unknown or a value is invalid.
        """
        if not isinstance(config, dict):
            raise TypeError(f"a UNet configuration must be a dict, got {type(config).__name__}")
        known = {field.name for field in fields(cls)}
        unknown = set(config) - known
        if unknown:
            raise ValueError(
                f"unknown UNet configuration key(s) {sorted(unknown)}; known keys are "
                f"{sorted(known)}"
            )
        config = dict(config)
        for key in ("in_bands", "properties", "conditions"):
            if key in config:
                config[key] = tuple(config[key])
        return cls(**config)


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions (padding 1), each followed by a ReLU."""

    def __init__(self, in_channels, out_channels):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
        )


class Down(nn.Sequential):
    """2x2 max pooling followed by a `ConvBlock`."""

    def __init__(self, in_channels, out_channels):
        super().__init__(nn.MaxPool2d(2), ConvBlock(in_channels, out_channels))


class Up(nn.Module):
    """
    Bilinear x2 upsampling and a 1x1 convolution, concatenation with the skip
    connection, then a `ConvBlock`.
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.reduce = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.block = ConvBlock(2 * out_channels, out_channels)

    def forward(self, x, skip):
        """Upsample ``x``, join it with ``skip`` and convolve."""
        x = self.reduce(self.upsample(x))
        return self.block(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    """
    U-Net from ln-flux images to log10 property maps.

    Parameters
    ----------
    config : `UNetConfig`, optional
        Architecture; the paper's by default.

    Notes
    -----
    Input: ``(batch, len(config.in_bands), ny, nx)`` normalised images (see
    `picasso.nn.transforms.normalize_flux`), with ``ny`` and ``nx`` multiples
    of ``2 ** config.depth``. Output: ``(batch, n_out, ny, nx)`` with
    ``n_out = len(config.properties)``, or twice that for a heteroscedastic
    network, whose second half holds ln(sigma / dex); `split_output`
    separates the two.
    """

    def __init__(self, config=None):
        super().__init__()
        if config is None:
            config = UNetConfig()
        if not isinstance(config, UNetConfig):
            raise TypeError(f"config must be a UNetConfig, got {type(config).__name__}")
        self.config = config
        widths = config.widths
        self.inc = ConvBlock(config.in_channels, widths[0])
        self.down = nn.ModuleList(Down(widths[k], widths[k + 1]) for k in range(config.depth))
        self.up = nn.ModuleList(Up(widths[k + 1], widths[k]) for k in reversed(range(config.depth)))
        n_properties = len(config.properties)
        self.head = nn.Conv2d(widths[0], n_properties, kernel_size=1)
        self.log_sigma_head = (
            nn.Conv2d(widths[0], n_properties, kernel_size=1) if config.heteroscedastic else None
        )

    @property
    def n_parameters(self):
        """int: number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def check_input_shape(self, shape):
        """
        Check that a batch of this shape fits the network.

        Parameters
        ----------
        shape : tuple of int
            ``(batch, channels, ny, nx)``.

        Raises
        ------
        ValueError
            If the number of channels is wrong or a side is not a multiple of
            ``2 ** depth``.
        """
        if len(shape) != 4:
            raise ValueError(
                f"the network takes a 4-d batch (batch, bands, ny, nx), got shape {tuple(shape)}"
            )
        if shape[1] != self.config.in_channels:
            planes = ", ".join(self.config.in_bands + self.config.conditions)
            raise ValueError(
                f"the network takes {self.config.in_channels} input planes ({planes}), "
                f"got {shape[1]} channels"
            )
        divisor = self.config.divisor
        if shape[2] % divisor or shape[3] % divisor:
            raise ValueError(
                f"image size {shape[2]}x{shape[3]} is not divisible by 2**depth = {divisor}; "
                f"crop or resample the images to a multiple of {divisor} pixels per side"
            )

    def forward(self, x):
        """
        Predict log10 maps (and ln sigma for a heteroscedastic network).

        Parameters
        ----------
        x : `torch.Tensor`
            Normalised images, ``(batch, bands, ny, nx)``.

        Returns
        -------
        out : `torch.Tensor`
            ``(batch, n_out, ny, nx)``; see the class notes.
        """
        return self.heads(self.features(x))

    def features(self, x):
        """
        The encoder and decoder: the features the 1x1 heads read, ``(batch, base_width, ny, nx)``.

        `forward` is ``heads(features(x))``; inference in bf16 runs this part
        in bf16 and the heads in float32 (`picasso.nn.Model.predict_log10`).
        """
        self.check_input_shape(x.shape)
        skips = [self.inc(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.up:
            x = up(x, skips.pop())
        return x

    def heads(self, features):
        """
        The 1x1 output convolutions applied to `features`: the network's output.

        Parameters
        ----------
        features : `torch.Tensor`
            ``(batch, base_width, ny, nx)``.

        Returns
        -------
        out : `torch.Tensor`
            ``(batch, n_out, ny, nx)``.
        """
        if self.log_sigma_head is None:
            return self.head(features)
        return torch.cat([self.head(features), self.log_sigma_head(features)], dim=1)

    def split_output(self, out):
        """
        Split a network output into the log10 maps and ln(sigma / dex).

        Parameters
        ----------
        out : `torch.Tensor`
            Output of `forward`.

        Returns
        -------
        log10_maps : `torch.Tensor`
            ``(batch, n_properties, ny, nx)``.
        log_sigma : `torch.Tensor` or None
            Same shape, or `None` for a network without uncertainty head.
        """
        n_properties = len(self.config.properties)
        if self.log_sigma_head is None:
            return out, None
        return out[:, :n_properties], out[:, n_properties:]
