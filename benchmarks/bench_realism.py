"""
Realism of picasso's synthetic universe: integrated colours at fixed stellar mass.

For galaxies drawn flat in log M* between 10^9 and 10^12 Msun and weighted
by the stellar mass function of Baldry et al. (2012) (so that a bin holds
them in the proportions of a real sample, also when it is a bin of inferred
mass, which galaxies enter from either side), the benchmark measures the
ugriz light of the main galaxy (companions left out, as SDSS photometry is
deblended) seen from one random direction with the observing preset's dust
(``--preset sdss``: dust on) as SDSS measures colours: with model magnitudes
(`model_magnitudes`; `picasso.analysis.photometry`), the r band's better
exponential or de Vaucouleurs profile fitted in every band with each pixel
weighted by an SDSS frame's noise, on the preset's pixels and PSF.
Baldry et al. (2004, 2006) measured u - r with these, and they weight a
galaxy's centre: where its outskirts are bluer its model colour is redder
than the colour of its summed light (``--photometry total``, printed per bin
as the difference). M_r is that of the summed light. The benchmark
prints, per bin of log M*, the median observed colours u - g, g - r, u - r and
r - i at z = 0.05 on the SDSS magnitude system (u_SDSS = u_AB + 0.04; g, r, i
are AB) and the red fraction, beside the values of the published SDSS
relations at the same mass:

* u - r: the red and blue sequences of Baldry et al. (2004; mean and
  dispersion of rest-frame u - r against M_r), placed at a stellar mass with
  the colour-dependent M/L_r of Baldry et al. (2006)
  (`picasso.mock.relations.baldry_sequence_at_mass`), mixed with the red
  fraction below; a galaxy drawn from them is in a bin, as the universe's
  galaxies are, if that M/L of its own colour gives its M_r a mass inside,
  and each sequence's galaxies are weighted to the published red fraction
  and mass function at those masses (a galaxy redder than its sequence has
  a larger M/L: binned by the mass of its sequence's mean colour instead,
  the published blue galaxies of a bin came out up to 0.1 mag bluer);
* g - r: the red and blue sequences of GAMA (Smith et al. 2017; ^0.1(g - r)
  against ^0.1 M_r - 5 log h), at the M_r of the same sequences;
* u - g: the difference of the two, drawn with the same deviate in both
  colours (approximate);
* red fraction: the fraction above the Baldry et al. (2004) divider in
  rest-frame u - r at each galaxy's M_r, counted alike for the universe's
  galaxies and for the published mixture (whose red sequence has the weight
  of the quenched fraction the universe draws, an approximate logistic form
  of the red fraction of Baldry et al. 2006,
  `picasso.mock.relations.quenched_fraction`);
* r - i: no published relation at fixed mass was at hand: the column has no
  reference;
* the width of each sequence: half the 16-84% range of rest-frame u - r about
  the Baldry et al. (2004) sequence at each galaxy's own M_r, on each side of
  the divider, for the universe and for the published Gaussians cut alike.

The published colours are rest-frame (u - r) or k-corrected to z = 0.1
(g - r); they are moved to the observed frame at z = 0.05 with the
universe's own k-corrections, the median difference between its red and
blue galaxies' colours observed at z = 0.05 and in the rest frame, or
observed at z = 0.05 and at z = 0.1 (^0.1(g - r) is the colour observed at
z = 0.1; the universe's light there comes from an SSP table built for that
redshift, `BAND_SHIFTED_TABLE`, so that emission lines crossing the bands'
edges between the two redshifts are followed). These conversions and
the M/L used to place luminosity relations at a mass make the published
columns approximate to a few hundredths of a magnitude.

The published relations are luminosity relations placed at a mass with the
M/L of Baldry et al. (2006); the universe's M/L at a given colour lies ~0.24
dex above it (`picasso.mock.universe.MASS_SCALE_OFFSET`). Three tables:

* (A) in bins of the universe's true stellar mass, the relations as placed by
  Baldry et al. (2006): two mass scales, shown for reference only;
* (B) in bins of the mass an observer would infer from each galaxy's
  rest-frame u - r and M_r with the M/L of Baldry et al. (2006): like for
  like on their scale;
* (C) in bins of true stellar mass, the relations moved onto the universe's
  scale (read at the bin's masses minus the median difference between the
  true mass and the one of B), with how far each published colour moves
  from A. The published galaxies have no true mass: C bins them by the mass
  of their own colour plus that difference, which moves a galaxy redder than
  its sequence up a bin (a larger M/L) where a universe galaxy's true mass
  does not move. So C is printed beside the universe binned alike (by the
  mass of its own colour plus the difference, `report_binned_alike`): what
  C finds beyond that is the binning, not the colours.

The goal (every median colour within 0.05 mag) applies to B, the one table
where both sides are binned by the same estimator. Where a bin's red
fraction is 0.3-0.7 its median colour lies between the sequences and moves
with the red fraction and with how far each sequence's tail reaches into
the gap, so B is also printed for the red and blue galaxies apart (each
side of the divider, the published mixture cut the same way), which shows
where each sequence lies. A fourth table checks the mass
scale: per bin, the median log M* an observer would infer from each
galaxy's rest-frame g - r and L_r with the colour mass-to-light relations
of Bell et al. (2003) and Zibetti, Charlot & Rix (2009) (the ones
`picasso.analysis.baselines` uses, Chabrier IMF) and with Taylor et al.
(2011; GAMA, whose masses the Baldry et al. 2012 mass function uses) minus
the true one, beside the same for Baldry et al. (2006).

The red and blue sequences are also compared directly, with no mass, at
each galaxy's own M_r: the median offset of the universe's galaxies above and
below the divider from the Baldry et al. (2004) sequence in rest-frame u - r,
and from the GAMA sequence of Smith et al. (2017) in ^0.1(g - r) (each
galaxy's g - r observed at z = 0.1), and the effective
V-band attenuation of the integrated light of star-forming galaxies is
printed (real star-forming galaxies: roughly 0.3-1 mag; approximate, e.g.
Kauffmann et al. 2003; Salim et al. 2018), with that of quenched ones and the
mass scale of each kind apart.

Every median of the universe carries the 1-sigma of its bin's finite number
of galaxies (a bootstrap over them, `bootstrap_sigma`), and the benchmark
counts the colour cells that miss or meet the goal by more than twice it.
Beside the blue galaxies of table B it prints the bluest g - r that smooth
star-formation histories of the universe's own populations, behind any dust
screen of the range, have at each published blue u - r
(`smooth_history_colours`): where the published g - r lies below it, no
smooth history, metallicity or screen of those populations reaches it.

The dust is checked against published numbers: the r-band dimming of
star-forming discs from face-on to an inclination of 80 degrees (an axis ratio
of about 0.2; Masters et al. 2010; Unterborn & Ryden 2008), and the
dust-to-stellar mass of quenched early types against the Herschel Reference
Survey (Smith et al. 2012).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_realism.py --galaxies 1500 [--processes 2]
"""

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import astropy.units as u  # noqa: E402
import numpy as np  # noqa: E402
from astropy.stats import gaussian_fwhm_to_sigma  # noqa: E402

from picasso.analysis.baselines import COLOUR_RELATIONS  # noqa: E402
from picasso.analysis.photometry import model_photometry  # noqa: E402
from picasso.instrument import sdss_gain  # noqa: E402
from picasso.mock import relations  # noqa: E402
from picasso.mock.observe import (  # noqa: E402
    ObservingConfig,
    attenuation,
    relative_dust_to_gas,
)
from picasso.mock.observe.render import render_particles  # noqa: E402
from picasso.mock.populations import SSPTable, stellar_fluxes  # noqa: E402
from picasso.mock.universe import (  # noqa: E402
    MASS_SCALE_OFFSET,
    QUENCHED_MASS_SCALE_OFFSET,
    SDSS_FIBRE_RADIUS,
    Universe,
)
from picasso.particles import Particles, weighted_half_radius  # noqa: E402
from picasso.properties import SOLAR_ABSOLUTE_MAGNITUDES  # noqa: E402

