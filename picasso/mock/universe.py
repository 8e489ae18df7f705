"""
A seeded synthetic universe of galaxies built from published scaling relations.

Every galaxy is drawn from its own random stream (a child of one
`numpy.random.SeedSequence`), so galaxy ``i`` of a universe with seed ``s`` is
the same whatever else was drawn before it. A galaxy is first drawn as a set of
global properties (`GalaxyProperties`: stellar mass, star formation rate, size,
bulge, bar, arms, gas, metallicity, star-formation history), then realised as
star particles and gas cells (`~picasso.mock.particles.Particles`) that the
observing code (`picasso.mock.observe`) turns into truth maps and ugriz images.

Scaling relations (the numbers live in the module constants named below)
-------------------------------------------------------------------------
Stellar mass function
    Double Schechter fit of Baldry et al. (2012, MNRAS 421, 621; GAMA, z < 0.06,
    Chabrier IMF): log M* = 10.66, phi1 = 3.96e-3, alpha1 = -0.35,
    phi2 = 0.79e-3, alpha2 = -1.47. By default masses are drawn flat in log M*
    (``mass_function="flat"``) because a training set needs massive galaxies,
    which the mass function makes rare (about 4% of galaxies above 10^11 Msun in
    10^9.5-10^12); ``mass_function="baldry2012"`` draws from the mass function.
Star-forming main sequence
    Speagle et al. (2014, ApJS 214, 15) eq. 28, log SFR = (0.84 - 0.026 t) log M*
    - (6.51 - 0.11 t) at the age of the universe t (Gyr) at the galaxy's
    redshift, with 0.25 dex scatter (their "true" scatter is 0.2 dex).
Quiescent population
    Quenched fraction rising with mass, an approximate logistic form of the red
    fraction of Baldry et al. (2006, MNRAS 373, 469) at average density
    (about 0.2 at 10^9.5, 0.45 at 10^10.5, 0.9 at 10^11.5 Msun). Quenched
    galaxies lie 0.8-3 dex below the main sequence, which fills a green valley.
Sizes
    Shen et al. (2003, MNRAS 343, 978) r-band half-light radii for late types
    (alpha = 0.14, beta = 0.39, gamma = 0.10 kpc, M0 = 3.98e10 Msun) and early
    types (a = 0.56, b = 2.88e-6 kpc), with their mass-dependent log-normal
    scatter. Half-mass radii are taken as 0.8 (late) and 0.9 (early) of the
    half-light radius, approximately the colour-gradient correction of Szomoru
    et al. (2013) and Suess et al. (2019).
Stellar metallicity
    Median and 16-84% range of Gallazzi et al. (2005, MNRAS 362, 41), their
    Table 2 (log Z*/Zsun, Zsun = 0.02 as in BC03), interpolated in mass, shifted
    by ``stellar_metallicity_offset`` (default -0.15 dex, a calibration of the
    red sequence's observed colour, see `Universe`).
Gas-phase metallicity
    Tremonti et al. (2004, ApJ 613, 898) eq. 3, 12 + log(O/H) = -1.492 + 1.847 x
    - 0.08026 x^2 (x = log M*), 0.1 dex scatter, converted to a metal mass
    fraction with Asplund et al. (2009) solar 12 + log(O/H) = 8.69 and Z = 0.0142.
    (Its strong-line calibration sits ~0.2 dex above direct-method abundances.)
Metallicity and age gradients
    Negative stellar metallicity gradients of about -0.1 dex per half-light
    radius in discs and -0.2 dex per dex in radius in spheroids, gas gradients of
    about -0.1 dex per effective radius (Sanchez et al. 2014; Gonzalez Delgado et
    al. 2015; Kuntschner et al. 2010), each with galaxy-to-galaxy scatter.
    Inside-out growth: the disc scale length of stars grows with their
    formation time, so old stars are more concentrated (negative age gradients).
Gas fractions
    Atomic gas fraction log(M_HI/M*) falling with mass, an approximate fit to the
    medians of the GASS survey (Catinella et al. 2013, MNRAS 436, 34) and to
    ALFALFA at low mass, 0.3 dex scatter, about 1 dex lower for quenched
    galaxies; molecular gas from a depletion time of 1 Gyr (0.25 dex scatter,
    Saintonge et al. 2011; Bigiel et al. 2008). A hot gas halo holds a few per
    cent of the stellar mass.
HI/H2 partition
    Molecular-to-atomic ratio from the midplane pressure law of Blitz &
    Rosolowsky (2006, ApJ 650, 933): R_mol = (P / P0)^0.92 with P0/k = 4.3e4
    K cm^-3, the pressure from gas and stellar surface densities as in Leroy et
    al. (2008, AJ 136, 2782, eq. 39).
Star formation in the gas
    Kennicutt (1998, ApJ 498, 541) law Sigma_SFR = 2.5e-4 Sigma_gas^1.4
    (Msun/yr/kpc^2, Sigma in Msun/pc^2) above a threshold surface density sets
    where gas forms stars; the total is scaled to the galaxy's main-sequence
    SFR (the implied normalisation is kept in the galaxy's metadata).
Star-formation histories
    Delayed-tau histories, with a late exponential truncation for quenched
    galaxies, solved per galaxy so that the SFR of the last 100 Myr matches the
    drawn SFR; mass loss of a Chabrier population after Leitner & Kravtsov
    (2011): f(t) = 0.046 ln(1 + t / 0.276 Myr).

Structure
---------
Exponential discs with sech^2 vertical profiles that thicken with stellar age,
Einasto (deprojected Sersic-like) bulges, bars, logarithmic spiral arms that
carry most young stars, young star-forming clumps, a metal-poor stellar halo,
extended gas discs (scale length 1.4-2x the stars'), a beta-model hot gas
halo, and companions or mergers (a second galaxy, tidally stretched when close
and massive) in some frames.

Numbers marked "approximate" above are shapes chosen to follow the cited
papers' figures, not fits published in them.
"""

import logging
from dataclasses import asdict, dataclass, field

import astropy.units as u
import numpy as np
from astropy.cosmology import Planck18
from scipy.spatial import cKDTree
from scipy.special import gammaincinv

from .particles import HYDROGEN_MASS_FRACTION, GasCells, Particles, StarParticles

__all__ = [
    "GalaxyProperties",
    "Universe",
    "baldry2012_mass_function",
    "speagle2014_main_sequence",
    "quenched_fraction",
    "shen2003_size",
    "gallazzi2005_metallicity",
    "tremonti2004_oxygen_abundance",
    "blitz_rosolowsky_molecular_ratio",
    "mass_loss_fraction",
    "view_directions",
    "SOLAR_METALLICITY_BC03",
]

log = logging.getLogger(__name__)

#: Solar metal mass fraction in the BC03 / Gallazzi et al. (2005) convention.
SOLAR_METALLICITY_BC03 = 0.02
#: Asplund et al. (2009) solar oxygen abundance and metal mass fraction.
SOLAR_OXYGEN_ABUNDANCE = 8.69
SOLAR_METALLICITY_ASPLUND = 0.0142

# Baldry et al. (2012), Table 1 (double Schechter, h = 0.7).
BALDRY2012 = dict(log_mstar=10.66, phi1=3.96e-3, alpha1=-0.35, phi2=0.79e-3, alpha2=-1.47)

