"""
Model cards: what a picasso model is, how it was made and how well it does.

A model card (Mitchell et al. 2019) is rendered from what the model file
itself records, so it cannot drift from the weights it describes:

* the input convention (bands, flux unit and floor, image size, field of
  view) and the output properties with their units;
* the training data (the generator's universe and observing set-up, pair
  count, seed) and recipe (schedule, loss, augmentation, split, best epoch,
  the command and the devices that trained it);
* validation metrics written by the trainer;
* held-out metrics per property, per galaxy and per pixel (``picasso
  evaluate``'s ``metrics.json``), the calibration of the uncertainties
  (`picasso.studies.calibration`), and the real-conditions numbers
  (``benchmarks/bench_real_conditions.py``), once they have been measured
  and stored in the header with `record_results`;
* the statistics of the training inputs behind the out-of-distribution
  warning (`picasso.nn.diagnostics`);
* known limitations, general to picasso's method and specific to the model.

A section whose numbers were never measured for this model says so; the card
never fills a gap with a number from elsewhere.
"""

import json
from pathlib import Path

from ..nn.diagnostics import STATISTICS_KEY
from ..nn.loading import load_model
from .provenance import generator_record

__all__ = ["model_card", "record_results", "LIMITATIONS", "RESULT_KEYS"]

#: Header keys `record_results` writes and the card reads.
RESULT_KEYS = ("evaluation", "calibration", "real_conditions", "limitations")

#: Limitations of every picasso model, from how the method works.
LIMITATIONS = (
    "Trained on synthetic galaxies only (picasso's universe or simulation particles): every "
    "difference between them and real galaxies (morphologies, dust, populations the universe "
    "lacks) is a systematic error that held-out synthetic metrics cannot show. The "
    "real-conditions section measures part of it (noise, PSF, resampling, neighbours), never "
    "the realism of the galaxies themselves.",
    "Inputs must follow the training convention: the bands in the recorded order, flux per "
    "pixel in the recorded unit and a square field of 10 stellar half-mass radii centred on "
    "the galaxy. Real cutouts only approximate it: their field comes from a half-LIGHT "
    "radius and their fluxes are scaled to the reference redshift without a k-correction.",
    "SDSS frame files carry no PSF width; picasso assumes the survey's typical seeing per band "
    "unless the measured one is given.",
    "Empty-pixel (sentinel) predictions and maps of sparse properties (SFR, HI) are less "
    "reliable than stellar maps, as in the paper.",
    "Out-of-distribution warnings test the image statistics (colours, size, surface "
    "brightness, noise, flux scale), not the physics: an input can pass and still be unlike "
    "the training galaxies.",
)


def _header(model):
    if isinstance(model, dict):
        return model
    if isinstance(model, (str, Path)):
        model = load_model(model)
    return model.header


def _load(value):
    if value is None:
        return None
    if isinstance(value, (str, Path)):
        return json.loads(Path(value).read_text())
    if hasattr(value, "colnames"):  # an astropy table
        records = []
        for row in value:
            record = {}
            for key in value.colnames:
                item = row[key]
                item = getattr(item, "value", item)
                record[key] = item.item() if hasattr(item, "item") else item
            records.append(record)
        return records
    return value


def record_results(model, *, evaluation=None, calibration=None, real_conditions=None,
                   limitations=None):
    """
    Store measured results in a model's header, for its card.

    Save the model afterwards (``model.save(path)``) to keep them with the weights.

    Parameters
    ----------
    model : `~picasso.nn.Model`
    evaluation : dict or path-like, optional
        ``picasso evaluate``'s ``metrics.json`` (or its dict) on the held-out test set.
    calibration : `~astropy.table.QTable`, list of dict or path-like, optional
        `picasso.studies.calibration.calibration_table` output.
    real_conditions : dict or path-like, optional
        ``benchmarks/bench_real_conditions.py``'s JSON.
    limitations : sequence of str, optional
        Model-specific limitations, added to `LIMITATIONS`.

    Returns
    -------
    model : `~picasso.nn.Model`
        The same model, its ``info`` updated.
    """
    values = {"evaluation": _load(evaluation), "calibration": _load(calibration),
              "real_conditions": _load(real_conditions),
              "limitations": None if limitations is None else [str(x) for x in limitations]}
    for key, value in values.items():
        if value is not None:
            model.info[key] = value
    return model


def _number(value, digits=3, signed=False):
    if value is None:
        return "n/a"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if value != value:
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


