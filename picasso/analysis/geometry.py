"""
The geometry of a galaxy on a map: centre, ellipticity, position angle and
half-mass radius.

Following the paper, picasso fits one ellipse on the TRUE stellar-mass map
with photutils' isophote fitting (`photutils.isophote.Ellipse`) and reuses that
geometry for every property, true and predicted. Unlike the authors' code,
which assumed a half-mass radius of 25 pixels on 256-pixel images, picasso
measures the half-mass radius along the fitted ellipse with
`photutils.profiles.EllipticalCurveOfGrowth`; the assumption stays available
(``r_half="authors"``). The authors' whole recipe -- one isophote at 25 px,
started at eps 0.25 and pa 45 rad -- is `authors_geometry`, for comparability.

Batch runs never die on a bad galaxy: when the isophote fit raises or returns
nothing meaningful (irregular, edge-on or merging systems), the shape falls
back to image moments (`photutils.morphology.data_properties`) and, for an
empty map, to a circle at the image centre. `GalaxyGeometry.method` records
which one was used.
"""

import logging
import warnings
from dataclasses import dataclass, replace

import astropy.units as u
import numpy as np

__all__ = [
    "GalaxyGeometry",
    "fit_geometry",
    "authors_geometry",
    "authors_r_half",
    "AUTHORS_ELLIPSE_EPS0",
    "AUTHORS_ELLIPSE_PA0",
    "AUTHORS_R_HALF_PIXELS",
    "AUTHORS_IMAGE_SIZE",
    "GEOMETRY_METHODS",
]

log = logging.getLogger(__name__)

#: Half-mass radius (pixels) the PICASSO authors assumed for every galaxy on
#: their 256-pixel images (each image spans about 10 half-mass radii).
AUTHORS_R_HALF_PIXELS = 25.0

#: Image size (pixels per side) that `AUTHORS_R_HALF_PIXELS` refers to.
AUTHORS_IMAGE_SIZE = 256

#: Ways a geometry can be obtained, in order of preference.
GEOMETRY_METHODS = ("isophote", "moments", "assumed")

#: Starting ellipticity of the authors' single isophote fit.
AUTHORS_ELLIPSE_EPS0 = 0.25

#: Starting position angle of the authors' isophote fit, in radians as photutils
#: takes it: their ``pa=45`` is 45 rad, i.e. 45 - 14 pi = 1.018 rad = 58.3 deg.
AUTHORS_ELLIPSE_PA0 = 45.0

# The rest of the authors' recipe (TobiBu/picassso, picasso/analysis/image_tools.py,
# elliptical_fit): Ellipse(threshold=0.1), fit_isophote(sma, fflag=0.25) and, while
# the stop code is above 2, up to 10 retries at 1.1 times the semi-major axis.
_AUTHORS_THRESHOLD = 0.1
_AUTHORS_ASTEP = 0.1
_AUTHORS_FFLAG = 0.25
_AUTHORS_RETRIES = 10
_AUTHORS_SMA_GROWTH = 1.1
_AUTHORS_BAD_STOP_CODE = 2

# An isophote fit whose median ellipticity exceeds this is treated as failed:
# photutils' fits degenerate towards a line on edge-on or irregular systems.
_MAX_ELLIPTICITY = 0.9
# photutils stop codes of isophotes whose geometry can be trusted:
# 0 converged, 1 many points flagged but converged, 2 hit maxit, 5 minor issue.
_GOOD_STOP_CODES = (0, 1, 2, 5)
# Relative growth of the semi-major axis between isophotes: the shape is
# summarised over 0.5-2 R_half, so a handful of isophotes is enough.
_ISOPHOTE_STEP = 0.2
# Radii of the coarse (logarithmic) and fine (linear) curves of growth that
# locate the half-mass radius.
_COARSE_RADII = 24
_FINE_RADII = 16


def authors_r_half(image_size):
    """
    The half-mass radius the PICASSO authors assumed, scaled to an image size.

    The authors' images span about 10 half-mass radii, so they took
    R_half = 25 pixels on 256-pixel images; at another size the same field has
    ``25 * image_size / 256`` pixels per half-mass radius.

    Parameters
    ----------
    image_size : int
        Pixels per side.

    Returns
    -------
    r_half : `~astropy.units.Quantity`
        Half-mass radius in pixels.
    """
    if image_size <= 0:
        raise ValueError(f"image_size must be positive, got {image_size}")
    return AUTHORS_R_HALF_PIXELS * image_size / AUTHORS_IMAGE_SIZE * u.pix


