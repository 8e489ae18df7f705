"""
Benchmark: SDSS frames to a 256 x 256 cutout, seconds per galaxy.

Frame reading (bz2 decompression, once per field and shared by every galaxy
in it) is timed separately from the per-galaxy work: the reprojection of the
five bands onto the galaxy's grid, PSF matching, and optionally measuring
the half-light radius. Times are wall clock and process CPU time (the CPU
time is what the job itself used, so other load on a shared machine counts
less). The goal is under 0.5 s per galaxy on this 2-core CPU.

The frames are the real field in ../shared/data/sdss (or $PICASSO_SDSS_DATA);
without it, five synthetic frames of the real size are written first.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_ingest.py --galaxies 5
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import astropy.units as u  # noqa: E402
import numpy as np  # noqa: E402

from picasso.io import sdss  # noqa: E402

METHODS = (("adaptive", "gaussian"), ("adaptive", "hann"), ("exact", None), ("interp", None))


def _clock():
    return time.perf_counter(), time.process_time()


def _since(start):
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def _frame_paths(directory):
    if directory is not None and directory.is_dir():
        paths = sorted(directory.glob("frame-*.fits*"))
        if paths:
            return paths, f"real SDSS frames in {directory}"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers_sdss import write_sdss_frame

    target = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    rng = np.random.default_rng(0)
    galaxies = [{"ra": 150 + dx / 3600, "dec": 2 + dy / 3600, "sigma": 2.0,
                 "flux": dict.fromkeys("ugriz", 50.0)}
                for dx, dy in rng.uniform(-200, 200, size=(20, 2))]
    paths = [write_sdss_frame(target, band, shape=(1489, 2048), galaxies=galaxies,
                              noise_seed=1, compress=True)[0] for band in "ugriz"]
    return paths, "synthetic full-size frames (no real data found)"


def _positions(frames, count):
    """Galaxy-like sources (extended, not saturated) on the r frame, brightest first."""
    from photutils.segmentation import SourceCatalog, detect_sources

    frame = frames.frames("r")[0]
    image = frame.image.value.astype(float)
    error = np.sqrt(frame.variance_in())
    catalog = SourceCatalog(image, detect_sources(image, 5 * error, n_pixels=20), error=error,
                            wcs=frame.wcs)
    ny, nx = frame.shape
    x, y = catalog.x_centroid, catalog.y_centroid
    keep = ((x > nx / 2) & (x < nx - 150) & (y > 150) & (y < ny - 150)
            & (catalog.max_value < 300) & (catalog.semimajor_axis.value > 2.5))
    order = np.argsort(-catalog.segment_flux[keep])
    return [catalog.sky_centroid[index] for index in np.flatnonzero(keep)[order][:count]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--galaxies", type=int, default=5)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--r-half", type=float, default=3.0,
                        help="half-light radius in arcsec when not measured (default 3)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get(
        "PICASSO_SDSS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "sdss")))
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parent / "results" / "ingest.json")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    print(f"torch threads: {torch.get_num_threads()}, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS')}, cores: {os.cpu_count()}")
    paths, source = _frame_paths(args.data)
    print(f"frames: {source}")

    read_times = []
    frames = []
    for path in paths:
        start = _clock()
        frames.append(sdss.read_frame(path, cache=False))
        read_times.append(_since(start))
    frameset = sdss.FrameSet(frames)
    cache = sdss.FrameCache()
    for path, frame in zip(paths, frames):
        cache.put(cache.key(path), frame)
    cached = _clock()
    for path in paths:
        sdss.read_frame(path, cache=cache)  # served from the cache
    cache_second = _since(cached)

    positions = _positions(frameset, args.galaxies)
    print(f"galaxies: {len(positions)} at {args.size} x {args.size}, field 10 r_half")
    results = {}
    redshift = 0.03  # SDSS seeing is ~1 kpc here, so the 'widest' common PSF is used
    for method, kernel in METHODS:
        label = method if kernel is None else f"{method}-{kernel}"
        per_galaxy = []
        for coord in positions:
            start = _clock()
            sdss.cutout_from_frames(frameset, coord.ra, coord.dec, redshift, size=args.size,
                                    r_half=args.r_half * u.arcsec, target_psf_fwhm="widest",
                                    method=method, kernel=kernel or "gaussian")
            per_galaxy.append(_since(start))
        wall, cpu = np.median(np.array(per_galaxy), axis=0)
        results[label] = {"wall_s": float(wall), "cpu_s": float(cpu)}
    # Steps of the default method, and measuring r_half.
    coord = positions[0]
    wcs_out = sdss.target_wcs(coord, args.size, 10 * args.r_half * u.arcsec / args.size)
    start = _clock()
    for band in "ugriz":
        sdss.reproject_band(frameset.frames(band), wcs_out, (args.size, args.size))
    reproject_time = _since(start)
    image = np.zeros((args.size, args.size))
    image[args.size // 2, args.size // 2] = 1.0
    start = _clock()
    for _ in "ugriz":
        sdss.match_psf(image, image, 1.4 * u.arcsec, 1.8 * u.arcsec,
                       10 * args.r_half * u.arcsec / args.size)
    psf_time = _since(start)
    start = _clock()
    measured = [sdss.measure_half_light_radius(frameset.frames("r")[0], c) for c in positions]
    measure_time = _since(start)

    print(f"\nreading a frame (bz2, once per field): "
          f"{np.median([t[0] for t in read_times]):.2f} s wall, "
          f"{np.median([t[1] for t in read_times]):.2f} s CPU; from the cache: "
          f"{cache_second[0] / len(paths) * 1e3:.2f} ms")
    print(f"\n{'method':<20}{'s/galaxy wall':>15}{'s/galaxy CPU':>15}   goal < 0.5 s")
    for label, numbers in results.items():
        print(f"{label:<20}{numbers['wall_s']:>15.3f}{numbers['cpu_s']:>15.3f}")
    print("\nsteps (adaptive-gaussian, 5 bands): reprojection "
          f"{reproject_time[0]:.3f} s wall / {reproject_time[1]:.3f} s CPU, PSF matching "
          f"{psf_time[0]:.3f} / {psf_time[1]:.3f} s; measuring r_half "
          f"{measure_time[0] / len(positions):.3f} / {measure_time[1] / len(positions):.3f} s "
          f"per galaxy (r_half {', '.join(f'{r.value:.2f}' for r in measured)} arcsec)")

    report = {
        "benchmark": "ingest",
        "frames": source,
        "size": args.size,
        "galaxies": len(positions),
        "redshift": redshift,
        "r_half_arcsec": args.r_half,
        "read_frame_wall_s": [t[0] for t in read_times],
        "read_frame_cpu_s": [t[1] for t in read_times],
        "read_frame_cached_s": cache_second[0] / len(paths),
        "per_galaxy": results,
        "steps_adaptive_gaussian": {
            "reproject_5_bands_wall_s": reproject_time[0],
            "reproject_5_bands_cpu_s": reproject_time[1],
            "psf_match_5_bands_wall_s": psf_time[0],
            "psf_match_5_bands_cpu_s": psf_time[1],
            "measure_r_half_wall_s": measure_time[0] / len(positions),
            "measure_r_half_cpu_s": measure_time[1] / len(positions),
        },
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "machine": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.output.with_suffix(".json.partial")
    temporary.write_text(json.dumps(report, indent=2))
    os.replace(temporary, args.output)
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