# Gallazzi et al. (2005) Table 2: log M*, and the 16th, 50th, 84th percentiles of log Z*/Zsun.
GALLAZZI2005 = np.array(
    [
        [8.91, -1.11, -0.60, -0.00],
        [9.11, -1.07, -0.61, 0.00],
        [9.31, -1.10, -0.65, -0.05],
        [9.51, -1.03, -0.61, -0.01],
        [9.72, -0.97, -0.52, 0.05],
        [9.91, -0.90, -0.41, 0.09],
        [10.11, -0.80, -0.23, 0.14],
        [10.31, -0.65, -0.11, 0.17],
        [10.51, -0.41, -0.01, 0.20],
        [10.72, -0.24, 0.04, 0.22],
        [10.91, -0.14, 0.07, 0.24],
        [11.11, -0.09, 0.10, 0.25],
        [11.31, -0.06, 0.12, 0.26],
        [11.51, -0.04, 0.13, 0.28],
        [11.72, -0.03, 0.14, 0.29],
        [11.91, -0.03, 0.15, 0.30],
    ]
)

# Shen et al. (2003) size-mass relations (their eqs. 17-18 and Table 1, r band, Sersic fits).
SHEN2003_LATE = dict(alpha=0.14, beta=0.39, gamma_kpc=0.10, m0=3.98e10, sigma1=0.47, sigma2=0.34)
SHEN2003_EARLY = dict(a=0.56, b_kpc=2.88e-6, sigma1=0.47, sigma2=0.34)

# Kennicutt (1998) star formation law and a threshold gas surface density (Msun / pc^2).
KENNICUTT1998 = dict(amplitude=2.5e-4, index=1.4, threshold=6.0)
# Blitz & Rosolowsky (2006) pressure law.
BLITZ_ROSOLOWSKY2006 = dict(p0_over_k=4.3e4, alpha=0.92)

# Physical constants in the units used below.
_G_PC_MSUN_KMS = 4.30091e-3  # G in pc (km/s)^2 / Msun
_K_B_CGS = 1.380649e-16
_MSUN_G = 1.98841e33
_PC_CM = 3.0856775814913673e18
_KMS_CMS = 1e5

#: Kernel for the 3D Einasto profile index of bulges (projected Sersic n about the same).
_MIN_PARTICLES = 64


def baldry2012_mass_function(log_mass):
    """
    Galaxy stellar mass function of Baldry et al. (2012), per dex.

    Parameters
    ----------
    log_mass : array-like
        log10 stellar mass in Msun.

    Returns
    -------
    phi : ndarray
        Number density per dex (Mpc^-3 dex^-1, h = 0.7).
    """
    p = BALDRY2012
    x = 10.0 ** (np.asarray(log_mass, dtype=float) - p["log_mstar"])
    return (
        np.log(10.0)
        * np.exp(-x)
        * (p["phi1"] * x ** (p["alpha1"] + 1.0) + p["phi2"] * x ** (p["alpha2"] + 1.0))
    )


def speagle2014_main_sequence(log_mass, age_of_universe):
    """
    Star-forming main sequence of Speagle et al. (2014), their eq. 28.

    Parameters
    ----------
    log_mass : array-like
        log10 stellar mass (Msun).
    age_of_universe : float
        Cosmic time in Gyr at the galaxy's redshift.

    Returns
    -------
    log_sfr : ndarray
        log10 SFR in Msun/yr.
    """
    t = float(age_of_universe)
    return (0.84 - 0.026 * t) * np.asarray(log_mass, dtype=float) - (6.51 - 0.11 * t)


def quenched_fraction(log_mass):
    """
    Fraction of quiescent galaxies at a stellar mass.

    An approximate logistic form of the red fraction of Baldry et al. (2006) at
    average environmental density: 0.15 + 0.8 / (1 + exp(-(log M - 10.7) / 0.35)).

    Parameters
    ----------
    log_mass : array-like
        log10 stellar mass (Msun).

    Returns
    -------
    fraction : ndarray
    """
    log_mass = np.asarray(log_mass, dtype=float)
    return 0.15 + 0.8 / (1.0 + np.exp(-(log_mass - 10.7) / 0.35))


def shen2003_size(log_mass, early_type):
    """
    Median r-band half-light radius and its scatter from Shen et al. (2003).

    Parameters
    ----------
    log_mass : array-like
        log10 stellar mass (Msun).
    early_type : array-like of bool
        Use the early-type relation (else late type).

    Returns
    -------
    radius_kpc : ndarray
        Median half-light radius in kpc.
    sigma_ln : ndarray
        Log-normal scatter (natural log) at that mass.
    """
    mass = 10.0 ** np.asarray(log_mass, dtype=float)
    late, early = SHEN2003_LATE, SHEN2003_EARLY
    late_radius = (
        late["gamma_kpc"]
        * mass ** late["alpha"]
        * (1.0 + mass / late["m0"]) ** (late["beta"] - late["alpha"])
    )
    early_radius = early["b_kpc"] * mass ** early["a"]
    sigma = late["sigma2"] + (late["sigma1"] - late["sigma2"]) / (1.0 + (mass / late["m0"]) ** 2)
    return np.where(early_type, early_radius, late_radius), sigma


def gallazzi2005_metallicity(log_mass):
    """
    Median and scatter of stellar metallicity at a stellar mass (Gallazzi et al. 2005).

    Parameters
    ----------
    log_mass : array-like
        log10 stellar mass (Msun).

    Returns
    -------
    median : ndarray
        Median log10(Z*/Zsun) (Zsun = 0.02).
    sigma : ndarray
        Half the 16-84 percentile range (dex).
    """
    table = GALLAZZI2005
    log_mass = np.asarray(log_mass, dtype=float)
    median = np.interp(log_mass, table[:, 0], table[:, 2])
    sigma = 0.5 * np.interp(log_mass, table[:, 0], table[:, 3] - table[:, 1])
    return median, sigma


def tremonti2004_oxygen_abundance(log_mass):
    """
    Gas-phase mass-metallicity relation of Tremonti et al. (2004), eq. 3.

    Parameters
    ----------
    log_mass : array-like
        log10 stellar mass (Msun); the fit holds for 8.5-11.5.

    Returns
    -------
    oxygen_abundance : ndarray
        12 + log10(O/H).
    """
    x = np.clip(np.asarray(log_mass, dtype=float), 8.5, 11.5)
    return -1.492 + 1.847 * x - 0.08026 * x**2


