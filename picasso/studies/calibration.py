"""
Is a predicted uncertainty honest? Coverage of the predicted intervals on
held-out data.

A per-pixel 1-sigma ``s`` (in dex) is calibrated when the true log10 value
falls inside ``prediction +- s`` for about 68.3 % of the pixels (inside
``+- n s`` for ``erf(n / sqrt 2)`` of them) and the standardised residuals
``z = (truth - prediction) / s`` have unit scatter. `interval_coverage`
measures this per property over the pixels where the truth is known;
`calibration_table` runs a model (an `~picasso.nn.ensemble.Ensemble` or a
heteroscedastic network) over a pair dataset and returns the table.
"""

import logging
import math

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ..io.dataset import PairDataset
from ..nn.loading import resolve_model
from ..properties import LOG10_EMPTY, PROPERTIES

__all__ = [
    "expected_coverage", "interval_coverage", "calibration_table", "fit_uncertainty_scale",
    "fit_mean_correction", "fit_known_floor",
]

log = logging.getLogger(__name__)


def expected_coverage(n_sigma=1.0):
    """
    Fraction of a Gaussian within ``+- n_sigma`` standard deviations.

    Parameters
    ----------
    n_sigma : float

    Returns
    -------
    fraction : float
        0.6827 for ``n_sigma = 1``.
    """
    if not n_sigma > 0:
        raise ValueError(f"n_sigma must be positive, got {n_sigma!r}")
    return math.erf(n_sigma / math.sqrt(2.0))


def _empty_accumulator():
    return {"n": 0, "inside": 0, "z_sum": 0.0, "z_sq": 0.0, "sigma": []}


def _accumulate(acc, truth, pred, sigma, n_sigma, rng, sample):
    known = (truth > LOG10_EMPTY / 2) & np.isfinite(pred) & np.isfinite(sigma)
    if not np.any(known):
        return
    d = (truth[known] - pred[known]).astype(np.float64)
    s = np.maximum(sigma[known].astype(np.float64), 1e-12)
    z = d / s
    acc["n"] += d.size
    acc["inside"] += int(np.count_nonzero(np.abs(d) <= n_sigma * s))
    acc["z_sum"] += float(z.sum())
    acc["z_sq"] += float((z**2).sum())
    values = s if d.size <= sample else rng.choice(s, size=sample, replace=False)
    acc["sigma"].append(values)


def _table(accumulators, properties, n_sigma):
    expected = expected_coverage(n_sigma)
    rows = []
    for name in properties:
        acc = accumulators[name]
        n = acc["n"]
        if n:
            mean_z = acc["z_sum"] / n
            sigma_sample = np.concatenate(acc["sigma"])
            rows.append({"property": name, "n_pixels": n, "coverage": acc["inside"] / n,
                         "z_std": math.sqrt(max(acc["z_sq"] / n - mean_z**2, 0.0)),
                         "z_mean": mean_z, "median_sigma": float(np.median(sigma_sample))})
        else:
            rows.append({"property": name, "n_pixels": 0, "coverage": np.nan, "z_std": np.nan,
                         "z_mean": np.nan, "median_sigma": np.nan})
    table = QTable({
        "property": [row["property"] for row in rows],
        "n_pixels": [row["n_pixels"] for row in rows],
        "coverage": [row["coverage"] for row in rows],
        "expected": [expected] * len(rows),
        "z_mean": [row["z_mean"] for row in rows],
        "z_std": [row["z_std"] for row in rows],
        "median_sigma": u.Quantity([row["median_sigma"] for row in rows], u.dex),
    })
    table.meta["n_sigma"] = float(n_sigma)
    table.meta["description"] = (
        f"fraction of known truth pixels inside prediction +- {n_sigma:g} sigma (coverage) "
        f"against the Gaussian expectation {expected:.4f}; z = (truth - prediction) / sigma"
    )
    return table


def _model_and_pairs(model, dataset, device, purpose):
    """The model (which must give an uncertainty) and the pairs, as `PairDataset`."""
    model = resolve_model(model, device)
    if not model.has_uncertainty:
        raise ValueError(
            f"the model predicts no uncertainty {purpose}: use an ensemble "
            "(picasso.nn.ensemble) or a network with the heteroscedastic head "
            "(UNetConfig(heteroscedastic=True))"
        )
    if not isinstance(dataset, PairDataset):
        dataset = PairDataset(dataset)
    return model, dataset


