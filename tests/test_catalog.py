"""
Catalogues: positions in, maps and a table of resolved properties out, on Dask.

The galaxy is the one on the SDSS crop shipped with picasso; the other rows
fail on purpose (off every field, blank sky without a radius, a bad
redshift), and a rerun resumes.
"""

import json
import os

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable

from picasso import PropertyMaps
from picasso.io.sdss import EXAMPLE_FRAMES, EXAMPLE_GALAXY
from picasso.studies.catalog import (
    catalog_columns,
    measure_maps,
    model_field_in_half_light_radii,
    read_catalog,
    run_catalog,
)

pytest.importorskip("distributed")

ROWS = {
    "gal": (EXAMPLE_GALAXY["ra"].value, EXAMPLE_GALAXY["dec"].value, 0.05),
    "gal_again": (EXAMPLE_GALAXY["ra"].value, EXAMPLE_GALAXY["dec"].value, 0.08),
    "off_field": (322.77, 0.01, 0.05),  # the old README position: on no frame
    "blank_sky": (323.3790, -0.6800, 0.05),  # no source here, and no r_half given
    "bad_z": (323.38, -0.68, -1.0),
}


def write_catalog(path):
    table = QTable()
    table["id"] = list(ROWS)
    table["ra"] = [row[0] for row in ROWS.values()] * u.deg
    table["dec"] = [row[1] for row in ROWS.values()] * u.deg
    table["z"] = [row[2] for row in ROWS.values()]
    table.write(path, overwrite=True)
    return path


def run(catalog, output, **kwargs):
    options = dict(frames=EXAMPLE_FRAMES, processes=False, n_workers=1, chunk_size=1,
                   progress=False)
    options.update(kwargs)
    return run_catalog(catalog, output, **options)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("catalog")
    catalog = write_catalog(folder / "galaxies.ecsv")
    result = run(catalog, folder / "out", figure=False)
    return catalog, folder / "out", result


def test_read_catalog_accepts_common_names_and_units(tmp_path):
    (tmp_path / "plain.csv").write_text("objid,RA,DEC,redshift,petroR50_r\n"
                                        "7,323.38,-0.68,0.05,2.5\n8,323.39,-0.67,0.06,\n")
    catalog = read_catalog(tmp_path / "plain.csv")
    assert list(catalog["id"]) == ["7", "8"]
    assert catalog["ra"].unit == u.deg and catalog["z"][1] == 0.06
    assert catalog["r_half"][0] == 2.5 * u.arcsec and np.isnan(catalog["r_half"][1])
    table = QTable({"ra": [1.0, 2.0] * u.rad, "dec": [0.0, 0.1] * u.rad, "z": [0.1, 0.1],
                    "r_half": [3.0, 4.0] * u.kpc})
    catalog = read_catalog(table)
    assert list(catalog["id"]) == ["0", "1"]
    assert catalog["ra"][1].to_value(u.deg) == pytest.approx(np.degrees(2.0))
    assert catalog["r_half"].unit == u.kpc
    with pytest.raises(ValueError, match="no redshift column"):
        read_catalog(QTable({"ra": [1.0], "dec": [2.0]}))
    with pytest.raises(ValueError, match="ids are not unique"):
        read_catalog(QTable({"id": ["a b", "a_b"], "ra": [1.0, 2.0], "dec": [0, 0],
                             "z": [0.1, 0.1]}))
    with pytest.raises(ValueError, match="r_half column has unit"):
        read_catalog(QTable({"ra": [1.0], "dec": [2.0], "z": [0.1], "r_half": [1.0] * u.s}))


def test_a_catalogue_run_records_every_row(first_run):
    _, output, result = first_run
    table = result.table
    assert list(table["id"]) == list(ROWS)
    status = dict(zip(table["id"], table["status"]))
    stage = dict(zip(table["id"], table["stage"]))
    assert status == {"gal": "ok", "gal_again": "ok", "off_field": "failed",
                      "blank_sky": "failed", "bad_z": "failed"}
    assert stage["off_field"] == "field" and stage["bad_z"] == "input"
    assert stage["blank_sky"] == "cutout"
    error = dict(zip(table["id"], table["error"]))
    assert "no source detected" in error["blank_sky"]
    assert "no field of" in error["off_field"]
    assert result.n_ok == 2 and result.n_failed == 3
    ok = table[table["status"] == "ok"]
    assert set(ok["run"]) == {2583} and set(ok["field"]) == {136}
    # the maps' count of impossible pixels; none for a galaxy that has no maps
    assert np.all(ok["unphysical_pixels"] >= 0)
    assert np.all(table["unphysical_pixels"][table["status"] == "failed"] == -1)
    # the columns and their units
    names = [name for name, _, _ in catalog_columns()]
    assert table.colnames == names
    assert table["stellar_mass_2rhalf"].unit == u.Msun
    assert table["stellar_age_1rhalf"].unit == u.Gyr
    assert table["sfr_2rhalf_err"].unit == u.dex
    assert table["stellar_mass_gradient_kpc"].unit == u.dex / u.kpc
    for row in ok:
        assert row["stellar_mass_2rhalf"] >= row["stellar_mass_1rhalf"] > 1e7 * u.Msun
        assert 0 < row["stellar_mass_2rhalf_err"].value < 2
        assert np.isfinite(row["stellar_mass_gradient"].value)
        assert row["r_half"] > 0 * u.kpc and row["r_half_light"] > 0 * u.arcsec
        assert np.isfinite(row["ood_distance"]) and not row["ood_warning"]
        assert row["psf_rule"].startswith("auto")
        assert abs(row["border_sky"]) < 1  # synthetic frames: no diffuse light at the border
        maps = PropertyMaps.read(output / row["maps_file"])
        assert maps.shape == (64, 64) and maps.meta["catalog_id"] == row["id"]
        # the field is the model's: 10 3-D half-mass radii in half-light radii
        assert row["field_of_view"].to_value(u.arcsec) == pytest.approx(
            model_field_in_half_light_radii_default() * row["r_half_light"].value)
    # the same galaxy at two redshifts: the same light radius, different physical scales
    assert ok["r_half_light"][0] == ok["r_half_light"][1]
    assert ok["pixel_scale"][1] > ok["pixel_scale"][0]
    saved = QTable.read(result.table_path)
    assert len(saved) == len(ROWS) and saved.meta["model"] == "default"
    assert not (output / "scratch").exists()  # decompressed frames removed at the end
    assert result.timings["galaxies"] == 3 and result.timings["reproject"] > 0
    # the in-process worker loaded the model once, for all its tasks
    from picasso.studies import catalog as module

    assert list(module._WORKER_MODELS) == ["default"]


