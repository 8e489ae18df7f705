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
New figures use matplotlib's constrained layout, so labels, titles and colour
bars are never clipped; a figure passed in keeps the layout its caller gave
it. Every axis is labelled with its quantity and unit (taken from
`picasso.properties.PROPERTIES`), every colour bar too, and every figure has
a title.
"""

import logging

import astropy.units as u
import numpy as np

from ..properties import PROPERTIES
from .metrics import log_residual, residual_statistics

__all__ = [
    "plot_cutout",
    "plot_maps",
    "plot_galaxy",
    "plot_distributions",
    "plot_true_vs_predicted",
    "plot_radial_residuals",
    "property_label",
    "residual_label",
]

log = logging.getLogger(__name__)

# Font sizes in points: at the 100-150 dpi picasso saves figures with, none
# is below about 10 pixels.
_SUPTITLE_SIZE = 12
_TITLE_SIZE = 10
_LABEL_SIZE = 9
_TICK_SIZE = 8
_NOTE_SIZE = 8
_INSET_SIZE = 7

# Unit of the residuals ``log10 true - log10 predicted``.
_RESIDUAL_UNIT = u.dex


def property_label(name, total=True):
    """
    Axis label of a property, e.g. ``log10 stellar mass [M☉]``.

    Parameters
    ----------
    name : str
    total : bool
        Label the total (summed over an aperture, unit
        ``PROPERTIES[name].total_unit``); else the map, whose extensive
        properties are surface densities ``Σ`` in ``PROPERTIES[name].unit``.

    Returns
    -------
    label : str
    """
    prop = PROPERTIES[name]
    if total:
        return f"log10 {_display_name(name)} [{_unit_label(prop.total_unit)}]"
    quantity = f"Σ({_display_name(name)})" if prop.is_extensive else _display_name(name)
    return f"log10 {quantity} [{_unit_label(prop.unit)}]"


def residual_label(symbol="Δ"):
    """
    Label of the residual ``log10 true - log10 predicted``, e.g. ``Δ [dex]``.

    Parameters
    ----------
    symbol : str
        What the residual is called on the axis.

    Returns
    -------
    label : str
    """
    return f"{symbol} [{_unit_label(_RESIDUAL_UNIT)}]"


def _display_name(name):
    return name.replace("_", " ")


def _unit_label(unit):
    return unit.to_string("unicode")


def _new_figure(fig, figsize):
    """``fig``, or a new figure with constrained layout (nothing clipped)."""
    if fig is not None:
        return fig
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _panels(fig, ax, n, panel_size):
    """The figure and one axes per panel: ``ax`` itself, or a grid on ``fig``."""
    if ax is not None:
        if n != 1:
            raise ValueError(
                f"ax holds one panel but {n} properties were asked for; pass "
                "properties=[name] or a figure instead"
            )
        return ax.figure, [ax]
    nrows, ncols = _grid(n)
    fig = _new_figure(fig, (panel_size[0] * ncols, panel_size[1] * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for unused in axes[n:]:
        unused.remove()  # an empty frame or a blank slot in the layout helps nobody
    return fig, list(axes[:n])


def _grid(n):
    ncols = max(min(n, 3), 1)
    nrows = max(int(np.ceil(n / ncols)), 1)
    return nrows, ncols


def _titles(fig, ax, axes, names, title, default):
    """Each panel is titled by its property; the figure by ``title`` or ``default``."""
    for panel, name in zip(axes, names):
        panel.set_title(_display_name(name), fontsize=_TITLE_SIZE)
    if ax is None:
        fig.suptitle(default if title is None else title, fontsize=_SUPTITLE_SIZE)
    elif title is not None:
        ax.set_title(title, fontsize=_TITLE_SIZE)


def _style(ax):
    ax.tick_params(labelsize=_TICK_SIZE)


def _label_colorbar(colorbar, label):
    colorbar.set_label(label, fontsize=_LABEL_SIZE)
    colorbar.ax.tick_params(labelsize=_TICK_SIZE)
    return colorbar


def _offset_extent(shape, scale):
    """
    Image extent in offsets from the centre of the grid.

    Returns the ``imshow`` extent, the step per pixel, the centre in pixels
    and the unit of the offsets (pixels when ``scale`` is `None`).
    """
    if scale is None:
        scale = 1.0 * u.pix
    scale = u.Quantity(scale)
    step = float(scale.value)
    ny, nx = shape
    cx, cy = (nx - 1) / 2, (ny - 1) / 2
    extent = ((-0.5 - cx) * step, (nx - 0.5 - cx) * step,
              (-0.5 - cy) * step, (ny - 0.5 - cy) * step)
    return extent, step, (cx, cy), scale.unit


def _pixel_transform(ax, step, centre):
    """Transform from pixel coordinates to the offsets of `_offset_extent`."""
    from matplotlib.transforms import Affine2D

    return Affine2D().translate(-centre[0], -centre[1]).scale(step) + ax.transData


def _offset_labels(ax, unit, x=True, y=True):
    unit = unit.to_string()
    if x:
        ax.set_xlabel(f"x [{unit}]", fontsize=_LABEL_SIZE)
    if y:
        ax.set_ylabel(f"y [{unit}]", fontsize=_LABEL_SIZE)


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
                residual_range=0.5, title=None):
    """
    One galaxy: colour image and bands, then true, predicted and residual maps.

    With three or more properties each property is a column (true,
    predicted and residual maps down it); with fewer each is a row. True and
    predicted maps of a property share a colour bar labelled with the
    property's unit; all residual maps share one in dex. Axes are offsets
    from the centre of the grid, in kpc (arcsec for the images) where the
    pixel scale is known, else in pixels.

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
    title : str, optional
        Title of the figure.

    Returns
    -------
    fig : `~matplotlib.figure.Figure`
    """
    if properties is None:
        names = tuple(name for name in truth.properties if name in prediction.properties)
    else:
        names = PROPERTIES.validate(properties)
    if not names:
        raise ValueError("no property to plot: truth and prediction hold none in common")
    if tuple(truth.shape) != tuple(prediction.shape):
        raise ValueError(f"truth {truth.shape} and prediction {prediction.shape} grids differ")
    n = len(names)
    by_column = n >= 3
    panel = 1.7
    if by_column:
        width, maps_height = n * (panel + 0.8) + 0.6, 3 * (panel + 0.35) + 1.3
    else:
        width, maps_height = 3 * panel + 3.0, n * (panel + 0.35) + 0.6
    n_top = 0
    if cutout is not None:
        n_top = cutout.n_bands + all(band in cutout.bands for band in ("g", "r", "i"))
        top_panel = min(panel, width / n_top - 0.45)
        top_height = top_panel + 0.9
    fig = _new_figure(fig, (width, maps_height + (top_height if n_top else 0) + 0.4))
    fig.suptitle(title or "True and predicted maps; Δ = log10 true − log10 predicted",
                 fontsize=_SUPTITLE_SIZE)
    if n_top:
        top, bottom = fig.subfigures(2, 1, height_ratios=[top_height, maps_height])
        _plot_cutout_row(top, cutout)
    else:
        bottom = fig
    grid = (3, n) if by_column else (n, 3)
    axes = bottom.subplots(*grid, sharex=True, sharey=True, squeeze=False)
    if not by_column:
        axes = axes.T  # axes[kind, property] either way
    extent, step, centre, unit = _offset_extent(truth.shape, truth.pixel_scale)
    residual_images = []
    for column, name in enumerate(names):
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
            (residual, "residual Δ",
             dict(cmap="RdBu_r", vmin=-residual_range, vmax=residual_range)),
        )
        shown = []
        for kind, (image, what, style) in enumerate(panels):
            ax = axes[kind, column]
            shown.append(ax.imshow(image, origin="lower", extent=extent, **style))
            ax.set_title(f"{_display_name(name)}\n{what}", fontsize=_TITLE_SIZE)
            _style(ax)
            if geometry is not None:
                geometry.aperture(2.0).plot(ax=ax, color="cyan", lw=0.8,
                                            transform=_pixel_transform(ax, step, centre))
        _label_colorbar(bottom.colorbar(shown[0], ax=[axes[0, column], axes[1, column]],
                                        shrink=0.9), property_label(name, total=False))
        residual_images.append(shown[2])
    # One residual colour bar for all: every residual map has the same range.
    _label_colorbar(bottom.colorbar(residual_images[0], ax=list(axes[2]), extend="both",
                                    **(dict(location="bottom", shrink=0.4, aspect=40)
                                       if by_column else dict(shrink=0.9))),
                    residual_label())
    nrows, ncols = grid
    for row in range(nrows):
        for column in range(ncols):
            ax = axes[row, column] if by_column else axes[column, row]
            _offset_labels(ax, unit, x=row == nrows - 1, y=column == 0)
    return fig


def _plot_cutout_row(fig, cutout, rgb_bands=("i", "r", "g"), rgb_kwargs=None):
    """
    The colour image and every band of ``cutout``, in one row of ``fig``.

    The colour image is left out unless ``cutout`` has all of ``rgb_bands``;
    the bands are asinh-stretched. Returns the axes.
    """
    from astropy.visualization import AsinhStretch, ImageNormalize, PercentileInterval

    has_rgb = rgb_bands is not None and all(band in cutout.bands for band in rgb_bands)
    axes = fig.subplots(1, cutout.n_bands + has_rgb, sharex=True, sharey=True,
                        squeeze=False)[0]
    scale = cutout.pixel_scale
    extent, _, _, unit = _offset_extent(cutout.shape,
                                        None if scale is None else scale.to(u.arcsec))
    if has_rgb:
        axes[0].imshow(cutout.rgb(bands=tuple(rgb_bands), **(rgb_kwargs or {})),
                       origin="lower", extent=extent)
        axes[0].set_title(f"{''.join(rgb_bands[::-1])} composite", fontsize=_TITLE_SIZE)
    for ax, band in zip(axes[has_rgb:], cutout.bands):
        image = cutout.band(band).value
        norm = ImageNormalize(image, interval=PercentileInterval(99.5), stretch=AsinhStretch())
        ax.imshow(image, origin="lower", cmap="gray", norm=norm, extent=extent)
        ax.set_title(f"{band} band", fontsize=_TITLE_SIZE)
    for index, ax in enumerate(axes):
        _style(ax)
        _offset_labels(ax, unit, y=index == 0)
    return axes


def plot_distributions(true_totals, pred_totals, *, properties=None, baseline=None, fig=None,
                       ax=None, bins=20, title=None):
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
    title : str, optional
        Title of the figure (of the axes when ``ax`` is given).

    Returns
    -------
    fig : `~matplotlib.figure.Figure`
    """
    from matplotlib.ticker import MaxNLocator

    names = _names(true_totals, pred_totals, properties)
    fig, axes = _panels(fig, ax, len(names), (3.6, 3.0))
    _titles(fig, ax, axes, names, title, "Distributions of per-galaxy totals")
    for panel, name in zip(axes, names):
        unit = PROPERTIES[name].total_unit
        true_log = _log_values(true_totals[name], unit)
        pred_log = _log_values(pred_totals[name], unit)
        series = [(true_log, "true", "tab:blue"), (pred_log, "predicted", "tab:orange")]
        if baseline is not None and name in baseline.colnames:
            series.append((_log_values(baseline[name], unit), "colour M/L", "tab:green"))
        panel.set_xlabel(property_label(name), fontsize=_LABEL_SIZE)
        panel.set_ylabel("number of galaxies", fontsize=_LABEL_SIZE)
        panel.yaxis.set_major_locator(MaxNLocator(integer=True))
        _style(panel)
        finite = np.concatenate([values[np.isfinite(values)] for values, _, _ in series])
        if finite.size == 0:
            panel.text(0.5, 0.5, "no valid totals", ha="center", transform=panel.transAxes,
                       fontsize=_NOTE_SIZE)
            continue
        low, high = finite.min(), finite.max()
        edges = np.linspace(low - 0.05, high + 0.05, bins + 1)
        for values, label, colour in series:
            panel.hist(values[np.isfinite(values)], bins=edges, histtype="step", lw=1.5,
                       color=colour, label=label)
    if len(names):
        axes[0].legend(fontsize=_NOTE_SIZE)
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
                           label=None, title=None):
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
    title : str, optional
        Title of the figure (of the axes when ``ax`` is given); by default
        ``"True vs <label> totals"``.

    Returns
    -------
    fig : `~matplotlib.figure.Figure`
    """

    predictor = label or "predicted"
    names = _names(true_totals, pred_totals, properties)
    fig, axes = _panels(fig, ax, len(names), (4.2, 4.0))
    _titles(fig, ax, axes, names, title, f"True vs {predictor} totals")
    for panel, name in zip(axes, names):
        unit = PROPERTIES[name].total_unit
        x = _log_values(true_totals[name], unit)
        y = _log_values(pred_totals[name], unit)
        valid = np.isfinite(x) & np.isfinite(y)
        x, y = x[valid], y[valid]
        panel.set_xlabel("true " + property_label(name), fontsize=_LABEL_SIZE)
        panel.set_ylabel(f"{predictor}\n{property_label(name)}", fontsize=_LABEL_SIZE)
        _style(panel)
        if x.size == 0:
            panel.text(0.5, 0.5, "no valid galaxies", ha="center", transform=panel.transAxes,
                       fontsize=_NOTE_SIZE)
            continue
        density = _density_colours(x, y)
        order = np.argsort(density)
        panel.scatter(x[order], y[order], c=density[order], s=10, cmap="viridis", lw=0)
        low, high = min(x.min(), y.min()), max(x.max(), y.max())
        pad = 0.05 * max(high - low, 0.1)
        panel.plot([low - pad, high + pad], [low - pad, high + pad], color="black", lw=0.8)
        centres, percentiles = _running_percentiles(x, y)
        if centres.size:
            panel.plot(centres, percentiles[:, 1], color="grey", lw=1.2)
            panel.plot(centres, percentiles[:, 0], color="grey", lw=1.0, ls="--")
            panel.plot(centres, percentiles[:, 2], color="grey", lw=1.0, ls="--")
        panel.set_xlim(low - pad, high + pad)
        panel.set_ylim(low - pad, high + pad)
        d = log_residual(u.Quantity(true_totals[name]), u.Quantity(pred_totals[name]))
        stats = residual_statistics(d)
        dex = _unit_label(_RESIDUAL_UNIT)
        panel.text(0.03, 0.97,
                   f"μ = {stats['mu'].value:.3f} {dex}\nσ = {stats['sigma'].value:.3f} {dex}",
                   transform=panel.transAxes, va="top", fontsize=_NOTE_SIZE,
                   bbox=dict(facecolor="white", alpha=0.7, lw=0, pad=1))
        inset = panel.inset_axes([0.58, 0.17, 0.39, 0.27])
        values = d.value[np.isfinite(d.value)]
        span = max(np.abs(values).max(), 0.05)
        inset.hist(values, bins=np.linspace(-span, span, 16), color="tab:blue")
        inset.axvline(0, color="black", lw=0.6)
        inset.set_yticks([])
        inset.tick_params(labelsize=_INSET_SIZE, pad=1)
        inset.set_xlabel(residual_label(), fontsize=_INSET_SIZE, labelpad=1)
    return fig


def plot_radial_residuals(percentiles, *, fig=None, ax=None, title=None):
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
    title : str, optional
        Title of the figure (of the axes when ``ax`` is given).

    Returns
    -------
    fig : `~matplotlib.figure.Figure`
        Median as a solid line, 16th and 84th percentiles dashed, the band
        between them shaded.
    """
    names = [name for name in PROPERTIES.names if name in percentiles]
    if not names:
        raise ValueError("percentiles holds no known property")
    fig, axes = _panels(fig, ax, len(names), (3.6, 3.0))
    _titles(fig, ax, axes, names, title,
            "Pixel residuals Δ = log10 true − log10 predicted against radius\n"
            "(median, 16th and 84th percentiles)")
    for panel, name in zip(axes, names):
        table = percentiles[name]
        radius = np.asarray(table["radius"], dtype=float)
        p16, p50, p84 = (u.Quantity(table[key]).to_value(_RESIDUAL_UNIT)
                         for key in ("p16", "p50", "p84"))
        panel.fill_between(radius, p16, p84, color="c", alpha=0.2, lw=0)
        panel.plot(radius, p50, color="c", lw=1.5)
        panel.plot(radius, p16, color="c", lw=1.0, ls="--")
        panel.plot(radius, p84, color="c", lw=1.0, ls="--")
        panel.axhline(0, color="black", lw=0.6)
        panel.set_xlabel("semi-major axis [R_half]", fontsize=_LABEL_SIZE)
        panel.set_ylabel(residual_label(), fontsize=_LABEL_SIZE)
        _style(panel)
    return fig


