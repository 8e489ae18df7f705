"""
Synthetic SDSS frame files in the real DR8+ layout, for tests and benchmarks.

`write_sdss_frame` writes ``frame-{band}-{run:06d}-{camcol}-{field:04d}.fits``
with HDU0 (image in nanomaggies, TAN WCS with an SDSS-like CD matrix of
0.396 arcsec pixels, the header keywords of real frames), HDU1 (calibration
vector), HDU2 (sky table ALLSKY/XINTERP/YINTERP) and HDU3 (asTrans row).
Galaxies are elliptical Gaussians (a Gaussian galaxy seen through a Gaussian
PSF) integrated exactly over each pixel with error functions, so the total
flux and the centre are known exactly.
"""

import bz2
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from scipy.special import erf

from picasso.instrument import sdss_dark_variance, sdss_gain

PIXEL_SCALE_DEG = 0.396 / 3600
#: Typical calibration (nanomaggies per count) and sky (counts) of the real
#: field in ../shared/data/sdss (run 2583, camcol 2, field 136).
CALIBRATION = {"u": 0.0116, "g": 0.0042, "r": 0.0054, "i": 0.0076, "z": 0.0379}
SKY_COUNTS = {"u": 23.4, "g": 80.8, "r": 149.1, "i": 216.2, "z": 140.8}


def sdss_wcs(crval, shape, row_offset=0.0):
    """
    A TAN WCS oriented like an SDSS frame: RA along rows, Dec along columns.

    Parameters
    ----------
    crval : tuple of float
        (ra, dec) in degrees at the frame centre.
    shape : tuple of int
        (ny, nx).
    row_offset : float
        Rows by which this frame sits further along the scan than the
        reference frame (consecutive fields of a run).
    """
    ny, nx = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crval = list(crval)
    wcs.wcs.crpix = [(nx + 1) / 2, (ny + 1) / 2 - row_offset]
    # Real frames: CD1_2 (RA per row) and CD2_1 (Dec per column) carry the
    # scale, with a tiny rotation in CD1_1 and CD2_2.
    wcs.wcs.cd = np.array([[2.7e-9, PIXEL_SCALE_DEG], [PIXEL_SCALE_DEG, 1.2e-9]])
    return wcs


def gaussian_image(shape, x_center, y_center, sigma_x, sigma_y, flux):
    """Pixel-integrated elliptical Gaussian (axes along the pixel axes)."""
    ny, nx = shape

    def profile(n, center, sigma):
        edges = np.arange(n + 1) - 0.5
        cdf = 0.5 * (1 + erf((edges - center) / (np.sqrt(2) * sigma)))
        return np.diff(cdf)

    return flux * np.outer(profile(ny, y_center, sigma_y), profile(nx, x_center, sigma_x))


