"""
`PropertyMaps`: resolved maps of physical properties on one pixel grid.
"""

from collections.abc import Mapping

import astropy.units as u
import numpy as np
from astropy.io import fits, registry
from astropy.wcs import WCS

from .properties import LOG10_EMPTY, PROPERTIES
from .radius import HalfRadius
from .utils.atomic import atomic_path
from .utils.fits import UnifiedRead, UnifiedWrite, decode_meta, encode_meta, is_fits, open_fits

__all__ = ["PropertyMaps", "read_maps_fits", "write_maps_fits"]

#: Value of the ``PICASSO`` primary-header keyword in property-map files.
MAPS_FILE_KIND = "PropertyMaps"


def _as_kpc_per_pixel(pixel_scale):
    if pixel_scale is None:
        return None
    if not isinstance(pixel_scale, u.Quantity):
        raise TypeError("pixel_scale must be a Quantity in kpc (per pixel)")
    if pixel_scale.unit.is_equivalent(u.kpc / u.pix):
        pixel_scale = pixel_scale * u.pix
    if not pixel_scale.unit.is_equivalent(u.kpc):
        raise u.UnitTypeError(
            f"pixel_scale of property maps must be a physical length per pixel (kpc), got "
            f"{pixel_scale.unit}; convert an angular scale with the galaxy's redshift"
        )
    if not pixel_scale.isscalar or not np.isfinite(pixel_scale.value) or pixel_scale.value <= 0:
        raise ValueError(f"pixel_scale must be one positive finite length, got {pixel_scale}")
    return pixel_scale.to(u.kpc)


class _PropertyMapsRead(UnifiedRead):
    # one class per data class: the registry writes each class's formats into its docstring
    __doc__ = UnifiedRead.__doc__


class _PropertyMapsWrite(UnifiedWrite):
    __doc__ = UnifiedWrite.__doc__


