"""
Build HDF5 pair datasets from the synthetic universe, in parallel and resumably.

Galaxy ``i`` of a build with seed ``s`` is always the same galaxy seen from the
same four cameras with the same noise: its particles come from
``Universe(seed=s).particles(i)`` and its views from the third child of its
`numpy.random.SeedSequence`. A parallel build splits the galaxies into shards
(contiguous ranges of indices); each task renders one shard into its own file
(``<path>.shards/``), in a pool of worker processes or on a Dask cluster, and
the parent joins finished shards in index order into ``<path>.partial``,
copying their compressed chunks as they are. So a build writes the same pairs
with any number of processes or shards, and one that was killed and resumed
(``resume=True``) writes the same pairs as one that ran straight through:
joined shards are in the partial file, finished ones are kept and reused,
unfinished ones continue where they stopped.

Worker processes never outlive the build: they exit within a second of their
parent's death, even when the parent was killed with ``SIGKILL``. SIGINT
(Ctrl-C) and SIGTERM stop the workers, leave the partial file resumable and
raise `BuildInterrupted`.
"""

import ctypes
import functools
import hashlib
import json
import logging
import math
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import astropy.units as u
import numpy as np

from ..io.dataset import DatasetWriter
from ..properties import LOG10_EMPTY, PROPERTIES
from ..utils.optional_deps import require
from ..utils.scales import kpc_per_arcsec
from .observe import ObservingConfig
from .observe.galaxy import observe_arrays, prepare, view_cameras
from .universe import Universe

__all__ = ["build_dataset", "galaxy_pairs", "render_shard", "default_shard_size",
           "renderer_fingerprint", "BuildInterrupted", "VIEW_STREAM"]

log = logging.getLogger(__name__)


def renderer_fingerprint(package=None):
    """
    A digest of the code and data that draw and render picasso's galaxies.

    The SHA-1 of every Python module of the installed picasso (but the
    version file) and of its population-synthesis tables (the bundled
    model's weights are left out: they do not render). An editable install keeps
    the version string it was installed with while its code changes, so a
    cache of rendered pairs named after the version alone would be reused
    after the universe changed; named after this, it is not.

    Parameters
    ----------
    package : path-like, optional
        The package directory (default: the installed picasso's).

    Returns
    -------
    fingerprint : str
        40 hexadecimal digits.
    """
    package = Path(__file__).resolve().parent.parent if package is None else Path(package)
    digest = hashlib.sha1()
    files = [path for path in package.rglob("*.py") if path.name != "_version.py"]
    files += list((package / "data").glob("*.fits"))
    for path in sorted(files):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


#: Child of a galaxy's seed sequence that seeds its views (0: properties, 1: particles).
VIEW_STREAM = 2
#: Child that draws its redshift and PSF when the observing set-up gives ranges.
OBSERVING_STREAM = 3

#: Seconds between a worker's checks that the process that started it is alive.
PARENT_CHECK_INTERVAL = 0.5

#: ``PR_SET_PDEATHSIG`` of ``<linux/prctl.h>``.
_PR_SET_PDEATHSIG = 1

#: Most galaxies in one shard (one task of a parallel build).
MAX_SHARD_GALAXIES = 64

#: Functions that set the thread count of the BLAS libraries numpy and scipy load.
_BLAS_THREAD_SETTERS = (
    "scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_", "openblas_set_num_threads", "MKL_Set_Num_Threads",
    "bli_thread_set_num_threads",
)

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


