"""
The paper's figures, drawn with matplotlib on picasso's objects.

- `plot_galaxy`: Fig. 1-style panels, the colour image and every band above
  true / predicted / residual maps per property;
- `plot_distributions`: Fig. 4, distributions of true and predicted totals;
- `plot_true_vs_predicted`: Fig. 5, true against predicted totals coloured by
  a kernel density estimate, with the running median, 16th/84th percentile
  lines and an inset of the residuals with their mean and scatter;
- `plot_radial_residuals`: Fig. 6, residual percentiles against radius.

Every function draws on a new `matplotlib.figure.Figure` (no pyplot state,
so it works headless and in batch) unless given one, and returns the figure.
"""

import logging

import astropy.units as u
import numpy as np

from ..properties import PROPERTIES

__all__ = [
    "plot_galaxy",
    "plot_distributions",
    "plot_true_vs_predicted",
    "plot_radial_residuals",
    "property_label",
]

log = logging.getLogger(__name__)


def property_label(name, total=True):
    """
    Axis label of a property, e.g. ``log10 M_* [Msun]``.

    Parameters
    ----------
    name : str
    total : bool
        Label the total's unit (else the map's).

    Returns
    -------
    label : str
    """
    prop = PROPERTIES[name]
    unit = prop.total_unit if total else prop.unit
    return f"log10 {name.replace('_', ' ')} [{unit.to_string('unicode')}]"


def _new_figure(fig, figsize, **spacing):
    if fig is not None:
        return fig
    from matplotlib.figure import Figure

    # Fixed spacing rather than a layout engine: constrained layout costs
    # seconds per figure, which adds up over a batch of reports.
    fig = Figure(figsize=figsize)
    fig.subplots_adjust(**{"left": 0.1, "right": 0.97, "bottom": 0.1, "top": 0.93,
                           "wspace": 0.35, "hspace": 0.45, **spacing})
    return fig


def _panels(fig, ax, n, panel_size, **spacing):
    """The figure and one axes per panel: ``ax`` itself, or a grid on ``fig``."""
    if ax is not None:
        if n != 1:
            raise ValueError(
                f"ax holds one panel but {n} properties were asked for; pass "
                "properties=[name] or a figure instead"
            )
        return ax.figure, [ax]
    nrows, ncols = _grid(n)
    fig = _new_figure(fig, (panel_size[0] * ncols, panel_size[1] * nrows), **spacing)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for unused in axes[n:]:
        unused.set_axis_off()
    return fig, list(axes[:n])


def _grid(n):
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    return nrows, ncols


