"""
A seeded synthetic universe of galaxies built from published scaling relations.

Every galaxy is drawn from its own random stream (a child of one
`numpy.random.SeedSequence`), so galaxy ``i`` of a universe with seed ``s`` is
the same whatever else was drawn before it. A galaxy is first drawn as a set of
global properties (`GalaxyProperties`: stellar mass, star formation rate, size,
bulge, bar, arms, gas, metallicity, star-formation history), then realised as
star particles and gas cells (`~picasso.particles.Particles`) that the
observing code (`picasso.mock.observe`) turns into truth maps and ugriz images.

Scaling relations (the numbers live in the module constants named below)
-------------------------------------------------------------------------
Mass scale
    The relations below are measured at the stellar masses observers infer
    from light with simple star-formation histories. The universe's own
    histories (delayed-tau, starting early, with bursts) give a higher M/L at
    a given colour (`MASS_SCALE_OFFSET`, 0.25 dex): the light of young stars
    hides old ones from fits with simple histories (the 0.1-0.3 dex
    systematic reviewed by Conroy 2013, ARA&A 51, 393; approximate). A
    galaxy of stellar mass M* is therefore drawn with the relations at the
    observed mass M* / 10^0.25 (its size, morphology, metallicities, gas and
    specific SFR; its quenched state at M* / 10^0.05, below) and realised
    with M* in stars: it has the luminosity and colour of the real galaxies
    observers place at that mass. With the offset at 0 (the relations read at
    M* itself), galaxies are 0.6 mag fainter than real ones that look like
    them, so the universe is too red at a given luminosity (0.13-0.17 mag in
    u - r on the blue sequence of Baldry et al. 2004).
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
    redshift, bending down to the steeper ridge line of SDSS star-forming
    galaxies of Renzini & Peng (2015, ApJ 801, L29), log SFR = 0.76 log M* -
    7.64, below 10^9.87 Msun (`~picasso.mock.relations.bending_main_sequence`;
    0.16 dex lower at 10^9.25 Msun), with 0.25 dex scatter (Speagle et al.'s
    "true" scatter is 0.2 dex).
Quiescent population
    Quenched fraction rising with mass, an approximate logistic form of the red
    fraction of Baldry et al. (2006, MNRAS 373, 469) at average density
    (about 0.2 at 10^9.5, 0.45 at 10^10.5, 0.9 at 10^11.5 Msun), read at the
    mass `QUENCHED_MASS_SCALE_OFFSET` (0.05 dex) below the true one, where the
    universe's red fraction at the masses inferred from each galaxy's own
    colour, as Baldry et al. measured it, comes closest to theirs. Quenched
    galaxies lie 0.8-3 dex below the main sequence, which fills a green
    valley.
Sizes
    Shen et al. (2003, MNRAS 343, 978) r-band half-light radii for late types
    (alpha = 0.14, beta = 0.39, gamma = 0.10 kpc, M0 = 3.98e10 Msun) and early
    types (a = 0.56, b = 2.88e-6 kpc), with their mass-dependent log-normal
    scatter. Half-mass radii are taken as 0.8 (late) and 0.9 (early) of the
    half-light radius, approximately the colour-gradient correction of Szomoru
    et al. (2013) and Suess et al. (2019).
Stellar metallicity
    Median and 16-84% range of Gallazzi et al. (2005, MNRAS 362, 41), their
    Table 2 (log Z*/Zsun, Zsun = 0.02 as in BC03), interpolated in mass; the
    scatter drawn is half that range (`METALLICITY_SCATTER_FRACTION`: the
    range also holds measurement errors, and its width would make the red
    sequence up to twice as wide as the SDSS one). That
    relation mixes star-forming and passive galaxies; passive ones are richer
    at fixed mass (Peng, Maiolino & Cochrane 2015; 0.23 dex at 10^10.3 Msun,
    Vaughan et al. 2022), so it is split by an approximate difference of
    clip(0.3 (11 - log M), 0, 0.3) dex around its mean
    (`~picasso.mock.relations.passive_metallicity_offset`). An optional
    ``stellar_metallicity_offset`` shifts all of them (default 0). The drawn
    value is held by the stars inside an SDSS fibre (`SDSS_FIBRE_RADIUS`, the
    ``metallicity_aperture``), where Gallazzi et al. measured it, with the
    gradients below laid about the half-mass radius and the whole galaxy
    shifted so that the fibre holds the drawn value. Drawn at the half-mass
    radius instead (``metallicity_aperture=None``), the metal-rich middle of a
    massive quenched galaxy makes its fibre 0.08-0.11 dex richer than
    Gallazzi et al.'s galaxies of its mass and its SDSS model u - r 0.1 mag
    too red.
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
    ALFALFA at low mass, 0.3 dex scatter; quenched galaxies are 1.5-4.5 dex
    poorer (uniform), so that about a third hold more than 10^-3.5 of their
    stars' mass in HI: the ATLAS3D survey detects HI in about a third of
    early-type galaxies (Serra et al. 2012, MNRAS 422, 1835) and GASS finds
    most red-sequence galaxies below its 1.5% gas-fraction limit (Catinella
    et al. 2013; approximate); molecular gas from a depletion time of 1 Gyr
    (0.25 dex scatter, Saintonge et al. 2011; Bigiel et al. 2008). A hot gas
    halo holds a few per cent of the stellar mass.
Gas discs
    Molecular gas in an exponential disc on the stellar scale length (0.8-1.2
    times it; Leroy et al. 2008, AJ 136, 2782); atomic gas in a disc whose
    surface density saturates at ~9 Msun/pc^2 with helium (Bigiel et al. 2008,
    AJ 136, 2846; Leroy et al. 2008) and falls to 1 Msun/pc^2 at the radius of
    the HI size-mass relation (Wang et al. 2016, MNRAS 460, 2143), so HI
    extends far beyond the stars (`~picasso.mock.relations.hi_surface_density_profile`).
    The layer is thin (sech^2 scale 0.08-0.17 kpc) and flares beyond three
    stellar scale lengths as the Milky Way's HI (Kalberla & Kerp 2009), for at
    most `~picasso.mock.realise.HI_FLARE_EFOLDS` e-folds.
    Each cold gas cell carries the local H2 / (HI + H2), and a dust-to-metals
    ratio that falls beyond the optical disc
    (`~picasso.mock.realise.OUTER_DUST_EDGE`).
Star formation in the gas
    Kennicutt (1998, ApJ 498, 541) law Sigma_SFR = 2.5e-4 Sigma_gas^1.4
    (Msun/yr/kpc^2, Sigma in Msun/pc^2) above a threshold surface density sets
    where gas forms stars; the total is scaled to the galaxy's main-sequence
    SFR (the implied normalisation is kept in the galaxy's metadata).
Star-formation histories
    Delayed-tau histories, with a late exponential truncation for quenched
    galaxies, solved per galaxy so that the SFR of the last 100 Myr matches the
    drawn SFR; mass loss of a Chabrier population after Leitner & Kravtsov
    (2011): f(t) = 0.046 ln(1 + t / 0.276 Myr). Starbursts (40% of galaxies)
    of quenched galaxies happened before their quench, never after it.

Structure
---------
Exponential discs with sech^2 vertical profiles that thicken with stellar age,
Einasto (deprojected Sersic-like) bulges, bars, logarithmic spiral arms that
carry most young stars, young star-forming clumps, a metal-poor stellar halo,
molecular gas discs on the stellar scale and far more extended atomic ones, a
beta-model hot gas halo, and companions or mergers (a second galaxy, tidally
stretched when close and massive) in some frames.

Numbers marked "approximate" above are shapes chosen to follow the cited
papers' figures, not fits published in them.
"""

