"""
HDF5 datasets of (image, truth) pairs for training and evaluating models.

A pair dataset is one HDF5 file with three datasets and a few attributes:

``images``
    float32 ``(n, n_bands, N, N)``: flux per pixel in the unit named by the
    ``flux_unit`` attribute (nanomaggies by default).
``truth``
    float32 ``(n, n_properties, N, N)``: log10 of the property maps in the
    units of `picasso.PROPERTIES`, with `~picasso.properties.LOG10_EMPTY`
    (-100) in empty pixels, as in the PICASSO training data.
``galaxies``
    One row per pair: ``galaxy_id``, ``view``, ``pixel_scale_kpc``,
    ``redshift``, ``r_half_kpc``, ``seed`` and ``total_<property>`` for every
    property, plus any extra columns; units are kept in its ``units``
    attribute.

File attributes: ``format`` (``"picasso-pairs"``), ``format_version``,
``bands``, ``properties``, ``flux_unit``, ``image_size``,
``picasso_version`` and whatever the producer adds (``seed``, ``generator``).

Files are written to ``<path>.partial`` and renamed when complete, so a path
without that suffix always holds a whole dataset; a killed build can be
resumed from the partial file.
"""

import json
import logging
import os
from pathlib import Path

import astropy.units as u
import h5py
import numpy as np
from astropy.table import QTable

from ..cutout import GalaxyCutout
from ..maps import PropertyMaps
from ..properties import BANDS, PROPERTIES
from ..radius import HalfRadius
from ..utils.scales import to_length
from ..utils.version import version

__all__ = ["DatasetWriter", "PairDataset", "FORMAT", "FORMAT_VERSION", "REQUIRED_COLUMNS"]

log = logging.getLogger(__name__)

FORMAT = "picasso-pairs"
FORMAT_VERSION = 1

#: Columns every pair must have (besides the per-property totals), with units.
REQUIRED_COLUMNS = {
    "galaxy_id": None,
    "view": None,
    "pixel_scale_kpc": u.kpc,
    "redshift": None,
    "r_half_kpc": u.kpc,
    "seed": None,
}

_INTEGER_COLUMNS = {"galaxy_id": np.int64, "view": np.int16, "seed": np.int64}


def _total_column(name):
    return f"total_{name}"


def _partial_path(path):
    return Path(f"{path}.partial")


def _attr_text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _attr_list(value):
    return tuple(_attr_text(item) for item in np.atleast_1d(value))


