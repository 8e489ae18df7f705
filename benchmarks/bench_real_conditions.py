"""
Accuracy under real conditions: synthetic galaxies injected into real SDSS frames.

A fixed-seed set of held-out synthetic galaxies (a universe seed the model was
not trained on) is injected into the real SDSS field in ../shared/data/sdss
(run 2583, camcol 2, field 136) with `picasso.studies.injection`, at a few
redshifts between 0.03 and 0.1, half on clean sky (right of the field) and
half in the crowded half of the globular cluster M2 (left). Each galaxy then
goes the user's whole path: frames -> `GalaxyCutout.from_sdss_frames` ->
`predict` (the model) -> analysis (geometry fitted on the true stellar-mass
map, totals and pixels within 2 R_half). The same galaxies, seen from the
same direction, are also observed as pure mocks with the model's own training
set-up: the difference is the synthetic-to-real gap. The colour
mass-to-light stellar mass (Bell et al. 2003, g - r) is computed on the same
real-condition inputs.

``--conditions`` switches the real conditions on one at a time, to find which
causes a gap:

``mock``        the model's training set-up (the reference)
``resampling``  injected into blank, noiseless copies of the frames with a
                point-like PSF, then cut (per-band WCS grids, reprojection)
``psf``         as ``resampling``, with each band's real PSF
``noise``       as ``resampling``, on frames filled with the real data-model
                noise (sky, read noise) but no sources
``neighbours``  as ``resampling``, into the real pixels (noise, stars,
                neighbours, sky residuals), point-like PSF
``real``        everything: the real pixels and the real PSF

It prints per property mu and sigma (dex) within 2 R_half, per galaxy and per
pixel, for every condition, the baseline, the out-of-distribution distance,
and writes JSON (``--output``) and a figure (``--figure``).

Usage::

    python benchmarks/bench_real_conditions.py --model model_dir
    python benchmarks/bench_real_conditions.py --model model_dir \
        --conditions mock resampling psf noise neighbours real

Without ``--model`` the bundled model is used; without one the script stops
with a message saying so.
"""

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = ("mock", "resampling", "psf", "noise", "neighbours", "real")
#: Injection PSF of the conditions that leave the PSF out (arcsec): point-like.
POINT_PSF = 0.05 * u.arcsec
#: Pixel ranges (r frame) of the clean sky and of the crowded cluster half of the field.
CLEAN_COLUMNS = (1150, 1950)
CROWDED_COLUMNS = (120, 640)
ROWS = (150, 1340)

log = logging.getLogger("bench_real_conditions")


def default_frames():
    env = os.environ.get("PICASSO_SDSS_DATA")
    return Path(env) if env else ROOT / ".." / "shared" / "data" / "sdss"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model file or training directory (default: bundled)")
    parser.add_argument("--frames", default=None,
                        help="directory of the five SDSS frames (default ../shared/data/sdss or "
                             "$PICASSO_SDSS_DATA)")
    parser.add_argument("--redshifts", type=float, nargs="+", default=[0.03, 0.05, 0.075, 0.1])
    parser.add_argument("--per-redshift", type=int, default=2,
                        help="galaxies per redshift, alternating clean and crowded sky")
    parser.add_argument("--universe-seed", type=int, default=9001,
                        help="seed of the held-out universe (must differ from the training one)")
    parser.add_argument("--seed", type=int, default=0, help="seed of placements and noise")
    parser.add_argument("--conditions", nargs="+", default=["mock", "real"], choices=CONDITIONS)
    parser.add_argument("--k", type=float, default=2.0, help="aperture in half-mass radii")
    parser.add_argument("--examples", type=int, default=3, help="galaxies in the figure")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" /
                                                "real_conditions.json"))
    parser.add_argument("--figure", default=str(ROOT / "benchmarks" / "results" /
                                                "real_conditions.png"))
    parser.add_argument("--workdir", help="keep the injected frames here (default: temporary)")
    parser.add_argument("--subtract-background", action="store_true",
                        help="cut with subtract_background=True (the sky left at the border)")
    return parser.parse_args(argv)


def load(model_path):
    from picasso.nn.loading import default_model, load_model

    if model_path:
        return load_model(model_path)
    try:
        return default_model()
    except RuntimeError as error:
        sys.exit(f"bench_real_conditions: no model to benchmark: {error}. Give one with "
                 "--model PATH.")