def galaxy_observing(config, seed):
    """
    One galaxy's observing set-up: its redshift and PSF drawn where the set-up gives ranges.

    Parameters
    ----------
    config : `~picasso.mock.observe.ObservingConfig`
        With ``redshift_range`` and/or ``psf_fwhm_range`` for a set of
        galaxies at many distances and resolutions.
    seed : `numpy.random.SeedSequence` or int
        The galaxy's observing stream.

    Returns
    -------
    config : `~picasso.mock.observe.ObservingConfig`
        With this galaxy's ``redshift`` and ``psf_fwhm`` and no ranges.
    """
    rng = np.random.default_rng(seed)
    changes = {}
    if config.redshift_range is not None:
        changes["redshift"] = float(rng.uniform(*config.redshift_range))
    if config.psf_fwhm_range is not None:
        low, high = np.log(config.psf_fwhm_range.value)
        changes["psf_fwhm"] = float(np.exp(rng.uniform(low, high))) * config.psf_fwhm_range.unit
    return config.replace(redshift_range=None, psf_fwhm_range=None, **changes)


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
    streams = universe.seed_sequence(index).spawn(OBSERVING_STREAM + 1)
    config = galaxy_observing(config, streams[OBSERVING_STREAM])
    summary = particles.meta["properties"]
    seed = _galaxy_seed(universe, index)
    prepared = prepare(particles, config)
    pairs = []
    psf_pixels = None
    # arrays, as observe_views' cutouts and maps hold them (tests compare them)
    for view, (view_seed, direction, up, _) in enumerate(
            view_cameras(particles, streams[VIEW_STREAM], views)):
        arrays = observe_arrays(prepared, config, seed=view_seed, direction=direction, up=up)
        truth_log10, totals = _truth_arrays(arrays.truth, arrays.pixel)
        if psf_pixels is None:  # the views of a galaxy share their pixels
            psf_pixels = _psf_fwhm_pixels(config, arrays.pixel)
        row = {
            "galaxy_id": int(index),
            "view": int(view),
            "pixel_scale_kpc": arrays.pixel * u.kpc,
            "redshift": float(config.redshift),
            "r_half_kpc": arrays.r_half * u.kpc,
            "seed": seed,
            "r_half_3d_kpc": prepared.half_mass_radius_3d * u.kpc,
            "fov_kpc": 2.0 * arrays.half * u.kpc,
            "inclination_deg": arrays.inclination * u.deg,
            "psf_fwhm_pixels": psf_pixels,
        }
        for name in PROPERTIES.names:
            row[f"total_{name}"] = totals[name]
        for name in _PROPERTY_COLUMNS:
            row[f"galaxy_{name}"] = float(summary[name])
        row["noise_rms_r"] = (
            float(arrays.info["noise_rms_native"][list(config.bands).index("r")])
            if "r" in config.bands
            else 0.0
        )
        pairs.append((arrays.image.astype(np.float32, copy=False), truth_log10, row))
    return pairs


def _psf_fwhm_pixels(config, pixel):
    """The widest PSF FWHM in pixels of ``pixel`` kpc, as a `~picasso.GalaxyCutout` has it."""
    psf = np.atleast_1d(config.psf_fwhm)
    scale = pixel * u.kpc
    if psf.unit.is_equivalent(u.arcsec):
        scale = (scale / kpc_per_arcsec(config.redshift, config.cosmology)).to(u.arcsec)
    return float(np.max((psf / scale).to_value(u.dimensionless_unscaled)))


def _truth_arrays(planes, pixel):
    """
    The truth maps as log10 planes and their totals, in one pass over the maps.

    The numbers of `~picasso.PropertyMaps.to_log10` and `~picasso.PropertyMaps.total`
    (both through `~picasso.properties.Property.combine`) of the maps these planes
    make (the tests hold them to it), without building the maps.

    Parameters
    ----------
    planes : dict
        ``name: (value, empty)`` of every property
        (`~picasso.mock.observe.truth.truth_planes`).
    pixel : float
        Pixel side (kpc).

    Returns
    -------
    log10 : ndarray float32 (properties, N, N)
        `~picasso.properties.LOG10_EMPTY` in empty or zero pixels.
    totals : dict of `~astropy.units.Quantity`
        Every property's total over the map, in its ``total_unit``.
    """
    area = pixel**2
    shape = planes[PROPERTIES.names[0]][0].shape
    log10 = np.full((len(PROPERTIES.names), *shape), LOG10_EMPTY, dtype=np.float32)
    totals = {}
    for index, name in enumerate(PROPERTIES.names):
        prop = PROPERTIES[name]
        value, empty = planes[name]
        # empty pixels hold zero: neither a logarithm nor a share of the total
        np.log10(value, out=log10[index], where=value > 0)
        unit, scale = _total_unit(name)
        weights = np.where(empty, 0.0, 1.0)
        if prop.is_extensive:
            totals[name] = prop.combine(value, weights) * area * scale * unit
        else:
            weight, weight_empty = planes[prop.weighted_by]
            totals[name] = prop.combine(value, weights, weight * ~weight_empty) * unit
    return log10, totals


