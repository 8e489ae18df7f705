"""
Benchmark: a catalogue run, frames -> table, in galaxies per second, with its accuracy.

Synthetic galaxies of a held-out universe (a seed the bundled model was not
trained on) are injected with `picasso.studies.injection` into the real SDSS
field in ../shared/data/sdss (run 2583, camcol 2, field 136; or
$PICASSO_SDSS_DATA) on a grid over the whole field (the clean right side and
the crowded globular cluster M2 on the left) at redshifts 0.03-0.15, and the
injected frames are written back as ``.fits.bz2`` files on local disk, as the
survey serves them. A catalogue (id, ra, dec, z, and r_half: the truth field
over the model's field in half-light radii, so that each cutout covers its
truth map) then goes through `picasso.studies.run_catalog` exactly as a
user's would: field lookup, frames
(decompressed once), cutouts, batched prediction with the bundled model,
analysis, one maps FITS per galaxy and the table, on a Dask LocalCluster.

It prints the wall time and galaxies per second of the whole run, the
process CPU seconds per galaxy of each stage summed over the workers (read
and decompress the frames, reproject, PSF match, predict, analysis, write),
and the accuracy of the totals inside 2 R_half against the injected truth
(geometry fitted on the true stellar-mass map, as in the paper), and writes
JSON. The injection is not timed; its frames are kept in ``--workdir`` and
reused by the next run with the same settings.

Usage::

    python benchmarks/bench_catalog.py --galaxies 88 --workers 2
"""

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: Redshifts cycled through the galaxies.
REDSHIFTS = (0.03, 0.05, 0.075, 0.1, 0.15)
#: Grid spacing of the injected galaxies (r-frame pixels) and the margin to the frame edges.
SPACING = 180
EDGE = 90
#: Columns of the r frame left of which the globular cluster M2 crowds the field.
CROWDED_BELOW = 700


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--galaxies", type=int, default=88,
                        help="galaxies to inject (at most one per grid point: 88)")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers (default 2)")
    parser.add_argument("--chunk-size", type=int, default=16)
    parser.add_argument("--frames", default=None,
                        help="directory of the five real frames (default ../shared/data/sdss)")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) /
                                                 "picasso_bench_catalog"),
                        help="where the injected frames and the run's output are kept "
                             "(default: in the temporary directory)")
    parser.add_argument("--universe-seed", type=int, default=9001)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--measure-r-half", action="store_true",
                        help="leave r_half out of the catalogue: it is measured on r per galaxy")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" /
                                                "catalog.json"))
    return parser.parse_args(argv)


def default_frames():
    env = os.environ.get("PICASSO_SDSS_DATA")
    return Path(env) if env else ROOT / ".." / "shared" / "data" / "sdss"


