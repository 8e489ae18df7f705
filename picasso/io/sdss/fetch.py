"""
Which SDSS fields cover a position, and their frame files, downloaded and checked.

Two things a catalogue needs before any galaxy can be cut:

- **the fields covering a position** (`FieldIndex`): from the survey's list of
  imaging fields, ``window_flist.fits`` (read once; every field's extent in
  the great-circle coordinates mu, nu of its scan, see
  https://data.sdss.org/datamodel/files/PHOTO_RESOLVE/window_flist.html), or
  from the headers of a directory of frame files;
- **the five frame files of a field** (`fetch_frame`, `fetch_field`): from a
  base that is either a URL laid out as the SDSS Science Archive Server
  (``{base}/{rerun}/{run}/{camcol}/frame-{band}-{run:06d}-{camcol}-{field:04d}.fits.bz2``),
  downloaded through astropy's download cache (`astropy.utils.data.download_file`,
  package ``picasso``, so a file is downloaded once per machine), or a local
  directory in that layout (or flat), read in place.

Every downloaded file is checked by reading it whole (bzip2 stream, FITS
structure, the SDSS frame layout): a partial or corrupt download is removed
from the cache and fetched again, up to ``conf.retries`` times, and is
never used. The frames read while checking are kept in the shared
`FrameCache`, so the check costs nothing when the frames are then used.

The base URL, the field list, the rerun, the timeout and the retries are
astropy configuration items (`conf`), set in ``picasso.cfg`` or for a while
with ``conf.set_temp``::

    from picasso.io.sdss import conf
    with conf.set_temp("frames_url", "/data/sdss/frames"):
        ...
"""

import logging
import time
import urllib.error
import urllib.parse
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy import config as _config
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import QTable, Table

from ...properties import BANDS
from ...utils.scales import as_angle
from ...utils.threads import catch_warnings_locked
from .frames import (
    DEFAULT_CACHE,
    FrameSet,
    celestial_wcs,
    frame_from_hdul,
    open_frame_file,
    parse_frame_name,
    read_file_bytes,
    read_frame,
)

__all__ = [
    "Conf",
    "conf",
    "FieldIndex",
    "frame_name",
    "frame_url",
    "fetch_frame",
    "fetch_field",
    "field_files",
    "frames_for_position",
    "radec_to_munu",
    "munu_to_radec",
]

log = logging.getLogger(__name__)

#: The package name of picasso's part of astropy's download cache.
CACHE_PACKAGE = "picasso"


class Conf(_config.ConfigNamespace):
    """Where SDSS frames and the list of fields come from (``[io.sdss.fetch]`` in picasso.cfg)."""

    frames_url = _config.ConfigItem(
        "https://data.sdss.org/sas/dr17/eboss/photoObj/frames",
        "Base of the SDSS frame files: a URL or a local directory laid out as the Science "
        "Archive Server, {base}/{rerun}/{run}/{camcol}/frame-{band}-{run:06d}-{camcol}-"
        "{field:04d}.fits.bz2 (a local directory may also hold the files directly).",
    )
    field_list = _config.ConfigItem(
        "https://data.sdss.org/sas/dr17/eboss/resolve/2010-05-23/window_flist.fits",
        "The survey's list of imaging fields (window_flist.fits, about 0.5 GB, read once): "
        "a URL or a local file.",
    )
    rerun = _config.ConfigItem("301", "Photometric rerun of the frames.")
    timeout = _config.ConfigItem(60.0, "Seconds to wait for the server before giving up.")
    retries = _config.ConfigItem(
        3, "Attempts per file: a failed, partial or corrupt download is fetched again.")


#: The configuration of this module (see `Conf`).
conf = Conf()


# --------------------------------------------------------------------------
# Great-circle coordinates of SDSS scans
# --------------------------------------------------------------------------