def training_setup(model):
    """The model's training universe parameters and observing configuration."""
    from picasso.mock.observe import ObservingConfig
    from picasso.studies.provenance import generator_record, training_observing

    try:
        config = training_observing(model)
    except (TypeError, ValueError) as error:
        log.warning("cannot rebuild the training observing set-up (%s); using the paper's", error)
        config = None
    known = config is not None
    if config is None:
        config = ObservingConfig().replace(image_size=model.image_size, bands=tuple(model.bands))
    return config, dict(generator_record(model).get("universe") or {}), known


def held_out_universe(parameters, seed):
    from picasso.mock.universe import Universe

    keys = ("mass_function", "redshift", "companion_fraction", "n_star_particles",
            "min_star_particles", "max_star_particles", "gas_particle_mass_ratio",
            "max_gas_cells")
    kwargs = {key: parameters[key] for key in keys if key in parameters}
    if "log_mass_range" in parameters:
        kwargs["mass_range"] = 10 ** np.asarray(parameters["log_mass_range"]) * u.Msun
    if parameters.get("seed") == seed:
        raise SystemExit(f"--universe-seed {seed} is the model's training seed: choose another")
    return Universe(seed, **kwargs)


def placements(frame, universe, redshifts, per_redshift, rng):
    from picasso.mock.universe import view_directions
    from picasso.studies.injection import Placement

    result = []
    index = 0
    for redshift in redshifts:
        for slot in range(per_redshift):
            crowded = slot % 2 == 1
            columns = CROWDED_COLUMNS if crowded else CLEAN_COLUMNS
            x = rng.uniform(*columns)
            y = rng.uniform(*ROWS)
            coord = frame.wcs.pixel_to_world(x, y)
            directions, _ = view_directions(rng, 4)
            direction = directions[2 + slot % 2]
            particles = universe.particles(index)
            result.append((Placement(particles, coord.ra, coord.dec, redshift,
                                     direction=tuple(direction), name=f"g{index}"),
                           "crowded" if crowded else "clean"))
            index += 1
    return result


def prepare_backgrounds(frames_dir, workdir, conditions, seed):
    """Decompress the real frames once; write the blank and noise-only copies needed."""
    from picasso.io.sdss.frames import frame_from_hdul, open_frame_file

    backgrounds = {}
    real = workdir / "real"
    real.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    needs = {"real": "real", "neighbours": "real", "resampling": "blank", "psf": "blank",
             "noise": "noise"}
    kinds = {needs[c] for c in conditions if c in needs} | {"real"}
    for kind in kinds:
        (workdir / kind).mkdir(exist_ok=True)
        backgrounds[kind] = workdir / kind
    started = time.perf_counter()
    for path in sorted(Path(frames_dir).glob("frame-*.fits*")):
        name = path.name[:-4] if path.name.endswith(".bz2") else path.name
        hdul = open_frame_file(path)
        frame = frame_from_hdul(hdul, path)
        if "real" in kinds:
            hdul.writeto(real / name, overwrite=True)
        if "blank" in kinds:
            hdul[0].data = np.zeros_like(hdul[0].data)
            hdul.writeto(workdir / "blank" / name, overwrite=True)
        if "noise" in kinds:
            # The data-model noise of the sky alone: (sky / gain + dark variance) * calib**2.
            variance = (frame.sky() / frame.gain + frame.dark_variance) * frame.calibration**2
            hdul[0].data = (rng.normal(size=variance.shape) * np.sqrt(variance)).astype(np.float32)
            hdul.writeto(workdir / "noise" / name, overwrite=True)
    return backgrounds, time.perf_counter() - started


def cut(galaxy, frames, config, model, psf_fwhm, subtract_background=False):
    """
    Cut the injected galaxy on its truth field, as a user's cutout would be.

    A model told the PSF (a ``psf_fwhm`` condition plane) gets the ingest default
    (`picasso.io.sdss.DEFAULT_TARGET_PSF_FWHM`); one that is not gets the training
    PSF where that needs no sharpening, else the widest band's. ``psf_fwhm`` is the
    PSF the galaxy was injected with (`None`: the frames' typical seeing), so the
    cutout knows its real PSF.
    """
    from picasso.io.sdss import DEFAULT_TARGET_PSF_FWHM, FrameSet

    frameset = FrameSet.read(frames, psf_fwhm=psf_fwhm, cache=False)
    options = {"subtract_background": subtract_background}
    if "psf_fwhm" in model.transform.conditions:
        return (galaxy.cutout(frameset, target_psf_fwhm=DEFAULT_TARGET_PSF_FWHM, **options),
                "default")
    # the training PSF: a length (paper) is matched in kpc, an angle (SDSS) as seen on the sky
    try:
        return galaxy.cutout(frameset, target_psf_fwhm=config.psf_fwhm, **options), "training"
    except ValueError as error:
        if "sharpen" not in str(error):
            raise
        return galaxy.cutout(frameset, target_psf_fwhm="widest", **options), "widest"


