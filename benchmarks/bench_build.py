"""
Universe build speed against the number of worker processes.

For each process count (interleaved over repeats, in one process; the JSON
records the load average) it builds the same galaxies with
`picasso.mock.build.build_dataset` and reports galaxies per second, the
speed-up over one process, and where the time goes: CPU seconds per galaxy
in the parent (its serial share: joining shards) and in the workers
(rendering). The parent's share bounds the speed-up (Amdahl): with ``s``
parent seconds per galaxy the build cannot exceed ``1 / s`` galaxies per
second, whatever the number of cores.

``--no-blas-limit`` also times the builds with more than one process
without the workers' one-BLAS-thread limit (`picasso.mock.build` sets it:
forked workers otherwise inherit a BLAS sized to every core, ``P x cores``
threads in all). OpenBLAS never starts more threads than there are cores,
so on a small machine the difference is small; on 16 cores it is 16 x 16.

Run: ``python benchmarks/bench_build.py --galaxies 16 --size 64 --processes 1 2 4``
"""

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

from picasso.mock import build
from picasso.mock.observe import ObservingConfig
from picasso.utils.atomic import atomic_path


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_build(path, args, processes, limit_threads=True):
    """Seconds of wall clock, parent CPU and worker CPU for one build."""
    original = build._limit_native_threads
    if not limit_threads:
        build._limit_native_threads = lambda n=1: None
    try:
        wall, cpu, children = time.perf_counter(), time.process_time(), children_cpu()
        build.build_dataset(path, args.galaxies, image_size=args.size, seed=args.seed,
                            views=args.views, config=ObservingConfig.preset(args.preset),
                            processes=processes, progress=False, overwrite=True,
                            compression=None if args.compression == "none" else args.compression,
                            shard_size=args.shard_size)
        return (time.perf_counter() - wall, time.process_time() - cpu, children_cpu() - children)
    finally:
        build._limit_native_threads = original


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--galaxies", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--preset", default="paper", choices=("paper", "sdss"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compression", default="lzf", choices=("lzf", "gzip", "none"))
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--shard-size", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-blas-limit", dest="blas_comparison", action="store_true",
                        help="also time parallel builds without the one-BLAS-thread limit")
    parser.add_argument("--output", default="benchmarks/results/build.json")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.2f}; {args.galaxies} galaxies x "
          f"{args.views} views at {args.size} x {args.size} px ({args.preset}, "
          f"{args.compression})")
    runs = [(p, True) for p in args.processes]
    if args.blas_comparison:
        runs += [(p, False) for p in args.processes if p > 1]
    samples = {run: [] for run in runs}
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(args.repeats):
            for processes, limit in runs:
                path = Path(directory) / f"build_{processes}_{limit}.h5"
                samples[(processes, limit)].append(one_build(path, args, processes, limit))
    rows = []
    single = None
    print(f"\n{'processes':>9} {'BLAS limit':>10} {'galaxies/s':>10} {'speed-up':>8} "
          f"{'parent ms/gal':>13} {'workers s/gal':>13} {'parent bound gal/s':>18}")
    for (processes, limit), values in samples.items():
        wall = statistics.median(v[0] for v in values)
        parent = statistics.median(v[1] for v in values) / args.galaxies
        workers = statistics.median(v[2] for v in values) / args.galaxies
        rate = args.galaxies / wall
        if processes == 1 and limit:
            single = rate
        # one process renders in the parent: its whole time is serial
        bound = None if processes == 1 else 1 / max(parent, 1e-9)
        row = {"processes": processes, "blas_limit": limit, "galaxies_per_second": rate,
               "speedup": rate / single if single else None, "wall_seconds": wall,
               "parent_cpu_seconds_per_galaxy": parent,
               "worker_cpu_seconds_per_galaxy": workers, "parent_bound_galaxies_per_second":
               bound, "samples": values}
        rows.append(row)
        print(f"{processes:9d} {'yes' if limit else 'no':>10} {rate:10.2f} "
              f"{row['speedup'] or float('nan'):8.2f} {1e3 * parent:13.1f} {workers:13.2f} "
              f"{bound if bound else float('nan'):18.0f}")
    record = {"cores": os.cpu_count(), "machine": platform.node(), "load_average_before": load,
              "load_average_after": os.getloadavg(), "arguments": vars(args), "rows": rows}
    print(f"load average {record['load_average_after'][0]:.2f} at the end")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output, overwrite=True) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
