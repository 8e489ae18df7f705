"""
Prediction: cutouts in, `~picasso.PropertyMaps` in physical units out.

`predict_cutouts` is what `picasso.GalaxyCutout.predict` and
`picasso.nn.Model.predict` call. It checks every cutout against the model
(bands and their order, image size, flux unit, pixel-scale convention) and
refuses a mismatch with a message saying what to do, converts the flux to
the model's unit, runs the network in batches and returns maps on the
cutout's grid with its WCS and physical pixel scale.

`predict_dataset` runs a model over a pair dataset or a list of cutouts, or
one shard of it (``shard=(i, n)``), so many processes or machines can split
a catalogue with no coordinator: ``picasso predict model data.h5 -o out.h5
--shard i/n``.
"""

import json
import logging
from pathlib import Path

import astropy.units as u
import numpy as np
import torch

from .diagnostics import diagnose, psf_fwhm_pixels, warn_out_of_distribution
from .transforms import d4_inverse, d4_transform, flux_per_area, normalize_flux, zero_bands
from .weights import FIELD_OF_VIEW_R_HALF, Model, default_model, load_model

__all__ = [
    "predict_cutouts",
    "predict_log10",
    "predict_dataset",
    "check_cutout",
    "parse_shard",
    "shard_indices",
    "PIXEL_SCALE_TOLERANCE",
]

log = logging.getLogger(__name__)

#: Largest accepted relative difference between a cutout's field of view (in
#: half-mass radii, when the cutout knows its radius) and the model's.
PIXEL_SCALE_TOLERANCE = 0.25


def _resolve_model(model, device):
    if model is None:
        model = default_model()
    elif isinstance(model, (str, Path)):
        model = load_model(model)
    elif not isinstance(model, Model):
        raise TypeError(
            "model must be a picasso Model (picasso.load_model(path)), a model file or "
            f"directory, or None for the bundled model; got {type(model).__name__}"
        )
    if device is not None:
        model.to(device)
    if not model.trained:
        log.warning("the model is untrained: its predictions are meaningless")
    return model


def _r_half(meta):
    for key in ("r_half", "r_half_kpc"):
        if key in meta:
            value = meta[key]
            return value.to(u.kpc) if isinstance(value, u.Quantity) else float(value) * u.kpc
    return None


def check_cutout(cutout, model):
    """
    Check that a cutout fits a model; convert its flux to the model's unit.

    Parameters
    ----------
    cutout : `~picasso.GalaxyCutout`
    model : `~picasso.nn.Model`

    Returns
    -------
    flux : `numpy.ndarray`
        float32 ``(n_bands, N, N)``: the network's input before normalisation,
        flux per pixel in ``model.flux_unit`` divided by the pixel area in kpc2
        and, for a model with a ``reference_redshift``, moved to that redshift
        (`picasso.nn.transforms.flux_per_area`).

    Raises
    ------
    TypeError
        If ``cutout`` is not a `~picasso.GalaxyCutout`.
    ValueError
        If bands, size, flux unit or pixel-scale convention do not match, or
        the model needs a redshift the cutout lacks; the message says how to
        fix the cutout.
    """
    from ..cutout import GalaxyCutout

    if not isinstance(cutout, GalaxyCutout):
        raise TypeError(f"expected a picasso.GalaxyCutout, got {type(cutout).__name__}")
    if tuple(cutout.bands) != tuple(model.bands):
        missing = [band for band in model.bands if band not in cutout.bands]
        if missing:
            raise ValueError(
                f"the model takes bands {', '.join(model.bands)} but the cutout lacks "
                f"{', '.join(missing)}; supply those bands, or use a model trained on "
                f"{', '.join(cutout.bands)} (UNetConfig(in_bands=...))"
            )
        raise ValueError(
            f"the model takes bands {', '.join(model.bands)} in this order, the cutout has "
            f"{', '.join(cutout.bands)}; use cutout.select_bands({list(model.bands)!r})"
        )
    size = model.image_size
    if tuple(cutout.shape) != (size, size):
        raise ValueError(
            f"the model was trained on {size} x {size} images, the cutout is "
            f"{cutout.shape[0]} x {cutout.shape[1]}; resample it to {size} x {size} pixels "
            f"spanning {FIELD_OF_VIEW_R_HALF:g} stellar half-mass radii (e.g. with reproject via "
            "picasso.io)"
        )
    r_half = _r_half(cutout.meta or {})
    if r_half is not None and cutout.pixel_scale_kpc is not None:
        field = (size * u.pix * cutout.pixel_scale_kpc / r_half).decompose().value
        if abs(field / FIELD_OF_VIEW_R_HALF - 1) > PIXEL_SCALE_TOLERANCE:
            raise ValueError(
                f"the cutout spans {field:.3g} half-mass radii; the model was trained on images "
                f"spanning {FIELD_OF_VIEW_R_HALF:g} (pixel scale {FIELD_OF_VIEW_R_HALF:g} r_half "
                f"/ {size} px = {FIELD_OF_VIEW_R_HALF * r_half.value / size:.3g} kpc); re-cut "
                "the image to that field of view"
            )
    else:
        log.debug("the cutout does not record its half-mass radius; its field of view is "
                  "assumed to follow the model's convention (%g r_half)", FIELD_OF_VIEW_R_HALF)
    if cutout.pixel_scale_kpc is None:
        raise ValueError(
            "the cutout has no physical pixel scale; the model needs it to turn flux per pixel "
            "into flux per kpc2 and maps back into surface densities. Give the cutout a "
            "redshift (with an angular scale or WCS) or pixel_scale in kpc"
        )
    try:
        flux = cutout.to_unit(model.flux_unit).flux
    except (u.UnitsError, ValueError) as error:
        raise ValueError(
            f"cannot convert the cutout's flux ({cutout.unit}) to the model's "
            f"{model.flux_unit}: {error}"
        ) from None
    reference = getattr(model, "reference_redshift", None)
    if reference is not None and cutout.redshift is None:
        raise ValueError(
            f"the model moves every input to its training redshift ({reference:g}) and needs the "
            "galaxy's redshift for that; give the cutout one (GalaxyCutout(..., redshift=z))"
        )
    return flux_per_area(flux.to_value(model.flux_unit), cutout.pixel_scale_kpc,
                         redshift=cutout.redshift, reference_redshift=reference)