def analyse(truth, prediction, geometry, k, properties):
    """Per-galaxy residuals of totals and per-pixel residuals within k R_half."""
    from picasso.analysis import aperture_totals, log_residual
    from picasso.properties import LOG10_EMPTY

    true_totals = aperture_totals(truth, geometry, k=k, properties=properties)
    pred_totals = aperture_totals(prediction, geometry, k=k, properties=properties, mask=truth)
    totals = {name: float(log_residual(true_totals[name][0], pred_totals[name][0]).value)
              for name in properties}
    inside = geometry.aperture(k).to_mask(method="center").to_image(truth.shape) > 0
    true_log = truth.to_log10(properties)
    pred_log = prediction.to_log10(properties)
    pixels = {}
    for index, name in enumerate(properties):
        valid = inside & (true_log[index] > LOG10_EMPTY / 2) & (pred_log[index] > LOG10_EMPTY / 2)
        pixels[name] = (true_log[index][valid] - pred_log[index][valid]).astype(float)
    return totals, pixels, true_totals


def statistics(values):
    from picasso.analysis import residual_statistics

    stats = residual_statistics(np.asarray(values, dtype=float) * u.dex)
    return {"n": stats["n"], "mu": float(stats["mu"].value), "sigma": float(stats["sigma"].value),
            "sigma_nmad": float(stats["sigma_nmad"].value)}


