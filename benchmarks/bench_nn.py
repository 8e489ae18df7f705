"""
Speed of the picasso U-Net: inference and training images per second.

For the paper configuration (depth 4, width 64) and a small one (width 16) at
256 x 256, batch 1 and 8, it times the authors' way (eager float32,
``torch.no_grad``, NCHW) against picasso's candidate inference paths
(``inference_mode`` with channels-last memory; a frozen TorchScript graph
with fused convolution + ReLU; bf16 autocast; optionally ``torch.compile``),
reports the fastest, the FLOPs per image (counted by
`torch.utils.flop_counter.FlopCounterMode`, 2 per multiply-add) and the
fraction of the CPU's peak float32 rate, and the training throughput (Adam
step with the paper's loss).

Timings are the minimum over interleaved repeats, which resists other
processes on a shared machine; the JSON records the load average.

Run: ``python benchmarks/bench_nn.py [--repeats 2] [--compile] [--device cuda]``.
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from picasso.nn.loss import masked_squared_error
from picasso.nn.unet import UNet, UNetConfig

CONFIGS = {"paper": UNetConfig(), "small": UNetConfig(base_width=16)}


def cpu_peak_gflops(threads):
    """Peak float32 GFLOP/s of ``threads`` cores from /proc/cpuinfo (FMA x SIMD width)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, "unknown"
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    mhz = next((float(line.split(":")[1]) for line in text.splitlines()
                if line.startswith("cpu MHz")), None)
    model = next((line.split(":")[1].strip() for line in text.splitlines()
                  if line.startswith("model name")), "unknown")
    if mhz is None:
        return None, model
    if " avx512f" in flags:
        per_cycle = 64  # 2 FMA units x 16 lanes x 2 flops
    elif " avx2" in flags and " fma" in flags:
        per_cycle = 32  # 2 FMA units x 8 lanes x 2 flops
    else:
        per_cycle = 8
    return threads * mhz * 1e-3 * per_cycle, model


def flops_per_image(network, size):
    x = torch.zeros(1, len(network.config.in_bands), size, size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        network(x)
    return counter.get_total_flops()


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def inference_modes(config, batch, size, device, use_compile):
    """Callables for each inference path, all on the same weights."""
    torch.manual_seed(0)
    base = UNet(config).eval().to(device)
    x = torch.randn(batch, len(config.in_bands), size, size, device=device)
    cl_net = UNet(config).eval().to(device)
    cl_net.load_state_dict(base.state_dict())
    cl_net = cl_net.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)

    def eager():
        with torch.no_grad():
            return base(x)

    def channels_last():
        with torch.inference_mode():
            return cl_net(x_cl)

    def bf16_channels_last():
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16):
            return cl_net(x_cl)

    modes = {"eager_fp32": eager, "channels_last_fp32": channels_last,
             "channels_last_bf16": bf16_channels_last}
    with torch.no_grad():
        frozen = torch.jit.optimize_for_inference(
            torch.jit.freeze(torch.jit.trace(cl_net, x_cl, check_trace=False))
        )

    def jit_frozen():
        with torch.no_grad():
            return frozen(x_cl)

    modes["jit_frozen_channels_last"] = jit_frozen
    if use_compile:
        # inductor with frozen weights: constant-folded, oneDNN-packed convolutions fused
        # with their ReLU
        compiled = torch.compile(cl_net, options={"freezing": True})

        def compiled_mode():
            with torch.no_grad():
                return compiled(x_cl)

        modes["compile_frozen_channels_last"] = compiled_mode
    return modes


def time_modes(modes, repeats, device):
    """Minimum seconds per call of each mode, repeats interleaved; first call is warm-up."""
    best = {}
    reference = None
    errors = {}
    for name, call in modes.items():
        start = time.perf_counter()
        out = call().float()
        synchronize(device)
        best[name] = time.perf_counter() - start  # warm-up (includes compilation)
        if reference is None:
            reference = out
        errors[name] = float((out - reference).abs().max())
    warmup = dict(best)
    best = {name: float("inf") for name in modes}
    skip = set()
    for _ in range(repeats):
        for name, call in modes.items():
            if name in skip:
                continue
            start = time.perf_counter()
            call()
            synchronize(device)
            best[name] = min(best[name], time.perf_counter() - start)
            # a path 3x slower than eager is not worth more of a shared machine's time
            if best[name] > 3 * best.get("eager_fp32", float("inf")):
                skip.add(name)
    return best, warmup, errors


