"""Tests for picasso.io.simulation (Illustris / IllustrisTNG cutouts)."""

import astropy.units as u
import h5py
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM
from astropy.tests.helper import assert_quantity_allclose
from numpy.testing import assert_allclose

from picasso.io.simulation import cosmology_from_header, read_particles
from picasso.particles import HYDROGEN_MASS_FRACTION

H = 0.7
SCALE = 0.8
BOX = 1000.0  # ckpc/h


def write_cutout(path, *, stars=None, gas=None, header=None, drop=(), gas_size="SmoothingLength"):
    """Write a small cutout in the Illustris/TNG layout; ``drop`` lists 'Group/Field' to omit."""
    header_attrs = {
        "HubbleParam": H,
        "Omega0": 0.3,
        "OmegaLambda": 0.7,
        "Time": SCALE,
        "Redshift": 1 / SCALE - 1,
        "BoxSize": BOX,
    }
    header_attrs.update(header or {})
    stars = stars or {
        # ckpc/h: the last star sits across the periodic boundary from the others
        "Coordinates": np.array(
            [
                [500.0, 500, 500],
                [507.0, 500, 500],
                [500.0, 507, 500],
                [500.0, 500, 493],
                [500.0, 500, 500.5],
            ]
        ),
        "Masses": np.array([1e-4, 1e-4, 1e-4, 1e-4, 5e-4]),  # 1e10 Msun / h
        "GFM_InitialMass": np.array([2e-4, 2e-4, 2e-4, 2e-4, 6e-4]),
        "GFM_Metallicity": np.array([0.01, 0.02, 0.03, 0.04, 0.05]),
        "GFM_StellarFormationTime": np.array([0.5, SCALE, 0.2, 0.6, -0.3]),  # last: wind cell
    }
    gas = gas or {
        "Coordinates": np.array([[514.0, 500, 500], [500.0, 500, 500]]),
        "Masses": np.array([7e-4, 1.4e-3]),
        "GFM_Metallicity": np.array([0.01, 0.02]),
        "StarFormationRate": np.array([0.5, 0.0]),  # Msun / yr already
        "NeutralHydrogenAbundance": np.array([0.5, 1.0]),
        "SmoothingLength": np.array([1.4, 2.8]),
        "Density": np.array([7e-4, 1.4e-3]) / (4 / 3 * np.pi * np.array([1.4, 2.8]) ** 3),
    }
    with h5py.File(path, "w") as handle:
        group = handle.create_group("Header")
        for key, value in header_attrs.items():
            if f"Header/{key}" not in drop:
                group.attrs[key] = value
        for name, fields in (("PartType4", stars), ("PartType0", gas)):
            if name in drop:
                continue
            part = handle.create_group(name)
            for field, values in fields.items():
                if f"{name}/{field}" in drop:
                    continue
                if (
                    name == "PartType0"
                    and field in ("SmoothingLength", "Density")
                    and gas_size not in (field, "both")
                ):
                    continue
                part[field] = values
    return path


def test_units_converted_and_wind_excluded(tmp_path):
    path = write_cutout(tmp_path / "cutout.hdf5")
    centre = np.array([500.0, 500, 500]) * SCALE / H * u.kpc
    galaxy = read_particles(path, centre=centre)
    stars, gas = galaxy.stars, galaxy.gas
    assert len(stars) == 4 and galaxy.meta["n_wind_excluded"] == 1
    # 7 ckpc/h at a = 0.8, h = 0.7 is 8 kpc
    assert_quantity_allclose(stars.position[1], [8.0, 0, 0] * u.kpc, atol=1e-9 * u.kpc)
    assert_quantity_allclose(stars.position[3], [0, 0, -8.0] * u.kpc, atol=1e-9 * u.kpc)
    assert_quantity_allclose(stars.mass, np.full(4, 1e6 / H) * u.Msun)
    assert_quantity_allclose(stars.initial_mass, np.full(4, 2e6 / H) * u.Msun)
    assert_allclose(stars.metallicity, [0.01, 0.02, 0.03, 0.04])
    cosmology = FlatLambdaCDM(H0=70, Om0=0.3)
    expected_age = cosmology.age(1 / SCALE - 1) - cosmology.age(
        1 / np.array([0.5, SCALE, 0.2, 0.6]) - 1
    )
    assert_quantity_allclose(stars.age, expected_age.to(u.Gyr), rtol=1e-10)
    assert stars.age[1] == 0 * u.Gyr  # born at the snapshot
    # gas
    assert_quantity_allclose(gas.position[0], [16.0, 0, 0] * u.kpc, atol=1e-9 * u.kpc)
    assert_quantity_allclose(gas.mass, [1e7, 2e7] * u.Msun)  # 7e-4 x 1e10 / 0.7
    assert_quantity_allclose(gas.sfr, [0.5, 0.0] * u.Msun / u.yr)
    assert_quantity_allclose(gas.smoothing_length, [1.6, 3.2] * u.kpc)
    assert_quantity_allclose(galaxy.total_hi_mass, (0.5e7 + 2e7) * HYDROGEN_MASS_FRACTION * u.Msun)
    assert galaxy.meta["scale_factor"] == SCALE and galaxy.meta["hubble_param"] == pytest.approx(H)


