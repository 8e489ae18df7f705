"""
Benchmark and self-check of picasso's synthetic universe.

Speed: (image, truth) pairs per second on one core at N x N with all seven
maps (process CPU time, so that other load on a shared machine counts less),
split into galaxy generation, view-independent preparation (SSP fluxes,
16-neighbour radii) and per-view rendering.

Build: the same work as a worker of ``picasso simulate`` / `build_dataset`
(`picasso.mock.build.galaxy_pairs`), profiled by stage (particle drawing, SSP
lookup, adaptive smoothing lengths, dust, the image's particles, noise and
rebinning, the truth maps' kernel deposition, and the rest: projection,
cutout and map objects, log10 and totals), then the writer's cost per pair
(CPU time and bytes) for each HDF5 compression, which the build pays in its
parent process. ``--build-processes`` turns the CPU times into the build rate
of that many worker processes on as many otherwise idle cores.

Realism: the population's integrated quantities beside the published relations
and the ranges of the paper's Fig. 4; integrated observed colours (u - r
bimodality at 2.22, Strateva et al. 2001), colour mass-to-light relations
(Bell et al. 2003; Taylor et al. 2011), size-mass (Shen et al. 2003), the main
sequence (Speagle et al. 2014, bending to Renzini & Peng 2015 at low mass) and
the empty-pixel fractions of the truth maps (paper: ~25% of pixels carry
stellar truth, ~5% gas, <1% SFR).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_mock.py --galaxies 300 --render-galaxies 20

and for the build profile alone (seconds)::

    python benchmarks/bench_mock.py --build-only --build-galaxies 8
"""

import argparse
import functools
import json
import os
import platform
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import astropy.units as u  # noqa: E402
import matplotlib  # noqa: E402
import numpy as np  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from picasso.io.dataset import DatasetWriter  # noqa: E402
from picasso.mock import build as mock_build  # noqa: E402
from picasso.mock import relations  # noqa: E402
from picasso.mock import universe as uni  # noqa: E402
from picasso.mock.observe import ObservingConfig, observe, prepare  # noqa: E402
from picasso.mock.observe import galaxy as observe_galaxy  # noqa: E402
from picasso.mock.observe import render as observe_render  # noqa: E402
from picasso.mock.observe import truth as observe_truth  # noqa: E402
from picasso.mock.populations import stellar_fluxes  # noqa: E402
from picasso.properties import PROPERTIES  # noqa: E402
from picasso.utils.atomic import atomic_path  # noqa: E402

#: The paper's Fig. 4 ranges (totals inside 2 R_half, log10 Msun or Msun/yr).
PAPER_FIG4 = {
    "stellar_mass": (9.5, 12.0),
    "stellar_metal_mass": (7.5, 10.5),
    "sfr": (-2.0, 1.0),
    "gas_mass": (8.0, 11.0),
    "gas_metal_mass": (7.0, 9.0),
    "hi_mass": (7.5, 10.5),
}
PAPER_FILLED = {"stellar_mass": 0.25, "gas_mass": 0.05, "sfr": 0.01}
#: Absolute AB magnitudes of the Sun in SDSS r and i (Willmer 2018). Colours and M/L here are
#: observed-frame at the universe's redshift (no k-correction; ~0.05 mag in g - r at z = 0.05).
SUN_ABS_MAG_R = 4.65
SUN_ABS_MAG_I = 4.53


def _magnitudes(flux):
    return 22.5 - 2.5 * np.log10(np.maximum(flux, 1e-30))


