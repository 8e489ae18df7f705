"""
Accuracy of predicted property maps over a population of galaxies.

The paper's per-galaxy residual is ``d = log10(true) - log10(pred)`` of a
total inside an aperture (positive ``d`` = under-prediction); over the
population ``mu = mean(d)`` and ``sigma = std(d)``. picasso adds robust
versions (median, normalised median absolute deviation) and the fraction of
outliers, the 16/50/84 percentiles per radial bin (the paper's Fig. 6), and
the same statistics per pixel.
"""

import logging

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ..properties import LOG10_EMPTY, PROPERTIES

__all__ = [
    "PAPER_HEADLINE",
    "PAPER_COLOUR_ML_SIGMA",
    "NMAD_SCALE",
    "DEFAULT_OUTLIER_NSIGMA",
    "log_residual",
    "residual_statistics",
    "PopulationReport",
    "radial_residual_percentiles",
    "pixel_statistics",
]

log = logging.getLogger(__name__)

#: The paper's headline accuracy (ugriz, 256 px, totals inside 2 R_half),
#: property -> {"sigma": dex, "mu": dex}. HI mass has no quoted value. The
#: paper's stellar-age channel was most likely a per-pixel SUM of ages, so its
#: age sigma is dominated by mass and is not directly comparable with picasso's
#: mass-weighted mean age.
PAPER_HEADLINE = {
    "stellar_mass": {"sigma": 0.090, "mu": 0.103},
    "gas_mass": {"sigma": 0.128, "mu": 0.069},
    "stellar_metal_mass": {"sigma": 0.143, "mu": 0.158},
    "gas_metal_mass": {"sigma": 0.195, "mu": 0.100},
    "stellar_age": {"sigma": 0.086, "mu": 0.028},
    "sfr": {"sigma": 0.22, "mu": 0.082},
}

#: Scatter the paper quotes for traditional colour mass-to-light stellar masses
#: per galaxy, (low, high) in dex (Bell et al. 2003; Zibetti et al. 2009).
PAPER_COLOUR_ML_SIGMA = (0.2, 0.3)

#: Factor that turns a median absolute deviation into a Gaussian sigma.
NMAD_SCALE = 1.4826

#: A galaxy is an outlier when ``|d - median(d)| > DEFAULT_OUTLIER_NSIGMA * sigma_nmad``.
DEFAULT_OUTLIER_NSIGMA = 3.0


def _values(quantity, unit):
    if isinstance(quantity, u.Quantity):
        return np.asarray(quantity.to_value(unit), dtype=float)
    return np.asarray(quantity, dtype=float)


def log_residual(true, pred):
    """
    The paper's residual ``log10(true) - log10(pred)``.

    Parameters
    ----------
    true, pred : `~astropy.units.Quantity` or array-like
        Totals (or any positive values) of the same physical kind; plain
        arrays are taken as being in the same unit.

    Returns
    -------
    d : `~astropy.units.Quantity`
        In dex; NaN where either value is not positive and finite (no
        logarithm exists there).

    Raises
    ------
    astropy.units.UnitConversionError
        If ``pred`` does not convert to the unit of ``true``.
    ValueError
        If the shapes do not broadcast.
    """
    if isinstance(true, u.Quantity) or isinstance(pred, u.Quantity):
        if not (isinstance(true, u.Quantity) and isinstance(pred, u.Quantity)):
            raise TypeError("give both true and pred as Quantity, or both as plain arrays")
        unit = true.unit
        true_values, pred_values = _values(true, unit), _values(pred, unit)
    else:
        true_values, pred_values = _values(true, None), _values(pred, None)
    true_values, pred_values = np.broadcast_arrays(true_values, pred_values)
    good = (true_values > 0) & (pred_values > 0) & np.isfinite(true_values)
    good &= np.isfinite(pred_values)
    d = np.full(true_values.shape, np.nan)
    d[good] = np.log10(true_values[good]) - np.log10(pred_values[good])
    return d * u.dex