class PropertyMaps(Mapping):
    """
    Maps of physical properties of one galaxy on one pixel grid.

    Behaves as a read-only mapping from property name to a 2-D
    `~astropy.units.Quantity` in the unit of the property registry
    (`~picasso.PROPERTIES`): surface densities per unit area (``Msun /
    kpc2``, ``Msun / (yr kpc2)``) and the mass-weighted mean stellar age in
    Gyr. The grid, WCS and physical pixel scale are shared by every map.

    Parameters
    ----------
    maps : dict
        Property name to 2-D Quantity, for all seven properties or a subset;
        each must convert to its registry unit. Values must be finite and
        non-negative.
    wcs : `~astropy.wcs.WCS`, optional
        Celestial WCS of the grid (shared with the cutout the maps came from).
    pixel_scale : `~astropy.units.Quantity`, optional
        Physical length of a pixel side (kpc). Needed for totals.
    mask : array-like of bool or dict, optional
        Empty pixels (`True` = no truth / no particle), one 2-D array for
        every map or a dict per property.
    uncertainty : dict, optional
        Property name to a 2-D array of 1-sigma uncertainties in dex.
    no_data : array-like of bool, optional
        Pixels with no input data (masked in the image a prediction came
        from, e.g. off the frame): they hold no value in any map.
    r_half : `~picasso.radius.HalfRadius`, optional
        The galaxy's half radius and its kind (for truth maps, the projected
        stellar half-mass radius of this view).
    meta : dict, optional
        Free-form metadata (centre, view, model provenance, ...).

    Raises
    ------
    ValueError
        For unknown or repeated properties, maps of different shapes, values
        that are negative or not finite, or a mask or uncertainty that does not
        fit.
    astropy.units.UnitConversionError
        If a map's unit does not convert to its registry unit.

    Examples
    --------
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from picasso import PropertyMaps
    >>> maps = PropertyMaps({"stellar_mass": np.full((8, 8), 1e8) * u.Msun / u.kpc**2},
    ...                     pixel_scale=0.5 * u.kpc)
    >>> maps.total("stellar_mass")
    <Quantity 1.6e+09 solMass>
    """

    def __init__(self, maps, *, wcs=None, pixel_scale=None, mask=None, uncertainty=None,
                 no_data=None, r_half=None, meta=None):
        if not isinstance(maps, Mapping) or not maps:
            raise TypeError("maps must be a non-empty dict of property name -> 2-D Quantity")
        names = PROPERTIES.validate(list(maps))
        names = tuple(sorted(names, key=PROPERTIES.index))
        self._maps = {}
        shape = None
        for name in names:
            value = maps[name]
            if not isinstance(value, u.Quantity):
                raise TypeError(
                    f"map {name!r} must be a Quantity in {PROPERTIES[name].unit} (or convertible)"
                )
            try:
                value = value.to(PROPERTIES[name].unit)
            except u.UnitConversionError:
                raise u.UnitConversionError(
                    f"map {name!r} has unit {value.unit}, which does not convert to "
                    f"{PROPERTIES[name].unit}"
                ) from None
            if value.ndim != 2:
                raise ValueError(f"map {name!r} must be 2-D, got shape {value.shape}")
            if shape is None:
                shape = value.shape
            elif value.shape != shape:
                raise ValueError(
                    f"map {name!r} has shape {value.shape}, the others {shape}; all maps must "
                    "share one grid"
                )
            if not np.all(np.isfinite(value.value)):
                raise ValueError(f"map {name!r} has NaN or infinite values")
            if np.any(value.value < 0):
                raise ValueError(f"map {name!r} has negative values; maps are non-negative")
            self._maps[name] = value.copy()
        self._shape = shape
        self._mask = self._check_per_property(mask, "mask", bool)
        self._no_data = None
        if no_data is not None:
            no_data = np.asarray(no_data)
            if no_data.dtype != bool or no_data.shape != shape:
                raise ValueError(f"no_data must be a boolean {shape} array, got {no_data.dtype} "
                                 f"{no_data.shape}")
            self._no_data = no_data.copy() if no_data.any() else None
        if r_half is not None and not isinstance(r_half, HalfRadius):
            raise TypeError(f"r_half must be a picasso.radius.HalfRadius, got {r_half!r}")
        self._r_half = r_half
        self._uncertainty = self._check_per_property(uncertainty, "uncertainty", float)
        if self._uncertainty is not None:
            for name, sigma in self._uncertainty.items():
                if np.any(~np.isfinite(sigma)) or np.any(sigma < 0):
                    raise ValueError(f"uncertainty of {name!r} must be finite and non-negative")
        self._pixel_scale = _as_kpc_per_pixel(pixel_scale)
        if wcs is not None:
            if not isinstance(wcs, WCS) or wcs.naxis != 2 or not wcs.has_celestial:
                raise ValueError("wcs must be a 2-D celestial astropy WCS")
            if wcs.pixel_shape is not None and tuple(wcs.pixel_shape) != shape[::-1]:
                raise ValueError(
                    f"wcs describes a {wcs.pixel_shape[1]} x {wcs.pixel_shape[0]} grid but the "
                    f"maps are {shape[0]} x {shape[1]}"
                )
            wcs = wcs.deepcopy()
            wcs.pixel_shape = shape[::-1]
        self._wcs = wcs
        self.meta = dict(meta) if meta is not None else {}

    def _check_per_property(self, value, what, dtype):
        if value is None:
            return None
        if not isinstance(value, Mapping):
            array = np.asarray(value)
            value = dict.fromkeys(self._maps, array)
        unknown = [name for name in value if name not in self._maps]
        if unknown:
            raise ValueError(
                f"{what} given for {', '.join(unknown)}, which are not among the maps "
                f"({', '.join(self._maps)})"
            )
        checked = {}
        for name, array in value.items():
            array = np.asarray(array)
            if dtype is bool and array.dtype != bool:
                raise TypeError(f"{what} of {name!r} must be boolean, got dtype {array.dtype}")
            if array.shape != self._shape:
                raise ValueError(
                    f"{what} of {name!r} has shape {array.shape}, the maps {self._shape}"
                )
            checked[name] = array.astype(dtype, copy=True)
        return checked

    # --------------------------------------------------------------- mapping

    def __getitem__(self, name):
        if name not in self._maps:
            raise KeyError(
                f"no map of {name!r} here; these maps hold {', '.join(self._maps)}"
                + ("" if name in PROPERTIES else f" (known properties: {', '.join(PROPERTIES)})")
            )
        return self._maps[name]

    def __iter__(self):
        return iter(self._maps)

    def __len__(self):
        return len(self._maps)

    def __repr__(self):
        scale = f" pixel={self._pixel_scale:.4g}" if self._pixel_scale is not None else ""
        return (
            f"<PropertyMaps {self._shape[0]}x{self._shape[1]}{scale}: "
            f"{', '.join(self._maps)}>"
        )

    # ------------------------------------------------------------ attributes

    @property
    def properties(self):
        """tuple of str: the properties held, in registry order."""
        return tuple(self._maps)

    @property
    def shape(self):
        """tuple: ``(ny, nx)`` of the grid."""
        return self._shape

    @property
    def wcs(self):
        """`~astropy.wcs.WCS` or None: celestial WCS of the grid."""
        return self._wcs

    @property
    def pixel_scale(self):
        """`~astropy.units.Quantity` or None: pixel side in kpc."""
        return self._pixel_scale

    @property
    def pixel_area(self):
        """`~astropy.units.Quantity`: area of one pixel in kpc2.

        Raises
        ------
        ValueError
            If the pixel scale is unknown.
        """
        if self._pixel_scale is None:
            raise ValueError(
                "these maps have no physical pixel scale; give pixel_scale=... (kpc) to compute "
                "areas and totals"
            )
        return self._pixel_scale**2

    @property
    def mask(self):
        """dict or None: property name to boolean array of empty pixels."""
        return self._mask

    @property
    def uncertainty(self):
        """dict or None: property name to 1-sigma uncertainty in dex."""
        return self._uncertainty

    @property
    def no_data(self):
        """ndarray of bool or None: pixels with no input data (no value in any map)."""
        return self._no_data

    @property
    def r_half(self):
        """`~picasso.radius.HalfRadius` or None: the galaxy's half radius and its kind."""
        return self._r_half

    def empty(self, name):
        """
        Empty pixels of one map.

        Parameters
        ----------
        name : str

        Returns
        -------
        empty : ndarray of bool
            `True` where the map has no value: masked, or no input data.
        """
        self[name]
        empty = np.zeros(self._shape, bool)
        if self._mask is not None and name in self._mask:
            empty = empty | self._mask[name]
        if self._no_data is not None:
            empty = empty | self._no_data
        return empty

    # -------------------------------------------------------------- numbers

    def total(self, name, mask=None, *, weights=None, geometry=None, k=2.0):
        """
        The total of a property over the map, inside an aperture, or with pixel weights.

        Surface densities are summed times the pixel area (giving Msun or
        Msun / yr); the stellar age is averaged weighted by stellar mass.
        Empty pixels and pixels in ``mask`` are left out.

        Parameters
        ----------
        name : str
            Property name.
        mask : array-like of bool, optional
            Further pixels to leave out (`True` = excluded).
        weights : array-like, optional
            Weight of every pixel, e.g. its fractional overlap with an
            aperture (``aperture.to_mask(method="exact").to_image(shape)`` of a
            `photutils.aperture` aperture).
        geometry : `~picasso.analysis.GalaxyGeometry`, optional
            Sum only inside the ellipse of semi-major axis ``k`` half radii,
            with exact pixel overlap (``geometry.aperture(k)``).
        k : float
            Aperture semi-major axis in half radii (the paper's 2).

        Returns
        -------
        total : `~astropy.units.Quantity`
            In ``PROPERTIES[name].total_unit``; NaN for the stellar age when
            no stellar mass is left to weight it by.

        Raises
        ------
        ValueError
            If the pixel scale is unknown, a mask or weights do not fit the
            grid, or for stellar age when there is no stellar-mass map.
        """
        prop = PROPERTIES[name]
        values = self[name]
        if geometry is not None:
            if weights is not None:
                raise ValueError("give either weights or geometry, not both")
            if tuple(geometry.shape) != self._shape:
                raise ValueError(f"the geometry was fitted on a {geometry.shape} map, these "
                                 f"maps are {self._shape}; fit it on the same grid")
            weights = geometry.aperture(k).to_mask(method="exact").to_image(self._shape)
        weights = np.ones(self._shape) if weights is None else np.asarray(weights, dtype=float)
        if weights.shape != self._shape:
            raise ValueError(f"weights have shape {weights.shape}, the maps {self._shape}")
        skip = self.empty(name)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != self._shape:
                raise ValueError(f"mask has shape {mask.shape}, the maps {self._shape}")
            skip = skip | mask
        weights = np.where(skip, 0.0, weights)
        if prop.is_extensive:
            return (prop.combine(values.value, weights) * values.unit * self.pixel_area).to(
                prop.total_unit)
        if prop.weighted_by not in self._maps:
            raise ValueError(
                f"the mean {name} is weighted by {prop.weighted_by}, which these maps do not hold"
            )
        by = self[prop.weighted_by].value * ~self.empty(prop.weighted_by)
        return (prop.combine(values.value, weights, by) * values.unit).to(prop.total_unit)

    def to_log10(self, properties=None):
        """
        The maps as log10 values in registry units, as networks see them.

        Parameters
        ----------
        properties : sequence of str, optional
            Which maps, in that order; all held maps by default.

        Returns
        -------
        log10_maps : ndarray
            float32 array ``(n_properties, ny, nx)``; empty or zero pixels hold
            `~picasso.properties.LOG10_EMPTY`.
        """
        names = PROPERTIES.validate(properties) if properties is not None else self.properties
        out = np.full((len(names), *self._shape), LOG10_EMPTY, dtype=np.float32)
        for index, name in enumerate(names):
            values = self[name].value
            filled = (values > 0) & ~self.empty(name)
            out[index][filled] = np.log10(values[filled])
        return out

    @classmethod
    def from_log10(cls, log10_maps, properties=None, *, pixel_scale=None, wcs=None,
                   uncertainty=None, no_data=None, r_half=None, meta=None):
        """
        Build maps from log10 values in registry units.

        Parameters
        ----------
        log10_maps : array-like
            ``(n_properties, ny, nx)``; values at or below half of
            `~picasso.properties.LOG10_EMPTY` mark empty pixels.
        properties : sequence of str, optional
            The property of each plane; all seven in registry order by default.
        pixel_scale, wcs, uncertainty, no_data, r_half, meta
            As for `PropertyMaps`; ``uncertainty`` may be an array shaped like
            ``log10_maps``. Pixels in ``no_data`` get no value.

        Returns
        -------
        maps : `PropertyMaps`
        """
        log10_maps = np.asarray(log10_maps, dtype=np.float64)
        names = PROPERTIES.validate(properties)
        if log10_maps.ndim != 3 or log10_maps.shape[0] != len(names):
            raise ValueError(
                f"log10_maps must be shaped ({len(names)}, ny, nx) for properties "
                f"{', '.join(names)}; got {log10_maps.shape}"
            )
        if np.any(np.isnan(log10_maps)):
            raise ValueError("log10_maps has NaN values")
        empty = log10_maps <= LOG10_EMPTY / 2
        if no_data is not None:
            empty = empty | np.asarray(no_data, dtype=bool)
        values = np.where(empty, 0.0, 10 ** np.where(empty, 0.0, log10_maps))
        maps = {name: values[i] * PROPERTIES[name].unit for i, name in enumerate(names)}
        mask = {name: empty[i] for i, name in enumerate(names)} if empty.any() else None
        if uncertainty is not None and not isinstance(uncertainty, Mapping):
            uncertainty = np.asarray(uncertainty)
            if uncertainty.shape != log10_maps.shape:
                raise ValueError(
                    f"uncertainty shape {uncertainty.shape} differs from log10_maps "
                    f"{log10_maps.shape}"
                )
            uncertainty = {name: uncertainty[i] for i, name in enumerate(names)}
        return cls(maps, wcs=wcs, pixel_scale=pixel_scale, mask=mask, uncertainty=uncertainty,
                   no_data=no_data, r_half=r_half, meta=meta)

    def select(self, properties):
        """
        Maps of some properties only.

        Parameters
        ----------
        properties : sequence of str

        Returns
        -------
        maps : `PropertyMaps`
        """
        names = PROPERTIES.validate(properties)
        for name in names:
            self[name]

        def pick(per_property):
            if per_property is None:
                return None
            picked = {name: per_property[name] for name in names if name in per_property}
            return picked or None

        return PropertyMaps(
            {name: self._maps[name] for name in names}, wcs=self._wcs,
            pixel_scale=self._pixel_scale, mask=pick(self._mask),
            uncertainty=pick(self._uncertainty), no_data=self._no_data, r_half=self._r_half,
            meta=self.meta,
        )

    # ------------------------------------------------------------------ I/O

    read = registry.UnifiedReadWriteMethod(_PropertyMapsRead)
    write = registry.UnifiedReadWriteMethod(_PropertyMapsWrite)