import logging
from dataclasses import asdict, dataclass, field

import astropy.units as u
import numpy as np
from astropy.cosmology import Planck18

from ..particles import GasCells, Particles, StarParticles
from .realise import random_rotation, realise_galaxy, tidal_stretch
from .relations import (
    baldry2012_mass_function,
    bending_main_sequence,
    gallazzi2005_metallicity,
    passive_metallicity_offset,
    quenched_fraction,
    shen2003_size,
    tremonti2004_oxygen_abundance,
)

__all__ = [
    "MASS_SCALE_OFFSET",
    "METALLICITY_SCATTER_FRACTION",
    "QUENCHED_MASS_SCALE_OFFSET",
    "SDSS_FIBRE_RADIUS",
    "GalaxyProperties",
    "Universe",
    "view_directions",
]

log = logging.getLogger(__name__)

#: The galaxy-to-galaxy scatter of stellar metallicity at fixed mass, as a fraction of half the
#: 16-84% range of Gallazzi et al. (2005). Their range is that of all galaxies' estimates
#: together: it holds each estimate's measurement uncertainty and the star-forming / passive
#: difference, which the universe draws separately
#: (`~picasso.mock.relations.passive_metallicity_offset`). Drawn with the whole range, the red
#: sequence at 10^9.5-10^10.5 Msun spreads 0.24-0.26 mag in rest-frame u - r at fixed M_r,
#: against 0.18 and 0.13 for the SDSS one (Baldry et al. 2004); half of it gives 0.20 and 0.18
#: (``benchmarks/bench_realism.py``). Approximate.
METALLICITY_SCATTER_FRACTION = 0.5

