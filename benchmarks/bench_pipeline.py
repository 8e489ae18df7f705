"""
Training throughput: ``picasso train`` beside the network alone, and bf16 beside float32.

Two measurements, each with interleaved repeats in one process (which resists
other processes on a shared machine; the JSON records the load average):

1. **Precision and memory format** of the network alone: an Adam step of the
   chosen architecture on a batch already on the device, in float32 and bf16
   autocast, NCHW and channels-last. This is what ``TrainConfig(precision=
   'auto', channels_last=None)`` chooses between.
2. **Input pipeline**: for the settings the trainer resolves, images per
   second of (a) the network alone (the same step on one fixed batch), (b)
   `picasso.nn.Trainer.train_epoch` on a pair dataset (what ``picasso train``
   runs: reading, normalising, augmenting, copying and the step), (c) the
   input pipeline alone (batches delivered to the device, no network) and (d)
   a validation pass. The goal is (b) at 85 % or more of (a).

The dataset is ``--data`` or a synthetic one written to a temporary file
(Gaussian galaxies with noise, empty truth outside them, 4 views per galaxy,
redshifts and PSFs for the condition planes), stored like ``picasso
simulate`` stores its pairs (``--compression``).

Run on a CPU (the default recipe's network, 64 x 64)::

    python benchmarks/bench_pipeline.py --preset recipe --size 64 --batch-size 16

and on a GPU (the paper's network)::

    python benchmarks/bench_pipeline.py --device cuda --preset paper --size 256 \\
        --batch-size 32 --workers 8 --pairs 960
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import torch

from picasso.io.dataset import DatasetWriter, PairDataset
from picasso.nn.train import TrainConfig, Trainer
from picasso.nn.unet import UNetConfig
from picasso.properties import BANDS, LOG10_EMPTY, PROPERTIES
from picasso.utils.atomic import atomic_path

#: Architectures and the training settings that go with them.
PRESETS = {
    # tools/train_default_model.py: the bundled model's recipe
    "recipe": (dict(depth=4, base_width=16, heteroscedastic=True,
                    conditions=("psf_fwhm", "redshift")),
               dict(loss="gaussian_nll", learning_rate=5e-4,
                    block_weights={"stellar_mass": 3.0, "stellar_metal_mass": 3.0,
                                   "gas_mass": 1.0, "gas_metal_mass": 1.0})),
    "small": (dict(depth=4, base_width=16), dict(learning_rate=3e-4)),
    "paper": (dict(), dict(learning_rate=1e-5)),
}


def synthetic_pairs(path, n_pairs, size, compression, seed=0, views=4):
    """Write ``n_pairs`` galaxy-like pairs (``views`` per galaxy) to ``path``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    n_bands, n_properties = len(BANDS.names), len(PROPERTIES.names)
    with DatasetWriter(path, image_size=size, attrs={"seed": seed},
                       compression=compression) as writer:
        for pair in range(n_pairs):
            galaxy = pair // views
            if pair % views == 0:
                amplitude = 10 ** rng.uniform(0, 2)
                width = rng.uniform(0.05, 0.15) * size
                colour = rng.uniform(0.3, 1.0, n_bands)
                redshift = rng.uniform(0.02, 0.15)
                psf = rng.uniform(1.5, 4.0)
            q = rng.uniform(0.3, 1)
            profile = amplitude * np.exp(-0.5 * (x**2 + (y / q) ** 2) / width**2)
            image = colour[:, None, None] * profile + rng.normal(0, 0.01, (n_bands, size, size))
            inside = profile > 0.01 * amplitude
            truth = np.where(inside, np.log10(profile + 1e-3) + 7 + rng.normal(
                0, 0.05, (n_properties, size, size)), LOG10_EMPTY)
            row = {"galaxy_id": galaxy, "view": pair % views, "pixel_scale_kpc": 0.4 * u.kpc,
                   "redshift": redshift, "r_half_kpc": 3 * u.kpc, "seed": seed,
                   "psf_fwhm_pixels": psf}
            for name in PROPERTIES.names:
                row[f"total_{name}"] = amplitude * 1e9 * PROPERTIES[name].total_unit
            writer.append_arrays(image.astype(np.float32), truth.astype(np.float32), row)
    return path


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device, call, *args):
    synchronize(device)
    start = time.perf_counter()
    result = call(*args)
    synchronize(device)
    return time.perf_counter() - start, result