def population(universe, n_galaxies):
    """Integrated properties and observed colours of the first ``n_galaxies``."""
    rows = []
    distance_modulus = universe.cosmology.distmod(universe.redshift).value
    for index in range(n_galaxies):
        props = universe.properties(index)
        galaxy = universe.particles(index, properties=props)
        n_main = galaxy.meta["n_main_stars"]
        main = galaxy.stars[:n_main]
        flux = stellar_fluxes(main).to_value(u.nanomaggy).sum(axis=0)
        mags = _magnitudes(flux)
        mass = main.mass_value.sum()
        rows.append(
            {
                "log_stellar_mass": np.log10(mass),
                "quenched": props.quenched,
                "early_type": props.early_type,
                "log_sfr": np.log10(max(galaxy.total_sfr.value, 1e-6)),
                "log_gas_mass": np.log10(galaxy.total_gas_mass.value),
                "log_hi_mass": np.log10(max(galaxy.total_hi_mass.value, 1.0)),
                "log_stellar_metal_mass": np.log10(galaxy.total_stellar_metal_mass.value),
                "log_gas_metal_mass": np.log10(max(galaxy.total_gas_metal_mass.value, 1.0)),
                "age": float(galaxy.mass_weighted_age.value),
                "r_half": float(galaxy.stellar_half_mass_radius().value)
                if n_main == len(galaxy.stars)
                else float(np.nan),
                "u_r": mags[0] - mags[2],
                "g_r": mags[1] - mags[2],
                "g_i": mags[1] - mags[3],
                "u_g": mags[0] - mags[1],
                "r_i": mags[2] - mags[3],
                "i_z": mags[3] - mags[4],
                "abs_r": mags[2] - distance_modulus,
                "log_ml_r": np.log10(mass) + 0.4 * (mags[2] - distance_modulus - SUN_ABS_MAG_R),
                "log_ml_i": np.log10(mass) + 0.4 * (mags[3] - distance_modulus - SUN_ABS_MAG_I),
                "kennicutt_ratio": galaxy.meta.get("kennicutt_normalisation_ratio") or np.nan,
            }
        )
    return {key: np.array([row[key] for row in rows], dtype=float) for key in rows[0]}


def render(universe, config, n_galaxies, views):
    """Time rendering, and collect empty-pixel fractions and totals inside 2 R_half."""
    from picasso.mock.observe import observe_views  # noqa: F401  (same path as the build)

    t_generate = t_prepare = t_render = 0.0
    filled = {name: [] for name in PROPERTIES.names}
    totals = {name: [] for name in PROPERTIES.names}
    examples = []
    for index in range(n_galaxies):
        start = time.process_time()
        galaxy = universe.particles(index)
        t_generate += time.process_time() - start
        start = time.process_time()
        prepared = prepare(galaxy, config)
        t_prepare += time.process_time() - start
        directions, _ = uni.view_directions(np.random.default_rng(index), views)
        for view, direction in enumerate(directions):
            start = time.process_time()
            cutout, truth = observe(
                prepared,
                config,
                seed=index * 10 + view,
                direction=direction,
                up=np.random.default_rng(view).normal(size=3),
                view=view,
            )
            t_render += time.process_time() - start
            n = config.image_size
            y, x = np.mgrid[:n, :n] - (n - 1) / 2
            inside = np.hypot(x, y) * truth.pixel_scale.value <= 2 * truth.r_half.value.value
            for name in PROPERTIES.names:
                filled[name].append(float((~truth.empty(name)).mean()))
                if PROPERTIES[name].is_extensive:
                    totals[name].append(float(truth.total(name, mask=~inside).value))
            if view == 2 and len(examples) < 8:
                examples.append((cutout, truth))
    n_views = n_galaxies * views
    timing = {
        "galaxies": n_galaxies,
        "views": views,
        "image_size": config.image_size,
        "generate_s_per_galaxy": t_generate / n_galaxies,
        "prepare_s_per_galaxy": t_prepare / n_galaxies,
        "render_s_per_view": t_render / n_views,
    }
    per_galaxy = (
        timing["generate_s_per_galaxy"]
        + timing["prepare_s_per_galaxy"]
        + views * timing["render_s_per_view"]
    )
    timing["pairs_per_second"] = views / per_galaxy
    timing["galaxies_per_second"] = 1.0 / per_galaxy
    return timing, filled, totals, examples


#: Stages of a build worker's work: (label, module, attribute); later ones nest in earlier.
BUILD_STAGES = (
    ("generate", uni.Universe, "particles"),
    ("ssp_lookup", observe_galaxy, "stellar_fluxes"),
    ("smoothing_lengths", observe_galaxy, "smoothing_lengths"),
    ("dust", observe_galaxy, "attenuation"),
    ("image", observe_galaxy, "render_image"),
    ("image_particles", observe_render, "render_particles"),
    ("truth", observe_galaxy, "truth_planes"),
    ("truth_kernels", observe_truth, "render_particles"),
)
#: Storage a `DatasetWriter` offers: (name, compression, shuffle); the build's is ``"lzf"``.
WRITERS = (("None", None, False), ("lzf", "lzf", True), ("gzip", "gzip", True),
           ("lzf-no-shuffle", "lzf", False))


