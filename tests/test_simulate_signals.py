"""``picasso simulate`` in a real process: killed, terminated and interrupted builds.

The worker processes of a build must never outlive it (they used to stay
orphaned, blocked writing to a pipe nobody reads), and a build stopped by
SIGTERM or Ctrl-C must leave a partial file that ``--resume`` finishes into the
same dataset as a straight build. These tests read ``/proc``, so they run on
Linux only.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from picasso.cli import main

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not Path("/proc/self/stat").exists(),
    reason="finds worker processes through Linux's /proc",
)

#: 40 galaxies of 32 x 32 px take a few seconds on two cores: long enough to stop the build.
SETTINGS = ["-n", "40", "--size", "32", "--views", "2", "--processes", "2", "--no-progress"]
VIEWS = 2

#: Run the command line with the default Ctrl-C handler, even when the test
#: runner was started with SIGINT ignored (as a background job is).
COMMAND_LINE = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from picasso.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _stat(pid):
    """``(state, ppid, start time)`` of a process, or `None` if it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def _children(pid):
    """Child processes of ``pid``: pid -> start time (which tells a reused pid apart)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(entry.name)
            if stat is not None and stat[1] == pid:
                children[int(entry.name)] = stat[2]
    return children


def _running(pid, start):
    """Whether the process ``pid`` started at ``start`` still runs (a zombie has ended)."""
    stat = _stat(pid)
    return stat is not None and stat[2] == start and stat[0] not in "ZX"


def _wait_until_gone(workers, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid, start in workers.items() if _running(pid, start)]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def _start(tmp_path, output, *extra):
    """Start ``picasso simulate`` in a new process; its output goes to files in ``tmp_path``."""
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-c", COMMAND_LINE, "simulate", *SETTINGS, "-o", str(output), *extra],
            stdout=stdout,
            stderr=stderr,
        )


def _wait_for_a_galaxy(process, partial, timeout=60):
    """Wait until the build has written at least one whole galaxy to its partial file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the build ended (status {process.returncode}) before it was stopped")
        if partial.exists():
            try:
                # the build holds the file open for writing: read without HDF5's lock
                with h5py.File(partial, "r", locking=False) as handle:
                    if int(handle.attrs.get("n_complete", 0)) >= VIEWS:
                        return
            except (OSError, KeyError, ValueError):
                pass  # caught half-way through a write; look again
        time.sleep(0.02)
    pytest.fail(f"no galaxy in {partial} after {timeout} s")


def _clean_up(process, workers):
    """Leave no process behind, whatever the test found."""
    if process.poll() is None:
        process.kill()
    process.wait()
    for pid, start in workers.items():
        if _running(pid, start):
            os.kill(pid, signal.SIGKILL)


def _contents(path):
    with h5py.File(path, "r") as handle:
        return [handle[name][...] for name in ("images", "truth", "galaxies")], dict(handle.attrs)


def _stop(tmp_path, signum):
    """Start a build, stop it with ``signum`` once it wrote a galaxy; its status and workers."""
    output = tmp_path / "pairs.h5"
    process = _start(tmp_path, output)
    workers = {}
    try:
        _wait_for_a_galaxy(process, Path(f"{output}.partial"))
        workers = _children(process.pid)
        assert len(workers) >= 2
        os.kill(process.pid, signum)
        status = process.wait(timeout=30)
        alive = _wait_until_gone(workers, timeout=10)
    finally:
        _clean_up(process, workers)
    assert not alive, f"worker processes {alive} outlived the build"
    return output, status


def test_workers_exit_when_the_build_is_killed(tmp_path):
    output, status = _stop(tmp_path, signal.SIGKILL)
    assert status == -signal.SIGKILL
    assert Path(f"{output}.partial").exists() and not output.exists()


@pytest.mark.parametrize(
    ("signum", "expected"),
    [
        pytest.param(signal.SIGTERM, 143, id="SIGTERM"),
        pytest.param(signal.SIGINT, 130, id="SIGINT"),
    ],
)
def test_stopped_build_exits_cleanly_and_resumes(tmp_path, signum, expected):
    output, status = _stop(tmp_path, signum)
    stderr = (tmp_path / "stderr").read_text()
    assert status == expected, stderr
    assert (tmp_path / "stdout").read_text() == ""
    assert f"interrupted by {signal.Signals(signum).name}" in stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    partial = Path(f"{output}.partial")
    assert partial.exists() and not output.exists()
    with h5py.File(partial, "r") as handle:
        n_complete = int(handle.attrs["n_complete"])
        assert VIEWS <= n_complete < 40 * VIEWS
        assert len(handle["images"]) == len(handle["galaxies"]) == n_complete
    if signum != signal.SIGTERM:
        return  # one resume is enough; both signals leave the same kind of partial file
    assert main(["simulate", *SETTINGS, "-o", str(output), "--resume"]) == 0
    reference = tmp_path / "reference.h5"
    assert main(["simulate", *SETTINGS, "-o", str(reference)]) == 0
    (resumed, resumed_attrs), (straight, straight_attrs) = _contents(output), _contents(reference)
    for a, b in zip(resumed, straight):
        assert_array_equal(a, b)
    assert resumed_attrs["generator"] == straight_attrs["generator"]
    assert_array_equal(resumed[2]["galaxy_id"], np.repeat(np.arange(40), VIEWS))
