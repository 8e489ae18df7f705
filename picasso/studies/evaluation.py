"""
The paper's whole evaluation of a model on a test set of (image, truth) pairs.

`evaluate` walks a pair dataset galaxy by galaxy: it fits the geometry on the
TRUE stellar-mass map, sums truth, prediction and the colour mass-to-light
baselines inside ``k`` R_half over the pixels where the truth is non-empty,
builds radial profiles in elliptical annuli and samples per-pixel residuals.
The result, an `Evaluation`, holds the per-galaxy table and the population
statistics and writes the report: ``metrics.json``, ``report.md`` (mu and
sigma per property beside the paper's values and the colour-M/L baseline),
``galaxies.ecsv`` and the figures. ``picasso evaluate`` is a thin layer
over this module.
"""

import json
import logging
from dataclasses import replace
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.convolution import Gaussian2DKernel, convolve_fft
from astropy.stats import gaussian_fwhm_to_sigma
from astropy.table import QTable

from ..analysis.apertures import (
    DEFAULT_APERTURE_K,
    aperture_total,
    aperture_totals,
    radial_profile,
)
from ..analysis.baselines import (
    COLOUR_RELATIONS,
    DEFAULT_MAP_RELATION,
    DEFAULT_TOTAL_RELATION,
    colour_mass_map,
    colour_mass_total,
)
from ..analysis.geometry import GEOMETRY_METHODS, fit_geometry
from ..analysis.metrics import (
    PAPER_COLOUR_ML_SIGMA,
    PAPER_HEADLINE,
    PopulationReport,
    log_residual,
    radial_residual_percentiles,
    residual_statistics,
)
from ..analysis.plotting import (
    plot_distributions,
    plot_galaxy,
    plot_radial_residuals,
    plot_true_vs_predicted,
)
from ..io.dataset import PairDataset
from ..maps import PropertyMaps
from ..nn.loading import resolve_model
from ..properties import LOG10_EMPTY, PROPERTIES
from ..utils.atomic import atomic_path

__all__ = [
    "Evaluation",
    "evaluate",
    "load_predictions",
    "R_HALF_MODES",
    "VIEW_CLASSES",
    "APERTURES",
]

log = logging.getLogger(__name__)

#: Where the half-mass radius comes from: measured on the true stellar-mass
#: map, the authors' assumption (25 px at 256 px), or the dataset's
#: ``r_half_kpc`` column (the simulation's projected stellar half-mass radius).
R_HALF_MODES = ("measured", "authors", "table")

#: How a view was chosen, from its index in a ``picasso.mock`` dataset (the first
#: view of every galaxy is face-on, the second edge-on, the others random).
VIEW_CLASSES = ("face-on", "edge-on", "random")

#: The apertures every total is measured in: the paper's ellipse fitted on the true
#: stellar-mass map, and a circle of the same semi-major axis, which does not depend on
#: structure below the PSF (a thin edge-on disc's ellipse is narrower than the PSF).
APERTURES = {"ellipse": "ellipse of semi-major axis k R_half (the paper's)",
             "circle": "circle of radius k R_half (PSF-robust)"}

#: Names of the baselines in tables and reports.
_BASELINES = {
    "bell03": f"colour M/L per galaxy ({DEFAULT_TOTAL_RELATION})",
    "zibetti09": f"colour M/L per pixel ({DEFAULT_MAP_RELATION})",
}


def load_predictions(path):
    """
    Read predicted log10 maps written by ``picasso predict`` or shaped like a pair dataset.

    Parameters
    ----------
    path : str or path-like
        HDF5 file with either ``log10_maps`` ``(n, P, N, N)`` and ``index``
        (dataset rows, as `picasso.nn.predict.predict_dataset` writes), or
        ``truth`` ``(n, P, N, N)`` aligned with the test set's rows (a pair
        dataset's layout). Property names come from the ``properties``
        attribute (all seven in registry order if absent).

    Returns
    -------
    predictions : dict
        ``log10_maps`` (an open `h5py.Dataset`, read lazily), ``index`` (row
        of the test set of every prediction, or `None` for row order),
        ``properties`` (tuple) and ``handle`` (the open `h5py.File`; close it
        when done).

    Raises
    ------
    ValueError
        If the file holds neither layout.
    """
    import h5py

    handle = h5py.File(path, "r")
    try:
        if "log10_maps" in handle:
            maps = handle["log10_maps"]
            index = np.asarray(handle["index"][:], dtype=np.int64) if "index" in handle else None
        elif "truth" in handle:
            maps = handle["truth"]
            index = None
        else:
            raise ValueError(
                f"{path} holds neither 'log10_maps' (picasso predict output) nor 'truth' (pair "
                "dataset layout); it is not a predictions file"
            )
        if maps.ndim != 4:
            raise ValueError(f"predicted maps in {path} must be (n, P, N, N), got {maps.shape}")
        names = handle.attrs.get("properties")
        names = PROPERTIES.validate(
            [str(name) for name in (json.loads(names) if isinstance(names, str) else names)]
        ) if names is not None else PROPERTIES.names
        if len(names) != maps.shape[1]:
            raise ValueError(
                f"{path} has {maps.shape[1]} planes but names {len(names)} properties"
            )
        if index is not None and len(index) != maps.shape[0]:
            raise ValueError(f"{path}: 'index' has {len(index)} rows, the maps {maps.shape[0]}")
    except BaseException:
        handle.close()
        raise
    return {"log10_maps": maps, "index": index, "properties": names, "handle": handle}


