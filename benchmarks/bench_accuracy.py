"""
Accuracy of a picasso model on a fixed-seed held-out synthetic set, beside the
paper's table and the colour mass-to-light baseline, in one run.

The held-out galaxies come from ``Universe(seed=--universe-seed)`` (default
9001); the bundled model's training set uses universe seed 1
(``tools/train_default_model.py``), and galaxy ``i`` of a universe draws from
``SeedSequence(seed, spawn_key=(i,))``, so no benchmark galaxy was seen in
training. The images are rendered at the model's own image size.

For every property it reports, from `picasso.analysis.evaluate`:

- per galaxy: mu and sigma of ``log10(true) - log10(pred)`` of the totals
  inside 2 R_half (ellipse fitted on the TRUE stellar-mass map, only pixels
  where the truth is non-empty), with the paper's mu and sigma beside them;
- per pixel: mu and sigma over known truth pixels;
- the colour mass-to-light stellar mass (Bell et al. 2003 per galaxy, Zibetti
  et al. 2009 per pixel) on the same galaxies and aperture;
- for an ensemble or a heteroscedastic model, the coverage of its 68 %
  intervals (`picasso.studies.calibration`);

and checks the issue's goals: sigma(stellar mass) <= 0.05 dex, every
property's sigma below the paper's, and the network's stellar-mass sigma at
most a third of the baseline's.

Run: ``python benchmarks/bench_accuracy.py [--model PATH] [--galaxies 64]``.
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

#: The issue's goals (dex).
GOAL_STELLAR_MASS_SIGMA = 0.05
GOAL_BASELINE_FACTOR = 3.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model file or training directory (default: the "
                                        "bundled model)")
    parser.add_argument("--galaxies", type=int, default=64, help="held-out galaxies")
    parser.add_argument("--views", type=int, default=2, help="views per galaxy")
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


def number(value, digits=3):
    return "—" if value is None else f"{value:.{digits}f}"


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    model, source = resolve_model(args.model)

    from picasso.analysis.metrics import PAPER_COLOUR_ML_SIGMA, PAPER_HEADLINE
    from picasso.io.dataset import PairDataset
    from picasso.mock.build import build_dataset
    from picasso.mock.observe import ObservingConfig
    from picasso.nn.ensemble import Ensemble
    from picasso.studies.evaluation import evaluate
    from picasso.studies.provenance import training_observing

    started = time.perf_counter()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    # observed as the model's training images were (the paper's set-up if it does not say);
    # the cached set is named after that set-up
    observing = training_observing(model) or ObservingConfig(image_size=model.image_size)
    setup = hashlib.sha1(json.dumps(observing.to_dict(), sort_keys=True).encode()).hexdigest()
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
    baselines = {name: report.to_dict()["properties"]["stellar_mass"]
                 for name, report in evaluation.baselines.items()}
    baseline_sigma = baselines.get("bell03", {}).get("sigma")

    sigma_mass = per_galaxy.get("stellar_mass", {}).get("sigma")
    below_paper = {name: (stats["sigma"] is not None and name in PAPER_HEADLINE
                          and stats["sigma"] <= PAPER_HEADLINE[name]["sigma"])
                   for name, stats in per_galaxy.items() if name in PAPER_HEADLINE}
    goals = {
        "stellar_mass_sigma_le_0.05": sigma_mass is not None
        and sigma_mass <= GOAL_STELLAR_MASS_SIGMA,
        "every_sigma_below_paper": all(below_paper.values()),
        "below_paper_by_property": below_paper,
        "stellar_mass_sigma_le_third_of_baseline": (
            sigma_mass is not None and baseline_sigma is not None
            and sigma_mass <= baseline_sigma / GOAL_BASELINE_FACTOR),
    }

    lines = [
        f"picasso accuracy benchmark: {model!r} ({source})",
        f"held-out set: {len(pairs)} pairs ({args.galaxies} galaxies x {args.views} views, "
        f"universe seed {args.universe_seed}, {model.image_size} px); torch threads "
        f"{torch.get_num_threads()}",
        "",
        f"{'property':<20}{'mu':>8}{'sigma':>8}{'pix mu':>8}{'pix sig':>8}"
        f"{'paper mu':>10}{'paper sig':>10}{'colour M/L sig':>16}",
    ]
    for name, stats in per_galaxy.items():
        paper = PAPER_HEADLINE.get(name, {})
        pixel = per_pixel.get(name, {})
        baseline = ""
        if name == "stellar_mass" and baselines:
            baseline = " / ".join(number(b.get("sigma")) for b in baselines.values())
        lines.append(
            f"{name:<20}{number(stats['mu']):>8}{number(stats['sigma']):>8}"
            f"{number(pixel.get('mu')):>8}{number(pixel.get('sigma')):>8}"
            f"{number(paper.get('mu')):>10}{number(paper.get('sigma')):>10}{baseline:>16}"
        )
    lines += ["", f"colour M/L baselines: {', '.join(baselines)} (paper quotes "
                  f"{PAPER_COLOUR_ML_SIGMA[0]}-{PAPER_COLOUR_ML_SIGMA[1]} dex)"]
    if calibration:
        lines += ["", "calibration (fraction of true pixels inside the 68% interval):"]
        lines += [f"  {name:<20}{stats['coverage_68']:.3f}  (z std {stats['z_std']:.2f})"
                  for name, stats in calibration.items()]
    lines += ["", "goals: " + ", ".join(f"{key} {'yes' if value else 'NO'}"
                                        for key, value in goals.items()
                                        if isinstance(value, bool))]
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
        "aperture": "2 R_half",
        "symmetries": args.symmetries,
        "per_galaxy": per_galaxy,
        "per_pixel": per_pixel,
        "colour_ml_baselines": baselines,
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
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    os.replace(tmp, args.output)
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