@functools.cache
def _total_unit(name):
    """A property's total unit, and the factor to it from its map unit times kpc2 (cached)."""
    prop = PROPERTIES[name]
    scale = (prop.unit * u.kpc**2).to(prop.total_unit) if prop.is_extensive else 1.0
    return prop.total_unit, scale


class BuildInterrupted(KeyboardInterrupt):
    """
    A dataset build was stopped by SIGINT (Ctrl-C) or SIGTERM.

    Every pair written before the signal is in the partial file, which a
    build with the same settings and ``resume=True`` continues. A subclass of
    `KeyboardInterrupt`, so ``except Exception`` does not swallow it.

    Parameters
    ----------
    signum : int
        The signal that stopped the build.
    partial_path : `pathlib.Path`, optional
        The partial file that was kept.
    n_pairs : int, optional
        Pairs in the partial file.
    n_total : int, optional
        Pairs of the finished dataset.
    """

    def __init__(self, signum, partial_path=None, n_pairs=None, n_total=None):
        self.signum = int(signum)
        self.partial_path = partial_path
        self.n_pairs = n_pairs
        self.n_total = n_total
        message = f"build interrupted by {self.signal_name}"
        if n_pairs is not None:
            message += f" after {n_pairs} of {n_total} pairs"
        if partial_path is not None:
            message += f"; {partial_path} is kept: build again with resume=True to finish it"
        super().__init__(message)

    @property
    def signal_name(self):
        """Name of the signal, e.g. ``"SIGTERM"``."""
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"


class _SignalGuard:
    """
    Turn SIGINT and SIGTERM into `BuildInterrupted`, never in the middle of a write.

    While ``holding`` (from the start, and after `hold`) a signal is only
    recorded; `release` raises it. Once one `BuildInterrupted` has been
    raised, the clean-up (stopping the workers, closing the file) is not
    interrupted by it again. A second signal, though, restores the default
    handlers and meets them at once: Ctrl-C twice raises a plain
    `KeyboardInterrupt` and a second SIGTERM ends the process, whatever the
    build is doing. A signal held until the end of a build that then
    completed is delivered again, to the handler it would have met without
    the guard. Outside the main thread, and for a signal whose handler is not
    the default one, the guard does nothing.
    """

    def __init__(self):
        self.signum = None
        self.holding = True
        self._raised = False
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
        for signum, default in defaults.items():
            if signal.getsignal(signum) is default:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, exc_type, exc, traceback):
        handled = set(self._previous)
        self._restore()
        if self.signum is not None and not self._raised and self.signum in handled:
            signal.raise_signal(self.signum)
        return False

    def _restore(self):
        while self._previous:
            signum, handler = self._previous.popitem()
            signal.signal(signum, handler)

    def _handle(self, signum, frame):
        if self.signum is not None:
            # A second signal: the user insists.
            self._raised = True
            self._restore()
            signal.raise_signal(signum)
            return
        self.signum = signum
        if not self.holding:
            self._interrupt()

    def _interrupt(self):
        self.holding = True
        self._raised = True
        raise BuildInterrupted(self.signum)

    def hold(self):
        """Record signals from now on instead of raising them."""
        self.holding = True

    def release(self):
        """Raise a recorded signal, and raise signals as they come from now on."""
        self.holding = False
        if self.signum is not None:
            self._interrupt()


def _parent_alive(parent_pid, parent):
    """Whether the process that started this one still runs (POSIX: we were not re-parented)."""
    if os.getppid() != parent_pid:
        return False
    return parent is None or parent.is_alive()


