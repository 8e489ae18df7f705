"""
Facts about the SDSS imaging camera and its frames, in one place.

Everything picasso needs to know about how SDSS images were taken -- the
pixel scale, the seeing, the depth of the frames, the gain and dark variance
of every CCD and the Galactic extinction per band -- is defined here and
imported wherever it is used: by the frame reader (`picasso.io.sdss`), by the
mock observations (`picasso.mock.observe`) and by the benchmarks.
"""

import astropy.units as u

from .properties import BANDS
from .utils.optional_deps import require

__all__ = [
    "SDSS_PIXEL_SCALE",
    "SDSS_MEDIAN_PSF_FWHM_R",
    "PSF_WAVELENGTH_INDEX",
    "SDSS_SKY_RMS",
    "SDSS_EXTINCTION_COEFFICIENTS",
    "typical_psf_fwhm",
    "sdss_gain",
    "sdss_dark_variance",
    "extinction_coefficients",
]

#: Pixel scale of the SDSS imaging camera.
SDSS_PIXEL_SCALE = 0.396 * u.arcsec

#: Median r-band PSF width of SDSS imaging (SDSS DR9 "Image quality
#: information", https://www.sdss3.org/dr9/imaging/other_info.php: quartiles
#: 1.30, 1.43, 1.58 arcsec).
SDSS_MEDIAN_PSF_FWHM_R = 1.43 * u.arcsec

#: Power-law index of the PSF FWHM with wavelength in SDSS images,
#: FWHM ~ wavelength**-0.3 (Xin et al. 2018, PASP 130, 115002).
PSF_WAVELENGTH_INDEX = -0.3

#: Clipped per-pixel rms of real SDSS frames in nanomaggies per 0.396 arcsec
#: pixel, measured on run 2583, camcol 2, field 136 (the right half of each
#: frame, away from the globular cluster M2).
SDSS_SKY_RMS = {"u": 0.049, "g": 0.020, "r": 0.031, "i": 0.051, "z": 0.210}

#: A_band / E(B-V) for the SDSS filters with R_V = 3.1, to be used with the
#: SFD (1998) E(B-V): Schlafly & Finkbeiner 2011, ApJ 737, 103, Table 6.
SDSS_EXTINCTION_COEFFICIENTS = {"u": 4.239, "g": 3.303, "r": 2.285, "i": 1.698, "z": 1.263}

# Gain (electrons per count) and dark variance (counts**2) of each SDSS CCD,
# from the frame data model page
# (https://data.sdss.org/datamodel/files/BOSS_PHOTOOBJ/frames/RERUN/RUN/CAMCOL/frame.html).
# Entries that changed during the survey are (value before, value after,
# first run after).
_CCD_PARAMETERS = {
    "gain": {
        1: {"u": 1.62, "g": 3.32, "r": 4.71, "i": 5.165, "z": 4.745},
        2: {"u": (1.595, 1.825, 1100), "g": 3.855, "r": 4.6, "i": 6.565, "z": 5.155},
        3: {"u": 1.59, "g": 3.845, "r": 4.72, "i": 4.86, "z": 4.885},
        4: {"u": 1.6, "g": 3.995, "r": 4.76, "i": 4.885, "z": 4.775},
        5: {"u": 1.47, "g": 4.05, "r": 4.725, "i": 4.64, "z": 3.48},
        6: {"u": 2.17, "g": 4.035, "r": 4.895, "i": 4.76, "z": 4.69},
    },
    "dark variance": {
        1: {"u": 9.61, "g": 15.6025, "r": 1.8225, "i": 7.84, "z": 0.81},
        2: {"u": 12.6025, "g": 1.44, "r": 1.00, "i": (5.76, 6.25, 1500), "z": 1.0},
        3: {"u": 8.7025, "g": 1.3225, "r": 1.3225, "i": 4.6225, "z": 1.0},
        4: {"u": 12.6025, "g": 1.96, "r": 1.3225, "i": (6.25, 7.5625, 1500),
            "z": (9.61, 12.6025, 1500)},
        5: {"u": 9.3025, "g": 1.1025, "r": 0.81, "i": 7.84, "z": (1.8225, 2.1025, 1500)},
        6: {"u": 7.0225, "g": 1.8225, "r": 0.9025, "i": 5.0625, "z": 1.21},
    },
}


