"""
Studies: the workflows that join the network, the synthetic universe, the
readers and the analysis -- evaluating a model as the paper does, checking
its uncertainties, the paper's band / resolution / training-size
experiments, synthetic galaxies injected into real frames, model cards, and
catalogues of real galaxies run on Dask.

This is the one floor of picasso that imports all the others; importing it
imports torch.
"""

from .calibration import calibration_table
from .card import LIMITATIONS, model_card, record_results
from .catalog import CatalogResult, measure_maps, plot_catalog_summary, read_catalog, run_catalog
from .evaluation import Evaluation, evaluate, load_predictions
from .experiments import STUDIES, run_study
from .injection import InjectedGalaxy, InjectionResult, Placement, crop_frame, inject, inject_galaxy
from .provenance import generator_record, training_observing

__all__ = [
    "Evaluation",
    "evaluate",
    "load_predictions",
    "calibration_table",
    "run_catalog",
    "read_catalog",
    "measure_maps",
    "plot_catalog_summary",
    "CatalogResult",
    "STUDIES",
    "run_study",
    "Placement",
    "InjectedGalaxy",
    "InjectionResult",
    "inject",
    "inject_galaxy",
    "crop_frame",
    "model_card",
    "record_results",
    "LIMITATIONS",
    "generator_record",
    "training_observing",
]