def radec_to_munu(ra, dec, node, incl):
    """
    Equatorial to SDSS great-circle coordinates (degrees in, degrees out).

    The scan's great circle crosses the J2000 equator at RA ``node`` with
    inclination ``incl``; ``mu`` runs along it, ``nu`` across (idlutils
    ``radec_to_munu``).

    Parameters
    ----------
    ra, dec, node, incl : float or array-like
        Degrees.

    Returns
    -------
    mu, nu : `~numpy.ndarray`
        Degrees; ``mu`` in [0, 360).
    """
    ra, dec, node, incl = (np.radians(np.asarray(v, dtype=np.float64))
                           for v in (ra, dec, node, incl))
    x = np.cos(ra - node) * np.cos(dec)
    y = np.sin(ra - node) * np.cos(dec)
    z = np.sin(dec)
    y2 = y * np.cos(incl) + z * np.sin(incl)
    z2 = -y * np.sin(incl) + z * np.cos(incl)
    mu = np.degrees(np.arctan2(y2, x) + node) % 360.0
    nu = np.degrees(np.arcsin(np.clip(z2, -1, 1)))
    return mu, nu


def munu_to_radec(mu, nu, node, incl):
    """
    SDSS great-circle to equatorial coordinates (degrees), the inverse of `radec_to_munu`.

    Parameters
    ----------
    mu, nu, node, incl : float or array-like
        Degrees.

    Returns
    -------
    ra, dec : `~numpy.ndarray`
        Degrees; ``ra`` in [0, 360).
    """
    mu, nu, node, incl = (np.radians(np.asarray(v, dtype=np.float64))
                          for v in (mu, nu, node, incl))
    x = np.cos(mu - node) * np.cos(nu)
    y = np.sin(mu - node) * np.cos(nu) * np.cos(incl) - np.sin(nu) * np.sin(incl)
    z = np.sin(mu - node) * np.cos(nu) * np.sin(incl) + np.sin(nu) * np.cos(incl)
    ra = np.degrees(np.arctan2(y, x) + node) % 360.0
    dec = np.degrees(np.arcsin(np.clip(z, -1, 1)))
    return ra, dec


# --------------------------------------------------------------------------
# Which fields cover a position
# --------------------------------------------------------------------------

_FIELD_LIST_COLUMNS = ("RUN", "CAMCOL", "FIELD", "NODE", "INCL", "MU_START", "MU_END",
                       "NU_START", "NU_END")


def _column(table, name):
    """A column by name, whatever its case."""
    for key in table.colnames:
        if key.lower() == name.lower():
            return table[key]
    return None


def _unit_vectors(ra, dec):
    ra, dec = np.radians(ra), np.radians(dec)
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


