#!/usr/bin/env python
"""
Build the synthetic training set and train picasso's bundled default model.

This is the exact, seeded recipe of ``picasso/data/model.safetensors``: one
command. The bundled model was trained on a 2-core CPU (``--device cpu``,
the default)::

    python tools/train_default_model.py --processes 2 --threads 2

in 71.6 min (render 8.6 min, train 53.9 min at 118 images/s, validate,
calibrate and evaluate 9.1 min). On one GPU (``--device cuda --processes 16``) the
previous model's run rendered in 1.5 min with 16 processes and trained in
7 min on an NVIDIA H200.

It

1. renders ``--galaxies`` galaxies of ``Universe(seed=--universe-seed)``,
   ``--views`` views each, at ``--size`` pixels, observed with the
   ``--observing`` preset (SDSS depth, dust on, by default), every galaxy at
   its own redshift in ``--redshift-range`` and with its own seeing in
   ``--seeing-range`` (`picasso.mock.build.build_dataset`, resumable:
   rerunning continues an interrupted build; pairs in the work directory
   that other picasso code rendered are refused, `check_rendered_here`);
2. trains (on ``--device``) a U-Net of ``--depth`` / ``--base-width`` that
   is told each image's PSF and redshift (input planes), with the
   uncertainty head unless ``--no-heteroscedastic``, with
   `picasso.nn.Trainer`: the Gaussian likelihood per pixel plus the
   mass-conserving block-sum term (``--block-weights``), galaxy-level
   split, D4 augmentation, output bias
   started at the targets' mean, best-on-validation weights; rerunning resumes
   from the checkpoint (a run finished on a GPU, rerun on a machine without
   one, goes on to steps 3 and 4 on its CPU);
3. calibrates the uncertainty head on the validation galaxies
   (`picasso.studies.calibration.fit_uncertainty_scale`) and evaluates the
   best network on the held-out test galaxies of the split
   (`picasso.studies.evaluate`: totals inside 2 R_half in the paper's
   ellipse and a circle, per galaxy, view and pixel, next to the colour
   mass-to-light methods and the PSF-limited floor);
4. writes the model with the command, seeds and dataset parameters
   (header key ``recipe``) and the held-out metrics (key ``evaluation``,
   ``picasso evaluate``'s ``metrics.json``, which the model card renders) to
   ``--output`` (default
   ``picasso/data/model.safetensors``, where `picasso.nn.default_model`
   finds it).

``--measure STEPS`` only times training steps of the configured network and
prints images per second and the expected duration of the full recipe;
``--smoke`` runs the whole recipe at toy size (a minute) into a scratch
directory, to check the pipeline end to end.
"""

import argparse
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
log = logging.getLogger("train_default_model")
DEFAULT_OUTPUT = REPO / "picasso" / "data" / "model.safetensors"

#: The recipe's defaults: the bundled model's run (trained on the 2-core development CPU; how
#: each setting was chosen, measured: docs/tutorials/default_model.rst).
RECIPE = {
    "galaxies": 4800,
    "views": 4,
    "size": 64,
    "observing": "sdss",
    "universe_seed": 1,
    "seed": 0,
    "redshift_range": (0.02, 0.15),
    "seeing_range": (0.9, 2.2),
    "depth": 4,
    "base_width": 16,
    "epochs": 32,
    "batch_size": 16,
    "learning_rate": 5e-4,
    "milestones": (24, 29),
    # bf16 autocast (fp32 master weights and loss): 1.3-2x faster on this AMX CPU
    "precision": "bf16",
    "heteroscedastic": True,
    # the mass-conserving term on the mass channels; SFR and HI keep the per-pixel term alone
    # (weighting them the same way made face-on galaxies worse: ACCURACY.md)
    "block_weights": {"stellar_mass": 3.0, "stellar_metal_mass": 3.0, "gas_mass": 1.0,
                      "gas_metal_mass": 1.0},
}

