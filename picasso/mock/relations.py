"""
The published scaling relations the synthetic universe draws its galaxies from.

Each function is one relation, named after its source; the fitted numbers
live in the module constants next to them. `picasso.mock.universe` draws
galaxy properties from them and `benchmarks/bench_mock.py` checks the
universe against them.
"""

import astropy.constants as const
import astropy.units as u
import numpy as np

__all__ = [
    "baldry2012_mass_function",
    "speagle2014_main_sequence",
    "quenched_fraction",
    "shen2003_size",
    "gallazzi2005_metallicity",
    "tremonti2004_oxygen_abundance",
    "blitz_rosolowsky_molecular_ratio",
    "mass_loss_fraction",
    "SOLAR_METALLICITY_BC03",
    "SOLAR_OXYGEN_ABUNDANCE",
    "SOLAR_METALLICITY_ASPLUND",
    "KENNICUTT1998",
]


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


# Physical constants in the units the pressure law uses, from astropy.constants.
_G_PC_MSUN_KMS = const.G.to_value(u.pc * (u.km / u.s) ** 2 / u.Msun)
_K_B_CGS = const.k_B.cgs.value
_MSUN_G = const.M_sun.cgs.value
_PC_CM = u.pc.to(u.cm)
_KMS_CMS = (u.km / u.s).to(u.cm / u.s)


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
