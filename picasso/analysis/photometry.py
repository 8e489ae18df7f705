"""
SDSS model magnitudes of a multi-band image: the colours SDSS catalogues give.

The SDSS photometric pipeline fits two elliptical profiles, convolved with the
PSF, to each galaxy in the r band: a de Vaucouleurs law truncated beyond 7
effective radii (smoothly to zero at 8) and an exponential truncated beyond 3
(to zero at 4). The better of the two in r is then fitted to the other bands
with its shape fixed and only its amplitude free, and those amplitudes are the
model magnitudes (SDSS DR7 algorithm notes, "The model magnitude"). Colours
made from them weight every band's light by the same r-band profile and by
each pixel's inverse variance, so they lean on the galaxy's centre: a galaxy
whose outskirts are bluer than its middle has a redder model colour than its
total colour. Colour relations measured on SDSS model colours (Strateva et
al. 2001; Baldry et al. 2004, 2006) compare like for like with
`model_photometry`, not with the summed light of an image.

Two details of the pipeline are approximated: the PSF is one Gaussian (SDSS
uses a double Gaussian with its residuals) and the truncations taper
smoothly but not with the pipeline's exact function.
"""

from dataclasses import dataclass, replace

import numpy as np
from astropy.modeling.models import Sersic2D
from scipy import ndimage, optimize

__all__ = ["MODEL_PROFILES", "ModelPhotometry", "model_photometry", "profile_image"]

#: The SDSS model profiles: Sersic index, and where the truncation starts and
#: reaches zero (in effective radii along the major axis).
MODEL_PROFILES = {"exp": (1.0, 3.0, 4.0), "deV": (4.0, 7.0, 8.0)}

#: Pixels (each side of the centre) whose profile is averaged over a finer
#: grid, and that grid's sub-pixels per pixel side: the de Vaucouleurs cusp
#: is steeper than a pixel.
_CENTRE_PIXELS = 2
_CENTRE_OVERSAMPLE = 9


@dataclass(frozen=True)
class ModelPhotometry:
    """
    The SDSS-like model fit of one galaxy.

    Attributes
    ----------
    profile : str
        The profile that fitted the reference band better: ``"exp"`` or
        ``"deV"`` (`MODEL_PROFILES`).
    r_eff : float
        Its effective radius along the major axis (pixels).
    axis_ratio : float
        Minor over major axis, in (0, 1].
    theta : float
        Position angle of the major axis, radians counter-clockwise from +x.
    fluxes : ndarray
        Model flux per band, in the images' unit: the amplitude fitted in
        that band times the profile's flux inside the image.
    chi2 : dict
        Weighted sum of squared residuals of each profile's fit to the
        reference band.
    """

    profile: str
    r_eff: float
    axis_ratio: float
    theta: float
    fluxes: np.ndarray
    chi2: dict

    def measure(self, images, psf_sigma, *, variance=None, center=None):
        """
        Model fluxes of other images of the same galaxy through this fitted profile.

        Only the amplitude is fitted in each band, with the same weights as
        `model_photometry` (for example the galaxy's rest-frame light rendered
        on the same grid, to k-correct model colours like for like).

        Parameters
        ----------
        images : array-like, shape (n_bands, ny, nx)
        psf_sigma : float
            Gaussian PSF sigma (pixels).
        variance : array-like, optional
            Pixel variance, broadcastable to ``images``; uniform by default.
        center : tuple of float, optional
            (x, y) pixel position of the centre; the image's middle by default.

        Returns
        -------
        fluxes : ndarray or `~astropy.units.Quantity`
            In the images' unit.
        """
        unit = getattr(images, "unit", None)
        images = _check_images(images)
        _check_psf(psf_sigma)
        weight = _weights(variance, images.shape)
        shape = images.shape[1:]
        center = _middle(shape) if center is None else tuple(float(c) for c in center)
        unconvolved = _unconvolved(self.profile, self.r_eff, self.axis_ratio, self.theta, shape,
                                   center)
        model = _convolve(unconvolved, psf_sigma)
        fluxes = _amplitudes(images, model, weight) * unconvolved.sum()
        return fluxes if unit is None else fluxes * unit


def _taper(radius, start, end):
    fraction = np.clip((radius - start) / (end - start), 0.0, 1.0)
    return (1.0 - fraction**2) ** 2