class DatasetWriter:
    """
    Write (image, truth) pairs to an HDF5 pair dataset.

    Use as a context manager: the file is built at ``<path>.partial`` and
    renamed to ``path`` when the block ends without an error. If the block
    fails (or the process is killed) the partial file stays, and a writer
    opened with ``resume=True`` continues after the last complete pair.

    Parameters
    ----------
    path : str or path-like
        Destination of the finished dataset.
    image_size : int
        Side ``N`` of the square images and maps.
    bands : sequence of str, optional
        Bands of the images; all of `picasso.BANDS` by default.
    properties : sequence of str, optional
        Properties of the truth maps; all of `picasso.PROPERTIES` by default.
    flux_unit : str or `~astropy.units.Unit`
        Unit the images are stored in.
    attrs : dict, optional
        Extra file attributes (e.g. ``seed`` and ``generator``). On resume
        they must equal those of the partial file.
    overwrite : bool
        Replace an existing finished dataset at ``path``.
    resume : bool
        Continue a partial file if there is one.
    compression : str or None
        HDF5 filter for the image and truth chunks (``"lzf"`` is fast).
    shuffle : bool, optional
        Byte-shuffle compressed chunks (HDF5's shuffle filter), by default
        whenever they are compressed: the same values, with lzf a quarter fewer
        bytes for slightly less CPU time.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is `False`.
    ValueError
        If a partial file to resume was written with other settings.
    """

    def __init__(self, path, *, image_size, bands=None, properties=None, flux_unit="nanomaggy",
                 attrs=None, overwrite=False, resume=False, compression="lzf", shuffle=None):
        self.path = Path(path)
        self.partial_path = _partial_path(self.path)
        self.image_size = int(image_size)
        if self.image_size < 2:
            raise ValueError(f"image_size must be at least 2, got {image_size}")
        self.bands = BANDS.validate(bands)
        self.properties = PROPERTIES.validate(properties)
        self.flux_unit = u.Unit(flux_unit)
        self._compression = compression
        shuffle = compression is not None if shuffle is None else bool(shuffle)
        self._required = list(REQUIRED_COLUMNS) + [_total_column(name) for name in self.properties]
        self._units = {**REQUIRED_COLUMNS, **{_total_column(name): PROPERTIES[name].total_unit
                                              for name in self.properties}}
        self._columns = None
        attrs = dict(attrs or {})
        settings = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "bands": list(self.bands),
            "properties": list(self.properties),
            "flux_unit": self.flux_unit.to_string(),
            "image_size": self.image_size,
        }
        if self.path.exists() and not overwrite:
            raise FileExistsError(
                f"{self.path} already exists; pass overwrite=True to replace it"
            )
        if resume and self.partial_path.exists():
            self._file = h5py.File(self.partial_path, "a")
            self._check_resumable({**settings, **attrs})
            self._n = int(self._file.attrs["n_complete"])
            for name in ("images", "truth", "galaxies"):
                if name in self._file:
                    self._file[name].resize(self._n, axis=0)
            log.info("resuming %s after %d complete pairs", self.partial_path, self._n)
        else:
            if self.partial_path.exists():
                log.info("discarding the unfinished %s", self.partial_path)
            self._file = h5py.File(self.partial_path, "w")
            for key, value in {**settings, **attrs}.items():
                self._file.attrs[key] = value
            self._file.attrs["picasso_version"] = version
            self._file.attrs["n_complete"] = 0
            self._n = 0
            shape = (len(self.bands), self.image_size, self.image_size)
            self._file.create_dataset(
                "images", shape=(0, *shape), maxshape=(None, *shape), dtype=np.float32,
                chunks=(1, *shape), compression=compression, shuffle=shuffle,
            )
            shape = (len(self.properties), self.image_size, self.image_size)
            self._file.create_dataset(
                "truth", shape=(0, *shape), maxshape=(None, *shape), dtype=np.float32,
                chunks=(1, *shape), compression=compression, shuffle=shuffle,
            )

    def _check_resumable(self, expected):
        for key, value in expected.items():
            stored = self._file.attrs.get(key)
            same = (
                stored is not None
                and np.array_equal(
                    np.atleast_1d(stored).astype(str), np.atleast_1d(value).astype(str)
                )
            )
            if not same:
                self._file.close()
                raise ValueError(
                    f"cannot resume {self.partial_path}: it was written with {key}={stored!r}, "
                    f"this build asks for {value!r}; delete the partial file or rerun with the "
                    "original settings"
                )

    def __len__(self):
        return self._n

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            self.close()
        else:
            self._file.close()
            log.warning(
                "build stopped after %d pairs; %s can be resumed", self._n, self.partial_path
            )
        return False

    def append(self, cutout, truth, **row):
        """
        Append one pair from a cutout and its truth maps.

        Columns not given are taken from the objects: ``pixel_scale_kpc`` from
        the maps (or the cutout), ``redshift`` from the cutout, ``r_half_kpc``
        from ``truth.r_half`` (the projected half-mass radius), ``r_half_3d_kpc``
        from ``cutout.r_half`` (the 3-D one its field is cut to) and every
        ``total_<property>`` from ``truth.total``.

        Parameters
        ----------
        cutout : `~picasso.GalaxyCutout`
            Image with exactly the writer's bands, ``image_size`` square.
        truth : `~picasso.PropertyMaps`
            Truth maps holding at least the writer's properties.
        **row
            Table values (``galaxy_id``, ``view``, ``seed`` and extras);
            Quantities are stored in their unit.
        """
        if cutout.bands != self.bands:
            raise ValueError(
                f"cutout bands {cutout.bands} differ from the dataset's {self.bands}"
            )
        image = cutout.to_unit(self.flux_unit).flux.value
        truth_log10 = truth.to_log10(self.properties)
        pixel_scale = truth.pixel_scale if truth.pixel_scale is not None else cutout.pixel_scale_kpc
        row.setdefault("pixel_scale_kpc", pixel_scale)
        row.setdefault("redshift", cutout.redshift)
        if truth.r_half is not None:
            row.setdefault("r_half_kpc", truth.r_half.as_kind("mass_projected").value)
        if cutout.r_half is not None and cutout.r_half.kind == "mass_3d":
            row.setdefault("r_half_3d_kpc", cutout.r_half.value)
        for name in self.properties:
            row.setdefault(_total_column(name), truth.total(name))
        self.append_arrays(image, truth_log10, row)

    def append_arrays(self, image, truth_log10, row):
        """
        Append one pair from arrays.

        Parameters
        ----------
        image : array-like
            ``(n_bands, N, N)`` flux per pixel in the writer's ``flux_unit``.
        truth_log10 : array-like
            ``(n_properties, N, N)`` log10 maps with
            `~picasso.properties.LOG10_EMPTY` for empty pixels.
        row : dict
            Table values; see the module documentation for required columns.
        """
        image = np.asarray(image, dtype=np.float32)
        truth_log10 = np.asarray(truth_log10, dtype=np.float32)
        expected = (len(self.bands), self.image_size, self.image_size)
        if image.shape != expected:
            raise ValueError(f"image shape {image.shape} differs from the dataset's {expected}")
        expected = (len(self.properties), self.image_size, self.image_size)
        if truth_log10.shape != expected:
            raise ValueError(
                f"truth shape {truth_log10.shape} differs from the dataset's {expected}"
            )
        if not (_all_finite(image) and _all_finite(truth_log10)):
            raise ValueError("image and truth must be finite (use LOG10_EMPTY for empty pixels)")
        values, units = self._row_values(row)
        if "galaxies" not in self._file:
            dtype = [
                (name, _INTEGER_COLUMNS.get(name, np.float64) if np.ndim(value) == 0
                 else (np.float64, np.shape(value)))
                for name, value in values.items()
            ]
            table = self._file.create_dataset(
                "galaxies", shape=(0,), maxshape=(None,), dtype=dtype, chunks=(256,)
            )
            table.attrs["units"] = json.dumps({name: "" if unit is None else unit.to_string()
                                               for name, unit in units.items()})
        table = self._file["galaxies"]
        if self._columns is None:
            self._columns = frozenset(table.dtype.names)
        if set(values) != self._columns:
            raise ValueError(
                f"row columns {sorted(values)} differ from the dataset's {sorted(self._columns)}"
            )
        n = self._n
        for name in ("images", "truth", "galaxies"):
            self._file[name].resize(n + 1, axis=0)
        self._file["images"][n] = image
        self._file["truth"][n] = truth_log10
        record = np.zeros((), dtype=table.dtype)
        for name, value in values.items():
            record[name] = value
        table[n] = record
        self._n = n + 1
        self._file.attrs["n_complete"] = self._n
        self._file.flush()

    def _row_values(self, row):
        required = self._required
        missing = [name for name in required if row.get(name) is None]
        if missing:
            raise ValueError(f"row lacks the column(s) {', '.join(missing)}")
        units = {}
        values = {}
        expected_units = self._units
        for name in required + sorted(set(row) - set(required)):
            value = row[name]
            unit = expected_units.get(name)
            if isinstance(value, u.Quantity):
                unit = unit or value.unit
                value = value.to_value(unit)
            elif unit is not None and name in expected_units:
                raise TypeError(f"column {name} must be a Quantity in {unit}")
            value = np.asarray(value)
            if not np.issubdtype(value.dtype, np.number):
                raise TypeError(f"column {name} must be numeric, got {value.dtype}")
            values[name] = value
            units[name] = unit
        return values, units

    def append_file(self, path, *, skip=0):
        """
        Append every pair of another pair dataset, in its order.

        The shard files of a parallel build are joined this way. Chunks are
        copied as stored (no decompression and compression again) when both
        files store them alike, so joining costs little more than the bytes
        it moves. The pairs become part of this dataset together: a file
        killed half-way through keeps none of them (its ``n_complete`` is
        updated last).

        Parameters
        ----------
        path : str or path-like
            A finished pair dataset (or a partial one: only its complete pairs
            are taken) with this writer's bands, properties, flux unit, image
            size and table columns.
        skip : int
            Leave out the first ``skip`` pairs of ``path``.

        Returns
        -------
        n : int
            Pairs appended.

        Raises
        ------
        ValueError
            If the file holds other bands, properties, units, sizes or columns.
        """
        with h5py.File(path, "r") as source:
            for key, mine in (("bands", list(self.bands)),
                              ("properties", list(self.properties)),
                              ("flux_unit", self.flux_unit.to_string()),
                              ("image_size", self.image_size)):
                theirs = source.attrs.get(key)
                if theirs is None or not np.array_equal(np.atleast_1d(theirs).astype(str),
                                                        np.atleast_1d(mine).astype(str)):
                    raise ValueError(f"cannot append {path}: its {key} is {theirs!r}, this "
                                     f"dataset's {mine!r}")
            n_source = int(source.attrs.get("n_complete", len(source["images"])))
            skip = int(skip)
            count = max(n_source - skip, 0)
            if count == 0:
                return 0
            rows = source["galaxies"][skip:skip + count]
            if "galaxies" not in self._file:
                table = self._file.create_dataset(
                    "galaxies", shape=(0,), maxshape=(None,), dtype=rows.dtype, chunks=(256,))
                table.attrs["units"] = source["galaxies"].attrs.get("units", "{}")
            table = self._file["galaxies"]
            if table.dtype != rows.dtype:
                raise ValueError(f"cannot append {path}: its table columns "
                                 f"{list(rows.dtype.names)} differ from this dataset's "
                                 f"{list(table.dtype.names)}")
            n = self._n
            for name in ("images", "truth"):
                _copy_pairs(source[name], self._file[name], skip, n, count)
            table.resize(n + count, axis=0)
            table[n:n + count] = rows
            self._n = n + count
            self._file.attrs["n_complete"] = self._n
            self._file.flush()
        return count

    def close(self):
        """Mark the dataset complete and move it to its final path."""
        if not self._file:
            return
        if self._n == 0:
            self._file.close()
            raise ValueError(f"no pairs were written; {self.partial_path} is left in place")
        self._file.attrs["complete"] = True
        self._file.close()
        os.replace(self.partial_path, self.path)
        log.info("wrote %d pairs to %s", self._n, self.path)