def inject_galaxies(frames_dir, workdir, model, n_galaxies, universe_seed, seed):
    """Inject the galaxies once (kept in workdir); returns the catalogue and truth directory."""
    from astropy.coordinates import SkyCoord
    from astropy.table import QTable

    from picasso import __version__
    from picasso.io import sdss
    from picasso.mock.build import renderer_fingerprint
    from picasso.mock.universe import Universe, view_directions
    from picasso.studies.catalog import model_field_in_half_light_radii
    from picasso.studies.injection import Placement, inject
    from picasso.studies.provenance import generator_record, training_observing

    # injected galaxies are reused only if the same picasso would draw and inject the same ones
    settings = {"galaxies": n_galaxies, "universe_seed": universe_seed, "seed": seed,
                "redshifts": REDSHIFTS, "spacing": SPACING, "image_size": model.image_size,
                "universe": Universe(seed=universe_seed).parameters(), "picasso": __version__,
                "renderer": renderer_fingerprint()}
    marker = workdir / "injected.json"
    catalog_path = workdir / "catalog.ecsv"
    truth_dir = workdir / "truth"
    if marker.exists() and json.loads(marker.read_text()) == json.loads(json.dumps(settings)):
        return catalog_path, truth_dir, 0.0
    started = time.perf_counter()
    r_frame = sdss.read_frame(next(Path(frames_dir).glob("frame-r-*.fits*")))
    ny, nx = r_frame.shape
    xs = np.arange(EDGE, nx - EDGE + 1, SPACING)
    ys = np.arange(EDGE, ny - EDGE + 1, SPACING)
    grid = [(x, y) for y in ys for x in xs]
    if n_galaxies > len(grid):
        raise SystemExit(f"at most {len(grid)} galaxies fit the grid")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(grid), n_galaxies, replace=False)
    parameters = dict(generator_record(model).get("universe") or {})
    if parameters.get("seed") == universe_seed:
        raise SystemExit(f"--universe-seed {universe_seed} is the model's training seed")
    keys = ("mass_function", "redshift", "companion_fraction", "n_star_particles",
            "min_star_particles", "max_star_particles", "gas_particle_mass_ratio",
            "max_gas_cells")
    kwargs = {key: parameters[key] for key in keys if key in parameters}
    if "log_mass_range" in parameters:
        kwargs["mass_range"] = 10 ** np.asarray(parameters["log_mass_range"]) * u.Msun
    universe = Universe(universe_seed, **kwargs)
    placements = []
    for number, index in enumerate(chosen):
        x, y = grid[index] + rng.uniform(-20, 20, size=2)
        coord = r_frame.wcs.pixel_to_world(x, y)
        directions, _ = view_directions(rng, 4)
        placements.append(Placement(universe.particles(number), coord.ra, coord.dec,
                                    REDSHIFTS[number % len(REDSHIFTS)],
                                    direction=tuple(directions[2 + number % 2]),
                                    name=f"g{number:03d}"))
    frames_out = workdir / "frames"
    result = inject(frames_dir, placements, frames_out, image_size=model.image_size,
                    observing=training_observing(model), compress=True, overwrite=True,
                    seed=seed)
    truth_dir.mkdir(parents=True, exist_ok=True)
    catalog = QTable()
    catalog["id"] = [galaxy.placement.name for galaxy in result]
    catalog["ra"] = [galaxy.coord.ra.deg for galaxy in result] * u.deg
    catalog["dec"] = [galaxy.coord.dec.deg for galaxy in result] * u.deg
    catalog["z"] = [galaxy.redshift for galaxy in result]
    # the radius that makes each cutout (the model's field in half-light radii) cover its truth map
    n_half_light = model_field_in_half_light_radii(model)
    catalog["r_half"] = u.Quantity([galaxy.fov / n_half_light for galaxy in result]).to(u.kpc)
    x, _ = r_frame.wcs.world_to_pixel(SkyCoord(catalog["ra"], catalog["dec"]))
    catalog["crowded"] = x < CROWDED_BELOW
    catalog.write(catalog_path, overwrite=True)
    for galaxy in result:
        galaxy.truth.write(truth_dir / f"{galaxy.placement.name}.fits", overwrite=True)
    marker.write_text(json.dumps(settings))
    return catalog_path, truth_dir, time.perf_counter() - started


def accuracy(table, output, truth_dir, properties, k=2.0):
    """mu and sigma (dex) of log10(true / predicted) totals inside k R_half of the truth.

    Returns the summary per property (all, clean, crowded) and, per redshift,
    the stellar-mass summary and the median PSF the cutouts were matched to.
    """
    from picasso import PropertyMaps
    from picasso.analysis import aperture_totals, fit_geometry, log_residual, residual_statistics

    residuals = {name: [] for name in properties}
    where, redshifts, psfs = [], [], []
    for row in table:
        if row["status"] != "ok":
            continue
        truth = PropertyMaps.read(truth_dir / f"{row['id']}.fits")
        predicted = PropertyMaps.read(output / str(row["maps_file"]))
        geometry = fit_geometry(truth["stellar_mass"], pixel_scale=truth.pixel_scale)
        true_totals = aperture_totals(truth, geometry, k=k, properties=properties)
        predicted_totals = aperture_totals(predicted, geometry, k=k, properties=properties,
                                           mask=truth)
        for name in properties:
            residuals[name].append(float(log_residual(true_totals[name][0],
                                                      predicted_totals[name][0]).value))
        where.append(bool(row["crowded"]) if "crowded" in row.colnames else False)
        redshifts.append(float(row["z"]))
        psfs.append(float(row["psf_fwhm"].to_value(u.kpc)))
    summary = {}
    where = np.array(where, dtype=bool)
    for name in properties:
        values = np.asarray(residuals[name])
        entry = {}
        for label, pick in (("all", np.ones(values.size, bool)), ("clean", ~where),
                            ("crowded", where)):
            stats = residual_statistics(values[pick] * u.dex)
            entry[label] = {"n": int(stats["n"]), "mu": float(stats["mu"].value),
                            "median": float(stats["median"].value),
                            "sigma": float(stats["sigma"].value)}
        summary[name] = entry
    by_redshift = {}
    redshifts, psfs = np.asarray(redshifts), np.asarray(psfs)
    mass = np.asarray(residuals["stellar_mass"])
    for z in sorted(set(redshifts)):
        pick = redshifts == z
        stats = residual_statistics(mass[pick] * u.dex)
        by_redshift[f"{z:g}"] = {"n": int(stats["n"]), "mu": float(stats["mu"].value),
                                 "sigma": float(stats["sigma"].value),
                                 "psf_fwhm_kpc": float(np.median(psfs[pick]))}
    return summary, by_redshift


