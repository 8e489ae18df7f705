"""
`PropertyMaps`: resolved maps of physical properties on one pixel grid.
"""

from collections.abc import Mapping

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from .io.atomic import atomic_path
from .io.fits import decode_meta, encode_meta, open_fits
from .properties import LOG10_EMPTY, PROPERTIES

__all__ = ["PropertyMaps"]

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
    meta : dict, optional
        Free-form metadata (for truth maps: half-mass radius, centre, ...).

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
                 meta=None):
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

    def empty(self, name):
        """
        Empty pixels of one map.

        Parameters
        ----------
        name : str

        Returns
        -------
        empty : ndarray of bool
            `True` where the map has no value (masked).
        """
        self[name]
        if self._mask is None or name not in self._mask:
            return np.zeros(self._shape, bool)
        return self._mask[name]

    # -------------------------------------------------------------- numbers

    def total(self, name, mask=None, geometry=None, k=2.0):
        """
        The total of a property over the map, or inside an elliptical aperture.

        Surface densities are summed times the pixel area (giving Msun or
        Msun/yr); stellar age is averaged with stellar-mass weights. Empty
        pixels and pixels in ``mask`` are left out.

        Parameters
        ----------
        name : str
            Property name.
        mask : array-like of bool, optional
            Further pixels to leave out (`True` = excluded).
        geometry : `~picasso.analysis.GalaxyGeometry`, optional
            When given, sum only inside the ellipse of semi-major axis ``k``
            half-mass radii with exact pixel overlap
            (`picasso.analysis.aperture_total`).
        k : float
            Aperture semi-major axis in half-mass radii (the paper's 2).

        Returns
        -------
        total : `~astropy.units.Quantity`

        Raises
        ------
        ValueError
            If the pixel scale is unknown, or for stellar age when there is no
            stellar-mass map to weight by.
        """
        if geometry is not None:
            from .analysis.apertures import aperture_total

            return aperture_total(self, name, geometry, k=k, mask=mask)
        prop = PROPERTIES[name]
        values = self[name]
        keep = ~self.empty(name)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != self._shape:
                raise ValueError(f"mask has shape {mask.shape}, the maps {self._shape}")
            keep &= ~mask
        if prop.is_extensive:
            return (values[keep].sum() * self.pixel_area).to(prop.total_unit)
        if prop.weighted_by not in self._maps:
            raise ValueError(
                f"the mean {name} is weighted by {prop.weighted_by}, which these maps do not hold"
            )
        weights = self[prop.weighted_by].value * keep * ~self.empty(prop.weighted_by)
        if weights.sum() <= 0:
            raise ValueError(f"no {prop.weighted_by} in the selected pixels to weight {name} by")
        return (np.sum(values.value * weights) / weights.sum()) * values.unit

    def radial_profile(self, geometry, *, properties=None, edges=None, mask=None):
        """
        Profiles in elliptical annuli (`picasso.analysis.radial_profile`).

        Parameters
        ----------
        geometry : `~picasso.analysis.GalaxyGeometry`
            Fitted on the true stellar-mass map of this grid.
        properties : sequence of str, optional
            Which properties; all held by default.
        edges : array-like, optional
            Annulus edges in half-mass radii; 0, 0.5, ..., 5 by default.
        mask : array-like of bool, dict or `PropertyMaps`, optional
            Excluded pixels; pass the true maps to use the truth's pixels.

        Returns
        -------
        profile : `~astropy.table.QTable`
        """
        from .analysis.apertures import radial_profile

        return radial_profile(self, geometry, properties=properties, edges=edges, mask=mask)

    def gradient(self, name, geometry, *, radius_range=None, edges=None, mask=None):
        """
        Radial gradient of log10 mean surface density (`picasso.analysis.gradient`).

        Parameters
        ----------
        name : str
            Property name.
        geometry : `~picasso.analysis.GalaxyGeometry`
        radius_range : (float, float), optional
            Fit range in half-mass radii.
        edges, mask
            As for `radial_profile`.

        Returns
        -------
        gradient : `~picasso.analysis.Gradient`
            Slope in dex per half-mass radius and per kpc, with uncertainties.
        """
        from .analysis.apertures import gradient

        return gradient(self, geometry, name, radius_range=radius_range, edges=edges, mask=mask)

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
                   uncertainty=None, meta=None):
        """
        Build maps from log10 values in registry units.

        Parameters
        ----------
        log10_maps : array-like
            ``(n_properties, ny, nx)``; values at or below half of
            `~picasso.properties.LOG10_EMPTY` mark empty pixels.
        properties : sequence of str, optional
            The property of each plane; all seven in registry order by default.
        pixel_scale, wcs, uncertainty, meta
            As for `PropertyMaps`; ``uncertainty`` may be an array shaped like
            ``log10_maps``.

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
                   meta=meta)

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
            uncertainty=pick(self._uncertainty), meta=self.meta,
        )

    # ------------------------------------------------------------------ I/O

    def write(self, path, overwrite=False):
        """
        Write the maps to a multi-extension FITS file, atomically.

        One image HDU per property (named after it, with ``PROPERTY``,
        ``BUNIT`` and the WCS), then ``MASK_<NAME>`` and ``UNC_<NAME>`` HDUs
        where present. The primary header holds the pixel scale and metadata.

        Parameters
        ----------
        path : str or path-like
        overwrite : bool
        """
        primary = fits.PrimaryHDU()
        primary.header["PICASSO"] = (MAPS_FILE_KIND, "picasso file kind")
        primary.header["PROPS"] = ",".join(self._maps)
        if self._pixel_scale is not None:
            primary.header["PIXKPC"] = (self._pixel_scale.to_value(u.kpc), "[kpc] pixel scale")
        primary.header["PMETA"] = encode_meta(self.meta)
        wcs_header = self._wcs.to_header(relax=True) if self._wcs is not None else fits.Header()
        hdus = [primary]
        for name, value in self._maps.items():
            hdu = fits.ImageHDU(value.value, header=wcs_header.copy(), name=name.upper())
            hdu.header["PROPERTY"] = name
            hdu.header["BUNIT"] = value.unit.to_string("fits")
            hdus.append(hdu)
        for name, empty in (self._mask or {}).items():
            hdus.append(fits.ImageHDU(empty.astype(np.uint8), name=f"MASK_{name.upper()}"))
        for name, sigma in (self._uncertainty or {}).items():
            hdu = fits.ImageHDU(sigma, header=wcs_header.copy(), name=f"UNC_{name.upper()}")
            hdu.header["BUNIT"] = "dex"
            hdus.append(hdu)
        with atomic_path(path, overwrite=overwrite) as tmp:
            fits.HDUList(hdus).writeto(tmp)

    @classmethod
    def read(cls, path):
        """
        Read maps written by `write`.

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
        maps = {
            name: hdul[name.upper()].data * u.Unit(hdul[name.upper()].header["BUNIT"])
            for name in names
        }
        mask = {
            name: hdul[f"MASK_{name.upper()}"].data.astype(bool)
            for name in names if f"MASK_{name.upper()}" in present
        }
        uncertainty = {
            name: hdul[f"UNC_{name.upper()}"].data
            for name in names if f"UNC_{name.upper()}" in present
        }
        first = hdul[names[0].upper()].header
        return cls(
            maps,
            wcs=WCS(first) if first.get("CTYPE1") else None,
            pixel_scale=header["PIXKPC"] * u.kpc if "PIXKPC" in header else None,
            mask=mask or None,
            uncertainty=uncertainty or None,
            meta=decode_meta(header.get("PMETA", "")),
        )

    def plot(self, fig=None, *, properties=None, cmap="magma", title=None):
        """
        Draw one log-scaled panel per property.

        Each panel has a colour bar labelled with its quantity and unit; axes
        are offsets from the centre of the grid in kpc (pixels if the pixel
        scale is unknown).

        Parameters
        ----------
        fig : `~matplotlib.figure.Figure`, optional
            Figure to draw into; a new one (constrained layout) by default.
        properties : sequence of str, optional
            Which maps; all by default.
        cmap : str
            Matplotlib colour map.
        title : str, optional
            Title of the figure.

        Returns
        -------
        fig : `~matplotlib.figure.Figure`
        """
        import matplotlib.pyplot as plt

        from .analysis.plotting import (
            _SUPTITLE_SIZE,
            _TITLE_SIZE,
            _grid,
            _label_colorbar,
            _offset_extent,
            _offset_labels,
            _style,
            property_label,
        )

        names = PROPERTIES.validate(properties) if properties is not None else self.properties
        if not names:
            raise ValueError("no property to plot")
        nrows, ncols = _grid(len(names))
        if fig is None:
            fig = plt.figure(figsize=(3.3 * ncols, 3.0 * nrows + 0.4), layout="constrained")
        fig.suptitle("Property maps" if title is None else title, fontsize=_SUPTITLE_SIZE)
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
        for unused in axes.ravel()[len(names):]:
            unused.remove()
        extent, _, _, unit = _offset_extent(self._shape, self._pixel_scale)
        for index, name in enumerate(names):
            row, column = divmod(index, ncols)
            ax = axes[row, column]
            values = self[name].value
            shown = np.full(self._shape, np.nan)
            filled = (values > 0) & ~self.empty(name)
            shown[filled] = np.log10(values[filled])
            image = ax.imshow(shown, origin="lower", cmap=cmap, extent=extent)
            _label_colorbar(fig.colorbar(image, ax=ax, shrink=0.9),
                            property_label(name, total=False))
            ax.set_title(name.replace("_", " "), fontsize=_TITLE_SIZE)
            _style(ax)
            # The lowest panel of each column carries its x label (and tick labels).
            lowest = index + ncols >= len(names)
            ax.xaxis.set_tick_params(labelbottom=lowest)
            _offset_labels(ax, unit, x=lowest, y=column == 0)
        return fig