class _Document:
    """Sections of paragraphs and tables, rendered as markdown or reStructuredText."""

    def __init__(self, title):
        self.title = title
        self.blocks = []

    def section(self, title):
        self.blocks.append(("section", title))

    def text(self, text):
        self.blocks.append(("text", text))

    def items(self, items):
        self.blocks.append(("items", list(items)))

    def table(self, header, rows):
        self.blocks.append(("table", (list(header), [list(map(str, row)) for row in rows])))

    def render(self, format, rst_underlines="=-"):
        lines = []
        if format == "markdown":
            lines += [f"# {self.title}", ""]
            for kind, content in self.blocks:
                if kind == "section":
                    lines += [f"## {content}", ""]
                elif kind == "text":
                    lines += [content, ""]
                elif kind == "items":
                    lines += [f"- {item}" for item in content] + [""]
                else:
                    header, rows = content
                    lines.append("| " + " | ".join(header) + " |")
                    lines.append("|" + "|".join("---" for _ in header) + "|")
                    lines += ["| " + " | ".join(row) + " |" for row in rows]
                    lines.append("")
        else:
            title_line, section_line = rst_underlines
            lines += [self.title, title_line * len(self.title), ""]
            for kind, content in self.blocks:
                if kind == "section":
                    lines += [content, section_line * len(content), ""]
                elif kind == "text":
                    lines += [content, ""]
                elif kind == "items":
                    lines += [f"* {item}" for item in content] + [""]
                else:
                    header, rows = content
                    lines += [".. list-table::", "   :header-rows: 1", ""]
                    for row in [header] + rows:
                        lines.append(f"   * - {row[0]}")
                        lines += [f"     - {cell}" for cell in row[1:]]
                    lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def _training_section(doc, header):
    doc.section("Training data")
    training = header.get("training_data")
    if not training:
        doc.text("The header records no training data (an untrained or hand-built model).")
        return
    if "path" in training and "file" not in training:  # headers written before 0.2
        training = {**training, "file": Path(training["path"]).name}
    rows = [(key, training[key]) for key in ("n_pairs", "file", "seed", "image_size",
                                             "flux_unit", "picasso_version") if key in training]
    generator = generator_record(header)
    universe = generator.get("universe") or {}
    if "mass_scale_offset" in universe and "quenched_mass_scale_offset" not in universe:
        # written before the quenched fraction had a mass scale of its own: it had the others'
        universe = {**universe, "quenched_mass_scale_offset": universe["mass_scale_offset"]}
    observing = generator.get("observing") or {}
    for key in ("seed", "log_mass_range", "mass_function", "mass_scale_offset",
                "quenched_mass_scale_offset", "redshift", "companion_fraction"):
        if key in universe:
            rows.append((f"universe {key}", universe[key]))
    for key in ("redshift", "psf_fwhm"):
        if observing.get(f"{key}_range"):
            low, high = observing[f"{key}_range"]
            rows.append((f"observing {key}", f"{low} - {high}, drawn per galaxy"))
        elif key in observing:
            rows.append((f"observing {key}", observing[key]))
    for key in ("native_pixel_scale", "noise", "target_snr", "background_sources",
                "field_of_view", "dust", "nebular", "truth_deposit"):
        if key in observing:
            rows.append((f"observing {key}", observing[key]))
    for key in ("views", "n_galaxies"):
        if key in generator:
            rows.append((key, generator[key]))
    doc.table(("item", "value"), rows)


def _recipe_section(doc, header):
    doc.section("Training recipe")
    config = header.get("train_config")
    if not config:
        doc.text("The header records no training settings.")
        return
    keys = ("epochs", "batch_size", "learning_rate", "milestones", "gamma", "loss",
            "empty_weight", "augment", "flux_floor", "seed", "test_every", "validation_fraction",
            "precision")
    rows = [(key, config[key]) for key in keys if key in config]
    if "epoch" in header:
        rows.append(("best epoch (validation)", header["epoch"]))
    split = header.get("split") or {}
    if "n_pairs" in split:
        counts = split["n_pairs"]
        rows.append(("pairs train / validation / test",
                     f"{counts.get('train')} / {counts.get('validation')} / {counts.get('test')}"))
    if split.get("method"):
        rows.append(("split", split["method"]))
    recipe = header.get("recipe") or {}
    if recipe.get("command"):
        rows.append(("command", f"``{recipe['command']}``"))
    if recipe.get("train_devices"):
        rows.append(("trained on", ", ".join(recipe["train_devices"])))
    doc.table(("setting", "value"), rows)
    metrics = header.get("metrics") or {}
    if metrics:
        doc.text("Validation metrics at the best epoch (the trainer's; rms in dex over "
                 "non-empty truth pixels):")
        doc.table(("metric", "value"), [(key, _number(value, 4)) for key, value in
                                        sorted(metrics.items())])