#: Toy sizes of ``--smoke``.
SMOKE = {"galaxies": 10, "views": 2, "size": 32, "depth": 2, "base_width": 4, "epochs": 1,
         "batch_size": 4, "milestones": (1,)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("training set (picasso.mock)")
    data.add_argument("--galaxies", type=int, default=RECIPE["galaxies"])
    data.add_argument("--views", type=int, default=RECIPE["views"])
    data.add_argument("--size", type=int, default=RECIPE["size"], help="pixels per side")
    data.add_argument("--observing", choices=("paper", "sdss"), default=RECIPE["observing"],
                      help="observing preset of the mocks (picasso.mock.ObservingConfig): the "
                           "paper's S/N 25 images or real SDSS depth, seeing and pixels")
    data.add_argument("--universe-seed", type=int, default=RECIPE["universe_seed"],
                      help="seed of the synthetic universe (the accuracy benchmark uses "
                           "another seed, so its galaxies are disjoint)")
    data.add_argument("--redshift-range", type=float, nargs=2, default=RECIPE["redshift_range"],
                      help="every galaxy's redshift is drawn uniformly in this range")
    data.add_argument("--seeing-range", type=float, nargs=2, default=RECIPE["seeing_range"],
                      help="every galaxy's PSF FWHM (arcsec, all bands) is drawn log-uniformly "
                           "in this range: SDSS seeing, matched to the widest band")
    data.add_argument("--processes", type=int, default=2, help="rendering processes")
    net = parser.add_argument_group("network and schedule (picasso.nn)")
    net.add_argument("--depth", type=int, default=RECIPE["depth"])
    net.add_argument("--base-width", type=int, default=RECIPE["base_width"])
    net.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    net.add_argument("--batch-size", type=int, default=RECIPE["batch_size"])
    net.add_argument("--lr", type=float, default=RECIPE["learning_rate"])
    net.add_argument("--milestones", type=int, nargs="+", default=list(RECIPE["milestones"]))
    net.add_argument("--seed", type=int, default=RECIPE["seed"],
                     help="seed of the weights, data order and augmentation")
    net.add_argument("--heteroscedastic", action=argparse.BooleanOptionalAction,
                     default=RECIPE["heteroscedastic"],
                     help="add the uncertainty head and train with the Gaussian likelihood "
                          "(per-pixel sigma in dex; its calibration goes into the header)")
    net.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=RECIPE["precision"],
                     help="training precision (picasso.nn.TrainConfig.precision)")
    net.add_argument("--block-weights", type=json.loads, default=RECIPE["block_weights"],
                     help="weight of the mass-conserving block-sum term per property, as JSON")
    net.add_argument("--threads", type=int, default=2, help="torch threads")
    net.add_argument("--device", default="cpu",
                     help="where the network trains: cpu (the recipe's) or cuda; a finished run "
                          "is evaluated on this machine's CPU when it has no such device")
    net.add_argument("--eval-pairs", type=int, default=400,
                     help="held-out test pairs evaluated for the header's metrics (the "
                          "isophote fits cost ~0.5 s each)")
    parser.add_argument("--work-dir", type=Path, default=REPO / "build" / "default_model",
                        help="dataset, checkpoint and logs (default build/default_model)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="model file to write (default picasso/data/model.safetensors)")
    parser.add_argument("--measure", type=int, metavar="STEPS",
                        help="only time STEPS training steps and estimate the duration")
    parser.add_argument("--smoke", action="store_true",
                        help="toy-size run of the whole recipe into --work-dir (default "
                             "build/default_model_smoke); --output defaults to the work dir")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    if args.smoke:
        given = {arg.lstrip("-").split("=")[0].replace("-", "_")
                 for arg in (argv or sys.argv[1:]) if arg.startswith("--")}
        for key, value in SMOKE.items():
            if key not in given:
                setattr(args, key, list(value) if isinstance(value, tuple) else value)
        if "work_dir" not in given:
            args.work_dir = REPO / "build" / "default_model_smoke"
        if "output" not in given:
            args.output = args.work_dir / "model.safetensors"
    return args


def configs(args, pairs):
    from picasso.nn.train import TrainConfig
    from picasso.nn.unet import UNetConfig

    model_config = UNetConfig(depth=args.depth, base_width=args.base_width,
                              in_bands=tuple(pairs.bands), properties=tuple(pairs.properties),
                              heteroscedastic=args.heteroscedastic,
                              conditions=("psf_fwhm", "redshift"))
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                               learning_rate=args.lr, milestones=tuple(args.milestones),
                               loss="gaussian_nll" if args.heteroscedastic else "paper",
                               block_weights=dict(args.block_weights), precision=args.precision,
                               seed=args.seed, device=args.device, checkpoint_every=200)
    return model_config, train_config