@dataclass(frozen=True)
class GalaxyGeometry:
    """
    Centre, shape and half-mass radius of a galaxy on a pixel grid.

    Parameters
    ----------
    x_center, y_center : float
        Centre in zero-based pixel coordinates (x along columns).
    ellipticity : float
        ``1 - b/a``, from 0 (circle) to below 1.
    position_angle : `~astropy.units.Quantity`
        Angle of the major axis, counter-clockwise from the +x axis, in
        [0, 180) degrees (the photutils convention).
    r_half : `~astropy.units.Quantity`
        Half-mass radius as a semi-major axis, in pixels.
    r_half_kpc : `~astropy.units.Quantity` or None
        The same in kpc when the pixel scale is known.
    method : str
        How the shape was obtained: ``"isophote"`` (photutils isophote fit),
        ``"moments"`` (image moments, after a failed isophote fit) or
        ``"assumed"`` (empty or degenerate map: circle at the image centre).
    r_half_method : str
        How the half-mass radius was obtained: ``"measured"`` (curve of
        growth along the ellipse), ``"authors"`` (the authors' 25 px at 256 px,
        scaled), ``"given"`` (passed in by the caller).
    shape : tuple of int
        ``(ny, nx)`` of the map the geometry belongs to.
    """

    x_center: float
    y_center: float
    ellipticity: float
    position_angle: u.Quantity
    r_half: u.Quantity
    r_half_kpc: u.Quantity | None
    method: str
    r_half_method: str
    shape: tuple

    def __post_init__(self):
        if self.method not in GEOMETRY_METHODS:
            raise ValueError(f"method must be one of {GEOMETRY_METHODS}, got {self.method!r}")
        if not 0 <= self.ellipticity < 1:
            raise ValueError(f"ellipticity must be in [0, 1), got {self.ellipticity}")
        if not (self.r_half.unit == u.pix and self.r_half.value > 0):
            raise ValueError(f"r_half must be a positive Quantity in pixels, got {self.r_half}")

    @property
    def axis_ratio(self):
        """float: minor over major axis, ``1 - ellipticity``."""
        return 1.0 - self.ellipticity

    @property
    def theta(self):
        """float: position angle in radians, as photutils apertures take it."""
        return float(self.position_angle.to_value(u.rad))

    @property
    def center(self):
        """tuple of float: ``(x, y)`` centre in pixels."""
        return (self.x_center, self.y_center)

    @property
    def pixel_scale(self):
        """`~astropy.units.Quantity` or None: kpc per pixel implied by the two radii."""
        if self.r_half_kpc is None:
            return None
        return self.r_half_kpc / self.r_half.value / u.pix

    def with_r_half(self, r_half, r_half_method="given"):
        """
        A copy with another half-mass radius.

        Parameters
        ----------
        r_half : `~astropy.units.Quantity`
            In pixels, or in kpc when this geometry knows its pixel scale.
        r_half_method : str
            What to record as the radius' origin.

        Returns
        -------
        geometry : `GalaxyGeometry`
        """
        r_pix, r_kpc = _r_half_pair(r_half, self.pixel_scale)
        return replace(self, r_half=r_pix, r_half_kpc=r_kpc, r_half_method=r_half_method)

    def aperture(self, k=2.0):
        """
        The ellipse of semi-major axis ``k`` half-mass radii.

        Parameters
        ----------
        k : float
            Semi-major axis in units of the half-mass radius.

        Returns
        -------
        aperture : `photutils.aperture.EllipticalAperture`
        """
        from photutils.aperture import EllipticalAperture

        if not k > 0:
            raise ValueError(f"k must be positive, got {k}")
        a = k * self.r_half.value
        return EllipticalAperture(self.center, a, a * self.axis_ratio, theta=self.theta)

    def annulus(self, inner, outer):
        """
        The elliptical annulus between ``inner`` and ``outer`` half-mass radii.

        An inner radius of 0 gives the full ellipse.

        Parameters
        ----------
        inner, outer : float
            Semi-major axes in units of the half-mass radius, ``0 <= inner < outer``.

        Returns
        -------
        aperture : `photutils.aperture.EllipticalAnnulus` or `photutils.aperture.EllipticalAperture`
        """
        from photutils.aperture import EllipticalAnnulus

        if not 0 <= inner < outer:
            raise ValueError(f"need 0 <= inner < outer, got inner={inner}, outer={outer}")
        if inner == 0:
            return self.aperture(outer)
        a_in = inner * self.r_half.value
        a_out = outer * self.r_half.value
        return EllipticalAnnulus(
            self.center, a_in, a_out, a_out * self.axis_ratio, theta=self.theta
        )

    def to_dict(self):
        """dict: plain values (floats, str) for tables and JSON."""
        return {
            "x_center": float(self.x_center),
            "y_center": float(self.y_center),
            "ellipticity": float(self.ellipticity),
            "position_angle_deg": float(self.position_angle.to_value(u.deg)),
            "r_half_pix": float(self.r_half.value),
            "r_half_kpc": (None if self.r_half_kpc is None
                           else float(self.r_half_kpc.to_value(u.kpc))),
            "method": self.method,
            "r_half_method": self.r_half_method,
        }