def _all_finite(array):
    """
    Whether a float32 array holds no NaN or infinity.

    Its float64 sum is finite exactly then (float32 values cannot overflow it), and is
    cheaper than testing every element.
    """
    return bool(np.isfinite(np.sum(array, dtype=np.float64)))


def _same_storage(source, target):
    """Whether the chunks of two datasets can be copied as stored bytes."""
    return (source.chunks == target.chunks and source.dtype == target.dtype
            and source.shape[1:] == target.shape[1:]
            and source.compression == target.compression
            and source.compression_opts == target.compression_opts
            and source.shuffle == target.shuffle and source.fletcher32 == target.fletcher32
            and source.chunks is not None and source.chunks[0] == 1)


def _copy_pairs(source, target, start, at, count):
    """Copy pairs ``start:start + count`` of ``source`` to ``at:`` of ``target`` (resized)."""
    target.resize(at + count, axis=0)
    zeros = (0,) * (source.ndim - 1)
    if _same_storage(source, target):
        for offset in range(count):
            mask, chunk = source.id.read_direct_chunk((start + offset, *zeros))
            target.id.write_direct_chunk((at + offset, *zeros), chunk, mask)
        return
    step = 64
    for offset in range(0, count, step):
        block = min(step, count - offset)
        target[at + offset:at + offset + block] = source[start + offset:start + offset + block]


