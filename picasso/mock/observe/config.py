"""
The observing set-up: every knob of a mock observation, with presets.
"""

import logging
import re
from dataclasses import dataclass, field, fields, replace

import astropy.units as u
import numpy as np
from astropy.cosmology import Planck18

from ...instrument import SDSS_MEDIAN_PSF_FWHM_R, SDSS_PIXEL_SCALE, SDSS_SKY_RMS
from ...properties import BANDS
from ...utils.scales import kpc_per_arcsec, to_length
from ..relations import SOLAR_METALLICITY_ASPLUND, TREMONTI2004_DIRECT_OFFSET

__all__ = ["ObservingConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObservingConfig:
    """
    Every knob of the mock observation, with the paper's values as defaults.

    Parameters
    ----------
    redshift : float
        Redshift of the galaxy (paper: 0.05).
    image_size : int
        Output pixels per side ``N`` (paper: 256).
    field_of_view : float
        Side of the image in 3D stellar half-mass radii (paper: 10).
    native_pixel_scale : `~astropy.units.Quantity`
        Native pixel, length (paper: 0.24 kpc) or angle (SDSS: 0.396 arcsec).
    psf_fwhm : `~astropy.units.Quantity`
        FWHM of the Gaussian PSF, length (paper: 1 kpc) or angle.
    noise : {"snr", "sky", "none"}
        ``"snr"``: Gaussian noise scaled per galaxy and band to a mean S/N of
        ``target_snr`` per galaxy pixel (paper); ``"sky"``: the per-band sky
        rms ``sky_rms`` of real frames; ``"none"``: noiseless.
    target_snr : float
        Mean S/N per native galaxy pixel for ``noise="snr"`` (paper: 25).
    snr_radius : float
        Galaxy pixels for the S/N are those within this many projected
        half-mass radii of the centre.
    sky_rms : tuple of float
        Per-band noise rms in nanomaggy per ``sky_pixel_scale`` pixel, in the
        order of ``bands`` (default: measured on real SDSS frames).
    sky_pixel_scale : `~astropy.units.Quantity`
        Pixel that ``sky_rms`` refers to (SDSS: 0.396 arcsec).
    ingest_smoothing : bool
        Smooth the sky noise as picasso's SDSS ingest
        (`~picasso.io.sdss.cutout_from_frames`) smooths the noise of real
        frames (on in `sdss`): there every band is resampled with the
        adaptive Gaussian kernel and convolved to the widest band's PSF, so
        its noise passes through a Gaussian of variance
        ``sigma_psf**2 - sigma_band**2``, where ``psf_fwhm`` is the cutout's
        PSF and the bands' own PSFs scale with wavelength as
        `~picasso.instrument.typical_psf_fwhm`. Without it the noise is white
        and, at the same rms per native pixel, about twice as strong per
        output pixel as in a real cutout.
    background_sources : bool
        Add synthetic contaminating stars and background galaxies.
    sky_frames : str or None
        Directory (or glob pattern) of real SDSS ``frame-{band}-*.fits[.bz2]``
        files: every image gets a random patch of that real sky (its noise,
        stars and galaxies), aligned across bands with the frames' WCS, as
        the paper added real SDSS backgrounds. Patches avoid the columns in
        ``sky_columns``.
    galaxy_density : float
        Background galaxies brighter than r = 22.5 per arcmin^2 (about 5.5;
        approximate SDSS counts, Yasuda et al. 2001).
    star_density : float
        Stars brighter than r = 22.5 per arcmin^2 (about 0.8 at high Galactic
        latitude; approximate).
    smoothing_neighbours : int
        Neighbours that set a star particle's emission radius (SUNRISE: 16).
    smoothing_subsample : int
        Estimate the k-th neighbour distance as the (k / s)-th neighbour
        distance among every s-th particle (1: exact; the default 8 is several
        times faster, nearly unbiased, with ~0.2 dex scatter per particle).
    nebular : bool
        Nebular emission for populations younger than 10 Myr.
    dust : bool
        Dust attenuation (off in the paper's set-up, on in `sdss`): every star
        particle is seen through a screen of the neutral gas in front of it
        along the line of sight, with a Milky Way extinction curve
        (`dust_extinction` G23, R_V = 3.1), and stars younger than 10 Myr also
        through their birth clouds.
    dust_per_hydrogen : float
        A_V in magnitudes per Msun/pc^2 of neutral hydrogen at the reference
        gas metallicity ``dust_reference_metallicity`` (0.066: Bohlin et al.
        1978, N_H / E(B-V) = 5.8e21 cm^-2, R_V = 3.1, the Milky Way's
        dust-to-gas ratio), scaled linearly with the gas metallicity.
    dust_reference_metallicity : float
        Gas metal mass fraction at which ``dust_per_hydrogen`` holds: the
        solar neighbourhood's (Asplund et al. 2009: 0.0142) on the scale of
        the gas metallicities. picasso's universe draws them on the
        strong-line scale of Tremonti et al. (2004), about 0.3 dex above
        direct abundances (`~picasso.mock.relations.TREMONTI2004_DIRECT_OFFSET`),
        hence the default 0.0142 x 10^0.3 = 0.028, which also gives a galaxy
        of the Milky Way's mass (5e10 Msun) about the Milky Way's dust-to-gas
        ratio. Use 0.0142 for gas cells with physical metal fractions (e.g.
        hydrodynamical simulations).
    molecular_cloud_surface_density : float
        Hydrogen surface density (Msun/pc^2) of the clouds that hold the
        molecular gas, which dims the stars behind it as a clumpy medium
        (see `~picasso.mock.observe.attenuation`): 74, i.e. about 100 Msun/pc^2
        with helium, between the 170 of Solomon et al. (1987) and the 42 of
        Heyer et al. (2009) (approximate). Small values tend to a smooth screen.
    birth_cloud_av : float
        Extra A_V of stars younger than 10 Myr, still in their birth clouds:
        0.76 mag, the birth-cloud optical depth of Charlot & Fall (2000),
        (1 - mu) tau_V = 0.7 with tau_V = 1 and mu = 0.3.
    bands : tuple of str
        Bands to render.
    cosmology : `~astropy.cosmology.Cosmology`
    truth_deposit : {"kernel", "particle"}
        How the truth maps are made (`~picasso.mock.observe.project_truth`):
        every particle spread over the kernel that spreads its light
        (``"kernel"``, the default: light and mass agree pixel by pixel) or
        put whole into one pixel (``"particle"``, as simulation projections
        usually are).
    redshift_range : tuple of float or None
        Draw every galaxy's redshift uniformly in this range (a training set
        that spans SDSS's redshifts) instead of using ``redshift``; drawn per
        galaxy by `picasso.mock.build_dataset` from the galaxy's own stream.
    psf_fwhm_range : `~astropy.units.Quantity` (2,) or None
        Draw every galaxy's PSF FWHM log-uniformly in this range (angles or
        lengths) instead of using ``psf_fwhm``: a network told the PSF
        learns every resolution in it.
    """

    redshift: float = 0.05
    image_size: int = 256
    field_of_view: float = 10.0
    native_pixel_scale: u.Quantity = field(default_factory=lambda: 0.24 * u.kpc)
    psf_fwhm: u.Quantity = field(default_factory=lambda: 1.0 * u.kpc)
    noise: str = "snr"
    target_snr: float = 25.0
    snr_radius: float = 2.0
    sky_rms: tuple = tuple(SDSS_SKY_RMS[band] for band in BANDS)
    sky_pixel_scale: u.Quantity = field(default_factory=lambda: SDSS_PIXEL_SCALE)
    ingest_smoothing: bool = False
    background_sources: bool = True
    sky_frames: object = None
    sky_columns: tuple = (1024, 2048)
    galaxy_density: float = 5.5
    star_density: float = 0.8
    smoothing_neighbours: int = 16
    smoothing_subsample: int = 8
    nebular: bool = True
    dust: bool = False
    dust_per_hydrogen: float = 0.066
    dust_reference_metallicity: float = SOLAR_METALLICITY_ASPLUND * 10**TREMONTI2004_DIRECT_OFFSET
    molecular_cloud_surface_density: float = 74.0
    birth_cloud_av: float = 0.76
    bands: tuple = BANDS.names
    cosmology: object = field(default_factory=lambda: Planck18)
    truth_deposit: str = "kernel"
    redshift_range: tuple | None = None
    psf_fwhm_range: u.Quantity | None = None

    def __post_init__(self):
        if self.noise not in ("snr", "sky", "none"):
            raise ValueError(f"noise must be 'snr', 'sky' or 'none', got {self.noise!r}")
        if not isinstance(self.image_size, (int, np.integer)) or self.image_size < 2:
            raise ValueError(f"image_size must be an integer >= 2, got {self.image_size!r}")
        if not 0 < self.redshift < 1:
            raise ValueError(f"redshift must be in (0, 1), got {self.redshift}")
        if self.field_of_view <= 0 or self.target_snr <= 0 or self.snr_radius <= 0:
            raise ValueError("field_of_view, target_snr and snr_radius must be positive")
        for name in ("native_pixel_scale", "psf_fwhm", "sky_pixel_scale"):
            value = getattr(self, name)
            if not isinstance(value, u.Quantity) or not (
                value.unit.is_equivalent(u.kpc) or value.unit.is_equivalent(u.arcsec)
            ):
                raise TypeError(f"{name} must be a Quantity in kpc or arcsec, got {value!r}")
            if not value.isscalar or value.value <= 0:
                raise ValueError(f"{name} must be one positive value, got {value}")
        object.__setattr__(self, "bands", BANDS.validate(self.bands))
        if len(self.sky_rms) != len(BANDS):
            raise ValueError(f"sky_rms needs one value per band of {BANDS.names}")
        if self.smoothing_neighbours < 1 or self.smoothing_subsample < 1:
            raise ValueError("smoothing_neighbours and smoothing_subsample must be >= 1")
        if self.smoothing_subsample > self.smoothing_neighbours:
            raise ValueError("smoothing_subsample cannot exceed smoothing_neighbours")
        if self.truth_deposit not in ("kernel", "particle"):
            raise ValueError(f"truth_deposit must be 'kernel' or 'particle', got "
                             f"{self.truth_deposit!r}")
        if self.redshift_range is not None:
            low, high = (float(value) for value in self.redshift_range)
            if not 0 < low < high < 1:
                raise ValueError(f"redshift_range must be (low, high) with 0 < low < high < 1, "
                                 f"got {self.redshift_range!r}")
            object.__setattr__(self, "redshift_range", (low, high))
        if self.psf_fwhm_range is not None:
            value = self.psf_fwhm_range
            if (not isinstance(value, u.Quantity) or value.shape != (2,)
                    or not (value.unit.is_equivalent(u.kpc) or value.unit.is_equivalent(u.arcsec))
                    or not 0 < value[0].value < value[1].value):
                raise ValueError(f"psf_fwhm_range must be (low, high) angles or lengths with "
                                 f"0 < low < high, got {value!r}")
        if self.dust_per_hydrogen < 0 or self.birth_cloud_av < 0:
            raise ValueError("dust_per_hydrogen and birth_cloud_av must be non-negative")
        for name in ("dust_reference_metallicity", "molecular_cloud_surface_density"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def paper(cls, **changes):
        """
        The paper's set-up: 1 kpc PSF, 0.24 kpc pixels, S/N 25, z = 0.05.

        Parameters
        ----------
        **changes
            Fields to override.

        Returns
        -------
        config : `ObservingConfig`
        """
        return cls(**changes)

    @classmethod
    def sdss(cls, **changes):
        """
        Real SDSS depth: 0.396 arcsec pixels, the measured sky rms per band smoothed as the
        ingest smooths it, 1.43 arcsec seeing, dust.

        The rms values (`SDSS_SKY_RMS`) were measured on a real SDSS field; the
        seeing is the median r-band FWHM of SDSS imaging
        (`~picasso.instrument.SDSS_MEDIAN_PSF_FWHM_R`). Given
        ``sky_frames``, real sky patches replace the Gaussian noise and the
        synthetic contaminants. Dust is on (``dust=True``): real galaxies are
        reddened, and a model trained on dust-free mocks has never seen one;
        the star-forming galaxies of picasso's universe are then seen through
        a median effective A_V of about 0.5-0.8 mag (``benchmarks/bench_realism.py``).

        Parameters
        ----------
        **changes
            Fields to override.

        Returns
        -------
        config : `ObservingConfig`
        """
        values = dict(native_pixel_scale=SDSS_PIXEL_SCALE, psf_fwhm=SDSS_MEDIAN_PSF_FWHM_R,
                      noise="sky", ingest_smoothing=True, dust=True)
        if changes.get("sky_frames") is not None:
            # Real sky patches carry the real noise and contaminants already.
            values.update(noise="none", background_sources=False, ingest_smoothing=False)
        values.update(changes)
        return cls(**values)

    @classmethod
    def preset(cls, name, **changes):
        """
        A named preset: ``"paper"`` or ``"sdss"``.

        Parameters
        ----------
        name : str
        **changes
            Fields to override.

        Returns
        -------
        config : `ObservingConfig`
        """
        presets = {"paper": cls.paper, "sdss": cls.sdss}
        if name not in presets:
            raise ValueError(f"unknown observing preset {name!r}; choose from {', '.join(presets)}")
        return presets[name](**changes)

    def replace(self, **changes):
        """
        A copy with some fields changed.

        Returns
        -------
        config : `ObservingConfig`
        """
        return replace(self, **changes)

    def to_dict(self):
        """
        The configuration as JSON-friendly values (Quantities as strings).

        Returns
        -------
        values : dict
        """
        values = {}
        for item in fields(self):
            key, value = item.name, getattr(self, item.name)
            if isinstance(value, u.Quantity):
                value = str(value) if value.isscalar else [str(item) for item in value]
            elif key == "cosmology":
                value = getattr(value, "name", str(value))
            elif isinstance(value, tuple):
                value = list(value)
            values[key] = value
        return values

    @classmethod
    def from_dict(cls, values):
        """
        The configuration written by `to_dict` (a dataset's or model's record).

        Parameters
        ----------
        values : dict
            Fields as `to_dict` writes them; missing fields take their
            defaults.

        Returns
        -------
        config : `ObservingConfig`

        Raises
        ------
        ValueError
            For an unknown field or a cosmology astropy does not name.
        """
        from astropy.cosmology import realizations

        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown observing setting(s) {unknown}")
        converted = {}
        for key, value in values.items():
            if key in ("native_pixel_scale", "psf_fwhm", "sky_pixel_scale"):
                value = u.Quantity(value)
            elif key == "psf_fwhm_range" and value is not None:
                value = u.Quantity([u.Quantity(item) for item in value])
            elif key == "redshift_range" and value is not None:
                value = tuple(value)
            elif key in ("bands", "sky_rms", "sky_columns"):
                value = tuple(value)
            elif key == "cosmology":
                # earlier records wrote the cosmology's parameters, named inside the text
                named = re.match(r"\{'name': '(\w+)'", str(value))
                value = named.group(1) if named else value
                if value not in realizations.available:
                    raise ValueError(f"unknown cosmology {value!r}; astropy names "
                                     f"{', '.join(realizations.available)}")
                value = getattr(realizations, value)
            converted[key] = value
        return cls(**converted)

    def kpc(self, value):
        """
        A length or angle of this configuration in kpc at its redshift.

        Parameters
        ----------
        value : `~astropy.units.Quantity`

        Returns
        -------
        kpc : float
        """
        return float(to_length(value, self.redshift, self.cosmology).to_value(u.kpc))

    def arcmin_per_kpc(self):
        """float: angular size of 1 kpc at the redshift, in arcmin."""
        return float(1.0 / kpc_per_arcsec(self.redshift, self.cosmology).to_value(u.kpc / u.arcmin))