def plot_cutout(cutout, fig=None, *, title=None, **rgb_kwargs):
    """
    Show the colour image and every band.

    Axes are offsets from the centre of the cutout in arcsec (pixels if
    the pixel scale is unknown); the bands are asinh-stretched.

    Parameters
    ----------
    cutout : `~picasso.GalaxyCutout`
    fig : `~matplotlib.figure.Figure`, optional
        Figure to draw into; a new one (constrained layout) by default.
    title : str, optional
        Title of the figure; by default the bands and the redshift.
    **rgb_kwargs
        Passed to `~picasso.GalaxyCutout.rgb` (``bands`` picks the colour image's).

    Returns
    -------
    fig : `~matplotlib.figure.Figure`
    """
    import matplotlib.pyplot as plt


    rgb_bands = tuple(rgb_kwargs.pop("bands", ("i", "r", "g")))
    has_rgb = all(name in cutout.bands for name in rgb_bands)
    n_panels = cutout.n_bands + has_rgb
    if fig is None:
        fig = plt.figure(figsize=(2.6 * n_panels, 3.6), layout="constrained")
    if title is None:
        title = f"{''.join(cutout.bands)} cutout"
        if cutout.redshift is not None:
            title += f", z = {cutout.redshift:.3f}"
        title += f" (asinh stretch of flux in {cutout.unit.to_string('unicode')})"
    fig.suptitle(title, fontsize=_SUPTITLE_SIZE)
    _plot_cutout_row(fig, cutout, rgb_bands, rgb_kwargs)
    return fig


