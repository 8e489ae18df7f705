"""
Analysis of property maps, as in the paper: galaxy geometry (photutils
isophotes with a moments fallback), totals in elliptical apertures, radial
profiles and gradients, population accuracy (mu, sigma and robust versions),
colour mass-to-light baselines, the paper's figures and the whole evaluation
behind ``picasso evaluate``.
"""

from .apertures import (
    DEFAULT_ANNULUS_EDGES,
    DEFAULT_APERTURE_K,
    Gradient,
    annulus_edges,
    aperture_total,
    aperture_totals,
    gradient,
    radial_profile,
)
from .baselines import (
    ABSOLUTE_SOLAR_MAGNITUDES,
    CHABRIER_FROM_DIET_SALPETER,
    COLOUR_RELATIONS,
    ColourMassToLight,
    band_luminosity,
    colour_mass_map,
    colour_mass_total,
)
from .evaluation import Evaluation, evaluate, load_predictions
from .geometry import (
    AUTHORS_IMAGE_SIZE,
    AUTHORS_R_HALF_PIXELS,
    GalaxyGeometry,
    authors_r_half,
    fit_geometry,
)
from .metrics import (
    PAPER_COLOUR_ML_SIGMA,
    PAPER_HEADLINE,
    PopulationReport,
    log_residual,
    pixel_statistics,
    radial_residual_percentiles,
    residual_statistics,
)
from .plotting import (
    plot_distributions,
    plot_galaxy,
    plot_radial_residuals,
    plot_true_vs_predicted,
)

__all__ = [
    "GalaxyGeometry",
    "fit_geometry",
    "authors_r_half",
    "AUTHORS_R_HALF_PIXELS",
    "AUTHORS_IMAGE_SIZE",
    "DEFAULT_APERTURE_K",
    "DEFAULT_ANNULUS_EDGES",
    "annulus_edges",
    "aperture_total",
    "aperture_totals",
    "radial_profile",
    "gradient",
    "Gradient",
    "log_residual",
    "residual_statistics",
    "PopulationReport",
    "radial_residual_percentiles",
    "pixel_statistics",
    "PAPER_HEADLINE",
    "PAPER_COLOUR_ML_SIGMA",
    "ColourMassToLight",
    "COLOUR_RELATIONS",
    "ABSOLUTE_SOLAR_MAGNITUDES",
    "CHABRIER_FROM_DIET_SALPETER",
    "band_luminosity",
    "colour_mass_total",
    "colour_mass_map",
    "plot_galaxy",
    "plot_distributions",
    "plot_true_vs_predicted",
    "plot_radial_residuals",
    "Evaluation",
    "evaluate",
    "load_predictions",
]
