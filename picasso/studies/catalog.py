"""
Catalogues of real galaxies: positions and redshifts in, property maps and a table out, on Dask.

An astronomer's job is rarely one galaxy: it is "here are 20,000 SDSS galaxies
(RA, Dec, z); give me their property maps and a table of their resolved
properties". `run_catalog` does that in five steps:

1. **read** the table (`read_catalog`: ECSV, FITS or CSV with ``ra``, ``dec``,
   ``z`` and optionally ``r_half`` and ``id``);
2. **plan**: find each galaxy's SDSS field (`picasso.io.sdss.FieldIndex`), group
   the galaxies by field and cut each group into chunks;
3. **run on Dask** (`dask.distributed`: a `~distributed.LocalCluster` on this
   machine by default, or any running cluster by its scheduler address, e.g.
   one started on an HPC queue with ``dask-jobqueue``). A field with several
   chunks is first fetched and decompressed once (``prepare``); every chunk
   then reads its field's frames (once per worker, `picasso.io.sdss.FrameCache`),
   cuts its galaxies (`picasso.io.sdss.cutout_from_frames`), predicts them in
   batches with the model (loaded once per worker) and measures them
   (`measure_maps`), writing one FITS file of maps per galaxy;
4. **record** every finished galaxy as it arrives, in a journal the next run
   resumes from (done galaxies are skipped; failed ones are tried again), and
   the table ``properties.ecsv``, written atomically;
5. **summarise** in a figure (`plot_catalog_summary`).

A galaxy that fails (off every field, no source at its position, a cutout off
the frame edge, ...) gets ``status = "failed"``, the stage and the error
message in its row, and the run goes on.

The output folder::

    OUT/properties.ecsv   one row per galaxy (`catalog_columns`)
    OUT/maps/<id>.fits    the predicted maps (PropertyMaps) of every done galaxy
    OUT/summary.png       the summary figure
    OUT/journal.jsonl     what is done (read by the next run to resume)
    OUT/run.json          the settings (a rerun with other settings is refused)
"""

import json
import logging
import math
import os
import re
import shutil
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

from ..analysis import annulus_edges, fit_geometry, gradient, radial_profile
from ..io.sdss import (
    DEFAULT_CACHE,
    DEFAULT_TARGET_PSF_FWHM,
    FieldIndex,
    FrameSet,
    conf,
    cutout_from_frames,
    fetch_field,
    field_files,
    frame_name,
    read_file_bytes,
    read_frame,
)
from ..nn.diagnostics import PicassoOODWarning
from ..nn.loading import load_model
from ..properties import PROPERTIES
from ..radius import HalfRadius
from ..utils.atomic import atomic_path
from ..utils.optional_deps import require
from ..utils.scales import to_angle
from ..utils.version import version

__all__ = [
    "APERTURES",
    "GRADIENT_RANGE",
    "GEOMETRY_METHOD",
    "DEFAULT_MARGIN",
    "CatalogResult",
    "read_catalog",
    "catalog_columns",
    "measure_maps",
    "model_field_in_half_light_radii",
    "worker_model",
    "prepare_field",
    "process_chunk",
    "run_catalog",
    "plot_catalog_summary",
]

log = logging.getLogger(__name__)

#: Apertures of the totals, semi-major axes in half-mass radii of the predicted stellar mass.
APERTURES = (1.0, 2.0)

#: Radial range (half-mass radii) of the bins the gradients are fitted to.
GRADIENT_RANGE = (0.0, 3.0)

#: How far inside a field a galaxy without ``r_half`` should lie, to choose among overlapping
#: fields (half a typical cutout).
DEFAULT_MARGIN = 15 * u.arcsec

#: Catalogue columns accepted for each input (case-insensitive), first match wins.
COLUMN_ALIASES = {
    "id": ("id", "objid", "specobjid", "name", "galaxy_id"),
    "ra": ("ra", "ra_deg", "raj2000"),
    "dec": ("dec", "dec_deg", "dej2000", "decj2000"),
    "z": ("z", "redshift", "zspec", "z_spec"),
    "r_half": ("r_half", "rhalf", "r50", "petror50_r"),
}

#: The stages a galaxy goes through, as named in the ``stage`` column of a failed row.
STAGES = ("input", "field", "frames", "cutout", "predict", "analysis", "write", "worker")

_RESULTS = "properties.ecsv"
_JOURNAL = "journal.jsonl"
_SETTINGS = "run.json"
_FIGURE = "summary.png"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]+")


# --------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------


def _find_column(table, name):
    lower = {key.lower(): key for key in table.colnames}
    for alias in COLUMN_ALIASES[name]:
        if alias in lower:
            return table[lower[alias]]
    return None


def _angles(column, name):
    if column is None:
        raise ValueError(f"the catalogue has no {name} column (accepted names: "
                         f"{', '.join(COLUMN_ALIASES[name])})")
    if getattr(column, "unit", None) is not None and column.unit != u.dimensionless_unscaled:
        try:
            return u.Quantity(column).to_value(u.deg)
        except u.UnitConversionError:
            raise ValueError(f"the {name} column has unit {column.unit}, not an angle") from None
    return np.asarray(column, dtype=float)