def figure(examples, path, k):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from picasso.properties import LOG10_EMPTY

    if not examples:
        return None
    fig, axes = plt.subplots(len(examples), 4, figsize=(12, 3 * len(examples)), squeeze=False)
    for row, (label, cutout, truth, prediction, geometry) in enumerate(examples):
        image = cutout.band("r").value if "r" in cutout.bands else cutout.flux.value[0]
        scale = np.percentile(np.abs(image), 99) or 1.0
        axes[row, 0].imshow(np.arcsinh(image / (0.05 * scale)), origin="lower", cmap="gray")
        axes[row, 0].set_title(f"{label}: r (real)", fontsize=9)
        true_log = truth.to_log10(["stellar_mass"])[0]
        pred_log = prediction.to_log10(["stellar_mass"])[0]
        shown = true_log > LOG10_EMPTY / 2
        low, high = np.percentile(true_log[shown], [2, 99.5]) if shown.any() else (0, 1)
        for column, (data, title) in enumerate(((true_log, "truth"), (pred_log, "prediction")),
                                               start=1):
            masked = np.where(data > LOG10_EMPTY / 2, data, np.nan)
            im = axes[row, column].imshow(masked, origin="lower", vmin=low, vmax=high,
                                          cmap="magma")
            axes[row, column].set_title(f"log10 stellar mass density: {title}", fontsize=9)
            fig.colorbar(im, ax=axes[row, column], shrink=0.8)
        residual = np.where(shown & (pred_log > LOG10_EMPTY / 2), true_log - pred_log, np.nan)
        im = axes[row, 3].imshow(residual, origin="lower", vmin=-1, vmax=1, cmap="RdBu_r")
        axes[row, 3].set_title("truth - prediction (dex)", fontsize=9)
        fig.colorbar(im, ax=axes[row, 3], shrink=0.8)
        aperture = geometry.aperture(k)
        for axis in axes[row]:
            aperture.plot(ax=axis, color="cyan", lw=0.8)
            axis.set_xticks([])
            axis.set_yticks([])
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from picasso.utils.atomic import atomic_path

    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return path


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    from picasso.analysis import colour_mass_total, fit_geometry, log_residual
    from picasso.io import sdss
    from picasso.io.sdss import BACKGROUND_WARNING
    from picasso.mock.observe import observe
    from picasso.nn.diagnostics import PicassoOODWarning, diagnose, psf_fwhm_pixels
    from picasso.nn.predict import predict_cutouts
    from picasso.studies.injection import inject

    frames_dir = Path(args.frames) if args.frames else default_frames()
    if not sorted(frames_dir.glob("frame-*.fits*")) if frames_dir.is_dir() else True:
        sys.exit(f"bench_real_conditions: no SDSS frames in {frames_dir}; give --frames DIR or "
                 "set PICASSO_SDSS_DATA")
    model = load(args.model)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"model: {model!r}")
    config, universe_parameters, known = training_setup(model)
    if not known:
        print("the model header records no training observing set-up: the paper's is assumed")
    universe = held_out_universe(universe_parameters, args.universe_seed)
    properties = tuple(model.properties)
    rng = np.random.default_rng(args.seed)
    temporary = None
    if args.workdir:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        temporary = tempfile.TemporaryDirectory(prefix="picasso_real_conditions_")
        workdir = Path(temporary.name)
    backgrounds, seconds = prepare_backgrounds(frames_dir, workdir, args.conditions, args.seed)
    print(f"frames prepared in {seconds:.1f} s")
    r_frame = sdss.read_frame(next((workdir / "real").glob("frame-r-*.fits")), cache=False)
    chosen = placements(r_frame, universe, args.redshifts, args.per_redshift, rng)

    injected_conditions = [c for c in args.conditions if c != "mock"]
    background_of = {"real": "real", "neighbours": "real", "resampling": "blank",
                     "psf": "blank", "noise": "noise"}
    records = {c: {"totals": {p: [] for p in properties}, "pixels": {p: [] for p in properties},
                   "baseline": [], "ood": [], "flagged": [], "psf_matched": [],
                   "border_sky": []}
               for c in args.conditions}
    galaxies = []
    examples = []
    started = time.perf_counter()
    for number, (placement, where) in enumerate(chosen):
        truth = geometry = None
        per_condition = {}
        for condition in injected_conditions:
            psf = None if condition in ("psf", "real") else POINT_PSF
            out = workdir / f"injected_{condition}"
            result = inject(backgrounds[background_of[condition]], [placement], out,
                            psf_fwhm=psf, compress=False,
                            observing=config,
                            overwrite=True, seed=args.seed + number,
                            photon_noise=condition in ("real", "noise", "neighbours"))
            galaxy = result.galaxies[0]
            truth = galaxy.truth
            cutout, matched = cut(galaxy, out, config, model, psf, args.subtract_background)
            per_condition[condition] = (cutout, matched)
        if truth is None or "mock" in args.conditions:
            # the same galaxy at the same distance, observed as the training mocks were
            mock_config = config.replace(redshift=placement.redshift)
            mock_cutout, mock_truth = observe(placement.particles, mock_config,
                                              seed=args.seed + number,
                                              direction=placement.direction)
            if truth is None:
                truth = mock_truth
            per_condition["mock"] = (mock_cutout, "training")
        geometry = fit_geometry(truth["stellar_mass"], pixel_scale=truth.pixel_scale)
        info = {"name": placement.name, "placement": where, "redshift": placement.redshift,
                "ra": placement.coord.ra.deg, "dec": placement.coord.dec.deg,
                "r_half_kpc": float(geometry.r_half_kpc.to_value(u.kpc))
                if geometry.r_half_kpc is not None else None}
        mass_mask = truth.empty("stellar_mass")
        for condition in args.conditions:
            cutout, matched = per_condition[condition]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PicassoOODWarning)
                prediction = predict_cutouts([cutout], model)[0]
            totals, pixels, true_totals = analyse(truth, prediction, geometry, args.k, properties)
            record = records[condition]
            for name in properties:
                record["totals"][name].append(totals[name])
                record["pixels"][name].append(pixels[name])
            baseline = colour_mass_total(cutout, geometry, k=args.k, mask=mass_mask)
            record["baseline"].append(float(log_residual(true_totals["stellar_mass"][0],
                                                         baseline).value))
            record["psf_matched"].append(matched)
            ood = diagnose(model, model.input_flux(cutout),
                           psf_fwhm_pixels=psf_fwhm_pixels(cutout))
            record["ood"].append(None if ood is None else ood[0]["distance"])
            record["flagged"].append(None if ood is None else bool(ood[0]["out_of_distribution"]))
            info[f"d_stellar_mass_{condition}"] = totals.get("stellar_mass")
            info[f"ood_distance_{condition}"] = record["ood"][-1]
            info[f"ood_flagged_{condition}"] = record["flagged"][-1]
            # the sky at the border in noise units (cut from frames only; see local_background)
            record["border_sky"].append(cutout.meta.get("background_significance"))
            info[f"border_sky_{condition}"] = record["border_sky"][-1]
            if condition == "real" and len(examples) < args.examples:
                examples.append((f"{placement.name} z={placement.redshift:g} {where}", cutout,
                                 truth, prediction, geometry))
        galaxies.append(info)
        log.info("galaxy %d/%d done (%.0f s)", number + 1, len(chosen),
                 time.perf_counter() - started)

    summary = {}
    for condition in args.conditions:
        record = records[condition]
        entry = {"per_galaxy": {}, "per_pixel": {}, "psf_matched": record["psf_matched"]}
        for name in properties:
            entry["per_galaxy"][name] = statistics(record["totals"][name])
            pixels = np.concatenate(record["pixels"][name]) if record["pixels"][name] else []
            entry["per_pixel"][name] = statistics(pixels)
        entry["colour_ml_baseline_stellar_mass"] = statistics(record["baseline"])
        distances = [d for d in record["ood"] if d is not None]
        entry["ood_distance_median"] = float(np.median(distances)) if distances else None
        flagged = [f for f in record["flagged"] if f is not None]
        entry["ood_flagged_fraction"] = float(np.mean(flagged)) if flagged else None
        border = [value for value in record["border_sky"] if value is not None]
        entry["border_sky_warned_fraction"] = (
            float(np.mean(np.asarray(border) > BACKGROUND_WARNING)) if border else None)
        summary[condition] = entry

    print()
    print(f"{len(chosen)} held-out galaxies (universe seed {args.universe_seed}), redshifts "
          f"{', '.join(f'{z:g}' for z in args.redshifts)}, clean and crowded sky; mu / sigma "
          f"in dex of log10(true) - log10(pred) within {args.k:g} R_half")
    header = f"{'property':<20}" + "".join(f"{c + ' gal':>17}{c + ' pix':>17}"
                                           for c in args.conditions)
    print(header)
    for name in properties:
        line = f"{name:<20}"
        for condition in args.conditions:
            galaxy = summary[condition]["per_galaxy"][name]
            pixel = summary[condition]["per_pixel"][name]
            line += f"{galaxy['mu']:>+8.3f}/{galaxy['sigma']:<8.3f}{pixel['mu']:>+8.3f}/" \
                    f"{pixel['sigma']:<8.3f}"
        print(line)
    line = f"{'M* colour M/L':<20}"
    for condition in args.conditions:
        base = summary[condition]["colour_ml_baseline_stellar_mass"]
        line += f"{base['mu']:>+8.3f}/{base['sigma']:<8.3f}{'':>17}"
    print(line)
    for label, key, spec in (("OOD distance (med)", "ood_distance_median", ".2f"),
                             ("OOD warned", "ood_flagged_fraction", ".0%"),
                             ("border sky warned", "border_sky_warned_fraction", ".0%")):
        line = f"{label:<20}"
        for condition in args.conditions:
            value = summary[condition][key]
            line += f"{'n/a' if value is None else format(value, spec):>17}{'':>17}"
        print(line)

    gaps = {}
    if "mock" in args.conditions:
        reference = summary["mock"]["per_galaxy"]
        for condition in args.conditions:
            if condition == "mock":
                continue
            gaps[condition] = {name: summary[condition]["per_galaxy"][name]["sigma"]
                               - reference[name]["sigma"] for name in properties}
        if gaps:
            print()
            print("gap to the pure mocks: sigma(condition) - sigma(mock), per galaxy (dex)")
            print(f"{'property':<20}" + "".join(f"{c:>12}" for c in gaps))
            for name in properties:
                print(f"{name:<20}" + "".join(f"{gaps[c][name]:>+12.3f}" for c in gaps))
            single = [c for c in gaps if c != "real"]
            if single:
                worst = {name: max(single, key=lambda c: gaps[c][name]) for name in properties}
                print("largest single-condition gap: " + ", ".join(
                    f"{name} {worst[name]}" for name in properties))
        summary["gap_sigma_per_galaxy"] = gaps

    record = {
        "benchmark": "real_conditions",
        "command": " ".join(sys.argv),
        "model": repr(model),
        "model_trained": model.trained,
        "torch_threads": torch.get_num_threads(),
        "frames": sorted(path.name for path in frames_dir.glob("frame-*")),
        "universe_seed": args.universe_seed,
        "seed": args.seed,
        "redshifts": args.redshifts,
        "k": args.k,
        "conditions": args.conditions,
        "subtract_background": args.subtract_background,
        "training_setup_known": known,
        "summary": summary,
        "galaxies": galaxies,
        "seconds": time.perf_counter() - started,
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    from picasso.utils.atomic import atomic_path

    with atomic_path(output, overwrite=True) as tmp:
        tmp.write_text(json.dumps(record, indent=1, default=float))
    print(f"wrote {output}")
    if "real" in args.conditions:
        print(f"wrote {figure(examples, args.figure, args.k)}")
    if temporary is not None:
        temporary.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
