"""
Galaxies made of particles: star particles and gas cells drawn from a
galaxy's global properties (`~picasso.mock.universe.GalaxyProperties`).

Stars are split among disc, bar, bulge and halo with their own profiles,
arms and clumps, ages from the galaxy's star-formation history and
metallicities with gradients; gas is a cold disc (H2 on the stellar scale
length, HI saturated at ~9 Msun/pc^2 and as extended as the HI size-mass
relation of Wang et al. 2016; star forming by Kennicutt 1998) and a hot halo.
Companions and mergers are tidally stretched.
"""

import logging

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import gammaincinv

from ..particles import HYDROGEN_MASS_FRACTION, GasCells, StarParticles
from .relations import (
    HI_SATURATION_SURFACE_DENSITY,
    KENNICUTT1998,
    SOLAR_METALLICITY_ASPLUND,
    SOLAR_METALLICITY_BC03,
    SOLAR_OXYGEN_ABUNDANCE,
    hi_surface_density_profile,
    mass_loss_fraction,
    wang2016_hi_radius,
)

__all__ = [
    "realise_galaxy",
    "random_rotation",
    "tidal_stretch",
    "MIN_PARTICLES",
    "HI_FLARE_EFOLDS",
    "OUTER_DUST_EDGE",
    "MIN_FORMING_SHARE",
    "LOG_METALLICITY_RANGE",
    "MIN_ANCHOR_PARTICLES",
]

log = logging.getLogger(__name__)

#: Fewest star particles a galaxy is realised with.
MIN_PARTICLES = 64
#: e-folds of the HI flare at most: the Milky Way's HI thickens as exp((R - R_sun) / 9.8 kpc)
#: (Kalberla & Kerp 2009) in a coherent disc out to R ~ 35 kpc (Kalberla & Dedes 2008), i.e.
#: (35 - 8.5) / 9.8 = 2.7 e-folds beyond the solar circle.
HI_FLARE_EFOLDS = 2.7
#: Stellar scale lengths beyond which the cold gas's dust-to-metals ratio falls, by e per
#: stellar scale length: about the optical radius R_25 (3.1 scale lengths for a Freeman
#: disc). Dust discs are exponential with 1.1-1.8 times the stellar scale length
#: (Munoz-Mateos et al. 2009, ApJ 701, 1965; Casasola et al. 2017, A&A 605, A18) and fall
#: faster than the metals (Mattsson & Andersen 2012, MNRAS 423, 38), while HI stays near
#: saturation to about 1.7 R_25 (Broeils & Rhee 1997). With the dust of the whole HI disc,
#: star-forming discs seen at an axis ratio of 0.2 lost 0.79 mag more r light than face-on
#: (0.62 in SDSS, Unterborn & Ryden 2008); with it, 0.61.
OUTER_DUST_EDGE = 3.0
#: Smallest share of a galaxy's stars that carries its current star formation: a galaxy
#: that is (nearly) all bulge forms its stars in what little disc it has, at most
#: 1 / MIN_FORMING_SHARE times its drawn sSFR.
MIN_FORMING_SHARE = 0.05
#: log10 Z / Z_sun range of star particles (about that of the SSP tables, which clamp beyond).
LOG_METALLICITY_RANGE = (-2.3, 0.45)
#: Fewest star particles inside ``Universe.metallicity_aperture`` for their mean metallicity
#: to set the galaxy's; with fewer, the drawn value stays at the half-mass radius.
MIN_ANCHOR_PARTICLES = 10

# --------------------------------------------------------------------------
# realisation of one galaxy
# --------------------------------------------------------------------------


def random_rotation(rng):
    from scipy.spatial.transform import Rotation

    return Rotation.from_quat(rng.normal(size=4))


def tidal_stretch(stars, gas, offset, rng, radius):
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
        gas.dust_to_metals,
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


def _solve_sfh(props, t0, forming_share=1.0):
    """
    Adjust tau (or the quench e-folding) so the recent sSFR matches the drawn SFR.

    Only the disc's stars outside a past burst follow this history (the
    bulge, bar and halo stopped forming stars long ago), a share
    ``forming_share`` of the galaxy's stars: their own sSFR is the drawn one
    over that share, so that the stars of the last 100 Myr add up to the
    galaxy's drawn SFR, the SFR its gas carries.
    """
    target = 10 ** (props.log_sfr - props.log_stellar_mass) / forming_share
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


def _anchor_metallicity(log_z, position, mass, radius, log_drawn):
    """Shift log Z/Zsun so that the stars within ``radius`` (kpc) have the drawn mean Z."""
    inside = np.linalg.norm(position, axis=1) < radius
    if inside.sum() < MIN_ANCHOR_PARTICLES:
        return log_z
    shift = 0.0
    # a few steps, as particles clamped at the ends of the range move less than the shift
    for _ in range(5):
        clipped = np.clip(log_z[inside] - shift, *LOG_METALLICITY_RANGE)
        shift += np.log10(np.average(10**clipped, weights=mass[inside])) - log_drawn
    return log_z - shift