def _evenly_spread(dataset, indices, limit):
    """``indices`` (every pair by default), thinned evenly to at most ``limit``."""
    indices = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=int)
    if indices.size > limit:
        indices = indices[np.linspace(0, indices.size - 1, limit).astype(int)]
    return indices


def _predictions(model, dataset, positions, *, batch_size, device, progress=False):
    """Yield ``(position, log10 maps, sigma)`` of every pair, predicted 64 pairs at a time."""
    for start in range(0, len(positions), 64):
        chunk = positions[start:start + 64]
        images = [model.input_flux(dataset.cutout(int(i))) for i in chunk]
        mean, sigma = model.predict_log10(images, batch_size=batch_size, device=device,
                                          progress=progress)
        for offset, position in enumerate(chunk):
            yield int(position), mean[offset], sigma[offset]


def interval_coverage(truth_log10, pred_log10, sigma_dex, properties=None, *, n_sigma=1.0,
                      seed=0, sigma_sample=100_000):
    """
    Coverage of predicted intervals per property, over known truth pixels.

    Parameters
    ----------
    truth_log10, pred_log10 : array-like
        ``(n, P, N, N)`` or ``(P, N, N)`` log10 maps; truth pixels at the
        empty sentinel (`~picasso.properties.LOG10_EMPTY`) are left out.
    sigma_dex : array-like or `~astropy.units.Quantity`
        Predicted 1-sigma in dex, same shape.
    properties : sequence of str, optional
        Names of the ``P`` planes; all seven in registry order by default.
    n_sigma : float
        Half-width of the interval in sigmas (1: the 68 % interval).
    seed : int
        Seed of the subsample used for the median sigma.
    sigma_sample : int
        Size of that subsample per property.

    Returns
    -------
    table : `~astropy.table.QTable`
        One row per property: ``n_pixels``, ``coverage`` (fraction inside),
        ``expected`` (Gaussian fraction, 0.6827 for one sigma), ``z_mean``
        and ``z_std`` of the standardised residuals (0 and 1 when
        calibrated) and the ``median_sigma`` in dex.

    Raises
    ------
    ValueError
        If the shapes differ or the number of planes does not match
        ``properties``.
    """
    if isinstance(sigma_dex, u.Quantity):
        sigma_dex = sigma_dex.to_value(u.dex)
    truth = np.asarray(truth_log10, dtype=np.float32)
    pred = np.asarray(pred_log10, dtype=np.float32)
    sigma = np.asarray(sigma_dex, dtype=np.float32)
    if not truth.shape == pred.shape == sigma.shape:
        raise ValueError(
            f"truth {truth.shape}, prediction {pred.shape} and sigma {sigma.shape} must have "
            "the same shape"
        )
    if truth.ndim == 3:
        truth, pred, sigma = truth[None], pred[None], sigma[None]
    if truth.ndim != 4:
        raise ValueError(f"maps must be (P, N, N) or (n, P, N, N), got shape {truth.shape}")
    properties = PROPERTIES.validate(properties if properties is not None
                                     else PROPERTIES.names[:truth.shape[1]])
    if len(properties) != truth.shape[1]:
        raise ValueError(f"the maps have {truth.shape[1]} planes but {len(properties)} "
                         "properties were named")
    if np.any(sigma[np.isfinite(sigma)] < 0):
        raise ValueError("sigma_dex must not be negative")
    rng = np.random.default_rng(seed)
    accumulators = {name: _empty_accumulator() for name in properties}
    for plane, name in enumerate(properties):
        _accumulate(accumulators[name], truth[:, plane], pred[:, plane], sigma[:, plane],
                    n_sigma, rng, sigma_sample)
    return _table(accumulators, properties, n_sigma)