def read_catalog(source):
    """
    Read a catalogue of galaxies: positions, redshifts and optionally sizes and names.

    Parameters
    ----------
    source : str, path-like or `~astropy.table.Table`
        An ECSV, FITS or CSV file, or a table, with columns ``ra`` and
        ``dec`` (degrees, or angle units) and ``z`` (or ``redshift``), and
        optionally ``r_half`` (the half-light radius: an angle or a length
        with units; plain numbers are arcsec) and ``id`` (unique names; the
        row number by default). Other names are accepted too
        (`COLUMN_ALIASES`); other columns are ignored.

    Returns
    -------
    catalog : `~astropy.table.QTable`
        ``id`` (str), ``ra``, ``dec`` (deg), ``z`` and ``r_half`` (arcsec or
        kpc; NaN where not given), in the input order.

    Raises
    ------
    ValueError
        For a missing column, units that do not fit, or repeated ids.
    """
    if isinstance(source, Table):
        table = source
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no catalogue file {path}")
        name = path.name.lower()
        if name.endswith(".ecsv"):
            table = QTable.read(path, format="ascii.ecsv")
        elif name.endswith(".csv"):
            table = QTable.read(path, format="ascii.csv")
        elif name.endswith((".fits", ".fit", ".fits.gz", ".fts")):
            table = QTable.read(path, format="fits")
        else:
            raise ValueError(f"{path}: give the catalogue as .ecsv, .fits or .csv")
    if len(table) == 0:
        raise ValueError("the catalogue has no rows")
    ra = _angles(_find_column(table, "ra"), "ra")
    dec = _angles(_find_column(table, "dec"), "dec")
    z = _find_column(table, "z")
    if z is None:
        raise ValueError(f"the catalogue has no redshift column (accepted names: "
                         f"{', '.join(COLUMN_ALIASES['z'])})")
    z = np.asarray(getattr(z, "value", z), dtype=float)
    ids = _find_column(table, "id")
    ids = (np.array([str(value).strip() for value in ids]) if ids is not None
           else np.array([str(index) for index in range(len(table))]))
    names = [_SAFE_NAME.sub("_", value) for value in ids]
    if len(set(names)) != len(names):
        repeated = sorted({value for value in names if names.count(value) > 1})[:5]
        raise ValueError(f"the catalogue ids are not unique (as file names): {', '.join(repeated)}")
    r_half = _find_column(table, "r_half")
    if r_half is None:
        r_half = np.full(len(table), np.nan) * u.arcsec
    else:
        unit = getattr(r_half, "unit", None)
        values = np.asarray(getattr(r_half, "value", r_half), dtype=float)
        if np.ma.is_masked(r_half):
            values = np.ma.filled(np.ma.asarray(r_half, dtype=float), np.nan)
        unit = u.arcsec if unit is None or unit == u.dimensionless_unscaled else u.Unit(unit)
        if not (unit.is_equivalent(u.arcsec) or unit.is_equivalent(u.kpc)):
            raise ValueError(f"the r_half column has unit {unit}: give an angle or a length")
        r_half = values * unit
    catalog = QTable()
    catalog["id"] = ids
    catalog["ra"] = ra * u.deg
    catalog["dec"] = dec * u.deg
    catalog["z"] = z
    catalog["r_half"] = r_half
    return catalog


# --------------------------------------------------------------------------
# Output columns and measurements
# --------------------------------------------------------------------------


def catalog_columns(properties=None):
    """
    The columns of the output table, in order, with their units.

    Parameters
    ----------
    properties : sequence of str, optional
        The model's properties; all seven by default.

    Returns
    -------
    columns : list of tuple
        ``(name, unit or None, description)``.
    """
    names = PROPERTIES.names if properties is None else tuple(properties)
    columns = [
        ("id", None, "galaxy name (catalogue id or row number)"),
        ("ra", u.deg, "right ascension (ICRS)"),
        ("dec", u.deg, "declination (ICRS)"),
        ("z", None, "redshift"),
        ("status", None, "ok, failed or pending"),
        ("stage", None, "where a failed galaxy failed"),
        ("error", None, "why it failed"),
        ("run", None, "SDSS run of the frames used"),
        ("camcol", None, "SDSS camera column"),
        ("field", None, "SDSS field"),
        ("r_half_light", u.arcsec, "half-light radius the cutout was cut to (10 of them across)"),
        ("r_half_light_source", None, "given (catalogue) or measured on r"),
        ("field_of_view", u.arcsec, "side of the cutout"),
        ("pixel_scale", u.kpc, "cutout pixel (proper length)"),
        ("psf_fwhm", u.kpc, "common PSF FWHM the bands were matched to"),
        ("psf_rule", None, "how the common PSF was chosen"),
        ("masked_fraction", None, "fraction of cutout pixels off the frames"),
        ("border_sky", None, "sky at the cutout's border in units of the per-pixel noise "
                             "(largest band; above 1: diffuse light, see subtract_background)"),
        ("r_half", u.kpc, "half-mass radius of the predicted stellar mass (semi-major axis)"),
        ("ellipticity", None, "1 - b/a of the predicted stellar mass"),
        ("position_angle", u.deg, "of the major axis, from the cutout's +x (west) axis"),
        ("geometry_method", None, "isophote, moments or assumed (analysis.fit_geometry)"),
    ]
    for name in names:
        prop = PROPERTIES[name]
        kind = "total" if prop.is_extensive else "mass-weighted mean"
        for k in APERTURES:
            label = f"{k:g}rhalf"
            columns.append((f"{name}_{label}", prop.total_unit,
                            f"{prop.long_name}: {kind} "
                            f"inside {k:g} r_half"))
            columns.append((f"{name}_{label}_err", u.dex,
                            f"1-sigma of {name}_{label} from the model's per-pixel uncertainty, "
                            "taken as fully correlated (an upper bound)"))
    for name in names:
        columns.append((f"{name}_gradient", u.dex,
                        f"radial gradient of log10 {name} per r_half (fit over "
                        f"{GRADIENT_RANGE[0]:g}-{GRADIENT_RANGE[1]:g} r_half)"))
        columns.append((f"{name}_gradient_err", u.dex, "its 1-sigma from the fit"))
        columns.append((f"{name}_gradient_kpc", u.dex / u.kpc, "the same per kpc"))
    columns += [
        ("ood_distance", None, "distance of the input from the model's training inputs"),
        ("ood_threshold", None, "distance beyond which the input is out of distribution"),
        ("ood_warning", None, "the input is out of the model's training distribution"),
        ("ood_features", None, "the input features most responsible"),
        ("unphysical_pixels", None, "pixels of the maps above the highest value any galaxy "
                                    "reaches (Property.physical_maximum; per property in the "
                                    "maps file's metadata)"),
        ("maps_file", None, "the maps, relative to the output folder"),
    ]
    return columns