def _ccd_parameter(what, camcol, band, run):
    """One entry of `_CCD_PARAMETERS`, resolved for the run where it changed."""
    try:
        entry = _CCD_PARAMETERS[what][int(camcol)][band]
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"no SDSS {what} for camcol {camcol!r} and band {band!r}: camcol must be 1-6 "
            f"and band one of {', '.join(BANDS)}"
        ) from None
    if not isinstance(entry, tuple):
        return entry
    before, after, first_run_after = entry
    if run is None:
        raise ValueError(
            f"the SDSS {what} of camcol {camcol} band {band} changed at run {first_run_after}: "
            "give the run number"
        )
    return after if int(run) >= first_run_after else before


def sdss_gain(camcol, band, run=None):
    """
    Gain of an SDSS imaging CCD, in electrons per count.

    Parameters
    ----------
    camcol : int
        Camera column, 1 to 6.
    band : str
        SDSS band, one of ``u g r i z``.
    run : int, optional
        Run number; needed for the one CCD whose gain changed (camcol 2, u).

    Returns
    -------
    gain : float

    Raises
    ------
    ValueError
        For an unknown camcol or band, or a run-dependent value without a run.
    """
    return _ccd_parameter("gain", camcol, band, run)


def sdss_dark_variance(camcol, band, run=None):
    """
    Dark variance (read noise and dark current) of an SDSS imaging CCD, in counts**2.

    Parameters
    ----------
    camcol : int
        Camera column, 1 to 6.
    band : str
        SDSS band, one of ``u g r i z``.
    run : int, optional
        Run number; needed for CCDs whose dark variance changed at run 1500.

    Returns
    -------
    dark_variance : float

    Raises
    ------
    ValueError
        For an unknown camcol or band, or a run-dependent value without a run.
    """
    return _ccd_parameter("dark variance", camcol, band, run)


def typical_psf_fwhm(band):
    """
    A typical PSF FWHM of SDSS imaging in one band.

    The SDSS frame files carry no PSF width (it lives in the field's
    ``psField`` file). This is the survey's median r-band PSF width, 1.43
    arcsec (SDSS DR9 image quality page), scaled to the band's effective
    wavelength with FWHM ~ wavelength**-0.3 (Xin et al. 2018): about 1.69,
    1.55, 1.43, 1.35, 1.28 arcsec in u, g, r, i, z. Real frames scatter
    around it by +-0.15 arcsec (quartiles 1.30-1.58 in r); give the measured
    FWHM (``psfWidth`` of the field) when the PSF matters.

    Parameters
    ----------
    band : str
        One of the bands in `picasso.properties.BANDS`.

    Returns
    -------
    fwhm : `~astropy.units.Quantity`
        FWHM in arcsec.
    """
    wavelength = BANDS[band].effective_wavelength
    ratio = (wavelength / BANDS["r"].effective_wavelength).decompose().value
    return SDSS_MEDIAN_PSF_FWHM_R * ratio**PSF_WAVELENGTH_INDEX


def extinction_coefficients(bands, law="SF11", r_v=3.1):
    """
    Galactic extinction per unit E(B-V), A_band / E(B-V), for each band.

    Parameters
    ----------
    bands : iterable of str
        Band names (from `picasso.properties.BANDS`).
    law : {'SF11', 'F99'}
        ``'SF11'``: the SDSS coefficients of Schlafly & Finkbeiner (2011,
        Table 6, R_V = 3.1), meant for the SFD (1998) E(B-V) that SDSS
        catalogues list. ``'F99'``: the Fitzpatrick (1999) curve of the
        ``dust_extinction`` package evaluated at each band's effective
        wavelength (monochromatic; no integration over the filter), for a
        true E(B-V): with an SFD (1998) value multiply it by 0.86 first
        (Schlafly & Finkbeiner 2011); 0.86 x F99 agrees with SF11 to 3%.
    r_v : float
        Total-to-selective extinction ratio for ``'F99'``.

    Returns
    -------
    coefficients : dict
        Band name -> A_band / E(B-V) (float).
    """
    bands = tuple(bands)
    if law == "SF11":
        if r_v != 3.1:
            raise ValueError("the SF11 SDSS coefficients exist for R_V = 3.1 only; use law='F99'")
        unknown = [band for band in bands if band not in SDSS_EXTINCTION_COEFFICIENTS]
        if unknown:
            raise ValueError(f"no SF11 coefficient for band(s) {unknown}; use law='F99'")
        return {band: SDSS_EXTINCTION_COEFFICIENTS[band] for band in bands}
    if law == "F99":
        require("dust_extinction", "the F99 Galactic extinction law")
        from dust_extinction.parameter_averages import F99

        model = F99(Rv=r_v)
        return {band: float(model(BANDS[band].effective_wavelength) * r_v) for band in bands}
    raise ValueError(f"unknown extinction law {law!r}; use 'SF11' or 'F99'")
