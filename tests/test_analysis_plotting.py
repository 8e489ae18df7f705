import io

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable
from matplotlib.figure import Figure

from picasso import PropertyMaps
from picasso.analysis.plotting import (
    plot_distributions,
    plot_galaxy,
    plot_radial_residuals,
    plot_true_vs_predicted,
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
    assert "μ = 0.000" in [text.get_text().split("\n")[0] for text in ax.texts]
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