def calibration_table(model, dataset, *, n_sigma=1.0, batch_size=8, device=None, limit=None,
                      seed=0, progress=False):
    """
    Run a model with uncertainties over a pair dataset and measure coverage.

    Parameters
    ----------
    model : `~picasso.nn.Model`, str or path-like
        An `~picasso.nn.ensemble.Ensemble` or a heteroscedastic model (or a
        file holding one).
    dataset : `~picasso.io.dataset.PairDataset` or str
        Held-out pairs (not used in training).
    n_sigma : float
    batch_size : int
    device : str, optional
    limit : int, optional
        Use only the first ``limit`` pairs.
    seed : int
    progress : bool

    Returns
    -------
    table : `~astropy.table.QTable`
        See `interval_coverage`.

    Raises
    ------
    ValueError
        If the model gives no uncertainty (a single network without the
        heteroscedastic head).
    """
    model, dataset = _model_and_pairs(model, dataset, device, "to check")
    n = len(dataset) if limit is None else min(int(limit), len(dataset))
    properties = tuple(name for name in model.properties if name in dataset.properties)
    if not properties:
        raise ValueError("the model and the dataset share no property")
    model_plane = [model.properties.index(name) for name in properties]
    truth_plane = [dataset.properties.index(name) for name in properties]
    rng = np.random.default_rng(seed)
    accumulators = {name: _empty_accumulator() for name in properties}
    for position, mean, sigma in _predictions(model, dataset, range(n), batch_size=batch_size,
                                              device=device, progress=progress):
        truth = dataset[position]["truth"]
        for name, m_plane, t_plane in zip(properties, model_plane, truth_plane):
            _accumulate(accumulators[name], truth[t_plane], mean[m_plane], sigma[m_plane],
                        n_sigma, rng, 100_000)
    table = _table(accumulators, properties, n_sigma)
    table.meta["n_pairs"] = n
    return table


def fit_uncertainty_scale(model, dataset, *, indices=None, batch_size=8, device=None,
                          limit=2000, seed=0):
    """
    Per-property factors that make a model's 1-sigma intervals hold 68.3 % of the truth.

    The heteroscedastic head's sigma is the spread it learned on its training
    pairs; on pairs it never trained on (the validation split) the residuals
    are somewhat wider. The factor for a property is the 68.3rd percentile of
    ``|truth - prediction| / sigma`` over the known pixels of these pairs;
    stored in the model (``model.info["uncertainty_scale"]``) it multiplies
    every predicted sigma (`picasso.nn.Model.predict_log10`).

    Parameters
    ----------
    model : `~picasso.nn.Model`
        With the heteroscedastic head (or an ensemble); its current scale, if
        any, is removed before fitting.
    dataset : `~picasso.io.dataset.PairDataset` or path
    indices : array-like of int, optional
        The pairs to use (the validation split, never the test split);
        every pair by default.
    batch_size, device
        As for `~picasso.nn.Model.predict_log10`.
    limit : int
        Use at most this many pairs (evenly spread).
    seed : int
        Seed of the pixel subsample.

    Returns
    -------
    scale : dict
        Property name -> factor (1 means already calibrated).
    """
    model, dataset = _model_and_pairs(model, dataset, device, "to calibrate")
    indices = _evenly_spread(dataset, indices, limit)
    previous = model.info.pop("uncertainty_scale", None)
    rng = np.random.default_rng(seed)
    ratios = {name: [] for name in model.properties}
    try:
        for position, mean, sigma in _predictions(model, dataset, indices,
                                                  batch_size=batch_size, device=device):
            truth = dataset[position]["truth"]
            for plane, name in enumerate(model.properties):
                if name not in dataset.properties:
                    continue
                true = truth[dataset.properties.index(name)]
                known = true > LOG10_EMPTY / 2
                ratio = np.abs(true[known] - mean[plane][known]) / sigma[plane][known]
                if ratio.size > 2000:
                    ratio = rng.choice(ratio, 2000, replace=False)
                ratios[name].append(ratio)
    finally:
        if previous is not None:
            model.info["uncertainty_scale"] = previous
    return {name: float(np.quantile(np.concatenate(values), expected_coverage(1.0)))
            for name, values in ratios.items() if values}