def measure(args):
    """Time training steps on random inputs of the recipe's shape."""
    import torch

    from picasso.nn.loss import masked_squared_error
    from picasso.nn.unet import UNet, UNetConfig

    network = UNet(UNetConfig(depth=args.depth, base_width=args.base_width))
    optimizer = torch.optim.Adam(network.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(args.seed)
    images = torch.randn(args.batch_size, 5, args.size, args.size, generator=generator)
    truth = torch.randn(args.batch_size, 7, args.size, args.size, generator=generator)

    def step():
        loss = masked_squared_error(network(images), truth)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.measure):
        step()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    rate = args.measure * args.batch_size / wall
    n_train = 0.64 * args.galaxies * args.views
    train_images = n_train * args.epochs
    validation_images = 0.16 * args.galaxies * args.views * args.epochs
    seconds = train_images / rate + validation_images / (3 * rate)
    record = {
        "threads": torch.get_num_threads(), "depth": args.depth, "base_width": args.base_width,
        "image_size": args.size, "batch_size": args.batch_size,
        "parameters": network.n_parameters, "steps": args.measure,
        "images_per_second": rate, "cpu_seconds_per_image": cpu / (args.measure * args.batch_size),
        "load_average": os.getloadavg()[0],
        "recipe_training_images": train_images,
        "expected_training_minutes": seconds / 60,
    }
    print(json.dumps(record, indent=1))
    return record


def finishing_device(device, run_dir):
    """
    The device a resumed run continues on.

    A run trained on a GPU and finished there (every epoch done) can be
    calibrated and evaluated on a machine without one: it then needs no
    training, and the CPU does. An unfinished run stays on ``device``.
    """
    import torch

    from picasso.nn.train import CHECKPOINT_FILENAME

    if not device.startswith("cuda") or torch.cuda.is_available():
        return device
    state = torch.load(Path(run_dir) / CHECKPOINT_FILENAME, map_location="cpu", weights_only=True)
    epochs = json.loads(state["train_config"])["epochs"]
    if int(state["epoch"]) >= epochs:
        return "cpu"
    return device


def check_rendered_here(pairs, path):
    """
    Refuse pairs that another version of picasso's universe rendered.

    The recipe reuses the pairs (and the checkpoint trained on them) found in
    its work directory by name; after the universe changed they would be
    trained on silently. Pairs that do not record their renderer are
    reused with a warning.

    Parameters
    ----------
    pairs : `~picasso.io.dataset.PairDataset`
    path : path-like
        Where they are, for the message.

    Raises
    ------
    SystemExit
        When the pairs' `~picasso.mock.build.renderer_fingerprint` is not
        this code's.
    """
    from picasso.mock.build import renderer_fingerprint

    generator = pairs.attrs.get("generator", "{}")
    generator = generator.decode() if isinstance(generator, bytes) else str(generator)
    recorded, current = json.loads(generator).get("renderer"), renderer_fingerprint()
    if recorded is None:
        log.warning("%s does not record the code that rendered it: reusing it as it is", path)
    elif recorded != current:
        raise SystemExit(
            f"{path} was rendered by other picasso code (renderer {recorded[:12]}, this one "
            f"{current[:12]}): its galaxies may not be this universe's. Train in a fresh "
            "--work-dir, or delete the file and the run/ checkpoint next to it.")