def _watch_parent(parent_pid, parent, interval):
    while _parent_alive(parent_pid, parent):
        time.sleep(interval)
    # The parent is gone: nobody will read our results. Leave now, whatever the
    # main thread is doing (typically blocked writing to the result pipe).
    os._exit(1)


def _exit_with_parent(interval=PARENT_CHECK_INTERVAL):
    """
    Make this worker process exit as soon as the process that started it dies.

    On Linux the kernel kills the worker when its parent dies
    (``prctl(PR_SET_PDEATHSIG, SIGKILL)``). Everywhere, a daemon thread checks
    every ``interval`` seconds that the parent still runs (on POSIX that the
    worker has not been re-parented, and through the multiprocessing sentinel
    of the parent) and ends the worker with `os._exit` when it does not.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
                log.debug("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(ctypes.get_errno()))
        except (OSError, AttributeError) as error:
            log.debug("no prctl(PR_SET_PDEATHSIG): %s", error)
    parent_pid = os.getppid()
    parent = multiprocessing.parent_process()
    if not _parent_alive(parent_pid, parent):  # the parent died before the death signal was set
        os._exit(1)
    threading.Thread(
        target=_watch_parent,
        args=(parent_pid, parent, interval),
        name="picasso-watch-parent",
        daemon=True,
    ).start()


def _limit_native_threads(n=1):
    """
    Let the BLAS libraries loaded in this process use ``n`` threads.

    A forked worker inherits a BLAS that the parent sized to every core, so
    ``N`` workers rendering images (whose resampling is a matrix product)
    would run ``N x cores`` BLAS threads; on 16 cores that oversubscription,
    not the rendering, limited the build. Environment variables such as
    ``OPENBLAS_NUM_THREADS`` come too late once numpy is imported: the
    libraries are told directly (through threadpoolctl when it is installed).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(n)
        return
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if ".so" in line
                     and any(name in line.lower() for name in ("blas", "mkl", "blis"))}
    except OSError:  # not Linux: the workers keep the libraries' default
        return
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _BLAS_THREAD_SETTERS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter(ctypes.c_int(n))


def _init_worker():
    # A forked worker inherits the parent's signal handlers. The parent handles
    # Ctrl-C (sent to the whole process group by a terminal) and stops its
    # workers with SIGTERM, which must simply end them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _exit_with_parent()
    os.environ["OMP_NUM_THREADS"] = "1"
    _limit_native_threads(1)
    # the build does not need torch: importing it costs each worker a second or two of CPU
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _stop_workers(executor, timeout=5.0):
    """
    Terminate the workers of ``executor`` now, abandoning the galaxies they render.

    The executor's manager thread then finds the pool broken and fails the
    outstanding futures. Two of the executor's internals need care here:

    * A worker killed half-way through sending its result leaves half a
      message in the result pipe; the manager thread would wait for the rest
      forever (and `~concurrent.futures.ProcessPoolExecutor.shutdown`, and
      the interpreter's exit, with it). Once the workers are dead we close
      this process's end of the pipe for writing, the last one open, so that
      the manager thread reads the end of the pipe instead.
    * The futures must not have been cancelled: the executor of Python 3.11
      then fails with `~concurrent.futures.InvalidStateError` in its manager
      thread. This is why the build does not use ``executor.map``, whose
      iterator cancels the futures when an exception passes through it.
    """
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(deadline - time.monotonic(), 0.0))
        if process.is_alive():
            process.kill()
            process.join()
    writer = getattr(getattr(executor, "_result_queue", None), "_writer", None)
    if writer is not None:
        writer.close()
    executor.shutdown(wait=True)