#: How `picasso.studies.evaluation` turned the network's output into maps.
_ESTIMATES = {"median": "the network's per-pixel log10 (the median of its likelihood)",
              "mean": "expected values, 10**(mu + ln(10) sigma**2 / 2) with the fitted mean "
                      "correction, so that sums are unbiased totals"}


def _evaluation_section(doc, header, properties):
    doc.section("Held-out accuracy")
    evaluation = header.get("evaluation")
    if not evaluation:
        doc.text("Not measured for this model yet. Run ``picasso evaluate`` on its held-out "
                 "test set and store ``metrics.json`` with "
                 "``picasso.nn.card.record_results(model, evaluation=...)``.")
        return
    per_galaxy = (evaluation.get("per_galaxy") or {}).get("properties", {})
    per_pixel = {row.get("property"): row for row in evaluation.get("per_pixel") or []}
    settings = evaluation.get("settings") or {}
    k = settings.get("k", 2)
    doc.text(f"Residuals d = log10(true) - log10(predicted), in dex, on "
             f"{evaluation.get('n_galaxies', 'n/a')} held-out test images (every view of a "
             f"galaxy counts once); totals within "
             f"{k} R_half (per galaxy) and non-empty truth pixels (per pixel); predicted "
             f"maps are {_ESTIMATES.get(settings.get('estimate', 'median'))}.")
    rows = []
    for name in properties:
        galaxy = per_galaxy.get(name, {})
        pixel = per_pixel.get(name, {})
        rows.append((name, _number(galaxy.get("mu"), signed=True), _number(galaxy.get("sigma")),
                     _number(pixel.get("mu"), signed=True), _number(pixel.get("sigma"))))
    for label, report in (evaluation.get("baselines") or {}).items():
        stellar = (report.get("properties") or {}).get("stellar_mass", {})
        rows.append((f"stellar_mass, {report.get('label') or label}",
                     _number(stellar.get("mu"), signed=True), _number(stellar.get("sigma")),
                     "", ""))
    doc.table(("property", "mu (galaxy)", "sigma (galaxy)", "mu (pixel)", "sigma (pixel)"), rows)
    _comparison_table(doc, evaluation, k)


def _comparison_table(doc, evaluation, k):
    """Stellar mass of the model beside the classical methods and the PSF-limited floor."""
    comparison = evaluation.get("comparison") or {}
    if not comparison:
        return
    doc.text(f"Stellar mass within {k} R_half against the classical colour mass-to-light "
             "methods (per galaxy, Bell et al. 2003; per pixel, Zibetti et al. 2009) and the "
             "floor (the true map blurred to the image's PSF: a method that knows every pixel "
             "but sees at the image's resolution), by "
             "aperture (the paper's ellipse; a circle, which does not depend on structure "
             "below the PSF) and by view, mu / sigma in dex:")
    methods = ("picasso", "bell03", "zibetti09", "oracle")
    rows = []
    for aperture, groups in comparison.items():
        for group, stats in groups.items():
            cells = [f"{_number(stats[m].get('mu'), signed=True)} / "
                     f"{_number(stats[m].get('sigma'))}" if m in stats else "" for m in methods]
            rows.append((aperture, group, (stats.get("picasso") or {}).get("n", ""), *cells))
    doc.table(("aperture", "views", "n", "picasso", "colour M/L per galaxy",
               "colour M/L per pixel", "floor"), rows)


def _calibration_section(doc, header):
    doc.section("Calibration of the uncertainties")
    calibration = header.get("calibration")
    if not calibration:
        doc.text("Not measured for this model (a single network without an uncertainty head "
                 "gives no uncertainty to calibrate; for an ensemble or a heteroscedastic "
                 "model run ``picasso.studies.calibration.calibration_table`` on held-out "
                 "pairs and store it with ``record_results``).")
        return
    doc.text("Fraction of held-out truth pixels inside prediction +- 1 sigma (coverage) against "
             "the Gaussian expectation; z = (truth - prediction) / sigma should have mean 0 and "
             "standard deviation 1.")
    doc.table(("property", "coverage", "expected", "z mean", "z std", "median sigma (dex)"),
              [(row.get("property"), _number(row.get("coverage")), _number(row.get("expected")),
                _number(row.get("z_mean"), signed=True), _number(row.get("z_std")),
                _number(row.get("median_sigma"))) for row in calibration])