def model_field_in_half_light_radii(model):
    """
    The side of a model's training images in half-light radii.

    The model file records its field of view in half radii of some kind
    (``pixel_scale_convention``: 10 3-D stellar half-mass radii for
    picasso's models); a half-light radius is taken as the projected
    half-mass radius (`picasso.radius.HalfRadius.as_kind`), as the model's
    own field-of-view check does.

    Parameters
    ----------
    model : `~picasso.nn.Model` or `~picasso.nn.ensemble.Ensemble`

    Returns
    -------
    n_half_light : float
    """
    convention = (getattr(model, "header", None) or {}).get("pixel_scale_convention") or {}
    n_radii = float(convention.get("field_of_view_r_half", 10.0))
    kind = convention.get("r_half_kind", "mass_3d")
    ratio = HalfRadius(1.0 * u.kpc, "light_projected").as_kind(kind).value.to_value(u.kpc)
    return n_radii * ratio


def _plain(value):
    """A JSON-safe float: None for NaN and infinities."""
    value = float(value)
    return value if math.isfinite(value) else None


def _total_sigma_dex(maps, name, weights):
    """1-sigma (dex) of an aperture total from per-pixel sigmas, fully correlated."""
    if maps.uncertainty is None or name not in maps.uncertainty:
        return np.nan
    sigma = np.asarray(maps.uncertainty[name], dtype=float)
    prop = PROPERTIES[name]
    values = np.asarray(maps[name].value, dtype=float)
    use = weights * ~maps.empty(name)
    if prop.is_extensive:
        contribution = use * values
    else:
        mass = np.asarray(maps[prop.weighted_by].value, dtype=float)
        contribution = use * mass * ~maps.empty(prop.weighted_by) * values
    total = contribution.sum()
    return float(np.sum(contribution * sigma) / total) if total > 0 else np.nan


#: How the galaxy's ellipse is fitted on the predicted stellar-mass map by default: image
#: moments (`picasso.analysis.fit_geometry` with ``method="moments"``). photutils' isophote
#: fit (``"isophote"``, the paper's, on true maps) costs about 0.2 s per 64 x 64 map, more
#: than everything else a catalogue does per galaxy together.
GEOMETRY_METHOD = "moments"


def measure_maps(maps, properties=None, *, geometry_method=GEOMETRY_METHOD):
    """
    The resolved properties of one galaxy from its (predicted) maps.

    The geometry (centre, ellipse, half-mass radius) is fitted on the
    stellar-mass map (`picasso.analysis.fit_geometry`, by `GEOMETRY_METHOD`);
    every property is
    summed inside ellipses of `APERTURES` half-mass radii, with a 1-sigma
    from the maps' per-pixel uncertainty taken as fully correlated (the sum's
    error in dex is the contribution-weighted mean pixel error: an upper
    bound, since the network's errors are spatially coherent), and its radial
    gradient is fitted over `GRADIENT_RANGE` half-mass radii
    (`picasso.analysis.gradient`).

    Parameters
    ----------
    maps : `~picasso.PropertyMaps`
        With a stellar-mass map and a pixel scale.
    properties : sequence of str, optional
        All the maps hold by default.
    geometry_method : {'moments', 'isophote'}
        How the ellipse is fitted (`picasso.analysis.fit_geometry`).

    Returns
    -------
    row : dict
        Plain values in the units of `catalog_columns` (None for NaN).
    """
    names = maps.properties if properties is None else tuple(properties)
    geometry = fit_geometry(maps["stellar_mass"], pixel_scale=maps.pixel_scale,
                            mask=maps.no_data, method=geometry_method)
    row = {
        "r_half": _plain(geometry.r_half_kpc.to_value(u.kpc)),
        "ellipticity": _plain(geometry.ellipticity),
        "position_angle": _plain(geometry.position_angle.to_value(u.deg)),
        "geometry_method": geometry.method,
    }
    for k in APERTURES:
        weights = geometry.aperture(k).to_mask(method="exact").to_image(maps.shape)
        for name in names:
            label = f"{name}_{k:g}rhalf"
            row[label] = _plain(maps.total(name, weights=weights).to_value(
                PROPERTIES[name].total_unit))
            row[f"{label}_err"] = _plain(_total_sigma_dex(maps, name, weights))
    profile = radial_profile(maps, geometry, properties=names,
                             edges=annulus_edges(stop=GRADIENT_RANGE[1]))
    for name in names:
        fitted = gradient(profile, name=name, radius_range=GRADIENT_RANGE)
        row[f"{name}_gradient"] = _plain(fitted.slope.value)
        row[f"{name}_gradient_err"] = _plain(fitted.slope_error.value)
        row[f"{name}_gradient_kpc"] = (None if fitted.slope_kpc is None
                                       else _plain(fitted.slope_kpc.value))
    return row


# --------------------------------------------------------------------------
# Work done on the Dask workers
# --------------------------------------------------------------------------

# Per worker process: models loaded once and shared by its tasks.
_WORKER_MODELS = {}
_WORKER_LOCK = threading.Lock()


def worker_model(spec, torch_threads=None):
    """
    The model of ``spec``, loaded once per (worker) process and kept.

    Parameters
    ----------
    spec : str
        A model file or training folder, or ``"default"``.
    torch_threads : int, optional
        Threads torch uses in this process (set when the model is loaded).

    Returns
    -------
    model : `~picasso.nn.Model` or `~picasso.nn.ensemble.Ensemble`
    """
    with _WORKER_LOCK:
        model = _WORKER_MODELS.get(spec)
        if model is None:
            if torch_threads:
                import torch

                torch.set_num_threads(int(torch_threads))
            model = load_model(spec)
            _WORKER_MODELS[spec] = model
        return model