class Evaluation:
    """
    Result of `evaluate`: per-galaxy numbers and population statistics.

    Attributes
    ----------
    galaxies : `~astropy.table.QTable`
        One row per galaxy: ``index`` (dataset row), ``galaxy_id``, ``view``,
        the geometry (``x_center``, ``y_center``, ``ellipticity``,
        ``position_angle``, ``r_half_pix``, ``r_half_kpc``, ``method``,
        ``r_half_method``), ``true_<p>`` and ``pred_<p>`` totals inside ``k``
        R_half and the baseline stellar masses ``bell03_stellar_mass`` and
        ``zibetti09_stellar_mass``.
    report : `~picasso.analysis.PopulationReport`
        The network's per-galaxy accuracy.
    baselines : dict
        Baseline name to its `~picasso.analysis.PopulationReport` (stellar mass).
    pixels : `~astropy.table.QTable`
        Per-pixel residual statistics per property (and for the per-pixel
        colour baseline, ``stellar_mass (zibetti09)``).
    radial : dict
        Property name to its residual percentiles per annulus (Fig. 6).
    radial_baseline : `~astropy.table.QTable` or None
        The same for the per-pixel colour-M/L stellar mass.
    comparison : dict
        Stellar mass per galaxy of the model beside the colour-M/L methods and
        the PSF-limited oracle, per aperture (`APERTURES`) and view class
        (`VIEW_CLASSES`); see `_comparison`.
    pixels_at_resolution : `~astropy.table.QTable` or None
        Per-pixel residuals against the truth at the image's resolution
        (`at_image_resolution`), where the dataset says its PSF.
    examples : list of tuple
        ``(cutout, truth, prediction, geometry)`` of the first galaxies, for
        Fig. 1.
    settings : dict
        How the evaluation was run.
    """

    def __init__(self, galaxies, report, baselines, pixels, radial, examples, settings, *,
                 radial_baseline=None, comparison=None, pixels_at_resolution=None):
        self.galaxies = galaxies
        self.comparison = comparison or {}
        self.pixels_at_resolution = pixels_at_resolution
        self.radial_baseline = radial_baseline
        self.report = report
        self.baselines = baselines
        self.pixels = pixels
        self.radial = radial
        self.examples = examples
        self.settings = settings

    @property
    def properties(self):
        """tuple of str: the properties evaluated."""
        return self.report.properties

    def totals(self, which):
        """
        Per-galaxy totals as a table with one column per property.

        Parameters
        ----------
        which : {"true", "pred"} or a baseline name
            ``"bell03"`` or ``"zibetti09"`` give a ``stellar_mass`` column.

        Returns
        -------
        totals : `~astropy.table.QTable`
        """
        if which in ("true", "pred"):
            return QTable({name: self.galaxies[f"{which}_{name}"] for name in self.properties})
        if which in _BASELINES:
            return QTable({"stellar_mass": self.galaxies[f"{which}_stellar_mass"]})
        raise ValueError(f"which must be 'true', 'pred' or one of {list(_BASELINES)}")

    def to_dict(self):
        """dict: everything ``metrics.json`` holds (plain numbers, dex)."""
        def table_records(table):
            records = []
            for row in table:
                record = {}
                for key in table.colnames:
                    value = row[key]
                    if isinstance(value, u.Quantity):
                        value = value.value
                    value = value.item() if hasattr(value, "item") else value
                    if isinstance(value, float) and not np.isfinite(value):
                        value = None
                    record[key] = value
                records.append(record)
            return records

        methods = list(self.galaxies["method"]) if len(self.galaxies) else []
        return {
            "settings": self.settings,
            "n_galaxies": len(self.galaxies),
            "geometry_methods": {name: methods.count(name) for name in GEOMETRY_METHODS},
            "per_galaxy": self.report.to_dict(),
            "baselines": {name: report.to_dict() for name, report in self.baselines.items()},
            "per_pixel": table_records(self.pixels),
            "radial": {name: table_records(table) for name, table in self.radial.items()},
            "radial_baseline_stellar_mass": (None if self.radial_baseline is None
                                             else table_records(self.radial_baseline)),
            "comparison": _plain(self.comparison),
            "per_pixel_at_image_resolution": (None if self.pixels_at_resolution is None
                                              else table_records(self.pixels_at_resolution)),
            "paper": {"headline": PAPER_HEADLINE, "colour_ml_sigma": list(PAPER_COLOUR_ML_SIGMA)},
        }

    def markdown(self):
        """
        The report's table of mu and sigma per property.

        Returns
        -------
        text : str
            Markdown: one row per property with picasso's per-galaxy mu,
            sigma, median, sigma_NMAD and outlier fraction beside the paper's
            mu and sigma and, for stellar mass, the colour-M/L baselines; then
            the per-pixel statistics.
        """
        def number(value, digits=3):
            value = value.to_value(u.dex) if isinstance(value, u.Quantity) else value
            return "—" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"

        settings = self.settings
        lines = [
            "# picasso evaluation",
            "",
            f"- test set: `{settings['dataset']}` ({len(self.galaxies)} galaxies)",
            f"- predictions: `{settings['predictions']}`",
            f"- aperture: ellipse of semi-major axis {settings['k']:g} R_half "
            f"(R_half: {settings['r_half']}); only pixels where the truth is non-empty count",
            "- d = log10(true) - log10(pred) per galaxy; mu = mean(d), sigma = std(d) "
            "(positive mu = under-prediction)",
            "",
            "## Per galaxy",
            "",
            "| property | n | mu | sigma | median | sigma_NMAD | outliers | paper mu | "
            "paper sigma | colour M/L sigma |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name in self.properties:
            stats = self.report[name]
            baseline = "—"
            if name == "stellar_mass" and self.baselines:
                baseline = ", ".join(
                    f"{number(report['stellar_mass']['sigma'])} ({label})"
                    for label, report in self.baselines.items()
                )
            lines.append(
                f"| {name} | {stats['n']} | {number(stats['mu'])} | {number(stats['sigma'])} | "
                f"{number(stats['median'])} | {number(stats['sigma_nmad'])} | "
                f"{number(stats['outlier_fraction'], 2)} | {number(stats['paper_mu'])} | "
                f"{number(stats['paper_sigma'])} | {baseline} |"
            )
        if "stellar_age" in self.properties:
            lines += ["", "The paper's stellar-age channel was most likely a per-pixel sum of "
                      "ages, so its age sigma is dominated by mass; picasso's age is the "
                      "mass-weighted mean, so compare the age row with care."]
        if self.baselines:
            lines += ["", "## Colour mass-to-light baselines (stellar mass, same aperture)", "",
                      "| method | n | mu | sigma | median | sigma_NMAD |",
                      "|---|---|---|---|---|---|"]
            for label, report in self.baselines.items():
                stats = report["stellar_mass"]
                lines.append(
                    f"| {_BASELINES[label]} | {stats['n']} | {number(stats['mu'])} | "
                    f"{number(stats['sigma'])} | {number(stats['median'])} | "
                    f"{number(stats['sigma_nmad'])} |"
                )
            low, high = PAPER_COLOUR_ML_SIGMA
            lines.append("")
            lines.append(f"The paper quotes {low}-{high} dex for colour M/L stellar masses.")
        lines += self._comparison_markdown(number)
        lines += ["", "## Per pixel (non-empty truth pixels)", "",
                  "| property | n pixels | mu | sigma | median | sigma_NMAD |",
                  "|---|---|---|---|---|---|"]
        for row in self.pixels:
            lines.append(
                f"| {row['property']} | {row['n']} | {number(row['mu'])} | "
                f"{number(row['sigma'])} | "
                f"{number(row['median'])} | {number(row['sigma_nmad'])} |"
            )
        if self.pixels_at_resolution is not None:
            lines += ["", "## Per pixel, against the truth at the image's resolution", "",
                      "The true maps convolved with the image's PSF: what a perfect, "
                      "PSF-limited measurement could recover pixel by pixel.", "",
                      "| property | n pixels | mu | sigma | median | sigma_NMAD |",
                      "|---|---|---|---|---|---|"]
            for row in self.pixels_at_resolution:
                lines.append(
                    f"| {row['property']} | {row['n']} | {number(row['mu'])} | "
                    f"{number(row['sigma'])} | {number(row['median'])} | "
                    f"{number(row['sigma_nmad'])} |"
                )
        methods = self.to_dict()["geometry_methods"]
        lines += ["", "Geometry: " + ", ".join(f"{count} {name}" for name, count in
                                             methods.items()), ""]
        if self.settings.get("figures"):
            lines += ["## Figures", ""]
            lines += [f"![{name}]({name})" for name in self.settings["figures"]]
            lines.append("")
        return "\n".join(lines)

    def _comparison_markdown(self, number):
        if not self.comparison:
            return []
        labels = {"picasso": "picasso", "bell03": _BASELINES["bell03"],
                  "zibetti09": _BASELINES["zibetti09"],
                  "oracle": "PSF-limited floor (truth at the image's resolution)"}
        lines = ["", "## Stellar mass: the model, the classical methods and the floor", "",
                 "mu / sigma (dex) per galaxy, by aperture and by how the view was chosen.", ""]
        for aperture, groups in self.comparison.items():
            methods = [m for m in labels if m in groups["all"]]
            lines += [f"### {APERTURES[aperture]}", "",
                      "| views | n | " + " | ".join(labels[m] for m in methods) + " |",
                      "|---|---|" + "---|" * len(methods)]
            for group, stats in groups.items():
                cells = [f"{number(stats[m]['mu'])} / {number(stats[m]['sigma'])}"
                         for m in methods]
                lines.append(f"| {group} | {stats['picasso']['n']} | " + " | ".join(cells) + " |")
            lines.append("")
        return lines

    def write(self, directory, *, overwrite=False, figures=True):
        """
        Write the report into a directory.

        Parameters
        ----------
        directory : str or path-like
            Created if missing.
        overwrite : bool
            Replace existing report files.
        figures : bool
            Also draw the PNG figures.

        Returns
        -------
        written : list of `~pathlib.Path`
        """

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        if figures:
            names = []
            for name, fig in self._figures():
                path = directory / name
                with atomic_path(path, overwrite=overwrite) as tmp:
                    # The figures lay themselves out (constrained layout); the tight
                    # box only trims the margin. 150 dpi keeps 7 pt text legible.
                    fig.savefig(tmp, dpi=150, format="png", bbox_inches="tight",
                                pad_inches=0.05)
                written.append(path)
                names.append(name)
            self.settings["figures"] = names
        with atomic_path(directory / "metrics.json", overwrite=overwrite) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str))
        written.append(directory / "metrics.json")
        with atomic_path(directory / "report.md", overwrite=overwrite) as tmp:
            tmp.write_text(self.markdown())
        written.append(directory / "report.md")
        with atomic_path(directory / "galaxies.ecsv", overwrite=overwrite) as tmp:
            self.galaxies.write(tmp, format="ascii.ecsv", overwrite=True)
        written.append(directory / "galaxies.ecsv")
        return written

    def _figures(self):
        true, pred = self.totals("true"), self.totals("pred")
        baseline = self.totals("bell03") if "bell03" in self.baselines else None
        yield "fig4_distributions.png", plot_distributions(true, pred, baseline=baseline)
        yield "fig5_true_vs_predicted.png", plot_true_vs_predicted(true, pred)
        for label in self.baselines:
            yield (f"fig5_baseline_{label}.png",
                   plot_true_vs_predicted(true, self.totals(label), properties=["stellar_mass"],
                                          label=_BASELINES[label]))
        if self.radial:
            yield "fig6_radial_residuals.png", plot_radial_residuals(self.radial)
        for number, (cutout, truth, prediction, geometry) in enumerate(self.examples):
            yield (f"fig1_galaxy_{number}.png",
                   plot_galaxy(cutout, truth, prediction, geometry=geometry))