@contextmanager
def stage_clock(stages=BUILD_STAGES):
    """
    CPU seconds spent in each stage's function while the block runs.

    The functions are wrapped where the code looks them up, and restored afterwards.
    """
    spent = dict.fromkeys([label for label, _, _ in stages], 0.0)
    saved = []
    for label, owner, name in stages:
        function = getattr(owner, name)
        saved.append((owner, name, function))

        def timed(*args, _function=function, _label=label, **kwargs):
            start = time.process_time()
            try:
                return _function(*args, **kwargs)
            finally:
                spent[_label] += time.process_time() - start

        setattr(owner, name, functools.wraps(function)(timed))
    try:
        yield spent
    finally:
        for owner, name, function in saved:
            setattr(owner, name, function)


def build_profile(universe, config, n_galaxies, views, processes):
    """CPU time of a build worker by stage, and of the writer by compression, per galaxy."""
    all_pairs = []
    # warm-up (the SSP table, the FFT plans), not timed
    mock_build.galaxy_pairs(universe, n_galaxies, config, views)
    with stage_clock() as spent:
        start = time.process_time()
        for index in range(n_galaxies):
            all_pairs.append(mock_build.galaxy_pairs(universe, index, config, views))
        total = (time.process_time() - start) / n_galaxies
    stages = {label: seconds / n_galaxies for label, seconds in spent.items()}
    # exclusive times: the image's and truth's particles are inside them
    stages["image"] -= stages["image_particles"]
    stages["truth"] -= stages["truth_kernels"]
    stages["other"] = total - sum(stages.values())
    writes = {}
    with tempfile.TemporaryDirectory() as directory:
        for name, compression, shuffle in WRITERS:
            path = Path(directory) / f"{name}.h5"
            start = time.process_time()
            with DatasetWriter(path, image_size=config.image_size, bands=config.bands,
                               compression=compression, shuffle=shuffle) as writer:
                for pairs in all_pairs:
                    for image, truth_log10, row in pairs:
                        writer.append_arrays(image, truth_log10, row)
            seconds = (time.process_time() - start) / n_galaxies
            writes[name] = {
                "cpu_s_per_galaxy": seconds,
                "cpu_s_per_pair": seconds / views,
                "mb_per_pair": path.stat().st_size / 1e6 / (n_galaxies * views),
            }
    rates = {
        name: processes / (total + write["cpu_s_per_galaxy"]) for name, write in writes.items()
    }
    return {
        "galaxies": n_galaxies,
        "views": views,
        "image_size": config.image_size,
        "worker_cpu_s_per_galaxy": total,
        "stages_cpu_s_per_galaxy": stages,
        "write": writes,
        "processes": processes,
        "galaxies_per_second_estimate": rates,
        "note": f"rate = {processes} / (worker CPU + writer CPU) per galaxy: {processes} "
                "processes on as many idle cores, the writer's CPU shared among them",
    }


#: Modules of a build worker's observation path that ``--compare-with`` reads from the commit.
REFERENCE_MODULES = ("picasso.mock.observe.grid", "picasso.mock.observe.render",
                     "picasso.mock.observe.truth", "picasso.mock.observe.galaxy",
                     "picasso.mock.build")