def _render(writer, guard, universe, config, n_galaxies, views, progress):
    """Render the galaxies that ``writer`` lacks in this process and append them in index order."""
    from tqdm.auto import tqdm

    done = len(writer)
    first = done // views
    skip = done % views
    bar = tqdm(
        total=n_galaxies, initial=first, disable=not progress, unit="galaxy", desc="simulate"
    )
    try:
        guard.release()
        for index in range(first, n_galaxies):
            pairs = galaxy_pairs(universe, index, config, views)
            guard.hold()  # a galaxy's pairs are written whole (each is flushed to disk)
            for view, (image, truth_log10, row) in enumerate(pairs):
                if index == first and view < skip:
                    continue
                writer.append_arrays(image, truth_log10, row)
            guard.release()
            bar.update(1)
    finally:
        guard.hold()
        bar.close()


def default_shard_size(n_galaxies, workers):
    """
    Galaxies per shard: about eight shards per worker, at most `MAX_SHARD_GALAXIES`.

    Parameters
    ----------
    n_galaxies : int
    workers : int

    Returns
    -------
    size : int
    """
    return max(1, min(MAX_SHARD_GALAXIES, math.ceil(int(n_galaxies) / (8 * max(int(workers), 1)))))


def _shard_path(directory, first, stop):
    return Path(directory) / f"galaxies-{first:07d}-{stop:07d}.h5"


def render_shard(task):
    """
    Render one shard of a build (galaxies ``first`` to ``stop - 1``) into its own file.

    The task of a worker process or a Dask worker. A finished shard file is
    left as it is; an unfinished one (``.partial``, from a stopped build)
    continues after its last complete pair.

    Parameters
    ----------
    task : dict
        ``universe``, ``config``, ``views``, ``first``, ``stop``, ``path`` (the
        shard file), ``compression`` and ``attrs`` (of the build's file).

    Returns
    -------
    first, stop : int
    path : str
        The finished shard file.
    """
    path = Path(task["path"])
    first, stop, views = int(task["first"]), int(task["stop"]), int(task["views"])
    config = task["config"]
    attrs = {**task["attrs"], "shard": [first, stop]}
    if path.exists():
        if _has_attrs(path, attrs):
            return first, stop, str(path)
        log.info("replacing %s, the shard of another build", path)
        path.unlink()
    settings = dict(image_size=config.image_size, bands=config.bands, attrs=attrs,
                    compression=task["compression"])
    try:
        writer = DatasetWriter(path, resume=True, **settings)
    except (OSError, ValueError) as error:  # a partial shard killed mid-write, or another build's
        log.info("starting shard %s again: %s", path.name, error)
        Path(f"{path}.partial").unlink(missing_ok=True)
        writer = DatasetWriter(path, **settings)
    with writer:
        done = len(writer)
        start, skip = first + done // views, done % views
        for index in range(start, stop):
            for view, (image, truth_log10, row) in enumerate(
                    galaxy_pairs(task["universe"], index, config, views)):
                if index == start and view < skip:
                    continue
                writer.append_arrays(image, truth_log10, row)
    return first, stop, str(path)