def make_trainer(pairs, output_dir, args, *, precision=None, channels_last=None):
    architecture, training = PRESETS[args.preset]
    model_config = UNetConfig(in_bands=tuple(pairs.bands), properties=tuple(pairs.properties),
                              **architecture)
    config = TrainConfig(
        epochs=1000, milestones=(1000,), batch_size=args.batch_size, seed=0,
        num_workers=args.workers, device=args.device,
        precision=precision or args.precision,
        channels_last=channels_last if channels_last is not None else args.channels_last,
        **training,
    )
    return Trainer(pairs, output_dir, model_config=model_config, config=config, progress=False)


def network_step(trainer, images, truth):
    """One training step of ``trainer``'s network on a batch already on the device."""
    prediction, log_sigma = trainer._forward(images)
    loss = trainer._loss(prediction, log_sigma, truth)
    trainer.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    trainer.optimizer.step()
    return loss


def fixed_batch(trainer):
    """A training batch on the device, in the trainer's memory format."""
    positions = range(min(trainer.config.batch_size, len(trainer.train_data)))
    images, truth = next(iter(trainer._batches("train", positions, trainer.config.batch_size)))
    return images.clone(), truth.clone()


def precision_variants(pairs, tmp, args, device):
    """Network-alone step rate in fp32 / bf16 x NCHW / channels-last, interleaved."""
    variants = {}
    for precision in ("fp32", "bf16"):
        for channels_last in (False, True):
            name = f"{precision} {'channels_last' if channels_last else 'NCHW'}"
            trainer = make_trainer(pairs, tmp / name.replace(" ", "_"), args,
                                   precision=precision, channels_last=channels_last)
            batch = fixed_batch(trainer)
            trainer.close_loader()
            network_step(trainer, *batch)  # warm-up
            variants[name] = (trainer, batch)
    seconds = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (trainer, batch) in variants.items():
            for _ in range(args.steps):
                elapsed, _ = timed(device, network_step, trainer, *batch)
                seconds[name].append(elapsed)
    rows = []
    reference = None
    for name, values in seconds.items():
        best = args.batch_size / min(values)
        median = args.batch_size / statistics.median(values)
        reference = reference or median
        rows.append({"variant": name, "best_images_per_second": best,
                     "median_images_per_second": median, "median_vs_fp32_nchw": median / reference})
    return rows


