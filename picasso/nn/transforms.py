"""
What happens to images and maps between the data and the network.

- The input contract: `InputTransform`, the one object that turns a cutout
  (or a training image) into what the network sees. It divides the flux per
  pixel by the pixel area in kpc2 (the targets are surface densities, and the
  physical pixel differs from galaxy to galaxy), moves the galaxy to the
  model's reference redshift (`distance_factor`), takes
  ``ln(max(flux, floor))`` as the authors' code does and zeroes the bands a
  band-study model never saw. A model file records it; training, prediction
  and the out-of-distribution diagnostics all use it.
- Targets: log10 of the maps in registry units, `~picasso.properties.LOG10_EMPTY`
  where a pixel is empty; `known_mask` tells the two apart.
- Augmentation: the 8 symmetries of the square (the dihedral group D4),
  applied identically to an image and its maps.
- Band studies: `zero_bands` zeroes dropped channels and keeps the network's
  5 inputs (the authors' way); `select_band_channels` builds the input of a
  true fewer-band model.

Every array function takes numpy arrays or torch tensors and returns the same kind.
"""

from dataclasses import dataclass, field, replace

import astropy.units as u
import numpy as np
import torch
from astropy.cosmology import Cosmology, Planck18

from ..properties import BANDS, LOG10_EMPTY
from ..utils.fits import cosmology_from_string, cosmology_to_string
from .unet import CONDITIONS

__all__ = [
    "DEFAULT_FLUX_FLOOR",
    "EMPTY_THRESHOLD",
    "N_SYMMETRIES",
    "InputTransform",
    "pair_redshifts",
    "normalize_flux",
    "distance_factor",
    "known_mask",
    "d4_transform",
    "d4_inverse",
    "random_symmetry",
    "zero_bands",
    "select_band_channels",
]

#: Floor of the input normalisation, in the model's flux unit (the authors'
#: value, 1e-4, in theirs).
DEFAULT_FLUX_FLOOR = 1e-4

#: log10 truth values at or below this mark empty pixels (half the sentinel,
#: so the test is robust to rounding and to resampled sentinels).
EMPTY_THRESHOLD = LOG10_EMPTY / 2

#: Number of symmetries of the square.
N_SYMMETRIES = 8

#: How each condition plane is computed from its raw value.
_CONDITION_FORMULA = {"psf_fwhm": "ln(PSF FWHM / pixel)", "redshift": "10 z"}


def _is_torch(array):
    return isinstance(array, torch.Tensor)


def distance_factor(redshift, reference_redshift, cosmology=None):
    """
    ``(D_L(z) / D_L(z_ref))**2 (1 + z_ref) / (1 + z)``: what moves a flux from ``z`` to ``z_ref``.

    On a grid of fixed physical pixels, the flux density per unit frequency
    (nanomaggies, Jy) of a galaxy goes as ``(1 + z) / D_L(z)**2``: the
    distance and the (1+z)**4 surface-brightness dimming together. Multiplied
    by this factor, the flux per kpc2 of a galaxy at ``redshift`` is the one
    it would show at ``reference_redshift``, so one network serves galaxies
    at any distance. What each filter samples of the rest-frame spectrum
    (the rest of the k-correction) and evolution are not undone: both stay
    small between the redshifts of SDSS galaxies.

    Parameters
    ----------
    redshift : float or array-like
        The galaxy's redshift (or one per galaxy).
    reference_redshift : float
        The redshift of the model's training images.
    cosmology : `~astropy.cosmology.FLRW`, optional
        Planck18 by default; the ratio barely depends on it (H0 cancels). A
        model uses the cosmology its `InputTransform` records.

    Returns
    -------
    factor : float or `numpy.ndarray`
        Of the shape of ``redshift``.
    """
    cosmology = Planck18 if cosmology is None else cosmology
    redshift = np.asarray(redshift, dtype=np.float64)
    reference = float(reference_redshift)
    for name, value in (("redshift", redshift), ("reference_redshift", reference)):
        if not np.all(np.isfinite(value) & (np.asarray(value) > 0)):
            raise ValueError(f"{name} must be positive and finite, got {value}")
    ratio = (cosmology.luminosity_distance(redshift).value
             / cosmology.luminosity_distance(reference).value)
    factor = ratio**2 * (1 + reference) / (1 + redshift)
    return float(factor) if factor.ndim == 0 else factor