def _pixel_scale_kpc(pixel_scale):
    if pixel_scale is None:
        return None
    if not isinstance(pixel_scale, u.Quantity):
        raise TypeError(
            f"pixel_scale must be a Quantity in kpc per pixel (e.g. 0.24 * u.kpc / u.pix), "
            f"got {pixel_scale!r}"
        )
    scale = pixel_scale
    if scale.unit.is_equivalent(u.kpc):
        scale = scale / u.pix
    try:
        scale = scale.to(u.kpc / u.pix)
    except u.UnitConversionError:
        raise ValueError(
            f"pixel_scale must be a length per pixel (kpc / pix), got {pixel_scale}; convert "
            "an angular scale with the galaxy's redshift first"
        ) from None
    if not (np.isscalar(scale.value) or scale.isscalar) or not scale.value > 0:
        raise ValueError(f"pixel_scale must be one positive value, got {pixel_scale}")
    return scale


def _r_half_pair(r_half, pixel_scale):
    """(r_half in pix, r_half in kpc or None) from a Quantity in pix or kpc."""
    if not isinstance(r_half, u.Quantity):
        raise TypeError(f"r_half must be a Quantity in pixels or kpc, got {r_half!r}")
    if r_half.unit.is_equivalent(u.pix):
        r_pix = r_half.to(u.pix)
    elif r_half.unit.is_equivalent(u.kpc):
        if pixel_scale is None:
            raise ValueError("r_half in kpc needs pixel_scale (kpc per pixel) to convert to pixels")
        r_pix = (r_half / pixel_scale).to(u.pix)
    else:
        raise ValueError(f"r_half must be in pixels or a length, got {r_half.unit}")
    if not r_pix.value > 0:
        raise ValueError(f"r_half must be positive, got {r_half}")
    r_kpc = None if pixel_scale is None else (r_pix * pixel_scale).to(u.kpc)
    return r_pix, r_kpc


def _as_image(map_2d, mask):
    """Plain float64 image with bad pixels zeroed, and the bad-pixel mask."""
    if hasattr(map_2d, "properties") and hasattr(map_2d, "pixel_scale"):
        raise TypeError("pass one 2-D map (e.g. maps['stellar_mass']), not a PropertyMaps")
    values = map_2d.value if isinstance(map_2d, u.Quantity) else np.asarray(map_2d)
    values = np.array(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"map_2d must be 2-D (ny, nx), got shape {values.shape}")
    bad = ~np.isfinite(values)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != values.shape:
            raise ValueError(f"mask shape {mask.shape} differs from the map's {values.shape}")
        bad |= mask
    if np.any(values[~bad] < 0):
        raise ValueError(
            "map_2d has negative values; fit the geometry on a surface density (linear, >= 0), "
            "not on log10 values"
        )
    values[bad] = 0.0
    return values, bad


def _assumed_shape(shape):
    ny, nx = shape
    return (nx - 1) / 2.0, (ny - 1) / 2.0, 0.0, 0.0