#: log10 of a galaxy's stellar mass over the mass observers assign it from its light (dex):
#: the universe's M/L at a given colour, set by its star-formation histories and the BC03
#: populations, lies 0.24-0.28 dex above that of Taylor et al. (2011; the GAMA masses of the
#: Baldry et al. 2012 mass function) and 0.21-0.25 dex above that of Baldry et al. (2006;
#: the red fraction) with the colours of the summed light, and 0.20-0.26 and 0.12-0.17 dex
#: with SDSS model colours (their central weighting makes them up to 0.11 mag redder in
#: u - r) in bins of 10^9-10^11.5 Msun, measured by ``benchmarks/bench_realism.py``.
MASS_SCALE_OFFSET = 0.25

#: log10 of a quenched galaxy's stellar mass over the mass at which the universe reads the
#: quenched fraction (dex). The red fraction of Baldry et al. (2006) is measured at the masses
#: their colour-dependent M/L gives each galaxy's own colour, and with SDSS model colours the
#: universe's quenched galaxies lie 0.09-0.13 dex above those (star-forming 0.15-0.23,
#: `MASS_SCALE_OFFSET` being the single scale of the other relations). Read there (0.15), the
#: red fraction at 10^10.5-10^11 Msun was 0.06 below the published one, because the universe's
#: red sequence is wider than the SDSS one (0.15-0.17 mag in u - r against 0.11) and its blue
#: tail crosses the colour divider. 0.05 is chosen, not measured: it brings the red fraction
#: within 0.01-0.05 of the published one in every bin of 10^9-10^11.5 Msun
#: (``benchmarks/bench_realism.py``, 10000 galaxies, model colours). Approximate.
QUENCHED_MASS_SCALE_OFFSET = 0.05