def write_maps_fits(maps, path, overwrite=False):
    """
    Write maps to a multi-extension FITS file, atomically (``maps.write(path)``).

    One image HDU per property (named after it, with ``PROPERTY``, ``BUNIT``
    and the WCS), then ``MASK_<NAME>``, ``UNC_<NAME>`` and ``NODATA`` HDUs
    where present. The primary header holds the pixel scale, half radius and
    metadata.

    Parameters
    ----------
    maps : `PropertyMaps`
    path : str or path-like
    overwrite : bool
    """
    primary = fits.PrimaryHDU()
    primary.header["PICASSO"] = (MAPS_FILE_KIND, "picasso file kind")
    primary.header["PROPS"] = ",".join(maps.properties)
    if maps._pixel_scale is not None:
        primary.header["PIXKPC"] = (maps._pixel_scale.to_value(u.kpc), "[kpc] pixel scale")
    if maps.r_half is not None:
        maps.r_half.to_fits_header(primary.header)
    primary.header["PMETA"] = encode_meta(maps.meta)
    wcs_header = maps.wcs.to_header(relax=True) if maps.wcs is not None else fits.Header()
    hdus = [primary]
    for name in maps.properties:
        value = maps[name]
        hdu = fits.ImageHDU(value.value, header=wcs_header.copy(), name=name.upper())
        hdu.header["PROPERTY"] = name
        hdu.header["BUNIT"] = value.unit.to_string("fits")
        hdus.append(hdu)
    for name, empty in (maps.mask or {}).items():
        hdus.append(fits.ImageHDU(empty.astype(np.uint8), name=f"MASK_{name.upper()}"))
    for name, sigma in (maps.uncertainty or {}).items():
        hdu = fits.ImageHDU(sigma, header=wcs_header.copy(), name=f"UNC_{name.upper()}")
        hdu.header["BUNIT"] = "dex"
        hdus.append(hdu)
    if maps.no_data is not None:
        hdus.append(fits.ImageHDU(maps.no_data.astype(np.uint8), name="NODATA"))
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList(hdus).writeto(tmp)