def fit_mean_correction(model, dataset, *, indices=None, batch_size=8, device=None,
                        limit=2000, k=2.0, bounds=(-1.0, 3.0)):
    """
    Per-property weights of the lognormal mean correction that make totals unbiased.

    A pixel's expected surface density is ``10**(mu + c ln(10) sigma**2 / 2)``
    (`~picasso.nn.Model.expected_log10`); ``c = 1`` is exact for Gaussian
    errors in log10, but the errors of sparse maps (SFR, HI) are skewed and
    their sigma large, and the exact correction overshoots. For every surface
    density this finds the ``c`` for which the mean log10 ratio of true to
    predicted totals inside ``k`` half-mass radii (a circle on the image's
    centre, the dataset's ``r_half_kpc``; over the non-empty truth pixels,
    as `picasso.studies.evaluate` sums them) is zero on
    the given pairs (the validation split: never the test split). Stored in
    the model (``model.info["mean_correction"]``), it is what
    `~picasso.nn.Model.expected_log10` uses.

    Parameters
    ----------
    model : `~picasso.nn.Model`
        With an uncertainty (its ``uncertainty_scale``, if any, is applied).
    dataset : `~picasso.io.dataset.PairDataset` or path
    indices : array-like of int, optional
        The pairs to use (the validation split); every pair by default.
    batch_size, device
        As for `~picasso.nn.Model.predict_log10`.
    limit : int
        Use at most this many pairs (evenly spread).
    k : float
        Radius of the aperture in half-mass radii.
    bounds : (float, float)
        Range searched for ``c``; a property whose bias does not change sign
        in it gets the nearer bound.

    Returns
    -------
    correction : dict
        Property name -> ``c`` for every surface density.
    """
    from photutils.aperture import CircularAperture
    from scipy.optimize import brentq

    model, dataset = _model_and_pairs(model, dataset, device, "to correct its mean with")
    indices = _evenly_spread(dataset, indices, limit)
    names = [name for name in model.properties
             if PROPERTIES[name].is_extensive and name in dataset.properties]
    pixels = {name: [] for name in names}  # (true total, mu, half ln10 sigma^2) per image
    for position, mean, sigma in _predictions(model, dataset, indices, batch_size=batch_size,
                                              device=device):
        truth = dataset[position]["truth"]
        row = dataset.table[position]
        size = truth.shape[-1]
        radius = k * float((u.Quantity(row["r_half_kpc"], u.kpc)
                            / u.Quantity(row["pixel_scale_kpc"], u.kpc)).decompose())
        weight = CircularAperture(((size - 1) / 2, (size - 1) / 2), radius).to_mask(
            method="exact").to_image(truth.shape[-2:])
        for name in names:
            plane = model.properties.index(name)
            true = truth[dataset.properties.index(name)]
            inside = (true > LOG10_EMPTY / 2) & (weight > 0)
            if not inside.any():
                continue
            w = np.log10(weight[inside])
            pixels[name].append((np.log10(np.sum(10.0 ** (true[inside] + w))),
                                 mean[plane][inside].astype(float) + w,
                                 0.5 * np.log(10) * sigma[plane][inside] ** 2))

    def bias(c, records):
        return np.mean([total - np.log10(np.sum(10.0 ** (mu + c * shift)))
                        for total, mu, shift in records])

    correction = {}
    for name, records in pixels.items():
        if not records:
            continue
        low, high = bias(bounds[0], records), bias(bounds[1], records)
        if low * high > 0:
            correction[name] = float(bounds[0] if abs(low) < abs(high) else bounds[1])
        else:
            correction[name] = float(brentq(bias, *bounds, args=(records,), xtol=1e-3))
    return correction


def fit_known_floor(dataset, *, indices=None, limit=2000, quantile=1e-3):
    """
    Per-property log10 surface density below which the training truth holds nothing.

    The uncertainty head learns its sigma on pixels with a known truth only
    (`picasso.nn.loss.gaussian_nll`): in a pixel the truth leaves empty (the
    sky around a galaxy, a disc without star formation) the network's median
    falls far below every true value and its sigma is whatever the untrained
    head gives, several dex for SFR. The lognormal mean of such a pixel,
    ``10**(mu + c ln(10) sigma**2 / 2)``, is then many orders of magnitude
    above its median: summed over the sky it outweighs the galaxy. Stored in
    the model (``model.info["known_floor_log10"]``), this floor is where
    `~picasso.nn.Model.expected_log10` stops moving medians to the mean.

    Parameters
    ----------
    dataset : `~picasso.io.dataset.PairDataset` or path
    indices : array-like of int, optional
        The pairs to read (the training split); every pair by default.
    limit : int
        Read at most this many pairs (evenly spread).
    quantile : float
        The floor is this quantile of the known truth pixels' log10 values.

    Returns
    -------
    floor : dict
        Property name -> log10 floor for every surface density with known pixels.
    """
    dataset = dataset if isinstance(dataset, PairDataset) else PairDataset(dataset)
    if not 0.0 <= quantile < 1.0:
        raise ValueError(f"quantile must be in [0, 1), got {quantile}")
    known = {name: [] for name in dataset.properties if PROPERTIES[name].is_extensive}
    for position in _evenly_spread(dataset, indices, limit):
        truth = dataset[int(position)]["truth"]
        for name, values in known.items():
            plane = truth[dataset.properties.index(name)]
            values.append(plane[plane > LOG10_EMPTY / 2])
    floor = {}
    for name, values in known.items():
        values = np.concatenate(values)
        if values.size:
            floor[name] = float(np.quantile(values, quantile))
    return floor