def realise_galaxy(props, rng, n_stars, universe):
    """
    Star particles and gas cells of one galaxy in its own frame.

    Parameters
    ----------
    props : `~picasso.mock.universe.GalaxyProperties`
    rng : `numpy.random.Generator`
        The galaxy's particle stream.
    n_stars : int
        Star particles of the main body.
    universe : `~picasso.mock.universe.Universe`
        For its particle masses and limits.

    Returns
    -------
    stars : `~picasso.particles.StarParticles`
    gas : `~picasso.particles.GasCells`
    info : dict
        What the realisation drew (for the particles' ``meta``).
    """
    t0 = universe.age_of_universe
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
    disc_share = fractions["disc"] / sum(fractions.values())
    burst_share = min(props.burst_fraction, 0.5 * disc_share)
    sfh = _solve_sfh(props, t0, max(disc_share - burst_share, MIN_FORMING_SHARE))
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
    remaining = 1.0 - mass_loss_fraction(age)
    if universe.metallicity_aperture is not None:
        log_z = _anchor_metallicity(log_z, position, remaining, universe.metallicity_aperture,
                                    props.log_stellar_metallicity)
    metallicity = SOLAR_METALLICITY_BC03 * 10 ** np.clip(log_z, *LOG_METALLICITY_RANGE)
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
    # H2 on the stellar disc (Leroy et al. 2008; Regan et al. 2001), HI in a flat-topped
    # disc saturated at ~9 Msun / pc^2 that reaches the HI size-mass relation (Bigiel et
    # al. 2008; Wang et al. 2016): both in hydrogen mass.
    h_h2 = h_star * props.gas_scale_length_ratio
    hi_mass, h2_mass = 10**props.log_hi_mass, 10**props.log_h2_mass
    hi_sigma0, h_hi = hi_surface_density_profile(props.log_hi_mass)
    saturation = HI_SATURATION_SURFACE_DENSITY

    def hydrogen_surface_densities(r):
        """Sigma_HI and Sigma_H2 at radius r (kpc), Msun / pc^2."""
        sigma_hi = np.minimum(saturation, hi_sigma0 * np.exp(-r / h_hi))
        sigma_h2 = h2_mass / (2 * np.pi * h_h2**2) * np.exp(-r / h_h2) / 1e6
        return sigma_hi, sigma_h2

    cold_mass = (hi_mass + h2_mass) / HYDROGEN_MASS_FRACTION
    hot_mass = 10**props.log_hot_gas_mass
    n_cold = int(np.clip(round(cold_mass / cell_mass), 50, universe.max_gas_cells))
    n_hot = int(np.clip(round(hot_mass / cell_mass), 50, universe.max_gas_cells // 4))

    # Cold disc: each cell from the H2 or the HI disc, thin, flaring; some in arms and clumps.
    # HI discs end soon after the 1 Msun / pc^2 radius: the profile is cut at twice it.
    grid = np.linspace(0.0, 2.0 * float(wang2016_hi_radius(props.log_hi_mass)), 2048)
    hi_cdf = np.cumsum(np.minimum(saturation, hi_sigma0 * np.exp(-grid / h_hi)) * grid)
    hi_cdf /= hi_cdf[-1]
    molecular_cell = rng.uniform(size=n_cold) < h2_mass / (hi_mass + h2_mass)
    radius = np.where(
        molecular_cell,
        _exponential_radius(rng, n_cold, h_h2),
        np.interp(rng.uniform(size=n_cold), hi_cdf, grid),
    )
    # A thin layer inside the stellar disc, flaring beyond about its optical radius (~3 scale
    # lengths), approximately as the Milky Way's HI (Kalberla & Kerp 2009), for as far as that
    # flare was measured, then no thicker: unbounded, the outer cells of a compact galaxy with
    # an extended HI disc were thrown kiloparsecs to 10^25 kpc off the plane.
    flare = np.exp(np.minimum(np.maximum(radius - 3.0 * h_star, 0.0) / (3.5 * h_star),
                              HI_FLARE_EFOLDS))
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
    sigma_hi, sigma_h2 = hydrogen_surface_densities(r_cold)
    # Every cell carries the local molecular share, so the disc holds the drawn H2 mass.
    molecular = sigma_h2 / np.maximum(sigma_hi + sigma_h2, 1e-30)
    sigma_gas = (sigma_hi + sigma_h2) / HYDROGEN_MASS_FRACTION * enhancement  # Msun / pc^2
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
    cold_dust_to_metals = np.exp(-np.maximum(r_cold / h_star - OUTER_DUST_EDGE, 0.0))

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
    dust_to_metals = np.concatenate([cold_dust_to_metals, np.ones(n_hot)])
    # Cell sizes: the radius holding ~32 neighbours, from the 8th-neighbour distance
    # scaled by (32 / 8)^(1/3) (cells fill the volume; four times cheaper to find).
    k = min(9, position.shape[0])
    distance, _ = cKDTree(position).query(position, k=k)
    smoothing = np.maximum(distance[:, -1] * (32.0 / max(k - 1, 1)) ** (1.0 / 3.0), 1e-3)
    gas = GasCells.from_arrays(
        position, masses, metallicity, sfr_all, neutral, smoothing, molecular_all, dust_to_metals,
        validate=False,
    )
    sf_cells = max(int(np.count_nonzero(sfr)), 1)
    info = {
        "kennicutt_normalisation_ratio": float(target_sfr / ks_total) if ks_total > 0 else None,
        "n_star_forming_cells": sf_cells,
        "molecular_mass": float((masses * HYDROGEN_MASS_FRACTION * neutral * molecular_all).sum()),
    }
    return gas, info