@dataclass(frozen=True)
class InputTransform:
    """
    The network-input contract: from flux per pixel to what the network sees.

    One object, recorded in every model file (``"input_transform"`` in its
    header), turns a cutout at prediction time, a training image during
    training and an image under diagnosis into the same network input:

    1. flux per pixel in `flux_unit` divided by the pixel's area in kpc2
       (the truth maps are surface densities and the physical pixel differs
       from galaxy to galaxy, so the input must be a surface brightness);
    2. multiplied by `distance_factor` from the galaxy's redshift to
       `reference_redshift` in `cosmology` (when a reference is set), so one
       network serves galaxies at any distance;
    3. ``ln(max(flux, flux_floor))`` (`normalize_flux`), as the authors did,
       less ``ln(flux_floor)`` with ``floor_at_zero`` so that empty sky is 0,
       the value a convolution's zero padding adds at the image border;
    4. the channels of bands not in `keep_bands` zeroed (the authors' band
       studies), when set;
    5. one constant plane per observing condition (`conditions`): the PSF
       FWHM as ``ln(FWHM / pixel)``, the redshift as ``10 z``.

    Steps 1-2 give `flux_per_kpc2` (a physical quantity: the out-of-distribution
    statistics are computed on it); `from_cutout` stacks the raw condition
    values after the bands; `normalise` does steps 3-5.

    Parameters
    ----------
    bands : tuple of str
        The network's input bands, in channel order.
    flux_unit : `~astropy.units.Unit`
        Unit of the flux per pixel the transform takes.
    flux_floor : float
        Floor of the logarithm, in ``flux_unit`` per kpc2.
    reference_redshift : float or None
        Redshift every input is moved to; `None` keeps each galaxy's own
        (a model trained at one distance then fits only that distance).
    cosmology : `~astropy.cosmology.Cosmology`
        Cosmology of `distance_factor` (Planck18; the ratio barely depends on
        it).
    keep_bands : tuple of str or None
        Bands the model saw; the others are zeroed after normalisation.
    conditions : tuple of str
        Observing conditions after the bands (`~picasso.nn.unet.CONDITIONS`):
        ``"psf_fwhm"``, ``"redshift"``.
    floor_at_zero : bool
        Subtract ``ln(flux_floor)`` so that empty sky is 0 (models written
        before this existed did not).
    """

    bands: tuple
    flux_unit: u.UnitBase = u.nanomaggy
    flux_floor: float = DEFAULT_FLUX_FLOOR
    reference_redshift: float | None = None
    cosmology: Cosmology = field(default_factory=lambda: Planck18)
    keep_bands: tuple | None = None
    conditions: tuple = ()
    floor_at_zero: bool = False

    def __post_init__(self):
        object.__setattr__(self, "bands", BANDS.validate(self.bands))
        object.__setattr__(self, "flux_unit", u.Unit(self.flux_unit))
        if not float(self.flux_floor) > 0:
            raise ValueError(f"flux_floor must be positive, got {self.flux_floor!r}")
        object.__setattr__(self, "flux_floor", float(self.flux_floor))
        if self.reference_redshift is not None:
            reference = float(self.reference_redshift)
            if not (np.isfinite(reference) and reference > 0):
                raise ValueError(f"reference_redshift must be positive and finite, got {reference}")
            object.__setattr__(self, "reference_redshift", reference)
        if not isinstance(self.cosmology, Cosmology):
            raise TypeError(f"cosmology must be an astropy Cosmology, got {self.cosmology!r}")
        if self.keep_bands is not None:
            keep = BANDS.validate(self.keep_bands)
            _band_indices(self.bands, keep, "keep_bands")
            object.__setattr__(self, "keep_bands", keep)
        conditions = tuple(self.conditions)
        unknown = [name for name in conditions if name not in CONDITIONS]
        if unknown:
            raise ValueError(f"unknown condition(s) {unknown}; known: {', '.join(CONDITIONS)}")
        object.__setattr__(self, "conditions", conditions)

    @property
    def description(self):
        """str: the transform as a formula (for the model header and card)."""
        moved = ("" if self.reference_redshift is None else
                 f" * (D_L(z) / D_L({self.reference_redshift:g}))**2 "
                 f"* {1 + self.reference_redshift:g} / (1 + z)")
        zeroed = ("" if self.keep_bands is None else
                  f"; bands other than {''.join(self.keep_bands)} zeroed")
        floor = " / flux_floor" if self.floor_at_zero else ""
        planes = "".join(f"; plane {name}: {_CONDITION_FORMULA[name]}"
                         for name in self.conditions)
        return f"ln(max(flux / pixel_area_kpc2{moved}, flux_floor){floor}){zeroed}{planes}"

    def scale(self, pixel_scale_kpc, redshift=None):
        """
        The factor from flux per pixel to the (moved) flux per kpc2.

        Parameters
        ----------
        pixel_scale_kpc : float, array-like or `~astropy.units.Quantity`
            Side of a pixel in kpc (one value or one per image).
        redshift : float or array-like, optional
            The galaxy's redshift; required with a `reference_redshift`.

        Returns
        -------
        scale : float or `numpy.ndarray`

        Raises
        ------
        ValueError
            For a non-positive pixel scale, or a missing redshift when the
            transform moves inputs to its reference redshift.
        """
        if hasattr(pixel_scale_kpc, "unit"):
            pixel_scale_kpc = pixel_scale_kpc.to_value(u.kpc)
        pixel_scale_kpc = np.asarray(pixel_scale_kpc, dtype=np.float64)
        if not np.all(np.isfinite(pixel_scale_kpc) & (pixel_scale_kpc > 0)):
            raise ValueError(
                f"the pixel scale must be a positive length in kpc, got {pixel_scale_kpc}")
        scale = 1.0 / pixel_scale_kpc**2
        if self.reference_redshift is not None:
            if redshift is None:
                raise ValueError(
                    f"the model moves every input to its training redshift "
                    f"({self.reference_redshift:g}) and needs the galaxy's redshift for that; "
                    "give the cutout one (GalaxyCutout(..., redshift=z))"
                )
            scale = scale * distance_factor(redshift, self.reference_redshift, self.cosmology)
        return float(scale) if np.ndim(scale) == 0 else scale

    def flux_per_kpc2(self, flux, pixel_scale_kpc, redshift=None):
        """
        Flux per pixel (plain numbers in `flux_unit`) to the moved flux per kpc2.

        Parameters
        ----------
        flux : `numpy.ndarray`
            ``(n_bands, ny, nx)``, bands in `bands` order.
        pixel_scale_kpc, redshift
            As for `scale`.

        Returns
        -------
        flux_per_kpc2 : `numpy.ndarray`
            float32, same shape.
        """
        scale = np.float32(self.scale(pixel_scale_kpc, redshift))
        return np.asarray(flux, dtype=np.float32) * scale

    def from_cutout(self, cutout):
        """
        A cutout's flux as the moved flux per kpc2 in this transform's bands and unit.

        Parameters
        ----------
        cutout : `~picasso.GalaxyCutout`
            With exactly `bands`, in that order, and a physical pixel scale.

        Returns
        -------
        flux_per_kpc2 : `numpy.ndarray`
            float32 ``(n_bands, ny, nx)``.

        Raises
        ------
        ValueError
            If the bands differ, the flux cannot be converted to `flux_unit`,
            or the pixel scale in kpc (or a needed redshift) is unknown; the
            message says how to fix the cutout.
        """
        if tuple(cutout.bands) != tuple(self.bands):
            missing = [band for band in self.bands if band not in cutout.bands]
            if missing:
                raise ValueError(
                    f"the model takes bands {', '.join(self.bands)} but the cutout lacks "
                    f"{', '.join(missing)}; supply those bands, or use a model trained on "
                    f"{', '.join(cutout.bands)} (UNetConfig(in_bands=...))"
                )
            raise ValueError(
                f"the model takes bands {', '.join(self.bands)} in this order, the cutout has "
                f"{', '.join(cutout.bands)}; use cutout.select_bands({list(self.bands)!r})"
            )
        if cutout.pixel_scale_kpc is None:
            raise ValueError(
                "the cutout's physical pixel scale is unknown; the model takes flux per kpc2 "
                "and maps back into surface densities. Give the cutout a redshift (with an "
                "angular scale or WCS) or pixel_scale in kpc"
            )
        try:
            flux = cutout.to_unit(self.flux_unit).flux.to_value(self.flux_unit)
        except (u.UnitsError, ValueError) as error:
            raise ValueError(
                f"cannot convert the cutout's flux ({cutout.unit}) to the model's "
                f"{self.flux_unit}: {error}"
            ) from None
        flux = self.flux_per_kpc2(flux, cutout.pixel_scale_kpc, cutout.redshift)
        if not self.conditions:
            return flux
        psf = cutout.psf_fwhm_pixels
        if "psf_fwhm" in self.conditions and psf is None:
            raise ValueError(
                "the model is told the image's PSF, and the cutout does not say it; give the "
                "cutout its PSF (GalaxyCutout(..., psf_fwhm=...)) and a pixel scale"
            )
        if "redshift" in self.conditions and cutout.redshift is None:
            raise ValueError("the model is told the galaxy's redshift; give the cutout one")
        values = self.condition_values(None if psf is None else np.max(psf), cutout.redshift)
        return self.with_conditions(flux, values)

    def condition_values(self, psf_fwhm_pixels=None, redshift=None):
        """
        The raw value of every condition plane (before `normalise`).

        Parameters
        ----------
        psf_fwhm_pixels : float or array-like, optional
            PSF FWHM in pixels (one per image).
        redshift : float or array-like, optional

        Returns
        -------
        values : `numpy.ndarray`
            ``(n_conditions,)`` or ``(n_images, n_conditions)``.
        """
        given = {"psf_fwhm": psf_fwhm_pixels, "redshift": redshift}
        columns = []
        for name in self.conditions:
            value = np.asarray(given[name], dtype=np.float64)
            if not np.all(np.isfinite(value) & (value > 0)):
                raise ValueError(f"condition {name} must be positive and finite, got {value}")
            columns.append(value)
        return np.stack(columns, axis=-1) if columns else np.empty(0)

    @staticmethod
    def with_conditions(flux, values):
        """
        Stack constant condition planes after the band planes of one image.

        Parameters
        ----------
        flux : `numpy.ndarray`
            ``(n_bands, ny, nx)``.
        values : array-like
            ``(n_conditions,)`` raw values (`condition_values`).

        Returns
        -------
        stacked : `numpy.ndarray`
            float32 ``(n_bands + n_conditions, ny, nx)``.
        """
        values = np.asarray(values, dtype=np.float32)
        planes = np.broadcast_to(values[:, None, None], (values.size, *flux.shape[-2:]))
        return np.concatenate([np.asarray(flux, dtype=np.float32), planes])

    def pair_conditions(self, pairs, indices=None):
        """
        The raw condition values of the pairs of a training dataset.

        Parameters
        ----------
        pairs : `~picasso.io.dataset.PairDataset` or similar
            With ``psf_fwhm_pixels`` and ``redshift`` columns in its ``table``
            for the conditions the transform takes.
        indices : array-like of int, optional

        Returns
        -------
        values : `numpy.ndarray`
            ``(n, n_conditions)``.

        Raises
        ------
        ValueError
            If a column the conditions need is missing.
        """
        table = pairs.table
        indices = (np.arange(len(pairs)) if indices is None
                   else np.asarray(indices, dtype=np.int64))
        columns = {"psf_fwhm": "psf_fwhm_pixels", "redshift": "redshift"}
        given = {}
        for name in self.conditions:
            if columns[name] not in table.colnames:
                raise ValueError(
                    f"the model takes the {name} of every image, and the pairs have no "
                    f"{columns[name]!r} column; build them with picasso.mock.build_dataset or "
                    "add the column"
                )
            given[name] = np.asarray(table[columns[name]], dtype=np.float64)[indices]
        return self.condition_values(given.get("psf_fwhm"), given.get("redshift")).reshape(
            len(indices), len(self.conditions))

    def pair_scales(self, pairs, indices=None):
        """
        The `scale` of every pair of a training dataset.

        Parameters
        ----------
        pairs : `~picasso.io.dataset.PairDataset` or similar
            With ``pixel_scale_kpc`` (one per pair) and, for a transform with a
            reference redshift, a ``redshift`` column in its ``table``.
        indices : array-like of int, optional
            Only these pairs; all by default.

        Returns
        -------
        scales : `numpy.ndarray`
            float64, one per selected pair: multiply a pair's image by it for
            the moved flux per kpc2.

        Raises
        ------
        ValueError
            If the pairs lack pixel scales, or redshifts the transform needs.
        """
        pixel_scales = getattr(pairs, "pixel_scale_kpc", None)
        if pixel_scales is None or len(pixel_scales) != len(pairs):
            raise ValueError(
                "the pairs must give the physical pixel scale of every pair (pixel_scale_kpc): "
                "the network's input is flux per kpc2"
            )
        indices = (np.arange(len(pairs)) if indices is None
                   else np.asarray(indices, dtype=np.int64))
        pixel_scales = u.Quantity(pixel_scales, u.kpc).value[indices]
        redshifts = None
        if self.reference_redshift is not None:
            redshifts = pair_redshifts(pairs)
            if redshifts is None:
                raise ValueError(
                    f"moving the images to redshift {self.reference_redshift:g} needs the "
                    "redshift of every pair (a finite, positive 'redshift' column); give them "
                    "or train with reference_redshift=None"
                )
            redshifts = redshifts[indices]
        return np.atleast_1d(self.scale(pixel_scales, redshifts))

    def normalise(self, flux_per_kpc2):
        """
        The network input: the logarithm, the band zeroing and the condition planes.

        Parameters
        ----------
        flux_per_kpc2 : `numpy.ndarray` or `torch.Tensor`
            ``(..., n_bands + n_conditions, ny, nx)``: `flux_per_kpc2`, with
            the raw condition planes stacked after it (`from_cutout`).

        Returns
        -------
        network_input : same type, float32
        """
        n_bands = len(self.bands)
        bands = flux_per_kpc2[..., :n_bands, :, :]
        normalised = normalize_flux(bands, self.flux_floor)
        if self.floor_at_zero:
            normalised = normalised - np.float32(np.log(self.flux_floor))
        if self.keep_bands is not None:
            normalised = zero_bands(normalised, self.bands, self.keep_bands)
        if not self.conditions:
            return normalised
        planes = []
        for index, name in enumerate(self.conditions):
            raw = flux_per_kpc2[..., n_bands + index:n_bands + index + 1, :, :]
            if _is_torch(raw):
                planes.append(torch.log(raw.float()) if name == "psf_fwhm" else 10 * raw.float())
            else:
                raw = np.asarray(raw, dtype=np.float32)
                planes.append(np.log(raw) if name == "psf_fwhm" else 10 * raw)
        if _is_torch(normalised):
            return torch.cat([normalised, *planes], dim=-3)
        return np.concatenate([normalised, *planes], axis=-3).astype(np.float32)

    @property
    def seen_bands(self):
        """tuple of str: the bands whose channels carry information (`keep_bands` or all)."""
        return self.keep_bands or self.bands

    def replace(self, **changes):
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self):
        """
        The transform as JSON-ready values (for a model header).

        Returns
        -------
        record : dict
        """
        return {
            "bands": list(self.bands),
            "flux_unit": self.flux_unit.to_string(),
            "flux_floor": self.flux_floor,
            "reference_redshift": self.reference_redshift,
            "cosmology": cosmology_to_string(self.cosmology),
            "keep_bands": None if self.keep_bands is None else list(self.keep_bands),
            "conditions": list(self.conditions),
            "floor_at_zero": self.floor_at_zero,
            "formula": self.description,
        }

    @classmethod
    def from_dict(cls, record):
        """
        Rebuild a transform written by `to_dict`.

        Parameters
        ----------
        record : dict

        Returns
        -------
        transform : `InputTransform`
        """
        record = dict(record)
        record.pop("formula", None)
        if "cosmology" in record:
            record["cosmology"] = cosmology_from_string(record["cosmology"])
        for key in ("bands", "keep_bands", "conditions"):
            if record.get(key) is not None:
                record[key] = tuple(record[key])
        return cls(**record)


