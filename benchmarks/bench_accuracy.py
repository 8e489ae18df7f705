"""
Accuracy of a picasso model on a fixed-seed held-out synthetic set, beside the
classical methods and the PSF-limited floor, in one run.

The held-out galaxies come from ``Universe(seed=--universe-seed)`` (default
9001), observed exactly as the model's training images were (its recorded
observing set-up: depth, dust, the redshift and seeing ranges); the bundled
model's training set uses universe seed 1 (``tools/train_default_model.py``),
and galaxy ``i`` of a universe draws from ``SeedSequence(seed, spawn_key=(i,))``,
so no benchmark galaxy was seen in training. Every galaxy is seen from four
directions (face-on, edge-on, two random).

From `picasso.studies.evaluate` it reports, per property, per galaxy (totals
inside 2 R_half, in the paper's ellipse fitted on the true stellar-mass map
and in a PSF-robust circle) and per pixel (against the true map and against
the truth at the image's resolution); for stellar mass the model beside the
global colour M/L of Bell et al. (2003), the resolved one of Zibetti et al.
(2009) smoothed to S/N 20, and the PSF-limited oracle, for all views and split
by view; the coverage of the 68 % intervals; and the share of the predicted
SFR in the image's border rows (an edge artefact check). Then it checks the
goals set for it (the constants GOAL_* below).

Run: ``python benchmarks/bench_accuracy.py [--model PATH] [--galaxies 48]``.
It exits with an error when no model is bundled and ``--model`` is not given.
"""

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: The goals (dex): |mu| of stellar mass per galaxy, sigma relative to the global colour
#: M/L, distance to the PSF-limited floor, per-pixel sigma relative to the resolved colour
#: M/L, |mu| of every property, and the 68 % coverage.
GOAL_MU_STELLAR_MASS = 0.03
GOAL_SIGMA_FACTOR = 0.6
GOAL_FLOOR_DISTANCE = 0.03
GOAL_PIXEL_FACTOR = 0.5
GOAL_MU_ANY = 0.05
GOAL_COVERAGE = (0.63, 0.73)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model file or training directory (default: the "
                                        "bundled model)")
    parser.add_argument("--galaxies", type=int, default=48, help="held-out galaxies")
    parser.add_argument("--views", type=int, default=4,
                        help="views per galaxy (face-on, edge-on, then random)")
    parser.add_argument("--universe-seed", type=int, default=9001,
                        help="seed of the held-out universe (training used 1)")
    parser.add_argument("--processes", type=int, default=2, help="rendering processes")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--symmetries", type=int, default=1, choices=range(1, 9),
                        help="test-time augmentation over this many symmetries of the square")
    parser.add_argument("--work-dir", type=Path, default=REPO / "build" / "bench_accuracy",
                        help="where the held-out set is cached")
    parser.add_argument("--output", type=Path,
                        default=REPO / "benchmarks" / "results" / "accuracy.json")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    return parser.parse_args(argv)


def resolve_model(path):
    """The model to benchmark; a clear error when there is none."""
    from picasso.nn.ensemble import load_ensemble
    from picasso.nn.loading import default_model, load_model

    if path is None:
        try:
            return default_model(), "bundled"
        except RuntimeError as error:
            raise SystemExit(
                "bench_accuracy: no model to benchmark: no trained model is bundled "
                f"({error}). Train it with 'python tools/train_default_model.py' or pass "
                "--model PATH."
            ) from None
    try:
        model = load_ensemble(path)
    except ValueError as error:
        if "single model" not in str(error):
            raise
        model = load_model(path)
    return model, str(path)


def border_sfr_share(evaluation, pairs, model, n_pairs=64):
    """Share of the predicted and of the true SFR in the outermost rows and columns."""
    import numpy as np

    predicted = true = predicted_border = true_border = 0.0
    for index in range(min(n_pairs, len(pairs))):
        cutout = pairs.cutout(index)
        maps = model.predict(cutout)
        truth = pairs.truth_maps(index)
        edge = np.zeros(maps.shape, bool)
        edge[[0, -1], :] = edge[:, [0, -1]] = True
        values = np.where(maps.empty("sfr"), 0.0, maps["sfr"].value)
        true_values = np.where(truth.empty("sfr"), 0.0, truth["sfr"].value)
        predicted += values.sum()
        predicted_border += values[edge].sum()
        true += true_values.sum()
        true_border += true_values[edge].sum()
    return {"sfr_border_share": predicted_border / max(predicted, 1e-30),
            "true_sfr_border_share": true_border / max(true, 1e-30), "n_pairs": n_pairs}