class FieldIndex:
    """
    The imaging fields of a survey and the part of the sky each covers.

    Build one with `FieldIndex.read` (the survey's ``window_flist.fits`` or
    any table with its columns) or `FieldIndex.from_frames` (the headers of
    a directory of frame files); ask it which fields cover positions with
    `covering` (one position, every field) or `match` (many positions, the
    best field each).

    Parameters
    ----------
    fields : `~astropy.table.Table`
        One row per field: ``run``, ``camcol``, ``field``, ``rerun`` (str),
        ``score`` (higher is better, SDSS's field quality from 0 to 1),
        ``ra``, ``dec`` (centre, deg), ``radius`` (deg: every point of the
        field lies within it of the centre) and the footprint: ``node``,
        ``incl``, ``mu_start``, ``mu_end``, ``nu_start``, ``nu_end`` (deg)
        for a field list, or a ``wcs`` object column and ``nx``, ``ny`` for
        fields read from frames.
    source : str, optional
        Where the fields came from (for messages).
    """

    def __init__(self, fields, *, source=None):
        self.fields = Table(fields, copy=False)
        self.source = source or "a table of fields"
        if len(self.fields) == 0:
            raise ValueError(f"{self.source} lists no fields")
        from scipy.spatial import cKDTree

        self._tree = cKDTree(_unit_vectors(np.asarray(self.fields["ra"], dtype=float),
                                           np.asarray(self.fields["dec"], dtype=float)))
        self._radius = float(np.max(self.fields["radius"]))

    def __len__(self):
        return len(self.fields)

    def __repr__(self):
        return f"<FieldIndex: {len(self)} fields from {self.source}>"

    @classmethod
    def read(cls, source=None, *, timeout=None):
        """
        Read the survey's list of fields (``window_flist.fits``), once.

        Parameters
        ----------
        source : str or path-like, optional
            A local file or URL (downloaded once through astropy's cache); by
            default ``conf.field_list``. Any FITS or ECSV table with the
            columns ``RUN``, ``CAMCOL``, ``FIELD``, ``NODE``, ``INCL``,
            ``MU_START``, ``MU_END``, ``NU_START``, ``NU_END`` (any case) and
            optionally ``RERUN`` and ``SCORE`` is read.

        Returns
        -------
        index : `FieldIndex`

        Raises
        ------
        ValueError
            If a needed column is missing.
        """
        source = conf.field_list if source is None else source
        path = source
        if isinstance(source, str) and urllib.parse.urlparse(source).scheme in (
                "http", "https", "ftp"):
            from astropy.utils.data import download_file

            path = download_file(source, cache=True, show_progress=False,
                                 timeout=conf.timeout if timeout is None else timeout,
                                 pkgname=CACHE_PACKAGE)
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no field list at {source}")
        if path.suffix.lower() == ".ecsv":
            table = Table.read(path, format="ascii.ecsv")
        else:
            with fits.open(path, memmap=True) as hdul:
                data = hdul[1].data
                names = {name.upper(): name for name in data.columns.names}
                missing = [name for name in _FIELD_LIST_COLUMNS if name not in names]
                if missing:
                    raise ValueError(
                        f"{source} is not a field list: it lacks the column(s) "
                        f"{', '.join(missing)} (window_flist.fits has them)"
                    )
                wanted = [name for name in (*_FIELD_LIST_COLUMNS, "RERUN", "SCORE")
                          if name in names]
                table = Table({name.lower(): np.array(data[names[name]]) for name in wanted})
        return cls.from_field_list(table, source=str(source))

    @classmethod
    def from_field_list(cls, table, *, source=None):
        """
        Fields from a table with window_flist's columns (see `read`).

        Parameters
        ----------
        table : `~astropy.table.Table`
        source : str, optional

        Returns
        -------
        index : `FieldIndex`
        """
        columns = {}
        for name in _FIELD_LIST_COLUMNS:
            column = _column(table, name)
            if column is None:
                raise ValueError(f"{source or 'the field list'} lacks the column {name}")
            columns[name.lower()] = np.asarray(column, dtype=np.float64)
        n = len(table)
        rerun = _column(table, "RERUN")
        score = _column(table, "SCORE")
        fields = Table({
            "run": columns["run"].astype(int),
            "camcol": columns["camcol"].astype(int),
            "field": columns["field"].astype(int),
            "rerun": (np.array([str(value).strip() for value in rerun]) if rerun is not None
                      else np.full(n, str(conf.rerun))),
            "score": (np.asarray(score, dtype=float) if score is not None else np.ones(n)),
        })
        for name in ("node", "incl", "mu_start", "mu_end", "nu_start", "nu_end"):
            fields[name] = columns[name]
        span = (fields["mu_end"] - fields["mu_start"]) % 360.0
        mu_mid = (fields["mu_start"] + 0.5 * span) % 360.0
        nu_mid = 0.5 * (fields["nu_start"] + fields["nu_end"])
        ra, dec = munu_to_radec(mu_mid, nu_mid, fields["node"], fields["incl"])
        fields["ra"], fields["dec"] = ra, dec
        fields["radius"] = 0.5 * np.hypot(span, fields["nu_end"] - fields["nu_start"]) * 1.01
        return cls(fields, source=source or "a field list")

    @classmethod
    def from_frames(cls, directory, *, band="r"):
        """
        Fields from the headers of the frame files in a directory (and below it).

        One frame per field is read (the ``band`` frame where there is one;
        its header only, which is at the start of a compressed file).

        Parameters
        ----------
        directory : path-like
            A directory holding ``frame-*.fits(.bz2|.gz)`` files, flat or in the
            Science Archive Server layout.
        band : str
            The band whose frames describe the fields.

        Returns
        -------
        index : `FieldIndex`

        Raises
        ------
        ValueError
            If the directory holds no frame files.
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"no such directory of frames: {directory}")
        chosen = {}
        for path in sorted(directory.rglob("frame-*.fits*")):
            named = parse_frame_name(path)
            if named is None:
                continue
            key = (named["run"], named["camcol"], named["field"])
            if key not in chosen or named["band"] == band:
                chosen[key] = path
        if not chosen:
            raise ValueError(f"{directory}: no SDSS frame-*.fits(.bz2) files in or below it")
        rows = []
        for (run, camcol, field), path in sorted(chosen.items()):
            header = fits.getheader(path)
            wcs = celestial_wcs(header, path)
            nx, ny = int(header["NAXIS1"]), int(header["NAXIS2"])
            centre = wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
            corners = wcs.pixel_to_world([-0.5, nx - 0.5, -0.5, nx - 0.5],
                                         [-0.5, -0.5, ny - 0.5, ny - 0.5])
            radius = float(np.max(centre.separation(corners).deg)) * 1.01
            rerun = str(header.get("RERUN", conf.rerun)).strip()
            rows.append((run, camcol, field, rerun, 1.0, centre.ra.deg, centre.dec.deg, radius,
                         wcs, nx, ny))
        names = ("run", "camcol", "field", "rerun", "score", "ra", "dec", "radius", "wcs", "nx",
                 "ny")
        fields = Table(rows=rows, names=names, dtype=[int, int, int, str, float, float, float,
                                                      float, object, int, int])
        return cls(fields, source=str(directory))

    def _inside(self, rows, ra, dec):
        """How far inside each field each position is (deg; negative outside)."""
        fields = self.fields
        if "wcs" in fields.colnames:
            depth = np.empty(len(rows))
            for out, row in enumerate(rows):
                wcs = fields["wcs"][row]
                x, y = wcs.world_to_pixel_values(ra[out], dec[out])
                scale = np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix)))
                nx, ny = fields["nx"][row], fields["ny"][row]
                depth[out] = min(x + 0.5, nx - 0.5 - x, y + 0.5, ny - 0.5 - y) * scale
            return depth
        node, incl = np.asarray(fields["node"][rows]), np.asarray(fields["incl"][rows])
        mu, nu = radec_to_munu(ra, dec, node, incl)
        start = np.asarray(fields["mu_start"][rows])
        span = (np.asarray(fields["mu_end"][rows]) - start) % 360.0
        along = (mu - start) % 360.0
        along = np.where(along > 180.0 + 0.5 * span, along - 360.0, along)
        across = np.minimum(nu - np.asarray(fields["nu_start"][rows]),
                            np.asarray(fields["nu_end"][rows]) - nu)
        return np.minimum(np.minimum(along, span - along) * np.cos(np.radians(nu)), across)

    def covering(self, ra, dec=None):
        """
        The fields that cover a position, the best first.

        Parameters
        ----------
        ra, dec : `~astropy.units.Quantity`
            The position (angles); ``ra`` may be a
            `~astropy.coordinates.SkyCoord` with ``dec=None``.

        Returns
        -------
        fields : `~astropy.table.QTable`
            ``run``, ``rerun``, ``camcol``, ``field``, ``score`` and
            ``edge_distance`` (how far inside the field the position is,
            arcsec), sorted by score and then by edge distance.
        """
        coord = ra if isinstance(ra, SkyCoord) else SkyCoord(as_angle(ra, "ra"),
                                                             as_angle(dec, "dec"))
        coord = coord.icrs
        rows = self._candidates(np.atleast_1d(coord.ra.deg), np.atleast_1d(coord.dec.deg))[0]
        rows = np.asarray(rows, dtype=int)
        depth = self._inside(rows, np.full(rows.size, coord.ra.deg),
                             np.full(rows.size, coord.dec.deg)) if rows.size else np.empty(0)
        keep = depth >= 0
        rows, depth = rows[keep], depth[keep]
        order = np.lexsort((-depth, -np.asarray(self.fields["score"][rows], dtype=float)))
        rows, depth = rows[order], depth[order]
        result = QTable({name: self.fields[name][rows] for name in
                         ("run", "rerun", "camcol", "field", "score")})
        result["edge_distance"] = (depth * u.deg).to(u.arcsec)
        return result

    def _candidates(self, ra, dec):
        chord = 2 * np.sin(np.radians(self._radius) / 2)
        return self._tree.query_ball_point(_unit_vectors(ra, dec), chord)

    def match(self, ra, dec, *, margin=0 * u.arcsec):
        """
        The best field for each of many positions.

        Among the fields that hold a position at least ``margin`` inside
        their edges, the one with the highest score; where none does, the
        field in which the position lies deepest.

        Parameters
        ----------
        ra, dec : `~astropy.units.Quantity`
            Positions (angles, same shape).
        margin : `~astropy.units.Quantity`
            How far inside a field a position should be (half a cutout): one
            angle, or one per position.

        Returns
        -------
        rows : `~numpy.ndarray`
            Row of `fields` for each position, -1 where no field covers it.
        edge_distance : `~astropy.units.Quantity`
            How far inside that field each position is (arcsec; NaN for -1).
        """
        ra = np.atleast_1d(as_angle(ra, "ra").to_value(u.deg)).astype(float)
        dec = np.atleast_1d(as_angle(dec, "dec").to_value(u.deg)).astype(float)
        margin_deg = np.broadcast_to(as_angle(margin, "margin").to_value(u.deg), ra.shape)
        best = np.full(ra.size, -1)
        depth_best = np.full(ra.size, np.nan)
        score = np.asarray(self.fields["score"], dtype=float)
        for index, rows in enumerate(self._candidates(ra, dec)):
            if not rows:
                continue
            rows = np.asarray(rows, dtype=int)
            depth = self._inside(rows, np.full(rows.size, ra[index]),
                                 np.full(rows.size, dec[index]))
            inside = depth >= 0
            if not inside.any():
                continue
            deep = depth >= margin_deg[index]
            if deep.any():
                choice = np.flatnonzero(deep)[np.argmax(score[rows[deep]])]
            else:
                choice = int(np.argmax(depth))
            best[index] = rows[choice]
            depth_best[index] = depth[choice]
        return best, (depth_best * u.deg).to(u.arcsec)


# --------------------------------------------------------------------------
# Frame files
# --------------------------------------------------------------------------


def frame_name(band, run, camcol, field):
    """str: ``frame-{band}-{run:06d}-{camcol}-{field:04d}.fits.bz2``."""
    return f"frame-{band}-{int(run):06d}-{int(camcol)}-{int(field):04d}.fits.bz2"


def _local_base(base):
    """The local directory a base names, or None for a remote URL."""
    base = str(base)
    parsed = urllib.parse.urlparse(base)
    if parsed.scheme == "file":
        return Path(urllib.parse.unquote(parsed.path))
    if parsed.scheme in ("http", "https", "ftp"):
        return None
    return Path(base)


def frame_url(band, run, camcol, field, *, rerun=None, base=None):
    """
    Where a frame file is: its URL (or local path) in the Science Archive Server layout.

    Parameters
    ----------
    band : str
    run, camcol, field : int
    rerun : str, optional
        ``conf.rerun`` by default.
    base : str, optional
        ``conf.frames_url`` by default.

    Returns
    -------
    url : str
        ``{base}/{rerun}/{run}/{camcol}/frame-{band}-{run:06d}-{camcol}-{field:04d}.fits.bz2``.
    """
    base = str(conf.frames_url if base is None else base).rstrip("/")
    rerun = str(conf.rerun if rerun is None else rerun).strip()
    return f"{base}/{rerun}/{int(run)}/{int(camcol)}/{frame_name(band, run, camcol, field)}"


def _local_frame(directory, band, run, camcol, field, rerun):
    name = frame_name(band, run, camcol, field)
    stem = name[: -len(".bz2")]
    tried = []
    for folder in (directory / rerun / str(int(run)) / str(int(camcol)), directory):
        for candidate in (name, stem, stem + ".gz"):
            path = folder / candidate
            if path.is_file():
                return path
            tried.append(str(path))
    raise FileNotFoundError(
        f"no {band} frame of run {run} camcol {camcol} field {field} in {directory} (tried "
        f"{', '.join(tried[:3])}, ...)"
    )


def _check_frame(path, source, band):
    """Read a file whole as an SDSS frame; returns the decompressed bytes or raises ValueError."""
    raw = read_file_bytes(path)
    hdul = open_frame_file(path, raw)
    frame_from_hdul(hdul, source, band=band)
    return raw


def _download(url, band, *, retries, timeout, keep):
    """
    Download one frame through astropy's cache, check it, retry; (path, raw bytes or None).

    A fresh download is checked by reading it whole; a file already in the cache
    was checked when it came, and is returned unread.
    """
    from astropy.utils.data import (
        CacheMissingWarning,
        clear_download_cache,
        download_file,
        is_url_in_cache,
    )

    problems = []
    for attempt in range(1, retries + 1):
        with catch_warnings_locked():
            # before the first download there is no cache folder yet: nothing is cached
            warnings.simplefilter("ignore", CacheMissingWarning)
            try:
                cached = is_url_in_cache(url, pkgname=CACHE_PACKAGE)
            except NotADirectoryError:
                # astropy met the folder half-made by a download beside this one (its check
                # is not atomic): nothing is cached yet; download_file's own meeting with
                # it is retried below like any OSError
                cached = False
        try:
            path = download_file(url, cache=True, show_progress=False, timeout=timeout,
                                 pkgname=CACHE_PACKAGE)
        except urllib.error.HTTPError as error:
            error.close()  # it holds the server's response open
            if error.code == 404:
                raise FileNotFoundError(f"{url}: not on the server (HTTP 404)") from None
            problems.append(f"attempt {attempt}: HTTP {error.code} {error.reason}")
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            problems.append(f"attempt {attempt}: {error}")
        else:
            try:
                raw = None if cached else _check_frame(path, url, band)
                return Path(path), (raw if keep else None)
            except ValueError as error:
                # a partial or corrupt file never stays in the cache
                clear_download_cache(url, pkgname=CACHE_PACKAGE)
                problems.append(f"attempt {attempt}: {'cached' if cached else 'downloaded'} "
                                f"file is unusable ({error})")
        log.warning("%s: %s", url, problems[-1])
        if attempt < retries:
            time.sleep(min(0.5 * 2 ** (attempt - 1), 5.0))
    raise OSError(f"could not download a valid {url} in {retries} attempt(s): "
                  + "; ".join(problems))


def fetch_frame(band, run, camcol, field, *, rerun=None, base=None, retries=None, timeout=None,
                cache=None):
    """
    One frame of a field, read and checked: downloaded once, or from a local directory.

    Parameters
    ----------
    band : str
    run, camcol, field : int
    rerun : str, optional
        ``conf.rerun`` by default.
    base : str or path-like, optional
        A URL in the Science Archive Server layout or a local directory (that
        layout or flat); ``conf.frames_url`` by default.
    retries : int, optional
        Attempts for a download; ``conf.retries`` by default.
    timeout : float, optional
        Seconds; ``conf.timeout`` by default.
    cache : `FrameCache` or False, optional
        Where the frame read is kept (`read_frame`).

    Returns
    -------
    frame : `SDSSFrame`
        Its `~Frame.path` is the URL (or the local file).

    Raises
    ------
    FileNotFoundError
        If the server or directory does not have the file.
    OSError
        If no valid copy could be downloaded in ``retries`` attempts.
    """
    return fetch_field(run, camcol, field, bands=(band,), rerun=rerun, base=base,
                       retries=retries, timeout=timeout, cache=cache)[band]


def fetch_field(run, camcol, field, *, bands=None, rerun=None, base=None, retries=None,
                timeout=None, cache=None, workers=None):
    """
    The frames of one field in several bands, read and checked.

    Downloads (and the decompression of their bzip2 streams) run in threads.

    Parameters
    ----------
    run, camcol, field : int
    bands : iterable of str, optional
        ``u g r i z`` by default.
    rerun, base, retries, timeout, cache
        As for `fetch_frame`.
    workers : int, optional
        Threads; one per band by default.

    Returns
    -------
    frames : dict
        Band -> `SDSSFrame`.
    """
    bands = BANDS.names if bands is None else tuple(bands)
    files = field_files(run, camcol, field, bands=bands, rerun=rerun, base=base,
                        retries=retries, timeout=timeout, workers=workers, keep_bytes=True)
    frames = {}
    for band, (path, source, raw) in files.items():
        try:
            frames[band] = read_frame(path, band=band, cache=cache, source=source, raw=raw)
        except ValueError:
            if raw is not None or _local_base(source) is not None:
                raise
            # a cached download that went bad since it was checked: fetch it again
            from astropy.utils.data import clear_download_cache

            log.warning("%s: the cached copy is unusable; downloading it again", source)
            clear_download_cache(source, pkgname=CACHE_PACKAGE)
            path, source, raw = field_files(run, camcol, field, bands=(band,), rerun=rerun,
                                            base=base, retries=retries, timeout=timeout,
                                            keep_bytes=True)[band]
            frames[band] = read_frame(path, band=band, cache=cache, source=source, raw=raw)
    return frames


def field_files(run, camcol, field, *, bands=None, rerun=None, base=None, retries=None,
                timeout=None, workers=None, keep_bytes=False):
    """
    The local files of one field's frames: downloaded and checked, or found in a directory.

    Parameters
    ----------
    run, camcol, field : int
    bands, rerun, base, retries, timeout, workers
        As for `fetch_field`.
    keep_bytes : bool
        Also return the decompressed bytes of every file downloaded now (read
        while checking it); `None` for a local file or a file that was in the
        download cache already.

    Returns
    -------
    files : dict
        Band -> ``(path, source, raw)``: the local file, where it came from
        (URL or path) and the decompressed bytes or `None`.
    """
    bands = BANDS.names if bands is None else tuple(bands)
    base = conf.frames_url if base is None else base
    rerun = str(conf.rerun if rerun is None else rerun).strip()
    retries = int(conf.retries if retries is None else retries)
    if retries < 1:
        raise ValueError(f"retries must be at least 1, got {retries}")
    timeout = float(conf.timeout if timeout is None else timeout)
    local = _local_base(base)
    if local is not None:
        if not local.is_dir():
            raise FileNotFoundError(f"the frames directory {local} does not exist")
        return {band: (path, str(path), None) for band, path in
                ((band, _local_frame(local, band, run, camcol, field, rerun)) for band in bands)}
    urls = {band: frame_url(band, run, camcol, field, rerun=rerun, base=base) for band in bands}

    def one(band):
        path, raw = _download(urls[band], band, retries=retries, timeout=timeout,
                              keep=keep_bytes)
        return band, (path, urls[band], raw)

    with ThreadPoolExecutor(max_workers=int(workers or len(bands))) as pool:
        return dict(pool.map(one, bands))


def frames_for_position(ra, dec=None, *, index=None, bands=None, base=None, margin=0 * u.arcsec,
                        cache=None):
    """
    The frames of the best field covering a position, ready to cut galaxies from.

    Parameters
    ----------
    ra, dec : `~astropy.units.Quantity`
        The position; ``ra`` may be a `~astropy.coordinates.SkyCoord` with ``dec=None``.
    index : `FieldIndex`, optional
        Which fields exist; by default the frames directory's own headers
        when ``base`` is a local directory, else the survey's field list
        (`FieldIndex.read`, ``conf.field_list``: a 0.5 GB download the first time).
    bands : iterable of str, optional
        ``u g r i z`` by default.
    base : str or path-like, optional
        Where the frames are (see `fetch_frame`).
    margin : `~astropy.units.Quantity`
        Prefer fields that hold the position at least this far inside (`FieldIndex.match`).
    cache : `FrameCache` or False, optional

    Returns
    -------
    frames : `FrameSet`

    Raises
    ------
    ValueError
        If no field covers the position.
    """
    coord = ra if isinstance(ra, SkyCoord) else SkyCoord(as_angle(ra, "ra"), as_angle(dec, "dec"))
    coord = coord.icrs
    base = conf.frames_url if base is None else base
    if index is None:
        local = _local_base(base)
        index = FieldIndex.from_frames(local) if local is not None else FieldIndex.read()
    rows, _ = index.match(coord.ra, coord.dec, margin=margin)
    if rows[0] < 0:
        raise ValueError(
            f"no field of {index.source} covers RA {coord.ra.deg:.5f}, Dec {coord.dec.deg:.5f}"
        )
    field = index.fields[int(rows[0])]
    frames = fetch_field(int(field["run"]), int(field["camcol"]), int(field["field"]),
                         bands=bands, rerun=str(field["rerun"]), base=base,
                         cache=DEFAULT_CACHE if cache is None else cache)
    return FrameSet(frames.values())