def residual_statistics(d, *, outlier_nsigma=DEFAULT_OUTLIER_NSIGMA):
    """
    Population statistics of residuals.

    Parameters
    ----------
    d : `~astropy.units.Quantity` or array-like
        Residuals in dex; NaN entries are left out and counted as
        ``n_invalid``.
    outlier_nsigma : float
        Outliers are ``|d - median| > outlier_nsigma * sigma_nmad``.

    Returns
    -------
    stats : dict
        ``n`` (used), ``n_invalid``, ``mu`` (mean) and ``sigma`` (population
        standard deviation, ``ddof=0``) as in the paper, ``median``,
        ``sigma_nmad`` (1.4826 x median absolute deviation),
        ``outlier_fraction``, ``p16``, ``p84``; dex values are Quantities.
        With no valid residual every statistic is NaN.
    """
    values = _values(d, u.dex)
    valid = np.isfinite(values)
    values = values[valid]
    n = int(values.size)
    stats = {"n": n, "n_invalid": int((~valid).sum())}
    if n == 0:
        for key in ("mu", "sigma", "median", "sigma_nmad", "p16", "p84"):
            stats[key] = np.nan * u.dex
        stats["outlier_fraction"] = np.nan
        return stats
    median = float(np.median(values))
    nmad = NMAD_SCALE * float(np.median(np.abs(values - median)))
    stats["mu"] = float(np.mean(values)) * u.dex
    stats["sigma"] = float(np.std(values)) * u.dex
    stats["median"] = median * u.dex
    stats["sigma_nmad"] = nmad * u.dex
    stats["outlier_fraction"] = float(np.mean(np.abs(values - median) > outlier_nsigma * nmad))
    p16, p84 = np.percentile(values, [16, 84])
    stats["p16"], stats["p84"] = float(p16) * u.dex, float(p84) * u.dex
    return stats


class PopulationReport:
    """
    Per-galaxy residuals and population accuracy of predicted totals.

    Parameters
    ----------
    true_totals, pred_totals : `~astropy.table.QTable`
        One row per galaxy, in the same order, with one column per property
        holding totals inside the same aperture (as from
        `~picasso.analysis.aperture_totals`, stacked with `astropy.table.vstack`).
    properties : sequence of str, optional
        Which properties; every property column both tables share by default.
    label : str
        What the predictions are (``"picasso"``, ``"colour M/L"``), for tables.
    outlier_nsigma : float
        See `residual_statistics`.

    Attributes
    ----------
    residuals : `~astropy.table.QTable`
        Per-galaxy ``d`` for each property (dex).
    summary : `~astropy.table.QTable`
        One row per property: the `residual_statistics` and the paper's
        ``paper_mu`` and ``paper_sigma`` (NaN where the paper quotes none).
    """

    def __init__(self, true_totals, pred_totals, properties=None, *, label="picasso",
                 outlier_nsigma=DEFAULT_OUTLIER_NSIGMA):
        if len(true_totals) != len(pred_totals):
            raise ValueError(
                f"true_totals has {len(true_totals)} galaxies, pred_totals {len(pred_totals)}; "
                "they must match row by row"
            )
        if properties is None:
            properties = [name for name in PROPERTIES.names
                          if name in true_totals.colnames and name in pred_totals.colnames]
            if not properties:
                raise ValueError("true_totals and pred_totals share no property column")
        properties = PROPERTIES.validate(properties)
        for name in properties:
            for which, table in (("true_totals", true_totals), ("pred_totals", pred_totals)):
                if name not in table.colnames:
                    raise ValueError(f"{which} has no {name!r} column")
        self.properties = properties
        self.label = label
        self.residuals = QTable()
        rows = []
        for name in properties:
            d = log_residual(u.Quantity(true_totals[name]), u.Quantity(pred_totals[name]))
            self.residuals[name] = d
            stats = residual_statistics(d, outlier_nsigma=outlier_nsigma)
            paper = PAPER_HEADLINE.get(name, {})
            stats["paper_mu"] = paper.get("mu", np.nan) * u.dex
            stats["paper_sigma"] = paper.get("sigma", np.nan) * u.dex
            rows.append({"property": name, **stats})
        columns = ["property", "n", "n_invalid", "mu", "sigma", "median", "sigma_nmad",
                   "outlier_fraction", "p16", "p84", "paper_mu", "paper_sigma"]
        self.summary = QTable(
            {key: ([row[key] for row in rows] if key in ("property", "n", "n_invalid",
                                                           "outlier_fraction")
                   else u.Quantity([row[key] for row in rows])) for key in columns}
        )
        self.summary.meta["label"] = label

    def __getitem__(self, name):
        """dict: the statistics of one property."""
        if name not in self.properties:
            raise KeyError(f"no statistics for {name!r}; the report holds {self.properties}")
        row = self.summary[self.properties.index(name)]
        return {key: row[key] for key in self.summary.colnames if key != "property"}

    def to_dict(self):
        """
        Plain numbers for JSON.

        Returns
        -------
        record : dict
            ``label`` and, per property, the summary statistics in dex as floats
            (NaN becomes `None`).
        """
        def plain(value):
            if isinstance(value, u.Quantity):
                value = value.to_value(u.dex)
            value = value.item() if hasattr(value, "item") else value
            if isinstance(value, float) and not np.isfinite(value):
                return None
            return value

        return {
            "label": self.label,
            "unit": "dex",
            "properties": {
                name: {key: plain(value) for key, value in self[name].items()}
                for name in self.properties
            },
        }