def pair_redshifts(pairs):
    """
    Redshift of every pair of a dataset, or `None` when some pair has none.

    Parameters
    ----------
    pairs : `~picasso.io.dataset.PairDataset` or similar
        With a ``table`` that may hold a ``redshift`` column.

    Returns
    -------
    redshifts : `numpy.ndarray` or None
    """
    table = getattr(pairs, "table", None)
    if table is None or "redshift" not in table.colnames:
        return None
    try:
        redshifts = np.asarray(table["redshift"], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if redshifts.shape != (len(pairs),) or not np.all(np.isfinite(redshifts) & (redshifts > 0)):
        return None
    return redshifts


def normalize_flux(flux, floor=DEFAULT_FLUX_FLOOR):
    """
    The network input: ``ln(max(flux, floor))``.

    Parameters
    ----------
    flux : `numpy.ndarray` or `torch.Tensor`
        Flux as plain numbers (`InputTransform.flux_per_kpc2` gives what a
        model takes).
    floor : float
        Smallest flux kept; negative and zero fluxes (sky noise) are raised to
        it. Must be positive.

    Returns
    -------
    normalised : same type as ``flux``, float32
    """
    if not floor > 0:
        raise ValueError(f"the flux floor must be positive, got {floor!r}")
    if _is_torch(flux):
        return torch.log(torch.clamp(flux.float(), min=floor))
    if hasattr(flux, "unit"):
        raise TypeError(
            "normalize_flux takes plain numbers in the model's flux unit; convert the Quantity "
            "with .to_value(unit) first"
        )
    return np.log(np.maximum(np.asarray(flux, dtype=np.float32), np.float32(floor)))


def known_mask(truth_log10):
    """
    Where log10 truth maps carry a value (not the empty-pixel sentinel).

    Parameters
    ----------
    truth_log10 : `numpy.ndarray` or `torch.Tensor`
        log10 maps with `~picasso.properties.LOG10_EMPTY` in empty pixels.

    Returns
    -------
    mask : bool array of the same shape and type family
        `True` where the pixel is known (non-empty).
    """
    return truth_log10 > EMPTY_THRESHOLD


def _check_symmetry(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < N_SYMMETRIES:
        raise ValueError(f"symmetry index must be an integer in 0..7, got {k!r}")
    return int(k)


def d4_transform(array, k):
    """
    Apply symmetry ``k`` of the square to the last two axes.

    Symmetry ``k`` is ``k % 4`` counter-clockwise quarter turns (as
    `numpy.rot90`), followed by a left-right flip when ``k >= 4``. Index 0 is
    the identity.

    Parameters
    ----------
    array : `numpy.ndarray` or `torch.Tensor`
        ``(..., ny, nx)``; square unless ``k`` is 0, 2, 4 or 6.
    k : int
        Symmetry index in ``0..7``.

    Returns
    -------
    transformed : same type as ``array``
    """
    k = _check_symmetry(k)
    turns = k % 4
    if _is_torch(array):
        out = torch.rot90(array, turns, dims=(-2, -1)) if turns else array
        return torch.flip(out, dims=(-1,)) if k >= 4 else out
    out = np.rot90(array, turns, axes=(-2, -1)) if turns else array
    out = np.flip(out, axis=-1) if k >= 4 else out
    return np.ascontiguousarray(out)


def d4_inverse(array, k):
    """
    Undo `d4_transform` with the same ``k``.

    Parameters
    ----------
    array : `numpy.ndarray` or `torch.Tensor`
    k : int

    Returns
    -------
    restored : same type as ``array``
    """
    k = _check_symmetry(k)
    if k >= 4:
        # a flip after quarter turns is its own inverse
        return d4_transform(array, k)
    return d4_transform(array, (4 - k) % 4)


def random_symmetry(seed, *keys):
    """
    Draw a symmetry index from a seed and any integer keys.

    The draw depends only on its arguments, so a data loader gives the same
    augmentation for the same (seed, epoch, index) in any worker process and
    after resuming a run.

    Parameters
    ----------
    seed : int
    *keys : int
        For example the epoch and the sample index.

    Returns
    -------
    k : int
        In ``0..7``.
    """
    return int(np.random.default_rng([int(seed), *map(int, keys)]).integers(N_SYMMETRIES))


def _band_indices(bands, names, what):
    bands = tuple(bands)
    names = BANDS.validate(names)
    missing = [name for name in names if name not in bands]
    if missing:
        raise ValueError(
            f"{what}: band(s) {', '.join(missing)} not among the image bands {', '.join(bands)}"
        )
    return [bands.index(name) for name in names]


def zero_bands(image, bands, keep):
    """
    Zero the channels of dropped bands, keeping the channel count.

    The authors' band studies (ugri, gr, r) kept the 5-band network and set
    the dropped input channels to zero. Apply this to the normalised input
    (zero means ``ln(flux) = 0`` there; the network simply never sees
    information in the channel).

    Parameters
    ----------
    image : `numpy.ndarray` or `torch.Tensor`
        ``(..., n_bands, ny, nx)``.
    bands : sequence of str
        Band of each channel.
    keep : sequence of str
        Bands to keep.

    Returns
    -------
    image : same type as ``image``, a copy
    """
    keep_index = set(_band_indices(bands, keep, "zero_bands"))
    drop = [index for index in range(len(tuple(bands))) if index not in keep_index]
    out = image.clone() if _is_torch(image) else np.array(image, copy=True)
    out[..., drop, :, :] = 0
    return out


def select_band_channels(image, bands, in_bands):
    """
    Pick and order the channels a model takes (a true fewer-band model).

    Parameters
    ----------
    image : `numpy.ndarray` or `torch.Tensor`
        ``(..., n_bands, ny, nx)``.
    bands : sequence of str
        Band of each channel of ``image``.
    in_bands : sequence of str
        Bands the model takes, in its channel order.

    Returns
    -------
    image : same type as ``image``
        ``(..., len(in_bands), ny, nx)``.
    """
    index = _band_indices(bands, in_bands, "select_band_channels")
    if list(index) == list(range(len(tuple(bands)))):
        return image
    if _is_torch(image):
        return image[..., index, :, :]
    return np.ascontiguousarray(np.asarray(image)[..., index, :, :])