def warm_worker():
    """Import the catalogue code and load the model on a worker (what its first task would)."""
    import torch

    from picasso.studies.catalog import worker_model

    torch.set_num_threads(1)
    worker_model("default", 1)
    return True


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    from astropy.table import QTable, join
    from distributed import Client, LocalCluster

    from picasso.nn.loading import default_model
    from picasso.studies.catalog import run_catalog

    frames_dir = Path(args.frames) if args.frames else default_frames()
    if not (frames_dir.is_dir() and sorted(frames_dir.glob("frame-*.fits*"))):
        sys.exit(f"bench_catalog: no SDSS frames in {frames_dir}; give --frames DIR or set "
                 "PICASSO_SDSS_DATA")
    model = default_model()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}, Dask workers: {args.workers} (1 thread each, torch "
          f"{max(1, (os.cpu_count() or 1) // args.workers)} thread(s) each), torch "
          f"{torch.__version__}")
    print(f"model: {model!r}")
    # how fast this machine is right now: one real bz2 frame decompressed (README of the
    # data: about 1.1 s on this 2-core machine)
    reference = next(frames_dir.glob("frame-r-*.fits.bz2"), None)
    reference_cpu = None
    if reference is not None:
        from picasso.io.sdss import read_file_bytes

        start = time.process_time()
        read_file_bytes(reference)
        reference_cpu = time.process_time() - start
        print(f"reference: one real bz2 frame decompresses in {reference_cpu:.2f} CPU s here now; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    catalog_path, truth_dir, injection_seconds = inject_galaxies(
        frames_dir, workdir, model, args.galaxies, args.universe_seed, args.seed)
    if injection_seconds:
        print(f"injected {args.galaxies} galaxies in {injection_seconds:.0f} s (not timed below)")
    catalog = QTable.read(catalog_path)
    if args.measure_r_half:
        catalog.remove_column("r_half")
    output = workdir / "run"
    # the cluster a session starts once: worker processes, their imports and the model
    started = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    client = Client(cluster)
    client.run(warm_worker)
    startup = time.perf_counter() - started
    print(f"cluster start, worker imports and model load: {startup:.1f} s (once per session, "
          "not in the numbers below)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        result = run_catalog(catalog, output, frames=workdir / "frames", scheduler=client,
                             chunk_size=args.chunk_size, torch_threads=1, overwrite=True,
                             progress=False, figure=True)
        wall = time.perf_counter() - started
    client.close()
    cluster.close()
    table = result.table
    n = len(table)
    n_ok = result.n_ok
    timings = result.timings
    stages = ("decompress", "read", "r_half", "reproject", "psf_match", "background", "predict",
              "analysis", "write")
    cpu_total = sum(timings.get(stage, 0.0) for stage in stages)
    after_read = cpu_total - timings.get("read", 0.0) - timings.get("decompress", 0.0)
    print(f"\n{n} galaxies ({n_ok} ok, {n - n_ok} failed) in {wall:.1f} s wall: "
          f"{n / wall:.1f} galaxies/s (goal >= 10, stretch 20); frames -> table: lookup, "
          "decompression, cutouts, prediction, analysis, maps files, table and figure")
    print(f"{'stage':<12}{'CPU s total':>13}{'CPU s/galaxy':>14}")
    for stage in stages:
        seconds = timings.get(stage, 0.0)
        print(f"{stage:<12}{seconds:>13.2f}{seconds / max(n, 1):>14.4f}")
    print(f"{'all':<12}{cpu_total:>13.2f}{cpu_total / max(n, 1):>14.4f}")
    print(f"after the frames are read: {after_read / max(n, 1):.3f} CPU s per galaxy "
          f"(goal ~0.1): {args.workers / max(after_read / max(n, 1), 1e-9):.1f} galaxies/s on "
          f"{args.workers} dedicated cores once the field is read")
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.1f} (1 min) on {os.cpu_count()} cores: wall "
          "times are inflated by whatever else runs on the machine; CPU times much less")
    failures = {}
    for row in table[table["status"] == "failed"]:
        failures.setdefault(str(row["stage"]), []).append(f"{row['id']}: {row['error']}")
    for stage, lines in failures.items():
        print(f"failed at {stage}: {len(lines)}, e.g. {lines[0][:160]}")

    merged = join(table, catalog["id", "crowded"], keys="id")
    summary, by_redshift = accuracy(merged, output, truth_dir, tuple(model.properties))
    print("\naccuracy: log10(true / predicted) totals inside 2 R_half of the truth, per galaxy "
          "(mu / sigma, dex)")
    print(f"{'property':<20}{'all':>16}{'clean sky':>16}{'crowded (M2)':>16}")
    for name, entry in summary.items():
        print(f"{name:<20}" + "".join(
            f"{entry[label]['mu']:>+8.3f}/{entry[label]['sigma']:<7.3f}"
            for label in ("all", "clean", "crowded")))
    print("\nstellar mass inside 2 R_half by redshift, with the PSF the default matched to")
    print(f"{'z':>6}{'n':>5}{'mu / sigma (dex)':>20}{'PSF (kpc)':>12}")
    for z, entry in by_redshift.items():
        print(f"{z:>6}{entry['n']:>5}{entry['mu']:>+12.3f}/{entry['sigma']:<7.3f}"
              f"{entry['psf_fwhm_kpc']:>12.2f}")
    ood = np.asarray(table["ood_warning"][table["status"] == "ok"], dtype=bool)
    print(f"out-of-distribution warnings: {int(ood.sum())} of {ood.size}")
    done = merged[merged["status"] == "ok"]
    border = {label: int(np.sum(np.asarray(done["border_sky"][pick], dtype=float) > 1.0))
              for label, pick in (("clean", ~np.asarray(done["crowded"], dtype=bool)),
                                  ("crowded", np.asarray(done["crowded"], dtype=bool)))}
    print(f"border sky above the per-pixel noise: {border['clean']} clean, "
          f"{border['crowded']} crowded")
    by_z = {}
    for z in REDSHIFTS:
        pick = np.isclose(np.asarray(merged["z"], dtype=float), z) & (merged["status"] == "ok")
        by_z[z] = int(pick.sum())
    report = {
        "benchmark": "catalog",
        "command": " ".join(sys.argv),
        "galaxies": n,
        "ok": n_ok,
        "wall_s": wall,
        "startup_s": startup,
        "galaxies_per_s": n / wall,
        "cpu_s": {stage: timings.get(stage, 0.0) for stage in stages},
        "cpu_s_per_galaxy_after_read": after_read / max(n, 1),
        "load_average_1min": os.getloadavg()[0],
        "reference_decompress_cpu_s": reference_cpu,
        "workers": args.workers,
        "chunk_size": args.chunk_size,
        "measure_r_half": args.measure_r_half,
        "redshifts": REDSHIFTS,
        "ok_per_redshift": {str(k): v for k, v in by_z.items()},
        "accuracy_2rhalf": summary,
        "stellar_mass_2rhalf_by_redshift": by_redshift,
        "ood_warned": int(ood.sum()),
        "border_sky_above_noise": border,
        "model": repr(model),
        "cores": os.cpu_count(),
        "machine": platform.platform(),
    }
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    from picasso.utils.atomic import atomic_path

    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    print(f"wrote {path} and {result.figure_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