def test_cell_size_from_density_or_smoothing_length(tmp_path):
    path = write_cutout(tmp_path / "density.hdf5", gas_size="Density")
    galaxy = read_particles(path)
    # Density was made from spheres of radius 1.4 and 2.8 ckpc/h
    assert_quantity_allclose(galaxy.gas.smoothing_length, [1.6, 3.2] * u.kpc)
    gas = {
        "Coordinates": np.zeros((1, 3)) + 500.0,
        "Masses": np.array([1e-3]),
        "GFM_Metallicity": np.array([0.01]),
        "StarFormationRate": np.array([0.0]),
        "NeutralHydrogenAbundance": np.array([0.5]),
        "SmoothingLength": np.array([7.0]),
        "Density": np.array([1e-3]) / (4 / 3 * np.pi * 0.7**3),  # sphere of 0.7 ckpc/h
    }
    both = write_cutout(tmp_path / "both.hdf5", gas=gas, gas_size="both")
    assert_quantity_allclose(read_particles(both).gas.smoothing_length, [0.8] * u.kpc)
    chosen = read_particles(both, gas_size="smoothing_length")
    assert_quantity_allclose(chosen.gas.smoothing_length, [8.0] * u.kpc)
    with pytest.raises(ValueError, match="gas_size"):
        read_particles(both, gas_size="volume")


def test_default_centre_is_stellar_centre_of_mass_across_the_box_edge(tmp_path):
    stars = {
        "Coordinates": np.array([[BOX - 1.0, 10.0, 10.0], [1.0, 10.0, 10.0], [2.0, 10.0, 10.0]]),
        "Masses": np.array([1e-4, 1e-4, 2e-4]),
        "GFM_InitialMass": np.full(3, 2e-4),
        "GFM_Metallicity": np.full(3, 0.02),
        "GFM_StellarFormationTime": np.full(3, 0.5),
    }
    path = write_cutout(tmp_path / "edge.hdf5", stars=stars)
    galaxy = read_particles(path, require_gas=False)
    # centre of mass in comoving x: (-1 + 1 + 2 * 2) / 4 = 1 ckpc/h
    assert_allclose(
        galaxy.stars.position_value[:, 0], np.array([-2.0, 0.0, 1.0]) * SCALE / H, atol=1e-9
    )
    assert_allclose(galaxy.stellar_centre_of_mass().value, 0.0, atol=1e-9)
    assert_allclose(galaxy.meta["centre_kpc"], np.array([1.0, 10.0, 10.0]) * SCALE / H)


def test_cosmology_from_header():
    illustris = cosmology_from_header(
        {"HubbleParam": 0.704, "Omega0": 0.2726, "OmegaLambda": 0.7274}
    )
    assert isinstance(illustris, FlatLambdaCDM)
    assert illustris.H0.to_value(u.km / u.s / u.Mpc) == pytest.approx(70.4)
    with pytest.raises(ValueError, match="Omega0"):
        cosmology_from_header({"HubbleParam": 0.7})


def test_missing_gas_allowed_on_request(tmp_path):
    path = write_cutout(tmp_path / "nogas.hdf5", drop=("PartType0",))
    with pytest.raises(ValueError, match="PartType0"):
        read_particles(path)
    galaxy = read_particles(path, require_gas=False)
    assert len(galaxy.gas) == 0 and len(galaxy.stars) == 4


@pytest.mark.parametrize(
    "drop, message",
    [
        (("PartType4",), "no group 'PartType4'"),
        (("PartType4/GFM_InitialMass",), "lacks field\\(s\\) GFM_InitialMass"),
        (("PartType0/NeutralHydrogenAbundance",), "NeutralHydrogenAbundance"),
        (("PartType0/SmoothingLength",), "Density"),
        (("Header/HubbleParam",), "HubbleParam"),
        (("Header/Time",), "Time"),
    ],
)
def test_malformed_files_name_what_is_missing(tmp_path, drop, message):
    path = write_cutout(tmp_path / "bad.hdf5", drop=drop)
    with pytest.raises(ValueError, match=message):
        read_particles(path)


def test_wrong_shapes_and_values_rejected(tmp_path):
    stars = {
        "Coordinates": np.zeros((3, 2)),
        "Masses": np.ones(3),
        "GFM_InitialMass": np.ones(3),
        "GFM_Metallicity": np.full(3, 0.02),
        "GFM_StellarFormationTime": np.full(3, 0.5),
    }
    with pytest.raises(ValueError, match="Coordinates must have shape \\(n, 3\\)"):
        read_particles(write_cutout(tmp_path / "a.hdf5", stars=stars))
    stars["Coordinates"] = np.zeros((3, 3))
    stars["Masses"] = np.ones(2)
    with pytest.raises(ValueError, match="PartType4/Masses must have shape \\(3,\\)"):
        read_particles(write_cutout(tmp_path / "b.hdf5", stars=stars))
    stars["Masses"] = np.array([1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="PartType4 has invalid values.*mass"):
        read_particles(write_cutout(tmp_path / "c.hdf5", stars=stars))


def test_not_hdf5_rejected(tmp_path):
    path = tmp_path / "cutout.hdf5"
    path.write_text("not an HDF5 file")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        read_particles(path)
    with pytest.raises(FileNotFoundError):
        read_particles(tmp_path / "missing.hdf5")
