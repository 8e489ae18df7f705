"""
The published scaling relations the synthetic universe draws its galaxies from.

Each function is one relation, named after its source; the fitted numbers
live in the module constants next to them. `picasso.mock.universe` draws
galaxy properties from them and `benchmarks/bench_mock.py` checks the
universe against them. The observed colour relations of SDSS galaxies at the
end (Baldry et al. 2004, 2006; Smith et al. 2017) are not used to draw
galaxies: `benchmarks/bench_realism.py` and the tests measure the universe's
colours against them.
"""

import astropy.constants as const
import astropy.units as u
import numpy as np

__all__ = [
    "baldry2012_mass_function",
    "speagle2014_main_sequence",
    "renzini_peng2015_main_sequence",
    "bending_main_sequence",
    "quenched_fraction",
    "shen2003_size",
    "gallazzi2005_metallicity",
    "passive_metallicity_offset",
    "tremonti2004_oxygen_abundance",
    "blitz_rosolowsky_molecular_ratio",
    "wang2016_hi_radius",
    "hi_surface_density_profile",
    "mass_loss_fraction",
    "baldry2004_colour_magnitude",
    "baldry2004_divider",
    "baldry2006_mass_to_light",
    "baldry_sequence_at_mass",
    "smith2017_colour_magnitude",
    "SOLAR_METALLICITY_BC03",
    "SOLAR_OXYGEN_ABUNDANCE",
    "SOLAR_METALLICITY_ASPLUND",
    "KENNICUTT1998",
    "HI_SATURATION_SURFACE_DENSITY",
    "TREMONTI2004_DIRECT_OFFSET",
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

# Wang et al. (2016, MNRAS 460, 2143) HI size-mass relation: log D_HI = 0.506 log M_HI - 3.293
# (D_HI in kpc, the diameter where the HI surface density falls to 1 Msun / pc^2).
WANG2016 = dict(slope=0.506, intercept=-3.293, threshold=1.0)
#: Atomic hydrogen surface density (Msun / pc^2, hydrogen only) above which gas turns
#: molecular: ~9 Msun / pc^2 with helium (Bigiel et al. 2008; Leroy et al. 2008), / 1.36.
HI_SATURATION_SURFACE_DENSITY = 9.0 / 1.36
#: dex by which the strong-line abundances of Tremonti et al. (2004) exceed direct (T_e)
#: ones: 0.34 dex for about half of the SDSS galaxies of Yin et al. (2007, A&A 462, 535);
#: calibrations differ by up to 0.7 dex (Kewley & Ellison 2008, ApJ 681, 1183). Approximate.
TREMONTI2004_DIRECT_OFFSET = 0.3

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


#: Renzini & Peng (2015, ApJ 801, L29): the ridge line of SDSS DR7 star-forming galaxies
#: (0.02 < z < 0.085), log SFR = 0.76 log M* - 7.64.
RENZINI_PENG2015 = dict(slope=0.76, intercept=-7.64)
#: Cosmic time (Gyr) of the SDSS sample of Renzini & Peng (2015), z ~ 0.05; approximate.
RENZINI_PENG2015_AGE = 13.1


def renzini_peng2015_main_sequence(log_mass):
    """
    Star-forming main sequence of SDSS galaxies of Renzini & Peng (2015).

    log SFR = 0.76 log M* - 7.64, the ridge line of star-forming galaxies at
    0.02 < z < 0.085.

    Parameters
    ----------
    log_mass : array-like
        log10 stellar mass (Msun).

    Returns
    -------
    log_sfr : ndarray
        log10 SFR in Msun/yr.
    """
    p = RENZINI_PENG2015
    return p["slope"] * np.asarray(log_mass, dtype=float) + p["intercept"]


def bending_main_sequence(log_mass, age_of_universe):
    """
    A main sequence that is steep at low mass and flat at high mass.

    The lower of Speagle et al. (2014) eq. 28 and the SDSS ridge line of
    Renzini & Peng (2015): at z ~ 0.05 the ridge line below 10^9.87 Msun
    (0.16 dex under Speagle et al.'s relation at 10^9.25 Msun, 0.23 at
    10^9), Speagle et al. above. Speagle et al.'s z ~ 0 slope (0.50) is a
    fit over all masses; at low mass it puts
    SDSS star-forming galaxies' specific SFR too high, and star-forming
    galaxies drawn on it at 10^9-10^9.5 Msun were 0.07 mag too blue in u - r
    (``benchmarks/bench_realism.py``), while the steeper ridge line alone
    put galaxies above 10^10 Msun 0.07-0.11 mag too blue in u - g. At other
    epochs the deficit under Speagle et al.'s relation is carried unchanged
    (an assumption: the ridge line is measured at z ~ 0.05 only).

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
    deficit = np.minimum(
        renzini_peng2015_main_sequence(log_mass)
        - speagle2014_main_sequence(log_mass, RENZINI_PENG2015_AGE),
        0.0,
    )
    return speagle2014_main_sequence(log_mass, age_of_universe) + deficit


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


def passive_metallicity_offset(log_mass, quenched):
    """
    Shift of a galaxy's stellar metallicity from the all-galaxy relation by its activity.

    At fixed stellar mass, passive galaxies are more metal-rich than
    star-forming ones: Peng, Maiolino & Cochrane (2015, Nature 521, 192) find
    the difference in SDSS up to ~10^11 Msun, and Vaughan et al. (2022,
    MNRAS 516, 2971; SAMI) measure 0.23 dex at 10^10.3 Msun. The difference is
    taken as ``clip(0.3 (11 - log M), 0, 0.3)`` dex (an approximate shape
    through those numbers: 0.21 dex at 10^10.3, none above 10^11) and split
    around the all-galaxy median of Gallazzi et al. (2005) with the quenched
    fraction f_q, so that the mean of the population stays on it: quenched
    galaxies gain ``(1 - f_q)`` of it, star-forming ones lose ``f_q`` of it.

    Parameters
    ----------
    log_mass : array-like
        log10 stellar mass (Msun).
    quenched : array-like of bool

    Returns
    -------
    offset : ndarray
        dex, added to ``log Z*/Zsun``.
    """
    log_mass = np.asarray(log_mass, dtype=float)
    difference = np.clip(0.3 * (11.0 - log_mass), 0.0, 0.3)
    fraction = quenched_fraction(log_mass)
    return np.where(quenched, (1.0 - fraction) * difference, -fraction * difference)


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


def wang2016_hi_radius(log_hi_mass):
    """
    Radius where the HI surface density falls to 1 Msun / pc^2 (Wang et al. 2016).

    Parameters
    ----------
    log_hi_mass : array-like
        log10 HI mass (Msun).

    Returns
    -------
    radius : ndarray
        Half the HI diameter D_HI, in kpc.
    """
    p = WANG2016
    return 0.5 * 10.0 ** (p["slope"] * np.asarray(log_hi_mass, dtype=float) + p["intercept"])


def hi_surface_density_profile(log_hi_mass, saturation=HI_SATURATION_SURFACE_DENSITY):
    """
    A saturated exponential HI disc of a given mass that follows the HI size-mass relation.

    Sigma_HI(R) = min(Sigma_sat, Sigma_0 exp(-R / h)): flat at the saturation
    surface density inside, exponential outside (Bigiel et al. 2008; Leroy et
    al. 2008), with ``Sigma_0`` and ``h`` chosen so that the disc holds the
    mass and falls to 1 Msun / pc^2 at the radius of Wang et al. (2016). HI
    discs of every mass then extend to about ten stellar scale lengths. When
    no such flat-topped disc exists (a disc too light for its radius), the
    exponential with ``h = R_1 / 2`` and the right mass is used.

    Parameters
    ----------
    log_hi_mass : float
        log10 HI mass (Msun, hydrogen only).
    saturation : float
        Saturation surface density (Msun / pc^2, hydrogen only).

    Returns
    -------
    sigma0 : float
        Central surface density of the exponential before the cap (Msun / pc^2).
    scale_length : float
        Exponential scale length (kpc).
    """
    mass = 10.0 ** float(log_hi_mass) / 1e6  # Msun per (kpc / pc)^2: Sigma in Msun / pc^2
    radius = float(wang2016_hi_radius(log_hi_mass))
    threshold = WANG2016["threshold"]

    def disc_mass(h):
        sigma0 = threshold * np.exp(radius / h)
        flat = h * np.log(np.maximum(sigma0 / saturation, 1.0))
        capped = np.minimum(sigma0, saturation)
        return np.pi * flat**2 * saturation + 2.0 * np.pi * capped * h * (flat + h), sigma0

    # On 0 < h <= R_1 / 2 the mass falls monotonically from pi R_1^2 Sigma_sat.
    grid = radius * np.linspace(0.02, 0.5, 400)
    masses, sigma0s = disc_mass(grid)
    if mass <= masses[-1]:
        h = radius / 2.0
        return float(mass / (2.0 * np.pi * h**2)), float(h)
    h = float(np.interp(mass, masses[::-1], grid[::-1]))
    return float(threshold * np.exp(radius / h)), h


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


# --------------------------------------------------------------------------
# colours of real galaxies (checks, not inputs)
# --------------------------------------------------------------------------

# Baldry et al. (2004, ApJ 600, 681), SDSS 0.004 < z < 0.08: rest-frame u - r of the red
# and blue sequences (mean and dispersion) versus M_r (h = 0.7), each
# T(x) = p0 + p1 (x + 20) + q0 tanh((x - q1) / q2) with (p0, p1, q0, q1, q2) as printed in
# the paper (read here from public code by the paper's co-authors; the authors later
# refitted them to DR4 on their web page, with the same shape).
BALDRY2004 = dict(
    red_mean=(2.279, -0.037, -0.108, -19.81, 0.96),
    red_sigma=(0.152, 0.008, 0.044, -19.91, 0.94),
    blue_mean=(1.790, -0.053, -0.363, -20.75, 1.12),
    blue_sigma=(0.298, 0.014, -0.067, -19.90, 0.58),
)
# Baldry et al. (2006, MNRAS 373, 469): log M/L_r = min(-0.95 + 0.56 (u - r),
# -0.16 + 0.18 (u - r)) with M_r,sun = 4.62 (Kroupa IMF), their conversion from colour and
# luminosity to stellar mass; read from public code by a co-author (approximate).
BALDRY2006 = dict(steep=(-0.95, 0.56), shallow=(-0.16, 0.18), solar_abs_mag_r=4.62)
# Smith et al. (2017, MNRAS 470, 4646), GAMA: g - r k-corrected to z = 0.1 (^0.1(g - r))
# versus ^0.1 M_r - 5 log h (h = 1) of the red and blue sequences at z < 0.1 (read from
# their public code, hodpy): red mean 0.932 - 0.032 (M + 20), rms 0.07 + 0.01 (M + 20);
# blue mean log10(10^(9 c_bright) + 10^(9 c_faint)) / 9 with c_bright = 0.62 - 0.11 (M + 20),
# c_faint = 0.4 - 0.0286 (M + 16), rms clip(0.12 + 0.02 (M + 20), 0, 0.15).
SMITH2017 = dict(
    red_mean=(0.932, -0.032),
    red_sigma=(0.07, 0.01),
    blue_bright=(0.62, -0.11),
    blue_faint=(0.4, -0.0286),
    blue_sigma=(0.12, 0.02, 0.15),
)


def _baldry_t(x, p):
    p0, p1, q0, q1, q2 = p
    return p0 + p1 * (x + 20.0) + q0 * np.tanh((x - q1) / q2)


def _check_sequence(sequence):
    if sequence not in ("red", "blue"):
        raise ValueError(f"sequence must be 'red' or 'blue', got {sequence!r}")


def baldry2004_colour_magnitude(abs_mag_r, sequence):
    """
    Mean and dispersion of rest-frame u - r of one SDSS sequence at M_r (Baldry et al. 2004).

    Parameters
    ----------
    abs_mag_r : array-like
        Rest-frame absolute r magnitude (h = 0.7).
    sequence : {"red", "blue"}

    Returns
    -------
    mean, sigma : ndarray
        u - r (mag).
    """
    _check_sequence(sequence)
    x = np.asarray(abs_mag_r, dtype=float)
    return (
        _baldry_t(x, BALDRY2004[f"{sequence}_mean"]),
        _baldry_t(x, BALDRY2004[f"{sequence}_sigma"]),
    )


def baldry2004_divider(abs_mag_r):
    """
    The u - r that best separates the red and blue sequences at M_r (Baldry et al. 2004).

    u - r = 2.06 - 0.244 tanh((M_r + 20.07) / 1.09).

    Parameters
    ----------
    abs_mag_r : array-like
        Rest-frame absolute r magnitude (h = 0.7).

    Returns
    -------
    u_r : ndarray
    """
    return 2.06 - 0.244 * np.tanh((np.asarray(abs_mag_r, dtype=float) + 20.07) / 1.09)


def baldry2006_mass_to_light(u_r):
    """
    log10 stellar mass-to-light ratio in r from rest-frame u - r (Baldry et al. 2006).

    Parameters
    ----------
    u_r : array-like

    Returns
    -------
    log_ml : ndarray
        log10 (M*/L_r) in solar units (Kroupa IMF).
    """
    c = np.asarray(u_r, dtype=float)
    p = BALDRY2006
    return np.minimum(p["steep"][0] + p["steep"][1] * c, p["shallow"][0] + p["shallow"][1] * c)


def baldry_sequence_at_mass(log_mass, sequence, iterations=40):
    """
    Where a stellar mass sits on a Baldry et al. (2004) sequence: M_r and u - r.

    Solves M_r = M_r,sun - 2.5 (log M - log M/L_r(u - r)) with u - r on the
    sequence's mean at that M_r (the M/L of Baldry et al. 2006), as the
    sequences are published against luminosity, not mass.

    Parameters
    ----------
    log_mass : array-like
        log10 stellar mass (Msun).
    sequence : {"red", "blue"}
    iterations : int

    Returns
    -------
    abs_mag_r, mean, sigma : ndarray
        M_r and the sequence's mean and dispersion of u - r there.
    """
    _check_sequence(sequence)
    log_mass = np.asarray(log_mass, dtype=float)
    colour = np.full_like(log_mass, 2.0)
    solar = BALDRY2006["solar_abs_mag_r"]
    for _ in range(iterations):
        abs_mag = solar - 2.5 * (log_mass - baldry2006_mass_to_light(colour))
        colour, sigma = baldry2004_colour_magnitude(abs_mag, sequence)
    return abs_mag, colour, sigma


def smith2017_colour_magnitude(abs_mag_r, sequence):
    """
    Mean and rms of ^0.1(g - r) of one GAMA sequence at ^0.1 M_r (Smith et al. 2017).

    Parameters
    ----------
    abs_mag_r : array-like
        ^0.1 M_r - 5 log10 h (h = 1; add 5 log10 0.7 = -0.77 to magnitudes for h = 0.7).
    sequence : {"red", "blue"}

    Returns
    -------
    mean, sigma : ndarray
        g - r k-corrected to z = 0.1 (mag).
    """
    _check_sequence(sequence)
    x = np.asarray(abs_mag_r, dtype=float)
    p = SMITH2017
    if sequence == "red":
        return (
            p["red_mean"][0] + p["red_mean"][1] * (x + 20.0),
            p["red_sigma"][0] + p["red_sigma"][1] * (x + 20.0),
        )
    bright = p["blue_bright"][0] + p["blue_bright"][1] * (x + 20.0)
    faint = p["blue_faint"][0] + p["blue_faint"][1] * (x + 16.0)
    mean = np.log10(10.0 ** (9.0 * bright) + 10.0 ** (9.0 * faint)) / 9.0
    low, slope, high = p["blue_sigma"]
    return mean, np.clip(low + slope * (x + 20.0), 0.0, high)