#: Smooth histories of `smooth_history_colours`: start (Gyr after the Big Bang),
#: e-folding times (Gyr), metallicities (Z; Z_sun = 0.02) and screen A_V (mag).
SMOOTH_STARTS = (0.5, 1.5, 3.0)
SMOOTH_TAUS = tuple(np.logspace(-0.5, 1.5, 30))
SMOOTH_METALLICITIES = (0.008, 0.012, 0.02, 0.03)
SMOOTH_A_V = (0.0, 0.3, 0.6, 0.9, 1.2)

#: The SSP table at z = 0.1 (``tools/build_ssp_table.py --redshift 0.1``): the universe's
#: colours in the bands of ^0.1(g - r).
BAND_SHIFTED_TABLE = Path(__file__).resolve().parent / "data" / "bc03_sdss_ssp_z0.1.fits"

#: Mass bins (log10 Msun).
BINS = ((9.0, 9.5), (9.5, 10.0), (10.0, 10.5), (10.5, 11.0), (11.0, 11.5))
#: Galaxies are drawn flat in log10 M* across this range, wider than the bins above 10^9.5
#: Msun, so that bins of inferred mass (0.1-0.35 dex below the true one) are filled from
#: both sides; the lowest bin is filled from above only, which misses the 0.6 % of galaxies
#: inferred heavier than they are.
DRAW_RANGE = (9.0, 12.0)
#: u_SDSS - u_AB (the SDSS u band is not quite AB; g, r, i are within 0.01-0.02 mag).
U_SDSS_MINUS_AB = 0.04
#: 5 log10 h for h = 0.7: M(h = 1) = M(h = 0.7) - 5 log10 0.7.
FIVE_LOG_H = 5.0 * np.log10(0.7)
COLOURS = ("u_g", "g_r", "u_r", "r_i")
#: The colours with a published relation at fixed mass.
REFERENCED_COLOURS = ("u_g", "g_r", "u_r")
#: Colour mass-to-light relations the universe's stellar-mass scale is checked against.
MASS_SCALE_RELATIONS = ("bell03_gr_r", "zibetti09_gr_r", "taylor11_gi_i")
#: The goal: every median colour within this of the published relation.
GOAL_MAG = 0.05
#: Published galaxies are drawn this far (dex) around a bin, as their own colours can carry
#: their inferred masses into it: more than 4 sigma of the blue sequence's u - r through the
#: M/L of Baldry et al. (2006).
PUBLISHED_DRAW_PADDING = 0.7
#: Bootstrap resamples behind the 1-sigma of the universe's medians.
BOOTSTRAP_RESAMPLES = 200
#: Dust mass per neutral hydrogen mass at the reference metallicity: the Milky Way's, about
#: 1/100 (Draine et al. 2007; approximate).
DUST_PER_HYDROGEN_MASS = 0.01
#: Mean log10 dust-to-stellar mass of early-type galaxies in the Herschel Reference Survey,
#: non-detections included (Smith et al. 2012, ApJ 748, 123).
HRS_EARLY_TYPE_DUST = {"S0": -4.4, "E": -5.8}
#: Face-on to edge-on dimming of SDSS spirals in r: Masters et al. (2010, MNRAS 404, 792),
#: 0.7, 0.6, 0.5, 0.4 mag in u, g, r, i; Unterborn & Ryden (2008, ApJ 687, 976),
#: Delta M_r = 1.27 (log q)^2 for exponential discs, 0.62 mag at an axis ratio q = 0.2.
EDGE_ON_DIMMING_R = {"Masters et al. 2010": 0.5, "Unterborn & Ryden 2008 (q = 0.2)": 0.62}
#: Inclination (degrees) at which the universe's star-forming discs are compared with
#: those: exponential discs of h_z / h_R = 0.14 (its median) appear there with an axis
#: ratio sqrt(cos^2 i + 0.14^2 sin^2 i) = 0.22.
INCLINED_DEGREES = 80.0


#: Model photometry (`model_magnitudes`): the rendered field's half-size in r-band
#: half-light radii and the most pixels per side (coarser pixels beyond).
MODEL_FIELD_R_HALF = 6.0
MODEL_MAX_PIXELS = 160
#: The real SDSS field of ``../shared/data/sdss`` (run 2583, camcol 2, field 136), whose
#: calibration (nanomaggies per count, the median of each frame's calibration vector) and
#: CCD gains give the photon noise of a galaxy's own light in `model_magnitudes`.
SDSS_FIELD_RUN, SDSS_FIELD_CAMCOL = 2583, 2
SDSS_NMGY_PER_COUNT = {"u": 0.0116, "g": 0.0042, "r": 0.0054, "i": 0.0076, "z": 0.0379}
#: Photon-noise variance per nanomaggy of a galaxy's own light in each ugriz pixel of that
#: field (nanomaggies per count over electrons per count).
PHOTON_VARIANCE_PER_NMGY = np.array(
    [SDSS_NMGY_PER_COUNT[band] / sdss_gain(SDSS_FIELD_CAMCOL, band, run=SDSS_FIELD_RUN)
     for band in "ugriz"])


def _magnitudes(flux):
    return -2.5 * np.log10(np.maximum(flux, 1e-300))


def dust_mass(gas, config):
    """
    Dust mass (Msun) of gas cells, as the observing preset's dust model holds it.

    The dust model (`picasso.mock.observe.attenuation`) gives neutral hydrogen
    at the reference metallicity the Milky Way's dust-to-gas ratio; in mass
    that is taken as ``DUST_PER_HYDROGEN_MASS`` (approximate), scaled
    linearly with the gas metallicity and dust-to-metals ratio as the model
    scales A_V.

    Parameters
    ----------
    gas : `~picasso.particles.GasCells`
    config : `~picasso.mock.observe.ObservingConfig`

    Returns
    -------
    mass : float
    """
    return float(DUST_PER_HYDROGEN_MASS * np.sum(gas.neutral_hydrogen_mass_value
                                                 * relative_dust_to_gas(gas, config)))


def model_magnitudes(xy, light, config):
    """
    SDSS model magnitudes of a galaxy's star particles, rendered at the preset's pixel and PSF.

    The particles' light is rendered onto SDSS pixels (0.396 arcsec at the
    preset's redshift, coarser where the galaxy would need more than
    `MODEL_MAX_PIXELS` of them) out to `MODEL_FIELD_R_HALF` r-band
    half-light radii, convolved with the preset's PSF, and measured with
    `picasso.analysis.photometry.model_photometry`: the profile is fitted to
    the first frame's r band with each pixel weighted by the noise of an SDSS
    frame (the preset's sky and the galaxy's own photon noise, with the
    calibration and gain of the real field in ``../shared/data``), and every
    frame's amplitudes are fitted through it with those weights.

    Parameters
    ----------
    xy : ndarray, shape (n, 2)
        Projected positions (kpc).
    light : list of ndarray, each (n, 5)
        Per-particle ugriz fluxes: the observed frame first (nanomaggies),
        then any others (rest frame, z = 0.1) in any unit.
    config : `~picasso.mock.observe.ObservingConfig`

    Returns
    -------
    magnitudes : list of ndarray
        ugriz magnitudes of each frame (up to each frame's constant).
    profile : str
        ``"exp"`` or ``"deV"``.
    """
    pixel = float(config.kpc(config.native_pixel_scale))
    psf_sigma = float(config.kpc(config.psf_fwhm)) * gaussian_fwhm_to_sigma
    radius = weighted_half_radius(np.hypot(xy[:, 0], xy[:, 1]), light[0][:, 2])
    grid_half = max(MODEL_FIELD_R_HALF * radius, 16 * pixel)
    n_grid = int(min(np.ceil(2.0 * grid_half / pixel), MODEL_MAX_PIXELS))
    grid_pixel = 2.0 * grid_half / n_grid
    images = render_particles(xy, np.concatenate(light, axis=1), np.zeros(len(xy)), grid_half,
                              n_grid, psf_sigma)
    observed = np.clip(images[:5], 0.0, None)
    sky = (np.array(config.sky_rms) * grid_pixel / float(config.kpc(config.sky_pixel_scale)))**2
    variance = sky[:, None, None] + observed * PHOTON_VARIANCE_PER_NMGY[:, None, None]
    psf_pixels = psf_sigma / grid_pixel
    fit = model_photometry(observed, psf_pixels, variance=variance)
    magnitudes = [_magnitudes(fit.fluxes)]
    for frame in range(1, len(light)):
        fluxes = fit.measure(images[5 * frame : 5 * frame + 5], psf_pixels, variance=variance)
        magnitudes.append(_magnitudes(fluxes))
    return magnitudes, fit.profile