def _failure(row, stage, error):
    message = f"{type(error).__name__}: {error}" if not isinstance(error, str) else error
    return {"id": row["id"], "status": "failed", "stage": stage, "error": message[:500]}


def prepare_field(task):
    """
    Fetch one field's frames and decompress them once, for the chunks that share it.

    Parameters
    ----------
    task : dict
        A chunk task (its ``field``, ``frames`` and ``scratch`` entries).

    Returns
    -------
    prepared : dict
        ``files``: band -> ``(decompressed file, source)``, and ``cpu_s``, the
        process CPU seconds it took; or ``{"error": message}``.
    """
    start = time.process_time()
    run, camcol, number, rerun = task["field"]
    folder = Path(task["scratch"])

    def decompress(item):
        band, (path, source, raw) = item
        target = folder / frame_name(band, run, camcol, number).removesuffix(".bz2")
        if not target.exists():
            with atomic_path(target, overwrite=True) as tmp:
                tmp.write_bytes(raw if raw is not None else read_file_bytes(path))
        return band, (str(target), source)

    try:
        files = field_files(run, camcol, number, bands=task["bands"], rerun=rerun,
                            base=task["frames"], keep_bytes=True)
        folder.mkdir(parents=True, exist_ok=True)
        # bz2 decompression releases the interpreter lock: the bands run side by side
        with ThreadPoolExecutor(max_workers=len(files)) as pool:
            prepared = dict(pool.map(decompress, files.items()))
        return {"files": prepared, "cpu_s": time.process_time() - start}
    except (OSError, ValueError) as error:
        return {"error": f"{type(error).__name__}: {error}"}


def _frames_for(task, prepared):
    if prepared:
        return FrameSet(read_frame(path, band=band, source=source, cache=DEFAULT_CACHE)
                        for band, (path, source) in prepared["files"].items())
    run, camcol, number, rerun = task["field"]
    frames = fetch_field(run, camcol, number, bands=task["bands"], rerun=rerun,
                         base=task["frames"], cache=DEFAULT_CACHE)
    return FrameSet(frames.values())


def _add(timings, key, start):
    timings[key] = timings.get(key, 0.0) + time.process_time() - start


def process_chunk(task, prepared=None):
    """
    Cut, predict, measure and write the galaxies of one chunk (one field).

    Runs on a Dask worker; every failure is recorded in the galaxy's row
    instead of raised.

    Parameters
    ----------
    task : dict
        ``rows`` (dicts with ``id``, ``ra``, ``dec``, ``z``, ``r_half``),
        ``field`` (run, camcol, field, rerun), ``frames`` (where the frames
        are), ``bands``, ``model`` (a model file or ``"default"``),
        ``options`` (for `~picasso.io.sdss.cutout_from_frames` and
        prediction), ``maps_dir`` and ``torch_threads``.
    prepared : dict, optional
        From `prepare_field`.

    Returns
    -------
    records : list of dict
        One per galaxy, plain values.
    timings : dict
        Process CPU seconds per stage (``read``: reading, and unless the field
        was prepared decompressing, the frames; ``r_half``, ``reproject``,
        ``psf_match``, ``predict``, ``analysis``, ``write``) and ``galaxies``.
    """
    timings = {"galaxies": len(task["rows"])}
    run, camcol, number, rerun = task["field"]
    base = {"run": int(run), "camcol": int(camcol), "field": int(number)}
    if prepared is not None and "error" in prepared:
        return [{**_failure(row, "frames", prepared["error"]), **base}
                for row in task["rows"]], timings
    start = time.process_time()
    try:
        frames = _frames_for(task, prepared)
    except (OSError, ValueError) as error:
        return [{**_failure(row, "frames", error), **base} for row in task["rows"]], timings
    _add(timings, "read", start)
    options = dict(task["options"])
    predict_options = {key: options.pop(key) for key in ("symmetries", "batch_size")}
    geometry_method = options.pop("geometry_method", GEOMETRY_METHOD)
    model = worker_model(task["model"], task.get("torch_threads"))
    records, cutouts = [], []
    for row in task["rows"]:
        record = {"id": row["id"], **base}
        records.append(record)
        r_half = row["r_half"]
        if r_half is not None and not np.isfinite(r_half.value):
            r_half = None
        try:
            with warnings.catch_warnings():
                # diffuse light at the border is reported in the table (border_sky)
                warnings.filterwarnings("ignore", message="the sky at the cutout's border")
                cutout = cutout_from_frames(frames, row["ra"] * u.deg, row["dec"] * u.deg,
                                            row["z"], r_half=r_half, timings=timings, **options)
        except Exception as error:  # a bad galaxy fails its row, not the run
            record.update(_failure(row, "cutout", error))
            continue
        cutouts.append((record, cutout))
        angle = to_angle(cutout.r_half.value, cutout.redshift, cutout.cosmology)
        record.update({
            "r_half_light": _plain(angle.to_value(u.arcsec)),
            "r_half_light_source": cutout.meta.get("r_half_source"),
            "field_of_view": _plain(cutout.meta["field_arcsec"]),
            "pixel_scale": _plain(cutout.pixel_scale_kpc.to_value(u.kpc)),
            "psf_fwhm": _plain(cutout.meta.get("psf_matched_kpc", np.nan)),
            "psf_rule": cutout.meta.get("psf_rule", str(options.get("target_psf_fwhm"))),
            "masked_fraction": _plain(cutout.combined_mask.mean()
                                      if cutout.combined_mask is not None else 0.0),
            "border_sky": _plain(cutout.meta["background_significance"]),
        })
    start = time.process_time()
    checked = []
    for record, cutout in cutouts:
        try:
            model.input_flux(cutout)  # the model's checks (size, field of view, ...) per galaxy
        except ValueError as error:
            record.update(_failure(record, "predict", error))
            continue
        checked.append((record, cutout))
    cutouts = checked
    predictions = [None] * len(cutouts)
    if cutouts:
        with warnings.catch_warnings():
            # out-of-distribution inputs are reported in the table, not warned about
            warnings.simplefilter("ignore", PicassoOODWarning)
            try:
                predictions = model.predict([cutout for _, cutout in cutouts], **predict_options)
            except Exception:  # find the galaxy that breaks the batch
                for index, (record, cutout) in enumerate(cutouts):
                    try:
                        predictions[index] = model.predict(cutout, **predict_options)
                    except Exception as error:
                        record.update(_failure(record, "predict", error))
    _add(timings, "predict", start)
    maps_dir = Path(task["maps_dir"])
    for (record, _), maps in zip(cutouts, predictions):
        if maps is None:
            continue
        start = time.process_time()
        try:
            record.update(measure_maps(maps, geometry_method=geometry_method))
            record["unphysical_pixels"] = sum(maps.meta.get("unphysical_pixels", {}).values())
            ood = maps.meta.get("ood")
            if ood:
                record.update({"ood_distance": _plain(ood["distance"]),
                               "ood_threshold": _plain(ood["threshold"]),
                               "ood_warning": bool(ood["out_of_distribution"]),
                               "ood_features": ",".join(ood.get("largest", []))})
        except Exception as error:
            record.update(_failure(record, "analysis", error))
            continue
        finally:
            _add(timings, "analysis", start)
        start = time.process_time()
        name = f"{_SAFE_NAME.sub('_', record['id'])}.fits"
        try:
            maps.meta["catalog_id"] = record["id"]
            maps.write(maps_dir / name, overwrite=True)
        except (OSError, ValueError) as error:
            record.update(_failure(record, "write", error))
            continue
        finally:
            _add(timings, "write", start)
        record.update({"status": "ok", "stage": "", "error": "",
                       "maps_file": f"{maps_dir.name}/{name}"})
    return records, timings