def _geometry_for(truth, prediction, row, r_half):
    source = truth if "stellar_mass" in truth.properties else prediction
    if "stellar_mass" not in source.properties:
        raise ValueError("the geometry is fitted on a stellar-mass map; neither truth nor "
                         "prediction holds one")
    if r_half == "table":
        given = u.Quantity(row["r_half_kpc"], u.kpc)
        if not (np.isfinite(given.value) and given.value > 0):
            log.warning("galaxy %s has no usable r_half_kpc (%s); measuring it instead",
                        row["galaxy_id"], given)
            given = None
    elif r_half == "authors":
        given = "authors"
    else:
        given = None
    return fit_geometry(source["stellar_mass"], pixel_scale=truth.pixel_scale, r_half=given)


def _view_class(view):
    return VIEW_CLASSES[min(int(view), 2)]


def at_image_resolution(truth, psf_fwhm_pixels):
    """
    True maps as a perfect PSF-limited measurement would see them.

    Surface densities are convolved linearly with the image's Gaussian PSF
    (mass is conserved); the mean stellar age is the convolved mass-weighted
    age over the convolved mass. This is the truth a network given this image
    can at best recover pixel by pixel, and summed in an aperture it is the
    PSF-limited floor of any method.

    Parameters
    ----------
    truth : `~picasso.PropertyMaps`
    psf_fwhm_pixels : float

    Returns
    -------
    maps : `~picasso.PropertyMaps`
    """
    kernel = Gaussian2DKernel(psf_fwhm_pixels * gaussian_fwhm_to_sigma)

    def smooth(values):
        return np.clip(convolve_fft(values, kernel, boundary="fill", fill_value=0.0,
                                    normalize_kernel=True), 0.0, None)

    maps, masks = {}, {}
    for name in truth.properties:
        prop = PROPERTIES[name]
        if prop.is_extensive:
            values = smooth(np.where(truth.empty(name), 0.0, truth[name].value))
        else:
            weight = np.where(truth.empty(prop.weighted_by), 0.0,
                              truth[prop.weighted_by].value)
            mass = smooth(weight)
            with np.errstate(invalid="ignore", divide="ignore"):
                values = np.where(mass > 0, smooth(weight * truth[name].value) / mass, 0.0)
        # below a millionth of the peak: as empty as the truth's own far outskirts
        empty = values <= 1e-6 * values.max() if values.max() > 0 else np.ones(values.shape, bool)
        maps[name] = np.where(empty, 0.0, values) * prop.unit
        masks[name] = empty
    return PropertyMaps(maps, pixel_scale=truth.pixel_scale, mask=masks, r_half=truth.r_half)