def measure_galaxy(universe, config, index, table=None, shifted_table=None,
                   photometry="model"):
    """
    Integrated photometry of one galaxy's main body (see `measure`).

    Parameters
    ----------
    universe : `~picasso.mock.universe.Universe`
    config : `~picasso.mock.observe.ObservingConfig`
    index : int
    table, shifted_table : `~picasso.mock.populations.SSPTable`, optional
        The universe's table and `BAND_SHIFTED_TABLE`, loaded once by the
        caller for many galaxies.
    photometry : {"model", "total"}
        Colours from SDSS model magnitudes (`model_magnitudes`) or from the
        summed light.

    Returns
    -------
    row : dict
        One galaxy's values of every `measure` column.
    """
    table = SSPTable.load() if table is None else table
    if shifted_table is None:
        shifted_table = SSPTable.load(BAND_SHIFTED_TABLE)
    props = universe.properties(index)
    galaxy = universe.particles(index, properties=props)
    stars = galaxy.stars
    main = slice(0, galaxy.meta["n_main_stars"])
    observed = stellar_fluxes(stars, redshift=config.redshift, nebular=config.nebular,
                              table=table).to_value(u.nanomaggy)
    rest = 10 ** (
        -0.4 * table.absolute_magnitude(stars.age_value * u.Gyr, stars.metallicity,
                                        nebular=config.nebular).value
    ) * stars.initial_mass_value[:, None]
    shifted = stellar_fluxes(stars, redshift=shifted_table.redshift, nebular=config.nebular,
                             table=shifted_table).to_value(u.nanomaggy)
    a_v = np.zeros(len(stars))
    transmission = rest_transmission = shifted_transmission = np.ones_like(observed)
    rng = universe.rng(index, 2)
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    viewed = galaxy.rotated(Particles.view_rotation(direction, rng.normal(size=3)))
    if config.dust:
        radius = weighted_half_radius(
            np.linalg.norm(stars.position_value[main], axis=1), stars.mass_value[main]
        )
        half = 0.5 * config.field_of_view * max(radius, 1e-3)
        transmission, a_v = attenuation(viewed, half, config)
        rest_transmission, _ = attenuation(viewed, half, config.replace(redshift=1e-6))
        shifted_transmission, _ = attenuation(
            viewed, half, config.replace(redshift=shifted_table.redshift))
    light = [(observed * transmission)[main], (rest * rest_transmission)[main],
             (shifted * shifted_transmission)[main]]
    total = [_magnitudes(frame.sum(axis=0)) for frame in light]
    if photometry == "model":
        colours, profile = model_magnitudes(viewed.stars.position_value[main, :2], light, config)
    else:
        colours, profile = total, "total"
    weight = observed[main, 2]
    log_mass = np.log10(stars.mass_value[main].sum())
    return {
        "log_mass": log_mass,
        "quenched": props.quenched,
        "early_type": props.early_type,
        "observed": colours[0],
        "rest": colours[1],
        "observed_z01": colours[2],
        "observed_total": total[0],
        "profile": profile,
        # rest-frame light is per unit mass formed in absolute magnitudes: this is M_r
        "abs_mag_r": total[1][2],
        "a_v_eff": -2.5 * np.log10(np.sum(weight * 10 ** (-0.4 * a_v[main])) / weight.sum()),
        "a_v_light": np.average(a_v[main], weights=weight),
        "log_dust_to_stellar_mass": np.log10(max(dust_mass(galaxy.gas, config), 1e-30))
        - log_mass,
    }


def _measure_chunk(universe, config, indices, photometry):
    table, shifted_table = SSPTable.load(), SSPTable.load(BAND_SHIFTED_TABLE)
    return [measure_galaxy(universe, config, index, table, shifted_table, photometry)
            for index in indices]


def measure(universe, config, n_galaxies, processes=1, photometry="model"):
    """
    Integrated observed and rest-frame photometry of the main galaxy of the first galaxies.

    Parameters
    ----------
    universe : `~picasso.mock.universe.Universe`
    config : `~picasso.mock.observe.ObservingConfig`
    n_galaxies : int
    processes : int
        Worker processes; every galaxy is measured from its own random
        streams, so the result does not depend on them.
    photometry : {"model", "total"}
        The magnitudes the colours come from: SDSS model magnitudes, as the
        published relations' colours (`model_magnitudes`), or the summed light.

    Returns
    -------
    table : dict of ndarray
        ``log_mass``, ``quenched``, ``early_type``, ``observed``, ``rest``
        and ``observed_z01`` (observed at z = 0.1) (n, 5) AB magnitudes (up
        to a constant) of that photometry, ``observed_total`` (the summed
        light observed), ``profile`` (the model profile, or ``"total"``),
        ``abs_mag_r`` (rest-frame M_r of the summed light), ``a_v_eff``
        (effective V attenuation of the integrated light), ``a_v_light``
        (mean A_V of the star particles weighted by their light) and
        ``log_dust_to_stellar_mass`` (`dust_mass` of all the galaxy's gas over
        the main galaxy's stellar mass).
    """
    chunks = [chunk.tolist() for chunk in np.array_split(np.arange(n_galaxies), 4 * processes)
              if chunk.size]
    if processes > 1:
        with ProcessPoolExecutor(processes) as pool:
            results = list(pool.map(_measure_chunk, [universe] * len(chunks),
                                    [config] * len(chunks), chunks,
                                    [photometry] * len(chunks)))
    else:
        results = [_measure_chunk(universe, config, chunk, photometry) for chunk in chunks]
    rows = [row for result in results for row in result]
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


def _colours(magnitudes):
    """u - g, g - r, u - r, r - i on the SDSS system from AB ugriz magnitudes."""
    m = np.array(magnitudes, dtype=float)
    m[:, 0] += U_SDSS_MINUS_AB
    return {"u_g": m[:, 0] - m[:, 1], "g_r": m[:, 1] - m[:, 2], "u_r": m[:, 0] - m[:, 2],
            "r_i": m[:, 2] - m[:, 3]}


