"""
Prediction entry points: cutouts, datasets and shards of them.

`predict_cutouts` takes a model in any form a user has it (a loaded model, a
file, `None` for the bundled model) and returns `~picasso.PropertyMaps`
through `picasso.nn.Model.predict`, which checks every cutout against the
model and refuses a mismatch with a message saying what to do.

`predict_dataset` runs a model over a pair dataset or a list of cutouts, or
one shard of it (``shard=(i, n)``), so many processes or machines can split
a catalogue with no coordinator: ``picasso predict model data.h5 -o out.h5
--shard i/n``.
"""

import json
import logging
from pathlib import Path

import h5py
import numpy as np

from ..cutout import GalaxyCutout
from ..io.dataset import PairDataset
from ..utils.atomic import atomic_path
from .loading import resolve_model

__all__ = [
    "predict_cutouts",
    "predict_dataset",
    "parse_shard",
    "shard_indices",
]

log = logging.getLogger(__name__)


def predict_cutouts(cutouts, model=None, *, batch_size=8, device=None, symmetries=(0,),
                    progress=False, compile=False, uncertainty=None, precision="auto"):
    """
    Predict property maps for cutouts.

    Parameters
    ----------
    cutouts : sequence of `~picasso.GalaxyCutout`
    model : `~picasso.nn.Model`, str or path-like, optional
        A loaded model, a model file or training output directory; by
        default the bundled model.
    batch_size, device, symmetries, progress, compile, uncertainty, precision
        As for `picasso.nn.Model.predict`.

    Returns
    -------
    maps : list of `~picasso.PropertyMaps`
        One per cutout (see `picasso.nn.Model.predict`).

    Raises
    ------
    TypeError
        If ``cutouts`` is a single cutout (use ``cutout.predict()``).
    ValueError
        If a cutout does not fit the model.
    """
    if isinstance(cutouts, GalaxyCutout):
        raise TypeError("predict_cutouts takes a list of cutouts; use cutout.predict() for one")
    model = resolve_model(model, device)
    return model.predict(list(cutouts), batch_size=batch_size, device=device,
                         symmetries=symmetries, progress=progress, uncertainty=uncertainty,
                         compile=compile, precision=precision)


def parse_shard(text):
    """
    Read a shard specification ``"i/n"`` (shard ``i`` of ``n``, from 0).

    Returns
    -------
    shard : tuple of int
        ``(i, n)``.
    """
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"a shard is written i/n (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {text!r}: need 0 <= i < n")
    return index, count


def shard_indices(n_items, shard=None):
    """
    The items one shard covers: contiguous blocks of near-equal size.

    Parameters
    ----------
    n_items : int
    shard : tuple of int, optional
        ``(i, n)``; all items by default.

    Returns
    -------
    indices : `numpy.ndarray` of int
    """
    if shard is None:
        return np.arange(n_items)
    index, count = shard
    return np.array_split(np.arange(n_items), count)[index]


def _shard_path(path, shard):
    if shard is None or shard[1] == 1:
        return path
    return path.with_name(f"{path.stem}.shard{shard[0]}of{shard[1]}{path.suffix}")


def predict_dataset(model, source, output, *, shard=None, batch_size=8, device=None,
                    symmetries=(0,), overwrite=False, progress=False, compile=False,
                    precision="auto"):
    """
    Predict every pair of a dataset (or every cutout of a list), or one shard.

    Parameters
    ----------
    model : `~picasso.nn.Model`, str or path-like
    source : `~picasso.io.dataset.PairDataset`, str or list of `~picasso.GalaxyCutout`
        A pair dataset (object or HDF5 path) or cutouts.
    output : str or path-like
        ``*.h5`` / ``*.hdf5``: one HDF5 file with ``log10_maps`` (n,
        properties, N, N), ``index`` (rows of the source), optional
        ``sigma_dex`` and the model header as a JSON attribute. Anything
        else: a directory with one FITS file of `~picasso.PropertyMaps` per
        galaxy (``g<galaxy_id>_v<view>.fits`` when the cutout knows them,
        ``<file stem>_maps.fits`` for cutout files, else ``<index>.fits``).
        With ``n > 1`` shards an HDF5 name gets ``.shard<i>of<n>`` before its
        suffix.
    shard : tuple of int, optional
        ``(i, n)``: do only shard ``i`` of ``n`` (contiguous blocks).
    batch_size, device, symmetries, progress, compile, precision
        As for `predict_cutouts`.
    overwrite : bool

    Returns
    -------
    written : list of `~pathlib.Path`
    """
    model = resolve_model(model, device)
    if isinstance(source, (str, Path)):
        source = PairDataset(source)
    n_items = len(source)
    indices = shard_indices(n_items, shard)
    if isinstance(source, PairDataset):
        cutouts = [source.cutout(int(i)) for i in indices]
    else:
        cutouts = [source[int(i)] for i in indices]
    output = Path(output)
    to_hdf5 = output.suffix.lower() in (".h5", ".hdf5")
    log.info("predicting %d of %d items%s", len(indices), n_items,
             "" if shard is None else f" (shard {shard[0]}/{shard[1]})")
    if to_hdf5:
        images = []
        for position, cutout in zip(indices, cutouts):
            try:
                images.append(model.input_flux(cutout))
            except ValueError as error:
                raise ValueError(f"item {position}: {error}") from None
        log10_maps, sigmas = model.predict_log10(images, batch_size=batch_size,
                                                 device=device, symmetries=symmetries,
                                                 progress=progress, compile=compile,
                                                 precision=precision)
        path = _shard_path(output, shard)
        with atomic_path(path, overwrite=overwrite) as tmp_path:
            with h5py.File(tmp_path, "w") as handle:
                handle.create_dataset("log10_maps", data=log10_maps, compression="lzf")
                handle.create_dataset("index", data=np.asarray(indices, dtype=np.int64))
                if sigmas is not None:
                    handle.create_dataset("sigma_dex", data=sigmas, compression="lzf")
                handle.attrs["properties"] = list(model.properties)
                handle.attrs["model"] = json.dumps(model.header)
                handle.attrs["n_source"] = n_items
                handle.attrs["shard"] = [0, 1] if shard is None else list(shard)
                handle.attrs["symmetries"] = list(symmetries)
                handle.attrs["precision"] = json.dumps(model.last_precision)
        return [path]
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for start in range(0, len(cutouts), 64):
        chunk = cutouts[start:start + 64]
        maps = model.predict(chunk, batch_size=batch_size, device=device,
                             symmetries=symmetries, progress=progress, compile=compile,
                             precision=precision)
        for position, cutout, prediction in zip(indices[start:start + 64], chunk, maps):
            meta = cutout.meta or {}
            if "galaxy_id" in meta and "view" in meta:
                name = f"g{meta['galaxy_id']}_v{meta['view']}.fits"
            elif "source_file" in meta:
                name = f"{Path(meta['source_file']).stem}_maps.fits"
            else:
                name = f"{int(position)}.fits"
            path = output / name
            prediction.write(path, overwrite=overwrite)
            written.append(path)
    return written