def blitz_rosolowsky_molecular_ratio(
    gas_surface_density, stellar_surface_density, stellar_scale_height, gas_velocity_dispersion=11.0
):
    """
    Molecular-to-atomic ratio R_mol = Sigma_H2 / Sigma_HI from midplane pressure.

    Blitz & Rosolowsky (2006): R_mol = (P / P0)^0.92, P0/k = 4.3e4 K cm^-3, with
    the hydrostatic midplane pressure of Leroy et al. (2008, eq. 39),
    P = (pi/2) G Sigma_g^2 + Sigma_g sqrt(2 G rho_*) sigma_g, rho_* = Sigma_* / (2 h_*).

    Parameters
    ----------
    gas_surface_density, stellar_surface_density : array-like
        Surface densities in Msun / pc^2.
    stellar_scale_height : array-like
        Stellar disc scale height in pc.
    gas_velocity_dispersion : float
        Gas velocity dispersion in km/s.

    Returns
    -------
    ratio : ndarray
    """
    sigma_gas = np.asarray(gas_surface_density, dtype=float)
    sigma_star = np.asarray(stellar_surface_density, dtype=float)
    rho_star = sigma_star / (2.0 * np.asarray(stellar_scale_height, dtype=float))
    # Pressure in Msun (km/s)^2 / pc^3; convert to K cm^-3 by dividing by k.
    pressure = (
        0.5 * np.pi * _G_PC_MSUN_KMS * sigma_gas**2
        + sigma_gas * np.sqrt(2.0 * _G_PC_MSUN_KMS * rho_star) * gas_velocity_dispersion
    )
    pressure_cgs = pressure * _MSUN_G * _KMS_CMS**2 / _PC_CM**3
    p_over_k = pressure_cgs / _K_B_CGS
    br = BLITZ_ROSOLOWSKY2006
    return (p_over_k / br["p0_over_k"]) ** br["alpha"]


def mass_loss_fraction(age):
    """
    Fraction of a Chabrier population's initial mass returned to the gas.

    Leitner & Kravtsov (2011): f(t) = 0.046 ln(1 + t / 2.76e5 yr).

    Parameters
    ----------
    age : array-like
        Population age in Gyr.

    Returns
    -------
    fraction : ndarray
    """
    return 0.046 * np.log1p(np.asarray(age, dtype=float) / 2.76e-4)


def view_directions(rng, n_views=4):
    """
    Viewing directions in a galaxy's own frame (disc in the x-y plane).

    The first is face-on (+z), the second edge-on (a random direction in the
    disc plane), the rest isotropic, as in the paper's four cameras.

    Parameters
    ----------
    rng : `numpy.random.Generator`
    n_views : int

    Returns
    -------
    directions : ndarray (n_views, 3)
        Unit vectors from the galaxy to the observer.
    names : list of str
        ``"face-on"``, ``"edge-on"``, ``"random"``...
    """
    if n_views < 1:
        raise ValueError(f"n_views must be at least 1, got {n_views}")
    directions, names = [], []
    for index in range(n_views):
        if index == 0:
            direction, name = np.array([0.0, 0.0, 1.0]), "face-on"
        elif index == 1:
            phi = rng.uniform(0, 2 * np.pi)
            direction, name = np.array([np.cos(phi), np.sin(phi), 0.0]), "edge-on"
        else:
            vector = rng.normal(size=3)
            direction, name = vector / np.linalg.norm(vector), "random"
        directions.append(direction)
        names.append(name)
    return np.array(directions), names


@dataclass
class GalaxyProperties:
    """
    The global properties of one synthetic galaxy, before it becomes particles.

    All lengths in kpc, masses in Msun, times in Gyr, SFR in Msun/yr,
    metallicities as log10(Z/Zsun) (stellar, BC03 Zsun = 0.02) or
    12 + log(O/H) (gas).

    Parameters
    ----------
    log_stellar_mass : float
    quenched : bool
        Drawn into the quiescent population.
    early_type : bool
        Spheroid-dominated (early-type size relation, high bulge fraction).
    log_sfr : float
        log10 of the total SFR.
    half_mass_radius : float
        Target projected stellar half-mass radius (kpc).
    disc_scale_length, disc_scale_height : float
    bulge_fraction, bulge_sersic_index, bulge_effective_radius, bulge_axis_ratio : float
    halo_fraction : float
        Stellar-halo mass fraction.
    bar_fraction : float
        Fraction of disc mass in a bar (0: no bar).
    bar_length, bar_axis_ratio : float
    n_arms : int
    pitch_angle : float
        Spiral pitch angle (radians).
    arm_strength : float
        Fraction of old disc stars in the arms (young stars: more).
    n_clumps : int
    log_stellar_metallicity, stellar_metallicity_gradient : float
    age_metallicity_slope : float
        dex per Gyr (negative: older is poorer).
    oxygen_abundance, gas_metallicity_gradient : float
    inside_out : float
        Ratio of young to old disc scale lengths is exp(inside_out).
    sfh_start, sfh_tau, quench_lookback, quench_tau : float
        Star-formation history (Gyr); quench_lookback <= 0 for no quenching.
    log_hi_mass, log_h2_mass, log_hot_gas_mass : float
    gas_scale_length_ratio : float
    depletion_time : float
    burst_fraction, burst_lookback, burst_duration : float
        A past starburst: fraction of the stellar mass, its lookback time and
        duration (Gyr); bursts end at least 150 Myr ago so the current SFR
        stays on its drawn value. They spread mass-to-light ratios at fixed
        colour, as real star-formation histories do.
    companion : GalaxyProperties or None
    companion_offset : ndarray or None
        Position of the companion relative to the centre (kpc).
    merger : bool
        Companion tidally distorted.
    """

    log_stellar_mass: float
    quenched: bool
    early_type: bool
    log_sfr: float
    half_mass_radius: float
    disc_scale_length: float
    disc_scale_height: float
    bulge_fraction: float
    bulge_sersic_index: float
    bulge_effective_radius: float
    bulge_axis_ratio: float
    halo_fraction: float
    bar_fraction: float
    bar_length: float
    bar_axis_ratio: float
    n_arms: int
    pitch_angle: float
    arm_strength: float
    n_clumps: int
    log_stellar_metallicity: float
    stellar_metallicity_gradient: float
    age_metallicity_slope: float
    oxygen_abundance: float
    gas_metallicity_gradient: float
    inside_out: float
    sfh_start: float
    sfh_tau: float
    quench_lookback: float
    quench_tau: float
    log_hi_mass: float
    log_h2_mass: float
    log_hot_gas_mass: float
    gas_scale_length_ratio: float
    depletion_time: float
    burst_fraction: float = 0.0
    burst_lookback: float = 0.0
    burst_duration: float = 0.0
    companion: "GalaxyProperties | None" = None
    companion_offset: np.ndarray | None = None
    merger: bool = False
    extra: dict = field(default_factory=dict)

    def summary(self):
        """
        The scalar properties as a flat dict (for tables and metadata).

        Returns
        -------
        summary : dict
        """
        values = {
            key: value
            for key, value in asdict(self).items()
            if key not in ("companion", "companion_offset", "extra")
        }
        values["has_companion"] = self.companion is not None
        if self.companion is not None:
            values["companion_log_stellar_mass"] = self.companion.log_stellar_mass
        return {
            key: (
                bool(v)
                if isinstance(v, (bool, np.bool_))
                else int(v)
                if isinstance(v, (int, np.integer))
                else float(v)
            )
            for key, v in values.items()
        }