def _compiled_network(model):
    compiled = getattr(model, "_compiled_network", None)
    if compiled is None:
        # frozen weights let inductor pack them for oneDNN and fuse each convolution with
        # its ReLU; the weights must not change afterwards (inference only)
        compiled = torch.compile(model.network, options={"freezing": True})
        model._compiled_network = compiled
    return compiled


def predict_log10(model, images, *, batch_size=8, device=None, symmetries=(0,),
                  progress=False, channels_last=None, compile=False):
    """
    Run the network on flux arrays: the numeric core of prediction.

    Parameters
    ----------
    model : `~picasso.nn.Model`
    images : array-like or sequence of arrays
        ``(n, n_bands, N, N)`` flux per pixel in ``model.flux_unit``.
    batch_size : int
    device : str or `torch.device`, optional
        Default: where the model is.
    symmetries : sequence of int
        Symmetries of the square to average over (test-time augmentation);
        ``range(8)`` averages all eight, ``(0,)`` is a single pass.
    progress : bool
        Show a progress bar.
    channels_last : bool, optional
        Channels-last memory format (default: yes; measured faster than
        NCHW on CPUs, see ``benchmarks/bench_nn.py``, and standard on GPUs).
    compile : bool
        Run the network through `torch.compile` with frozen weights: the
        fastest path measured on a CPU, after a compilation of minutes per
        image shape (worth it for a catalogue, not for one galaxy).

    Returns
    -------
    log10_maps : `numpy.ndarray`
        float32 ``(n, n_properties, N, N)``.
    sigma_dex : `numpy.ndarray` or None
        1-sigma uncertainty in dex, same shape, for a heteroscedastic model
        (combined with the spread across ``symmetries``).
    """
    from tqdm.auto import tqdm

    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    symmetries = tuple(symmetries)
    if not symmetries:
        raise ValueError("symmetries must name at least one symmetry (0 is the identity)")
    network = model.network
    if device is not None:
        network.to(device)
    device = next(network.parameters()).device
    if channels_last is None:
        channels_last = True
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    network.to(memory_format=memory_format)
    network.eval()
    forward = _compiled_network(model) if compile else network
    # freezing needs no_grad; otherwise inference_mode skips autograd bookkeeping entirely
    no_autograd = torch.no_grad if compile else torch.inference_mode
    n = len(images)
    n_properties = len(model.properties)
    shape = None
    log10_maps = sigmas = None
    starts = range(0, n, int(batch_size))
    with no_autograd():
        for start in tqdm(starts, disable=not progress, desc="predict"):
            batch = np.stack([np.asarray(image, dtype=np.float32)
                              for image in images[start:start + int(batch_size)]])
            x = torch.from_numpy(normalize_flux(batch, model.flux_floor)).to(device)
            if model.keep_bands is not None:
                x = zero_bands(x, model.bands, model.keep_bands)
            means, variances = [], []
            for k in symmetries:
                xk = d4_transform(x, k).contiguous(memory_format=memory_format)
                mean, log_sigma = network.split_output(forward(xk).float())
                means.append(d4_inverse(mean, k))
                if log_sigma is not None:
                    variances.append(d4_inverse(torch.exp(2 * log_sigma), k))
            mean = torch.stack(means).mean(0)
            if log10_maps is None:
                shape = (n, n_properties, *mean.shape[-2:])
                log10_maps = np.empty(shape, dtype=np.float32)
                if variances:
                    sigmas = np.empty(shape, dtype=np.float32)
            log10_maps[start:start + len(batch)] = mean.cpu().numpy()
            if variances:
                spread = torch.stack(means).var(0, unbiased=False)
                sigma = torch.sqrt(torch.stack(variances).mean(0) + spread)
                sigmas[start:start + len(batch)] = sigma.cpu().numpy()
    if log10_maps is None:
        return np.empty((0, n_properties, 0, 0), dtype=np.float32), None
    if not np.all(np.isfinite(log10_maps)):
        raise FloatingPointError("the network produced non-finite values; the model is broken")
    return log10_maps, sigmas


