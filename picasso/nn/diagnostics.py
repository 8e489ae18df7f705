"""
Out-of-distribution diagnostics: is this cutout like the images the model was trained on?

A network trained on synthetic images answers every input, including inputs
unlike anything it has seen (a star, an empty patch of sky, a galaxy imaged
at another resolution, bands in the wrong order). Its answer is then
meaningless, and nothing in the maps says so. This module records summary
statistics of a model's training inputs and measures, for every cutout,
how far it lies from them.

Features
--------
Every image ``(n_bands, N, N)`` is reduced to a few numbers by
`input_features`. Images are taken as the network sees them before its
logarithm (`picasso.nn.predict.check_cutout`): flux per pixel in the
model's flux unit divided by the pixel area in kpc2.

``colour_<a>_<b>``
    Colour of adjacent bands in the central aperture (radius ``N / 5``:
    two half-mass radii in the training convention of 10 half-mass radii per
    side), as asinh magnitudes (Lupton et al. 1999) softened at each band's
    aperture noise, so noise and negative fluxes give finite colours.
``log_r50``
    log10 of the half-light radius of the summed bands, in units of
    ``N / 10`` (zero for a galaxy cut to the training convention).
``log_concentration``
    log10 of ``r90 / r50`` of the summed bands (a PSF is more concentrated
    than a galaxy, noise less).
``log_surface_brightness``
    log10 of the mean reference-band flux per pixel within ``r50``.
``log_flux``
    log10 of the reference-band aperture flux (flux unit and scale).
``log_noise``
    log10 of the reference-band per-pixel noise (MAD of the pixels beyond
    ``0.4 N`` from the centre).
``log_resolution``
    log10 of ``r50`` over the PSF's half width at half maximum (exactly 0
    for a point source, positive for a resolved galaxy); only when the PSF
    of the training images is known (from the dataset's generator record)
    and, at prediction, of the cutout (``psf_fwhm`` and pixel scale).
    Where a cutout's PSF is unknown this feature is left out of its distance.

The reference band is ``r`` when present, else the middle band.

Distance
--------
`InputStatistics` holds a robust centre and covariance of the training
features (median, then a covariance re-estimated without the training
outliers beyond the chi-square 99% point, shrunk 20% towards its diagonal
and with per-feature floors on the scale, so that a small or degenerate
training set does not make every new input look anomalous). The distance
of a cutout is the Mahalanobis distance of its features. The warning
threshold, `InputStatistics.threshold`, is the larger of the chi-square
point with false-alarm probability `FALSE_ALARM` (1e-4) for the number of
features ``k``, widened for a training set of ``n`` images by Hotelling's
prediction-region factor ``(n^2 - 1) / (n (n - k))`` (1.005 for 2000
images, 1.45 for 32), and `THRESHOLD_MARGIN` (1.5) times the 99.5th
percentile of the training inputs' own distances (for fewer than 1000
training images, the percentile that leaves 5 of them above it, so one odd
training galaxy does not set the threshold). `diagnose` flags inputs beyond
it; `warn_out_of_distribution` issues a `PicassoOODWarning` for them.

With an ensemble (or a model with an uncertainty head) the per-pixel
1-sigma of the prediction, median over the central aperture, is reported
per property beside the distance (``spread_dex``); it is a second,
independent symptom (members disagree off their training distribution) and
is reported, not thresholded.

Impossible outputs
------------------
A network can also answer a familiar input with an impossible value where it
was never constrained: the paper's loss weights empty truth pixels by 1e-6,
so in the sky around a faint galaxy a map may hold surface densities that no
galaxy reaches (with an uncertainty head, the mean estimate adds
``0.5 ln 10 sigma^2`` to pixels whose sigma is large); inside a galaxy, light
that is not its own (stars, a cluster's diffuse halo) can be read as mass
beyond any real galaxy's. `unphysical_pixels` counts, per map, the pixels
above a property's
`~picasso.properties.Property.physical_maximum`, and `log_unphysical`
logs a warning naming them.
"""

import logging
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy.stats import mad_std
from astropy.utils.exceptions import AstropyUserWarning

from ..properties import PROPERTIES