# --------------------------------------------------------------------------
# The run: plan, submit, record, resume
# --------------------------------------------------------------------------


@dataclass
class CatalogResult:
    """
    What `run_catalog` produced.

    Attributes
    ----------
    table : `~astropy.table.QTable`
        One row per catalogue galaxy (`catalog_columns`).
    output : `~pathlib.Path`
        The output folder.
    table_path, figure_path : `~pathlib.Path` or None
    timings : dict
        Process CPU seconds per stage summed over the workers (``decompress``:
        fields decompressed once for several tasks, then as `process_chunk`
        says), ``wall`` seconds of the whole run and ``galaxies`` processed
        this run.
    """

    table: QTable
    output: Path
    table_path: Path
    figure_path: Path = None
    timings: dict = field(default_factory=dict)

    @property
    def n_ok(self):
        """int: galaxies done."""
        return int(np.sum(self.table["status"] == "ok"))

    @property
    def n_failed(self):
        """int: galaxies that failed."""
        return int(np.sum(self.table["status"] == "failed"))


def _read_journal(path):
    """Latest record per id from the journal (a torn last line is ignored)."""
    records = {}
    if not path.exists():
        return records
    with open(path) as stream:
        for line in stream:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s: ignoring an unfinished line", path)
                continue
            records[record["id"]] = record
    return records


def _table(catalog, records, properties):
    """The output table: catalogue order, latest record per galaxy."""
    columns = catalog_columns(properties)
    rows = []
    for entry in catalog:
        record = records.get(entry["id"]) or {"status": "pending", "stage": "", "error": ""}
        base = {"id": entry["id"], "ra": entry["ra"].to_value(u.deg),
                "dec": entry["dec"].to_value(u.deg), "z": entry["z"]}
        rows.append({**record, **base})
    table = QTable()
    for name, unit, description in columns:
        values = [row.get(name) for row in rows]
        if name in ("id", "status", "stage", "error", "r_half_light_source", "psf_rule",
                    "geometry_method", "ood_features", "maps_file"):
            column = np.array(["" if value is None else str(value) for value in values])
        elif name == "ood_warning":
            column = np.array([bool(value) for value in values])
        elif name in ("run", "camcol", "field", "unphysical_pixels"):
            column = np.array([-1 if value is None else int(value) for value in values])
        else:
            column = np.array([np.nan if value is None else float(value) for value in values])
        table[name] = column if unit is None else column * unit
        table[name].description = description
    return table


def _write_table(table, path, meta):
    table.meta.update(meta)
    with atomic_path(path, overwrite=True) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return path


def _settings(model, options, frames, bands):
    return {
        "model": str(model),
        "frames": str(frames),
        "bands": list(bands),
        **{key: str(value) for key, value in sorted(options.items())},
    }


def _check_settings(output, settings, overwrite):
    path = output / _SETTINGS
    if path.exists() and not overwrite:
        earlier = json.loads(path.read_text())
        differ = {key: (earlier.get(key), value) for key, value in settings.items()
                  if key != "picasso_version" and earlier.get(key) != value}
        if differ:
            text = "; ".join(f"{key}: {old!r} then, {new!r} now" for key, (old, new)
                             in differ.items())
            raise ValueError(
                f"{output} holds a catalogue run with other settings ({text}); resume it with "
                "the same settings, write to another folder, or pass overwrite=True to start over"
            )
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps({**settings, "picasso_version": version}, indent=1))


