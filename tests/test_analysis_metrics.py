import json

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable
from numpy.testing import assert_allclose

from picasso import PROPERTIES
from picasso.analysis.metrics import (
    PAPER_HEADLINE,
    PopulationReport,
    log_residual,
    pixel_statistics,
    radial_residual_percentiles,
    residual_statistics,
)
from picasso.properties import LOG10_EMPTY


def population(n=40, seed=3):
    """Per-galaxy totals of every property, log-normally spread."""
    rng = np.random.default_rng(seed)
    table = QTable()
    for name in PROPERTIES.names:
        table[name] = 10 ** rng.uniform(8, 11, n) * PROPERTIES[name].total_unit
    return table


def test_prediction_equal_to_truth_gives_exactly_zero():
    truth = population()
    report = PopulationReport(truth, truth.copy())
    assert report.properties == PROPERTIES.names
    for name in PROPERTIES.names:
        stats = report[name]
        assert stats["mu"] == 0 * u.dex
        assert stats["sigma"] == 0 * u.dex
        assert stats["sigma_nmad"] == 0 * u.dex
        assert stats["outlier_fraction"] == 0
        assert stats["n"] == 40


def test_prediction_scaled_up_by_a_tenth_dex():
    truth = population()
    pred = QTable({name: truth[name] * 10**0.1 for name in truth.colnames})
    report = PopulationReport(truth, pred)
    for name in PROPERTIES.names:
        assert_allclose(report[name]["mu"].to_value(u.dex), -0.1, atol=1e-12)
        assert_allclose(report[name]["sigma"].to_value(u.dex), 0.0, atol=1e-12)
        assert_allclose(report[name]["median"].to_value(u.dex), -0.1, atol=1e-12)


def test_known_gaussian_scatter_and_outliers():
    rng = np.random.default_rng(11)
    truth = population(n=4000)
    scatter = rng.normal(0.05, 0.2, 4000)
    scatter[:40] = 5.0  # 1 % wild outliers
    pred = QTable({"stellar_mass": truth["stellar_mass"] * 10 ** (-scatter)})
    report = PopulationReport(truth, pred, label="test")
    stats = report["stellar_mass"]
    d = scatter
    assert_allclose(stats["mu"].value, d.mean(), rtol=1e-9)
    assert_allclose(stats["sigma"].value, d.std(), rtol=1e-9)
    # Robust statistics ignore the outliers: close to the Gaussian's 0.05 and 0.2.
    assert abs(stats["median"].value - 0.05) < 0.015
    assert abs(stats["sigma_nmad"].value - 0.2) < 0.01
    assert_allclose(stats["outlier_fraction"], 0.01, atol=0.004)
    assert report.properties == ("stellar_mass",)
    assert report.residuals["stellar_mass"].unit == u.dex


def test_report_carries_the_papers_values_and_serialises():
    truth = population(n=5)
    report = PopulationReport(truth, truth)
    summary = report.summary
    row = list(summary["property"]).index("stellar_mass")
    assert summary["paper_sigma"][row] == 0.090 * u.dex
    assert summary["paper_mu"][row] == 0.103 * u.dex
    record = json.loads(json.dumps(report.to_dict()))
    assert record["properties"]["hi_mass"]["paper_sigma"] is None
    assert record["properties"]["sfr"]["paper_sigma"] == PAPER_HEADLINE["sfr"]["sigma"]
    assert set(record["properties"]) == set(PROPERTIES.names)


def test_residual_sign_and_invalid_values():
    d = log_residual([10.0, 100.0, 0.0, 5.0] * u.Msun, [1.0, 1000.0, 1.0, np.nan] * u.Msun)
    assert d.unit == u.dex
    assert_allclose(d.value[:2], [1.0, -1.0])
    assert np.isnan(d.value[2:]).all()
    stats = residual_statistics(d)
    assert stats["n"] == 2 and stats["n_invalid"] == 2
    assert residual_statistics([np.nan])["n"] == 0
    # Units convert: 1 Msun vs 1000 g in different units is still a ratio.
    assert_allclose(log_residual(1 * u.Msun, (1 * u.Msun).to(u.kg)).value, 0.0, atol=1e-15)
    with pytest.raises(u.UnitConversionError):
        log_residual(1 * u.Msun, 1 * u.Gyr)
    with pytest.raises(TypeError, match="both"):
        log_residual(1 * u.Msun, 1.0)


def test_mismatched_populations_are_refused():
    truth = population(n=5)
    with pytest.raises(ValueError, match="row by row"):
        PopulationReport(truth, truth[:3])
    with pytest.raises(ValueError, match="no 'sfr' column"):
        PopulationReport(truth, QTable({"stellar_mass": truth["stellar_mass"]}),
                         properties=["stellar_mass", "sfr"])


def profile(values):
    table = QTable()
    edges = np.linspace(0, 2, len(values) + 1)
    table["r_inner"], table["r_outer"] = edges[:-1], edges[1:]
    table["radius"] = 0.5 * (edges[:-1] + edges[1:])
    table["stellar_mass"] = np.asarray(values, dtype=float) * u.Msun
    return table


def test_radial_percentiles_per_bin():
    rng = np.random.default_rng(2)
    offsets = rng.normal(0, 0.1, (200, 4)) + np.array([0.3, 0.0, 0.0, -0.2])
    truths = [profile([1e9, 1e8, 1e7, 1e6]) for _ in range(200)]
    preds = [profile(np.array([1e9, 1e8, 1e7, 1e6]) * 10 ** (-o)) for o in offsets]
    preds[0]["stellar_mass"][3] = 0 * u.Msun  # no logarithm: left out
    table = radial_residual_percentiles(truths, preds, "stellar_mass")
    assert list(table["n"]) == [200, 200, 200, 199]
    assert_allclose(table["p50"].value, np.median(offsets, axis=0), atol=0.01)
    assert_allclose((table["p84"] - table["p16"]).value / 2, 0.1, atol=0.02)
    with pytest.raises(ValueError, match="same radial bins"):
        radial_residual_percentiles(truths[:1], [profile([1, 2])], "stellar_mass")


def test_pixel_statistics_only_count_non_empty_truth():
    rng = np.random.default_rng(4)
    truth = rng.uniform(5, 8, (3, 7, 16, 16))
    truth[:, :, :4] = LOG10_EMPTY
    pred = truth - 0.05
    pred[:, :, :4] = 9.0  # wrong, but where the truth is empty: ignored
    table = pixel_statistics(truth, pred)
    assert list(table["property"]) == list(PROPERTIES.names)
    assert_allclose(table["mu"].value, 0.05, atol=1e-12)
    assert_allclose(table["sigma"].value, 0.0, atol=1e-12)
    assert list(table["n"]) == [3 * 12 * 16] * 7
    single = pixel_statistics(truth[0, :2], pred[0, :2], properties=["stellar_mass", "sfr"])
    assert list(single["property"]) == ["stellar_mass", "sfr"]
    with pytest.raises(ValueError, match="planes"):
        pixel_statistics(truth[0, :2], pred[0, :2])