class Universe:
    """
    A seeded population of synthetic galaxies.

    Parameters
    ----------
    seed : int
        Seed of the whole universe; galaxy ``i`` uses the child stream
        ``SeedSequence(seed, spawn_key=(i,))``.
    mass_range : `~astropy.units.Quantity` (2,)
        Stellar mass range (default 10^9.5 - 10^12 Msun, as in the paper).
    mass_function : {"flat", "baldry2012"}
        Draw log M* uniformly (default: balanced training sets) or from the
        Baldry et al. (2012) mass function.
    redshift : float
        Redshift at which galaxies are observed (sets the age of the universe).
    cosmology : `~astropy.cosmology.Cosmology`
    companion_fraction : float
        Fraction of frames with a companion galaxy.
    n_star_particles : int
        Star particles of a 10^10.5 Msun galaxy; the number scales as
        M*^0.4 within [`min_star_particles`, `max_star_particles`] (enough that
        the stellar truth fills about as many pixels as the paper's Illustris
        maps, ~25% of a 256 x 256 field of 10 half-mass radii).
    min_star_particles, max_star_particles : int
    gas_particle_mass_ratio : float
        Gas cell mass over the star particle mass of the galaxy (1: equal
        baryonic resolution, as in Illustris; 0.5 by default for smoother gas maps).
    max_gas_cells : int
    stellar_metallicity_offset : float
        Shift (dex) applied to the Gallazzi et al. (2005) stellar
        metallicities. The default -0.15 brings the red sequence of BC03
        populations observed at z = 0.05 from g - r = 0.87 to about 0.83,
        nearer the SDSS red sequence (0.75-0.8, observed), and lies within
        the 0.1-0.2 dex systematic spread between population-synthesis
        libraries; 0 reproduces Gallazzi et al. exactly.

    Examples
    --------
    >>> from picasso.mock.universe import Universe
    >>> universe = Universe(seed=1)
    >>> galaxy = universe.particles(0)
    >>> galaxy.total_stellar_mass.unit
    Unit("solMass")
    """

    def __init__(
        self,
        seed=0,
        *,
        mass_range=(10**9.5, 10**12) * u.Msun,
        mass_function="flat",
        redshift=0.05,
        cosmology=Planck18,
        companion_fraction=0.15,
        n_star_particles=20000,
        min_star_particles=8000,
        max_star_particles=40000,
        gas_particle_mass_ratio=0.5,
        max_gas_cells=12000,
        stellar_metallicity_offset=-0.15,
    ):
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise TypeError(f"seed must be a non-negative integer, got {seed!r}")
        mass_range = u.Quantity(mass_range)
        if not mass_range.unit.is_equivalent(u.Msun) or mass_range.shape != (2,):
            raise ValueError(
                "mass_range must be a Quantity of two masses, e.g. [1e9.5, 1e12] * u.Msun"
            )
        low, high = np.log10(mass_range.to_value(u.Msun))
        if not (np.isfinite(low) and np.isfinite(high) and high > low):
            raise ValueError(f"mass_range must be increasing and positive, got {mass_range}")
        if mass_function not in ("flat", "baldry2012"):
            raise ValueError(f"mass_function must be 'flat' or 'baldry2012', got {mass_function!r}")
        if not 0 <= companion_fraction <= 1:
            raise ValueError(f"companion_fraction must be in [0, 1], got {companion_fraction}")
        if not 0 <= redshift < 1:
            raise ValueError(f"redshift must be in [0, 1), got {redshift}")
        if not 1 <= min_star_particles <= n_star_particles <= max_star_particles:
            raise ValueError(
                "need 1 <= min_star_particles <= n_star_particles <= max_star_particles"
            )
        self.seed = int(seed)
        self.log_mass_range = (float(low), float(high))
        self.mass_function = mass_function
        self.redshift = float(redshift)
        self.cosmology = cosmology
        self.age_of_universe = float(cosmology.age(redshift).to_value(u.Gyr))
        self.companion_fraction = float(companion_fraction)
        self.n_star_particles = int(n_star_particles)
        self.min_star_particles = int(min_star_particles)
        self.max_star_particles = int(max_star_particles)
        self.gas_particle_mass_ratio = float(gas_particle_mass_ratio)
        self.max_gas_cells = int(max_gas_cells)
        self.stellar_metallicity_offset = float(stellar_metallicity_offset)

    def parameters(self):
        """
        The universe's parameters (for dataset attributes).

        Returns
        -------
        parameters : dict
        """
        return dict(
            seed=self.seed,
            log_mass_range=list(self.log_mass_range),
            mass_function=self.mass_function,
            redshift=self.redshift,
            cosmology=getattr(self.cosmology, "name", str(self.cosmology)),
            companion_fraction=self.companion_fraction,
            n_star_particles=self.n_star_particles,
            min_star_particles=self.min_star_particles,
            max_star_particles=self.max_star_particles,
            gas_particle_mass_ratio=self.gas_particle_mass_ratio,
            max_gas_cells=self.max_gas_cells,
            stellar_metallicity_offset=self.stellar_metallicity_offset,
        )

    # -- random streams --------------------------------------------------
    def seed_sequence(self, index):
        """
        The seed sequence of galaxy ``index``.

        Parameters
        ----------
        index : int

        Returns
        -------
        sequence : `numpy.random.SeedSequence`
        """
        if not isinstance(index, (int, np.integer)) or index < 0:
            raise ValueError(f"galaxy index must be a non-negative integer, got {index!r}")
        return np.random.SeedSequence(self.seed, spawn_key=(int(index),))

    def rng(self, index, stream=0):
        """
        Random generator of galaxy ``index`` (``stream`` separates uses).

        Parameters
        ----------
        index : int
        stream : int
            0: global properties, 1: particles, 2+: free for callers (views).

        Returns
        -------
        rng : `numpy.random.Generator`
        """
        child = self.seed_sequence(index).spawn(stream + 1)[stream]
        return np.random.default_rng(child)

    # -- sampling ----------------------------------------------------------
    def _draw_log_mass(self, rng):
        low, high = self.log_mass_range
        if self.mass_function == "flat":
            return rng.uniform(low, high)
        grid = np.linspace(low, high, 512)
        cdf = np.cumsum(baldry2012_mass_function(grid))
        cdf = (cdf - cdf[0]) / (cdf[-1] - cdf[0])
        return float(np.interp(rng.uniform(), cdf, grid))

    def properties(self, index):
        """
        Draw the global properties of galaxy ``index``.

        Parameters
        ----------
        index : int

        Returns
        -------
        properties : `GalaxyProperties`
        """
        rng = self.rng(index, 0)
        log_mass = self._draw_log_mass(rng)
        galaxy = self._draw_properties(rng, log_mass)
        if rng.uniform() < self.companion_fraction:
            ratio = 10.0 ** rng.uniform(-1.3, 0.0)
            companion_mass = max(log_mass + np.log10(ratio), 8.5)
            companion = self._draw_properties(rng, companion_mass)
            separation = galaxy.half_mass_radius * rng.uniform(1.2, 4.0)
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            galaxy.companion = companion
            galaxy.companion_offset = separation * direction
            galaxy.merger = bool(ratio > 0.2 and separation < 3.0 * galaxy.half_mass_radius)
        return galaxy

    def _draw_properties(self, rng, log_mass):
        t0 = self.age_of_universe
        quenched = bool(rng.uniform() < quenched_fraction(log_mass))
        early_type = bool(quenched and rng.uniform() < 0.75) or bool(
            (not quenched) and log_mass > 11.0 and rng.uniform() < 0.3
        )
        main_sequence = speagle2014_main_sequence(log_mass, t0)
        if quenched:
            offset = -np.clip(rng.normal(1.7, 0.5), 0.8, 3.0)
        else:
            offset = rng.normal(0.0, 0.25)
        log_sfr = float(main_sequence + offset)

        median_size, sigma_ln = shen2003_size(log_mass, early_type)
        light_radius = float(median_size * np.exp(rng.normal(0.0, float(sigma_ln))))
        light_radius = float(np.clip(light_radius, 0.4, 40.0))
        half_mass_radius = light_radius * (0.9 if early_type else 0.8)

        if early_type:
            bulge_fraction = float(np.clip(rng.beta(6.0, 2.0), 0.4, 1.0))
            bulge_n = float(rng.uniform(3.0, 6.0))
            bulge_re = half_mass_radius * rng.uniform(0.8, 1.0)
            bulge_q = float(rng.uniform(0.6, 1.0))
            disc_height_ratio = rng.uniform(0.15, 0.3)
        else:
            mean_bt = 0.05 + 0.3 / (1.0 + np.exp(-(log_mass - 10.6) / 0.35))
            concentration = 8.0
            bulge_fraction = float(rng.beta(mean_bt * concentration, (1 - mean_bt) * concentration))
            bulge_n = float(rng.uniform(1.0, 4.0))
            bulge_re = half_mass_radius * rng.uniform(0.12, 0.35)
            bulge_q = float(rng.uniform(0.6, 0.9))
            disc_height_ratio = rng.uniform(0.08, 0.16) if not quenched else rng.uniform(0.12, 0.25)
        disc_half = half_mass_radius * (1.0 + 0.6 * bulge_fraction)
        disc_scale_length = disc_half / 1.678
        disc_scale_height = disc_scale_length * disc_height_ratio

        has_bar = (bulge_fraction < 0.6) and rng.uniform() < 0.35
        bar_fraction = float(rng.uniform(0.08, 0.25)) if has_bar else 0.0
        bar_length = disc_scale_length * rng.uniform(0.8, 1.6)
        bar_axis_ratio = float(rng.uniform(0.25, 0.45))

        star_forming_disc = not quenched
        n_arms = int(rng.choice([2, 2, 2, 3, 4])) if star_forming_disc or rng.uniform() < 0.2 else 0
        pitch_angle = float(np.radians(rng.uniform(10.0, 30.0)))
        arm_strength = float(rng.uniform(0.1, 0.35)) if n_arms else 0.0
        ssfr_excess = 10 ** (log_sfr - log_mass + 10.0)
        n_clumps = int(rng.poisson(4.0 + 8.0 * min(ssfr_excess, 3.0))) if star_forming_disc else 0

        z_median, z_sigma = gallazzi2005_metallicity(log_mass)
        log_stellar_metallicity = float(
            z_median + self.stellar_metallicity_offset + rng.normal(0.0, float(z_sigma))
        )
        log_stellar_metallicity = float(np.clip(log_stellar_metallicity, -1.6, 0.4))
        stellar_gradient = float(
            rng.normal(-0.1, 0.07) if not early_type else rng.normal(-0.2, 0.08)
        )
        oxygen = float(tremonti2004_oxygen_abundance(log_mass) + rng.normal(0.0, 0.1))
        gas_gradient = float(rng.normal(-0.1, 0.05))
        age_metallicity_slope = float(rng.uniform(-0.08, -0.02))
        inside_out = float(rng.uniform(0.2, 1.0) if not early_type else rng.uniform(0.0, 0.4))

        # Downsizing: massive galaxies start earlier and form faster.
        sfh_start = float(np.clip(rng.normal(1.5 - 0.4 * (log_mass - 10.5), 0.7), 0.2, 6.0))
        if quenched:
            quench_lookback = float(
                np.clip(rng.normal(2.5 + 1.0 * (log_mass - 10.5), 1.5), 0.3, t0 - sfh_start - 1.0)
            )
        else:
            quench_lookback = 0.0

        log_hi_fraction = -0.5 - 0.45 * (log_mass - 10.0) + rng.normal(0.0, 0.3)
        if quenched:
            log_hi_fraction -= rng.uniform(0.6, 1.5)
        log_hi_mass = float(log_mass + log_hi_fraction)
        depletion_time = float(10 ** rng.normal(0.0, 0.25))
        log_h2_mass = float(log_sfr + np.log10(depletion_time * 1e9))
        log_hot_gas_mass = float(log_mass + rng.normal(-1.6, 0.35))
        gas_scale_length_ratio = float(rng.uniform(1.4, 2.0))
        if rng.uniform() < 0.4:
            burst_fraction = float(10 ** rng.uniform(-2.5, -0.6))
            burst_lookback = float(10 ** rng.uniform(np.log10(0.15), np.log10(5.0)))
            burst_duration = float(rng.uniform(0.05, 0.3))
        else:
            burst_fraction = burst_lookback = burst_duration = 0.0

        return GalaxyProperties(
            log_stellar_mass=float(log_mass),
            quenched=quenched,
            early_type=early_type,
            log_sfr=log_sfr,
            half_mass_radius=float(half_mass_radius),
            disc_scale_length=float(disc_scale_length),
            disc_scale_height=float(disc_scale_height),
            bulge_fraction=bulge_fraction,
            bulge_sersic_index=bulge_n,
            bulge_effective_radius=float(bulge_re),
            bulge_axis_ratio=bulge_q,
            halo_fraction=float(10 ** rng.uniform(np.log10(0.02), np.log10(0.08))),
            bar_fraction=bar_fraction,
            bar_length=float(bar_length),
            bar_axis_ratio=bar_axis_ratio,
            n_arms=n_arms,
            pitch_angle=pitch_angle,
            arm_strength=arm_strength,
            n_clumps=n_clumps,
            log_stellar_metallicity=log_stellar_metallicity,
            stellar_metallicity_gradient=stellar_gradient,
            age_metallicity_slope=age_metallicity_slope,
            oxygen_abundance=oxygen,
            gas_metallicity_gradient=gas_gradient,
            inside_out=inside_out,
            sfh_start=sfh_start,
            sfh_tau=float(10 ** rng.uniform(0.0, 1.0)),
            quench_lookback=quench_lookback,
            quench_tau=0.5,
            log_hi_mass=log_hi_mass,
            log_h2_mass=log_h2_mass,
            log_hot_gas_mass=log_hot_gas_mass,
            gas_scale_length_ratio=gas_scale_length_ratio,
            depletion_time=depletion_time,
            burst_fraction=burst_fraction,
            burst_lookback=burst_lookback,
            burst_duration=burst_duration,
        )

    # -- particles ---------------------------------------------------------
    def n_stars_for(self, log_mass):
        """
        Number of star particles for a galaxy of a given stellar mass.

        Parameters
        ----------
        log_mass : float

        Returns
        -------
        n : int
        """
        n = self.n_star_particles * 10 ** (0.4 * (log_mass - 10.5))
        return int(np.clip(round(n), self.min_star_particles, self.max_star_particles))

    def particles(self, index, properties=None):
        """
        Realise galaxy ``index`` as star particles and gas cells.

        Parameters
        ----------
        index : int
        properties : `GalaxyProperties`, optional
            Use these instead of drawing them (e.g. to vary one property).

        Returns
        -------
        particles : `~picasso.mock.particles.Particles`
            In the galaxy's own frame (disc in the x-y plane, centred on the
            main galaxy). ``meta`` holds ``galaxy_id``, ``properties`` (a flat
            dict of `GalaxyProperties.summary`), ``disc_normal`` and
            ``main_mask_stars`` / ``main_mask_gas`` counts.
        """
        if properties is None:
            properties = self.properties(index)
        rng = self.rng(index, 1)
        n_stars = self.n_stars_for(properties.log_stellar_mass)
        stars, gas, info = _realise(properties, rng, n_stars, self)
        meta = {
            "galaxy_id": int(index),
            "properties": properties.summary(),
            "disc_normal": [0.0, 0.0, 1.0],
            "n_main_stars": len(stars),
            "n_main_gas": len(gas),
            **info,
        }
        if properties.companion is not None:
            companion = properties.companion
            ratio = 10 ** (companion.log_stellar_mass - properties.log_stellar_mass)
            n_companion = max(int(round(n_stars * ratio)), 300)
            c_stars, c_gas, _ = _realise(companion, rng, n_companion, self)
            rotation = _random_rotation(rng)
            c_stars = c_stars.rotated(rotation)
            c_gas = c_gas.rotated(rotation)
            if properties.merger:
                c_stars, c_gas = _tidal_stretch(
                    c_stars, c_gas, properties.companion_offset, rng, companion.half_mass_radius
                )
            offset = properties.companion_offset * u.kpc
            stars = StarParticles.concatenate([stars, c_stars.translated(offset)])
            gas = GasCells.concatenate([gas, c_gas.translated(offset)])
        return Particles(stars, gas, meta)


