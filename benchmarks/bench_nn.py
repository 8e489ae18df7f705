"""
Speed of the picasso U-Net: inference images per second, and how close to the CPU's peak.

For the paper network (depth 4, width 64, 28.9 M parameters) and a small one
(width 16) at 256 x 256 it times, on the same weights and inputs:

* ``authors``: the authors' way, eager float32, NCHW, ``torch.no_grad``;
* ``picasso_fp32``: `picasso.nn.Model.predict_log10` with ``precision="fp32"``
  (channels-last memory, ``inference_mode``);
* ``picasso_bf16``: the same with ``precision="bf16"`` (bf16 autocast for the
  body, the 1x1 heads in float32), what ``precision="auto"`` picks on a CPU
  with native bf16 when the outputs move by no more than 0.01 dex;
* with ``--compile``, both through `torch.compile` with frozen weights.

Every path is called twice before it is timed (the first calls build oneDNN's
kernels and, for ``--compile``, compile); then the paths take turns,
``--repeats`` times, and each keeps its fastest call. The JSON records the
median too, and the load average before and after.

Threads. On a machine that other jobs keep busy, torch's OpenMP threads wait
for each other at every layer: under a load of 5-6 on 2 cores, 2 threads ran
the small network 2.7-4.7x *slower* than 1 thread. Such oversubscription, not
bf16, is what made an earlier run of this script (2 threads, load 5.3) time
bf16 autocast at 0.13x of eager. By default the script therefore uses as many
threads as there are idle cores (at least one), checks that this count beats
one thread on the authors' path (else it falls back to one thread), and
prints the choice.

Accuracy. The largest change bf16 makes to any pixel (in dex) is measured per
property on the benchmark's random-weight networks and on the bundled trained
model observing a few galaxies of the synthetic universe.

Peak. The FLOPs per image are counted by
`torch.utils.flop_counter.FlopCounterMode` (2 per multiply-add). The CPU's
nominal peaks come from ``/proc/cpuinfo`` (clock x cores x FLOPs per cycle:
float32 64 with AVX-512's two FMA units, 32 with AVX2; bf16 1024 with AMX
tiles, Intel's figure for Sapphire Rapids, 128 with AVX512-BF16 alone), and
the practical ceilings from a large float32 and bf16 matrix product timed in
the same process. Both fractions are reported.

Run: ``python benchmarks/bench_nn.py [--configs paper small] [--batches 1 8]
[--repeats 3] [--compile] [--threads N] [--device cuda]``.
"""

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from picasso.nn.model import Model, native_bf16
from picasso.nn.unet import UNet, UNetConfig
from picasso.utils.atomic import atomic_path

CONFIGS = {"paper": UNetConfig(), "small": UNetConfig(base_width=16)}

#: FLOPs per cycle per core of each kind of arithmetic (see the module docstring).
FLOPS_PER_CYCLE = {"avx512_fp32": 64, "avx2_fp32": 32, "amx_bf16": 1024, "avx512_bf16": 128}