def read_maps_fits(path):
    """
    Read maps written by `write_maps_fits` (``PropertyMaps.read(path)``).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    maps : `PropertyMaps`

    Raises
    ------
    FileNotFoundError, OSError
        If the file is missing or not FITS.
    ValueError
        If it is not a picasso property-map file or an HDU is missing.
    """
    hdul = open_fits(path, kind="PropertyMaps")
    header = hdul[0].header
    if header.get("PICASSO") != MAPS_FILE_KIND:
        raise ValueError(
            f"{path} is not a picasso PropertyMaps file (primary header PICASSO="
            f"{header.get('PICASSO')!r})"
        )
    names = PROPERTIES.validate(header["PROPS"].split(","))
    present = {hdu.name for hdu in hdul}
    missing = [name.upper() for name in names if name.upper() not in present]
    if missing:
        raise ValueError(f"{path} lacks the map HDU(s) {', '.join(missing)}")
    maps = {name: hdul[name.upper()].data * u.Unit(hdul[name.upper()].header["BUNIT"])
            for name in names}
    mask = {name: hdul[f"MASK_{name.upper()}"].data.astype(bool)
            for name in names if f"MASK_{name.upper()}" in present}
    uncertainty = {name: hdul[f"UNC_{name.upper()}"].data
                   for name in names if f"UNC_{name.upper()}" in present}
    first = hdul[names[0].upper()].header
    return PropertyMaps(
        maps,
        wcs=WCS(first) if first.get("CTYPE1") else None,
        pixel_scale=header["PIXKPC"] * u.kpc if "PIXKPC" in header else None,
        mask=mask or None,
        uncertainty=uncertainty or None,
        no_data=hdul["NODATA"].data.astype(bool) if "NODATA" in present else None,
        r_half=HalfRadius.from_fits_header(header),
        meta=decode_meta(header.get("PMETA", "")),
    )


registry.register_reader("fits", PropertyMaps, read_maps_fits)
registry.register_writer("fits", PropertyMaps, write_maps_fits)
registry.register_identifier("fits", PropertyMaps, is_fits)