def _moments_shape(image, bad):
    """Centre, ellipticity, position angle (rad) from image moments, or None."""
    from photutils.morphology import data_properties

    if not np.any(image[~bad] > 0):
        return None
    with warnings.catch_warnings():
        # Degenerate moments (a single pixel, a line) warn; they are judged below.
        warnings.simplefilter("ignore")
        try:
            props = data_properties(image, mask=bad)
        except (ValueError, TypeError) as error:
            log.debug("moments failed: %s", error)
            return None
    x, y = float(props.x_centroid), float(props.y_centroid)
    eps = float(np.nan_to_num(props.ellipticity.value, nan=0.0))
    theta = float(np.nan_to_num(props.orientation.to_value(u.rad), nan=0.0))
    if not (np.isfinite(x) and np.isfinite(y)):
        return None
    eps = min(max(eps, 0.0), _MAX_ELLIPTICITY)
    return x, y, eps, theta


def _enclosed_fraction(image, bad, center, axis_ratio, theta, radii):
    """Fraction of the image total inside ellipses of semi-major axes ``radii``."""
    from photutils.profiles import EllipticalCurveOfGrowth

    curve = EllipticalCurveOfGrowth(image, center, radii, axis_ratio, theta=theta, mask=bad,
                                    method="exact")
    return np.asarray(curve.profile, dtype=float)