# --------------------------------------------------------------------------
# realisation of one galaxy
# --------------------------------------------------------------------------


def _random_rotation(rng):
    from scipy.spatial.transform import Rotation

    return Rotation.from_quat(rng.normal(size=4))


def _tidal_stretch(stars, gas, offset, rng, radius):
    """Stretch a companion along the line to the main galaxy and bend it (tidal tails)."""
    axis = -offset / np.linalg.norm(offset)
    strength = rng.uniform(0.3, 1.0)
    bend = rng.normal(size=3)
    bend -= axis * np.dot(bend, axis)
    bend /= max(np.linalg.norm(bend), 1e-12)

    def distort(position):
        along = position @ axis
        scaled = along / radius
        stretched = position + np.outer(strength * along * np.tanh(np.abs(scaled)), axis)
        return stretched + np.outer(0.15 * strength * radius * scaled**2, bend)

    stars = type(stars).from_arrays(
        distort(stars.position_value),
        stars.mass_value,
        stars.initial_mass_value,
        stars.age_value,
        stars.metallicity,
        validate=False,
    )
    gas = type(gas).from_arrays(
        distort(gas.position_value),
        gas.mass_value,
        gas.metallicity,
        gas.sfr_value,
        gas.neutral_fraction,
        gas.smoothing_length_value,
        gas.molecular_fraction,
        validate=False,
    )
    return stars, gas