def _weighted_quantile(values, weights, quantiles):
    """The ``quantiles`` of ``values`` with ``weights`` (the values at those cumulative weights)."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return np.interp(np.asarray(quantiles) * cumulative[-1], cumulative, values[order])


def _weighted_median(values, weights):
    """The median of ``values`` with ``weights``."""
    return float(_weighted_quantile(values, weights, 0.5))


def baldry2006_log_mass(rest_u_r, abs_mag_r):
    """
    log M* from rest-frame u - r and M_r with the M/L of Baldry et al. (2006).

    Parameters
    ----------
    rest_u_r, abs_mag_r : ndarray

    Returns
    -------
    log_mass : ndarray
    """
    solar = relations.BALDRY2006["solar_abs_mag_r"]
    return (solar - abs_mag_r) / 2.5 + relations.baldry2006_mass_to_light(rest_u_r)


def _weight_to_own_masses(baldry_mass, red, own_mass, low, high, scale_offset, n_steps=20):
    """
    Weights that give published galaxies the red fraction and mass function at their own masses.

    The red fraction of Baldry et al. (2006) and the mass function of Baldry
    et al. (2012) are measured at the masses inferred from each galaxy's own
    light. Galaxies drawn at a mass on a sequence and given a colour from its
    scatter move to another mass by their own colour; within each of
    ``n_steps`` slices of ``[low, high)`` in that own mass, each sequence's
    galaxies (weighted by the mass function at the mass they were drawn at,
    which stands in for the sequence's luminosity function) are scaled to
    the mass function there times the red fraction there (or one minus it).

    Parameters
    ----------
    baldry_mass : ndarray
        The mass each galaxy was drawn at, on the scale of Baldry et al. (2006).
    red : ndarray of bool
        Drawn from the red sequence.
    own_mass : ndarray
        Its mass inferred from its own colour and M_r, on the bin's scale.
    low, high, scale_offset : float
        As in `published`.
    n_steps : int

    Returns
    -------
    weight : ndarray
        Zero outside ``[low, high)``.
    """
    edges = np.linspace(low, high, n_steps + 1)
    step = np.digitize(own_mass, edges) - 1
    inside = (step >= 0) & (step < n_steps)
    centres = 0.5 * (edges[1:] + edges[:-1]) - scale_offset
    density = relations.baldry2012_mass_function(centres)
    red_fraction = relations.quenched_fraction(centres)
    drawn = relations.baldry2012_mass_function(baldry_mass)
    weight = np.zeros_like(own_mass)
    for members, target in ((inside & red, density * red_fraction),
                            (inside & ~red, density * (1.0 - red_fraction))):
        total = np.bincount(step[members], weights=drawn[members], minlength=n_steps)
        weight[members] = drawn[members] * target[step[members]] / total[step[members]]
    return weight


def published(low, high, k_corrections, scale_offset=0.0, n_draws=100_000, seed=0):
    """
    Median observed colours and red fraction of the published SDSS relations in a mass bin.

    Parameters
    ----------
    low, high : float
        The bin in log10 M*.
    k_corrections : dict
        ``{"red": {"u_r": k, "g_r_z01": k}, "blue": {...}}``: each
        sequence's u - r observed at z = 0.05 minus its rest-frame u - r, and
        its g - r observed at z = 0.1 minus that observed at z = 0.05.
    scale_offset : float
        log10 M* of the bin's mass scale minus that of Baldry et al. (2006),
        on which the relations are placed at a mass (0: that scale). The
        relations are read at the bin's masses minus this.
    n_draws : int
        Monte Carlo galaxies drawn flat in log M* across the bin widened by
        `PUBLISHED_DRAW_PADDING` on each side and weighted by the mass
        function of Baldry et al. (2012), each on a sequence (the red one
        with the red fraction at that mass) at the M_r of the sequence's
        mean colour there (`picasso.mock.relations.baldry_sequence_at_mass`),
        with its colour drawn from the sequence's dispersion at that M_r.
        Like the universe's galaxies, a galaxy is in the bin if the M/L of
        Baldry et al. (2006) of its own colour gives its M_r a mass inside
        (weighted by `_weight_to_own_masses`).
    seed : int

    Returns
    -------
    values : dict
        Median ``u_g``, ``g_r``, ``u_r`` (observed, SDSS system), ``r_i``
        (None), the same medians of each side of the divider alone
        (``sequences``: ``{"red": {...}, "blue": {...}}``), ``red_fraction``
        (the fraction above the Baldry et al. 2004 divider, as the
        universe's is counted), ``red_sequence_fraction``
        (the weight of the red Gaussian), the sequence widths of
        `sequence_widths`, and the rest-frame sequence loci at the bin centre.
    """
    rng = np.random.default_rng(seed)
    log_mass = rng.uniform(low - PUBLISHED_DRAW_PADDING, high + PUBLISHED_DRAW_PADDING, n_draws)
    baldry_mass = log_mass - scale_offset
    red_fraction = relations.quenched_fraction(baldry_mass)
    red = rng.uniform(size=n_draws) < red_fraction
    deviate = rng.normal(size=n_draws)
    u_r = np.empty(n_draws)
    g_r = np.empty(n_draws)
    rest_u_r = np.empty(n_draws)
    abs_mag_r = np.empty(n_draws)
    for name, members in (("red", red), ("blue", ~red)):
        abs_mag, mean, sigma = relations.baldry_sequence_at_mass(baldry_mass[members], name)
        abs_mag_r[members] = abs_mag
        rest_u_r[members] = mean + sigma * deviate[members]
        u_r[members] = rest_u_r[members] + k_corrections[name]["u_r"]
        gr_mean, gr_sigma = relations.smith2017_colour_magnitude(abs_mag - FIVE_LOG_H, name)
        # ^0.1(g - r), the colour observed at z = 0.1, moved to z = 0.05 as the universe's move.
        g_r[members] = gr_mean + gr_sigma * deviate[members] - k_corrections[name]["g_r_z01"]
    centre = 0.5 * (low + high) - scale_offset
    loci = {name: relations.baldry_sequence_at_mass(np.array([centre]), name)
            for name in ("red", "blue")}
    weight = _weight_to_own_masses(baldry_mass, red,
                                   baldry2006_log_mass(rest_u_r, abs_mag_r) + scale_offset,
                                   low, high, scale_offset)
    inside = weight > 0
    weight, red, u_r, g_r, rest_u_r, abs_mag_r = (
        values[inside] for values in (weight, red, u_r, g_r, rest_u_r, abs_mag_r))
    # Classified as the universe's galaxies are: by the divider, not by the Gaussian drawn from.
    above = rest_u_r > relations.baldry2004_divider(abs_mag_r)
    observed = {"u_g": u_r - g_r, "g_r": g_r, "u_r": u_r}
    sequences = {name: {colour: _weighted_median(values[members], weight[members])
                        for colour, values in observed.items()}
                 for name, members in (("red", above), ("blue", ~above))}
    return {
        **{colour: _weighted_median(values, weight) for colour, values in observed.items()},
        "r_i": None,
        "sequences": sequences,
        "red_fraction": float(np.average(above, weights=weight)),
        "red_sequence_fraction": float(np.average(red, weights=weight)),
        **sequence_widths(rest_u_r, abs_mag_r, above, weight),
        "rest_u_r_red_locus": float(loci["red"][1][0]),
        "rest_u_r_blue_locus": float(loci["blue"][1][0]),
        "abs_mag_r_red": float(loci["red"][0][0]),
        "abs_mag_r_blue": float(loci["blue"][0][0]),
    }


def sequence_widths(rest_u_r, abs_mag_r, red, weight):
    """
    Widths of the red and blue sequences in rest-frame u - r at fixed M_r.

    Half the 16-84 per cent range of each galaxy's rest-frame u - r minus the
    Baldry et al. (2004) sequence at its own M_r, over the galaxies on that
    side of their divider (so that a published Gaussian and the universe's
    galaxies, cut the same way, are measured the same way).

    Parameters
    ----------
    rest_u_r, abs_mag_r : ndarray
    red : ndarray of bool
        Above the divider.
    weight : ndarray

    Returns
    -------
    widths : dict
        ``red_width`` and ``blue_width`` (mag; NaN for fewer than 5 galaxies).
    """
    widths = {}
    for name, members in (("red", red), ("blue", ~red)):
        if members.sum() < 5:
            widths[f"{name}_width"] = float("nan")
            continue
        sequence, _ = relations.baldry2004_colour_magnitude(abs_mag_r[members], name)
        low, high = _weighted_quantile(rest_u_r[members] - sequence, weight[members],
                                       [0.16, 0.84])
        widths[f"{name}_width"] = float(0.5 * (high - low))
    return widths


def inferred_log_mass(data):
    """
    log M* an observer would infer with the M/L of Baldry et al. (2006) from rest-frame u - r.

    Parameters
    ----------
    data : dict
        As returned by `measure`.

    Returns
    -------
    log_mass : ndarray
    """
    return baldry2006_log_mass(_colours(data["rest"])["u_r"], data["abs_mag_r"])


def colour_log_mass(data, relation):
    """
    log M* an observer would infer from rest-frame light with a colour mass-to-light relation.

    Parameters
    ----------
    data : dict
        As returned by `measure`.
    relation : str
        A name in `picasso.analysis.baselines.COLOUR_RELATIONS`.

    Returns
    -------
    log_mass : ndarray
    """
    relation = COLOUR_RELATIONS[relation]
    index = {band: i for i, band in enumerate("ugriz")}
    rest = data["rest"]
    colour = rest[:, index[relation.blue]] - rest[:, index[relation.red]]
    luminosity = 0.4 * (SOLAR_ABSOLUTE_MAGNITUDES[relation.band] - rest[:, index[relation.band]])
    return relation.log_mass_to_light(colour) + luminosity


def summarise(data, mass="inferred", scale_offset=0.0):
    """
    Per-bin medians of the universe beside the published values.

    Parameters
    ----------
    data : dict
        As returned by `measure`.
    mass : {"inferred", "true"}
        Bin the universe's galaxies by the mass inferred from their light with
        the M/L that places the published relations at a mass (Baldry et al.
        2006; the same estimator on both sides), or by their true mass.
    scale_offset : float
        With ``mass="inferred"``: dex added to the inferred masses and to
        the published galaxies' (`published`): both moved onto another
        mass scale alike.

    Returns
    -------
    rows : list of dict
    """
    observed = _colours(data["observed"])
    total = _colours(data["observed_total"])
    rest = _colours(data["rest"])
    shifted = _colours(data["observed_z01"])
    abs_mag = data["abs_mag_r"]
    red = rest["u_r"] > relations.baldry2004_divider(abs_mag)
    inferred = inferred_log_mass(data)
    inferred_minus_true = inferred - data["log_mass"]
    log_mass = inferred + scale_offset if mass == "inferred" else data["log_mass"]
    # Galaxies are drawn flat in log M*; a real sample at fixed (inferred) mass holds them in
    # the proportions of the mass function, which is on the observers' scale.
    weight = relations.baldry2012_mass_function(data["log_mass"] - MASS_SCALE_OFFSET)
    rows = []
    for low, high in BINS:
        inside = (log_mass >= low) & (log_mass < high)
        if not inside.any():
            continue

        def median(values, members=inside):
            return _weighted_median(values[members], weight[members])

        def mean(values, members=inside):
            return float(np.average(values[members], weights=weight[members]))

        k = {}
        for name, members in (("red", inside & red), ("blue", inside & ~red)):
            members = members if members.sum() >= 5 else inside
            k[name] = {"u_r": median(observed["u_r"] - rest["u_r"], members),
                       "g_r_z01": median(shifted["g_r"] - observed["g_r"], members)}
        pub = published(low, high, k, scale_offset=scale_offset if mass == "inferred" else 0.0)
        row = {"bin": [low, high], "n": int(inside.sum()), "k_corrections": k, "published": pub,
               "inferred_minus_true_log_mass": median(inferred_minus_true),
               "colour_mass_minus_true": {
                   name: median(colour_log_mass(data, name) - data["log_mass"])
                   for name in MASS_SCALE_RELATIONS
               }}
        for colour in COLOURS:
            row[colour] = median(observed[colour])
            if pub[colour] is not None:
                row[f"{colour}_difference"] = row[colour] - pub[colour]
        row["red_fraction"] = mean(red)
        in_bin = np.flatnonzero(inside)
        row.update(sequence_widths(rest["u_r"][in_bin], abs_mag[in_bin], red[in_bin],
                                   weight[in_bin]))
        row["sigma"] = bootstrap_sigma(observed, red, weight, in_bin)
        row["quenched_fraction"] = mean(data["quenched"])
        for colour in ("u_r", "g_r"):
            row[f"{colour}_minus_total"] = median(observed[colour] - total[colour])
        row["de_vaucouleurs_fraction"] = mean(data["profile"] == "deV")
        row["strateva_u_r_above_2.22"] = mean(observed["u_r"] > 2.22)
        row["sequences"] = {}
        for name, members in (("red", inside & red), ("blue", inside & ~red)):
            if members.sum() >= 5:
                row["sequences"][name] = {c: median(observed[c], members)
                                          for c in REFERENCED_COLOURS}
                sequence, _ = relations.baldry2004_colour_magnitude(abs_mag, name)
                row[f"rest_{name}_offset_from_baldry2004"] = median(rest["u_r"] - sequence,
                                                                    members)
                # ^0.1(g - r) of each galaxy: its g - r observed at z = 0.1
                gama, _ = relations.smith2017_colour_magnitude(abs_mag - FIVE_LOG_H, name)
                row[f"{name}_g_r_offset_from_smith2017"] = median(shifted["g_r"] - gama, members)
        quenched = data["quenched"].astype(bool)
        for name, members in (("star_forming", inside & ~quenched),
                              ("quenched", inside & quenched)):
            if members.any():
                row[f"{name}_a_v_eff_median"] = median(data["a_v_eff"], members)
                row[f"{name}_a_v_light_median"] = median(data["a_v_light"], members)
                row[f"{name}_inferred_minus_true_log_mass"] = median(inferred_minus_true,
                                                                     members)
        rows.append(row)
    return rows


def bootstrap_sigma(observed, red, weight, members, n_resamples=BOOTSTRAP_RESAMPLES, seed=0):
    """
    1-sigma of a bin's median colours and red fraction from the finite number of its galaxies.

    Parameters
    ----------
    observed : dict of ndarray
        Observed colours of every galaxy (`_colours`).
    red : ndarray of bool
        Whether each galaxy is red.
    weight : ndarray
        Mass-function weight of each galaxy.
    members : ndarray of int
        The bin's galaxies.
    n_resamples : int
        Bootstrap resamples of the bin's galaxies (drawn with replacement).
    seed : int

    Returns
    -------
    sigma : dict
        The standard deviation over the resamples of every colour's
        weighted median, of the weighted red fraction, and of the median
        colours of the red and blue galaxies alone (``red_u_g``,
        ``blue_g_r``, ...).
    """
    rng = np.random.default_rng(seed)
    draws = {}
    for _ in range(n_resamples):
        sample = rng.choice(members, members.size)
        for colour in COLOURS:
            draws.setdefault(colour, []).append(
                _weighted_median(observed[colour][sample], weight[sample]))
        draws.setdefault("red_fraction", []).append(
            np.average(red[sample], weights=weight[sample]))
        for name, side in (("red", sample[red[sample]]), ("blue", sample[~red[sample]])):
            for colour in REFERENCED_COLOURS:
                draws.setdefault(f"{name}_{colour}", []).append(
                    _weighted_median(observed[colour][side], weight[side]) if side.size
                    else np.nan)
    return {name: float(np.nanstd(values)) for name, values in draws.items()}


def mass_scale_offset(data):
    """
    How far the universe's stellar-mass scale lies above that of Baldry et al. (2006).

    Parameters
    ----------
    data : dict
        As returned by `measure`.

    Returns
    -------
    offset : float
        Median true log10 M* minus the one inferred from the light with the
        M/L of Baldry et al. (2006), dex.
    """
    return float(np.median(data["log_mass"] - inferred_log_mass(data)))


def rescale(rows, offset):
    """
    Add the published values placed at a mass on another stellar-mass scale to rows of true mass.

    The published relations are luminosity relations placed at a mass with
    the M/L of Baldry et al. (2006). On a mass scale ``offset`` dex above it
    they are read at the bin's masses minus ``offset``; how far the published
    colours move is the floor that the choice of mass scale sets on a
    comparison at fixed mass.

    Parameters
    ----------
    rows : list of dict
        As returned by `summarise` with ``mass="true"``; each gains
        ``published_rescaled`` and ``{colour}_mass_scale_shift``.
    offset : float
        dex, as returned by `mass_scale_offset`.

    Returns
    -------
    worst, shift : float
        The largest difference between the universe's median colour and the
        moved published one, and the largest move of a published median
        colour (mag).
    """
    differences, shifts = [], []
    for row in rows:
        pub = published(*row["bin"], row["k_corrections"], scale_offset=offset)
        row["published_rescaled"] = pub
        for colour in COLOURS:
            if pub[colour] is not None:
                row[f"{colour}_difference_rescaled"] = row[colour] - pub[colour]
                row[f"{colour}_mass_scale_shift"] = pub[colour] - row["published"][colour]
                differences.append(abs(row[f"{colour}_difference_rescaled"]))
                shifts.append(abs(row[f"{colour}_mass_scale_shift"]))
    print("C. in bins of the universe's true stellar mass, the published relations placed on its "
          f"mass scale\n   ({offset:+.2f} dex above the M/L of Baldry et al. 2006 for the same "
          "galaxies): pub', the published\n   median there; shift, pub' - pub of table A (what "
          "the choice of mass scale moves)")
    print(f"{'log M*':10s}       " + "  ".join(
        f"{name.replace('_', '-'):^17s}" for name in COLOURS if name != "r_i")
        + f"  {'red fraction':^11s}")
    moved = "pub'"
    print(f"{'':10s}       " + "  ".join(f"{moved:>5s} {'diff':>5s} {'shift':>5s}"
                                         for _ in range(3)) + f"  {moved:>5s} {'diff':>5s}")
    for row in rows:
        pub = row["published_rescaled"]
        cells = [f"{pub[c]:5.2f} {row[c] - pub[c]:+5.2f} {row[f'{c}_mass_scale_shift']:+5.2f}"
                 for c in COLOURS if pub[c] is not None]
        cells.append(f"{pub['red_fraction']:5.2f} "
                     f"{row['red_fraction'] - pub['red_fraction']:+5.2f}")
        print(f"{row['bin'][0]:4.1f}-{row['bin'][1]:4.1f}       " + "  ".join(cells))
    worst, shift = max(differences), max(shifts)
    print(f"\nlargest |median colour - published| = {worst:.3f} mag; the published medians "
          f"move by up to {shift:.2f} mag from table A")
    print(_significance([(row[f"{c}_difference_rescaled"], row["sigma"][c]) for row in rows
                         for c in COLOURS if f"{c}_difference_rescaled" in row]))
    return worst, shift


def report_binned_alike(rows, alike):
    """
    Print table C beside the universe binned as C bins the published galaxies.

    Table C bins the universe's galaxies by their true mass, and the published
    ones by the mass of their own colour (Baldry et al. 2006) plus the offset:
    a published galaxy redder than its sequence gets a larger M/L and moves up
    a bin, which a universe galaxy's true mass does not. Binned alike (by the
    mass of its own colour plus the offset, `summarise` with
    ``scale_offset``), what is left of C's differences is B's on the shifted
    bins.

    Parameters
    ----------
    rows : list of dict
        Table C's rows (`rescale` has added ``published_rescaled``).
    alike : list of dict
        `summarise` of the same data with ``mass="inferred"`` and the offset.

    Returns
    -------
    worst : float
        The largest colour difference of the universe binned alike (mag).
    """
    print("C binned alike: the universe's galaxies binned as C bins the published ones (by the "
          "mass of their\n   own colour plus the offset), universe minus pub', beside C's "
          "difference (true mass)")
    print(f"{'log M*':10s} " + "  ".join(f"{name.replace('_', '-'):>11s}"
                                       for name in REFERENCED_COLOURS)
          + f"  {'red fraction':>12s}")
    print(f"{'':10s} " + "  ".join(f"{'alike':>5s} {'C':>5s}"
                                  for _ in range(len(REFERENCED_COLOURS) + 1)))
    by_bin = {tuple(row["bin"]): row for row in rows}
    differences = []
    for row in alike:
        true = by_bin.get(tuple(row["bin"]))
        if true is None:
            continue
        pub = true["published_rescaled"]
        cells = []
        for colour in (*REFERENCED_COLOURS, "red_fraction"):
            difference = row[colour] - row["published"][colour]
            if colour != "red_fraction":
                differences.append(abs(difference))
            cells.append(f"{difference:+5.2f} {true[colour] - pub[colour]:+5.2f}")
        print(f"{row['bin'][0]:4.1f}-{row['bin'][1]:4.1f} " + "  ".join(f"{c:>11s}" for c in cells))
    worst = max(differences)
    print(f"\nbinned alike, largest |median colour - published| = {worst:.3f} mag: C's "
          "differences beyond this are the binning, not the colours")
    return worst


def _cell(value, reference):
    if reference is None:
        return f"{value:5.2f}   -      "
    return f"{value:5.2f} {reference:5.2f} {value - reference:+5.2f}"


def report(rows, goal=True):
    """Print the table (and whether it meets the goal, if ``goal``)."""
    print(f"{'log M*':10s} {'N':>4s}  " + "  ".join(
        f"{name.replace('_', '-'):^17s}" for name in COLOURS) + f"  {'red fraction':^17s}")
    print(f"{'':10s} {'':4s}  " + "  ".join(
        f"{'pic':>5s} {'pub':>5s} {'diff':>5s}" for _ in range(len(COLOURS) + 1)))
    for row in rows:
        pub = row["published"]
        cells = [_cell(row[c], pub[c]) for c in COLOURS]
        cells.append(_cell(row["red_fraction"], pub["red_fraction"]))
        print(f"{row['bin'][0]:4.1f}-{row['bin'][1]:4.1f}  {row['n']:4d}  " + "  ".join(cells))
    print()
    print("the universe's red / blue galaxies minus the sequences at each galaxy's own M_r "
          "(median): rest-frame\nu - r against Baldry et al. (2004), ^0.1(g - r) against Smith "
          "et al. (2017); the attenuation of star-forming (SF) and quenched (Q) galaxies;\n"
          "the width of each sequence in rest-frame u - r at fixed M_r (sequence_widths)")
    print(f"{'log M*':10s} {'u-r red':>7s} {'blue':>6s}  {'g-r red':>7s} {'blue':>6s}   "
          f"{'A_V eff SF':>10s} {'A_V lw SF':>9s} {'A_V eff Q':>9s}   "
          f"{'quenched':>8s} {'u-r>2.22':>8s}   {'width red':>9s} {'pub':>5s} "
          f"{'blue':>5s} {'pub':>5s}")
    for row in rows:
        pub = row["published"]
        red = row.get("rest_red_offset_from_baldry2004", np.nan)
        blue = row.get("rest_blue_offset_from_baldry2004", np.nan)
        gr_red = row.get("red_g_r_offset_from_smith2017", np.nan)
        gr_blue = row.get("blue_g_r_offset_from_smith2017", np.nan)
        print(f"{row['bin'][0]:4.1f}-{row['bin'][1]:4.1f}  {red:+7.2f} {blue:+6.2f}  "
              f"{gr_red:+7.2f} {gr_blue:+6.2f}   "
              f"{row.get('star_forming_a_v_eff_median', np.nan):10.2f} "
              f"{row.get('star_forming_a_v_light_median', np.nan):9.2f} "
              f"{row.get('quenched_a_v_eff_median', np.nan):9.2f}   "
              f"{row['quenched_fraction']:8.2f} {row['strateva_u_r_above_2.22']:8.2f}   "
              f"{row['red_width']:9.2f} {pub['red_width']:5.2f} "
              f"{row['blue_width']:5.2f} {pub['blue_width']:5.2f}")
    print()
    print("stellar mass inferred from rest-frame light minus the true one (median, dex; "
          "Baldry06 also for\nthe star-forming (SF) and quenched (Q) galaxies alone)")
    print(f"{'log M*':10s} {'Baldry06 u-r':>12s} {'SF':>6s} {'Q':>6s} " + " ".join(
        f"{name:>14s}" for name in MASS_SCALE_RELATIONS))
    for row in rows:
        baldry = row["inferred_minus_true_log_mass"]
        by_type = " ".join(f"{row.get(f'{name}_inferred_minus_true_log_mass', np.nan):+6.2f}"
                           for name in ("star_forming", "quenched"))
        print(f"{row['bin'][0]:4.1f}-{row['bin'][1]:4.1f}  {baldry:+12.2f} {by_type} " + " ".join(
            f"{row['colour_mass_minus_true'][name]:+14.2f}" for name in MASS_SCALE_RELATIONS))
    print()
    print("model colour minus the colour of the summed light (median; 0 with --photometry "
          "total), and the\nfraction of galaxies whose r band a de Vaucouleurs profile fits "
          "better than an exponential")
    print(f"{'log M*':10s} {'u-r':>6s} {'g-r':>6s} {'deV':>6s}")
    for row in rows:
        print(f"{row['bin'][0]:4.1f}-{row['bin'][1]:4.1f}  {row['u_r_minus_total']:+6.2f} "
              f"{row['g_r_minus_total']:+6.2f} {row['de_vaucouleurs_fraction']:6.2f}")
    worst = max(abs(row[f"{c}_difference"]) for row in rows for c in COLOURS
                if f"{c}_difference" in row)
    print(f"\nlargest |median colour - published| = {worst:.3f} mag"
          + (f" (goal {GOAL_MAG})" if goal else ""))
    if goal:
        print(_significance([(row[f"{c}_difference"], row["sigma"][c]) for row in rows
                             for c in COLOURS if f"{c}_difference" in row]))
    return worst


def report_sequences(rows):
    """
    Print the median colours of each sequence alone beside the published ones.

    The median of a whole bin lies between the sequences wherever the red
    fraction is 0.3-0.7, so it moves with the red fraction and with how far
    each sequence's tail reaches into the gap; these medians of the galaxies
    on each side of the Baldry et al. (2004) divider, for the universe and
    for the published mixture cut the same way, show where each sequence
    itself lies.

    Parameters
    ----------
    rows : list of dict
        As returned by `summarise`.

    Returns
    -------
    worst : float
        The largest difference (mag).
    """
    print("the same bins, red and blue galaxies apart (each side of the Baldry et al. 2004 "
          "divider, the published\nmixture cut the same way): median colours, universe minus "
          "published")
    print(f"{'log M*':10s} " + "  ".join(f"{name + ' ' + c.replace('_', '-'):>17s}"
                                         for name in ("red", "blue")
                                         for c in REFERENCED_COLOURS))
    cells = []
    for row in rows:
        line = []
        for name in ("red", "blue"):
            for colour in REFERENCED_COLOURS:
                universe = row["sequences"].get(name, {}).get(colour, np.nan)
                reference = row["published"]["sequences"][name][colour]
                difference = universe - reference
                line.append(_cell(universe, reference))
                if np.isfinite(difference):
                    cells.append((difference, row["sigma"][f"{name}_{colour}"]))
        print(f"{row['bin'][0]:4.1f}-{row['bin'][1]:4.1f} " + "  ".join(line))
    worst = max(abs(difference) for difference, _ in cells)
    print(f"\nlargest |sequence median - published| = {worst:.3f} mag")
    print(_significance(cells))
    return worst


def smooth_history_colours(age_of_universe, nebular=True, table=None):
    """
    Observed u - r and g - r of smooth star-formation histories behind a dust screen.

    Delayed-tau histories (SFR proportional to t exp(-t / tau), the
    universe's own, `picasso.mock.realise`, on its age grid) starting at
    each of `SMOOTH_STARTS` Gyr, with every e-folding time of `SMOOTH_TAUS`,
    one metallicity of `SMOOTH_METALLICITIES`, from the universe's SSP
    table at its redshift (z = 0.05), seen
    through a screen of each V-band attenuation of `SMOOTH_A_V` with the
    universe's extinction curve (G23, R_V = 3.1).

    Parameters
    ----------
    age_of_universe : float
        Gyr.
    nebular : bool
        Include the nebular emission of populations younger than 10 Myr.
    table : `~picasso.mock.populations.SSPTable`, optional

    Returns
    -------
    u_r, g_r : ndarray
        Observed colours on the SDSS system.
    """
    from picasso.mock.observe.dust import _extinction_ratios
    from picasso.mock.realise import _sfh, _sfh_grid
    from picasso.properties import BANDS

    table = SSPTable.load() if table is None else table
    ratios = _extinction_ratios(tuple(BANDS), table.redshift)
    ages = _sfh_grid(age_of_universe)
    steps = np.gradient(ages)
    colours = []
    for metallicity in SMOOTH_METALLICITIES:
        flux = 10 ** (-0.4 * table.observed_magnitude(
            ages * u.Gyr, np.full(ages.size, metallicity), nebular=nebular).value)
        for start in SMOOTH_STARTS:
            rates = _sfh(ages, age_of_universe, start, np.asarray(SMOOTH_TAUS)[:, None], 0.0, 1.0)
            magnitudes = _magnitudes((rates * steps) @ flux)
            for a_v in SMOOTH_A_V:
                colours.append(_colours(magnitudes + a_v * ratios))
    return (np.concatenate([colour["u_r"] for colour in colours]),
            np.concatenate([colour["g_r"] for colour in colours]))


def report_smooth_history_reach(rows, smooth, tolerance=0.03):
    """
    Print the bluest g - r of smooth histories at the u - r of each published blue sequence.

    Parameters
    ----------
    rows : list of dict
        As returned by `summarise`; each gains ``smooth_history_bluest_g_r``
        (None where no smooth history has that u - r).
    smooth : tuple of ndarray
        As returned by `smooth_history_colours`.
    tolerance : float
        Histories within this of the published u - r count (mag).
    """
    u_r, g_r = smooth
    print("the bluest g - r of smooth histories (delayed-tau, any e-folding time, Z "
          f"{min(SMOOTH_METALLICITIES)}-{max(SMOOTH_METALLICITIES)}, a dust screen of A_V "
          f"{min(SMOOTH_A_V)}-{max(SMOOTH_A_V)})\nat the published blue galaxies' u - r "
          f"(+-{tolerance}), beside their g - r and the universe's blue galaxies'")
    print(f"{'log M*':10s} {'pub u-r':>8s} {'pub g-r':>8s} {'smooth g-r':>11s} "
          f"{'universe g-r':>13s}")
    for row in rows:
        published_blue = row["published"]["sequences"]["blue"]
        near = np.abs(u_r - published_blue["u_r"]) < tolerance
        bluest = float(g_r[near].min()) if near.any() else None
        row["smooth_history_bluest_g_r"] = bluest
        universe = row["sequences"].get("blue", {}).get("g_r", np.nan)
        print(f"{row['bin'][0]:4.1f}-{row['bin'][1]:4.1f} {published_blue['u_r']:8.2f} "
              f"{published_blue['g_r']:8.2f} "
              f"{'-' if bluest is None else f'{bluest:.2f}':>11s} {universe:13.2f}")


def _significance(cells):
    """A line on how the colour differences ``[(difference, sigma), ...]`` stand to the goal."""
    sigmas = [sigma for _, sigma in cells]
    beyond = sum(abs(difference) - 2 * sigma > GOAL_MAG for difference, sigma in cells)
    within = sum(abs(difference) + 2 * sigma < GOAL_MAG for difference, sigma in cells)
    return (f"the universe's medians carry 1-sigma {min(sigmas):.3f}-{max(sigmas):.3f} mag "
            f"(bootstrap over its galaxies): of {len(cells)} cells, {beyond} miss the goal and "
            f"{within} meet it by more than 2 sigma")


def disc_attenuation(config, n_discs=12, seed=3, log_mass_range=(10.0, 10.5)):
    """
    r-band attenuation of the whole light of star-forming discs seen face-on and edge-on.

    Parameters
    ----------
    config : `~picasso.mock.observe.ObservingConfig`
    n_discs : int
        Star-forming, late-type galaxies of a universe drawn in ``log_mass_range``.
    seed : int
        The universe's seed.
    log_mass_range : tuple of float

    Returns
    -------
    a_r : dict
        ``{"face_on": median, "inclined": median, "edge_on": median}`` (mag),
        ``inclined`` at `INCLINED_DEGREES`.
    """
    universe = Universe(seed=seed, mass_range=10.0 ** np.array(log_mass_range) * u.Msun)
    inclined = np.radians(INCLINED_DEGREES)
    views = {"face_on": (0.0, 0.0, 1.0), "inclined": (np.sin(inclined), 0.0, np.cos(inclined)),
             "edge_on": (1.0, 0.0, 0.0)}
    a_r = {name: [] for name in views}
    index = 0
    while len(a_r["face_on"]) < n_discs:
        props = universe.properties(index)
        index += 1
        if props.quenched or props.early_type:
            continue
        galaxy = universe.particles(index - 1, properties=props)
        main = slice(0, galaxy.meta["n_main_stars"])
        flux = stellar_fluxes(galaxy.stars, redshift=config.redshift).to_value(u.nanomaggy)[main, 2]
        radius = weighted_half_radius(
            np.linalg.norm(galaxy.stars.position_value[main], axis=1),
            galaxy.stars.mass_value[main],
        )
        # the disc lies in the x-y plane
        for name, direction in views.items():
            viewed = galaxy.rotated(Particles.view_rotation(np.array(direction),
                                                            np.array([0.0, 1.0, 0.3])))
            transmission, _ = attenuation(viewed, 0.5 * config.field_of_view * radius, config)
            a_r[name].append(-2.5 * np.log10(np.sum(flux * transmission[main, 2]) / flux.sum()))
    return {name: float(np.median(values)) for name, values in a_r.items()}


def dust_summary(data, log_mass_range=(10.0, 11.0)):
    """
    Mean log dust-to-stellar mass of quenched early types and star-forming galaxies (printed).

    Parameters
    ----------
    data : dict
        As returned by `measure`.
    log_mass_range : tuple of float
        True log10 M* of the galaxies included.

    Returns
    -------
    summary : dict
        Mean log10 M_dust / M* of ``quenched_early_type`` and ``star_forming``
        galaxies (unweighted), and ``hrs_early_type``, the published values.
    """
    low, high = log_mass_range
    inside = (data["log_mass"] >= low) & (data["log_mass"] < high)
    quenched = data["quenched"].astype(bool)
    groups = {"quenched_early_type": inside & quenched & data["early_type"].astype(bool),
              "star_forming": inside & ~quenched}
    summary = {name: float(np.mean(data["log_dust_to_stellar_mass"][members]))
               for name, members in groups.items() if members.any()}
    summary["hrs_early_type"] = HRS_EARLY_TYPE_DUST
    print(f"dust-to-stellar mass of 10^{low:g}-10^{high:g} Msun galaxies (mean log): quenched "
          f"early types {summary.get('quenched_early_type', np.nan):+.2f}, against "
          f"{HRS_EARLY_TYPE_DUST['S0']:+.1f} (S0) and {HRS_EARLY_TYPE_DUST['E']:+.1f} (E) in the "
          f"Herschel Reference Survey;\n  star-forming {summary.get('star_forming', np.nan):+.2f}")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--galaxies", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", choices=("paper", "sdss"), default="sdss")
    parser.add_argument("--nebular", action=argparse.BooleanOptionalAction, default=None,
                        help="nebular emission of young stars (default: the preset's)")
    parser.add_argument("--dust", action=argparse.BooleanOptionalAction, default=None,
                        help="dust attenuation (default: the preset's)")
    parser.add_argument("--metallicity-aperture", type=float,
                        default=SDSS_FIBRE_RADIUS.to_value(u.kpc), metavar="KPC",
                        help="radius inside which galaxies have their drawn metallicity "
                             "(Universe(metallicity_aperture=...); default: an SDSS fibre, "
                             "%(default).2f; 0: the half-mass radius)")
    parser.add_argument("--quenched-mass-scale-offset", type=float,
                        default=QUENCHED_MASS_SCALE_OFFSET, metavar="DEX",
                        help="dex below the true mass at which the quenched fraction is read "
                             "(default %(default)s)")
    parser.add_argument("--photometry", choices=("model", "total"), default="model",
                        help="colours from SDSS model magnitudes, as the published relations' "
                             "(default), or from the summed light")
    parser.add_argument("--processes", type=int, default=1,
                        help="worker processes (the result does not depend on them)")
    parser.add_argument("--output", default="benchmarks/results/realism.json")
    args = parser.parse_args(argv)
    changes = {name: value for name in ("dust", "nebular")
               if (value := getattr(args, name)) is not None}
    config = ObservingConfig.preset(args.preset, **changes)
    # The universe's default particle numbers (those of the training sets): fewer gas cells
    # change the dust columns by ~0.05 mag.
    universe = Universe(seed=args.seed, mass_range=10.0 ** np.array(DRAW_RANGE) * u.Msun,
                        metallicity_aperture=args.metallicity_aperture or None,
                        quenched_mass_scale_offset=args.quenched_mass_scale_offset)
    start, wall = os.times(), time.perf_counter()
    data = measure(universe, config, args.galaxies, processes=args.processes,
                   photometry=args.photometry)
    end = os.times()
    # this process and its finished workers
    seconds = sum(getattr(end, key) - getattr(start, key)
                  for key in ("user", "system", "children_user", "children_system"))
    wall = time.perf_counter() - wall
    print(f"picasso realism benchmark ({platform.processor() or platform.machine()}, "
          f"{seconds:.0f} s CPU, {wall:.0f} s wall in {args.processes} process(es))")
    print(f"preset {args.preset}, dust {'on' if config.dust else 'off'}, nebular emission "
          f"{'on' if config.nebular else 'off'}, {args.galaxies} "
          f"galaxies flat in log M* weighted by the Baldry et al. (2012) mass function, one "
          f"random view each; observed colours at z = "
          f"{config.redshift}, SDSS system; pic: picasso, pub: published relation\n")
    result = {"args": vars(args), "cpu_seconds": seconds, "wall_seconds": wall,
              "goal_mag": GOAL_MAG, "u_sdss_minus_ab": U_SDSS_MINUS_AB}
    titles = {
        "true": "A. in bins of the universe's true stellar mass, the published relations placed "
                "at a mass with the\n   M/L of Baldry et al. (2006): two mass scales, for "
                "reference only",
        "inferred": "B. in bins of the stellar mass inferred from the light with the M/L that "
                    "places the published\n   relations at a mass (Baldry et al. 2006): the same "
                    "estimator on both sides",
    }
    for mass, title in titles.items():
        print(title)
        rows = summarise(data, mass)
        result[f"bins_{mass}_mass"] = rows
        result[f"largest_difference_mag_{mass}_mass"] = report(rows, goal=mass == "inferred")
        print()
        if mass == "inferred":
            result["largest_sequence_difference_mag_inferred_mass"] = report_sequences(rows)
            print()
            report_smooth_history_reach(
                rows, smooth_history_colours(universe.age_of_universe, config.nebular))
            print()
    offset = mass_scale_offset(data)
    result["true_minus_baldry06_log_mass"] = offset
    worst, shift = rescale(result["bins_true_mass"], offset)
    result["largest_difference_mag_rescaled"] = worst
    result["largest_mass_scale_shift_mag"] = shift
    print()
    alike = summarise(data, "inferred", scale_offset=offset)
    result["bins_inferred_mass_rescaled"] = alike
    result["largest_difference_mag_rescaled_binned_alike"] = report_binned_alike(
        result["bins_true_mass"], alike)
    like_for_like = result["largest_difference_mag_inferred_mass"]
    result["largest_difference_mag_like_for_like"] = like_for_like
    print(f"\nlike for like (B): largest |median colour - published| = "
          f"{like_for_like:.3f} mag (goal {GOAL_MAG})\n")
    print(f"inferred minus true log M* (median): {-offset:+.2f} dex: the universe's M/L at a "
          "colour over that of Baldry et al. (2006)")
    for name in MASS_SCALE_RELATIONS:
        scale = float(np.median(colour_log_mass(data, name) - data["log_mass"]))
        print(f"  the same with {COLOUR_RELATIONS[name].reference}: {scale:+.2f} dex")
        result[f"{name}_minus_true_log_mass"] = scale
    if config.dust:
        discs = disc_attenuation(config)
        published_dimming = ", ".join(f"{value:.2f} ({name})"
                                      for name, value in EDGE_ON_DIMMING_R.items())
        print(f"r-band attenuation of star-forming discs of 10^10-10^10.5 Msun (median of 12): "
              f"face-on {discs['face_on']:.2f} mag, at {INCLINED_DEGREES:g} deg "
              f"{discs['inclined']:.2f} mag: {discs['inclined'] - discs['face_on']:.2f} mag more "
              f"at an axis ratio ~0.2,\n  against {published_dimming} in SDSS; exactly "
              f"edge-on {discs['edge_on']:.2f} mag")
        result["disc_attenuation_r"] = discs
        result["edge_on_dimming_r_published"] = EDGE_ON_DIMMING_R
        result["dust_to_stellar_mass"] = dust_summary(data)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