def _real_section(doc, header, properties):
    doc.section("Real conditions")
    real = header.get("real_conditions")
    if not real:
        doc.text("Not measured for this model yet. Run ``benchmarks/bench_real_conditions.py "
                 "--model ...`` (synthetic galaxies injected into a real SDSS field) and store "
                 "its JSON with ``record_results(model, real_conditions=...)``.")
        return
    summary = real.get("summary") or {}
    conditions = [c for c in real.get("conditions", list(summary)) if c in summary]
    doc.text(f"{len(real.get('galaxies', []))} held-out galaxies injected into the real SDSS "
             f"field ({real.get('frames', 'n/a')}) at redshifts "
             f"{', '.join(str(z) for z in real.get('redshifts', []))}, on clean and crowded "
             f"sky. Each cell: mu, sigma (dex) of log10(true) - log10(predicted) within "
             f"{real.get('k', 2)} R_half, per galaxy / per pixel. "
             "``mock`` is the same galaxies observed with the training set-up; the difference "
             "is the synthetic-to-real gap.")
    rows = []
    for name in properties:
        row = [name]
        for condition in conditions:
            galaxy = summary[condition]["per_galaxy"].get(name, {})
            pixel = summary[condition]["per_pixel"].get(name, {})
            row.append(f"{_number(galaxy.get('mu'), 2, True)}, {_number(galaxy.get('sigma'), 2)}"
                       f" / {_number(pixel.get('mu'), 2, True)}, {_number(pixel.get('sigma'), 2)}")
        rows.append(row)
    baseline = ["stellar_mass, colour M/L"]
    for condition in conditions:
        base = summary[condition].get("colour_ml_baseline_stellar_mass", {})
        baseline.append(f"{_number(base.get('mu'), 2, True)}, {_number(base.get('sigma'), 2)}"
                        " / -")
    rows.append(baseline)
    doc.table(["property"] + conditions, rows)
    if real.get("command"):
        doc.text(f"Command: ``{real['command']}``")


def _ood_section(doc, header):
    doc.section("Training inputs and out-of-distribution warnings")
    statistics = header.get(STATISTICS_KEY)
    if not statistics:
        doc.text("The header records no training-input statistics, so predictions carry no "
                 "out-of-distribution diagnostics.")
        return
    doc.text(f"Summary of {statistics.get('n_images')} training inputs; a cutout whose "
             f"Mahalanobis distance from them exceeds {_number(statistics.get('threshold'), 2)} "
             "raises a ``PicassoOODWarning`` (see ``picasso.nn.diagnostics``).")
    rows = []
    for name, values in (statistics.get("quantiles") or {}).items():
        rows.append([name] + [_number(v, 3) for v in values])
    if rows:
        doc.table(("feature", "1%", "16%", "50%", "84%", "99%"), rows)


def _psf_limitation(header, observing):
    conditions = (header.get("architecture") or {}).get("conditions") or ()
    if "psf_fwhm" in conditions:
        ranges = ", ".join(f"{name} {observing[key][0]}-{observing[key][1]}"
                           for name, key in (("seeing", "psf_fwhm_range"),
                                             ("redshift", "redshift_range"))
                           if observing.get(key))
        return ("The PSF and redshift are inputs (condition planes); the training mocks "
                f"spanned {ranges or 'the recorded observing set-up'}, and outside that the "
                "model extrapolates.")
    return ("The model is not told the PSF: cutouts must be matched to the training PSF "
            f"({observing.get('psf_fwhm', 'not recorded')}), and cannot be sharpened to it "
            "where the frames' seeing is wider (at SDSS seeing, 1 kpc is out of reach beyond "
            "z ~ 0.035).")


def _mass_scale_limitation(universe):
    """What the stellar masses of a model trained on picasso's universe mean, or None."""
    if not universe:
        return None
    if "mass_scale_offset" not in universe:
        return ("The training universe read its scaling relations at each galaxy's own stellar "
                "mass, while its M/L at a given colour is ~0.25 dex above that of the "
                "observers' masses behind them: its galaxies were ~0.6 mag fainter, and redder "
                "at a given luminosity, than the real galaxies that look like them.")
    offset = float(universe["mass_scale_offset"])
    return (f"Stellar masses are on the training universe's scale (BC03 populations with its "
            f"star-formation histories), {offset:.2f} dex above the masses observers infer "
            "from colours with simple histories (Taylor et al. 2011, the GAMA mass function's; "
            "Baldry et al. 2006) and close to Bell et al. (2003)'s; SFRs and molecular gas "
            "keep their specific values, so they sit as far above those of the observed "
            "galaxies the universe draws from: compare with catalogues on that basis.")