def write_sdss_frame(directory, band, *, run=2583, camcol=2, field=136, shape=(200, 300),
                     crval=(150.0, 2.0), row_offset=0.0, galaxies=(), noise_seed=None,
                     compress=False, header_changes=None, drop_keys=()):
    """
    Write a synthetic SDSS frame file.

    Parameters
    ----------
    directory : path-like
        Where to write.
    band : str
        SDSS band.
    run, camcol, field : int
        Identifiers (file name and header).
    shape : tuple
        (ny, nx) of the image.
    crval : tuple
        (ra, dec) of the reference position (degrees).
    row_offset : float
        See `sdss_wcs`.
    galaxies : iterable of dict
        Each with ``ra``, ``dec`` (deg), ``flux`` (dict band -> nanomaggies),
        ``sigma`` (arcsec along RA) and optionally ``axis_ratio`` (Dec/RA size).
    noise_seed : int, optional
        Add noise drawn from the data-model variance with this seed.
    compress : bool
        Write ``.fits.bz2``.
    header_changes : dict, optional
        Header keywords to set (or overwrite) in HDU0.
    drop_keys : iterable of str
        Header keywords to remove from HDU0.

    Returns
    -------
    path : `~pathlib.Path`
    truth : dict
        ``image`` (noiseless nanomaggies), ``calibration``, ``sky`` (counts per
        pixel), ``wcs``, ``gain``, ``dark_variance``.
    """
    ny, nx = shape
    wcs = sdss_wcs(crval, shape, row_offset)
    image = np.zeros(shape)
    for galaxy in galaxies:
        flux = galaxy["flux"].get(band, 0.0)
        if flux == 0:
            continue
        x, y = wcs.world_to_pixel_values(galaxy["ra"], galaxy["dec"])
        sigma_pixels = galaxy["sigma"] / 0.396
        # Rows run along RA, columns along Dec.
        image += gaussian_image(shape, float(x), float(y),
                                sigma_pixels * galaxy.get("axis_ratio", 1.0), sigma_pixels, flux)
    columns = np.arange(nx)
    calibration = CALIBRATION[band] * (1 + 0.03 * np.sin(2 * np.pi * columns / nx))
    grid_shape = (int(np.ceil(ny / 8)) + 3, int(np.ceil(nx / 8)) + 2)
    gy, gx = np.mgrid[: grid_shape[0], : grid_shape[1]]
    allsky = SKY_COUNTS[band] * (1 + 0.02 * gx / grid_shape[1] - 0.01 * gy / grid_shape[0])
    xinterp = (columns - 3.5) / 8
    yinterp = (np.arange(ny) + 4.5) / 8
    from scipy.interpolate import RectBivariateSpline

    sky = RectBivariateSpline(np.arange(grid_shape[0]), np.arange(grid_shape[1]), allsky,
                              kx=1, ky=1)(np.clip(yinterp, 0, grid_shape[0] - 1),
                                          np.clip(xinterp, 0, grid_shape[1] - 1))
    gain = sdss_gain(camcol, band, run)
    dark_variance = sdss_dark_variance(camcol, band, run)
    data = image.copy()
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
        counts = image / calibration + sky
        sigma_counts = np.sqrt(counts / gain + dark_variance)
        data = data + rng.normal(size=shape) * sigma_counts * calibration
    header = fits.Header()
    header["ORIGIN"] = "SDSS"
    header["TELESCOP"] = "2.5m"
    header["RUN"] = run
    header["FRAME"] = field
    header["CAMCOL"] = camcol
    header["FILTER"] = band
    header["EXPTIME"] = "53.907456"
    header["SOFTBIAS"] = 1000
    header["BUNIT"] = ("nanomaggy", "1 nanomaggy = 3.631e-6 Jy")
    header["RADECSYS"] = "ICRS"
    header["EQUINOX"] = 2000.0
    for key, value in wcs.to_header().items():
        if key in ("CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2", "CRPIX1", "CRPIX2", "CRVAL1",
                   "CRVAL2"):
            header[key] = value
    for (i, j), value in np.ndenumerate(wcs.wcs.cd):
        header[f"CD{i + 1}_{j + 1}"] = value
    header["NMGY"] = (float(np.median(calibration)), "Calibration factor [nMgy per count]")
    for key, value in (header_changes or {}).items():
        header[key] = value
    for key in drop_keys:
        header.remove(key, ignore_missing=True, remove_all=True)
    sky_table = fits.BinTableHDU.from_columns([
        fits.Column("ALLSKY", format=f"{allsky.size}E", dim=f"({grid_shape[1]},{grid_shape[0]})",
                    array=allsky[np.newaxis].astype(np.float32)),
        fits.Column("XINTERP", format=f"{nx}E", array=xinterp[np.newaxis].astype(np.float32)),
        fits.Column("YINTERP", format=f"{ny}E", array=yinterp[np.newaxis].astype(np.float32)),
    ])
    astrans = fits.BinTableHDU.from_columns([
        fits.Column("RUN", format="J", array=[run]),
        fits.Column("RERUN", format="3A", array=["301"]),
        fits.Column("CAMCOL", format="J", array=[camcol]),
        fits.Column("FILTER", format="A", array=[band]),
        fits.Column("FIELD", format="J", array=[field]),
        fits.Column("NODE", format="D", array=[95.0]),
        fits.Column("INCL", format="D", array=[0.0]),
    ])
    hdul = fits.HDUList([
        fits.PrimaryHDU(data.astype(np.float32), header=header),
        fits.ImageHDU(calibration.astype(np.float32)),
        sky_table,
        astrans,
    ])
    directory = Path(directory)
    name = f"frame-{band}-{run:06d}-{camcol}-{field:04d}.fits"
    path = directory / name
    if compress:
        path = directory / (name + ".bz2")
        import io

        buffer = io.BytesIO()
        hdul.writeto(buffer)
        path.write_bytes(bz2.compress(buffer.getvalue()))
    else:
        hdul.writeto(path, overwrite=True)
    truth = {
        "image": image,
        "calibration": calibration.astype(np.float32).astype(np.float64),
        "sky": sky,
        "wcs": wcs,
        "gain": gain,
        "dark_variance": dark_variance,
        "data": data.astype(np.float32),
    }
    return path, truth