def _log_values(column, unit):
    values = np.asarray(u.Quantity(column).to_value(unit), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(values)
    return np.where(np.isfinite(logs), logs, np.nan)


def _names(true_totals, pred_totals, properties):
    if properties is not None:
        return PROPERTIES.validate(properties)
    return tuple(name for name in PROPERTIES.names
                 if name in true_totals.colnames and name in pred_totals.colnames)


def _log_map(maps, name, empty=None):
    values = maps[name].value
    shown = np.full(values.shape, np.nan)
    filled = values > 0
    if empty is not None:
        filled &= ~empty
    shown[filled] = np.log10(values[filled])
    return shown


def plot_galaxy(cutout, truth, prediction, *, properties=None, geometry=None, fig=None,
                residual_range=0.5):
    """
    One galaxy: colour image and bands, then true, predicted and residual maps.

    Parameters
    ----------
    cutout : `~picasso.GalaxyCutout` or None
        The input image (top row); left out when `None`.
    truth, prediction : `~picasso.PropertyMaps`
        On the same grid; residuals ``log10 true - log10 pred`` are shown
        where the truth is non-empty.
    properties : sequence of str, optional
        Which properties; those both maps hold by default.
    geometry : `~picasso.analysis.GalaxyGeometry`, optional
        Draw the 2 R_half ellipse on every map.
    fig : `~matplotlib.figure.Figure`, optional
    residual_range : float
        Colour range of the residual maps, +- dex.

    Returns
    -------
    fig : `~matplotlib.figure.Figure`
    """
    from astropy.visualization import AsinhStretch, ImageNormalize, PercentileInterval

    if properties is None:
        names = tuple(name for name in truth.properties if name in prediction.properties)
    else:
        names = PROPERTIES.validate(properties)
    if tuple(truth.shape) != tuple(prediction.shape):
        raise ValueError(f"truth {truth.shape} and prediction {prediction.shape} grids differ")
    n_top = 0 if cutout is None else cutout.n_bands + 1
    ncols = max(3, n_top)
    nrows = len(names) + (cutout is not None)
    fig = _new_figure(fig, (2.3 * ncols, 2.2 * nrows), left=0.02, right=0.95, bottom=0.02,
                      top=0.96, wspace=0.3, hspace=0.3)
    grid = fig.add_gridspec(nrows, ncols)
    # Only the panels drawn get axes: a full nrows x ncols grid of mostly empty
    # axes makes large figures slow to lay out and save.
    axes = np.empty((nrows, ncols), dtype=object)
    used = [(0, column) for column in range(n_top)] if cutout is not None else []
    used += [(row, column) for row in range(cutout is not None, nrows) for column in range(3)]
    for row, column in used:
        axes[row, column] = fig.add_subplot(grid[row, column])
        axes[row, column].set_xticks([])
        axes[row, column].set_yticks([])
    row = 0
    if cutout is not None:
        if all(band in cutout.bands for band in ("g", "r", "i")):
            axes[0, 0].imshow(cutout.rgb(), origin="lower")
            axes[0, 0].set_title("gri", fontsize=8)
        else:
            axes[0, 0].set_axis_off()
        for column, band in enumerate(cutout.bands, start=1):
            image = cutout.band(band).value
            norm = ImageNormalize(image, interval=PercentileInterval(99.5),
                                  stretch=AsinhStretch())
            axes[0, column].imshow(image, origin="lower", cmap="gray", norm=norm)
            axes[0, column].set_title(band, fontsize=8)
        row = 1
    for name in names:
        empty = truth.empty(name)
        true_map = _log_map(truth, name, empty)
        pred_map = _log_map(prediction, name)
        finite = true_map[np.isfinite(true_map)]
        low, high = (np.percentile(finite, [1, 99.5]) if finite.size else (0.0, 1.0))
        if high - low < 0.05:  # a (nearly) constant map: give the colours some room
            low, high = low - 0.1, high + 0.1
        residual = true_map - pred_map
        panels = (
            (true_map, "true", dict(cmap="magma", vmin=low, vmax=high)),
            (np.where(empty, np.nan, pred_map), "predicted",
             dict(cmap="magma", vmin=low, vmax=high)),
            (residual, "true - pred [dex]",
             dict(cmap="RdBu_r", vmin=-residual_range, vmax=residual_range)),
        )
        for column, (image, title, style) in enumerate(panels):
            ax = axes[row, column]
            shown = ax.imshow(image, origin="lower", **style)
            ax.set_title(f"{name}: {title}", fontsize=7)
            if column:  # true and predicted share the first colour bar
                fig.colorbar(shown, ax=list(axes[row, :2]) if column == 1 else ax, shrink=0.8)
            if geometry is not None:
                geometry.aperture(2.0).plot(ax=ax, color="cyan", lw=0.8)
        row += 1
    return fig


def plot_distributions(true_totals, pred_totals, *, properties=None, baseline=None, fig=None,
                       ax=None, bins=20):
    """
    Distributions of true and predicted totals (the paper's Fig. 4).

    Parameters
    ----------
    true_totals, pred_totals : `~astropy.table.QTable`
        Per-galaxy totals, one column per property.
    properties : sequence of str, optional
    baseline : `~astropy.table.QTable`, optional
        Totals of a classical method (e.g. colour M/L stellar mass) to draw
        too, for the properties it holds.
    fig : `~matplotlib.figure.Figure`, optional
    ax : `~matplotlib.axes.Axes`, optional
        Draw a single property into this axes instead.
    bins : int

    Returns
    -------
    fig : `~matplotlib.figure.Figure`
    """
    names = _names(true_totals, pred_totals, properties)
    fig, axes = _panels(fig, ax, len(names), (3.2, 2.6))
    for ax, name in zip(axes, names):
        unit = PROPERTIES[name].total_unit
        true_log = _log_values(true_totals[name], unit)
        pred_log = _log_values(pred_totals[name], unit)
        series = [(true_log, "true", "tab:blue"), (pred_log, "predicted", "tab:orange")]
        if baseline is not None and name in baseline.colnames:
            series.append((_log_values(baseline[name], unit), "colour M/L", "tab:green"))
        finite = np.concatenate([values[np.isfinite(values)] for values, _, _ in series])
        if finite.size == 0:
            ax.text(0.5, 0.5, "no valid totals", ha="center", transform=ax.transAxes)
            continue
        low, high = finite.min(), finite.max()
        edges = np.linspace(low - 0.05, high + 0.05, bins + 1)
        for values, label, colour in series:
            ax.hist(values[np.isfinite(values)], bins=edges, histtype="step", lw=1.5,
                    color=colour, label=label)
        ax.set_xlabel(property_label(name), fontsize=8)
        ax.set_ylabel("galaxies", fontsize=8)
    if len(names):
        axes[0].legend(fontsize=7)
    return fig


def _density_colours(x, y):
    """Kernel density at each point (the paper's colouring), or ones if degenerate."""
    from scipy.stats import gaussian_kde

    if x.size < 3:
        return np.ones_like(x)
    try:
        return gaussian_kde(np.vstack([x, y]))(np.vstack([x, y]))
    except (np.linalg.LinAlgError, ValueError):
        # All points on a line (e.g. a perfect prediction): no 2-D density.
        return np.ones_like(x)


def _running_percentiles(x, y, n_bins=10, min_count=3):
    edges = np.linspace(x.min(), x.max(), n_bins + 1)
    centres, rows = [], []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (x >= low) & (x <= high)
        if inside.sum() >= min_count:
            centres.append(0.5 * (low + high))
            rows.append(np.percentile(y[inside], [16, 50, 84]))
    return np.asarray(centres), np.asarray(rows).reshape(-1, 3)


def plot_true_vs_predicted(true_totals, pred_totals, *, properties=None, fig=None, ax=None,
                           label=None):
    """
    True against predicted totals, per property (the paper's Fig. 5).

    Points are coloured by a Gaussian kernel density estimate of the galaxy
    density; grey lines show the running median (solid) and 16th/84th
    percentiles (dashed) of the prediction in bins of the truth; the inset
    shows the distribution of ``d = log10 true - log10 pred`` with its mean
    ``mu`` and standard deviation ``sigma``.

    Parameters
    ----------
    true_totals, pred_totals : `~astropy.table.QTable`
        Per-galaxy totals, one column per property, rows aligned.
    properties : sequence of str, optional
    fig : `~matplotlib.figure.Figure`, optional
    ax : `~matplotlib.axes.Axes`, optional
        Draw a single property into this axes instead.
    label : str, optional
        Name of the predictor for the y axis (default ``"predicted"``).

    Returns
    -------
    fig : `~matplotlib.figure.Figure`
    """
    from .metrics import log_residual, residual_statistics

    names = _names(true_totals, pred_totals, properties)
    fig, axes = _panels(fig, ax, len(names), (3.6, 3.3), left=0.08, wspace=0.4, hspace=0.4)
    for ax, name in zip(axes, names):
        unit = PROPERTIES[name].total_unit
        x = _log_values(true_totals[name], unit)
        y = _log_values(pred_totals[name], unit)
        valid = np.isfinite(x) & np.isfinite(y)
        x, y = x[valid], y[valid]
        ax.set_xlabel("true " + property_label(name), fontsize=7)
        ax.set_ylabel(f"{label or 'predicted'}", fontsize=7)
        if x.size == 0:
            ax.text(0.5, 0.5, "no valid galaxies", ha="center", transform=ax.transAxes)
            continue
        density = _density_colours(x, y)
        order = np.argsort(density)
        ax.scatter(x[order], y[order], c=density[order], s=8, cmap="viridis", lw=0)
        low, high = min(x.min(), y.min()), max(x.max(), y.max())
        pad = 0.05 * max(high - low, 0.1)
        ax.plot([low - pad, high + pad], [low - pad, high + pad], color="black", lw=0.8)
        centres, percentiles = _running_percentiles(x, y)
        if centres.size:
            ax.plot(centres, percentiles[:, 1], color="grey", lw=1.2)
            ax.plot(centres, percentiles[:, 0], color="grey", lw=1.0, ls="--")
            ax.plot(centres, percentiles[:, 2], color="grey", lw=1.0, ls="--")
        ax.set_xlim(low - pad, high + pad)
        ax.set_ylim(low - pad, high + pad)
        d = log_residual(u.Quantity(true_totals[name]), u.Quantity(pred_totals[name]))
        stats = residual_statistics(d)
        ax.text(0.03, 0.97,
                f"μ = {stats['mu'].value:.3f}\nσ = {stats['sigma'].value:.3f}",
                transform=ax.transAxes, va="top", fontsize=7)
        inset = ax.inset_axes([0.6, 0.08, 0.37, 0.3])
        values = d.value[np.isfinite(d.value)]
        span = max(np.abs(values).max(), 0.05)
        inset.hist(values, bins=np.linspace(-span, span, 16), color="tab:blue")
        inset.axvline(0, color="black", lw=0.6)
        inset.set_yticks([])
        inset.tick_params(labelsize=5)
        inset.set_xlabel("Δ [dex]", fontsize=5, labelpad=1)
    return fig


def plot_radial_residuals(percentiles, *, fig=None, ax=None):
    """
    Residual percentiles against radius, per property (the paper's Fig. 6).

    Parameters
    ----------
    percentiles : dict
        Property name to a table from
        `~picasso.analysis.radial_residual_percentiles` (columns ``radius``,
        ``p16``, ``p50``, ``p84``).
    fig : `~matplotlib.figure.Figure`, optional
    ax : `~matplotlib.axes.Axes`, optional
        Draw a single property into this axes instead.

    Returns
    -------
    fig : `~matplotlib.figure.Figure`
        Median as a solid line, 16th and 84th percentiles dashed, the band
        between them shaded.
    """
    names = [name for name in PROPERTIES.names if name in percentiles]
    if not names:
        raise ValueError("percentiles holds no known property")
    fig, axes = _panels(fig, ax, len(names), (3.2, 2.6))
    for ax, name in zip(axes, names):
        table = percentiles[name]
        radius = np.asarray(table["radius"], dtype=float)
        p16, p50, p84 = (u.Quantity(table[key]).to_value(u.dex) for key in ("p16", "p50", "p84"))
        ax.fill_between(radius, p16, p84, color="c", alpha=0.2, lw=0)
        ax.plot(radius, p50, color="c", lw=1.5)
        ax.plot(radius, p16, color="c", lw=1.0, ls="--")
        ax.plot(radius, p84, color="c", lw=1.0, ls="--")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(name.replace("_", " "), fontsize=8)
        ax.set_xlabel("semi-major axis [R_half]", fontsize=7)
        ax.set_ylabel("log true - log pred [dex]", fontsize=7)
    return fig
