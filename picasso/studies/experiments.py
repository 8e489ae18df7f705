"""
The paper's three studies as functions: wavelength bands (Fig. 7), image
resolution (Fig. 8) and training-set size (Fig. 9).

Every study trains a set of variants of the fiducial network with the SAME
seed and the SAME galaxy split (`picasso.nn.split_by_galaxy` on the
dataset's table, so all views of a test galaxy stay out of every variant's
training), predicts the same held-out galaxies with each variant and
measures the paper's per-galaxy mu and sigma of ``log10(true) - log10(pred)``
of the totals inside 2 R_half as `picasso.analysis.evaluate` does (ellipse
fitted once per test galaxy on the TRUE stellar-mass map, only pixels where
the truth is non-empty), plus the per-pixel statistics. The result
(`ExperimentResult`) holds every variant's numbers, their ratios to the
fiducial variant (the paper's figures show mu / mu_fid and sigma /
sigma_fid) and writes ``results.json`` and the figure.

- **bands**: ugriz (fiducial), ugri, gr, r. ``mode="zeroed"`` keeps the
  5-band network and zeroes the dropped input channels, as the authors did;
  ``mode="true"`` trains a network that takes only the kept bands;
  ``"both"`` runs the two.
- **resolution**: the same field in coarser pixels, made from one dataset by
  `downsample_dataset` (images summed over ``f x f`` blocks, which conserves
  flux; truth maps summed so mass is conserved, mass-weighted for stellar
  age, empty only where every fine pixel is empty).
- **training-size**: the fiducial network trained on nested subsets of the
  training galaxies (all views of a galaxy together), all validated and
  tested on the same galaxies.

Sizes are parameters: the same call runs the paper's scale on a GPU
(``preset="paper"``, 256 px, 17,637 pairs) and a small one on a laptop.
"""

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
import torch

from ..analysis.apertures import aperture_totals
from ..analysis.geometry import fit_geometry
from ..analysis.metrics import PopulationReport, pixel_statistics
from ..analysis.plotting import property_label
from ..io.dataset import DatasetWriter, PairDataset
from ..maps import PropertyMaps
from ..nn.train import NetworkDataset, Trainer, split_by_galaxy
from ..nn.train import preset as preset_configs
from ..properties import BANDS, LOG10_EMPTY, PROPERTIES
from ..utils.atomic import atomic_path

__all__ = [
    "STUDIES",
    "BAND_SETS",
    "BAND_MODES",
    "block_sum_images",
    "block_sum_truth",
    "downsample_dataset",
    "VariantResult",
    "ExperimentResult",
    "run_bands",
    "run_resolution",
    "run_training_size",
    "run_study",
    "plot_study",
]

log = logging.getLogger(__name__)

#: The studies, by command-line name.
STUDIES = ("bands", "resolution", "training-size")

#: The paper's band combinations, fiducial first.
BAND_SETS = {
    "ugriz": ("u", "g", "r", "i", "z"),
    "ugri": ("u", "g", "r", "i"),
    "gr": ("g", "r"),
    "r": ("r",),
}

#: How fewer bands are given to the network.
BAND_MODES = ("zeroed", "true", "both")

_FIGURE_NAMES = {"bands": "fig7_bands.png", "resolution": "fig8_resolution.png",
                 "training-size": "fig9_training_size.png"}


# --------------------------------------------------------------------------------------------
# resampling
# --------------------------------------------------------------------------------------------

def _check_factor(size, factor):
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"the block factor must be a positive integer, got {factor!r}")
    if size % factor:
        raise ValueError(
            f"an image of {size} pixels cannot be cut into {factor} x {factor} blocks; choose a "
            f"factor that divides {size}"
        )