def radial_residual_percentiles(true_profiles, pred_profiles, name, *, column=None,
                                percentiles=(16, 50, 84)):
    """
    Percentiles of the residual per radial bin, over galaxies (the paper's Fig. 6).

    Parameters
    ----------
    true_profiles, pred_profiles : sequence of `~astropy.table.QTable`
        Profiles from `~picasso.analysis.radial_profile`, one per galaxy, all
        with the same bins; the prediction's computed over the truth's pixels.
    name : str
        Property name.
    column : str, optional
        Profile column to compare; ``"<name>"`` (the annulus total) by default.
    percentiles : sequence of float
        Which percentiles.

    Returns
    -------
    table : `~astropy.table.QTable`
        One row per bin: ``r_inner``, ``r_outer``, ``radius`` (R_half),
        ``n`` (galaxies with a valid residual) and ``p<q>`` columns in dex
        (NaN where no galaxy has a valid residual).
    """
    if len(true_profiles) != len(pred_profiles) or not true_profiles:
        raise ValueError("need the same, non-zero number of true and predicted profiles")
    column = name if column is None else column
    reference = true_profiles[0]
    for profile in list(true_profiles) + list(pred_profiles):
        if len(profile) != len(reference) or not np.allclose(profile["r_outer"],
                                                              reference["r_outer"]):
            raise ValueError("every profile must have the same radial bins")
        if column not in profile.colnames:
            raise ValueError(f"a profile has no {column!r} column")
    d = np.vstack([
        log_residual(u.Quantity(t[column]), u.Quantity(p[column])).to_value(u.dex)
        for t, p in zip(true_profiles, pred_profiles)
    ])
    table = QTable()
    for key in ("r_inner", "r_outer", "radius"):
        table[key] = reference[key]
    valid = np.isfinite(d)
    table["n"] = valid.sum(axis=0)
    for q in percentiles:
        values = np.full(d.shape[1], np.nan)
        for index in range(d.shape[1]):
            if valid[:, index].any():
                values[index] = np.percentile(d[valid[:, index], index], q)
        table[f"p{q:g}"] = values * u.dex
    table.meta["property"] = name
    return table


def pixel_statistics(true_log10, pred_log10, properties=None, *,
                     outlier_nsigma=DEFAULT_OUTLIER_NSIGMA):
    """
    Per-pixel residual statistics over all non-empty truth pixels.

    Parameters
    ----------
    true_log10, pred_log10 : array-like
        ``(n_galaxies, n_properties, ny, nx)`` or ``(n_properties, ny, nx)``
        log10 maps in registry units, with `~picasso.properties.LOG10_EMPTY`
        marking empty truth pixels (as in pair datasets and network output).
    properties : sequence of str, optional
        The property of each plane; all seven in registry order by default.
    outlier_nsigma : float
        See `residual_statistics`.

    Returns
    -------
    table : `~astropy.table.QTable`
        One row per property with the `residual_statistics` of
        ``true - pred`` over pixels where the truth is non-empty (and the
        prediction is not the empty sentinel).
    """
    true_log10 = np.asarray(true_log10, dtype=float)
    pred_log10 = np.asarray(pred_log10, dtype=float)
    if true_log10.shape != pred_log10.shape:
        raise ValueError(f"shapes differ: true {true_log10.shape}, pred {pred_log10.shape}")
    if true_log10.ndim == 3:
        true_log10, pred_log10 = true_log10[None], pred_log10[None]
    if true_log10.ndim != 4:
        raise ValueError(f"expected (n, P, ny, nx) or (P, ny, nx) arrays, got {true_log10.shape}")
    names = PROPERTIES.validate(properties)
    if len(names) != true_log10.shape[1]:
        raise ValueError(f"{true_log10.shape[1]} planes but {len(names)} properties {names}")
    rows = []
    for index, name in enumerate(names):
        truth = true_log10[:, index]
        pred = pred_log10[:, index]
        valid = (truth > LOG10_EMPTY / 2) & (pred > LOG10_EMPTY / 2)
        valid &= np.isfinite(truth) & np.isfinite(pred)
        d = (truth[valid] - pred[valid]) * u.dex
        stats = residual_statistics(d, outlier_nsigma=outlier_nsigma)
        stats["n_invalid"] = int(((truth > LOG10_EMPTY / 2) & ~valid).sum())
        rows.append({"property": name, **stats})
    keys = ["n", "n_invalid", "mu", "sigma", "median", "sigma_nmad", "outlier_fraction",
            "p16", "p84"]
    table = QTable({"property": [row["property"] for row in rows]})
    for key in keys:
        values = [row[key] for row in rows]
        table[key] = u.Quantity(values) if isinstance(values[0], u.Quantity) else values
    return table