def plot_maps(maps, fig=None, *, properties=None, cmap="magma", title=None):
    """
    Draw one log-scaled panel per property.

    Each panel has a colour bar labelled with its quantity and unit; axes
    are offsets from the centre of the grid in kpc (pixels if the pixel
    scale is unknown).

    Parameters
    ----------
    maps : `~picasso.PropertyMaps`
    fig : `~matplotlib.figure.Figure`, optional
        Figure to draw into; a new one (constrained layout) by default.
    properties : sequence of str, optional
        Which maps; all by default.
    cmap : str
        Matplotlib colour map.
    title : str, optional
        Title of the figure.

    Returns
    -------
    fig : `~matplotlib.figure.Figure`
    """
    import matplotlib.pyplot as plt


    names = PROPERTIES.validate(properties) if properties is not None else maps.properties
    if not names:
        raise ValueError("no property to plot")
    nrows, ncols = _grid(len(names))
    if fig is None:
        fig = plt.figure(figsize=(3.3 * ncols, 3.0 * nrows + 0.4), layout="constrained")
    fig.suptitle("Property maps" if title is None else title, fontsize=_SUPTITLE_SIZE)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for unused in axes.ravel()[len(names):]:
        unused.remove()
    extent, _, _, unit = _offset_extent(maps.shape, maps.pixel_scale)
    for index, name in enumerate(names):
        row, column = divmod(index, ncols)
        ax = axes[row, column]
        values = maps[name].value
        shown = np.full(maps.shape, np.nan)
        filled = (values > 0) & ~maps.empty(name)
        shown[filled] = np.log10(values[filled])
        image = ax.imshow(shown, origin="lower", cmap=cmap, extent=extent)
        _label_colorbar(fig.colorbar(image, ax=ax, shrink=0.9),
                        property_label(name, total=False))
        ax.set_title(name.replace("_", " "), fontsize=_TITLE_SIZE)
        _style(ax)
        # The lowest panel of each column carries its x label (and tick labels).
        lowest = index + ncols >= len(names)
        ax.xaxis.set_tick_params(labelbottom=lowest)
        _offset_labels(ax, unit, x=lowest, y=column == 0)
    return fig