__all__ = [
    "PicassoOODWarning",
    "InputStatistics",
    "FALSE_ALARM",
    "THRESHOLD_MARGIN",
    "STATISTICS_KEY",
    "feature_names",
    "input_features",
    "psf_fwhm_pixels",
    "training_statistics",
    "diagnose",
    "warn_out_of_distribution",
    "unphysical_pixels",
    "log_unphysical",
]

log = logging.getLogger(__name__)

#: False-alarm probability of the chi-square part of the threshold.
FALSE_ALARM = 1e-4
#: Factor on the 99.5th percentile of the training distances in the threshold.
THRESHOLD_MARGIN = 1.5
#: Shrinkage of the covariance towards its diagonal.
SHRINKAGE = 0.2
#: Smallest scale of a colour feature (mag) and of a log10 feature (dex).
COLOUR_FLOOR = 0.05
LOG_FLOOR = 0.05
#: Model-header key of the training-input statistics.
STATISTICS_KEY = "input_statistics"

_TINY = 1e-30


class PicassoOODWarning(AstropyUserWarning):
    """A cutout lies outside the distribution of the model's training inputs."""


def _reference_band(bands):
    bands = list(bands)
    return "r" if "r" in bands else bands[len(bands) // 2]


def feature_names(bands, resolution=True):
    """
    Names of the features `input_features` computes for these bands.

    Parameters
    ----------
    bands : sequence of str
    resolution : bool
        Include ``log_resolution`` (size over the PSF).

    Returns
    -------
    names : tuple of str
    """
    bands = list(bands)
    colours = [f"colour_{a}_{b}" for a, b in zip(bands[:-1], bands[1:])]
    names = colours + ["log_r50", "log_concentration", "log_surface_brightness", "log_flux",
                       "log_noise"]
    return tuple(names + (["log_resolution"] if resolution else []))


class _Geometry:
    """Aperture weights and radii of one image size (photutils exact apertures)."""

    _cache = {}

    def __new__(cls, size):
        if size in cls._cache:
            return cls._cache[size]
        from photutils.aperture import CircularAperture

        self = super().__new__(cls)
        centre = (size - 1) / 2.0
        aperture = CircularAperture((centre, centre), r=size / 5.0)
        self.weights = aperture.to_mask(method="exact").to_image((size, size))
        self.area = float(aperture.area)
        y, x = np.indices((size, size))
        self.radius = np.hypot(x - centre, y - centre)
        self.order = np.argsort(self.radius, axis=None)
        self.sorted_radius = self.radius.ravel()[self.order]
        self.inside = self.sorted_radius <= size / 2.0
        self.outer = self.radius > 0.4 * size
        cls._cache[size] = self
        return self


def _radii(image, geometry, fractions=(0.5, 0.9)):
    """Radii enclosing fractions of the positive flux within N/2 (growth curve)."""
    values = np.clip(image.ravel()[geometry.order], 0, None)[geometry.inside]
    radius = geometry.sorted_radius[geometry.inside]
    cumulative = np.cumsum(values)
    total = cumulative[-1]
    if not total > 0:
        return [radius[-1]] * len(fractions)
    return [float(radius[min(np.searchsorted(cumulative, f * total), radius.size - 1)])
            for f in fractions]


def input_features(images, bands, psf_fwhm_pixels=None):
    """
    The diagnostic features of images (see the module docstring).

    Parameters
    ----------
    images : array-like
        ``(n, n_bands, N, N)`` or ``(n_bands, N, N)``: flux per pixel, all in
        one flux unit.
    bands : sequence of str
        Band of every channel.
    psf_fwhm_pixels : float or array-like (n,), optional
        PSF FWHM of every image in its pixels (NaN where unknown); the
        ``log_resolution`` column is NaN without it.

    Returns
    -------
    features : `numpy.ndarray`
        float64 ``(n, n_features)``, columns as `feature_names` (with
        ``log_resolution`` last).

    Raises
    ------
    ValueError
        If the images are not square or the band count does not fit.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        images = images[np.newaxis]
    bands = list(bands)
    if images.ndim != 4 or images.shape[1] != len(bands) or images.shape[2] != images.shape[3]:
        raise ValueError(
            f"images must have shape (n, {len(bands)}, N, N) for bands {''.join(bands)}, got "
            f"{images.shape}"
        )
    size = images.shape[-1]
    geometry = _Geometry(size)
    reference = bands.index(_reference_band(bands))
    psf = np.full(images.shape[0], np.nan) if psf_fwhm_pixels is None else np.broadcast_to(
        np.asarray(psf_fwhm_pixels, dtype=np.float64), (images.shape[0],))
    features = np.empty((images.shape[0], len(feature_names(bands))))
    for index, image in enumerate(images):
        image = np.where(np.isfinite(image), image, 0.0)
        noise = np.array([mad_std(plane[geometry.outer]) for plane in image])
        flux = (image * geometry.weights).sum(axis=(1, 2))
        # Asinh magnitudes softened at the aperture noise (finite for noise and negative flux).
        softening = np.maximum(noise * math.sqrt(geometry.area), 1e-3 * np.abs(flux) + _TINY)
        magnitude = -2.5 / math.log(10) * (np.arcsinh(flux / (2 * softening)) + np.log(softening))
        colours = magnitude[:-1] - magnitude[1:]
        r50, r90 = _radii(image.sum(axis=0), geometry)
        r50 = max(r50, 0.5)
        within = geometry.radius <= r50
        surface = image[reference][within].mean()
        features[index] = np.concatenate([colours, [
            math.log10(r50 / (size / 10.0)),
            math.log10(max(r90, r50) / r50),
            math.log10(max(surface, _TINY)),
            math.log10(max(flux[reference], _TINY)),
            math.log10(max(noise[reference], _TINY)),
            # A Gaussian's half-light radius is its half width at half maximum.
            math.log10(r50 / (0.5 * psf[index])) if psf[index] > 0 else np.nan,
        ]])
    return features


@dataclass
class InputStatistics:
    """
    Robust summary of a model's training inputs, and the distance from it.

    Build one with `training_statistics`; it travels in the model header
    (`to_dict` / `from_dict`, key `STATISTICS_KEY`).

    Attributes
    ----------
    bands : tuple of str
    feature_names : tuple of str
    centre : `numpy.ndarray`
        Median of every feature.
    covariance : `numpy.ndarray`
        Robust, shrunk covariance of the features.
    threshold : float
        Distance above which an input is out of distribution.
    n_images : int
        Training images summarised.
    flux_unit : str
    image_size : int
    quantiles : dict
        Feature name -> its 1st, 16th, 50th, 84th and 99th percentiles in the
        training inputs (for the model card).
    distance_quantiles : list of float
        50th, 99th and 99.5th percentiles of the training inputs' own distances.
    """

    bands: tuple
    feature_names: tuple
    centre: np.ndarray
    covariance: np.ndarray
    threshold: float
    n_images: int
    flux_unit: str
    image_size: int
    quantiles: dict = field(default_factory=dict)
    distance_quantiles: list = field(default_factory=list)

    def __post_init__(self):
        self.bands = tuple(self.bands)
        self.feature_names = tuple(self.feature_names)
        self.centre = np.asarray(self.centre, dtype=np.float64)
        self.covariance = np.asarray(self.covariance, dtype=np.float64)
        k = len(self.feature_names)
        if self.centre.shape != (k,) or self.covariance.shape != (k, k):
            raise ValueError(
                f"input statistics: centre {self.centre.shape} and covariance "
                f"{self.covariance.shape} do not fit {k} features"
            )
        self._inverse = np.linalg.inv(self.covariance)

    def distance(self, features):
        """
        Mahalanobis distance of feature vectors from the training centre.

        Parameters
        ----------
        features : array-like (n, n_features) or (n_features,)

        Returns
        -------
        distance : `numpy.ndarray` (n,)
        """
        delta = np.atleast_2d(np.asarray(features, dtype=np.float64)) - self.centre
        missing = ~np.isfinite(delta)
        if not missing.any():
            return np.sqrt(np.einsum("ij,jk,ik->i", delta, self._inverse, delta))
        # Unknown features (NaN) are left out: the distance in the marginal distribution
        # of the others.
        distance = np.empty(delta.shape[0])
        for pattern in np.unique(missing, axis=0):
            rows = np.all(missing == pattern, axis=1)
            keep = ~pattern
            inverse = np.linalg.inv(self.covariance[np.ix_(keep, keep)])
            part = delta[np.ix_(rows, keep)]
            distance[rows] = np.sqrt(np.einsum("ij,jk,ik->i", part, inverse, part))
        return distance

    def z_scores(self, features):
        """
        Per-feature offsets from the training median in units of the robust scale.

        Parameters
        ----------
        features : array-like (n, n_features)

        Returns
        -------
        z : `numpy.ndarray` (n, n_features)
        """
        scale = np.sqrt(np.diag(self.covariance))
        return (np.atleast_2d(features) - self.centre) / scale

    def to_dict(self):
        """dict: JSON-ready form (for the model header)."""
        return {
            "method": "Mahalanobis distance of image features from the robust training "
                      "centre and shrunk covariance (picasso.nn.diagnostics)",
            "bands": list(self.bands),
            "feature_names": list(self.feature_names),
            "centre": [float(v) for v in self.centre],
            "covariance": [[float(v) for v in row] for row in self.covariance],
            "threshold": float(self.threshold),
            "n_images": int(self.n_images),
            "flux_unit": str(self.flux_unit),
            "image_size": int(self.image_size),
            "quantiles": {key: [float(v) for v in value] for key, value in self.quantiles.items()},
            "distance_quantiles": [float(v) for v in self.distance_quantiles],
        }

    @classmethod
    def from_dict(cls, record):
        """
        Rebuild from `to_dict` output.

        Raises
        ------
        ValueError
            If a key is missing.
        """
        keys = ("bands", "feature_names", "centre", "covariance", "threshold", "n_images",
                "flux_unit", "image_size")
        missing = [key for key in keys if key not in record]
        if missing:
            raise ValueError(f"input statistics lack {', '.join(missing)}")
        return cls(**{key: record[key] for key in keys},
                   quantiles=dict(record.get("quantiles", {})),
                   distance_quantiles=list(record.get("distance_quantiles", [])))

    @classmethod
    def from_features(cls, features, bands, *, flux_unit, image_size):
        """
        Robust statistics of training features.

        Parameters
        ----------
        features : array-like (n, n_features)
            From `input_features`.
        bands : sequence of str
        flux_unit : str
        image_size : int

        Returns
        -------
        statistics : `InputStatistics`

        Raises
        ------
        ValueError
            With fewer than ``n_features + 2`` images.
        """
        from scipy.stats import chi2

        features = np.asarray(features, dtype=np.float64)
        names = feature_names(bands)
        if features.ndim != 2 or features.shape[1] != len(names):
            raise ValueError(f"expected (n, {len(names)}) features, got {features.shape}")
        if not np.all(np.isfinite(features[:, -1])):
            # The PSF of the training images is unknown: no resolution feature.
            features = features[:, :-1]
            names = feature_names(bands, resolution=False)
        n, k = features.shape
        if n < k + 2:
            raise ValueError(
                f"need at least {k + 2} training images for input statistics of {k} features, "
                f"got {n}"
            )
        floor = np.array([COLOUR_FLOOR if name.startswith("colour") else LOG_FLOOR
                          for name in names])
        centre = np.median(features, axis=0)
        keep = np.ones(n, dtype=bool)
        cut = math.sqrt(chi2.ppf(0.99, k))
        for _ in range(3):
            sample = features[keep]
            covariance = np.cov(sample, rowvar=False) if keep.sum() > 1 else np.zeros((k, k))
            covariance = _regularise(covariance, floor)
            centre = np.median(sample, axis=0)
            delta = features - centre
            inverse = np.linalg.inv(covariance)
            distance = np.sqrt(np.einsum("ij,jk,ik->i", delta, inverse, delta))
            new_keep = distance <= max(cut, np.quantile(distance, 0.5))
            if np.array_equal(new_keep, keep) or new_keep.sum() < max(5, n // 2):
                break
            keep = new_keep
        distance_quantiles = np.quantile(distance, [0.5, 0.99, 0.995])
        # With few images the 99.5th percentile is the largest distance, one outlier's:
        # then the percentile that leaves 5 images above it.
        tail = np.quantile(distance, 1.0 - max(0.005, 5.0 / n))
        # A centre and covariance estimated from n images put new inputs farther out than
        # the training ones: Hotelling's prediction-region factor (n^2 - 1) / (n (n - k)).
        small_sample = (n * n - 1.0) / (n * (n - k))
        threshold = max(math.sqrt(chi2.isf(FALSE_ALARM, k) * small_sample),
                        THRESHOLD_MARGIN * float(tail))
        quantiles = {name: np.quantile(features[:, j], [0.01, 0.16, 0.5, 0.84, 0.99])
                     for j, name in enumerate(names)}
        return cls(tuple(bands), names, centre, covariance, threshold, n, str(flux_unit),
                   int(image_size), quantiles=quantiles,
                   distance_quantiles=list(distance_quantiles))


def _regularise(covariance, floor):
    """Floors on the scales, then shrinkage towards the diagonal."""
    scale = np.sqrt(np.clip(np.diag(covariance), 0, None))
    new_scale = np.maximum(scale, floor)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where(np.outer(scale, scale) > 0,
                               covariance / np.outer(scale, scale), 0.0)
    np.fill_diagonal(correlation, 1.0)
    correlation = (1 - SHRINKAGE) * correlation + SHRINKAGE * np.eye(len(floor))
    return correlation * np.outer(new_scale, new_scale)


def training_statistics(pairs, transform, indices=None, *, max_images=2000, seed=0):
    """
    Summary statistics of the inputs of a pair dataset (what a model was trained on).

    Parameters
    ----------
    pairs : `~picasso.io.dataset.PairDataset`
        Pairs with ``bands``, ``image_size`` and the pixel scales (and, for a
        transform with a reference redshift, redshifts) of every pair; item
        ``i`` gives ``{'image': (n_bands, N, N)}``.
    transform : `~picasso.nn.transforms.InputTransform`
        The model's input contract: the statistics are of its moved flux per
        kpc2, in the bands the model sees (`~picasso.nn.transforms.InputTransform.seen_bands`).
    indices : array-like of int, optional
        The pairs to summarise (the training split); all by default.
    max_images : int
        Summarise at most this many, drawn without replacement.
    seed : int
        Seed of that draw.

    Returns
    -------
    statistics : `InputStatistics`
    """
    indices = np.arange(len(pairs)) if indices is None else np.asarray(indices, dtype=np.int64)
    if indices.size > max_images:
        rng = np.random.default_rng(seed)
        indices = np.sort(rng.choice(indices, size=int(max_images), replace=False))
    channels = _channels(tuple(pairs.bands), transform.seen_bands)
    bands = tuple(pairs.bands[c] for c in channels)
    psf = _training_psf_pixels(pairs, indices)
    scales = transform.pair_scales(pairs, indices)
    features = np.concatenate([
        input_features(np.asarray(pairs[int(i)]["image"], dtype=np.float64)[channels] * scales[j],
                       bands, psf[j])
        for j, i in enumerate(indices)
    ])
    return InputStatistics.from_features(features, bands, flux_unit=f"{transform.flux_unit} / kpc2",
                                         image_size=int(pairs.image_size))


def _channels(available, wanted):
    """Positions of the ``wanted`` bands among ``available`` (all when ``wanted`` is None)."""
    available = list(available)
    if wanted is None:
        return list(range(len(available)))
    missing = [band for band in wanted if band not in available]
    if missing:
        raise ValueError(
            f"the images have bands {''.join(available)}; the statistics need "
            f"{''.join(missing)} too"
        )
    return [available.index(band) for band in wanted]


def _training_psf_pixels(pairs, indices):
    """PSF FWHM of training pairs in their pixels (NaN where the pairs do not say)."""
    psf = getattr(pairs, "psf_fwhm_pixels", None)
    if psf is None:
        log.info("the training PSF is not recorded with the pairs: no resolution feature")
        return np.full(len(indices), np.nan)
    return np.asarray(psf, dtype=np.float64)[indices]


def psf_fwhm_pixels(cutout):
    """
    The PSF FWHM of a cutout in its pixels: its widest band's (NaN when the cutout does not say).

    The same number a model told the PSF takes (`~picasso.nn.transforms.InputTransform`).

    Parameters
    ----------
    cutout : `~picasso.GalaxyCutout`

    Returns
    -------
    fwhm : float
    """
    fwhm = cutout.psf_fwhm_pixels
    return np.nan if fwhm is None else float(np.max(fwhm))


def _statistics_of(model_or_statistics):
    if isinstance(model_or_statistics, InputStatistics):
        return model_or_statistics
    info = getattr(model_or_statistics, "info", None)
    if info is None and isinstance(model_or_statistics, dict):
        info = model_or_statistics
    record = (info or {}).get(STATISTICS_KEY)
    members = getattr(model_or_statistics, "members", None)
    if record is None and members:
        # An ensemble's members were trained on the same inputs: use the first one's record.
        record = (getattr(members[0], "info", None) or {}).get(STATISTICS_KEY)
    if record is None:
        return None
    return InputStatistics.from_dict(record)


def diagnose(model_or_statistics, images, *, bands=None, psf_fwhm_pixels=None,
             sigma_dex=None, properties=None):
    """
    Out-of-distribution diagnostics of images, one record per image.

    Parameters
    ----------
    model_or_statistics : `~picasso.nn.Model`, `InputStatistics` or dict
        A model whose header holds training-input statistics (key
        `STATISTICS_KEY`), the statistics themselves, or a header dict.
    images : array-like
        ``(n, n_bands, N, N)`` flux per pixel in the model's flux unit, bands
        in the model's order.
    bands : sequence of str, optional
        Band of every image channel; by default the model's input bands (or
        the statistics' own). Only the bands the statistics cover are used
        (a model that zeroes some bands is not judged on them).
    psf_fwhm_pixels : float or array-like (n,), optional
        PSF FWHM of every image in its pixels (`psf_fwhm_pixels` of a
        cutout); without it the resolution feature is left out.
    sigma_dex : array-like, optional
        ``(n, n_properties, N, N)`` predicted 1-sigma (ensemble or
        uncertainty head), for the ``spread_dex`` entry.
    properties : sequence of str, optional
        Names of the ``sigma_dex`` channels.

    Returns
    -------
    records : list of dict or None
        Per image: ``distance``, ``threshold``, ``out_of_distribution``
        (bool), ``features`` and ``z_scores`` (dicts by feature name),
        ``largest`` (the features most responsible, by ``|z|``), and
        ``spread_dex`` (property -> median sigma in the central aperture)
        when ``sigma_dex`` is given. `None` when the model records no
        training statistics.
    """
    statistics = _statistics_of(model_or_statistics)
    if statistics is None:
        return None
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = images[np.newaxis]
    if bands is None:
        bands = getattr(model_or_statistics, "bands", None) or statistics.bands
    channels = _channels(tuple(bands), statistics.bands)
    n_images = len(images)
    psf = np.full(n_images, np.nan) if psf_fwhm_pixels is None else np.broadcast_to(
        np.asarray(psf_fwhm_pixels, dtype=np.float64), (n_images,))
    # One image at a time: a catalogue chunk in float64 at once would be large.
    features = np.concatenate([
        input_features(np.asarray(images[index])[channels], statistics.bands, psf[index])
        for index in range(n_images)
    ]) if n_images else np.empty((0, len(feature_names(statistics.bands))))
    features = features[:, :len(statistics.feature_names)]
    distance = statistics.distance(features)
    z = statistics.z_scores(features)
    geometry = _Geometry(np.asarray(images[0]).shape[-1]) if n_images else None
    central = geometry.weights > 0.5 if n_images else None
    records = []
    for index in range(n_images):
        order = np.argsort(-np.abs(z[index]))
        record = {
            "distance": float(distance[index]),
            "threshold": float(statistics.threshold),
            "out_of_distribution": bool(distance[index] > statistics.threshold),
            "features": dict(zip(statistics.feature_names, map(_plain, features[index]))),
            "z_scores": dict(zip(statistics.feature_names, map(_plain, z[index]))),
            "largest": [statistics.feature_names[j] for j in order[:3]
                        if np.isfinite(z[index][j])],
        }
        if sigma_dex is not None:
            sigma = np.asarray(sigma_dex[index], dtype=np.float64)
            names = list(properties) if properties is not None else [
                str(j) for j in range(sigma.shape[0])]
            record["spread_dex"] = {name: float(np.median(plane[central]))
                                    for name, plane in zip(names, sigma)}
        records.append(record)
    return records


def _plain(value):
    """A float for JSON, None for NaN."""
    value = float(value)
    return value if math.isfinite(value) else None


def warn_out_of_distribution(records, labels=None, *, stacklevel=3):
    """
    Issue one `PicassoOODWarning` naming every out-of-distribution input.

    Parameters
    ----------
    records : list of dict or None
        From `diagnose`.
    labels : list of str, optional
        A name for every record (default: its position).
    stacklevel : int

    Returns
    -------
    flagged : list of int
        Positions of the flagged inputs.
    """
    if not records:
        return []
    flagged = [i for i, record in enumerate(records) if record["out_of_distribution"]]
    if flagged:
        labels = labels or [str(i) for i in range(len(records))]
        parts = [
            f"{labels[i]} (distance {records[i]['distance']:.1f} > {records[i]['threshold']:.1f}; "
            f"most off: {', '.join(records[i]['largest'])})"
            for i in flagged[:5]
        ]
        more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
        warnings.warn(
            f"{len(flagged)} of {len(records)} cutout(s) lie outside the model's training "
            f"inputs: {'; '.join(parts)}{more}. Their predicted maps are not reliable: "
            "check the bands and their order, the field of view (10 half-mass radii), the "
            "flux unit and that the source is a resolved galaxy. Diagnostics are in "
            "maps.meta['ood'].",
            PicassoOODWarning, stacklevel=stacklevel,
        )
    return flagged


def unphysical_pixels(log10_maps, properties):
    """
    Pixels of every predicted map above its property's physical maximum.

    Parameters
    ----------
    log10_maps : ndarray (n, n_properties, N, N)
        log10 of the maps in the registry units (`picasso.properties.PROPERTIES`).
    properties : sequence of str
        The property of every channel.

    Returns
    -------
    records : list of dict
        For every map, property name -> number of pixels above
        `~picasso.properties.Property.physical_maximum` (only properties with
        such pixels).
    """
    log10_maps = np.asarray(log10_maps)
    counts = {}
    for channel, name in enumerate(properties):
        ceiling = PROPERTIES[name].physical_maximum
        if ceiling is not None:
            counts[name] = np.count_nonzero(log10_maps[:, channel] > math.log10(ceiling),
                                            axis=(1, 2))
    return [{name: int(count[index]) for name, count in counts.items() if count[index]}
            for index in range(log10_maps.shape[0])]


def log_unphysical(records, labels=None):
    """
    Log one warning naming every map with values that no galaxy reaches.

    Parameters
    ----------
    records : list of dict
        From `unphysical_pixels`.
    labels : list of str, optional
        A name for every record (default: its position).

    Returns
    -------
    flagged : list of int
        Positions of the flagged maps.
    """
    flagged = [index for index, record in enumerate(records) if record]
    if flagged:
        labels = labels or [str(index) for index in range(len(records))]
        parts = [f"{labels[index]} ("
                 + ", ".join(f"{count} {name} pixel(s) above "
                             f"{PROPERTIES[name].physical_maximum:g} {PROPERTIES[name].unit}"
                             for name, count in records[index].items()) + ")"
                 for index in flagged[:5]]
        more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
        log.warning(
            "%d of %d predicted map set(s) hold values no galaxy is known to reach: %s%s. The "
            "values are left as predicted and counted in maps.meta['unphysical_pixels']. In "
            "the sky around a faint galaxy they come from the mean estimate, which adds "
            "0.5 ln(10) sigma^2 to a median whose sigma is large there (predict with "
            "estimate='median', or keep them out of sums with apertures of a few R_half); "
            "inside a galaxy, from light that is not its own, such as stars or a cluster's "
            "diffuse halo, read as mass (see the cutout's border-sky warning; "
            "subtract_background=True, mask_sources=True).",
            len(flagged), len(records), "; ".join(parts), more,
        )
    return flagged