def model_card(model, *, evaluation=None, calibration=None, real_conditions=None,
               format="markdown", title=None, rst_underlines="=-"):
    """
    The model card of a model, as markdown or reStructuredText.

    Parameters
    ----------
    model : `~picasso.nn.Model`, path-like or dict
        A model, a model file or directory, or a model header.
    evaluation, calibration, real_conditions : optional
        Results to show instead of those stored in the header (same forms
        as for `record_results`).
    format : {'markdown', 'rst'}
    title : str, optional
    rst_underlines : str
        Underline characters of the title and of the sections in
        reStructuredText (``"-~"`` nests the card inside a page section).

    Returns
    -------
    card : str

    Raises
    ------
    ValueError
        For an unknown format.
    """
    if format not in ("markdown", "rst"):
        raise ValueError(f"format must be 'markdown' or 'rst', got {format!r}")
    if len(rst_underlines) != 2:
        raise ValueError(f"rst_underlines must be two characters, got {rst_underlines!r}")
    header = dict(_header(model))
    for key, value in (("evaluation", evaluation), ("calibration", calibration),
                       ("real_conditions", real_conditions)):
        if value is not None:
            header[key] = _load(value)
    properties = [entry["name"] if isinstance(entry, dict) else entry
                  for entry in header.get("properties", [])]
    architecture = header.get("architecture") or {}
    field_of_view = (header.get("pixel_scale_convention") or {}).get("field_of_view_r_half",
                                                                     "n/a")
    transform = header.get("input_transform") or {}
    doc = _Document(title or "picasso model card")
    doc.section("Model")
    trained = header.get("trained", False)
    doc.table(("item", "value"), [
        ("trained", "yes" if trained else "NO: untrained weights, predictions are meaningless"),
        ("picasso version", header.get("picasso_version", "n/a")),
        ("architecture", ", ".join(f"{key}={value}" for key, value in architecture.items()
                                   if key not in ("in_bands", "properties"))),
        ("ensemble members", (header.get("ensemble") or {}).get("n_members", "single network")),
        ("input bands", " ".join(header.get("bands", []))),
        ("input", f"{transform.get('formula', 'n/a')}, flux in "
                  f"{transform.get('flux_unit', 'n/a')}, "
                  f"floor {transform.get('flux_floor', 'n/a')}"),
        ("reference redshift", transform.get("reference_redshift") or "none (observed flux)"),
        ("image size", f"{header.get('image_size', 'n/a')} px"),
        ("field of view", f"{field_of_view} stellar half-mass radii"),
        ("outputs", ", ".join(f"{entry['name']} [{entry['unit']}]" if isinstance(entry, dict)
                              else str(entry) for entry in header.get("properties", []))),
    ])
    _training_section(doc, header)
    _recipe_section(doc, header)
    _evaluation_section(doc, header, properties)
    _calibration_section(doc, header)
    _real_section(doc, header, properties)
    _ood_section(doc, header)
    doc.section("Known limitations")
    generator = generator_record(header)
    observing = generator.get("observing") or {}
    if observing.get("dust"):
        dust = ("The training mocks are attenuated by a simple dust screen (the neutral gas in "
                "front of each star particle, G23 curve, birth clouds); real dust geometry and "
                "grain properties vary more.")
    elif "dust" in observing:
        dust = ("The training mocks have no dust attenuation (as in the PICASSO paper): dusty "
                "galaxies are outside what the model learned.")
    else:
        dust = "The header does not say whether the training mocks had dust attenuation."
    mass_scale = _mass_scale_limitation(generator.get("universe"))
    doc.items(list(LIMITATIONS) + [_psf_limitation(header, observing), dust]
              + ([mass_scale] if mass_scale else []) + list(header.get("limitations") or []))
    doc.section("Citation")
    doc.text("Buck, T. & Wolf, S.: Predicting resolved galaxy properties from photometric "
             "images using convolutional neural networks (the PICASSO paper), and the picasso "
             "package (CITATION.cff in the repository).")
    return doc.render(format, rst_underlines)