def _blocks(array, factor):
    """View ``(..., N, N)`` as ``(..., N/f, N/f, f*f)``."""
    *lead, ny, nx = array.shape
    blocks = array.reshape(*lead, ny // factor, factor, nx // factor, factor)
    blocks = np.moveaxis(blocks, -3, -2)
    return blocks.reshape(*lead, ny // factor, nx // factor, factor * factor)


def block_sum_images(images, factor):
    """
    Coarser pixels that conserve flux: sum over ``factor x factor`` blocks.

    Parameters
    ----------
    images : array-like or `~astropy.units.Quantity`
        ``(..., N, N)`` flux PER PIXEL.
    factor : int
        Must divide ``N``.

    Returns
    -------
    coarse : same type, ``(..., N / factor, N / factor)``
        Flux per coarse pixel (the sum of the fine pixels' flux).
    """
    unit = images.unit if isinstance(images, u.Quantity) else None
    values = np.asarray(images.value if unit is not None else images, dtype=np.float64)
    if values.ndim < 2 or values.shape[-1] != values.shape[-2]:
        raise ValueError(f"images must be (..., N, N), got shape {values.shape}")
    _check_factor(values.shape[-1], factor)
    coarse = _blocks(values, factor).sum(axis=-1).astype(np.float32)
    return coarse * unit if unit is not None else coarse


def block_sum_truth(truth_log10, factor, properties=None):
    """
    Coarser truth maps that conserve mass (and mass-weighted means).

    The maps are log10 surface densities with `~picasso.properties.LOG10_EMPTY`
    in empty pixels. For an extensive property the coarse surface density is
    the fine pixels' total divided by the coarse pixel's area, i.e. the mean
    of the fine surface densities with empty pixels counting as zero. For a
    weighted property (stellar age, weighted by stellar mass) it is the
    weighted mean over the fine pixels where both are known. A coarse pixel
    is empty only if all its fine pixels are.

    Parameters
    ----------
    truth_log10 : array-like
        ``(..., P, N, N)`` log10 maps.
    factor : int
        Must divide ``N``.
    properties : sequence of str, optional
        Names of the ``P`` planes; all seven in registry order by default.

    Returns
    -------
    coarse : `numpy.ndarray`
        float32 ``(..., P, N / factor, N / factor)`` log10 maps, with
        ``LOG10_EMPTY`` in empty coarse pixels.

    Raises
    ------
    ValueError
        If a weighted property's weight is not among ``properties``.
    """
    truth = np.asarray(truth_log10, dtype=np.float64)
    if truth.ndim < 3 or truth.shape[-1] != truth.shape[-2]:
        raise ValueError(f"truth maps must be (..., P, N, N), got shape {truth.shape}")
    properties = PROPERTIES.validate(properties if properties is not None
                                     else PROPERTIES.names[:truth.shape[-3]])
    if len(properties) != truth.shape[-3]:
        raise ValueError(f"the maps have {truth.shape[-3]} planes but {len(properties)} "
                         "properties were named")
    _check_factor(truth.shape[-1], factor)
    known = truth > LOG10_EMPTY / 2
    linear = np.where(known, 10.0 ** np.where(known, truth, 0.0), 0.0)
    out = np.full(truth.shape[:-2] + (truth.shape[-2] // factor, truth.shape[-1] // factor),
                  LOG10_EMPTY, dtype=np.float64)
    for plane, name in enumerate(properties):
        weight_name = PROPERTIES[name].weighted_by
        if weight_name is None:
            total = _blocks(linear[..., plane, :, :], factor).sum(axis=-1)
            any_known = _blocks(known[..., plane, :, :], factor).any(axis=-1)
            value = total / factor**2
        else:
            if weight_name not in properties:
                raise ValueError(
                    f"{name} is a {weight_name}-weighted mean; the maps must include "
                    f"{weight_name} to resample it"
                )
            weight_plane = properties.index(weight_name)
            both = known[..., plane, :, :] & known[..., weight_plane, :, :]
            weight = np.where(both, linear[..., weight_plane, :, :], 0.0)
            weighted = _blocks(weight * linear[..., plane, :, :], factor).sum(axis=-1)
            weight_sum = _blocks(weight, factor).sum(axis=-1)
            any_known = weight_sum > 0
            value = np.divide(weighted, weight_sum, out=np.zeros_like(weighted),
                              where=any_known)
        good = any_known & (value > 0)
        out[..., plane, :, :] = np.where(good, np.log10(np.where(good, value, 1.0)), LOG10_EMPTY)
    return out.astype(np.float32)


def _row(table, index):
    """One table row as a dict of Quantities / numbers for `DatasetWriter.append_arrays`."""
    row = {}
    for name in table.colnames:
        value = table[name][index]
        if not isinstance(value, u.Quantity):
            value = value.item() if hasattr(value, "item") else value
        row[name] = value
    return row


def downsample_dataset(source, factor, path, *, overwrite=False, progress=False):
    """
    Write a coarser copy of a pair dataset: the same field in ``factor`` times larger pixels.

    Parameters
    ----------
    source : `~picasso.io.dataset.PairDataset` or str
    factor : int
        Block size; must divide the image size.
    path : str or path-like
        Output HDF5 file.
    overwrite : bool
    progress : bool

    Returns
    -------
    dataset : `~picasso.io.dataset.PairDataset`
        The coarse dataset: images block-summed (flux conserved), truth maps
        resampled with `block_sum_truth`, ``pixel_scale_kpc`` multiplied by
        ``factor``; the table is otherwise unchanged (totals are conserved).
    """
    from tqdm.auto import tqdm

    if not isinstance(source, PairDataset):
        source = PairDataset(source)
    _check_factor(source.image_size, factor)
    attrs = {}
    for key in ("seed", "generator", "views"):
        if key in source.attrs:
            attrs[key] = source.attrs[key]
    attrs["downsampled_from"] = json.dumps({"path": str(source.path), "factor": int(factor),
                                            "image_size": int(source.image_size)})
    table = source.table
    with DatasetWriter(path, image_size=source.image_size // factor, bands=source.bands,
                       properties=source.properties, flux_unit=source.flux_unit, attrs=attrs,
                       overwrite=overwrite) as writer:
        for position in tqdm(range(len(source)), disable=not progress,
                             desc=f"downsample x{factor}"):
            item = source[position]
            row = _row(table, position)
            row["pixel_scale_kpc"] = u.Quantity(row["pixel_scale_kpc"], u.kpc) * factor
            writer.append_arrays(block_sum_images(item["image"], factor),
                                 block_sum_truth(item["truth"], factor, source.properties), row)
    return PairDataset(path)


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------

@dataclass
class VariantResult:
    """
    One trained and evaluated variant of a study.

    Attributes
    ----------
    name : str
        Label in tables and figures (``"ugri (zeroed)"``, ``"32 px"``, ``"200 pairs"``).
    settings : dict
        What distinguishes it (bands, mode, image size, training pairs, ...).
    n_train : int
        Training pairs.
    per_galaxy : dict
        Property -> ``{"n", "mu", "sigma", "median", "sigma_nmad", ...}`` in dex
        (totals inside ``k`` R_half).
    per_pixel : dict
        Property -> ``{"n", "mu", "sigma", ...}`` in dex over known truth pixels.
    train_seconds : float
    model_path : str
    """

    name: str
    settings: dict
    n_train: int
    per_galaxy: dict
    per_pixel: dict
    train_seconds: float
    model_path: str

    def to_dict(self):
        """dict: JSON-ready form."""
        return {"name": self.name, "settings": self.settings, "n_train": self.n_train,
                "per_galaxy": self.per_galaxy, "per_pixel": self.per_pixel,
                "train_seconds": self.train_seconds, "model_path": self.model_path}


def _ratio(value, reference):
    if value is None or reference is None or reference == 0:
        return None
    return float(value) / float(reference)


@dataclass
class ExperimentResult:
    """
    All variants of one study, evaluated on one held-out set.

    Attributes
    ----------
    study : str
        One of `STUDIES`.
    variants : list of `VariantResult`
        The fiducial variant first.
    settings : dict
        Dataset, preset, training settings, seed, test galaxies, aperture.
    """

    study: str
    variants: list
    settings: dict = field(default_factory=dict)

    @property
    def fiducial(self):
        """`VariantResult`: the reference (ugriz, full resolution, all pairs)."""
        return self.variants[0]

    @property
    def properties(self):
        """tuple of str: the properties evaluated."""
        return tuple(self.fiducial.per_galaxy)

    def relative(self):
        """
        mu / mu_fid and sigma / sigma_fid per variant and property (the paper's figures).

        Returns
        -------
        relative : dict
            Variant name -> property -> ``{"mu": ratio, "sigma": ratio,
            "mu_difference": dex}`` (`None` where the fiducial value is 0 or
            missing).
        """
        reference = self.fiducial.per_galaxy
        table = {}
        for variant in self.variants:
            table[variant.name] = {}
            for name in self.properties:
                ref = reference.get(name, {})
                stats = variant.per_galaxy.get(name, {})
                mu, ref_mu = stats.get("mu"), ref.get("mu")
                table[variant.name][name] = {
                    "mu": _ratio(mu, ref_mu),
                    "sigma": _ratio(stats.get("sigma"), ref.get("sigma")),
                    "mu_difference": None if mu is None or ref_mu is None else mu - ref_mu,
                }
        return table

    def to_dict(self):
        """dict: everything ``results.json`` holds."""
        return {"study": self.study, "settings": self.settings,
                "fiducial": self.fiducial.name,
                "variants": [variant.to_dict() for variant in self.variants],
                "relative_to_fiducial": self.relative()}

    def markdown(self):
        """
        A table of per-galaxy sigma (and mu) per variant and property.

        Returns
        -------
        text : str
        """
        def number(value):
            return "—" if value is None else f"{value:.3f}"

        header = "| variant | n train | " + " | ".join(
            f"{name} sigma (mu)" for name in self.properties) + " |"
        lines = [f"# picasso experiment: {self.study}", "",
                 "Per-galaxy sigma and mu (dex) of log10(true) - log10(pred) inside "
                 f"{self.settings.get('k', 2):g} R_half, one held-out set of "
                 f"{self.settings.get('n_test_pairs', '?')} pairs.", "",
                 header, "|---|---|" + "---|" * len(self.properties)]
        for variant in self.variants:
            cells = [f"{number(variant.per_galaxy[name].get('sigma'))} "
                     f"({number(variant.per_galaxy[name].get('mu'))})"
                     for name in self.properties]
            lines.append(f"| {variant.name} | {variant.n_train} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def write(self, directory, *, figure=True, overwrite=True):
        """
        Write ``results.json``, ``results.md`` and the figure.

        Parameters
        ----------
        directory : str or path-like
        figure : bool
        overwrite : bool

        Returns
        -------
        written : list of `~pathlib.Path`
        """

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        with atomic_path(directory / "results.json", overwrite=overwrite) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1, default=str))
        written.append(directory / "results.json")
        with atomic_path(directory / "results.md", overwrite=overwrite) as tmp:
            tmp.write_text(self.markdown())
        written.append(directory / "results.md")
        if figure:
            path = directory / _FIGURE_NAMES[self.study]
            fig = plot_study(self)
            with atomic_path(path, overwrite=overwrite) as tmp:
                fig.savefig(tmp, dpi=110, format="png")
            written.append(path)
        return written


def plot_study(result, *, fig=None):
    """
    The paper's Figs. 7-9: mu / mu_fid and sigma / sigma_fid per property and variant.

    The mu axis becomes symmetric-logarithmic when a ratio exceeds 10 (a
    fiducial mu near zero); ``results.json`` also holds mu - mu_fid in dex.

    Parameters
    ----------
    result : `ExperimentResult`
    fig : `matplotlib.figure.Figure`, optional

    Returns
    -------
    fig : `matplotlib.figure.Figure`
    """
    from matplotlib.figure import Figure

    if fig is None:
        fig = Figure(figsize=(10, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2, sharex=True)
    relative = result.relative()
    names = [variant.name for variant in result.variants]
    x = np.arange(len(names))
    for name in result.properties:
        label = property_label(name).split("[")[0].strip()
        mu = [relative[variant][name]["mu"] for variant in names]
        sigma = [relative[variant][name]["sigma"] for variant in names]
        mu = np.array([np.nan if value is None else value for value in mu])
        sigma = np.array([np.nan if value is None else value for value in sigma])
        left.plot(x, mu, marker="o", label=label)
        right.plot(x, sigma, marker="o", label=label)
    mu_ratios = [value["mu"] for variant in relative.values() for value in variant.values()
                 if value["mu"] is not None]
    if mu_ratios and max(abs(value) for value in mu_ratios) > 10:
        # a fiducial mu near zero makes the paper's ratio explode: keep it readable
        left.set_yscale("symlog", linthresh=2.0)
    titles = {"bands": "wavelength bands", "resolution": "image resolution",
              "training-size": "training-set size"}
    fiducial = result.fiducial.name
    for axis, what in ((left, "mu"), (right, "sigma")):
        axis.axhline(1.0, color="0.5", lw=0.8, ls="--")
        axis.set_xticks(x, names, rotation=30, ha="right")
        axis.set_ylabel(f"{what} / {what} ({fiducial})")
        axis.set_xlabel(titles[result.study])
    left.set_title("accuracy (mu) relative to the fiducial")
    right.set_title("precision (sigma) relative to the fiducial")
    right.legend(fontsize="small", loc="best")
    return fig


# --------------------------------------------------------------------------------------------
# training and evaluating variants
# --------------------------------------------------------------------------------------------

def _configs(pairs, preset, in_bands, epochs, seed, overrides):
    overrides = dict(overrides or {})
    if epochs is not None:
        overrides["epochs"] = int(epochs)
        if "milestones" not in overrides:
            # keep the preset's schedule shape: drops at the same fractions of the run
            _, base = preset_configs(preset)
            overrides["milestones"] = tuple(sorted({
                max(1, round(m * int(epochs) / base.epochs)) for m in base.milestones
            }))
    overrides["seed"] = int(seed)
    overrides.setdefault("in_bands", tuple(in_bands))
    overrides.setdefault("properties", tuple(pairs.properties))
    return preset_configs(preset, **overrides)


@dataclass
class _Variant:
    name: str
    pairs: object
    model_config: object
    train_config: object
    settings: dict
    train_pairs: int | None = None


def _predict_test(model, pairs, indices, batch_size=16, device="cpu"):
    """Predicted log10 maps of the test pairs, fed exactly as in training (on ``device``)."""
    data = NetworkDataset(pairs, indices, transform=model.transform, properties=model.properties)
    network = model.network.to(device).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            batch = torch.stack([data[i][0] for i in range(start, min(start + batch_size,
                                                                       len(data)))])
            prediction, _ = network.split_output(network(batch.to(device)).float())
            out.append(prediction.cpu().numpy())
    return np.concatenate(out)


def _nested_training_subset(split, galaxy_ids, n_pairs, seed):
    """The first ``n_pairs`` training pairs of a seeded galaxy order (nested across sizes)."""
    train = np.asarray(split.train)
    galaxies = np.unique(galaxy_ids[train])
    order = np.random.default_rng(seed).permutation(galaxies)
    rank = {int(g): position for position, g in enumerate(order)}
    ordered = sorted(train.tolist(), key=lambda i: (rank[int(galaxy_ids[i])], i))
    return np.asarray(ordered[:n_pairs], dtype=int)


def _evaluate(pairs, test, predictions, properties, k, geometries):
    """
    The paper's per-galaxy and per-pixel statistics of one variant's test predictions.

    The ellipse is fitted once per test pair on the TRUE stellar-mass map (as
    `picasso.analysis.evaluate` does) and cached in ``geometries``, so
    variants that share a dataset share the geometry and its cost.
    """
    from astropy.table import QTable

    true_rows, pred_rows, truth_stack = [], [], []
    truth_plane = [pairs.properties.index(name) for name in properties]
    for offset, position in enumerate(test):
        position = int(position)
        truth = pairs.truth_maps(position)
        key = (str(pairs.path), int(pairs.indices[position]))
        if key not in geometries:
            geometries[key] = fit_geometry(truth["stellar_mass"], pixel_scale=truth.pixel_scale)
        geometry = geometries[key]
        prediction = PropertyMaps.from_log10(predictions[offset], properties,
                                             pixel_scale=truth.pixel_scale)
        true_rows.append(aperture_totals(truth, geometry, k=k, properties=properties))
        pred_rows.append(aperture_totals(prediction, geometry, k=k, properties=properties,
                                         mask=truth))
        truth_stack.append(np.asarray(pairs[position]["truth"])[truth_plane])
    true_table = QTable({name: u.Quantity([row[name][0] for row in true_rows])
                         for name in properties})
    pred_table = QTable({name: u.Quantity([row[name][0] for row in pred_rows])
                         for name in properties})
    per_galaxy = PopulationReport(true_table, pred_table, properties).to_dict()["properties"]
    pixels = pixel_statistics(np.stack(truth_stack), predictions, properties)
    per_pixel = {}
    for row in pixels:
        per_pixel[str(row["property"])] = {
            key: (float(row[key].to_value(u.dex)) if isinstance(row[key], u.Quantity)
                  else float(row[key]))
            for key in ("n", "mu", "sigma", "median", "sigma_nmad")
        }
    return per_galaxy, per_pixel


def _run_variant(variant, output_dir, *, k, progress, seed, geometries):
    directory = Path(output_dir) / _slug(variant.name)
    if (directory / "checkpoint.pt").exists():
        raise FileExistsError(
            f"{directory} already holds a training run; choose another output directory"
        )
    trainer = Trainer(variant.pairs, directory, model_config=variant.model_config,
                      config=variant.train_config, progress=progress)
    if variant.train_pairs is not None:
        table = variant.pairs.table
        subset = _nested_training_subset(trainer.split, np.asarray(table["galaxy_id"]),
                                         variant.train_pairs, seed)
        trainer.train_data = NetworkDataset(
            variant.pairs, subset, transform=trainer.transform,
            properties=variant.model_config.properties, augment=variant.train_config.augment,
            seed=variant.train_config.seed,
        )
    n_train = len(trainer.train_data)
    log.info("variant %s: training on %d pairs", variant.name, n_train)
    start = time.perf_counter()
    model = trainer.fit()
    seconds = time.perf_counter() - start
    test = np.asarray(trainer.split.test)
    predictions = _predict_test(model, variant.pairs, test,
                                batch_size=variant.train_config.batch_size,
                                device=trainer.device)
    model.to("cpu")
    per_galaxy, per_pixel = _evaluate(variant.pairs, test, predictions, tuple(model.properties),
                                      k, geometries)
    return VariantResult(name=variant.name, settings=variant.settings, n_train=n_train,
                         per_galaxy=per_galaxy, per_pixel=per_pixel, train_seconds=seconds,
                         model_path=str(directory / "model.safetensors")), trainer.split


def _slug(name):
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")


def _run(study, variants, output_dir, *, k, progress, seed, settings):
    from tqdm.auto import tqdm

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    results, test_galaxies, geometries = [], None, {}
    for variant in tqdm(variants, desc=study, unit="variant", disable=not progress):
        result, split = _run_variant(variant, output_dir, k=k, progress=progress, seed=seed,
                                     geometries=geometries)
        if test_galaxies is None:
            test_galaxies = split.test_galaxies
        elif split.test_galaxies != test_galaxies:
            raise RuntimeError(
                f"variant {variant.name} was tested on other galaxies than the fiducial; the "
                "variants' datasets must hold the same galaxies"
            )
        results.append(result)
    settings = {**settings, "k": float(k), "seed": int(seed),
                "test_galaxies": [int(g) for g in test_galaxies],
                "n_test_pairs": int(len(split.test))}
    experiment = ExperimentResult(study, results, settings)
    experiment.write(output_dir)
    log.info("wrote %s", output_dir / "results.json")
    return experiment


def _open(data, bands=None):
    path = data.path if isinstance(data, PairDataset) else Path(data)
    pairs = PairDataset(path, bands=bands)
    if "stellar_mass" not in pairs.properties:
        raise ValueError(
            f"{path} has no stellar-mass truth; the studies fit each galaxy's ellipse on it"
        )
    return pairs


def _common_settings(pairs, preset, train_config):
    return {"dataset": str(pairs.path), "n_pairs": len(pairs), "image_size": pairs.image_size,
            "preset": preset, "train_config": train_config.to_dict()}


def run_bands(data, output_dir, *, band_sets=None, mode="zeroed", preset="small", epochs=None,
              seed=0, k=2.0, progress=True, **overrides):
    """
    The band study (Fig. 7): the fiducial ugriz network against fewer bands.

    Parameters
    ----------
    data : `~picasso.io.dataset.PairDataset` or str
        A ugriz pair dataset.
    output_dir : str or path-like
        One sub-directory per variant (model, logs), ``results.json``,
        ``results.md`` and ``fig7_bands.png``.
    band_sets : sequence of str, optional
        Band combinations such as ``"ugri"``; the first is the fiducial.
        Default: ugriz, ugri, gr, r.
    mode : {"zeroed", "true", "both"}
        Zeroed input channels in the 5-band network (the authors' way), true
        fewer-band networks, or both.
    preset : str
        `picasso.nn.PRESETS` name (architecture and schedule).
    epochs : int, optional
        Override the preset's epochs (milestones scale with it).
    seed : int
        Same for every variant: weights, data order, augmentation.
    k : float
        Aperture in half-mass radii.
    progress : bool
    **overrides
        Further `~picasso.nn.UNetConfig` / `~picasso.nn.TrainConfig` fields.

    Returns
    -------
    result : `ExperimentResult`
    """
    if mode not in BAND_MODES:
        raise ValueError(f"mode must be one of {BAND_MODES}, got {mode!r}")
    band_sets = list(band_sets) if band_sets else list(BAND_SETS)
    sets = []
    for text in band_sets:
        bands = BAND_SETS.get(text) or tuple(text)
        sets.append((text, BANDS.validate(bands)))
    pairs = _open(data)
    missing = sorted({b for _, bands in sets for b in bands} - set(pairs.bands))
    if missing:
        raise ValueError(f"the dataset has no {', '.join(missing)} band; it has "
                         f"{', '.join(pairs.bands)}")
    variants = []
    modes = ["zeroed", "true"] if mode == "both" else [mode]
    for text, bands in sets:
        if tuple(bands) == tuple(pairs.bands):
            model_config, train_config = _configs(pairs, preset, pairs.bands, epochs, seed,
                                                  overrides)
            variants.append(_Variant(text, pairs, model_config, train_config,
                                     {"bands": "".join(bands), "mode": "all bands"}))
            continue
        for which in modes:
            if which == "zeroed":
                variant_pairs = pairs
                model_config, train_config = _configs(pairs, preset, pairs.bands, epochs, seed,
                                                      {**overrides, "keep_bands": bands})
            else:
                variant_pairs = _open(pairs, bands=bands)
                model_config, train_config = _configs(variant_pairs, preset, bands, epochs, seed,
                                                      overrides)
            variants.append(_Variant(f"{text} ({which})", variant_pairs, model_config,
                                     train_config, {"bands": "".join(bands), "mode": which}))
    settings = {**_common_settings(pairs, preset, variants[0].train_config), "mode": mode,
                "band_sets": band_sets}
    return _run("bands", variants, output_dir, k=k, progress=progress, seed=seed,
                settings=settings)


def run_resolution(data, output_dir, *, sizes=None, preset="small", epochs=None, seed=0, k=2.0,
                   progress=True, **overrides):
    """
    The resolution study (Fig. 8): the same field in coarser pixels.

    Parameters
    ----------
    data : `~picasso.io.dataset.PairDataset` or str
        The full-resolution dataset (the fiducial).
    output_dir : str or path-like
        Also receives the coarse datasets (``pairs_<N>px.h5``).
    sizes : sequence of int, optional
        Image sizes in pixels; each must divide the dataset's size and be a
        multiple of ``2 ** depth``. Default: N, N/2, N/4 (the paper: 256,
        128, 64, 16).
    preset, epochs, seed, k, progress, **overrides
        As for `run_bands`.

    Returns
    -------
    result : `ExperimentResult`
    """
    pairs = _open(data)
    full = pairs.image_size
    sizes = [int(s) for s in (sizes or (full, full // 2, full // 4))]
    if sizes[0] != full:
        sizes = [full] + [s for s in sizes if s != full]
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    variants = []
    for size in sizes:
        if size < 1 or full % size:
            raise ValueError(
                f"resolution {size} px does not divide the dataset's {full} px; give sizes such "
                f"as {full}, {full // 2}, {full // 4}"
            )
        model_config, train_config = _configs(pairs, preset, pairs.bands, epochs, seed, overrides)
        if size % model_config.divisor:
            raise ValueError(
                f"{size} px is not divisible by 2**depth = {model_config.divisor}; lower the "
                "depth (--depth) or drop this size"
            )
        if size == full:
            variant_pairs = pairs
        else:
            path = output_dir / f"pairs_{size}px.h5"
            variant_pairs = downsample_dataset(pairs, full // size, path, overwrite=True,
                                               progress=progress)
        variants.append(_Variant(f"{size} px", variant_pairs, model_config, train_config,
                                 {"image_size": size, "factor": full // size}))
    settings = {**_common_settings(pairs, preset, variants[0].train_config), "sizes": sizes}
    return _run("resolution", variants, output_dir, k=k, progress=progress, seed=seed,
                settings=settings)


def run_training_size(data, output_dir, *, sizes=None, preset="small", epochs=None, seed=0,
                      k=2.0, progress=True, **overrides):
    """
    The training-set-size study (Fig. 9): nested subsets of the training galaxies.

    Parameters
    ----------
    data : `~picasso.io.dataset.PairDataset` or str
    output_dir : str or path-like
    sizes : sequence of int, optional
        Numbers of training pairs; the largest available (all training
        pairs) is the fiducial and always included. Default: all, 1/2, 1/4
        (the paper: 17,637 down to 1,500). Subsets take whole galaxies
        (all their views) in a seeded order, so smaller sets are inside
        larger ones.
    preset, epochs, seed, k, progress, **overrides
        As for `run_bands`.

    Returns
    -------
    result : `ExperimentResult`
    """

    pairs = _open(data)
    model_config, train_config = _configs(pairs, preset, pairs.bands, epochs, seed, overrides)
    table = pairs.table
    split = split_by_galaxy(np.asarray(table["galaxy_id"]), table["total_stellar_mass"],
                            test_every=train_config.test_every,
                            validation_fraction=train_config.validation_fraction)
    n_all = int(split.train.size)
    sizes = sorted({int(s) for s in (sizes or (n_all, n_all // 2, n_all // 4))}, reverse=True)
    if any(s < 1 for s in sizes):
        raise ValueError(f"training sizes must be positive, got {sizes}")
    too_big = [s for s in sizes if s > n_all]
    if too_big:
        raise ValueError(
            f"training size(s) {too_big} exceed the {n_all} training pairs of this dataset "
            f"({len(pairs)} pairs, of which the test and validation galaxies are held out)"
        )
    if sizes[0] != n_all:
        sizes = [n_all] + sizes
    variants = [
        _Variant(f"{size} pairs", pairs, model_config, train_config,
                 {"train_pairs": size}, train_pairs=None if size == n_all else size)
        for size in sizes
    ]
    settings = {**_common_settings(pairs, preset, train_config), "sizes": sizes}
    return _run("training-size", variants, output_dir, k=k, progress=progress, seed=seed,
                settings=settings)


def run_study(study, data, output_dir, **kwargs):
    """
    Run one of `STUDIES` by name.

    Parameters
    ----------
    study : {"bands", "resolution", "training-size"}
    data, output_dir, **kwargs
        See `run_bands`, `run_resolution`, `run_training_size`.

    Returns
    -------
    result : `ExperimentResult`
    """
    runners = {"bands": run_bands, "resolution": run_resolution,
               "training-size": run_training_size}
    if study not in runners:
        raise ValueError(f"unknown study {study!r}; choose from {', '.join(STUDIES)}")
    return runners[study](data, output_dir, **kwargs)