def number(value, digits=3):
    return "—" if value is None else f"{value:.{digits}f}"


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    model, source = resolve_model(args.model)

    from picasso import __version__
    from picasso.analysis.metrics import PAPER_COLOUR_ML_SIGMA, PAPER_HEADLINE
    from picasso.io.dataset import PairDataset
    from picasso.mock.build import build_dataset, renderer_fingerprint
    from picasso.mock.observe import ObservingConfig
    from picasso.mock.universe import Universe
    from picasso.nn.ensemble import Ensemble
    from picasso.studies.evaluation import evaluate
    from picasso.studies.provenance import training_observing

    started = time.perf_counter()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    # observed as the model's training images were (the paper's set-up if it does not say);
    # the cached set is named after that set-up, the universe and the code that renders it
    observing = training_observing(model) or ObservingConfig(image_size=model.image_size)
    universe = Universe(seed=args.universe_seed).parameters()
    setup = hashlib.sha1(json.dumps({"observing": observing.to_dict(), "universe": universe,
                                     "picasso": __version__, "renderer": renderer_fingerprint()},
                                    sort_keys=True).encode()).hexdigest()
    data_path = args.work_dir / (f"heldout_{args.galaxies}x{args.views}_{model.image_size}px_"
                                 f"{setup[:8]}_seed{args.universe_seed}.h5")
    if not data_path.exists():
        build_dataset(data_path, args.galaxies, image_size=model.image_size,
                      seed=args.universe_seed, views=args.views, config=observing,
                      processes=args.processes, progress=args.progress, resume=True)
    pairs = PairDataset(data_path)
    simulate_seconds = time.perf_counter() - started

    start = time.perf_counter()
    evaluation = evaluate(pairs, model=model, symmetries=tuple(range(args.symmetries)),
                          examples=0, progress=args.progress)
    evaluate_seconds = time.perf_counter() - start

    calibration = None
    if isinstance(model, Ensemble) or model.config.heteroscedastic:
        from picasso.studies.calibration import calibration_table

        table = calibration_table(model, pairs)
        calibration = {str(row["property"]): {"coverage_68": float(row["coverage"]),
                                              "z_std": float(row["z_std"]),
                                              "median_sigma_dex":
                                                  float(row["median_sigma"].value)}
                       for row in table}

    per_galaxy = evaluation.report.to_dict()["properties"]
    per_pixel = {str(row["property"]): {"mu": float(row["mu"].value),
                                        "sigma": float(row["sigma"].value), "n": int(row["n"])}
                 for row in evaluation.pixels}
    per_pixel_seen = {} if evaluation.pixels_at_resolution is None else {
        str(row["property"]): {"mu": float(row["mu"].value), "sigma": float(row["sigma"].value),
                               "n": int(row["n"])} for row in evaluation.pixels_at_resolution}
    comparison = evaluation.to_dict()["comparison"]
    border = border_sfr_share(evaluation, pairs, model)

    goals = {}
    for aperture, groups in comparison.items():
        stats = groups["all"]
        model_stats, bell = stats["picasso"], stats.get("bell03", {})
        floor = stats.get("oracle", {})
        goals[f"{aperture}: |mu(M*)| <= {GOAL_MU_STELLAR_MASS}"] = (
            abs(model_stats["mu"]) <= GOAL_MU_STELLAR_MASS)
        if bell:
            goals[f"{aperture}: sigma(M*) <= {GOAL_SIGMA_FACTOR} x global colour M/L"] = (
                model_stats["sigma"] <= GOAL_SIGMA_FACTOR * bell["sigma"])
        if floor:
            goals[f"{aperture}: sigma(M*) within {GOAL_FLOOR_DISTANCE} of the floor"] = (
                model_stats["sigma"] <= floor["sigma"] + GOAL_FLOOR_DISTANCE)
    resolved = per_pixel_seen.get("stellar_mass (zibetti09)")
    if resolved and "stellar_mass" in per_pixel_seen:
        goals[f"per pixel at image resolution: sigma(M*) <= {GOAL_PIXEL_FACTOR} x resolved "
              "colour M/L"] = (per_pixel_seen["stellar_mass"]["sigma"]
                               <= GOAL_PIXEL_FACTOR * resolved["sigma"])
    goals[f"every property |mu| <= {GOAL_MU_ANY} (ellipse)"] = all(
        stats["mu"] is not None and abs(stats["mu"]) <= GOAL_MU_ANY
        for stats in per_galaxy.values())
    if calibration:
        low, high = GOAL_COVERAGE
        goals[f"68% intervals cover {low:.2f}-{high:.2f} for every property"] = all(
            low <= stats["coverage_68"] <= high for stats in calibration.values())

    lines = [
        f"picasso accuracy benchmark: {model!r} ({source})",
        f"held-out set: {len(pairs)} pairs ({args.galaxies} galaxies x {args.views} views, "
        f"universe seed {args.universe_seed}, {model.image_size} px); torch threads "
        f"{torch.get_num_threads()}",
        "",
        "per galaxy, inside 2 R_half (ellipse of the paper), and per pixel:",
        f"{'property':<20}{'mu':>8}{'sigma':>8}{'pix mu':>8}{'pix sig':>8}{'pix@PSF sig':>12}"
        f"{'paper mu':>10}{'paper sig':>10}",
    ]
    for name, stats in per_galaxy.items():
        paper = PAPER_HEADLINE.get(name, {})
        pixel, seen = per_pixel.get(name, {}), per_pixel_seen.get(name, {})
        lines.append(
            f"{name:<20}{number(stats['mu']):>8}{number(stats['sigma']):>8}"
            f"{number(pixel.get('mu')):>8}{number(pixel.get('sigma')):>8}"
            f"{number(seen.get('sigma')):>12}"
            f"{number(paper.get('mu')):>10}{number(paper.get('sigma')):>10}"
        )
    methods = ("picasso", "bell03", "zibetti09", "oracle")
    for aperture, groups in comparison.items():
        lines += ["", f"stellar mass per galaxy, {aperture}: mu / sigma (dex)",
                  f"{'views':<10}{'n':>5}" + "".join(f"{m:>18}" for m in methods)]
        for group, stats in groups.items():
            cells = "".join(
                f"{number(stats[m]['mu']) + ' / ' + number(stats[m]['sigma']):>18}"
                if m in stats else f"{'-':>18}" for m in methods)
            lines.append(f"{group:<10}{stats['picasso']['n']:>5}{cells}")
    if resolved:
        lines += ["", f"per pixel, stellar mass against the truth at the image's resolution: "
                      f"picasso sigma {number(per_pixel_seen['stellar_mass']['sigma'])}, "
                      f"resolved colour M/L sigma {number(resolved['sigma'])}"]
    lines += ["", f"colour M/L: the paper quotes {PAPER_COLOUR_ML_SIGMA[0]}-"
                  f"{PAPER_COLOUR_ML_SIGMA[1]} dex per galaxy"]
    if calibration:
        lines += ["", "calibration (fraction of true pixels inside the 68% interval):"]
        lines += [f"  {name:<20}{stats['coverage_68']:.3f}  (z std {stats['z_std']:.2f})"
                  for name, stats in calibration.items()]
    lines += ["", f"predicted SFR in the border rows and columns: {border['sfr_border_share']:.3f} "
                  f"of the map (truth: {border['true_sfr_border_share']:.3f})"]
    lines += ["", "goals:"] + [f"  {'yes' if value else 'NO '}  {key}"
                                for key, value in goals.items()]
    print("\n".join(lines))

    record = {
        "benchmark": "accuracy",
        "command": "python benchmarks/bench_accuracy.py " + " ".join(
            argv if argv is not None else sys.argv[1:]),
        "model": {"source": source, "repr": repr(model),
                  "recipe": model.info.get("recipe"), "trained": model.trained},
        "held_out_set": {"path": str(data_path), "universe_seed": args.universe_seed,
                         "n_galaxies": args.galaxies, "views": args.views,
                         "n_pairs": len(pairs), "image_size": model.image_size},
        "apertures": "2 R_half: the paper's ellipse and a circle",
        "symmetries": args.symmetries,
        "per_galaxy": per_galaxy,
        "per_pixel": per_pixel,
        "per_pixel_at_image_resolution": per_pixel_seen,
        "stellar_mass_comparison": comparison,
        "border": border,
        "paper": {"headline": PAPER_HEADLINE, "colour_ml_sigma": list(PAPER_COLOUR_ML_SIGMA)},
        "calibration": calibration,
        "goals": goals,
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0],
        "platform": platform.platform(),
        "simulate_seconds": simulate_seconds,
        "evaluate_seconds": evaluate_seconds,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    from picasso.utils.atomic import atomic_path

    with atomic_path(args.output, overwrite=True) as tmp:
        tmp.write_text(json.dumps(record, indent=1, default=str))
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