def test_the_summary_figure(first_run, tmp_path):
    from picasso.studies.catalog import plot_catalog_summary

    path = plot_catalog_summary(first_run[2].table, tmp_path / "summary.png")
    assert path.is_file() and path.stat().st_size > 10_000


def model_field_in_half_light_radii_default():
    from picasso.nn.loading import default_model

    return model_field_in_half_light_radii(default_model())


def test_a_rerun_resumes(first_run):
    catalog, output, first = first_run
    journal = output / "journal.jsonl"
    maps_file = output / first.table["maps_file"][0]
    stamp = maps_file.stat().st_mtime_ns
    lines = len(journal.read_text().splitlines())
    # done rows are skipped; the failed ones are tried again (and fail again)
    again = run(catalog, output, figure=False)
    assert maps_file.stat().st_mtime_ns == stamp
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len(records) == lines + 3
    assert {record["id"] for record in records[lines:]} == {"off_field", "blank_sky", "bad_z"}
    assert list(again.table["status"]) == list(first.table["status"])
    assert again.timings.get("galaxies") == 1  # only blank_sky reached a worker
    # keeping the failures: nothing is done
    run(catalog, output, figure=False, retry_failed=False)
    assert len(journal.read_text().splitlines()) == lines + 3
    # a torn last line (a crash while writing) is ignored
    with open(journal, "a") as stream:
        stream.write('{"id": "gal", "sta')
    resumed = run(catalog, output, figure=False, retry_failed=False)
    assert resumed.n_ok == 2
    # other settings in the same folder are refused
    with pytest.raises(ValueError, match="other settings .*symmetries"):
        run(catalog, output, symmetries=2)


def test_the_catalog_command(tmp_path, capsys):
    from picasso.cli import main

    catalog = write_catalog(tmp_path / "galaxies.ecsv")
    subset = QTable.read(catalog)[:2]
    subset.write(tmp_path / "two.fits")
    arguments = ["catalog", str(tmp_path / "two.fits"), "-o", str(tmp_path / "out"),
                 "--frames", str(EXAMPLE_FRAMES), "--threads", "--workers", "1",
                 "--no-progress", "--no-figure"]
    assert main(arguments) == 0
    assert "2 galaxies done, 0 failed" in capsys.readouterr().out
    assert (tmp_path / "out" / "properties.ecsv").is_file()
    assert len(list((tmp_path / "out" / "maps").glob("*.fits"))) == 2
    assert main(arguments + ["--target-psf", "widest"]) == 1
    assert "--target-psf" in capsys.readouterr().err


def test_measure_maps_of_a_round_exponential_disc():
    size = 64
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    radius = np.hypot(x, y)
    scale = 0.5 * u.kpc
    disc = np.exp(-radius / 4.0)  # scale length 4 px: half-mass radius 1.678 * 4 px
    maps = {"stellar_mass": 1e8 * disc * u.Msun / u.kpc**2,
            "stellar_age": np.full((size, size), 5.0) * u.Gyr,
            "sfr": 0.01 * disc**0.5 * u.Msun / u.yr / u.kpc**2}
    row = measure_maps(PropertyMaps(maps, pixel_scale=scale))
    assert row["r_half"] == pytest.approx(1.678 * 4 * 0.5, rel=0.03)
    assert row["ellipticity"] < 0.02
    # an exponential disc holds 26.4% of its mass inside 1 R_half... of the projected
    # profile: 1 - (1 + x) exp(-x) at x = 1.678 is 0.5, at 2 x = 3.356 it is 0.848
    total = 1e8 * 2 * np.pi * 4.0**2 * 0.25  # Msun: 2 pi h^2 Sigma_0, pixels of 0.25 kpc2
    assert row["stellar_mass_1rhalf"] == pytest.approx(0.5 * total, rel=0.03)
    assert row["stellar_mass_2rhalf"] == pytest.approx(0.848 * total, rel=0.03)
    assert row["stellar_age_2rhalf"] == pytest.approx(5.0)
    # log10 of an exponential falls by 1.678 / ln 10 = 0.729 dex per R_half
    assert row["stellar_mass_gradient"] == pytest.approx(-0.729, rel=0.1)
    assert row["stellar_age_gradient"] == pytest.approx(0.0, abs=1e-6)
    assert row["stellar_mass_1rhalf_err"] is None  # the maps hold no uncertainty


@pytest.mark.slow
def test_a_catalogue_on_worker_processes(tmp_path):
    # The default local cluster: worker processes, the model loaded once per worker.
    catalog = write_catalog(tmp_path / "galaxies.ecsv")
    result = run(catalog, tmp_path / "out", processes=True, n_workers=2)
    assert result.n_ok == 2 and result.n_failed == 3
    assert sorted(os.listdir(tmp_path / "out" / "maps")) == ["gal.fits", "gal_again.fits"]