def _unconvolved(profile, r_eff, axis_ratio, theta, shape, center):
    n, start, end = MODEL_PROFILES[profile]
    x0, y0 = center
    model = Sersic2D(amplitude=1.0, r_eff=r_eff, n=n, x_0=x0, y_0=y0,
                     ellip=1.0 - axis_ratio, theta=theta)
    cos, sin = np.cos(theta), np.sin(theta)

    def evaluate(x, y):
        major = (x - x0) * cos + (y - y0) * sin
        minor = (-(x - x0) * sin + (y - y0) * cos) / axis_ratio
        return model(x, y) * _taper(np.hypot(major, minor), start * r_eff, end * r_eff)

    y, x = np.indices(shape, dtype=float)
    image = evaluate(x, y)
    # Average the central pixels over sub-pixels: the cusp is narrower than a pixel.
    ix, iy = int(round(x0)), int(round(y0))
    rows = np.arange(max(iy - _CENTRE_PIXELS, 0), min(iy + _CENTRE_PIXELS + 1, shape[0]))
    columns = np.arange(max(ix - _CENTRE_PIXELS, 0), min(ix + _CENTRE_PIXELS + 1, shape[1]))
    if rows.size and columns.size:
        offsets = (np.arange(_CENTRE_OVERSAMPLE) + 0.5) / _CENTRE_OVERSAMPLE - 0.5
        sub_y = rows[:, None, None, None] + offsets[None, None, :, None]
        sub_x = columns[None, :, None, None] + offsets[None, None, None, :]
        sub_y, sub_x = np.broadcast_arrays(sub_y, sub_x)
        image[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1] = evaluate(
            sub_x, sub_y).mean(axis=(2, 3))
    return image


def profile_image(profile, r_eff, axis_ratio, theta, shape, psf_sigma, center=None):
    """
    A truncated SDSS model profile on an image grid, convolved with a Gaussian PSF.

    Parameters
    ----------
    profile : {"exp", "deV"}
    r_eff : float
        Effective radius along the major axis (pixels).
    axis_ratio : float
        Minor over major axis, in (0, 1].
    theta : float
        Position angle of the major axis (radians from +x).
    shape : tuple of int
        (ny, nx).
    psf_sigma : float
        Gaussian PSF sigma (pixels); 0 for none.
    center : tuple of float, optional
        (x, y) pixel position of the centre; the image's middle by default.

    Returns
    -------
    image : ndarray
        Unit amplitude (the profile is 1 at ``r_eff`` before truncation).
    """
    if profile not in MODEL_PROFILES:
        raise ValueError(
            f"unknown model profile {profile!r}; choose from {', '.join(MODEL_PROFILES)}")
    if not (r_eff > 0 and 0 < axis_ratio <= 1):
        raise ValueError(
            f"r_eff must be positive and axis_ratio in (0, 1], got {r_eff}, {axis_ratio}")
    _check_psf(psf_sigma)
    center = _middle(shape) if center is None else center
    return _convolve(_unconvolved(profile, r_eff, axis_ratio, theta, shape, center), psf_sigma)


def _convolve(image, psf_sigma):
    return ndimage.gaussian_filter(image, psf_sigma, mode="constant") if psf_sigma > 0 else image


def _check_psf(psf_sigma):
    if not psf_sigma >= 0:
        raise ValueError(f"psf_sigma must be non-negative (pixels), got {psf_sigma}")


def _middle(shape):
    return (0.5 * (shape[1] - 1), 0.5 * (shape[0] - 1))


def _start(image, center):
    """Initial effective radius, axis ratio and angle from the light's moments."""
    y, x = np.indices(image.shape, dtype=float)
    dx, dy = x - center[0], y - center[1]
    light = np.clip(image, 0.0, None)
    radius = np.hypot(dx, dy)
    order = np.argsort(radius, axis=None)
    cumulative = np.cumsum(light.ravel()[order])
    half = radius.ravel()[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])]
    total = light.sum()
    xx, yy, xy = (light * dx * dx).sum() / total, (light * dy * dy).sum() / total, (
        light * dx * dy).sum() / total
    spread = np.hypot(0.5 * (xx - yy), xy)
    major, minor = 0.5 * (xx + yy) + spread, max(0.5 * (xx + yy) - spread, 1e-6)
    axis_ratio = float(np.clip(np.sqrt(minor / major), 0.1, 1.0))
    return max(float(half), 0.5), axis_ratio, 0.5 * float(np.arctan2(2.0 * xy, xx - yy))