def _pixel_sample(truth_log10, pred_log10, limit, rng):
    """Residuals of up to ``limit`` random non-empty truth pixels (all if fewer)."""
    valid = (truth_log10 > LOG10_EMPTY / 2) & (pred_log10 > LOG10_EMPTY / 2)
    d = (truth_log10[valid] - pred_log10[valid]).astype(float)
    if limit is not None and d.size > limit:
        d = rng.choice(d, size=limit, replace=False)
    return d


def _baselines(cutout, truth, geometries, k, row):
    """Colour-M/L stellar masses inside every aperture, over the truth's pixels."""
    needed = set(COLOUR_RELATIONS[DEFAULT_TOTAL_RELATION].bands)
    needed |= set(COLOUR_RELATIONS[DEFAULT_MAP_RELATION].bands)
    if not needed <= set(cutout.bands) or cutout.redshift is None:
        return None
    mask = truth.empty("stellar_mass") if "stellar_mass" in truth.properties else None
    baseline_map = colour_mass_map(cutout)
    for aperture, geometry in geometries.items():
        suffix = "" if aperture == "ellipse" else f"_{aperture}"
        row[f"bell03{suffix}_stellar_mass"] = colour_mass_total(cutout, geometry, k=k, mask=mask)
        row[f"zibetti09{suffix}_stellar_mass"] = aperture_total(
            baseline_map, "stellar_mass", geometry, k=k, mask=truth)
    return baseline_map