class PairDataset:
    """
    Read an HDF5 pair dataset lazily, one pair at a time.

    Items are dicts with ``"image"`` (float32 ``(n_bands, N, N)`` flux in
    ``flux_unit``), ``"truth"`` (float32 ``(n_properties, N, N)`` log10 maps
    with -100 in empty pixels) and ``"index"`` (the row in the file), so the
    object works directly as a `torch.utils.data.Dataset`. The HDF5 file is
    opened on first access in each process, so data-loader workers each get
    their own handle.

    Parameters
    ----------
    path : str or path-like
    bands : sequence of str, optional
        Bands to return, a subset of the file's; all by default.
    properties : sequence of str, optional
        Properties to return, a subset of the file's; all by default.
    indices : sequence of int, optional
        Rows of the file this dataset covers; all by default.

    Raises
    ------
    FileNotFoundError
        If the file is missing (a ``.partial`` file is mentioned if present).
    OSError
        If the file is not HDF5.
    ValueError
        If it is not a picasso pair dataset or lacks a band or property.
    """

    def __init__(self, path, *, bands=None, properties=None, indices=None):
        self.path = Path(path)
        if not self.path.exists():
            hint = ""
            if _partial_path(self.path).exists():
                hint = f" ({_partial_path(self.path)} is an unfinished build: resume it)"
            raise FileNotFoundError(f"pair dataset {self.path} does not exist{hint}")
        try:
            with h5py.File(self.path, "r") as handle:
                attrs = {key: handle.attrs[key] for key in handle.attrs}
                missing = [name for name in ("images", "truth", "galaxies") if name not in handle]
                table = handle["galaxies"][()] if "galaxies" in handle else None
                units = (
                    json.loads(handle["galaxies"].attrs.get("units", "{}"))
                    if table is not None else {}
                )
                n_pairs = handle["images"].shape[0] if "images" in handle else 0
                shapes = {
                    name: handle[name].shape for name in ("images", "truth") if name in handle
                }
        except OSError as error:
            raise OSError(f"{self.path} is not a readable HDF5 pair dataset: {error}") from None
        if _attr_text(attrs.get("format", "")) != FORMAT:
            raise ValueError(
                f"{self.path} is not a picasso pair dataset (format attribute "
                f"{attrs.get('format')!r}); the authors' layouts are read by picasso.io.authors"
            )
        if missing:
            raise ValueError(f"{self.path} lacks the dataset(s) {', '.join(missing)}")
        self.attrs = attrs
        self.file_bands = _attr_list(attrs["bands"])
        self.file_properties = _attr_list(attrs["properties"])
        if shapes["images"][1] != len(self.file_bands) or shapes["truth"][1] != len(
            self.file_properties
        ) or len(table) != n_pairs or shapes["truth"][0] != n_pairs:
            raise ValueError(f"{self.path} is inconsistent: {shapes}, {len(table)} table rows")
        self.bands = BANDS.validate(bands) if bands is not None else self.file_bands
        self.properties = (
            PROPERTIES.validate(properties) if properties is not None else self.file_properties
        )
        for kind, chosen, available in (
            ("band", self.bands, self.file_bands),
            ("property", self.properties, self.file_properties),
        ):
            absent = [name for name in chosen if name not in available]
            if absent:
                raise ValueError(
                    f"{self.path} has no {kind} {', '.join(absent)} (it has {', '.join(available)})"
                )
        self._band_index = [self.file_bands.index(name) for name in self.bands]
        self._property_index = [self.file_properties.index(name) for name in self.properties]
        self.flux_unit = u.Unit(_attr_text(attrs["flux_unit"]))
        self.image_size = int(attrs["image_size"])
        self.indices = np.arange(n_pairs) if indices is None else np.asarray(indices, dtype=int)
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= n_pairs):
            raise IndexError(f"indices out of range for {n_pairs} pairs")
        self._table = table
        self._units = units
        self._handle = None
        self._pid = None

    def __len__(self):
        return len(self.indices)

    def __repr__(self):
        return (
            f"<PairDataset {self.path.name}: {len(self)} pairs, {''.join(self.bands)} -> "
            f"{len(self.properties)} properties, {self.image_size}x{self.image_size}>"
        )

    def _file(self):
        if self._handle is None or self._pid != os.getpid():
            self._handle = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._handle

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_handle"] = None
        return state

    def __getitem__(self, item):
        if not -len(self) <= item < len(self):
            raise IndexError(f"pair {item} out of range for {len(self)} pairs")
        row = int(self.indices[item])
        handle = self._file()
        image = handle["images"][row][self._band_index]
        truth = handle["truth"][row][self._property_index]
        return {"image": image, "truth": truth, "index": row}

    def read_batch(self, items):
        """
        Several pairs at once, read in as few HDF5 calls as their rows allow.

        Rows are read in file order, each run of consecutive rows with one
        call, straight into the arrays returned; the result is in the order
        asked for. This is what a training input pipeline calls once per
        batch.

        Parameters
        ----------
        items : sequence of int
            Positions in this dataset (repeats allowed).

        Returns
        -------
        batch : dict
            ``"image"`` float32 ``(n, n_bands, N, N)``, ``"truth"`` float32
            ``(n, n_properties, N, N)`` (as `__getitem__` gives them, stacked)
            and ``"index"`` (the rows in the file).
        """
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        if items.size and (items.min() < -len(self) or items.max() >= len(self)):
            raise IndexError(f"pairs {items.tolist()} out of range for {len(self)} pairs")
        rows = self.indices[items]
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
        starts = np.concatenate([[0], breaks]).astype(int)
        stops = np.concatenate([breaks, [rows.size]]).astype(int)
        handle = self._file()
        out = {"index": rows}
        for key, name, select, n_file in (
            ("image", "images", self._band_index, len(self.file_bands)),
            ("truth", "truth", self._property_index, len(self.file_properties)),
        ):
            dataset = handle[name]
            buffer = np.empty((rows.size, *dataset.shape[1:]), dtype=dataset.dtype)
            for start, stop in zip(starts, stops):
                if stop > start:
                    dataset.read_direct(buffer, np.s_[ordered[start]:ordered[stop - 1] + 1],
                                        np.s_[start:stop])
            if not np.array_equal(order, np.arange(rows.size)):
                inverse = np.empty_like(order)
                inverse[order] = np.arange(rows.size)
                buffer = buffer[inverse]
            if list(select) != list(range(n_file)):
                buffer = np.ascontiguousarray(buffer[:, select])
            out[key] = buffer
        return out

    @property
    def table(self):
        """`~astropy.table.QTable`: one row per pair, with units."""
        table = QTable(self._table[self.indices])
        for name, unit in self._units.items():
            if unit and name in table.colnames:
                table[name] = table[name] * u.Unit(unit)
        return table

    @property
    def pixel_scale_kpc(self):
        """`~astropy.units.Quantity`: physical pixel side of every pair."""
        return self._table["pixel_scale_kpc"][self.indices] * u.kpc

    @property
    def psf_fwhm_pixels(self):
        """
        `numpy.ndarray` or None: PSF FWHM of every pair's image in its pixels.

        From the ``psf_fwhm_pixels`` column, or, for datasets written before it
        existed, from the observing set-up in the generator record (one PSF
        for every pair); `None` when neither says.
        """
        if "psf_fwhm_pixels" in self._table.dtype.names:
            return np.asarray(self._table["psf_fwhm_pixels"][self.indices], dtype=np.float64)
        try:
            observing = json.loads(_attr_text(self.attrs["generator"]))["observing"]
            fwhm = to_length(u.Quantity(observing["psf_fwhm"]), float(observing["redshift"]))
        except (KeyError, TypeError, ValueError):
            return None
        return (fwhm / self.pixel_scale_kpc).decompose().value

    @property
    def galaxy_ids(self):
        """ndarray: galaxy id of every pair (views of a galaxy share it)."""
        return self._table["galaxy_id"][self.indices]

    def subset(self, indices):
        """
        A dataset over some of these pairs.

        Parameters
        ----------
        indices : sequence of int
            Positions within this dataset.

        Returns
        -------
        dataset : `PairDataset`
        """
        return PairDataset(
            self.path, bands=self.bands, properties=self.properties,
            indices=self.indices[np.asarray(indices, dtype=int)],
        )

    def _row(self, item):
        return self._table[int(self.indices[item])]

    def cutout(self, item):
        """
        One pair's image as a `~picasso.GalaxyCutout`.

        Parameters
        ----------
        item : int

        Returns
        -------
        cutout : `~picasso.GalaxyCutout`
        """
        row = self._row(item)
        psf = self.psf_fwhm_pixels
        r_half = None
        if "r_half_3d_kpc" in row.dtype.names and np.isfinite(row["r_half_3d_kpc"]):
            r_half = HalfRadius(row["r_half_3d_kpc"] * u.kpc, "mass_3d")
        return GalaxyCutout(
            self[item]["image"] * self.flux_unit,
            self.bands,
            pixel_scale=row["pixel_scale_kpc"] * u.kpc,
            redshift=row["redshift"],
            psf_fwhm=None if psf is None else psf[item] * row["pixel_scale_kpc"] * u.kpc,
            r_half=r_half,
            meta={"galaxy_id": int(row["galaxy_id"]), "view": int(row["view"])},
        )

    def truth_maps(self, item):
        """
        One pair's truth as `~picasso.PropertyMaps`.

        Parameters
        ----------
        item : int

        Returns
        -------
        maps : `~picasso.PropertyMaps`
        """
        row = self._row(item)
        return PropertyMaps.from_log10(
            self[item]["truth"], self.properties, pixel_scale=row["pixel_scale_kpc"] * u.kpc,
            r_half=HalfRadius(row["r_half_kpc"] * u.kpc, "mass_projected"),
            meta={"galaxy_id": int(row["galaxy_id"]), "view": int(row["view"])},
        )