def _load_source(commit, name):
    """Module ``name`` as it was at ``commit`` (read with ``git show``), under a private name."""
    import importlib.util
    import subprocess
    import sys

    path = name.replace(".", "/") + ".py"
    source = subprocess.run(
        ["git", "show", f"{commit}:{path}"], check=True, capture_output=True, text=True,
        cwd=Path(__file__).resolve().parent,
    ).stdout
    package, _, short = name.rpartition(".")
    module_name = f"{package}._reference_{short}"
    spec = importlib.util.spec_from_loader(module_name, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = package
    sys.modules[module_name] = module
    exec(compile(source, f"{commit}:{path}", "exec"), module.__dict__)
    return module


def reference_pipeline(commit):
    """
    ``commit``'s `~picasso.mock.build.galaxy_pairs` with that commit's observation path.

    Its renderer, grids, truth maps, galaxy observation and build worker (`REFERENCE_MODULES`,
    read with ``git show``) call each other; the universe, populations, dust and observing
    set-up are this tree's, so both sides observe the same galaxies.
    """
    loaded = {name: _load_source(commit, name) for name in REFERENCE_MODULES}
    # every name a reference module imported from a current one points to the reference's
    for module in loaded.values():
        for attribute, value in list(vars(module).items()):
            origin = loaded.get(getattr(value, "__module__", None))
            if origin is not None and hasattr(origin, attribute):
                setattr(module, attribute, getattr(origin, attribute))
    observe = loaded["picasso.mock.observe.galaxy"]
    loaded["picasso.mock.build"].observe_views = observe.observe_views
    return loaded["picasso.mock.build"].galaxy_pairs


def compare_with(commit, universe, config, n_galaxies, views, repeats):
    """CPU time per galaxy of this build worker and ``commit``'s, interleaved; their agreement."""
    workers = {"current": mock_build.galaxy_pairs, commit: reference_pipeline(commit)}
    best = dict.fromkeys(workers, float("inf"))
    pairs = {}
    for _ in range(repeats):
        for name, galaxy_pairs in workers.items():
            start = time.process_time()
            pairs[name] = [galaxy_pairs(universe, index, config, views)
                           for index in range(n_galaxies)]
            best[name] = min(best[name], (time.process_time() - start) / n_galaxies)
    image_error = truth_error = 0.0
    for new, old in zip(sum(pairs["current"], []), sum(pairs[commit], [])):
        scale = np.abs(old[0]).max(axis=(1, 2), keepdims=True)
        image_error = max(image_error, float((np.abs(new[0] - old[0]) / scale).max()))
        for plane_new, plane_old, name in zip(new[1], old[1], PROPERTIES.names):
            if not PROPERTIES[name].is_extensive:
                continue
            linear = np.where(plane_old > -50, 10.0**plane_old, 0.0)
            solid = (linear > 1e-5 * linear.max()) & (plane_new > -50)
            if solid.any():
                difference = np.abs(plane_new[solid] - plane_old[solid]).max()
                truth_error = max(truth_error, float(difference))
    return {
        "commit": commit,
        "compared": "the build worker (galaxy_pairs) with the commit's " + ", ".join(
            name.rpartition(".")[2] for name in REFERENCE_MODULES) + "; this tree's universe",
        "cpu_s_per_galaxy": best,
        "speedup": best[commit] / best["current"],
        "image_max_difference_over_plane_max": image_error,
        "truth_max_log10_difference_above_1e-5_of_max": truth_error,
    }


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def print_build(build, preset):
    print(
        f"build profile ({preset}, {build['image_size']} x {build['image_size']}, "
        f"{build['views']} views, {build['galaxies']} galaxies; CPU ms per galaxy)"
    )
    for label, seconds in build["stages_cpu_s_per_galaxy"].items():
        share = seconds / build["worker_cpu_s_per_galaxy"]
        print(f"  {label:18s} {seconds * 1e3:8.1f}  {100 * share:5.1f}%")
    print(f"  {'worker total':18s} {build['worker_cpu_s_per_galaxy'] * 1e3:8.1f}")
    print(f"  {'writer':24s} {'ms/pair':>8s} {'MB/pair':>8s} {'galaxies/s':>11s}")
    for name, write in build["write"].items():
        print(
            f"  {'compression ' + name:24s} {write['cpu_s_per_pair'] * 1e3:8.1f} "
            f"{write['mb_per_pair']:8.2f} {build['galaxies_per_second_estimate'][name]:11.2f}"
        )
    print(f"  ({build['note']})")
    comparison = build.get("comparison")
    if comparison:
        times = comparison["cpu_s_per_galaxy"]
        print(
            f"  against {comparison['commit']}'s build worker, interleaved: "
            f"{times[comparison['commit']] * 1e3:.0f} -> {times['current'] * 1e3:.0f} ms per "
            f"galaxy ({comparison['speedup']:.2f}x); images agree to "
            f"{comparison['image_max_difference_over_plane_max']:.1e} of a plane's maximum, "
            f"truth maps to {comparison['truth_max_log10_difference_above_1e-5_of_max']:.1e} "
            "dex above 1e-5 of their maximum"
        )


def _fit(x, y):
    good = np.isfinite(x) & np.isfinite(y)
    slope, intercept = np.polyfit(x[good], y[good], 1)
    scatter = float(np.std(y[good] - (slope * x[good] + intercept)))
    return float(slope), float(intercept), scatter


def summarise(pop, filled, totals, universe):
    """Numbers beside the published ones."""
    summary = {}
    m = pop["log_stellar_mass"]
    summary["n_galaxies"] = int(m.size)
    summary["quenched_fraction"] = float(np.mean(pop["quenched"]))
    summary["u_r_red_fraction"] = float(np.mean(pop["u_r"] > 2.22))
    slope, intercept, scatter = _fit(pop["g_r"], pop["log_ml_r"])
    summary["ml_r_vs_g_r"] = {
        "slope": slope,
        "intercept": intercept,
        "scatter_dex": scatter,
        "bell2003_chabrier": {"slope": 1.097, "intercept": -0.306 - 0.093},
    }
    slope, intercept, scatter = _fit(pop["g_i"], pop["log_ml_i"])
    summary["ml_i_vs_g_i"] = {
        "slope": slope,
        "intercept": intercept,
        "scatter_dex": scatter,
        "taylor2011": {"slope": 0.70, "intercept": -0.68, "scatter_dex": 0.1},
    }
    red = pop["u_r"] > 2.22
    summary["g_r_red_sequence_median"] = float(np.median(pop["g_r"][red])) if red.any() else None
    summary["g_r_blue_cloud_median"] = float(np.median(pop["g_r"][~red])) if (~red).any() else None
    # the relations hold at the mass observers assign a galaxy, which the universe draws at
    observed = m - universe.mass_scale_offset
    summary["mass_scale_offset"] = universe.mass_scale_offset
    ms = relations.bending_main_sequence(observed, universe.age_of_universe)
    sf = ~pop["quenched"].astype(bool)
    ssfr_offset = (pop["log_sfr"] - m) - (ms - observed)
    summary["main_sequence_offset_sf"] = {
        "median": float(np.median(ssfr_offset[sf])),
        "std": float(np.std(ssfr_offset[sf])),
    }
    shen, _ = relations.shen2003_size(observed, pop["early_type"].astype(bool))
    good = np.isfinite(pop["r_half"])
    summary["size_over_shen2003_median"] = float(np.median(pop["r_half"][good] / shen[good]))
    in_bin = (observed > 10) & (observed < 10.5)
    summary["hi_fraction_median_at_10_10.5"] = (
        float(np.median((pop["log_hi_mass"] - observed)[in_bin])) if np.any(in_bin) else None
    )
    summary["kennicutt_normalisation_ratio_median"] = float(np.nanmedian(pop["kennicutt_ratio"]))
    ranges = {}
    for name in PAPER_FIG4:
        values = np.log10(np.maximum(np.array(totals[name]), 1e-6))
        ranges[name] = {
            "p05": float(np.percentile(values, 5)),
            "median": float(np.median(values)),
            "p95": float(np.percentile(values, 95)),
            "paper_fig4": PAPER_FIG4[name],
        }
    summary["totals_within_2_r_half"] = ranges
    summary["filled_pixel_fraction"] = {
        name: {"mean": float(np.mean(filled[name])), "paper": PAPER_FILLED.get(name)}
        for name in ("stellar_mass", "gas_mass", "sfr", "hi_mass")
    }
    return summary


def plot(pop, totals, examples, universe, path):
    """The population's self-check figure."""
    fig = plt.figure(figsize=(20, 15))
    grid = fig.add_gridspec(4, 6)
    m = pop["log_stellar_mass"]
    # sizes and SFRs against the relations at the mass observers assign a galaxy
    offset = universe.mass_scale_offset
    observed = m - offset
    quenched = pop["quenched"].astype(bool)
    colour = np.where(quenched, "tab:red", "tab:blue")

    ax = fig.add_subplot(grid[0, 0])
    ax.hist(pop["u_r"], bins=30, color="grey")
    ax.axvline(2.22, color="k", ls="--", label="Strateva+01 split")
    ax.set_xlabel("u - r (observed, z=0.05)")
    ax.legend(fontsize=7)

    ax = fig.add_subplot(grid[0, 1])
    ax.scatter(pop["abs_r"], pop["g_r"], c=colour, s=6)
    ax.axhspan(0.75, 0.8, color="tab:red", alpha=0.2, label="red sequence g-r")
    ax.axhspan(0.4, 0.5, color="tab:blue", alpha=0.2, label="blue cloud g-r")
    ax.set_xlabel("M_r (AB)")
    ax.set_ylabel("g - r")
    ax.invert_xaxis()
    ax.legend(fontsize=7)

    ax = fig.add_subplot(grid[0, 2])
    ax.scatter(pop["g_r"], pop["log_ml_r"], c=colour, s=6)
    x = np.linspace(0.1, 1.1, 10)
    ax.plot(x, -0.306 - 0.093 + 1.097 * x, "k--", label="Bell+03 (Chabrier)")
    ax.set_xlabel("g - r")
    ax.set_ylabel("log M*/L_r")
    ax.legend(fontsize=7)

    ax = fig.add_subplot(grid[0, 3])
    ax.scatter(pop["g_i"], pop["log_ml_i"], c=colour, s=6)
    x = np.linspace(0.2, 1.6, 10)
    ax.plot(x, -0.68 + 0.70 * x, "k--", label="Taylor+11")
    ax.set_xlabel("g - i")
    ax.set_ylabel("log M*/L_i")
    ax.legend(fontsize=7)

    ax = fig.add_subplot(grid[0, 4])
    ax.scatter(observed, np.log10(pop["r_half"]), c=colour, s=6)
    grid_m = np.linspace(9.5, 12, 20) - offset
    for early, style in ((False, "b--"), (True, "r--")):
        r, _ = relations.shen2003_size(grid_m, early)
        ax.plot(grid_m, np.log10(r), style, label=f"Shen+03 {'early' if early else 'late'} (R50,r)")
    ax.set_xlabel(f"log M* - {offset:g} (observers' scale)")
    ax.set_ylabel("log R_half,proj (kpc)")
    ax.legend(fontsize=7)

    ax = fig.add_subplot(grid[0, 5])
    ax.scatter(observed, pop["log_sfr"] - offset, c=colour, s=6)
    ax.plot(
        grid_m,
        relations.bending_main_sequence(grid_m, universe.age_of_universe),
        "k--",
        label="Speagle+14 / Renzini & Peng 15",
    )
    ax.set_xlabel(f"log M* - {offset:g} (observers' scale)")
    ax.set_ylabel(f"log SFR - {offset:g} (the same specific SFR)")
    ax.legend(fontsize=7)

    ax = fig.add_subplot(grid[1, 0])
    ax.scatter(observed, pop["log_hi_mass"] - observed, c=colour, s=6)
    ax.set_xlabel(f"log M* - {offset:g} (observers' scale)")
    ax.set_ylabel(f"log M_HI / M* + {offset:g}")
    ax = fig.add_subplot(grid[1, 1])
    ax.scatter(observed, np.log10(10 ** pop["log_stellar_metal_mass"] / 10**m / 0.02), c=colour,
               s=6)
    table = relations.GALLAZZI2005
    ax.plot(table[:, 0], table[:, 2], "k-", label="Gallazzi+05")
    ax.plot(table[:, 0], table[:, 1], "k:")
    ax.plot(table[:, 0], table[:, 3], "k:")
    ax.set_xlabel(f"log M* - {offset:g} (observers' scale)")
    ax.set_ylabel("log Z*/Zsun (mass-weighted)")
    ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[1, 2])
    ax.scatter(pop["age"], pop["g_r"], c=colour, s=6)
    ax.set_xlabel("mass-weighted age (Gyr)")
    ax.set_ylabel("g - r")

    for k, name in enumerate(("stellar_mass", "stellar_metal_mass", "sfr")):
        ax = fig.add_subplot(grid[1, 3 + k])
        values = np.log10(np.maximum(np.array(totals[name]), 1e-4))
        ax.hist(values, bins=25, color="tab:blue")
        ax.axvspan(*PAPER_FIG4[name], color="grey", alpha=0.2, label="paper Fig. 4 range")
        ax.set_xlabel(f"log {name} (<2 R_half)")
        ax.legend(fontsize=7)
    for k, name in enumerate(("gas_mass", "gas_metal_mass", "hi_mass")):
        ax = fig.add_subplot(grid[2, k])
        values = np.log10(np.maximum(np.array(totals[name]), 1e-4))
        ax.hist(values, bins=25, color="tab:green")
        ax.axvspan(*PAPER_FIG4[name], color="grey", alpha=0.2, label="paper Fig. 4 range")
        ax.set_xlabel(f"log {name} (<2 R_half)")
        ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[2, 3])
    ax.scatter(pop["u_g"], pop["g_r"], c=colour, s=6)
    ax.set_xlabel("u - g")
    ax.set_ylabel("g - r")
    ax = fig.add_subplot(grid[2, 4])
    ax.scatter(pop["g_r"], pop["r_i"], c=colour, s=6)
    ax.set_xlabel("g - r")
    ax.set_ylabel("r - i")
    ax = fig.add_subplot(grid[2, 5])
    ax.hist(m, bins=25, color="grey")
    ax.set_xlabel("log M* (drawn)")
    for k, (cutout, truth) in enumerate(examples[:6]):
        ax = fig.add_subplot(grid[3, k])
        ax.imshow(cutout.rgb(), origin="lower")
        ax.set_title(
            f"galaxy {truth.meta.get('galaxy_id')}, R_half {truth.r_half.value.value:.1f} kpc",
            fontsize=8,
        )
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument(
        "--galaxies", type=int, default=300, help="galaxies in the population summary"
    )
    parser.add_argument(
        "--render-galaxies", type=int, default=20, help="galaxies rendered for timing"
    )
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", choices=("paper", "sdss"), default="paper")
    parser.add_argument("--mass-function", choices=("flat", "baldry2012"), default="flat")
    parser.add_argument("--output", default="benchmarks/results/mock.json")
    parser.add_argument("--build-galaxies", type=int, default=8,
                        help="galaxies of the build profile (0: skip it)")
    parser.add_argument("--build-processes", type=int, default=2,
                        help="worker processes the build rate is quoted for")
    parser.add_argument("--build-only", action="store_true",
                        help="only the build profile (the build section of <output>; its "
                             "other sections are kept)")
    parser.add_argument("--compare-with", metavar="COMMIT",
                        help="also time the build worker (observation path) of this git commit "
                             "against the current one, interleaved, on the build profile's "
                             "galaxies")
    parser.add_argument("--compare-repeats", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
        threads = torch.get_num_threads()
    except ImportError:
        threads = None
    universe = uni.Universe(seed=args.seed, mass_function=args.mass_function)
    config = ObservingConfig.preset(args.preset, image_size=args.size)
    load = os.getloadavg()
    build = None
    if args.build_galaxies:
        build = build_profile(universe, config, args.build_galaxies, args.views,
                              args.build_processes)
        if args.compare_with:
            build["comparison"] = compare_with(args.compare_with, universe, config,
                                               args.build_galaxies, args.views,
                                               args.compare_repeats)
        build.update(load_average=[load, os.getloadavg()], preset=args.preset,
                     machine=platform.node(), cpu=_cpu_name())
        print_build(build, args.preset)
        print(f"  load average {load[0]:.2f} -> {os.getloadavg()[0]:.2f} on {os.cpu_count()} "
              "cores (CPU time counts this process only, but a shared core runs slower)\n")
    if args.build_only:
        # the build section of the results, the population's and rendering's kept
        output = Path(args.output)
        result = json.loads(output.read_text()) if output.exists() else {}
        result.update(build=build, build_args=vars(args))
        output.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(output, overwrite=True) as tmp:
            tmp.write_text(json.dumps(result, indent=2, default=float))
        print(f"wrote the build section of {output}")
        return
    timing, filled, totals, examples = render(universe, config, args.render_galaxies, args.views)
    pop = population(universe, args.galaxies)
    summary = summarise(pop, filled, totals, universe)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    png = output.with_suffix(".png")
    plot(pop, totals, examples, universe, png)

    print(
        f"picasso mock benchmark  (torch threads: {threads}, OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS')}, {platform.processor() or platform.machine()})"
    )
    print(
        f"preset {args.preset}, {args.size} x {args.size}, {args.views} views, "
        f"{args.render_galaxies} galaxies rendered"
    )
    print(f"  generate  {timing['generate_s_per_galaxy'] * 1e3:8.1f} ms / galaxy")
    print(f"  prepare   {timing['prepare_s_per_galaxy'] * 1e3:8.1f} ms / galaxy")
    print(f"  render    {timing['render_s_per_view'] * 1e3:8.1f} ms / view (image + 7 maps)")
    print(
        f"  => {timing['pairs_per_second']:.2f} pairs/s/core, "
        f"{timing['galaxies_per_second']:.2f} galaxies (x{args.views} views)/s/core  "
        "(goal: 20 pairs/s)"
    )
    print()
    print(f"population of {summary['n_galaxies']} galaxies ({args.mass_function} in log M*); "
          f"relations at the observers' mass, M* / 10^{summary['mass_scale_offset']:g}")
    print(f"{'check':44s} {'picasso':>22s}   published")
    ml = summary["ml_r_vs_g_r"]
    print(
        f"{'log M/L_r vs g-r: slope, intercept':44s} {ml['slope']:10.2f} {ml['intercept']:10.2f}   "
        "1.097, -0.399 (Bell+03, Chabrier; rest frame)"
    )
    print(f"{'  scatter (dex)':44s} {ml['scatter_dex']:21.3f}   ~0.1 (Bell+03; Taylor+11)")
    ml = summary["ml_i_vs_g_i"]
    print(
        f"{'log M/L_i vs g-i: slope, intercept':44s} {ml['slope']:10.2f} {ml['intercept']:10.2f}   "
        "0.70, -0.68 (Taylor+11)"
    )
    print(f"{'  scatter (dex)':44s} {ml['scatter_dex']:21.3f}   ~0.1")
    print(
        f"{'fraction with u-r > 2.22':44s} {summary['u_r_red_fraction']:21.2f}   "
        f"quenched fraction drawn {summary['quenched_fraction']:.2f}"
    )
    print(
        f"{'g-r median: red / blue':44s} {summary['g_r_red_sequence_median'] or np.nan:10.2f} "
        f"{summary['g_r_blue_cloud_median'] or np.nan:10.2f}   ~0.75-0.8 / ~0.4-0.5"
    )
    ms = summary["main_sequence_offset_sf"]
    print(
        f"{'SF sSFR offset from the main sequence: median, std':44s} {ms['median']:10.2f} "
        f"{ms['std']:10.2f}   0, 0.2-0.3"
    )
    print(
        f"{'R_half,proj / Shen+03 R50 (median)':44s} "
        f"{summary['size_over_shen2003_median']:21.2f}   "
        "~0.8 (mass vs light)"
    )
    print(
        f"{'log M_HI/M*(obs) at 10^10-10^10.5 (median)':44s} "
        f"{summary['hi_fraction_median_at_10_10.5'] or np.nan:21.2f}   ~-0.7 to -1 (GASS, approx.)"
    )
    print(
        f"{'KS normalisation ratio (median)':44s} "
        f"{summary['kennicutt_normalisation_ratio_median']:21.2f}   1 = Kennicutt (1998)"
    )
    print()
    print(
        f"{'total inside 2 R_half (log10)':24s} {'p05':>7s} {'median':>7s} {'p95':>7s}   "
        "paper Fig. 4"
    )
    for name, values in summary["totals_within_2_r_half"].items():
        low, high = values["paper_fig4"]
        print(
            f"{name:24s} {values['p05']:7.2f} {values['median']:7.2f} {values['p95']:7.2f}   "
            f"{low} - {high}"
        )
    print()
    print(f"{'non-empty pixel fraction':24s} {'picasso':>8s}   paper")
    for name, values in summary["filled_pixel_fraction"].items():
        paper = values["paper"]
        print(f"{name:24s} {values['mean']:8.3f}   {paper if paper is not None else '-'}")
    result = {
        "timing": timing,
        "build": build,
        "load_average": [load, os.getloadavg()],
        "summary": summary,
        "torch_threads": threads,
        "args": vars(args),
        "png": str(png),
    }
    with atomic_path(output, overwrite=True) as tmp:
        tmp.write_text(json.dumps(result, indent=2, default=float))
    print(f"\nwrote {output} and {png}")


if __name__ == "__main__":
    main()