def cpu_info():
    """Model name, clock (MHz) and flags from /proc/cpuinfo (empty where unreadable)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown", None, set()
    model = next((line.split(":", 1)[1].strip() for line in lines
                  if line.startswith("model name")), "unknown")
    mhz = next((float(line.split(":", 1)[1]) for line in lines if line.startswith("cpu MHz")),
               None)
    flags = set(next((line.split(":", 1)[1].split() for line in lines
                      if line.startswith("flags")), []))
    return model, mhz, flags


def nominal_peaks(threads):
    """Nominal float32 and bf16 GFLOP/s of ``threads`` cores, and how they were reckoned."""
    model, mhz, flags = cpu_info()
    if mhz is None:
        return model, None, None, "clock unknown"
    if "avx512f" in flags:
        fp32 = FLOPS_PER_CYCLE["avx512_fp32"]
    elif "avx2" in flags and "fma" in flags:
        fp32 = FLOPS_PER_CYCLE["avx2_fp32"]
    else:
        fp32 = 8
    if "amx_bf16" in flags:
        bf16, kind = FLOPS_PER_CYCLE["amx_bf16"], "AMX"
    elif "avx512_bf16" in flags:
        bf16, kind = FLOPS_PER_CYCLE["avx512_bf16"], "AVX512-BF16"
    else:
        bf16, kind = fp32, "emulated (float32 rate)"
    ghz = mhz * 1e-3
    how = (f"{threads} core(s) x {ghz:.2f} GHz x {fp32} (float32) / {bf16} (bf16, {kind}) "
           "FLOP per cycle")
    return model, threads * ghz * fp32, threads * ghz * bf16, how


def gemm_ceiling(dtype, device, n=2048, repeats=3):
    """GFLOP/s of an n x n x n matrix product: the practical ceiling of dense arithmetic."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def flops_per_image(network, size):
    x = torch.zeros(1, network.config.in_channels, size, size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        network(x)
    return counter.get_total_flops()


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_paths(config, batch, size, device, use_compile, seed=0):
    """Callables for every inference path, on the same weights and the same images."""
    torch.manual_seed(seed)
    network = UNet(config).eval().to(device)
    model = Model(network, image_size=size)
    rng = np.random.default_rng(seed)
    # flux per kpc2 as the model takes it: log-normal around the transform's floor
    images = rng.lognormal(0.0, 2.0, (batch, config.in_channels, size, size)).astype(np.float32)
    x = model.transform.normalise(torch.from_numpy(images).to(device))
    authors = UNet(config).eval().to(device)
    authors.load_state_dict(network.state_dict())

    def eager():
        with torch.no_grad():
            return authors(x).float().cpu().numpy()

    def predict(precision, compile=False):
        def call():
            return model.predict_log10(images, batch_size=batch, device=device,
                                       precision=precision, compile=compile)[0]
        return call

    paths = {"authors": eager, "picasso_fp32": predict("fp32"), "picasso_bf16": predict("bf16")}
    if use_compile:
        paths["picasso_fp32_compile"] = predict("fp32", compile=True)
        paths["picasso_bf16_compile"] = predict("bf16", compile=True)
    return paths, model


def time_paths(paths, repeats, device, warmup=2):
    """Fastest and median seconds per call of each path: warm-up excluded, repeats interleaved."""
    outputs, warmup_seconds = {}, {}
    for name, call in paths.items():
        start = time.perf_counter()
        for _ in range(warmup):
            outputs[name] = call()
        synchronize(device)
        warmup_seconds[name] = time.perf_counter() - start
    times = {name: [] for name in paths}
    for _ in range(repeats):
        for name, call in paths.items():
            start = time.perf_counter()
            call()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times, warmup_seconds, outputs


def choose_threads(requested, device):
    """Threads for the run: as asked, else the idle cores, checked against one thread."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if requested:
        return requested, f"asked for ({cores} cores)"
    if device.type != "cpu":
        return torch.get_num_threads(), "device is not the CPU"
    load = os.getloadavg()[0]
    idle = max(1, min(cores, int(cores - load + 0.5)))
    if idle == 1:
        return 1, f"load average {load:.2f} on {cores} cores: one idle core at most"
    # more than one thread: check that they beat one thread on a small network
    config = UNetConfig(base_width=16)
    network = UNet(config).eval()
    x = torch.randn(1, config.in_channels, 128, 128)
    rates = {}
    for threads in (idle, 1, idle, 1):
        torch.set_num_threads(threads)
        with torch.no_grad():
            network(x)
            start = time.perf_counter()
            network(x)
        rates[threads] = min(rates.get(threads, float("inf")), time.perf_counter() - start)
    if rates[idle] >= rates[1]:
        return 1, (f"{idle} threads were slower than 1 ({rates[idle]:.3f} s vs {rates[1]:.3f} s "
                   "per call): the cores are oversubscribed")
    return idle, f"load average {load:.2f} on {cores} cores"


def accuracy_of_trained_model(n_galaxies):
    """
    Largest change bf16 makes to the bundled model's maps (dex, per property).

    On the first ``n_galaxies`` of a synthetic universe, observed as the model was trained.
    """
    from picasso.mock.observe import observe
    from picasso.mock.universe import Universe
    from picasso.nn.loading import load_model
    from picasso.studies.provenance import training_observing

    model = load_model("default")
    config = training_observing(model)
    universe = Universe(seed=5)
    images = [model.input_flux(observe(universe.particles(i), config, seed=i,
                                       direction=(0.2, 0.3, 0.9))[0])
              for i in range(n_galaxies)]
    fp32, sigma32 = model.predict_log10(images, precision="fp32")
    bf16, sigma16 = model.predict_log10(images, precision="bf16")
    delta = np.abs(bf16 - fp32)
    result = {
        "model": repr(model),
        "galaxies": n_galaxies,
        "max_abs_delta_dex": dict(zip(model.properties, delta.max(axis=(0, 2, 3)).tolist())),
        "median_abs_delta_dex": dict(zip(model.properties,
                                         np.median(delta, axis=(0, 2, 3)).tolist())),
    }
    if sigma32 is not None:
        result["sigma_max_abs_delta_dex"] = dict(zip(
            model.properties, np.abs(sigma16 - sigma32).max(axis=(0, 2, 3)).tolist()))
    model.predict_log10(images, precision="auto")
    result["auto_choice"] = model.last_precision
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--output", default="benchmarks/results/nn.json")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per path")
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile (minutes of compilation on a small CPU)")
    parser.add_argument("--accuracy-galaxies", type=int, default=6,
                        help="mock galaxies for the bundled model's bf16 check (0: skip)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the idle cores, at least one)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    threads, why = choose_threads(args.threads, device)
    torch.set_num_threads(threads)
    load_before = os.getloadavg()
    results = {"torch": torch.__version__, "threads": threads, "threads_reason": why,
               "device": str(device), "machine": platform.node(), "image_size": args.size,
               "repeats": args.repeats, "load_average_before": load_before,
               "native_bf16": native_bf16(device), "inference": []}
    if device.type == "cpu":
        model_name, peak32, peak16, how = nominal_peaks(threads)
        ceiling32 = gemm_ceiling(torch.float32, device)
        ceiling16 = gemm_ceiling(torch.bfloat16, device)
        results.update(cpu=model_name, nominal_peak_gflops={"fp32": peak32, "bf16": peak16},
                       nominal_peak_reckoning=how,
                       gemm_ceiling_gflops={"fp32": ceiling32, "bf16": ceiling16})
        print(f"torch {torch.__version__} on {model_name}: {threads} thread(s) ({why})")
        print(f"nominal peak {peak32:.0f} GFLOP/s float32, {peak16:.0f} GFLOP/s bf16 ({how})")
        print(f"2048^3 matrix product: {ceiling32:.0f} GFLOP/s float32, {ceiling16:.0f} GFLOP/s "
              "bf16 (the practical ceilings)")
    else:
        peak32 = peak16 = ceiling32 = ceiling16 = None
        print(f"torch {torch.__version__} on {torch.cuda.get_device_name(device)}")
    print(f"load average {load_before[0]:.2f} on {os.cpu_count()} cores"
          + (": the machine is shared, timings are the fastest of interleaved calls"
             if load_before[0] > 0.5 else ""))
    header = (f"{'config':7} {'batch':>5} {'path':22} {'img/s':>8} {'x authors':>9} "
              f"{'GFLOP/s':>8} {'%peak':>6} {'%gemm':>6} {'max|d| dex':>10}")
    print(header)
    for name in args.configs:
        config = CONFIGS[name]
        flops = flops_per_image(UNet(config), args.size)
        for batch in args.batches:
            paths, model = make_paths(config, batch, args.size, device, args.compile)
            times, warmup, outputs = time_paths(paths, args.repeats, device)
            torch._dynamo.reset()
            authors_rate = batch / min(times["authors"])
            reference = outputs["picasso_fp32"]
            for path, seconds in times.items():
                rate = batch / min(seconds)
                gflops = rate * flops / 1e9
                bf16 = "bf16" in path
                peak = peak16 if bf16 else peak32
                ceiling = ceiling16 if bf16 else ceiling32
                delta = np.abs(outputs[path] - reference).max(axis=(0, 2, 3))
                row = {"config": name, "batch": batch, "path": path,
                       "n_parameters": model.network.n_parameters,
                       "gflop_per_image": flops / 1e9, "images_per_second": rate,
                       "images_per_second_median": batch / statistics.median(seconds),
                       "speedup_vs_authors": rate / authors_rate, "achieved_gflops": gflops,
                       "fraction_of_nominal_peak": gflops / peak if peak else None,
                       "fraction_of_gemm_ceiling": gflops / ceiling if ceiling else None,
                       "warmup_seconds": warmup[path],
                       "max_abs_delta_dex_vs_fp32": dict(zip(model.properties, delta.tolist()))}
                results["inference"].append(row)
                print(f"{name:7} {batch:5d} {path:22} {rate:8.3f} {rate / authors_rate:9.2f} "
                      f"{gflops:8.1f} {100 * (row['fraction_of_nominal_peak'] or np.nan):5.1f}% "
                      f"{100 * (row['fraction_of_gemm_ceiling'] or np.nan):5.1f}% "
                      f"{delta.max():10.2g}")
        print(f"{name}: {flops / 1e9:.1f} GFLOP per {args.size}x{args.size} image")
    if args.accuracy_galaxies:
        accuracy = accuracy_of_trained_model(args.accuracy_galaxies)
        results["bundled_model_bf16"] = accuracy
        worst = max(accuracy["max_abs_delta_dex"].values())
        print(f"\nbundled model, {args.accuracy_galaxies} mock galaxies: bf16 moves a pixel by up "
              f"to {worst:.3f} dex (median "
              f"{max(accuracy['median_abs_delta_dex'].values()):.4f}); precision='auto' "
              f"chooses {accuracy['auto_choice']['precision']}")
    if device.type == "cpu":
        # the ceilings again: on a shared machine take the better of before and after
        for key, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            again = gemm_ceiling(dtype, device)
            results["gemm_ceiling_gflops"][key] = max(results["gemm_ceiling_gflops"][key], again)
        ceilings = results["gemm_ceiling_gflops"]
        for row in results["inference"]:
            ceiling = ceilings["bf16" if "bf16" in row["path"] else "fp32"]
            row["fraction_of_gemm_ceiling"] = row["achieved_gflops"] / ceiling
        print(f"matrix-product ceilings, the better of before and after: {ceilings['fp32']:.0f} "
              f"GFLOP/s float32, {ceilings['bf16']:.0f} GFLOP/s bf16 (the %gemm column used the "
              "first measurement; the JSON the better one)")
    results["load_average_after"] = os.getloadavg()
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output, overwrite=True) as tmp:
        tmp.write_text(json.dumps(results, indent=1))
    print(f"load average after: {results['load_average_after'][0]:.2f}; wrote {output}")


if __name__ == "__main__":
    main()
