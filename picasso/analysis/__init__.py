"""
Analysis of property maps, as in the paper: galaxy geometry (photutils
isophotes with a moments fallback), totals in elliptical apertures, radial
profiles and gradients, population accuracy (mu, sigma and robust versions),
colour mass-to-light baselines, SDSS-like model photometry of images and
the paper's figures. These functions
measure maps, whoever made them: they import only picasso's core objects
(`picasso.studies` joins them to the network and the synthetic universe).
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
    CHABRIER_FROM_DIET_SALPETER,
    COLOUR_RELATIONS,
    ColourMassToLight,
    band_luminosity,
    colour_mass_map,
    colour_mass_total,
)
from .geometry import (
    AUTHORS_ELLIPSE_EPS0,
    AUTHORS_ELLIPSE_PA0,
    AUTHORS_IMAGE_SIZE,
    AUTHORS_R_HALF_PIXELS,
    GalaxyGeometry,
    authors_geometry,
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
from .photometry import MODEL_PROFILES, ModelPhotometry, model_photometry, profile_image
from .plotting import (
    plot_cutout,
    plot_distributions,
    plot_galaxy,
    plot_maps,
    plot_radial_residuals,
    plot_true_vs_predicted,
)

__all__ = [
    "GalaxyGeometry",
    "fit_geometry",
    "authors_geometry",
    "authors_r_half",
    "AUTHORS_R_HALF_PIXELS",
    "AUTHORS_IMAGE_SIZE",
    "AUTHORS_ELLIPSE_EPS0",
    "AUTHORS_ELLIPSE_PA0",
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
    "CHABRIER_FROM_DIET_SALPETER",
    "band_luminosity",
    "colour_mass_total",
    "colour_mass_map",
    "ModelPhotometry",
    "MODEL_PROFILES",
    "model_photometry",
    "profile_image",
    "plot_cutout",
    "plot_maps",
    "plot_galaxy",
    "plot_distributions",
    "plot_true_vs_predicted",
    "plot_radial_residuals",
]
