"""Synthetic maps with exactly known geometry and totals, for the analysis tests."""

import astropy.units as u
import numpy as np

from picasso import PROPERTIES, HalfRadius, PropertyMaps

#: Half-mass radius of an exponential disc in scale lengths: 1 - (1 + x) exp(-x) = 1/2.
R_HALF_PER_SCALE_LENGTH = 1.678346990016661


def exponential_disc(shape=(96, 96), center=(47.3, 48.1), r_half=10.0, ellipticity=0.4,
                     pa_deg=30.0, total=1e10, oversample=5):
    """
    Pixel-integrated elliptical exponential disc.

    ``r_half`` is the semi-major half-mass radius in pixels, ``pa_deg`` the
    major-axis angle counter-clockwise from +x; the result sums to ``total``
    (less what falls off the image) in units of "per pixel".
    """
    ny, nx = shape
    h = r_half / R_HALF_PER_SCALE_LENGTH
    x = (np.arange(nx * oversample) + 0.5) / oversample - 0.5
    y = (np.arange(ny * oversample) + 0.5) / oversample - 0.5
    x, y = np.meshgrid(x, y)
    dx, dy = x - center[0], y - center[1]
    theta = np.deg2rad(pa_deg)
    along = dx * np.cos(theta) + dy * np.sin(theta)
    across = -dx * np.sin(theta) + dy * np.cos(theta)
    q = 1.0 - ellipticity
    radius = np.hypot(along, across / q)
    image = np.exp(-radius / h).reshape(ny, oversample, nx, oversample).mean(axis=(1, 3))
    return image * total / (2 * np.pi * h**2 * q)


def enclosed_fraction(sma_over_r_half):
    """Analytic fraction of an exponential disc inside an ellipse of semi-major axis a (R_half)."""
    x = np.asarray(sma_over_r_half) * R_HALF_PER_SCALE_LENGTH
    return 1.0 - (1.0 + x) * np.exp(-x)


def disc_maps(shape=(96, 96), pixel_scale=0.5 * u.kpc, total=1e10, age=None, **disc):
    """
    PropertyMaps of one exponential disc in every extensive property, scaled
    per property, with pixels below a threshold empty (as in the truth).

    ``age`` (Gyr) makes a stellar-age map; a constant gives a known mean.
    """
    per_pixel = exponential_disc(shape, total=total, **disc)
    area = pixel_scale.to_value(u.kpc) ** 2
    empty = per_pixel < total * 1e-9
    factors = {"stellar_mass": 1.0, "stellar_metal_mass": 0.02, "sfr": 1e-10,
               "gas_mass": 0.3, "gas_metal_mass": 0.003, "hi_mass": 0.1}
    maps = {}
    for name, factor in factors.items():
        unit = PROPERTIES[name].unit
        maps[name] = np.where(empty, 0.0, per_pixel * factor / area) * unit
    mask = {name: empty for name in maps}
    if age is not None:
        maps["stellar_age"] = np.where(empty, 0.0, age) * np.ones(shape) * u.Gyr
        mask["stellar_age"] = empty
    return PropertyMaps(maps, pixel_scale=pixel_scale, mask=mask)


def write_test_set(path, n=4, size=64, seed=0):
    """
    A tiny pair dataset of exponential discs: images with realistic ugriz
    colours (nanomaggies at z = 0.05) and truth maps of all seven properties.

    Returns the path.
    """
    from picasso import GalaxyCutout
    from picasso.io.dataset import DatasetWriter

    rng = np.random.default_rng(seed)
    pixel_scale = 0.5 * u.kpc
    # g - r ~ 0.6, g - i ~ 0.9: flux ratios of the bands to r.
    colours = np.array([0.3, 0.58, 1.0, 1.32, 1.55])
    with DatasetWriter(path, image_size=size, attrs={"seed": seed}) as writer:
        for index in range(n):
            r_half = rng.uniform(5.0, 7.0)
            params = dict(center=(size / 2 - 0.5 + rng.uniform(-1, 1),
                                  size / 2 - 0.5 + rng.uniform(-1, 1)),
                          r_half=r_half, ellipticity=rng.uniform(0.1, 0.5),
                          pa_deg=rng.uniform(0, 180))
            total = 10 ** rng.uniform(9.5, 11.0)
            truth = disc_maps((size, size), pixel_scale=pixel_scale, total=total,
                              age=rng.uniform(2, 10), **params)
            truth = PropertyMaps({name: truth[name] for name in truth},
                                 pixel_scale=pixel_scale, mask=truth.mask,
                                 r_half=HalfRadius(r_half * pixel_scale, "mass_projected"))
            light = exponential_disc((size, size), total=total / 1e8, **params)
            flux = colours[:, None, None] * light[None] + rng.normal(0, 1e-3, (5, size, size))
            cutout = GalaxyCutout(flux * u.nanomaggy, pixel_scale=pixel_scale, redshift=0.05)
            writer.append(cutout, truth, galaxy_id=index, view=0, seed=seed)
    return path


def write_predictions(path, dataset_path, offset=0.0, scatter=0.0, seed=1):
    """Predicted log10 maps = truth + offset (+ Gaussian scatter), in ``picasso predict`` layout."""
    import h5py

    from picasso.properties import LOG10_EMPTY

    rng = np.random.default_rng(seed)
    with h5py.File(dataset_path, "r") as handle:
        truth = handle["truth"][()].astype(np.float64)
        properties = [str(name) for name in handle.attrs["properties"]]
    empty = truth <= LOG10_EMPTY / 2
    pred = truth + offset + (rng.normal(0, scatter, truth.shape) if scatter else 0.0)
    pred[empty] = truth[empty]
    with h5py.File(path, "w") as handle:
        handle.create_dataset("log10_maps", data=pred)
        handle.create_dataset("index", data=np.arange(len(truth)))
        handle.attrs["properties"] = properties
    return path