def evaluate(dataset, predictions=None, *, model=None, k=DEFAULT_APERTURE_K, r_half="measured",
             batch_size=8, device=None, symmetries=(0,), limit=None, examples=2,
             pixels_per_galaxy=4096, seed=0, baselines=True, progress=True, chunk_size=64,
             estimate="mean"):
    """
    Evaluate predictions (or a model) on a test set of pairs, as in the paper.

    Parameters
    ----------
    dataset : `~picasso.io.dataset.PairDataset` or str
        The test set.
    predictions : str, path-like or dict, optional
        Predicted log10 maps: a file (see `load_predictions`) or a dict like
        the one it returns, whose ``log10_maps`` may be an in-memory array
        (``handle`` `None`); give this or ``model``.
    model : `~picasso.nn.Model`, str or path-like, optional
        A model (or model file) to run on the test images with
        `picasso.nn.Model.predict_log10`.
    k : float
        Aperture semi-major axis in half-mass radii (paper: 2).
    r_half : {"measured", "authors", "table"}
        See `R_HALF_MODES`.
    batch_size, device, symmetries
        Passed to the network when ``model`` is given.
    limit : int, optional
        Evaluate only the first ``limit`` galaxies.
    examples : int
        How many galaxies to keep for Fig. 1.
    pixels_per_galaxy : int or None
        Per-pixel statistics use up to this many random non-empty pixels per
        galaxy and property (all when `None`).
    seed : int
        Seed of that pixel sampling.
    baselines : bool
        Also compute the colour mass-to-light stellar masses.
    progress : bool
        Show a progress bar over galaxies (tqdm).
    chunk_size : int
        Galaxies predicted and analysed at a time (bounds memory).
    estimate : {"mean", "median"}
        With a model that gives an uncertainty, sum its expected values
        (`picasso.nn.Model.expected_log10`; unbiased totals) or its medians
        into the totals and profiles. Per-pixel statistics always compare
        the median (the network's log10) with the truth.

    Returns
    -------
    evaluation : `Evaluation`
    """
    from tqdm.auto import tqdm

    if (predictions is None) == (model is None):
        raise ValueError("give either predictions (a predictions HDF5 file) or a model")
    if r_half not in R_HALF_MODES:
        raise ValueError(f"r_half must be one of {R_HALF_MODES}, got {r_half!r}")
    if not isinstance(dataset, PairDataset):
        dataset = PairDataset(dataset)
    table = dataset.table
    n = len(dataset) if limit is None else min(int(limit), len(dataset))
    source = None
    if predictions is not None:
        source = predictions if isinstance(predictions, dict) else load_predictions(predictions)
        if source["index"] is not None:
            lookup = {int(row): position for position, row in enumerate(source["index"])}
            rows = [int(r) for r in dataset.indices[:n]]
            positions = [i for i, r in enumerate(rows) if r in lookup]
            if len(positions) < n:
                log.warning("predictions cover %d of %d test galaxies; evaluating those",
                            len(positions), n)
            pred_rows = [lookup[rows[i]] for i in positions]
        else:
            if source["log10_maps"].shape[0] < n:
                raise ValueError(
                    f"the predictions hold {source['log10_maps'].shape[0]} galaxies, the test set "
                    f"{n}; they must be aligned row by row"
                )
            positions = list(range(n))
            pred_rows = positions
        pred_properties = source["properties"]
        label = str(predictions if not isinstance(predictions, dict) else "predictions")
    else:
        label = f"model {model}" if isinstance(model, (str, Path)) else f"model {model!r}"
        model = resolve_model(model, device)
        pred_properties = tuple(model.properties)
        positions = list(range(n))
        pred_rows = None
    properties = tuple(name for name in dataset.properties if name in pred_properties)
    if not properties:
        raise ValueError(
            f"the predictions ({', '.join(pred_properties)}) share no property with the test set "
            f"({', '.join(dataset.properties)})"
        )
    plane = {name: pred_properties.index(name) for name in properties}
    truth_plane = {name: dataset.properties.index(name) for name in properties}

    psf_pixels = dataset.psf_fwhm_pixels
    rng = np.random.default_rng(seed)
    rows, true_profiles, pred_profiles, base_profiles, kept = [], [], [], [], []
    pixel_d = {name: [] for name in properties}
    seen_pixel_d = {name: [] for name in properties}
    baseline_pixel_d, baseline_seen_pixel_d = [], []
    bar = tqdm(total=len(positions), disable=not progress, desc="evaluate", unit="galaxy")
    try:
        for start in range(0, len(positions), chunk_size):
            chunk = positions[start:start + chunk_size]
            if source is not None:
                chunk_rows = pred_rows[start:start + chunk_size]
                block = np.stack([source["log10_maps"][row] for row in chunk_rows])
                expected = block
            else:
                images = [model.input_flux(dataset.cutout(i)) for i in chunk]
                block, sigma = model.predict_log10(images, batch_size=batch_size, device=device,
                                                   symmetries=symmetries)
                expected = model.expected_log10(block, sigma) if estimate == "mean" else block
            for offset, position in enumerate(chunk):
                item = dataset[position]
                truth = dataset.truth_maps(position)
                truth_log10 = item["truth"]
                pred_log10 = np.stack([block[offset][plane[name]] for name in properties])
                pred_expected = np.stack([expected[offset][plane[name]] for name in properties])
                prediction = PropertyMaps.from_log10(pred_expected, properties,
                                                     pixel_scale=truth.pixel_scale)
                info = table[position]
                geometry = _geometry_for(truth, prediction, info, r_half)
                row = {"index": int(item["index"]), "galaxy_id": int(info["galaxy_id"]),
                       "view": int(info["view"])}
                record = geometry.to_dict()
                row.update({key: record[key] for key in ("x_center", "y_center", "ellipticity",
                                                        "method", "r_half_method")})
                row["position_angle"] = geometry.position_angle
                row["r_half_pix"] = record["r_half_pix"]
                row["r_half_kpc"] = geometry.r_half_kpc
                row["view_class"] = _view_class(info["view"])
                geometries = {"ellipse": geometry, "circle": replace(geometry, ellipticity=0.0)}
                for aperture, shape in geometries.items():
                    suffix = "" if aperture == "ellipse" else f"_{aperture}"
                    true_totals = aperture_totals(truth, shape, k=k, properties=properties)
                    pred_totals = aperture_totals(prediction, shape, k=k,
                                                  properties=properties, mask=truth)
                    for name in properties:
                        row[f"true{suffix}_{name}"] = true_totals[name][0]
                        row[f"pred{suffix}_{name}"] = pred_totals[name][0]
                psf = None if psf_pixels is None else float(psf_pixels[position])
                seen = None if psf is None else at_image_resolution(truth, psf)
                row["psf_fwhm_pixels"] = np.nan if psf is None else psf
                if seen is not None and "stellar_mass" in properties:
                    for aperture, shape in geometries.items():
                        suffix = "" if aperture == "ellipse" else f"_{aperture}"
                        row[f"oracle{suffix}_stellar_mass"] = aperture_total(
                            seen, "stellar_mass", shape, k=k, mask=truth)
                true_profiles.append(radial_profile(truth, geometry, properties=properties))
                pred_profiles.append(radial_profile(prediction, geometry, properties=properties,
                                                    mask=truth))
                seen_log10 = None if seen is None else seen.to_log10(properties)
                for name in properties:
                    pixel_d[name].append(_pixel_sample(truth_log10[truth_plane[name]],
                                                       pred_log10[properties.index(name)],
                                                       pixels_per_galaxy, rng))
                    if seen_log10 is not None:
                        seen_pixel_d[name].append(_pixel_sample(
                            seen_log10[properties.index(name)],
                            pred_log10[properties.index(name)], pixels_per_galaxy, rng))
                cutout = None
                if baselines or len(kept) < examples:
                    cutout = dataset.cutout(position)
                if baselines:
                    baseline_map = _baselines(cutout, truth, geometries, k, row)
                    if baseline_map is not None and "stellar_mass" in properties:
                        base_profiles.append(radial_profile(baseline_map, geometry,
                                                            mask={"stellar_mass":
                                                                  truth.empty("stellar_mass")}))
                        base_log10 = baseline_map.to_log10()[0]
                        baseline_pixel_d.append(_pixel_sample(
                            truth_log10[truth_plane["stellar_mass"]], base_log10,
                            pixels_per_galaxy, rng))
                        if seen_log10 is not None:
                            baseline_seen_pixel_d.append(_pixel_sample(
                                seen_log10[properties.index("stellar_mass")], base_log10,
                                pixels_per_galaxy, rng))
                if len(kept) < examples:
                    kept.append((cutout, truth, prediction, geometry))
                rows.append(row)
                bar.update(1)
    finally:
        bar.close()
        if source is not None and not isinstance(predictions, dict):
            source["handle"].close()

    galaxies = QTable(rows=rows) if rows else QTable()
    for key in [name for name in galaxies.colnames if name.startswith(("true_", "pred_"))
                or name.endswith("_stellar_mass")]:
        galaxies[key] = u.Quantity(list(galaxies[key]))
    comparison = _comparison(galaxies, properties)
    true_table = QTable({name: galaxies[f"true_{name}"] for name in properties})
    pred_table = QTable({name: galaxies[f"pred_{name}"] for name in properties})
    report = PopulationReport(true_table, pred_table, properties)
    baseline_reports = {}
    if baselines and "stellar_mass" in properties and "bell03_stellar_mass" in galaxies.colnames:
        for name in _BASELINES:
            baseline_reports[name] = PopulationReport(
                QTable({"stellar_mass": true_table["stellar_mass"]}),
                QTable({"stellar_mass": galaxies[f"{name}_stellar_mass"]}),
                ["stellar_mass"], label=_BASELINES[name],
            )
    pixel_rows = []
    for name in properties:
        d = np.concatenate(pixel_d[name]) if pixel_d[name] else np.empty(0)
        pixel_rows.append({"property": name, **residual_statistics(d * u.dex)})
    if baseline_pixel_d:
        d = np.concatenate(baseline_pixel_d)
        pixel_rows.append({"property": "stellar_mass (zibetti09)",
                           **residual_statistics(d * u.dex)})
    pixels = _statistics_table(pixel_rows)
    seen_rows = [{"property": name, **residual_statistics(np.concatenate(seen_pixel_d[name])
                                                          * u.dex)}
                 for name in properties if seen_pixel_d[name]]
    if baseline_seen_pixel_d:
        seen_rows.append({"property": "stellar_mass (zibetti09)",
                          **residual_statistics(np.concatenate(baseline_seen_pixel_d) * u.dex)})
    pixels_at_resolution = _statistics_table(seen_rows) if seen_rows else None
    radial = {}
    if true_profiles:
        for name in properties:
            radial[name] = radial_residual_percentiles(true_profiles, pred_profiles, name)
    if base_profiles:
        with_baseline = [t for t, row in zip(true_profiles, rows) if "bell03_stellar_mass" in row]
        radial_baseline = radial_residual_percentiles(with_baseline, base_profiles,
                                                      "stellar_mass")
        radial_baseline.meta["label"] = _BASELINES["zibetti09"]
    else:
        radial_baseline = None
    settings = {
        "dataset": str(dataset.path),
        "predictions": label,
        "k": float(k),
        "r_half": r_half,
        "properties": list(properties),
        "pixels_per_galaxy": pixels_per_galaxy,
        "seed": seed,
        "symmetries": list(symmetries),
        "estimate": estimate if source is None else "as given",
    }
    return Evaluation(galaxies, report, baseline_reports, pixels, radial, kept, settings,
                      radial_baseline=radial_baseline, comparison=comparison,
                      pixels_at_resolution=pixels_at_resolution)


