"""
``picasso demo``: picasso's main job end to end in about a minute.

Simulate a few galaxies with the synthetic universe, predict their property
maps with the bundled model, evaluate the predictions against the truth
with `picasso.analysis.evaluate` and write everything to a folder:

- ``galaxies.h5``: the simulated (image, truth) pairs;
- ``cutouts/g<id>_v<view>.fits``: the ugriz cutouts;
- ``maps/g<id>_v<view>_predicted.fits`` and ``..._true.fits``: property maps;
- ``metrics.json``, ``report.md``, ``galaxies.ecsv`` and PNG figures;
- ``real_sdss_cutout.fits``, ``real_sdss_maps.fits`` and their figures: one real
  SDSS galaxy, cut from the small crop of a real field shipped with picasso
  (`picasso.io.sdss.example_frames`), offline.

When no model is bundled (or ``--train-seconds`` is given with
``--no-bundled``), the demo says so and trains a tiny network for about a
minute on a small simulated set of OTHER galaxies instead; that network is
only good enough to show the workflow, not the paper's accuracy.
"""

import json
import logging
import time
from pathlib import Path

__all__ = ["add_parser", "run", "train_quick_model", "predict_real_galaxy"]

log = logging.getLogger(__name__)

#: Seeds of the demo's universes: the galaxies shown, and the quick training set.
DEMO_SEED = 2026
QUICK_TRAIN_SEED = 7

#: Fewest galaxies the quick training can split into training, validation and test sets.
MIN_TRAIN_GALAXIES = 6