def _sfh_grid(t0):
    """Lookback-time (age) grid, fine at young ages."""
    return np.unique(np.concatenate([np.linspace(0.0, 0.3, 301), np.linspace(0.3, t0, 700)]))


def _sfh(ages, t0, start, tau, quench_lookback, quench_tau):
    """Delayed-tau SFR (arbitrary normalisation) at lookback times ``ages``."""
    t = t0 - ages - start
    rate = np.where(t > 0, t * np.exp(-np.clip(t, 0, None) / tau), 0.0)
    if quench_lookback > 0:
        after = ages < quench_lookback
        rate = np.where(
            after, rate * np.exp(-np.clip(quench_lookback - ages, 0, None) / quench_tau), rate
        )
    return rate


def _ssfr_recent(ages, rate, window=0.1):
    """SFR of the last ``window`` Gyr over the current (mass-lost) stellar mass, per yr.

    ``rate`` may hold several histories along its first axis.
    """
    current = np.trapezoid(rate * (1.0 - mass_loss_fraction(ages)), ages, axis=-1)
    recent = ages <= window
    recent_mass = np.trapezoid(rate[..., recent], ages[recent], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(current > 0, recent_mass / window / current / 1e9, 0.0)


def _solve_sfh(props, t0):
    """Adjust tau (or the quench e-folding) so the recent sSFR matches the drawn SFR."""
    target = 10 ** (props.log_sfr - props.log_stellar_mass)
    ages = _sfh_grid(t0)
    start = props.sfh_start
    if props.quench_lookback <= 0:
        # For tau -> infinity a delayed-tau history gives sSFR -> 2 / (t0 - start):
        # start later if needed.
        max_start = t0 - 2.3 / (target * 1e9)
        if max_start < start:
            start = float(np.clip(max_start, 0.0, t0 - 0.5))
        taus = np.logspace(-1, 3, 80)
        values = _ssfr_recent(ages, _sfh(ages, t0, start, taus[:, None], 0, 1))
        tau = float(
            np.interp(np.log10(target), np.log10(np.maximum(values, 1e-20)), np.log10(taus))
        )
        return dict(start=start, tau=10**tau, quench_lookback=0.0, quench_tau=1.0)
    quench_taus = np.logspace(-2, 1, 60)
    values = _ssfr_recent(
        ages, _sfh(ages, t0, start, props.sfh_tau, props.quench_lookback, quench_taus[:, None])
    )
    qt = float(
        np.interp(np.log10(target), np.log10(np.maximum(values, 1e-30)), np.log10(quench_taus))
    )
    return dict(
        start=start, tau=props.sfh_tau, quench_lookback=props.quench_lookback, quench_tau=10**qt
    )


def _draw_ages(rng, n, sfh, t0):
    """Draw formation lookback times (ages) from a star-formation history."""
    ages = _sfh_grid(t0)
    rate = _sfh(ages, t0, sfh["start"], sfh["tau"], sfh["quench_lookback"], sfh["quench_tau"])
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(ages))])
    if cdf[-1] <= 0:
        return rng.uniform(0.5 * t0, t0 - 0.1, n)
    cdf /= cdf[-1]
    return np.interp(rng.uniform(size=n), cdf, ages)


def _exponential_radius(rng, n, scale):
    """Radii of a face-on exponential disc (Gamma(2) in R / h)."""
    return rng.gamma(2.0, 1.0, n) * scale


def _sech2_height(rng, n, scale):
    return scale * np.arctanh(np.clip(2.0 * rng.uniform(size=n) - 1.0, -0.999999, 0.999999))


def _einasto_radius(rng, n, half_mass_radius, index):
    """3D radii of an Einasto profile (rho ~ exp(-d r^(1/n))) with a given half-mass radius."""
    shape = 3.0 * index
    x = rng.gamma(shape, 1.0, n)
    x_half = gammaincinv(shape, 0.5)
    return half_mass_radius * (x / x_half) ** index


def _isotropic(rng, n):
    vector = rng.normal(size=(n, 3))
    return vector / np.linalg.norm(vector, axis=1, keepdims=True)


def _disc_positions(rng, radius, height, phase_arm, props, arm_mask):
    """Cartesian positions of disc particles, with some in logarithmic spiral arms."""
    n = radius.size
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    if props.n_arms and np.any(arm_mask):
        m = props.n_arms
        k = np.count_nonzero(arm_mask)
        winding = np.log(np.maximum(radius[arm_mask], 1e-3) / props.disc_scale_length) / np.tan(
            props.pitch_angle
        )
        arm_index = rng.integers(0, m, k)
        width = rng.normal(0.0, 0.25, k)  # radians of azimuth around the arm ridge
        phi[arm_mask] = phase_arm + winding + 2.0 * np.pi * arm_index / m + width
    return np.column_stack([radius * np.cos(phi), radius * np.sin(phi), height])