def portable_arguments(arguments, work_dir):
    """
    The command's arguments with paths written relative to the work directory.

    The command is recorded in the model header, which travels: ``WORK_DIR``
    stands for the work directory of the run, and no other absolute path of
    the machine that trained the model is kept.
    """
    work_dir = Path(work_dir).resolve()
    portable = []
    for argument in arguments:
        path = Path(argument)
        if path.is_absolute():
            path = path.resolve()
            if path == work_dir or work_dir in path.parents:
                argument = str(Path("WORK_DIR") / path.relative_to(work_dir))
            else:
                argument = path.name
        portable.append(argument)
    return portable


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    if args.measure:
        measure(args)
        return 0

    import astropy.units as u

    from picasso.io.dataset import PairDataset
    from picasso.mock.build import build_dataset
    from picasso.mock.observe import ObservingConfig
    from picasso.nn.train import CHECKPOINT_FILENAME, Trainer
    from picasso.studies.card import record_results
    from picasso.studies.evaluation import evaluate

    command = "python tools/train_default_model.py " + shlex.join(
        portable_arguments(argv if argv is not None else sys.argv[1:], args.work_dir))
    args.work_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    observing = ObservingConfig.preset(
        args.observing, redshift_range=tuple(args.redshift_range),
        psf_fwhm_range=u.Quantity(args.seeing_range, u.arcsec))
    data_path = args.work_dir / (f"train_{args.galaxies}x{args.views}_{args.size}px_"
                                 f"{args.observing}_seed{args.universe_seed}.h5")
    timing_path = args.work_dir / "simulate_seconds.json"
    if not data_path.exists():
        build_dataset(data_path, args.galaxies, image_size=args.size, seed=args.universe_seed,
                      views=args.views, config=observing, processes=args.processes,
                      progress=args.progress, resume=True)
        timing_path.write_text(json.dumps(time.perf_counter() - started))
    # a rerun (e.g. after an interruption) reports the build it resumed, not its own seconds
    simulate_seconds = (json.loads(timing_path.read_text()) if timing_path.exists()
                        else time.perf_counter() - started)
    pairs = PairDataset(data_path)
    check_rendered_here(pairs, data_path)

    run_dir = args.work_dir / "run"
    model_config, train_config = configs(args, pairs)
    if (run_dir / CHECKPOINT_FILENAME).exists():
        trainer = Trainer.resume(pairs, run_dir, progress=args.progress,
                                 device=finishing_device(args.device, run_dir))
    else:
        trainer = Trainer(pairs, run_dir, model_config=model_config, config=train_config,
                          progress=args.progress)
    model = trainer.fit()
    # the seconds of every epoch, kept in the run's log, survive a resume
    train_seconds = sum(row.get("seconds", 0.0) for row in trainer.history)

    if model.config.heteroscedastic:
        from picasso.studies.calibration import (
            fit_known_floor,
            fit_mean_correction,
            fit_uncertainty_scale,
        )

        # where the truth was empty the sigma never trained: no mean below this floor
        model.info["known_floor_log10"] = fit_known_floor(pairs, indices=trainer.split.train)
        print("known floor:", model.info["known_floor_log10"])

        # on the validation galaxies: the test galaxies stay untouched until the evaluation
        model.info["uncertainty_scale"] = fit_uncertainty_scale(
            model, pairs, indices=trainer.split.validation)
        print("uncertainty scale:", model.info["uncertainty_scale"])
        model.info["mean_correction"] = fit_mean_correction(
            model, pairs, indices=trainer.split.validation)
        print("mean correction:", model.info["mean_correction"])
    test = pairs.subset(trainer.split.test[:args.eval_pairs])
    evaluation = evaluate(test, model=model, progress=args.progress, examples=2)
    evaluation.write(args.work_dir / "held_out", overwrite=True)
    rates = [row.get("train_images_per_second") for row in trainer.history]
    model.info.update({
        "recipe": {
            "command": command,
            "script": "tools/train_default_model.py",
            "dataset": {"generator": f"picasso.mock (Universe + ObservingConfig.{args.observing})",
                        "universe_seed": args.universe_seed, "n_galaxies": args.galaxies,
                        "views": args.views, "image_size": args.size,
                        "redshift_range": list(args.redshift_range),
                        "seeing_range_arcsec": list(args.seeing_range),
                        "n_pairs": len(pairs)},
            "threads": args.threads,
            # every device that trained an epoch (a run may resume elsewhere)
            "train_devices": sorted({row.get("device", "cpu") for row in trainer.history}),
            "simulate_seconds": simulate_seconds,
            "train_seconds": train_seconds,
            "train_images_per_second": rates[-1] if rates else None,
        },
    })
    # the held-out metrics go where the model card (picasso.studies.card) reads them
    evaluation.settings["test_split_pairs"] = int(trainer.split.test.size)
    evaluation.settings["dataset"] = data_path.name
    calibration = None
    if model.config.heteroscedastic:
        from picasso.studies.calibration import calibration_table

        calibration = calibration_table(model, test)
        print(calibration)
    record_results(model, evaluation=evaluation.to_dict(), calibration=calibration)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.output, overwrite=True)
    size_mb = args.output.stat().st_size / 1e6
    print(evaluation.markdown())
    print(f"wrote {args.output} ({size_mb:.1f} MB) in {(time.perf_counter() - started) / 60:.1f} "
          "min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
