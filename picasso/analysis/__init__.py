"""Analysis of property maps: geometry, apertures, profiles, metrics, baselines, figures."""