def _has_attrs(path, attrs):
    """Whether the HDF5 file at ``path`` has these attributes (a shard of this build)."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            return all(np.array_equal(np.atleast_1d(handle.attrs.get(key, "")).astype(str),
                                      np.atleast_1d(value).astype(str))
                       for key, value in attrs.items())
    except OSError:
        return False


def _render_shard_on_dask(task):
    """`render_shard` on a Dask worker: one BLAS thread, as a worker process has."""
    _limit_native_threads(1)
    return render_shard(task)


def _shard_plan(directory, shard_size, n_galaxies, workers):
    """The shard size of a build: as given, else as recorded for this build, else the default."""
    plan = Path(directory) / "plan.json"
    if shard_size is None and plan.exists():
        try:
            shard_size = int(json.loads(plan.read_text())["shard_size"])
        except (OSError, ValueError, KeyError, TypeError):
            shard_size = None
    if shard_size is None:
        shard_size = default_shard_size(n_galaxies, workers)
    if int(shard_size) < 1:
        raise ValueError(f"shard_size must be a positive number of galaxies, got {shard_size}")
    Path(directory).mkdir(parents=True, exist_ok=True)
    plan.write_text(json.dumps({"shard_size": int(shard_size)}))
    return int(shard_size)


def _shard_ranges(first, n_galaxies, size):
    """Contiguous ranges from ``first``, with boundaries at multiples of ``size``."""
    ranges = []
    start = first
    while start < n_galaxies:
        stop = min((start // size + 1) * size, n_galaxies)
        ranges.append((start, stop))
        start = stop
    return ranges


def _dask_client(scheduler, processes):
    """
    (client, cluster to close or None): a client of ``scheduler``, or of a new LocalCluster.

    `build_dataset` has checked that dask and distributed are installed.
    """
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        return scheduler, None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=processes, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        return Client(cluster), cluster
    return Client(scheduler), None


def _render_shards(writer, guard, tasks, first_skip, n_galaxies, progress, processes,
                   scheduler):
    """Render ``tasks`` (shards) in parallel and join them to ``writer`` in index order."""
    from tqdm.auto import tqdm

    initial = tasks[0]["first"] if tasks else n_galaxies
    bar = tqdm(total=n_galaxies, initial=initial, disable=not progress, unit="galaxy",
               desc="simulate")
    executor = client = cluster = None
    futures = []
    finished = False
    try:
        guard.release()
        if scheduler is not None:
            client, cluster = _dask_client(scheduler, processes)
            token = uuid.uuid4().hex[:8]
            futures = [client.submit(_render_shard_on_dask, task, pure=False,
                                     key=f"picasso-shard-{task['first']}-{task['stop']}-{token}")
                       for task in tasks]
        elif processes > 1:
            executor = ProcessPoolExecutor(min(processes, max(len(tasks), 1)),
                                           initializer=_init_worker)
            futures = [executor.submit(render_shard, task) for task in tasks]
        results = ((future.result() for future in futures) if futures
                   else (render_shard(task) for task in tasks))
        for position, (first, stop, path) in enumerate(results):
            guard.hold()  # a shard is joined whole
            writer.append_file(path, skip=first_skip if position == 0 else 0)
            Path(path).unlink()
            guard.release()
            bar.update(stop - first)
        finished = True
    finally:
        guard.hold()
        bar.close()
        if executor is not None:
            if finished:
                executor.shutdown(wait=True)
            else:
                _stop_workers(executor)
        if client is not None:
            if not finished:
                client.cancel(futures)
            if cluster is not None:
                client.close()
                cluster.close()
            elif client is not scheduler:  # a client made here, not the caller's
                client.close()


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
    shard_size=None,
    scheduler=None,
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
        Worker processes (1: render in this process); with ``scheduler="local"``
        the workers of the local Dask cluster.
    progress : bool
        Show a tqdm progress bar.
    resume : bool
        Continue an interrupted build of the same settings, rendered by the
        same code (`renderer_fingerprint`, recorded in the file's
        ``generator`` attribute), from its partial file.
    overwrite : bool
        Replace an existing finished file.
    universe : `~picasso.mock.universe.Universe`, optional
        A universe with non-default parameters (its seed overrides ``seed``).
    compression : str or None
        HDF5 filter of the image and truth chunks, byte-shuffled:
        ``"lzf"`` (default; about 1.95 MB per 256 x 256 pair of the paper
        preset, ~24 ms of CPU per pair), ``"gzip"`` or `None` (3.15 MB per
        pair, ~6 ms). Parallel builds compress in the workers.
    shard_size : int, optional
        Galaxies per shard, the unit of work of a parallel build
        (`default_shard_size`: about eight shards per worker, at most 64
        galaxies). A resumed build keeps the size it started with unless one
        is given. Given with ``processes=1`` (or when resuming a parallel
        build with one process), the shards are rendered in this process.
    scheduler : str or `distributed.Client`, optional
        Render the shards on a Dask cluster: the address of its scheduler
        (``"tcp://host:8786"``), a client, or ``"local"`` for a
        `~distributed.LocalCluster` of ``processes`` workers on this machine.
        The workers write the shard files next to ``path``, so they must see
        its directory (a shared file system on a cluster). Needs ``dask`` and
        ``distributed``.

    Returns
    -------
    path : `pathlib.Path`
        The finished dataset.

    Raises
    ------
    ValueError
        For non-positive counts, or a partial file written with other settings.
    BuildInterrupted
        When SIGINT (Ctrl-C) or SIGTERM stopped the build: the workers are
        stopped, every pair rendered so far is in ``<path>.partial``, and the
        same call with ``resume=True`` finishes the dataset.

    Notes
    -----
    Called from the main thread, the build handles SIGINT and SIGTERM itself
    (unless the application installed its own handlers for them): a signal
    never interrupts the writing of a galaxy's pairs or the joining of a
    shard. Worker processes exit within a second when the build's process
    dies, even by SIGKILL.

    A parallel build keeps its shard files in ``<path>.shards/`` until they
    are joined: a shard is deleted once it is in ``<path>.partial``, and the
    directory when the dataset is complete. The parent process only joins
    finished shards (a copy of their compressed chunks), so the build scales
    with the number of workers until the joining, about 1-3 ms per 256 x 256
    pair, becomes the limit.
    """
    if int(n_galaxies) < 1 or int(views) < 1 or int(processes) < 1:
        raise ValueError("n_galaxies, views and processes must be positive integers")
    n_galaxies, views, processes = int(n_galaxies), int(views), int(processes)
    if shard_size is not None and int(shard_size) < 1:
        raise ValueError(f"shard_size must be a positive number of galaxies, got {shard_size}")
    if scheduler is not None:
        purpose = "universe builds on Dask (picasso simulate --scheduler)"
        require("dask", purpose)
        require("distributed", purpose)
    if config is None:
        config = ObservingConfig()
    elif isinstance(config, str):
        config = ObservingConfig.preset(config)
    elif not isinstance(config, ObservingConfig):
        raise TypeError(f"config must be an ObservingConfig or a preset name, got {config!r}")
    config = config.replace(image_size=int(image_size))
    if config.dust:
        # here, in the parent process, not as a traceback in every worker
        require("dust_extinction", "dust attenuation in mock observations (--dust)")
    universe = Universe(seed=seed) if universe is None else universe
    generator = {
        "universe": universe.parameters(),
        "observing": config.to_dict(),
        "views": views,
        "n_galaxies": n_galaxies,
        # which code rendered the pairs: a partial build does not resume under other code,
        # and a finished one can be told from a stale one
        "renderer": renderer_fingerprint(),
    }
    attrs = {
        "seed": universe.seed,
        "generator": json.dumps(generator, sort_keys=True),
        "views": views,
    }
    shard_dir = Path(f"{path}.shards")
    # a resumed parallel build goes on in shards, whatever its number of processes now
    sharded = (processes > 1 or scheduler is not None or shard_size is not None
               or (resume and shard_dir.exists()))
    writer = None
    try:
        with _SignalGuard() as guard:
            writer = DatasetWriter(
                path,
                image_size=config.image_size,
                bands=config.bands,
                attrs=attrs,
                overwrite=overwrite,
                resume=resume,
                compression=compression,
            )
            if not resume and shard_dir.exists():
                shutil.rmtree(shard_dir)  # another build's shards
            with writer:
                if sharded:
                    done = len(writer)
                    size = _shard_plan(shard_dir, shard_size, n_galaxies, processes)
                    tasks = [
                        {"universe": universe, "config": config, "views": views, "first": first,
                         "stop": stop, "path": str(_shard_path(shard_dir, first, stop)),
                         "compression": compression, "attrs": attrs}
                        for first, stop in _shard_ranges(done // views, n_galaxies, size)
                    ]
                    _render_shards(writer, guard, tasks, done % views, n_galaxies, progress,
                                   processes, scheduler)
                else:
                    _render(writer, guard, universe, config, n_galaxies, views, progress)
    except BuildInterrupted as interrupted:
        raise BuildInterrupted(
            interrupted.signum, writer.partial_path, len(writer), n_galaxies * views
        ) from None
    shutil.rmtree(shard_dir, ignore_errors=True)
    log.info("built %d galaxies x %d views in %s", n_galaxies, views, writer.path)
    return writer.path
