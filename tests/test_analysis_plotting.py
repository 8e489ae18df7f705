import io

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable
from helpers_analysis import disc_maps, exponential_disc
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from picasso import PROPERTIES, GalaxyCutout, PropertyMaps
from picasso.analysis import fit_geometry
from picasso.analysis.plotting import (
    plot_cutout,
    plot_distributions,
    plot_galaxy,
    plot_maps,
    plot_radial_residuals,
    plot_true_vs_predicted,
    property_label,
    residual_label,
)


def totals(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return QTable({"stellar_mass": 10 ** rng.uniform(9, 11, n) * u.Msun,
                   "sfr": 10 ** rng.uniform(-1, 1, n) * u.Msun / u.yr})


def test_true_vs_predicted_into_a_given_axes():
    truth = totals()
    fig = Figure()
    ax = fig.add_subplot()
    returned = plot_true_vs_predicted(truth, truth, properties=["stellar_mass"], ax=ax)
    assert returned is fig
    # A perfect prediction has no 2-D density: the colouring degrades, nothing raises.
    assert "μ = 0.000 dex" in [text.get_text().split("\n")[0] for text in ax.texts]
    with pytest.raises(ValueError, match="one panel"):
        plot_true_vs_predicted(truth, truth, ax=ax)


def test_figures_render_with_invalid_totals():
    truth = totals(n=5)
    pred = totals(n=5, seed=1)
    pred["sfr"] = np.zeros(5) * u.Msun / u.yr  # no logarithm anywhere
    fig = plot_true_vs_predicted(truth, pred)
    assert len([ax for ax in fig.axes if ax.get_label() != "<colorbar>"]) >= 2
    fig = plot_distributions(truth, pred, baseline=QTable({"stellar_mass": truth["stellar_mass"]}))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_radial_and_galaxy_panels():
    table = QTable({"radius": [0.25, 0.75], "p16": [-0.1, -0.05] * u.dex,
                    "p50": [0.0, 0.0] * u.dex, "p84": [0.1, 0.05] * u.dex})
    fig = plot_radial_residuals({"stellar_mass": table, "gas_mass": table})
    assert {ax.get_title() for ax in fig.axes} >= {"stellar mass", "gas mass"}
    with pytest.raises(ValueError, match="no known property"):
        plot_radial_residuals({"colour": table})
    maps = PropertyMaps({"stellar_mass": np.ones((8, 8)) * u.Msun / u.kpc**2},
                        pixel_scale=1 * u.kpc)
    fig = plot_galaxy(None, maps, maps)
    assert len(fig.axes) == 3 + 2  # true, predicted, residual and two colour bars
    other = PropertyMaps({"stellar_mass": np.ones((4, 4)) * u.Msun / u.kpc**2})
    with pytest.raises(ValueError, match="grids differ"):
        plot_galaxy(None, maps, other)


# --- Publication quality: every figure labelled, titled, legible and unclipped ----------------

MIN_FONT_SIZE = 7  # points; below this a saved figure is hard to read
COUNT_LABELS = {"number of galaxies"}  # axes of counts have no unit


def render(fig):
    """Draw ``fig`` (laying it out) and return its renderer."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def is_colorbar(ax):
    return ax.get_label() == "<colorbar>"


def all_axes(fig):
    """Every axes of ``fig``, inset axes included."""
    found = []
    for ax in fig.axes:
        found.append(ax)
        found.extend(ax.child_axes)
    return found


def shown_tick_labels(axis):
    return [label for label in axis.get_ticklabels()
            if label.get_visible() and label.get_text().strip()]


def has_unit(label):
    """True if ``label`` ends in a non-empty ``[unit]``."""
    label = label.strip()
    return label.endswith("]") and "[" in label and label.rindex("[") < len(label) - 2


def assert_publication_ready(fig):
    """
    The checks every figure picasso draws must pass: a title; no blank axes;
    every axis that shows tick labels labelled with a unit; every colour bar
    labelled with a unit; no text below MIN_FONT_SIZE; nothing outside the
    canvas.
    """
    renderer = render(fig)
    assert fig.get_suptitle().strip(), "the figure has no title"
    for ax in all_axes(fig):
        assert ax.has_data(), f"blank axes {ax!r} (title {ax.get_title()!r})"
        if is_colorbar(ax):
            label = ax.get_xlabel() or ax.get_ylabel()
            assert has_unit(label), f"colour bar label {label!r} has no unit"
            continue
        if ax in fig.axes:  # a main panel, not an inset
            assert ax.get_title().strip(), f"untitled axes {ax!r}"
        for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
            if shown_tick_labels(axis):
                assert has_unit(label) or label in COUNT_LABELS, (
                    f"{axis.axis_name} axis of {ax.get_title()!r} shows tick labels but its "
                    f"label {label!r} has no unit")
    texts = [text for text in fig.findobj(Text)
             if text.get_visible() and text.get_text().strip()]
    for text in texts:
        assert text.get_fontsize() >= MIN_FONT_SIZE, (
            f"{text.get_text()!r} is set in {text.get_fontsize()} pt")
    # Nothing clipped: the tight box of all artists lies inside the canvas ...
    tight = fig.get_tightbbox(renderer)
    width, height = fig.get_size_inches()
    tolerance = 1.0 / fig.dpi
    assert tight.x0 >= -tolerance and tight.y0 >= -tolerance, (tight, width, height)
    assert tight.x1 <= width + tolerance and tight.y1 <= height + tolerance, (tight, width, height)
    # ... and so does every title, label and note (the tick labels drawn are in the box
    # above; matplotlib keeps spare, undrawn tick labels at stale positions).
    ticks = {id(label) for ax in all_axes(fig) for axis in (ax.xaxis, ax.yaxis)
             for label in axis.get_ticklabels(which="both")}
    canvas = fig.bbox
    for text in texts:
        if id(text) in ticks:
            continue
        box = text.get_window_extent(renderer)
        assert (box.x0 >= canvas.x0 - 1 and box.y0 >= canvas.y0 - 1
                and box.x1 <= canvas.x1 + 1 and box.y1 <= canvas.y1 + 1), (
            f"{text.get_text()!r} at {box} lies outside the figure {canvas}")


def test_property_labels_take_units_from_the_registry():
    for name, prop in PROPERTIES.items():
        assert property_label(name).endswith(f"[{prop.total_unit.to_string('unicode')}]")
        assert property_label(name, total=False).endswith(f"[{prop.unit.to_string('unicode')}]")
    assert "Σ" in property_label("stellar_mass", total=False)
    assert "Σ" not in property_label("stellar_age", total=False)  # a mean, not a density
    assert residual_label() == "Δ [dex]"


@pytest.mark.parametrize("properties", [None, ["stellar_mass"]])
def test_true_vs_predicted_is_publication_ready(properties):
    truth, pred = totals(), totals(seed=1)
    fig = plot_true_vs_predicted(truth, pred, properties=properties, label="colour M/L")
    assert_publication_ready(fig)
    panels = [ax for ax in fig.axes if not is_colorbar(ax)]
    assert len(panels) == (2 if properties is None else 1)
    for ax, name in zip(panels, ("stellar_mass", "sfr")):
        unit = PROPERTIES[name].total_unit.to_string("unicode")
        assert ax.get_xlabel().startswith("true") and unit in ax.get_xlabel()
        assert "colour M/L" in ax.get_ylabel() and unit in ax.get_ylabel()
        (inset,) = ax.child_axes
        assert inset.get_xlabel() == residual_label()


def test_single_panel_baseline_figure_is_not_clipped():
    # The report's fig5_baseline_* figures: one panel, a long predictor name.
    truth = totals()
    fig = plot_true_vs_predicted(truth, totals(seed=2), properties=["stellar_mass"],
                                 label="colour M/L per galaxy (bell03_gr_r)")
    assert_publication_ready(fig)
    width, height = fig.get_size_inches()
    assert width * 100 >= 400 and height * 100 >= 380  # legible even at 100 dpi
    assert "colour M/L per galaxy (bell03_gr_r)" in fig.get_suptitle()


def test_distributions_are_publication_ready():
    truth = totals(n=40)
    fig = plot_distributions(truth, totals(n=40, seed=3),
                             baseline=QTable({"stellar_mass": truth["stellar_mass"]}))
    assert_publication_ready(fig)
    for ax, name in zip(fig.axes, ("stellar_mass", "sfr")):
        assert PROPERTIES[name].total_unit.to_string("unicode") in ax.get_xlabel()
        assert ax.get_ylabel()


def test_grids_leave_no_empty_axes():
    # Seven properties on a 3-column grid: the two spare cells hold no axes at all.
    rng = np.random.default_rng(4)
    table = QTable({name: 10 ** rng.uniform(0, 1, 10) * PROPERTIES[name].total_unit
                    for name in PROPERTIES.names})
    fig = plot_true_vs_predicted(table, table)
    assert len(fig.axes) == len(PROPERTIES)
    fig = plot_distributions(table, table)
    assert len(fig.axes) == len(PROPERTIES)
    assert_publication_ready(fig)


def test_radial_residuals_are_publication_ready():
    table = QTable({"radius": [0.25, 0.75, 1.25], "p16": [-0.1, -0.05, -0.1] * u.dex,
                    "p50": [0.0, 0.01, 0.0] * u.dex, "p84": [0.1, 0.05, 0.1] * u.dex})
    fig = plot_radial_residuals({name: table for name in PROPERTIES.names})
    assert_publication_ready(fig)
    for ax in fig.axes:
        assert ax.get_ylabel() == residual_label()
        assert has_unit(ax.get_xlabel())


def galaxy(shape=(48, 48)):
    """A cutout and true / predicted maps of one synthetic disc, with its geometry."""
    centre = ((shape[1] - 1) / 2, (shape[0] - 1) / 2)
    truth = disc_maps(shape, pixel_scale=0.4 * u.kpc, age=5.0, center=centre, r_half=6.0)
    prediction = PropertyMaps({name: truth[name] * 1.1 for name in truth.properties},
                              pixel_scale=truth.pixel_scale)
    disc = exponential_disc(shape, center=centre, r_half=6.0, total=100.0)
    flux = np.array([0.3, 1.0, 2.0, 2.6, 3.0])[:, None, None] * disc * u.nanomaggy
    cutout = GalaxyCutout(flux, pixel_scale=0.396 * u.arcsec, redshift=0.05)
    geometry = fit_geometry(truth["stellar_mass"], pixel_scale=truth.pixel_scale)
    return cutout, truth, prediction, geometry


@pytest.mark.parametrize("properties", [None, ["stellar_mass", "sfr"]])
def test_galaxy_figure_is_publication_ready(properties):
    cutout, truth, prediction, geometry = galaxy()
    fig = plot_galaxy(cutout, truth, prediction, properties=properties, geometry=geometry)
    assert_publication_ready(fig)
    names = PROPERTIES.validate(properties) if properties else truth.properties
    colorbars = [ax for ax in fig.axes if is_colorbar(ax)]
    labels = {ax.get_xlabel() or ax.get_ylabel() for ax in colorbars}
    # One colour bar per property for its true and predicted maps, one for all residuals.
    assert labels == {property_label(name, total=False) for name in names} | {residual_label()}
    # Map axes are in kpc, image axes in arcsec, taken from the pixel scales.
    xlabels = {ax.get_xlabel() for ax in fig.axes if not is_colorbar(ax)} - {""}
    assert xlabels == {"x [kpc]", "x [arcsec]"}
    # The maps fill the width of the figure (they used to leave its right half blank).
    maps = [ax for ax in fig.axes if not is_colorbar(ax) and "band" not in ax.get_title()
            and "composite" not in ax.get_title()]
    assert len(maps) == 3 * len(names)
    renderer = render(fig)
    left = min(ax.get_tightbbox(renderer).x0 for ax in maps)
    right = max(ax.get_tightbbox(renderer).x1 for ax in maps)
    assert (right - left) / fig.bbox.width > 0.7


def test_galaxy_figure_without_pixel_scale_uses_pixels():
    maps = PropertyMaps({"stellar_mass": np.ones((8, 8)) * u.Msun / u.kpc**2})
    fig = plot_galaxy(None, maps, maps, title="one galaxy")
    assert fig.get_suptitle() == "one galaxy"
    assert_publication_ready(fig)
    assert {ax.get_xlabel() for ax in fig.axes if not is_colorbar(ax)} - {""} == {"x [pix]"}


def test_property_maps_and_cutout_plots_are_publication_ready():
    import matplotlib.pyplot as plt

    cutout, truth, _, _ = galaxy()
    for fig in (plot_maps(truth), plot_maps(truth, properties=["sfr"], title="SFR"), plot_cutout(cutout)):
        try:
            assert_publication_ready(fig)
        finally:
            plt.close(fig)
    fig = plot_maps(truth, properties=["stellar_mass", "stellar_age"])
    try:
        labels = [ax.get_ylabel() for ax in fig.axes if is_colorbar(ax)]
        assert labels == [property_label("stellar_mass", total=False),
                          property_label("stellar_age", total=False)]
    finally:
        plt.close(fig)
    fig = plot_cutout(cutout, bands=("z", "r", "u"))
    try:
        assert fig.axes[0].get_title() == "urz composite"
        assert "nmgy" in fig.get_suptitle()
        assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("x [arcsec]", "y [arcsec]")
    finally:
        plt.close(fig)
