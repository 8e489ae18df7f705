"""
Finding the fields of a position and fetching their frames, through a real local HTTP server.

No mock of the download path: a `http.server` thread serves a temporary
directory laid out as the SDSS Science Archive Server
(``{rerun}/{run}/{camcol}/frame-*.fits.bz2``), and can be told to fail a file
the next times it is asked for (cut short with or without a Content-Length,
corrupted, or a server error), as real downloads sometimes do.
"""

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.utils.data import is_url_in_cache

from picasso.io import sdss
from picasso.io.sdss.example import EXAMPLE_FRAMES, EXAMPLE_GALAXY

RUN, CAMCOL, FIELD = 2583, 2, 136
REAL_DIR = Path(os.environ.get("PICASSO_SDSS_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data" / "sdss"))
needs_real = pytest.mark.skipif(
    not (REAL_DIR.is_dir() and sorted(REAL_DIR.glob("frame-*-002583-2-0136.fits.bz2"))),
    reason=f"the real SDSS field (run 2583, camcol 2, field 136) is not at {REAL_DIR}",
)


class FaultyHandler(SimpleHTTPRequestHandler):
    """Serves files, failing some requests on purpose; counts every request per path."""

    faults = {}
    requests = {}

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 (http.server's name)
        path = self.path.lstrip("/")
        self.requests[path] = self.requests.get(path, 0) + 1
        pending = self.faults.get(path)
        fault = pending.pop(0) if pending else None
        if fault is None:
            return super().do_GET()
        if fault == "error":
            self.send_error(503, "busy")
            return None
        data = Path(self.directory, path).read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if fault == "partial":  # announced whole, cut short: astropy sees too few bytes
            self.send_header("Content-Length", str(len(data)))
            body = data[: len(data) // 2]
        elif fault == "truncated":  # no length announced, cut short: only the check sees it
            body = data[: len(data) // 2]
        elif fault == "corrupt":  # whole length, damaged bytes in the middle
            self.send_header("Content-Length", str(len(data)))
            middle = len(data) // 2
            body = data[:middle] + bytes(255 - b for b in data[middle:middle + 4096]) \
                + data[middle + 4096:]
        else:
            raise ValueError(fault)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
        return None


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(base URL, served directory, handler class) of a local SAS-like server."""
    root = tmp_path / "sas"
    root.mkdir()
    cache = tmp_path / "cache"
    cache.mkdir()
    # a download cache of this test's own (astropy's picasso cache honours XDG_CACHE_HOME)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    handler = type("Handler", (FaultyHandler,), {"faults": {}, "requests": {}})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/frames", root, handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _lay_out(source_dir, root, pattern="frame-*-002583-2-0136.fits.bz2"):
    folder = root / "frames" / "301" / str(RUN) / str(CAMCOL)
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(source_dir).glob(pattern)):
        os.symlink(path.resolve(), folder / path.name)
    return folder


def _served(band):
    return f"frames/301/{RUN}/{CAMCOL}/{sdss.frame_name(band, RUN, CAMCOL, FIELD)}"


def test_frame_url_follows_the_science_archive_server_layout():
    assert sdss.frame_name("r", 2583, 2, 136) == "frame-r-002583-2-0136.fits.bz2"
    assert sdss.frame_url("r", 2583, 2, 136, base="https://host/sas/frames/") == (
        "https://host/sas/frames/301/2583/2/frame-r-002583-2-0136.fits.bz2")
    assert sdss.frame_url("g", 94, 6, 12, rerun="301").startswith(sdss.conf.frames_url)
    with sdss.conf.set_temp("frames_url", "https://mirror/frames"):
        assert sdss.frame_url("u", 94, 6, 12).startswith("https://mirror/frames/301/94/6/")


def test_great_circle_coordinates_round_trip():
    rng = np.random.default_rng(1)
    ra, dec = rng.uniform(0, 360, 50), rng.uniform(-80, 80, 50)
    for node, incl in ((95.0, 0.0), (95.0, 32.5), (95.0, -11.25)):
        mu, nu = sdss.radec_to_munu(ra, dec, node, incl)
        back_ra, back_dec = sdss.munu_to_radec(mu, nu, node, incl)
        np.testing.assert_allclose(back_dec, dec, atol=1e-9)
        np.testing.assert_allclose((back_ra - ra + 180) % 360 - 180, 0, atol=1e-9)
    # Stripe 82 (incl 0, node 95): mu is RA, nu is Dec
    mu, nu = sdss.radec_to_munu(323.34, -0.73, 95.0, 0.0)
    assert mu == pytest.approx(323.34) and nu == pytest.approx(-0.73)


def field_list(path):
    """A window_flist-like table: the crop's field, its neighbour, and a field elsewhere."""
    frame = sdss.read_frame(EXAMPLE_FRAMES / "frame-r-002583-2-0136.fits.bz2")
    ny, nx = frame.shape
    corners = frame.wcs.pixel_to_world([-0.5, nx - 0.5], [-0.5, ny - 0.5])
    mu, nu = sdss.radec_to_munu(corners.ra.deg, corners.dec.deg, 95.0, 0.0)
    rows = [
        (RUN, "301", CAMCOL, FIELD, 95.0, 0.0, mu.min(), mu.max(), nu.min(), nu.max(), 0.8),
        # the same sky in another run, of lower quality
        (4000, "301", CAMCOL, 50, 95.0, 0.0, mu.min() - 0.01, mu.max(), nu.min(), nu.max(), 0.3),
        (RUN, "301", CAMCOL, FIELD + 30, 95.0, 0.0, mu.min() + 4.5, mu.max() + 4.5, nu.min(),
         nu.max(), 1.0),
    ]
    names = ("RUN", "RERUN", "CAMCOL", "FIELD", "NODE", "INCL", "MU_START", "MU_END",
             "NU_START", "NU_END", "SCORE")
    Table(rows=rows, names=names).write(path, format="fits")
    return path


def test_field_index_from_the_survey_field_list(tmp_path):
    index = sdss.FieldIndex.read(field_list(tmp_path / "window_flist.fits"))
    assert len(index) == 3
    found = index.covering(EXAMPLE_GALAXY["ra"], EXAMPLE_GALAXY["dec"])
    assert list(found["run"]) == [RUN, 4000]  # the better score first
    assert found["edge_distance"][0] > 20 * u.arcsec
    rows, depth = index.match([323.3807, 300.0] * u.deg, [-0.6825, 10.0] * u.deg)
    assert rows[1] == -1 and np.isnan(depth[1])
    assert index.fields["field"][rows[0]] == FIELD
    with pytest.raises(ValueError, match="lacks the column"):
        Table({"RUN": [1]}).write(tmp_path / "bad.fits")
        sdss.FieldIndex.read(tmp_path / "bad.fits")


def test_field_index_from_frame_headers():
    index = sdss.FieldIndex.from_frames(EXAMPLE_FRAMES)
    assert len(index) == 1
    found = index.covering(EXAMPLE_GALAXY["ra"], EXAMPLE_GALAXY["dec"])
    assert (found["run"][0], found["camcol"][0], found["field"][0]) == (RUN, CAMCOL, FIELD)
    # 192 pixels of 0.396 arcsec, the galaxy in the middle: about 38 arcsec from each edge
    assert 30 < found["edge_distance"][0].to_value(u.arcsec) < 40
    assert len(index.covering(EXAMPLE_GALAXY["ra"] + 0.1 * u.deg, EXAMPLE_GALAXY["dec"])) == 0


def test_download_detects_partial_and_corrupt_files_and_retries(server):
    base, root, handler = server
    _lay_out(EXAMPLE_FRAMES, root)
    handler.faults[_served("r")] = ["partial", "corrupt"]
    handler.faults[_served("g")] = ["truncated", "error"]
    cache = sdss.FrameCache()
    frames = sdss.fetch_field(RUN, CAMCOL, FIELD, base=base, retries=3, cache=cache)
    assert sorted(frames) == sorted("ugriz")
    assert handler.requests[_served("r")] == 3 and handler.requests[_served("g")] == 3
    assert handler.requests[_served("u")] == 1
    for band, frame in frames.items():
        assert frame.band == band and frame.shape == (192, 192)
        assert frame.path.startswith(base) and frame.path.endswith(".fits.bz2")
        local = sdss.read_frame(EXAMPLE_FRAMES / Path(frame.path).name, cache=False)
        np.testing.assert_array_equal(frame.image.value, local.image.value)
    # Downloaded once: a second fetch is served from astropy's cache, not the server.
    again = sdss.fetch_field(RUN, CAMCOL, FIELD, base=base, bands=("r",), cache=False)
    assert handler.requests[_served("r")] == 3
    np.testing.assert_array_equal(again["r"].image.value, frames["r"].image.value)


def test_a_cached_file_that_went_bad_is_fetched_again(server):
    from astropy.utils.data import download_file

    base, root, handler = server
    _lay_out(EXAMPLE_FRAMES, root, "frame-z-*.fits.bz2")
    sdss.fetch_frame("z", RUN, CAMCOL, FIELD, base=base, cache=False)
    url = sdss.frame_url("z", RUN, CAMCOL, FIELD, base=base)
    cached = Path(download_file(url, cache=True, pkgname="picasso"))
    cached.write_bytes(cached.read_bytes()[:1000])  # a disk that lost the end of the file
    frame = sdss.fetch_frame("z", RUN, CAMCOL, FIELD, base=base, cache=False)
    assert frame.shape == (192, 192)
    assert handler.requests[_served("z")] == 2


def test_a_file_that_stays_corrupt_is_never_used(server):
    base, root, handler = server
    _lay_out(EXAMPLE_FRAMES, root)
    handler.faults[_served("i")] = ["corrupt", "truncated"]
    url = sdss.frame_url("i", RUN, CAMCOL, FIELD, base=base)
    with pytest.raises(OSError, match="could not download a valid .* in 2 attempt"):
        sdss.fetch_frame("i", RUN, CAMCOL, FIELD, base=base, retries=2, cache=False)
    assert not is_url_in_cache(url, pkgname="picasso")
    with pytest.raises(FileNotFoundError, match="HTTP 404"):
        sdss.fetch_frame("r", RUN, CAMCOL, FIELD + 1, base=base, cache=False)


def test_a_local_directory_works_the_same_way(tmp_path):
    flat = sdss.fetch_field(RUN, CAMCOL, FIELD, base=EXAMPLE_FRAMES, bands=("g", "r"),
                            cache=False)
    assert flat["r"].path == str(EXAMPLE_FRAMES / "frame-r-002583-2-0136.fits.bz2")
    _lay_out(EXAMPLE_FRAMES, tmp_path)
    with sdss.conf.set_temp("frames_url", f"file://{tmp_path / 'frames'}"):
        laid_out = sdss.fetch_frame("g", RUN, CAMCOL, FIELD, cache=False)
    assert "301/2583/2/" in laid_out.path
    np.testing.assert_array_equal(laid_out.image.value, flat["g"].image.value)
    with pytest.raises(FileNotFoundError, match="no z frame of run 2583 camcol 2 field 999"):
        sdss.fetch_frame("z", RUN, CAMCOL, 999, base=EXAMPLE_FRAMES)


def test_frames_for_a_position_from_a_local_directory():
    frames = sdss.frames_for_position(EXAMPLE_GALAXY["ra"], EXAMPLE_GALAXY["dec"],
                                      base=EXAMPLE_FRAMES)
    assert frames.bands == tuple("ugriz")
    with pytest.raises(ValueError, match="no field of .* covers RA 322.77000"):
        sdss.frames_for_position(322.77 * u.deg, 0.01 * u.deg, base=EXAMPLE_FRAMES)


@pytest.mark.slow
@needs_real
def test_frames_for_a_position_through_the_server(server, tmp_path):
    # The real field, served as the SAS serves it, found from a field list and fetched.
    base, root, handler = server
    _lay_out(REAL_DIR, root)
    frame = sdss.read_frame(REAL_DIR / "frame-r-002583-2-0136.fits.bz2", cache=False)
    ny, nx = frame.shape
    corners = frame.wcs.pixel_to_world([-0.5, nx - 0.5], [-0.5, ny - 0.5])
    mu, nu = sdss.radec_to_munu(corners.ra.deg, corners.dec.deg, 95.0, 0.0)
    table = Table({"RUN": [RUN], "CAMCOL": [CAMCOL], "FIELD": [FIELD], "NODE": [95.0],
                   "INCL": [0.0], "MU_START": [mu.min()], "MU_END": [mu.max()],
                   "NU_START": [nu.min()], "NU_END": [nu.max()]})
    table.write(tmp_path / "window_flist.fits")
    index = sdss.FieldIndex.read(tmp_path / "window_flist.fits")
    # the README's old position is on none of these frames; the extended sources are
    assert len(index.covering(322.77 * u.deg, 0.01 * u.deg)) == 0
    frames = sdss.frames_for_position(323.4193 * u.deg, -0.6433 * u.deg, index=index,
                                      base=base, cache=sdss.FrameCache())
    assert frames.bands == tuple("ugriz")
    assert frames.frames("r")[0].shape == (1489, 2048)
    assert all(count == 1 for count in handler.requests.values())
    cutout = sdss.cutout_from_frames(frames, 323.3807 * u.deg, -0.6825 * u.deg, 0.05, size=64)
    assert cutout.shape == (64, 64)


def test_fetched_files_land_in_the_picasso_download_cache(server):
    base, root, handler = server
    _lay_out(EXAMPLE_FRAMES, root, "frame-u-*.fits.bz2")
    url = sdss.frame_url("u", RUN, CAMCOL, FIELD, base=base)
    sdss.fetch_frame("u", RUN, CAMCOL, FIELD, base=base, cache=False)
    assert is_url_in_cache(url, pkgname="picasso")
    cache_root = Path(os.environ["XDG_CACHE_HOME"]) / "picasso"
    assert any(cache_root.rglob("contents"))
    shutil.rmtree(cache_root)


def test_a_cache_folder_half_made_by_a_parallel_download_is_not_fatal(server, monkeypatch):
    # astropy's check of its cache folder is not atomic: while a download beside this one
    # makes the folder, it can look like "not a directory"
    import astropy.utils.data

    base, root, handler = server
    _lay_out(EXAMPLE_FRAMES, root, "frame-u-*.fits.bz2")
    real = astropy.utils.data.is_url_in_cache
    calls = []

    def racing(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise NotADirectoryError("Data cache directory ... is not a directory")
        return real(*args, **kwargs)

    monkeypatch.setattr(astropy.utils.data, "is_url_in_cache", racing)
    frame = sdss.fetch_frame("u", RUN, CAMCOL, FIELD, base=base, cache=False)
    assert frame.band == "u" and len(calls) == 1


def test_field_list_columns_any_case(tmp_path):
    path = field_list(tmp_path / "flist.fits")
    with fits.open(path) as hdul:
        table = Table(hdul[1].data)
    table.rename_columns(table.colnames, [name.lower() for name in table.colnames])
    table.write(tmp_path / "lower.ecsv")
    index = sdss.FieldIndex.read(tmp_path / "lower.ecsv")
    assert len(index) == 3