def _amplitudes(images, model, weight):
    return (images * model * weight).sum(axis=(-2, -1)) / (model * model * weight).sum(
        axis=(-2, -1))


def model_photometry(images, psf_sigma, *, variance=None, reference=2, center=None):
    """
    SDSS-like model fluxes of a galaxy in every band of an image.

    Fits an exponential and a de Vaucouleurs profile (`MODEL_PROFILES`,
    convolved with the PSF) to the reference band by weighted least
    squares, keeps the better one and fits its amplitude alone in every band
    with the same weights, as the SDSS pipeline's model magnitudes do
    (module docstring). The centre is held fixed.

    Parameters
    ----------
    images : array-like, shape (n_bands, ny, nx)
        The galaxy, background subtracted, in any flux unit per pixel; a
        `~astropy.units.Quantity` keeps its unit in the fluxes.
    psf_sigma : float
        Gaussian sigma of the images' PSF (pixels).
    variance : array-like, optional
        Pixel variance, broadcastable to ``images`` (per band, e.g. the sky's
        and the galaxy's own photon noise); uniform weights by default.
    reference : int
        The band whose profile is fitted (2, r, for ugriz).
    center : tuple of float, optional
        (x, y) pixel position of the galaxy's centre; the image's middle by
        default.

    Returns
    -------
    photometry : `ModelPhotometry`

    Raises
    ------
    ValueError
        For an image that is not 3-D, holds NaN or inf, or has no positive
        light in the reference band; a negative PSF; a non-positive variance.
    """
    pixels = _check_images(images)
    if not 0 <= reference < pixels.shape[0]:
        raise ValueError(f"reference band {reference} is not one of the {pixels.shape[0]} bands")
    if pixels[reference].sum() <= 0:
        raise ValueError(f"band {reference} has no positive light to fit a profile to")
    _check_psf(psf_sigma)
    weight = _weights(variance, pixels.shape)
    shape = pixels.shape[1:]
    center = _middle(shape) if center is None else tuple(float(c) for c in center)
    target, target_weight = pixels[reference], weight[reference]
    r_start, q_start, theta_start = _start(target, center)
    largest = 2.0 * max(shape)

    fits = {}
    for profile in MODEL_PROFILES:
        def residual(parameters, profile=profile):
            r_eff, axis_ratio, theta = parameters
            model = profile_image(profile, r_eff, axis_ratio, theta, shape, psf_sigma, center)
            amplitude = _amplitudes(target, model, target_weight)
            return ((target - amplitude * model) * np.sqrt(target_weight)).ravel()

        solution = optimize.least_squares(
            residual, [min(r_start, largest), q_start, theta_start],
            bounds=([0.2, 0.05, -2.0 * np.pi], [largest, 1.0, 2.0 * np.pi]),
            x_scale=[r_start, 0.2, 0.3], max_nfev=200,
        )
        fits[profile] = (float(np.sum(solution.fun**2)), solution.x)
    profile = min(fits, key=lambda name: fits[name][0])
    r_eff, axis_ratio, theta = (float(value) for value in fits[profile][1])
    fitted = ModelPhotometry(profile, r_eff, axis_ratio, float(np.mod(theta, np.pi)), None,
                             {name: value[0] for name, value in fits.items()})
    fluxes = fitted.measure(images, psf_sigma, variance=variance, center=center)
    return replace(fitted, fluxes=fluxes)


def _check_images(images):
    images = np.asarray(getattr(images, "value", images), dtype=float)
    if images.ndim != 3:
        raise ValueError(f"images must be (n_bands, ny, nx), got shape {images.shape}")
    if not np.all(np.isfinite(images)):
        raise ValueError("images hold NaN or inf: mask or fill them before model photometry")
    return images


def _weights(variance, shape):
    if variance is None:
        return np.ones(shape)
    variance = np.broadcast_to(np.asarray(variance, dtype=float), shape)
    if not np.all(np.isfinite(variance)) or np.any(variance <= 0):
        raise ValueError("variance must be finite and positive everywhere")
    return 1.0 / variance