def _plain(value):
    """Nested dicts of Quantities as plain floats (dex), NaN as None, for JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, u.Quantity):
        value = value.value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _statistics_table(rows):
    table = QTable({"property": [row["property"] for row in rows]})
    for key in ("n", "mu", "sigma", "median", "sigma_nmad", "outlier_fraction", "p16", "p84"):
        values = [row[key] for row in rows]
        table[key] = u.Quantity(values) if isinstance(values[0], u.Quantity) else values
    return table


def _comparison(galaxies, properties):
    """
    Stellar mass per galaxy: the model, the classical methods and the floor, by aperture and view.

    Returns
    -------
    comparison : dict
        ``{aperture: {view class or "all": {method: residual statistics}}}``
        with methods ``picasso``, ``bell03``, ``zibetti09`` and ``oracle`` (the
        truth at the image's resolution, `at_image_resolution`), where
        measured; and ``{aperture: {"all": {"property:<name>": ...}}}`` for the
        model's other properties.
    """
    if not len(galaxies) or "stellar_mass" not in properties:
        return {}
    classes = np.asarray(galaxies["view_class"])
    comparison = {}
    for aperture in APERTURES:
        suffix = "" if aperture == "ellipse" else f"_{aperture}"
        true = galaxies[f"true{suffix}_stellar_mass"]
        methods = {"picasso": f"pred{suffix}_stellar_mass"}
        for name in ("bell03", "zibetti09", "oracle"):
            if f"{name}{suffix}_stellar_mass" in galaxies.colnames:
                methods[name] = f"{name}{suffix}_stellar_mass"
        groups = {"all": np.ones(len(galaxies), bool)}
        groups.update({name: classes == name for name in VIEW_CLASSES if (classes == name).any()})
        comparison[aperture] = {
            group: {method: residual_statistics(log_residual(true[chosen],
                                                             galaxies[column][chosen]))
                    for method, column in methods.items()}
            for group, chosen in groups.items()
        }
        for name in properties:
            if name != "stellar_mass":
                comparison[aperture]["all"][f"property:{name}"] = residual_statistics(
                    log_residual(galaxies[f"true{suffix}_{name}"],
                                 galaxies[f"pred{suffix}_{name}"]))
    return comparison