def _client(scheduler, n_workers, processes):
    """(client, cluster to close or None, torch threads per worker or None)."""
    require("dask", "catalogue runs on Dask (picasso catalog)")
    require("distributed", "catalogue runs on Dask (picasso catalog)")
    from distributed import Client, LocalCluster

    if scheduler is None or scheduler == "local":
        cores = os.cpu_count() or 1
        # threads of this process share warning filters and the interpreter lock: one,
        # unless asked for more
        n_workers = int(n_workers or (cores if processes else 1))
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        threads = max(1, cores // n_workers) if processes else None
        return Client(cluster), cluster, threads
    if isinstance(scheduler, Client):
        return scheduler, None, None
    return Client(scheduler), None, None


def _plan(catalog, index, margin_of, done):
    """Rows to do, grouped by field; failures of the input and field stages."""
    failures = {}
    todo = []
    for position, entry in enumerate(catalog):
        if entry["id"] in done:
            continue
        z, ra, dec = entry["z"], entry["ra"].to_value(u.deg), entry["dec"].to_value(u.deg)
        if not (np.isfinite(z) and z > 0):
            failures[entry["id"]] = _failure(entry, "input", f"redshift must be positive, got {z}")
        elif not (np.isfinite(ra) and np.isfinite(dec) and -90 <= dec <= 90):
            failures[entry["id"]] = _failure(entry, "input", f"bad position RA {ra}, Dec {dec}")
        else:
            todo.append(position)
    groups = {}
    if todo:
        margin = u.Quantity([margin_of(catalog[i]) for i in todo])
        rows, depth = index.match(catalog["ra"][todo], catalog["dec"][todo], margin=margin)
        for position, row in zip(todo, rows):
            entry = catalog[position]
            if row < 0:
                failures[entry["id"]] = _failure(
                    entry, "field", f"no field of {index.source} covers this position")
                continue
            fields = index.fields[int(row)]
            key = (int(fields["run"]), int(fields["camcol"]), int(fields["field"]),
                   str(fields["rerun"]))
            groups.setdefault(key, []).append(position)
    return groups, failures


def run_catalog(catalog, output, *, model="default", frames=None, index=None, scheduler=None,
                n_workers=None, processes=True, chunk_size=16, retry_failed=True,
                overwrite=False, progress=True, figure=True, size=None, n_half_light=None,
                target_psf_fwhm=DEFAULT_TARGET_PSF_FWHM, method="adaptive", kernel="auto",
                subtract_background=False, mask_sources=False, symmetries=1, batch_size=16,
                bands=None, geometry_method=GEOMETRY_METHOD, torch_threads=None, checkpoint=100):
    """
    Property maps and a table of resolved properties for a catalogue of SDSS galaxies, on Dask.

    See the module docstring for the steps and the output folder. Rerun with the
    same arguments to resume: galaxies already done are skipped (``retry_failed``
    also tries the failed ones again).

    Parameters
    ----------
    catalog : str, path-like or `~astropy.table.Table`
        The galaxies (`read_catalog`).
    output : str or path-like
        The output folder (created). With a cluster elsewhere, the workers
        write the maps there: it must be on a file system they share.
    model : str or path-like
        A model file or training folder, or ``"default"`` (the bundled
        model); loaded once per worker.
    frames : str or path-like, optional
        Where the SDSS frames are: a URL in the Science Archive Server layout
        (downloaded once through astropy's cache) or a local directory (that
        layout, or flat); ``picasso.io.sdss.conf.frames_url`` by default.
    index : `~picasso.io.sdss.FieldIndex` or path-like, optional
        Which fields exist: an index, or a field list to read
        (`~picasso.io.sdss.FieldIndex.read`). By default the headers of a
        local ``frames`` directory, else the survey's field list
        (``conf.field_list``, a 0.5 GB download the first time).
    scheduler : str or `distributed.Client`, optional
        A running Dask scheduler's address (``tcp://host:8786``) or a
        client; by default (or ``"local"``) a `~distributed.LocalCluster` on
        this machine. Its worker processes import the calling script: guard
        a script's work with ``if __name__ == "__main__":``.
    n_workers : int, optional
        Workers of the local cluster (one thread each); by default the number
        of cores, or one with ``processes=False``.
    processes : bool
        Local workers as processes (default) or as threads of this process
        (quicker to start, for small catalogues).
    chunk_size : int
        Galaxies per task (one field each; predicted in batches).
    retry_failed : bool
        On a rerun, try the galaxies that failed before again.
    overwrite : bool
        Start over in an output folder that holds a run.
    progress : bool
        Show a progress bar.
    figure : bool
        Draw the summary figure.
    size : int, optional
        Cutout pixels per side; the model's image size by default.
    n_half_light : float, optional
        Cutout side in half-light radii; by default the model's training
        field (`model_field_in_half_light_radii`: 13.3 for 10 3-D half-mass
        radii).
    target_psf_fwhm, method, kernel, subtract_background, mask_sources
        Passed to `picasso.io.sdss.cutout_from_frames`
        (``target_psf_fwhm``: `picasso.io.sdss.DEFAULT_TARGET_PSF_FWHM` by
        default; ``kernel="auto"``: the adaptive reprojection's Hann window
        where an output pixel spans 1.5 frame pixels or more, twice as fast as
        the Gaussian there, within 0.4% in flux on resolved galaxies and about
        1% on point-like sources).
    symmetries : int
        Symmetries of the square averaged over (test-time augmentation: 1, 2, 4 or 8).
    batch_size : int
        Cutouts per forward pass.
    bands : iterable of str, optional
        The model's bands by default.
    geometry_method : {'moments', 'isophote'}
        How the ellipse of the apertures is fitted on the predicted stellar
        mass (`GEOMETRY_METHOD`, see `measure_maps`).
    torch_threads : int, optional
        Threads torch uses on each worker: by default the cores over the
        workers for the local cluster, and torch's own default on a running
        cluster (set it there to the cores per worker thread).
    checkpoint : int
        Rewrite the table every this many galaxies (and at the end).

    Returns
    -------
    result : `CatalogResult`

    Raises
    ------
    ImportError
        If dask or distributed is not installed.
    ValueError
        For a bad catalogue, or an output folder holding a run with other settings.
    """
    started = time.perf_counter()
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    catalog = read_catalog(catalog)
    frames = str(conf.frames_url if frames is None else frames)
    index = _field_index(index, frames)
    loaded = load_model(model)
    size = int(loaded.image_size if size is None else size)
    if n_half_light is None:
        n_half_light = model_field_in_half_light_radii(loaded)
    bands = tuple(loaded.bands if bands is None else bands)
    properties = tuple(loaded.properties)
    del loaded
    options = {"size": size, "n_half_light": float(n_half_light),
               "target_psf_fwhm": target_psf_fwhm, "method": method, "kernel": kernel,
               "subtract_background": bool(subtract_background),
               "mask_sources": bool(mask_sources), "bands": bands,
               "symmetries": tuple(range(int(symmetries))), "batch_size": int(batch_size),
               "geometry_method": geometry_method}
    _check_settings(output, _settings(model, options, frames, bands), overwrite)
    journal_path = output / _JOURNAL
    if overwrite:
        journal_path.unlink(missing_ok=True)
    records = _read_journal(journal_path)
    maps_dir = output / "maps"
    maps_dir.mkdir(exist_ok=True)
    done = {key for key, record in records.items() if record.get("status") == "ok"
            and (output / record.get("maps_file", "")).is_file()}
    if not retry_failed:
        done |= {key for key, record in records.items() if record.get("status") == "failed"}
    log.info("catalogue of %d galaxies: %d done before", len(catalog), len(done))

    def margin_of(entry):
        """Half the galaxy's cutout: how far inside a field it should lie."""
        r_half, z = entry["r_half"], entry["z"]
        if not (np.isfinite(r_half.value) and np.isfinite(z) and z > 0):
            return DEFAULT_MARGIN
        return (0.5 * n_half_light * to_angle(r_half, z)).to(u.arcsec)

    groups, failures = _plan(catalog, index, margin_of, done)
    timings = {}
    table_path = output / _RESULTS
    meta = {"picasso_version": version, "model": str(model), "frames": frames,
            "apertures_r_half": list(APERTURES), "gradient_range_r_half": list(GRADIENT_RANGE)}
    try:
        with open(journal_path, "a") as journal:
            for record in failures.values():
                _append(journal, records, record)
            if any(groups.values()):
                _run_on_dask(catalog, groups, output, maps_dir, model, frames, bands, options,
                             scheduler, n_workers, processes, chunk_size, progress, journal,
                             records, timings, checkpoint, torch_threads, lambda: _write_table(
                                 _table(catalog, records, properties), table_path, meta))
    finally:
        shutil.rmtree(output / "scratch", ignore_errors=True)
    table = _table(catalog, records, properties)
    _write_table(table, table_path, meta)
    figure_path = None
    if figure:
        figure_path = plot_catalog_summary(table, output / _FIGURE)
    timings["wall"] = time.perf_counter() - started
    result = CatalogResult(table, output, table_path, figure_path, timings)
    log.info("catalogue done: %d ok, %d failed, %.0f s", result.n_ok, result.n_failed,
             timings["wall"])
    return result


def _field_index(index, frames):
    """The field index to plan with (see `run_catalog`)."""
    if isinstance(index, FieldIndex):
        return index
    if index is not None:
        return FieldIndex.read(index)
    if frames.startswith("file://"):
        return FieldIndex.from_frames(Path(frames[len("file://"):]))
    if "://" not in frames:
        return FieldIndex.from_frames(Path(frames))
    return FieldIndex.read()


def _append(journal, records, record):
    records[record["id"]] = record
    journal.write(json.dumps(record) + "\n")
    journal.flush()


def _run_on_dask(catalog, groups, output, maps_dir, model, frames, bands, options, scheduler,
                 n_workers, processes, chunk_size, progress, journal, records, timings,
                 checkpoint, torch_threads, write_table):
    from distributed import as_completed
    from tqdm.auto import tqdm

    client, cluster, local_threads = _client(scheduler, n_workers, processes)
    torch_threads = local_threads if torch_threads is None else int(torch_threads)
    chunk_size = max(1, int(chunk_size))
    n_todo = sum(len(positions) for positions in groups.values())
    try:
        futures = {}
        remaining = {}
        preparations = []
        for key, positions in groups.items():
            run, camcol, number, rerun = key
            rows = [{"id": str(catalog["id"][i]), "ra": float(catalog["ra"][i].to_value(u.deg)),
                     "dec": float(catalog["dec"][i].to_value(u.deg)),
                     "z": float(catalog["z"][i]), "r_half": catalog["r_half"][i]}
                    for i in positions]
            chunks = [rows[start:start + chunk_size] for start in range(0, len(rows), chunk_size)]
            name = f"{run}-{camcol}-{number}"
            scratch = output / "scratch" / name
            base_task = {"field": key, "frames": frames, "bands": bands, "model": str(model),
                         "options": dict(options), "maps_dir": str(maps_dir),
                         "torch_threads": torch_threads, "scratch": str(scratch)}
            prepared = None
            if len(chunks) > 1 and _worth_preparing(frames, key, bands):
                prepared = client.submit(prepare_field, base_task, pure=False,
                                         key=f"picasso-prepare-{name}-{time.time_ns()}")
                preparations.append(prepared)
            remaining[key] = len(chunks)
            for chunk in chunks:
                task = {**base_task, "rows": chunk}
                future = client.submit(process_chunk, task, prepared, pure=False,
                                       key=f"picasso-chunk-{name}-{chunk[0]['id']}-"
                                           f"{time.time_ns()}")
                futures[future] = (key, chunk)
        since_checkpoint = 0
        with tqdm(total=n_todo, disable=not progress, desc="galaxies", unit="galaxy") as bar:
            for future in as_completed(list(futures)):
                key, chunk = futures.pop(future)
                try:
                    chunk_records, chunk_timings = future.result()
                except Exception as error:  # a lost worker fails its chunk, not the run
                    chunk_records = [_failure(row, "worker", f"the task failed on its worker: "
                                                             f"{type(error).__name__}: {error}")
                                     for row in chunk]
                    chunk_timings = {}
                future.release()  # its result is recorded: free the worker's copy
                for record in chunk_records:
                    _append(journal, records, record)
                for stage, seconds in chunk_timings.items():
                    timings[stage] = timings.get(stage, 0.0) + seconds
                bar.update(len(chunk))
                since_checkpoint += len(chunk)
                if since_checkpoint >= checkpoint:
                    write_table()
                    since_checkpoint = 0
                remaining[key] -= 1
                if not remaining[key]:
                    run, camcol, number, _ = key
                    shutil.rmtree(output / "scratch" / f"{run}-{camcol}-{number}",
                                  ignore_errors=True)
        for prepared in preparations:
            if prepared.status == "finished":
                seconds = prepared.result().get("cpu_s", 0.0)
                timings["decompress"] = timings.get("decompress", 0.0) + seconds
    finally:
        if cluster is not None:
            client.close()
            cluster.close()
        elif client is not scheduler:  # a client made here, not the caller's
            client.close()


def _worth_preparing(frames, key, bands):
    """Whether a field's frames need decompressing (remote, or compressed local files)."""
    if "://" in frames and not frames.startswith("file://"):
        return True
    run, camcol, number, rerun = key
    try:
        files = field_files(run, camcol, number, bands=bands[:1], rerun=rerun, base=frames)
    except (OSError, ValueError):
        return False
    path = next(iter(files.values()))[0]
    return Path(path).suffix in (".bz2", ".gz")


# --------------------------------------------------------------------------
# Summary figure
# --------------------------------------------------------------------------


def plot_catalog_summary(table, path=None):
    """
    A summary figure of a catalogue run.

    Four panels: star-formation rate against stellar mass inside 2 R_half,
    the stellar-mass gradient against stellar mass, the half-mass radius
    against redshift, and the distribution of the out-of-distribution
    distances with the model's threshold; the title counts done and failed
    galaxies.

    Parameters
    ----------
    table : `~astropy.table.QTable`
        From `run_catalog`.
    path : str or path-like, optional
        Where to save it (PNG, atomically).

    Returns
    -------
    path_or_figure : `~pathlib.Path` or `~matplotlib.figure.Figure`
        The file written, or the figure when ``path`` is None.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ok = table["status"] == "ok"
    figure, axes = plt.subplots(2, 2, figsize=(9, 7.5), layout="constrained")
    n_failed = int(np.sum(table["status"] == "failed"))
    figure.suptitle(f"picasso catalogue: {int(ok.sum())} galaxies done, {n_failed} failed")
    mass = _log10(table["stellar_mass_2rhalf"][ok]) if "stellar_mass_2rhalf" in \
        table.colnames else np.array([])
    panels = [
        (axes[0, 0], mass, _log10(table["sfr_2rhalf"][ok]) if "sfr_2rhalf" in table.colnames
         else np.array([]), r"log$_{10}$ M$_*$ inside 2 R$_{1/2}$ [M$_\odot$]",
         r"log$_{10}$ SFR inside 2 R$_{1/2}$ [M$_\odot$ yr$^{-1}$]", "star formation"),
        (axes[0, 1], mass, np.asarray(table["stellar_mass_gradient"][ok].value)
         if "stellar_mass_gradient" in table.colnames else np.array([]),
         r"log$_{10}$ M$_*$ inside 2 R$_{1/2}$ [M$_\odot$]",
         r"stellar-mass gradient [dex / R$_{1/2}$]", "radial gradient"),
        (axes[1, 0], np.asarray(table["z"][ok], dtype=float),
         np.asarray(table["r_half"][ok].to_value(u.kpc)), "redshift",
         r"half-mass radius R$_{1/2}$ [kpc]", "size"),
    ]
    colour = np.asarray(table["z"][ok], dtype=float)
    points = None
    for axis, x, y, xlabel, ylabel, title in panels:
        good = np.isfinite(x) & np.isfinite(y) if len(x) and len(y) else np.zeros(0, bool)
        if good.any():
            points = axis.scatter(x[good], y[good], c=colour[good], s=14, cmap="viridis",
                                  vmin=np.nanmin(colour), vmax=np.nanmax(colour))
        else:
            axis.text(0.5, 0.5, "no galaxies", ha="center", va="center",
                      transform=axis.transAxes)
        axis.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if points is not None:
        figure.colorbar(points, ax=axes[0, 1], label="redshift")
    axis = axes[1, 1]
    distance = np.asarray(table["ood_distance"][ok], dtype=float)
    distance = distance[np.isfinite(distance)]
    if distance.size:
        axis.hist(distance, bins=max(5, min(30, distance.size // 2)), color="0.4")
        threshold = np.nanmedian(np.asarray(table["ood_threshold"][ok], dtype=float))
        if np.isfinite(threshold):
            axis.axvline(threshold, color="C3", label=f"warning threshold {threshold:.1f}")
            axis.legend(loc="upper right")
    else:
        axis.text(0.5, 0.5, "no OOD distances (the model records no training statistics)",
                  ha="center", va="center", transform=axis.transAxes, wrap=True)
    axis.set(xlabel="distance from the training inputs", ylabel="galaxies",
             title="out-of-distribution check")
    if path is None:
        return figure
    path = Path(path)
    with atomic_path(path, overwrite=True) as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)
    return path


def _log10(values):
    values = np.asarray(getattr(values, "value", values), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(values), np.nan)
