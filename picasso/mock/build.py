"""
Build HDF5 pair datasets from the synthetic universe, in parallel and resumably.

Galaxy ``i`` of a build with seed ``s`` is always the same galaxy seen from the
same four cameras with the same noise: its particles come from
``Universe(seed=s).particles(i)`` and its views from the third child of its
`numpy.random.SeedSequence`. Galaxies are rendered by a pool of worker
processes and written in index order, so a build that was killed and resumed
(``resume=True``) writes the same pairs as one that ran straight through.
"""

import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor

import astropy.units as u
import numpy as np

from ..io.dataset import DatasetWriter
from ..properties import PROPERTIES
from .observe import ObservingConfig, observe_views
from .universe import Universe

__all__ = ["build_dataset", "galaxy_pairs", "VIEW_STREAM"]

log = logging.getLogger(__name__)

#: Child of a galaxy's seed sequence that seeds its views (0: properties, 1: particles).
VIEW_STREAM = 2

#: Scalar galaxy properties copied into the dataset table (prefixed ``galaxy_``).
_PROPERTY_COLUMNS = (
    "log_stellar_mass",
    "log_sfr",
    "quenched",
    "early_type",
    "half_mass_radius",
    "bulge_fraction",
    "bar_fraction",
    "n_arms",
    "n_clumps",
    "log_stellar_metallicity",
    "oxygen_abundance",
    "log_hi_mass",
    "log_h2_mass",
    "has_companion",
    "merger",
)


def _galaxy_seed(universe, index):
    """A 63-bit integer that identifies galaxy ``index``'s random stream (for the table)."""
    state = universe.seed_sequence(index).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def galaxy_pairs(universe, index, config, views=4):
    """
    All views of one galaxy as arrays ready for a `~picasso.io.dataset.DatasetWriter`.

    Parameters
    ----------
    universe : `~picasso.mock.universe.Universe`
    index : int
        Galaxy index.
    config : `~picasso.mock.observe.ObservingConfig`
    views : int

    Returns
    -------
    pairs : list of (image, truth_log10, row)
        ``image`` float32 (bands, N, N) in nanomaggy, ``truth_log10`` float32
        (properties, N, N) with -100 in empty pixels, and the table row.
    """
    particles = universe.particles(index)
    sequence = universe.seed_sequence(index).spawn(VIEW_STREAM + 1)[VIEW_STREAM]
    summary = particles.meta["properties"]
    seed = _galaxy_seed(universe, index)
    pairs = []
    for view, (cutout, truth) in enumerate(
        observe_views(particles, config, seed=sequence, views=views)
    ):
        row = {
            "galaxy_id": int(index),
            "view": int(view),
            "pixel_scale_kpc": truth.pixel_scale,
            "redshift": float(config.redshift),
            "r_half_kpc": truth.meta["r_half"].to(u.kpc),
            "seed": seed,
            "r_half_3d_kpc": truth.meta["r_half_3d"].to(u.kpc),
            "fov_kpc": truth.meta["fov"].to(u.kpc),
            "inclination_deg": truth.meta["inclination"] * u.deg,
        }
        for name in PROPERTIES.names:
            row[f"total_{name}"] = truth.total(name)
        for name in _PROPERTY_COLUMNS:
            row[f"galaxy_{name}"] = float(summary[name])
        row["noise_rms_r"] = (
            float(cutout.meta["noise_rms_native"][list(config.bands).index("r")])
            if "r" in config.bands
            else 0.0
        )
        image = cutout.flux.to_value(u.nanomaggy).astype(np.float32)
        pairs.append((image, truth.to_log10(), row))
    return pairs


def _worker(arguments):
    universe, index, config, views = arguments
    return index, galaxy_pairs(universe, index, config, views)


def _init_worker():
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # torch is a dependency, but the build does not need it
        pass


def build_dataset(
    path,
    n_galaxies,
    image_size=256,
    seed=0,
    views=4,
    config=None,
    processes=2,
    progress=True,
    resume=False,
    overwrite=False,
    universe=None,
    compression="lzf",
):
    """
    Render ``n_galaxies`` synthetic galaxies (``views`` pairs each) into an HDF5 pair dataset.

    Parameters
    ----------
    path : str or path-like
        Output file; built at ``<path>.partial`` and renamed when complete.
    n_galaxies : int
        Number of galaxies (the file holds ``n_galaxies * views`` pairs).
    image_size : int
        Pixels per side.
    seed : int
        Seed of the universe.
    views : int
        Views per galaxy (paper: 4, face-on, edge-on and two random).
    config : `~picasso.mock.observe.ObservingConfig` or str, optional
        Observing set-up or preset name (``"paper"``, ``"sdss"``); its
        ``image_size`` is replaced by ``image_size``.
    processes : int
        Worker processes (1: render in this process).
    progress : bool
        Show a tqdm progress bar.
    resume : bool
        Continue an interrupted build of the same settings from its partial file.
    overwrite : bool
        Replace an existing finished file.
    universe : `~picasso.mock.universe.Universe`, optional
        A universe with non-default parameters (its seed overrides ``seed``).
    compression : str or None
        HDF5 filter of the image and truth chunks: ``"lzf"`` (default; about
        1.1 MB per 256 x 256 pair, ~35 ms of CPU per pair), ``"gzip"`` or
        `None` (about 3 MB per pair, ~6 ms).

    Returns
    -------
    path : `pathlib.Path`
        The finished dataset.

    Raises
    ------
    ValueError
        For non-positive counts, or a partial file written with other settings.
    """
    from tqdm.auto import tqdm

    if int(n_galaxies) < 1 or int(views) < 1 or int(processes) < 1:
        raise ValueError("n_galaxies, views and processes must be positive integers")
    n_galaxies, views, processes = int(n_galaxies), int(views), int(processes)
    if config is None:
        config = ObservingConfig()
    elif isinstance(config, str):
        config = ObservingConfig.preset(config)
    elif not isinstance(config, ObservingConfig):
        raise TypeError(f"config must be an ObservingConfig or a preset name, got {config!r}")
    config = config.replace(image_size=int(image_size))
    universe = Universe(seed=seed) if universe is None else universe
    generator = {
        "universe": universe.parameters(),
        "observing": config.to_dict(),
        "views": views,
        "n_galaxies": n_galaxies,
    }
    attrs = {
        "seed": universe.seed,
        "generator": json.dumps(generator, sort_keys=True),
        "views": views,
    }
    with DatasetWriter(
        path,
        image_size=config.image_size,
        bands=config.bands,
        attrs=attrs,
        overwrite=overwrite,
        resume=resume,
        compression=compression,
    ) as writer:
        done = len(writer)
        first = done // views
        skip = done % views
        todo = list(range(first, n_galaxies))
        bar = tqdm(
            total=n_galaxies, initial=first, disable=not progress, unit="galaxy", desc="simulate"
        )
        arguments = [(universe, index, config, views) for index in todo]
        if processes == 1:
            results = (_worker(argument) for argument in arguments)
            executor = None
        else:
            executor = ProcessPoolExecutor(processes, initializer=_init_worker)
            results = executor.map(_worker, arguments, chunksize=1)
        try:
            for index, pairs in results:
                for view, (image, truth_log10, row) in enumerate(pairs):
                    if index == first and view < skip:
                        continue
                    writer.append_arrays(image, truth_log10, row)
                bar.update(1)
        finally:
            bar.close()
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
    log.info("built %d galaxies x %d views in %s", n_galaxies, views, path)
    return writer.path