def pipeline(pairs, tmp, args, device):
    """Network alone, picasso train, input pipeline alone and validation, interleaved."""
    trainer = make_trainer(pairs, tmp / "pipeline", args)
    trainer.output_dir.mkdir(parents=True, exist_ok=True)
    batch = fixed_batch(trainer)
    network_step(trainer, *batch)
    n_train = len(trainer.train_data)
    n_validation = len(trainer.validation_data)
    results = {"network": [], "train_epoch": [], "input_only": [], "validation": []}
    first = {}

    def train_epoch():
        trainer.step_in_epoch = 0
        trainer.train_epoch()
        trainer.epoch += 1

    def input_only():
        count = 0
        for images, _ in trainer._batches("train", trainer._epoch_order(), args.batch_size):
            count += len(images)
        trainer.epoch += 1
        return count

    for repeat in range(args.repeats + 1):
        network = [timed(device, network_step, trainer, *batch)[0]
                   for _ in range(args.steps)]
        epoch, _ = timed(device, train_epoch)
        only, _ = timed(device, input_only)
        validation, _ = timed(device, trainer.validate)
        rates = {"network": args.batch_size / statistics.median(network),
                 "train_epoch": n_train / epoch, "input_only": n_train / only,
                 "validation": n_validation / validation}
        if repeat == 0:
            first = rates  # includes the start of the loader's workers
            continue
        for key, value in rates.items():
            results[key].append(value)
    trainer.close_loader()
    summary = {key: {"median": statistics.median(values), "best": max(values)}
               for key, values in results.items()}
    summary["first_pass"] = first
    summary["train_vs_network_median"] = (summary["train_epoch"]["median"]
                                          / summary["network"]["median"])
    summary["train_vs_network_best"] = summary["train_epoch"]["best"] / summary["network"]["best"]
    summary["settings"] = {"precision": trainer.precision, "channels_last": trainer.channels_last,
                           "num_workers": trainer.num_workers, "device": str(trainer.device),
                           "train_pairs": n_train, "validation_pairs": n_validation}
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--data", help="a pair dataset (default: a synthetic one)")
    parser.add_argument("--pairs", type=int, default=160, help="pairs of the synthetic dataset")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--compression", default="lzf", choices=("lzf", "gzip", "none"))
    parser.add_argument("--preset", default="recipe", choices=list(PRESETS))
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None,
                        help="data-loader workers (default: the trainer's choice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--channels-last", dest="channels_last", default=None,
                        type=lambda text: text.lower() in ("1", "true", "yes"),
                        help="true or false (default: the trainer's choice)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed repeats")
    parser.add_argument("--steps", type=int, default=4, help="network-alone steps per repeat")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--no-variants", dest="variants", action="store_false",
                        help="skip the precision and memory-format comparison")
    parser.add_argument("--no-pipeline", dest="pipeline", action="store_false",
                        help="skip the input-pipeline comparison")
    parser.add_argument("--output", default="benchmarks/results/pipeline.json")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load_before = os.getloadavg()
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else platform.processor() or platform.machine())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device} "
          f"({name}), {os.cpu_count()} cores, load average {load_before[0]:.2f}")
    record = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "device": str(device), "device_name": name, "cores": os.cpu_count(),
              "machine": platform.node(), "load_average_before": load_before,
              "arguments": vars(args)}
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        if args.data:
            path = Path(args.data)
        else:
            compression = None if args.compression == "none" else args.compression
            path = synthetic_pairs(tmp / "pairs.h5", args.pairs, args.size, compression)
        pairs = PairDataset(path)
        record["data"] = {"path": path.name if args.data else "synthetic", "pairs": len(pairs),
                          "size": pairs.image_size, "compression": args.compression}
        print(f"{len(pairs)} pairs of {pairs.image_size} x {pairs.image_size} px; preset "
              f"{args.preset}, batch {args.batch_size}")
        if args.variants:
            rows = precision_variants(pairs, tmp, args, device)
            record["network_variants"] = rows
            print(f"\n{'network alone':28} {'median img/s':>12} {'best img/s':>11} "
                  f"{'x fp32 NCHW':>12}")
            for row in rows:
                print(f"{row['variant']:28} {row['median_images_per_second']:12.1f} "
                      f"{row['best_images_per_second']:11.1f} {row['median_vs_fp32_nchw']:12.2f}")
        if args.pipeline:
            summary = pipeline(pairs, tmp, args, device)
            record["pipeline"] = summary
            settings = summary["settings"]
            print(f"\ninput pipeline ({settings['precision']}, channels_last "
                  f"{settings['channels_last']}, {settings['num_workers']} workers, "
                  f"{settings['train_pairs']} training pairs)")
            print(f"{'':28} {'median img/s':>12} {'best img/s':>11} {'first pass':>11}")
            for key, label in (("network", "network alone"), ("train_epoch", "picasso train"),
                               ("input_only", "input pipeline alone"),
                               ("validation", "validation")):
                print(f"{label:28} {summary[key]['median']:12.1f} {summary[key]['best']:11.1f} "
                      f"{summary['first_pass'][key]:11.1f}")
            print(f"picasso train / network alone: {summary['train_vs_network_median']:.0%} "
                  f"(medians), {summary['train_vs_network_best']:.0%} (best)")
    record["load_average_after"] = os.getloadavg()
    print(f"load average {record['load_average_after'][0]:.2f} at the end")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output, overwrite=True) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