def training_rate(config, batch, size, device, channels_last, steps):
    torch.manual_seed(0)
    network = UNet(config).to(device)
    if channels_last:
        network = network.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-5)
    x = torch.randn(batch, len(config.in_bands), size, size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    truth = torch.randn(batch, len(config.properties), size, size, device=device)
    truth[:, :, ::2] = -100.0
    best = float("inf")
    for step in range(steps + 1):
        start = time.perf_counter()
        loss = masked_squared_error(network(x), truth)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        synchronize(device)
        if step:  # step 0 is warm-up
            best = min(best, time.perf_counter() - start)
    return batch / best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--output", default="benchmarks/results/nn.json")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats per path")
    parser.add_argument("--train-steps", type=int, default=2)
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile (minutes of compilation on a small CPU)")
    parser.add_argument("--no-train", dest="train", action="store_false",
                        help="skip the training measurement")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    threads = torch.get_num_threads()
    peak, cpu_model = cpu_peak_gflops(threads) if device.type == "cpu" else (None, None)
    load = os.getloadavg()
    print(f"torch {torch.__version__}, {threads} threads, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
             f" ({cpu_model}, peak {peak:.0f} GFLOP/s fp32)"))
    print(f"load average {load[0]:.2f} on {os.cpu_count()} cores: the machine is shared, "
          "timings are the minimum over interleaved repeats")
    results = {"torch": torch.__version__, "threads": threads, "device": str(device),
               "cpu": cpu_model, "peak_gflops_fp32": peak, "load_average": load,
               "machine": platform.node(), "image_size": args.size, "repeats": args.repeats,
               "note": "shared machine: other processes were running", "inference": [],
               "training": []}
    results["skipped_note"] = ("paths slower than 1.5x eager at the smallest batch are not "
                               "timed at larger batches; larger batches use repeats - 1")
    header = (f"{'config':7} {'batch':>5} {'path':26} {'img/s':>8} {'x eager':>8} "
              f"{'GFLOP/s':>8} {'% peak':>7} {'max|diff|':>9}")
    print(header)
    for name in args.configs:
        config = CONFIGS[name]
        flops = flops_per_image(UNet(config), args.size)
        dropped = set()
        for batch in sorted(args.batches):
            modes = inference_modes(config, batch, args.size, device, args.compile)
            modes = {mode: call for mode, call in modes.items() if mode not in dropped}
            # large batches of the paper network take tens of seconds per call on a CPU
            repeats = args.repeats if batch == min(args.batches) else max(1, args.repeats - 1)
            best, warmup, errors = time_modes(modes, repeats, device)
            # a path much slower than eager at the smallest batch is not timed again
            dropped |= {mode for mode, seconds in best.items()
                        if seconds > 1.5 * best["eager_fp32"]}
            torch._dynamo.reset()
            eager_rate = batch / best["eager_fp32"]
            fastest = min((n for n in best if n != "eager_fp32"), key=best.get)
            for mode, seconds in best.items():
                rate = batch / seconds
                gflops = rate * flops / 1e9
                fraction = gflops / peak if peak else None
                row = {"config": name, "batch": batch, "path": mode, "images_per_second": rate,
                       "speedup_vs_eager": rate / eager_rate, "gflops_per_image": flops / 1e9,
                       "achieved_gflops": gflops, "fraction_of_peak": fraction,
                       "warmup_seconds": warmup[mode], "max_abs_diff_vs_eager": errors[mode],
                       "fastest": mode == fastest, "n_parameters": UNet(config).n_parameters}
                results["inference"].append(row)
                flag = "*" if mode == fastest else " "
                print(f"{name:7} {batch:5d} {mode + flag:26} {rate:8.3f} "
                      f"{rate / eager_rate:8.2f} {gflops:8.1f} "
                      f"{100 * fraction if fraction else float('nan'):6.1f}% "
                      f"{errors[mode]:9.2g}")
        print(f"{name}: {flops / 1e9:.1f} GFLOP per {args.size}x{args.size} image forward")
    print(f"\n{'config':7} {'batch':>5} {'memory':14} {'train img/s':>11}")
    for name in args.configs if args.train else []:
        batch = 2 if name == "paper" else 4
        for channels_last in (False, True):
            rate = training_rate(CONFIGS[name], batch, args.size, device, channels_last,
                                 args.train_steps)
            memory = "channels_last" if channels_last else "contiguous"
            results["training"].append({"config": name, "batch": batch, "memory": memory,
                                        "images_per_second": rate})
            print(f"{name:7} {batch:5d} {memory:14} {rate:11.3f}")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, output)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