def predict_cutouts(cutouts, model=None, *, batch_size=8, device=None, symmetries=(0,),
                    progress=False, compile=False, uncertainty=None):
    """
    Predict property maps for cutouts.

    Parameters
    ----------
    cutouts : sequence of `~picasso.GalaxyCutout`
    model : `~picasso.nn.Model`, str or path-like, optional
        A loaded model, a model file or training output directory; by
        default the bundled model (none is bundled yet: this raises).
    batch_size : int
        Images per forward pass.
    device : str or `torch.device`, optional
        Where to run; default where the model is (CPU after loading).
    symmetries : sequence of int
        Test-time augmentation over these symmetries of the square.
    progress : bool
    compile : bool
        Use the compiled network (see `predict_log10`).
    uncertainty : bool or None
        ``True``: give every map a per-pixel 1-sigma in dex
        (``maps.uncertainty``), which needs a deep ensemble
        (`picasso.nn.ensemble.Ensemble`) or a model with the heteroscedastic
        head; ``False``: leave it out; `None` (default): include it when the
        model provides one.

    Returns
    -------
    maps : list of `~picasso.PropertyMaps`
        One per cutout: surface densities (and mean age) in registry units,
        with the cutout's WCS and physical pixel scale; empty where the
        network predicts the empty sentinel; ``uncertainty`` in dex for an
        ensemble or a heteroscedastic model (see ``uncertainty``). ``meta``
        records the model and the cutout's own metadata.

    Raises
    ------
    ValueError
        If a cutout does not fit the model (see `check_cutout`), or
        ``uncertainty=True`` and the model gives no uncertainty.
    RuntimeError
        If ``model`` is `None` and no model is bundled.
    """
    from ..cutout import GalaxyCutout
    from ..maps import PropertyMaps

    if isinstance(cutouts, GalaxyCutout):
        raise TypeError("predict_cutouts takes a list of cutouts; use cutout.predict() for one")
    model = _resolve_model(model, device)
    if uncertainty and not (getattr(model, "members", None) or model.config.heteroscedastic):
        raise ValueError(
            "uncertainty=True needs a model that predicts one: a deep ensemble "
            "(picasso.nn.ensemble.train_ensemble / load_ensemble) or a network with the "
            "heteroscedastic head (UNetConfig(heteroscedastic=True)); this model has neither"
        )
    cutouts = list(cutouts)
    images = []
    for index, cutout in enumerate(cutouts):
        try:
            images.append(check_cutout(cutout, model))
        except ValueError as error:
            raise ValueError(f"cutout {index}: {error}") from None
    log10_maps, sigmas = model.predict_log10(images, batch_size=batch_size, device=device,
                                             symmetries=symmetries, progress=progress,
                                             **({"compile": True} if compile else {}))
    if uncertainty is False:
        sigmas = None
    model_meta = {"model_trained": model.trained,
                  "model_version": model.header.get("picasso_version")}
    # Out-of-distribution diagnostics against the model's training inputs (when recorded).
    ood = diagnose(model, images, psf_fwhm_pixels=[psf_fwhm_pixels(c) for c in cutouts],
                   sigma_dex=sigmas, properties=model.properties)
    warn_out_of_distribution(ood, [f"cutout {i}" for i in range(len(cutouts))], stacklevel=3)
    maps = []
    for index, cutout in enumerate(cutouts):
        meta = {**(cutout.meta or {}), **model_meta}
        if ood is not None:
            meta["ood"] = ood[index]
        maps.append(PropertyMaps.from_log10(
            log10_maps[index], model.properties, pixel_scale=cutout.pixel_scale_kpc,
            wcs=cutout.wcs, uncertainty=None if sigmas is None else sigmas[index], meta=meta,
        ))
    return maps


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
                    symmetries=(0,), overwrite=False, progress=False, compile=False):
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
    batch_size, device, symmetries, progress, compile
        As for `predict_cutouts`.
    overwrite : bool

    Returns
    -------
    written : list of `~pathlib.Path`
    """
    import h5py

    from ..io.atomic import atomic_path
    from ..io.dataset import PairDataset

    model = _resolve_model(model, device)
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
                images.append(check_cutout(cutout, model))
            except ValueError as error:
                raise ValueError(f"item {position}: {error}") from None
        log10_maps, sigmas = model.predict_log10(images, batch_size=batch_size,
                                                 device=device, symmetries=symmetries,
                                                 progress=progress,
                                                 **({"compile": True} if compile else {}))
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
        return [path]
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for start in range(0, len(cutouts), 64):
        chunk = cutouts[start:start + 64]
        maps = predict_cutouts(chunk, model, batch_size=batch_size, device=device,
                               symmetries=symmetries, progress=progress, compile=compile)
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