def _realise(props, rng, n_stars, universe):
    """Star particles and gas cells of one galaxy in its own frame."""
    t0 = universe.age_of_universe
    sfh = _solve_sfh(props, t0)
    mass = 10**props.log_stellar_mass
    h = props.disc_scale_length

    # -- split the particles among components ----------------------------
    fractions = {
        "bulge": props.bulge_fraction * (1 - props.halo_fraction),
        "halo": props.halo_fraction,
    }
    disc_total = max(1.0 - fractions["bulge"] - fractions["halo"], 0.0)
    fractions["bar"] = disc_total * props.bar_fraction
    fractions["disc"] = disc_total - fractions["bar"]
    names = list(fractions)
    counts = rng.multinomial(
        n_stars, np.array([fractions[k] for k in names]) / sum(fractions.values())
    )
    count = dict(zip(names, counts))

    positions, ages, zs = [], [], []
    arm_phase = rng.uniform(0, 2 * np.pi)

    # Disc: ages from the galaxy's history; inside-out scale length; age-heated thickness.
    n_disc = count["disc"]
    disc_age = _draw_ages(rng, n_disc, sfh, t0)
    mean_age = float(np.mean(disc_age)) if n_disc else 5.0
    age_scale = h * np.exp(-props.inside_out * (disc_age - mean_age) / t0)
    # A past central starburst: some disc particles re-drawn at the burst's ages.
    in_burst = np.zeros(n_disc, bool)
    if props.burst_fraction > 0 and n_disc:
        n_burst = min(int(round(props.burst_fraction * n_stars)), n_disc // 2)
        chosen = rng.choice(n_disc, n_burst, replace=False)
        disc_age[chosen] = props.burst_lookback + props.burst_duration * rng.uniform(size=n_burst)
        age_scale[chosen] = 0.5 * h
        in_burst[chosen] = True
    radius = _exponential_radius(rng, n_disc, age_scale)
    height = _sech2_height(
        rng, n_disc, props.disc_scale_height * (0.35 + 0.65 * np.sqrt(disc_age / 10.0))
    )
    young = disc_age < 0.3
    arm_probability = (
        np.where(young, 0.75, props.arm_strength) if props.n_arms else np.zeros(n_disc)
    )
    in_arm = rng.uniform(size=n_disc) < arm_probability
    disc_pos = _disc_positions(rng, radius, height, arm_phase, props, in_arm)
    # Young star-forming clumps: a third of the youngest stars sit in compact clumps.
    clump_centres = np.zeros((0, 3))
    if props.n_clumps:
        clump_radius = _exponential_radius(rng, props.n_clumps, h)
        clump_phi = rng.uniform(0, 2 * np.pi, props.n_clumps)
        clump_centres = np.column_stack(
            [
                clump_radius * np.cos(clump_phi),
                clump_radius * np.sin(clump_phi),
                np.zeros(props.n_clumps),
            ]
        )
        very_young = np.flatnonzero((disc_age < 0.1) & (rng.uniform(size=n_disc) < 0.4))
        if very_young.size:
            which = rng.integers(0, props.n_clumps, very_young.size)
            size = rng.uniform(0.08, 0.3, props.n_clumps)[which]
            disc_pos[very_young] = clump_centres[which] + rng.normal(
                size=(very_young.size, 3)
            ) * size[:, None] * [1, 1, 0.5]
    positions.append(disc_pos)
    ages.append(disc_age)
    disc_r_norm = np.hypot(disc_pos[:, 0], disc_pos[:, 1]) / max(props.half_mass_radius, 1e-3)
    zs.append(
        props.log_stellar_metallicity
        + props.stellar_metallicity_gradient * (disc_r_norm - 1.0)
        + props.age_metallicity_slope * (disc_age - mean_age)
        + 0.1 * in_burst
    )

    # Bar: an elongated triaxial Gaussian of intermediate-to-old stars.
    n_bar = count["bar"]
    if n_bar:
        bar_age = _draw_ages(
            rng,
            n_bar,
            dict(sfh, quench_lookback=max(sfh["quench_lookback"], 1.0), quench_tau=0.3),
            t0,
        )
        scale = (
            props.bar_length
            / 2.0
            * np.array([1.0, props.bar_axis_ratio, props.bar_axis_ratio * 0.8])
        )
        bar_pos = rng.normal(size=(n_bar, 3)) * scale
        angle = rng.uniform(0, np.pi)
        c, s = np.cos(angle), np.sin(angle)
        bar_pos = bar_pos @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
        positions.append(bar_pos)
        ages.append(bar_age)
        r_norm = np.linalg.norm(bar_pos[:, :2], axis=1) / max(props.half_mass_radius, 1e-3)
        zs.append(
            props.log_stellar_metallicity
            + props.stellar_metallicity_gradient * (r_norm - 1.0)
            + props.age_metallicity_slope * (bar_age - mean_age)
        )

    # Bulge: old, early and fast formation, metal-rich centre.
    n_bulge = count["bulge"]
    if n_bulge:
        bulge_sfh = dict(
            start=max(sfh["start"] - 0.5, 0.1),
            tau=rng.uniform(1.0, 4.0),
            quench_lookback=max(sfh["quench_lookback"], rng.uniform(1.0, 6.0)),
            quench_tau=rng.uniform(0.3, 1.0),
        )
        bulge_sfh["quench_lookback"] = min(
            bulge_sfh["quench_lookback"], t0 - bulge_sfh["start"] - 0.5
        )
        bulge_age = _draw_ages(rng, n_bulge, bulge_sfh, t0)
        r3 = _einasto_radius(
            rng, n_bulge, props.bulge_effective_radius * 1.33, props.bulge_sersic_index
        )
        bulge_pos = _isotropic(rng, n_bulge) * r3[:, None]
        bulge_pos[:, 2] *= props.bulge_axis_ratio
        positions.append(bulge_pos)
        ages.append(bulge_age)
        r_norm = np.maximum(
            np.linalg.norm(bulge_pos, axis=1) / max(props.bulge_effective_radius, 1e-3), 1e-2
        )
        spheroid_gradient = props.stellar_metallicity_gradient if props.early_type else -0.2
        zs.append(
            props.log_stellar_metallicity
            + spheroid_gradient * np.log10(r_norm)
            + props.age_metallicity_slope * (bulge_age - np.mean(bulge_age))
        )

    # Stellar halo: old, metal-poor, extended.
    n_halo = count["halo"]
    if n_halo:
        halo_age = rng.uniform(9.0, t0 - 0.3, n_halo)
        r3 = _einasto_radius(rng, n_halo, props.half_mass_radius * rng.uniform(2.5, 4.0), 4.0)
        halo_pos = _isotropic(rng, n_halo) * r3[:, None]
        halo_pos[:, 2] *= rng.uniform(0.6, 1.0)
        positions.append(halo_pos)
        ages.append(halo_age)
        zs.append(props.log_stellar_metallicity - 0.9 + rng.normal(0.0, 0.3, n_halo))

    position = np.concatenate(positions)
    age = np.clip(np.concatenate(ages), 1e-4, t0)
    log_z = np.concatenate(zs) + rng.normal(0.0, 0.12, age.size)
    metallicity = SOLAR_METALLICITY_BC03 * 10 ** np.clip(log_z, -2.3, 0.45)
    remaining = 1.0 - mass_loss_fraction(age)
    initial_mass = np.full(age.size, mass / remaining.sum())
    current_mass = initial_mass * remaining
    stars = StarParticles.from_arrays(
        position, current_mass, initial_mass, age, metallicity, validate=False
    )
    particle_mass = float(mass / age.size)

    gas, gas_info = _realise_gas(
        props, rng, universe, particle_mass, clump_centres, arm_phase, position, current_mass
    )
    info = {"sfh": sfh, **gas_info}
    return stars, gas, info


def _realise_gas(
    props, rng, universe, particle_mass, clump_centres, arm_phase, star_position, star_mass
):
    """Cold gas disc (HI + H2, star forming) and hot halo gas of one galaxy."""
    cell_mass = particle_mass * universe.gas_particle_mass_ratio
    h_star = props.disc_scale_length
    h_gas = h_star * props.gas_scale_length_ratio
    cold_mass = (10**props.log_hi_mass + 10**props.log_h2_mass) / HYDROGEN_MASS_FRACTION
    hot_mass = 10**props.log_hot_gas_mass
    n_cold = int(np.clip(round(cold_mass / cell_mass), 50, universe.max_gas_cells))
    n_hot = int(np.clip(round(hot_mass / cell_mass), 50, universe.max_gas_cells // 4))

    # Cold disc: exponential, thin, flaring; a fraction in arms and in clumps (dense).
    radius = _exponential_radius(rng, n_cold, h_gas)
    flare = np.exp(radius / (2.5 * h_gas))
    height = _sech2_height(rng, n_cold, 0.12 * rng.uniform(0.7, 1.4) * flare)
    dense_probability = np.exp(-radius / (1.5 * h_star)) * 0.8
    dense = rng.uniform(size=n_cold) < dense_probability
    arm = dense & (props.n_arms > 0)
    cold_pos = _disc_positions(rng, radius, height, arm_phase, props, arm)
    enhancement = np.where(arm, 2.0, 0.7)
    if len(clump_centres):
        in_clump = np.flatnonzero(dense & (rng.uniform(size=n_cold) < 0.3))
        if in_clump.size:
            which = rng.integers(0, len(clump_centres), in_clump.size)
            cold_pos[in_clump] = clump_centres[which] + rng.normal(size=(in_clump.size, 3)) * [
                0.2,
                0.2,
                0.05,
            ]
            enhancement[in_clump] = 4.0
    r_cold = np.hypot(cold_pos[:, 0], cold_pos[:, 1])
    mean_sigma_gas = (
        cold_mass / (2 * np.pi * h_gas**2) * np.exp(-r_cold / h_gas) / 1e6
    )  # Msun / pc^2
    sigma_gas = mean_sigma_gas * enhancement
    disc_star_mass = 10**props.log_stellar_mass * (1.0 - props.bulge_fraction)
    sigma_star = disc_star_mass / (2 * np.pi * h_star**2) * np.exp(-r_cold / h_star) / 1e6
    ratio = blitz_rosolowsky_molecular_ratio(
        sigma_gas, sigma_star, max(props.disc_scale_height, 0.05) * 1e3
    )
    molecular = ratio / (1.0 + ratio)
    # Kennicutt-Schmidt: SFR per unit gas mass ~ Sigma_gas^0.4 above the threshold.
    ks = KENNICUTT1998
    # Only dense (arm and clump) gas forms stars, like the density threshold of simulations.
    forming = dense & (sigma_gas > ks["threshold"]) & (molecular > 0.3)
    # Kennicutt (1998) counts hydrogen (HI + H2) without helium.
    sigma_hydrogen = HYDROGEN_MASS_FRACTION * sigma_gas
    sfr_density = ks["amplitude"] * sigma_hydrogen ** ks["index"]  # Msun / yr / kpc^2
    cold_cell_mass = cold_mass / n_cold
    sfr = np.where(forming, sfr_density / (sigma_gas * 1e6) * cold_cell_mass, 0.0)
    target_sfr = 10**props.log_sfr
    ks_total = float(sfr.sum())
    if ks_total > 0:
        sfr *= target_sfr / ks_total
    elif n_cold:
        # No cell above threshold: the densest cells carry the (small) SFR.
        densest = np.argsort(sigma_gas)[-max(1, n_cold // 50) :]
        sfr[densest] = target_sfr / densest.size
        ks_total = 0.0
    r_norm = r_cold / max(props.half_mass_radius, 1e-3)
    log_oh = (
        props.oxygen_abundance
        + props.gas_metallicity_gradient * (r_norm - 1.0)
        + rng.normal(0, 0.05, n_cold)
    )
    cold_z = SOLAR_METALLICITY_ASPLUND * 10 ** (log_oh - SOLAR_OXYGEN_ABUNDANCE)
    cold_neutral = np.clip(rng.uniform(0.85, 1.0, n_cold), 0, 1)

    # Hot halo: beta model (beta = 2/3) with a core of half the stellar half-mass radius.
    core = 0.5 * props.half_mass_radius
    r_max = 8.0 * props.half_mass_radius
    grid = np.linspace(0, r_max, 512)
    shell = grid**2 / (1 + (grid / core) ** 2)
    cdf = np.cumsum(shell)
    cdf /= cdf[-1]
    r_hot = np.interp(rng.uniform(size=n_hot), cdf, grid)
    hot_pos = _isotropic(rng, n_hot) * r_hot[:, None]
    hot_z = SOLAR_METALLICITY_ASPLUND * 10 ** rng.normal(-0.5, 0.15, n_hot)
    hot_neutral = 10 ** rng.uniform(-5, -3, n_hot)

    position = np.concatenate([cold_pos, hot_pos])
    masses = np.concatenate([np.full(n_cold, cold_mass / n_cold), np.full(n_hot, hot_mass / n_hot)])
    metallicity = np.clip(np.concatenate([cold_z, hot_z]), 0.0, 0.2)
    sfr_all = np.concatenate([sfr, np.zeros(n_hot)])
    neutral = np.concatenate([cold_neutral, hot_neutral])
    molecular_all = np.concatenate([molecular, np.zeros(n_hot)])
    # Cell sizes: the radius holding ~32 neighbours, from the 8th-neighbour distance
    # scaled by (32 / 8)^(1/3) (cells fill the volume; four times cheaper to find).
    k = min(9, position.shape[0])
    distance, _ = cKDTree(position).query(position, k=k)
    smoothing = np.maximum(distance[:, -1] * (32.0 / max(k - 1, 1)) ** (1.0 / 3.0), 1e-3)
    gas = GasCells.from_arrays(
        position, masses, metallicity, sfr_all, neutral, smoothing, molecular_all, validate=False
    )
    sf_cells = max(int(np.count_nonzero(sfr)), 1)
    info = {
        "kennicutt_normalisation_ratio": float(target_sfr / ks_total) if ks_total > 0 else None,
        "n_star_forming_cells": sf_cells,
        "molecular_mass": float((masses * HYDROGEN_MASS_FRACTION * neutral * molecular_all).sum()),
    }
    return gas, info