def add_parser(subparsers):
    """Register ``picasso demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="simulate galaxies, predict their maps, evaluate and plot (about a minute)",
        description=(
            "Simulate a few galaxies, predict their resolved property maps with the bundled "
            "model (or, when none is bundled, with a tiny network trained on the spot for "
            "about a minute), evaluate the predictions and write cutouts and maps (FITS), "
            "figures (PNG) and metrics.json to the output folder."
        ),
    )
    parser.add_argument("-o", "--output", default="demo-output",
                        help="output folder (default %(default)s)")
    parser.add_argument("--galaxies", type=int, default=4,
                        help="galaxies to simulate and predict (default %(default)s)")
    parser.add_argument("--views", type=int, default=1, help="views per galaxy (default 1)")
    parser.add_argument("--size", type=int, default=None,
                        help="image size in pixels (default: the bundled model's, else 64)")
    parser.add_argument("--seed", type=int, default=DEMO_SEED,
                        help="seed of the demo universe (default %(default)s)")
    parser.add_argument("--model", help="use this model file instead of the bundled one")
    parser.add_argument("--examples", type=int, default=2,
                        help="galaxies drawn as Fig. 1-style panels (default %(default)s)")
    group = parser.add_argument_group("quick training (only without a bundled model)")
    group.add_argument("--no-bundled", action="store_true",
                       help="ignore a bundled model and train the quick network anyway")
    group.add_argument("--train-galaxies", type=int, default=16,
                       help="galaxies of the quick training set (default %(default)s)")
    group.add_argument("--train-seconds", type=float, default=45.0,
                       help="training time budget in seconds (default %(default)s)")
    parser.add_argument("--processes", type=int, default=2,
                        help="processes for the simulation (default %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace earlier demo output")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars")
    parser.set_defaults(func=run)
    return parser


def train_quick_model(pairs, output_dir, *, seconds=45.0, seed=0, progress=True):
    """
    Train a tiny U-Net for a fixed wall-clock budget (the demo's stand-in model).

    It is `picasso.nn.Trainer` with a ``time_budget``: the same split,
    augmentation, loss, logs and model file as any training run, only small
    and short.

    Parameters
    ----------
    pairs : `~picasso.io.dataset.PairDataset`
        Training pairs (the galaxies the demo shows come from another universe
        seed, so they are held out).
    output_dir : path-like
        Where the run (model, checkpoint, logs) is written.
    seconds : float
        Time budget; training stops at the first step past it.
    seed : int
        Seeds the weights, the data order and the augmentation.
    progress : bool

    Returns
    -------
    model : `~picasso.nn.Model`
        The best network on validation, with the recipe in ``model.info``.
    """
    from ..nn.train import TrainConfig, Trainer
    from ..nn.unet import UNetConfig

    depth = 3 if pairs.image_size % 8 == 0 else 2
    model_config = UNetConfig(depth=depth, base_width=8, in_bands=tuple(pairs.bands),
                              properties=tuple(pairs.properties))
    config = TrainConfig(epochs=1000, batch_size=8, learning_rate=3e-3, milestones=(),
                         seed=seed, time_budget=seconds)
    trainer = Trainer(pairs, output_dir, model_config=model_config, config=config,
                      progress=progress)
    model = trainer.fit()
    model.info["recipe"] = "picasso demo quick training (a stand-in, not the bundled model)"
    log.info("quick training: %d steps in %.0f s", trainer.global_step, seconds)
    return model


def predict_real_galaxy(model, output, *, overwrite=False):
    """
    Cut the real SDSS galaxy shipped with picasso, predict its maps and draw them.

    Parameters
    ----------
    model : `~picasso.nn.Model`
    output : `~pathlib.Path`
        Folder for ``real_sdss_cutout.fits``, ``real_sdss_maps.fits`` and their PNG figures.
    overwrite : bool

    Returns
    -------
    maps : `~picasso.PropertyMaps`
    """
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..analysis import plot_cutout, plot_maps
    from ..io.sdss import EXAMPLE_GALAXY, cutout_from_frames, example_frames
    from ..nn.diagnostics import PicassoOODWarning

    cutout = cutout_from_frames(example_frames(), size=model.image_size, **EXAMPLE_GALAXY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PicassoOODWarning)  # reported below instead
        maps = model.predict(cutout)
    cutout.write(output / "real_sdss_cutout.fits", overwrite=overwrite)
    maps.write(output / "real_sdss_maps.fits", overwrite=overwrite)
    title = (f"SDSS RA {EXAMPLE_GALAXY['ra'].value:.4f}, Dec {EXAMPLE_GALAXY['dec'].value:.4f} "
             f"(run 2583, camcol 2, field 136), z = {EXAMPLE_GALAXY['redshift']:g} assumed")
    for name, figure in (("real_sdss_cutout.png", plot_cutout(cutout, title=title)),
                         ("real_sdss_maps.png", plot_maps(maps, title=title))):
        figure.savefig(output / name, dpi=90)
        plt.close(figure)
    ood = maps.meta.get("ood")
    verdict = "" if not ood else (
        f"; its input is {'OUTSIDE' if ood['out_of_distribution'] else 'within'} the model's "
        f"training inputs (distance {ood['distance']:.1f}, threshold {ood['threshold']:.1f})")
    print(f"a real SDSS galaxy (the crop shipped with picasso, z = "
          f"{EXAMPLE_GALAXY['redshift']:g} assumed): stellar mass "
          f"{maps.total('stellar_mass').to_value('solMass'):.3g} Msun in the cutout{verdict}; "
          "wrote real_sdss_maps.fits and real_sdss_*.png")
    return maps


def _bundled_model():
    from ..nn.loading import default_model

    try:
        return default_model()
    except RuntimeError as error:
        log.info("no bundled model: %s", error)
        return None


def run(args):
    """Run the demo; returns the exit status."""
    from ..io.dataset import PairDataset
    from ..mock.build import build_dataset
    from ..nn.loading import load_model
    from ..studies.evaluation import evaluate
    from ..studies.provenance import training_observing

    if args.galaxies < 1:
        raise ValueError("--galaxies must be at least 1")
    if args.train_galaxies < MIN_TRAIN_GALAXIES:
        raise ValueError(f"--train-galaxies must be at least {MIN_TRAIN_GALAXIES}: the quick "
                         "training splits them into training, validation and test galaxies")
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    model = None
    if args.model:
        model = load_model(args.model)
    elif not args.no_bundled:
        model = _bundled_model()
    size = args.size or (model.image_size if model is not None else 64)
    if model is not None and size != model.image_size:
        raise ValueError(f"the model takes {model.image_size} px images; drop --size or give "
                         f"--size {model.image_size}")

    # the galaxies are observed as the model's training images were
    observing = training_observing(model) if model is not None else None
    print(f"simulating {args.galaxies} galaxies ({size} x {size} px, seed {args.seed})")
    data_path = build_dataset(output / "galaxies.h5", args.galaxies, image_size=size,
                              seed=args.seed, views=args.views, config=observing,
                              processes=args.processes, progress=args.progress,
                              overwrite=args.overwrite)
    pairs = PairDataset(data_path)

    source = "bundled model" if model is not None and not args.model else args.model
    if model is None:
        print("NOTE: no trained model is bundled with this picasso; training a tiny network "
              f"for about {args.train_seconds:g} s on {args.train_galaxies} other simulated "
              "galaxies instead. Its maps only illustrate the workflow; the bundled model "
              "(tools/train_default_model.py) is what reaches useful accuracy.")
        train_path = build_dataset(output / "quick_training_set.h5", args.train_galaxies,
                                   image_size=size, seed=QUICK_TRAIN_SEED, views=2,
                                   processes=args.processes, progress=args.progress,
                                   overwrite=args.overwrite)
        model = train_quick_model(PairDataset(train_path), output / "quick_model",
                                  seconds=args.train_seconds, progress=args.progress)
        source = "quick network trained by the demo (no bundled model)"
    print(f"predicting with the {source}: {model!r}")

    cutout_dir, maps_dir = output / "cutouts", output / "maps"
    cutout_dir.mkdir(exist_ok=True)
    maps_dir.mkdir(exist_ok=True)
    cutouts = [pairs.cutout(i) for i in range(len(pairs))]
    predictions = model.predict(cutouts, progress=args.progress)
    table = pairs.table
    for index, (cutout, prediction) in enumerate(zip(cutouts, predictions)):
        name = f"g{int(table['galaxy_id'][index])}_v{int(table['view'][index])}"
        cutout.write(cutout_dir / f"{name}.fits", overwrite=args.overwrite)
        prediction.write(maps_dir / f"{name}_predicted.fits", overwrite=args.overwrite)
        pairs.truth_maps(index).write(maps_dir / f"{name}_true.fits", overwrite=args.overwrite)

    print("evaluating against the true maps (mu and sigma inside 2 R_half)")
    evaluation = evaluate(pairs, model=model, examples=min(max(args.examples, 0), len(pairs)),
                          progress=args.progress)
    evaluation.settings["model"] = source
    evaluation.write(output, overwrite=True)
    predict_real_galaxy(model, output, overwrite=args.overwrite)
    summary = {name: {key: evaluation.report[name][key].value
                      for key in ("mu", "sigma")} for name in evaluation.properties}
    log.info("per-galaxy mu / sigma: %s", json.dumps(summary))
    print(evaluation.markdown().split("## Colour")[0].split("## Per pixel")[0].strip())
    print(f"wrote cutouts, maps, figures and metrics.json to {output} in "
          f"{time.perf_counter() - started:.0f} s")
    return 0