def _half_radius(image, bad, center, axis_ratio, theta, max_sma):
    """Semi-major axis of the ellipse holding half of the image total, or None.

    A coarse logarithmic curve of growth brackets the half-mass radius, a
    fine linear one inside the bracket locates it (exact pixel overlap in both).
    """
    total = image[~bad].sum()
    if not total > 0:
        return None
    image = image / total
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # Most galaxies reach half their mass well inside the image; only
            # then are the costly ellipses larger than the image needed.
            inner = 0.5 * min(image.shape)
            coarse = np.geomspace(0.1, min(inner, max_sma), _COARSE_RADII)
            fraction = _enclosed_fraction(image, bad, center, axis_ratio, theta, coarse)
            if fraction[-1] < 0.5 and max_sma > inner:
                outer = np.geomspace(inner, max_sma, _COARSE_RADII // 4 + 1)[1:]
                coarse = np.concatenate([coarse, outer])
                fraction = np.concatenate([fraction, _enclosed_fraction(
                    image, bad, center, axis_ratio, theta, outer)])
            above = np.nonzero(fraction >= 0.5)[0]
            if above.size == 0:
                return None
            upper = coarse[above[0]]
            lower = coarse[above[0] - 1] if above[0] > 0 else 0.0
            fine = np.linspace(max(lower, 1e-3), upper, _FINE_RADII)
            fraction = _enclosed_fraction(image, bad, center, axis_ratio, theta, fine)
        except (ValueError, TypeError) as error:
            log.debug("curve of growth failed: %s", error)
            return None
    # The enclosed fraction rises with radius for a non-negative map; drop flat
    # steps (round-off) so the interpolation is well defined.
    keep = np.concatenate([[True], np.diff(fraction) > 0])
    if fraction[keep][-1] < 0.5:
        return None
    radius = float(np.interp(0.5, fraction[keep], fine[keep]))
    return radius if np.isfinite(radius) and radius > 0 else None


def _isophote_shape(image, bad, start, r_guess):
    """Centre, ellipticity, position angle (rad) from an isophote fit, or None."""
    from photutils.isophote import Ellipse, EllipseGeometry

    x0, y0, eps0, theta0 = start
    ny, nx = image.shape
    max_sma = 0.5 * min(ny, nx)
    sma0 = min(max(r_guess, 2.0), 0.8 * max_sma)
    # A masked array makes photutils' sampler far slower; use it only when needed.
    data = np.ma.masked_array(image, mask=bad) if bad.any() else image
    with warnings.catch_warnings():
        # photutils warns (and sometimes raises) on isophotes it cannot fit;
        # the result is judged below, so these are expected, not errors.
        warnings.simplefilter("ignore")
        try:
            guess = EllipseGeometry(x0, y0, sma0, max(eps0, 0.05), theta0)
            isophotes = Ellipse(data, geometry=guess).fit_image(
                sma0=sma0,
                minsma=max(1.0, 0.45 * r_guess),
                maxsma=min(2.2 * r_guess, max_sma),
                step=_ISOPHOTE_STEP,
            )
        except (ValueError, TypeError, IndexError, ZeroDivisionError, RuntimeError) as error:
            log.debug("isophote fit raised: %s", error)
            return None
    if len(isophotes) == 0:
        return None
    sma = np.asarray(isophotes.sma, dtype=float)
    good = np.isin(np.asarray(isophotes.stop_code), _GOOD_STOP_CODES)
    good &= np.isfinite(isophotes.eps) & np.isfinite(isophotes.pa)
    good &= np.isfinite(isophotes.x0) & np.isfinite(isophotes.y0) & (sma > 0)
    in_range = good & (sma >= 0.5 * r_guess) & (sma <= 2.0 * r_guess)
    use = in_range if in_range.sum() >= 2 else good
    if use.sum() == 0:
        return None
    x = float(np.median(np.asarray(isophotes.x0)[use]))
    y = float(np.median(np.asarray(isophotes.y0)[use]))
    eps = float(np.median(np.asarray(isophotes.eps)[use]))
    # Position angles are axial (period pi): average on the doubled angle.
    doubled = 2.0 * np.asarray(isophotes.pa)[use]
    theta = 0.5 * float(np.arctan2(np.sin(doubled).mean(), np.cos(doubled).mean()))
    if not (0 <= x < nx and 0 <= y < ny):
        return None
    if np.hypot(x - x0, y - y0) > max(r_guess, 3.0):
        # The fit wandered off the light-weighted centre: a companion or noise.
        return None
    if not 0 <= eps < _MAX_ELLIPTICITY:
        return None
    return x, y, eps, theta


def fit_geometry(
    map_2d,
    *,
    pixel_scale=None,
    r_half=None,
    mask=None,
    method="isophote",
):
    """
    Fit the ellipse and half-mass radius of a galaxy on a map.

    The shape (centre, ellipticity, position angle) comes from photutils'
    isophote fit, summarised as the median over isophotes between 0.5 and 2
    half-mass radii; the half-mass radius is the semi-major axis of the
    ellipse with that shape that holds half of the map's total (unmasked)
    sum, from `photutils.profiles.EllipticalCurveOfGrowth`. When the
    isophote fit raises or gives nothing meaningful (no converged isophote,
    a centre that wanders off the galaxy, ellipticity above 0.9), the shape
    comes from image moments instead; an empty map gets a circle at the
    image centre. This function does not raise on such galaxies: read
    ``method`` on the result.

    Parameters
    ----------
    map_2d : `~astropy.units.Quantity` or array-like
        2-D non-negative map, usually the true stellar-mass surface density
        (linear, not log10). Non-finite pixels are ignored.
    pixel_scale : `~astropy.units.Quantity`, optional
        kpc per pixel, to express the half-mass radius in kpc too.
    r_half : None, ``"authors"`` or `~astropy.units.Quantity`, optional
        `None` measures the half-mass radius; ``"authors"`` takes the
        authors' assumption (`AUTHORS_R_HALF_PIXELS` at `AUTHORS_IMAGE_SIZE`,
        scaled to this image, see `authors_r_half`); a Quantity in pixels
        or kpc is used as given.
    mask : array-like of bool, optional
        True for pixels to ignore (bad data, not empty truth: a pixel with
        no mass is a valid zero).
    method : {"isophote", "moments", "authors"}
        Start with the isophote fit (default), go straight to moments, or
        take the shape from the authors' single isophote at 25 px (see
        `authors_geometry`, which differs from picasso's fit on near-round
        and multi-component galaxies). With ``"authors"`` the half-mass
        radius still follows ``r_half`` (`None` measures it along the
        authors' ellipse); ``r_half="authors"`` gives their full recipe,
        which is what `authors_geometry` does by default.

    Returns
    -------
    geometry : `GalaxyGeometry`

    Raises
    ------
    ValueError, TypeError
        For malformed input (not 2-D, negative values, bad units), never for
        a galaxy that is merely hard to fit.

    See Also
    --------
    authors_geometry : the PICASSO authors' ellipse recipe.
    """
    if method not in ("isophote", "moments", "authors"):
        raise ValueError(f"method must be 'isophote', 'moments' or 'authors', got {method!r}")
    _check_r_half(r_half)
    if method == "authors":
        return authors_geometry(map_2d, pixel_scale=pixel_scale, r_half=r_half, mask=mask)
    scale = _pixel_scale_kpc(pixel_scale)
    image, bad = _as_image(map_2d, mask)
    shape = image.shape
    ny, nx = shape

    moments = _moments_shape(image, bad)
    if moments is None:
        shape_params, used = _assumed_shape(shape), "assumed"
        log.info("empty or degenerate map: assuming a circle at the image centre")
    else:
        shape_params, used = moments, "moments"
        if method == "isophote":
            x0, y0, _, _ = moments
            r_guess = _half_radius(image, bad, (x0, y0), 1.0, 0.0, float(np.hypot(ny, nx)))
            if r_guess is None:
                r_guess = authors_r_half(max(ny, nx)).value
            fitted = _isophote_shape(image, bad, moments, r_guess)
            if fitted is None:
                log.info("isophote fit failed or is meaningless; using image moments")
            else:
                shape_params, used = fitted, "isophote"

    return _finish_geometry(image, bad, shape_params, used, r_half, scale)


def _check_r_half(r_half):
    if isinstance(r_half, str) and r_half != "authors":
        raise ValueError(f"r_half must be None, 'authors' or a Quantity, got {r_half!r}")


def _finish_geometry(image, bad, shape_params, used, r_half, scale):
    """The `GalaxyGeometry` of a fitted shape, with the half-mass radius ``r_half`` asks for."""
    _check_r_half(r_half)
    shape = image.shape
    ny, nx = shape
    x, y, eps, theta = shape_params
    position_angle = (np.rad2deg(theta) % 180.0) * u.deg

    if isinstance(r_half, str):
        r_pix, r_kpc = _r_half_pair(authors_r_half(max(ny, nx)), scale)
        r_half_method = "authors"
    elif r_half is not None:
        r_pix, r_kpc = _r_half_pair(r_half, scale)
        r_half_method = "given"
    else:
        measured = None
        if used != "assumed":
            measured = _half_radius(image, bad, (x, y), 1.0 - eps, theta,
                                    float(np.hypot(ny, nx) / (1.0 - eps)))
        if measured is None:
            log.info("half-mass radius not measurable; using the authors' assumption")
            r_pix, r_kpc = _r_half_pair(authors_r_half(max(ny, nx)), scale)
            r_half_method = "authors"
        else:
            r_pix, r_kpc = _r_half_pair(measured * u.pix, scale)
            r_half_method = "measured"

    return GalaxyGeometry(
        x_center=float(x),
        y_center=float(y),
        ellipticity=float(eps),
        position_angle=position_angle,
        r_half=r_pix,
        r_half_kpc=r_kpc,
        method=used,
        r_half_method=r_half_method,
        shape=shape,
    )



def _authors_isophote(image, bad):
    """The authors' single isophote fit: (x, y, eps, pa in rad, stop code, sma), or None."""
    from photutils.isophote import Ellipse, EllipseGeometry

    ny, nx = image.shape
    sma = authors_r_half(max(ny, nx)).value
    data = np.ma.masked_array(image, mask=bad) if bad.any() else image
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # The authors put the start at (0.5 * shape[0], 0.5 * shape[1]): the
            # same point for their square images.
            start = EllipseGeometry(x0=0.5 * nx, y0=0.5 * ny, sma=sma, eps=AUTHORS_ELLIPSE_EPS0,
                                    pa=AUTHORS_ELLIPSE_PA0, astep=_AUTHORS_ASTEP,
                                    linear_growth=False)
            ellipse = Ellipse(data, geometry=start, threshold=_AUTHORS_THRESHOLD)
            isophote = ellipse.fit_isophote(sma, fflag=_AUTHORS_FFLAG)
            retries = 0
            while isophote.stop_code > _AUTHORS_BAD_STOP_CODE and retries < _AUTHORS_RETRIES:
                # Their retry also scales eps and pa, but of a geometry it never
                # passes on: only the semi-major axis changes.
                sma *= _AUTHORS_SMA_GROWTH
                isophote = ellipse.fit_isophote(sma, fflag=_AUTHORS_FFLAG)
                retries += 1
        except (ValueError, TypeError, IndexError, ZeroDivisionError, RuntimeError) as error:
            log.debug("the authors' isophote fit raised: %s", error)
            return None
    geometry = isophote.sample.geometry
    x, y, eps, pa = (float(geometry.x0), float(geometry.y0), float(geometry.eps),
                     float(geometry.pa))
    if not all(np.isfinite([x, y, eps, pa])) or not 0 <= eps < 1:
        return None
    if not (0 <= x < nx and 0 <= y < ny):
        return None
    return x, y, eps, pa, int(isophote.stop_code), float(isophote.sma)


def authors_geometry(map_2d, *, pixel_scale=None, r_half="authors", mask=None):
    """
    The galaxy ellipse by the PICASSO authors' recipe, for comparability.

    The authors (``elliptical_fit`` in ``picasso/analysis/image_tools.py`` of
    ``github.com/TobiBu/picassso``) fitted **one** photutils isophote on the
    true stellar-mass map: `photutils.isophote.EllipseGeometry` started at the
    image centre with semi-major axis 25 px on 256-px images (scaled to the
    image size, `authors_r_half`), ellipticity `AUTHORS_ELLIPSE_EPS0` = 0.25
    and position angle ``pa=45`` passed as photutils takes it, in radians
    (`AUTHORS_ELLIPSE_PA0`: 45 rad is 58.3 deg); ``Ellipse(threshold=0.1)``
    and ``fit_isophote(sma, fflag=0.25)``; while the stop code was above 2,
    up to 10 retries at 1.1 times the semi-major axis. They kept the last
    isophote's geometry even when all retries failed, and assumed
    R_half = 25 px (at 256 px) rather than measuring it.

    How it differs from `fit_geometry`: picasso fits isophotes from 0.5 to 2
    half-mass radii, starting from the image moments, and takes the median
    centre, ellipticity and position angle over them, then measures the
    half-mass radius along that ellipse. The authors' shape is that of the
    one isophote at 25 px, whatever the galaxy's size. On a single smooth
    ellipse the two agree; on near-round galaxies the position angle of one
    isophote is poorly defined (it may sit anywhere) and on multi-component
    galaxies (bulge and disc, bars, companions) the isophote at 25 px
    describes whichever component dominates there, so the two ellipses can
    differ in ellipticity and position angle, and so do aperture totals.

    Parameters
    ----------
    map_2d : `~astropy.units.Quantity` or array-like
        2-D non-negative map, as for `fit_geometry` (the authors used the
        per-pixel stellar mass).
    pixel_scale : `~astropy.units.Quantity`, optional
        kpc per pixel, to express the half-mass radius in kpc too.
    r_half : ``"authors"``, None or `~astropy.units.Quantity`
        ``"authors"`` (default) assumes 25 px at 256 px as they did; `None`
        measures it along the fitted ellipse; a Quantity is used as given.
    mask : array-like of bool, optional
        True for pixels to ignore (the authors had none).

    Returns
    -------
    geometry : `GalaxyGeometry`
        ``method`` is ``"isophote"``; when photutils raises or returns no
        usable ellipse (non-finite, ellipticity outside [0, 1), centre off the
        image) the shape falls back to image moments (``"moments"``) or, for
        an empty map, a circle at the centre (``"assumed"``), as in
        `fit_geometry`. A fit the authors' criterion calls bad (stop code
        above 2 after all retries) is kept, as they did, with a logged
        warning.

    Raises
    ------
    ValueError, TypeError
        For malformed input (not 2-D, negative values, bad units).
    """
    _check_r_half(r_half)
    scale = _pixel_scale_kpc(pixel_scale)
    image, bad = _as_image(map_2d, mask)
    moments = _moments_shape(image, bad)
    if moments is None:
        log.info("empty or degenerate map: assuming a circle at the image centre")
        return _finish_geometry(image, bad, _assumed_shape(image.shape), "assumed", r_half,
                                scale)
    fitted = _authors_isophote(image, bad)
    if fitted is None:
        log.info("the authors' isophote fit failed or is meaningless; using image moments")
        return _finish_geometry(image, bad, moments, "moments", r_half, scale)
    x, y, eps, pa, stop_code, sma = fitted
    if stop_code > _AUTHORS_BAD_STOP_CODE:
        log.warning(
            "the authors' isophote fit ended with stop code %d at sma = %.1f px (their "
            "criterion: a bad fit); kept as they did", stop_code, sma,
        )
    return _finish_geometry(image, bad, (x, y, eps, pa), "isophote", r_half, scale)