#: Radius of an SDSS spectroscopic fibre (3 arcsec across) at z = 0.1, about the median
#: redshift of the SDSS main galaxy sample (Strauss et al. 2002), in Planck18: the aperture
#: of the Gallazzi et al. (2005) metallicities, for ``Universe(metallicity_aperture=...)``.
SDSS_FIBRE_RADIUS = (1.5 * u.arcsec * Planck18.kpc_proper_per_arcmin(0.1)).to(u.kpc)


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
        Scale length of the molecular gas disc over the stellar disc's.
    depletion_time : float
    burst_fraction, burst_lookback, burst_duration : float
        A past starburst: fraction of the stellar mass, its lookback time and
        duration (Gyr); bursts end at least 150 Myr ago so the current SFR
        stays on its drawn value, and those of quenched galaxies before their
        quench. They spread mass-to-light ratios at fixed colour, as real
        star-formation histories do.
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
        metallicities (default 0: Gallazzi et al. exactly; the systematic
        spread between population-synthesis libraries is 0.1-0.2 dex). An
        earlier default of -0.15 matched the red sequence to a colour that was
        probably rest-frame and made quenched galaxies ~0.1 mag too blue in
        observed u - r at fixed mass (``benchmarks/bench_realism.py``).
    metallicity_aperture : `~astropy.units.Quantity`, float or None
        Where a galaxy has its drawn stellar metallicity: the mass-weighted
        metallicity of its stars within this distance (kpc) of the centre is
        the drawn one (default `SDSS_FIBRE_RADIUS`, where Gallazzi et al.
        (2005) measured theirs, in SDSS fibres; a sphere stands in for the
        fibre's cylinder); `None` gives it to the half-mass radius, about
        which the gradients are laid, so that a massive galaxy's metal-rich
        middle adds to it (its quenched galaxies above 10^11 Msun are then
        0.08-0.11 dex richer in the fibre; ``docs/mock_universe.rst``).
    mass_scale_offset : float
        log10 of a galaxy's stellar mass over the mass the scaling relations
        are read at, 0-1 dex (default `MASS_SCALE_OFFSET`; 0 reads them at
        the stellar mass itself). The mass function is shifted by the same
        amount.
    quenched_mass_scale_offset : float
        The same for the quenched fraction alone, -1 to 1 dex (default
        `QUENCHED_MASS_SCALE_OFFSET`): a galaxy of stellar mass M* is
        quenched with the fraction at M* / 10^quenched_mass_scale_offset.

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
        stellar_metallicity_offset=0.0,
        mass_scale_offset=MASS_SCALE_OFFSET,
        quenched_mass_scale_offset=QUENCHED_MASS_SCALE_OFFSET,
        metallicity_aperture=SDSS_FIBRE_RADIUS,
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
        if not 0 <= mass_scale_offset <= 1:
            raise ValueError(
                f"mass_scale_offset must be between 0 and 1 dex, got {mass_scale_offset}"
            )
        if not -1 <= quenched_mass_scale_offset <= 1:
            raise ValueError(
                "quenched_mass_scale_offset must be between -1 and 1 dex, "
                f"got {quenched_mass_scale_offset}"
            )
        if metallicity_aperture is not None:
            metallicity_aperture = u.Quantity(metallicity_aperture, u.kpc).to_value(u.kpc)
            if not (np.isscalar(metallicity_aperture) and metallicity_aperture > 0):
                raise ValueError(
                    f"metallicity_aperture must be a positive length, got {metallicity_aperture}"
                )
            metallicity_aperture = float(metallicity_aperture)
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
        self.mass_scale_offset = float(mass_scale_offset)
        self.quenched_mass_scale_offset = float(quenched_mass_scale_offset)
        self.metallicity_aperture = metallicity_aperture

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
            mass_scale_offset=self.mass_scale_offset,
            quenched_mass_scale_offset=self.quenched_mass_scale_offset,
            metallicity_aperture=self.metallicity_aperture,
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
        # The mass function is on the observers' mass scale.
        cdf = np.cumsum(baldry2012_mass_function(grid - self.mass_scale_offset))
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

    def _draw_properties(self, rng, log_stellar_mass):
        t0 = self.age_of_universe
        # Every relation is drawn at the mass observers would assign the galaxy; its stars
        # and their formation rate (hence its light) are then 10^mass_scale_offset times
        # those of that observed galaxy (the universe's M/L is that much higher).
        log_mass = log_stellar_mass - self.mass_scale_offset
        quenched = bool(
            rng.uniform()
            < quenched_fraction(log_stellar_mass - self.quenched_mass_scale_offset)
        )
        early_type = bool(quenched and rng.uniform() < 0.75) or bool(
            (not quenched) and log_mass > 11.0 and rng.uniform() < 0.3
        )
        main_sequence = bending_main_sequence(log_mass, t0)
        if quenched:
            offset = -np.clip(rng.normal(1.7, 0.5), 0.8, 3.0)
        else:
            offset = rng.normal(0.0, 0.25)
        log_sfr = float(main_sequence + offset + self.mass_scale_offset)

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
            if quenched:
                disc_height_ratio = rng.uniform(0.12, 0.25)
            else:
                # sech^2 height z0 = 2 h_z over the scale length: h_R / h_z = 7.3 +- 2.2 in
                # edge-on late-type discs (Kregel, van der Kruit & de Grijs 2002).
                disc_height_ratio = 2.0 / float(np.clip(rng.normal(7.3, 2.2), 4.0, 12.0))
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
        ssfr_excess = 10 ** (log_sfr - log_stellar_mass + 10.0)
        n_clumps = int(rng.poisson(4.0 + 8.0 * min(ssfr_excess, 3.0))) if star_forming_disc else 0

        z_median, z_sigma = gallazzi2005_metallicity(log_mass)
        # Gallazzi et al. (2005) describe all galaxies together; passive galaxies are
        # richer than star-forming ones of the same mass, so the relation is split by
        # that difference around its mean (no extra draw).
        z_median = z_median + passive_metallicity_offset(log_mass, quenched)
        log_stellar_metallicity = float(
            z_median
            + self.stellar_metallicity_offset
            + rng.normal(0.0, METALLICITY_SCATTER_FRACTION * float(z_sigma))
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
            log_hi_fraction -= rng.uniform(1.5, 4.5)
        log_hi_mass = float(log_mass + log_hi_fraction)
        depletion_time = float(10 ** rng.normal(0.0, 0.25))
        log_h2_mass = float(log_sfr + np.log10(depletion_time * 1e9))
        log_hot_gas_mass = float(log_mass + rng.normal(-1.6, 0.35))
        gas_scale_length_ratio = float(rng.uniform(0.8, 1.2))
        if rng.uniform() < 0.4:
            burst_fraction = float(10 ** rng.uniform(-2.5, -0.6))
            burst_lookback = float(10 ** rng.uniform(np.log10(0.15), np.log10(5.0)))
            burst_duration = float(rng.uniform(0.05, 0.3))
            if quenched:
                # Star formation, bursts included, stops when a galaxy quenches: the
                # burst of a quenched galaxy happened before its quench (the same draw,
                # counted back from the quench), never after it.
                burst_lookback = float(
                    min(quench_lookback + burst_lookback, t0 - sfh_start - 0.5)
                )
        else:
            burst_fraction = burst_lookback = burst_duration = 0.0

        return GalaxyProperties(
            log_stellar_mass=float(log_stellar_mass),
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
        particles : `~picasso.particles.Particles`
            In the galaxy's own frame (disc in the x-y plane, centred on the
            main galaxy). ``meta`` holds ``galaxy_id``, ``properties`` (a flat
            dict of `GalaxyProperties.summary`), ``disc_normal`` and
            ``main_mask_stars`` / ``main_mask_gas`` counts.
        """
        if properties is None:
            properties = self.properties(index)
        rng = self.rng(index, 1)
        n_stars = self.n_stars_for(properties.log_stellar_mass)
        stars, gas, info = realise_galaxy(properties, rng, n_stars, self)
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
            c_stars, c_gas, _ = realise_galaxy(companion, rng, n_companion, self)
            rotation = random_rotation(rng)
            c_stars = c_stars.rotated(rotation)
            c_gas = c_gas.rotated(rotation)
            if properties.merger:
                c_stars, c_gas = tidal_stretch(
                    c_stars, c_gas, properties.companion_offset, rng, companion.half_mass_radius
                )
            offset = properties.companion_offset * u.kpc
            stars = StarParticles.concatenate([stars, c_stars.translated(offset)])
            gas = GasCells.concatenate([gas, c_gas.translated(offset)])
        return Particles(stars, gas, meta)

