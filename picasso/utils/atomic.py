"""Atomic file writing: outputs appear whole or not at all."""

import contextlib
import os
import tempfile
import threading
from pathlib import Path

__all__ = ["atomic_path", "new_file_mode"]

_UMASK_LOCK = threading.Lock()


def new_file_mode():
    """
    The permission bits a new file gets from `open`: ``0o666`` less the umask.

    `tempfile.mkstemp` creates private (``0o600``) files whatever the umask;
    `atomic_path` gives its output these bits instead, so an atomic write
    leaves the file as readable as a plain one would be.

    Returns
    -------
    mode : int
    """
    # os.umask can only be read by setting it; the lock keeps threads from racing on it
    with _UMASK_LOCK:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path, *, overwrite=False, suffix=None):
    """
    Give a temporary path next to ``path`` and move it into place on success.

    The caller writes the whole file to the temporary path inside the ``with``
    block. When the block ends without an error the file replaces ``path``
    with `os.replace` (atomic on POSIX file systems); when it raises, the
    temporary file is removed and ``path`` is left as it was, so a crash never
    leaves a truncated output behind.

    Parameters
    ----------
    path : str or `~pathlib.Path`
        Final destination.
    overwrite : bool
        Replace an existing file. If `False` and ``path`` exists, raise.
    suffix : str, optional
        Suffix of the temporary file (some writers choose the format from
        it); by default the destination's own suffix.

    Yields
    ------
    tmp_path : `~pathlib.Path`
        Where to write.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is `False`.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    mode = (path.stat().st_mode & 0o7777) if path.exists() else new_file_mode()
    if not path.parent.exists():
        raise FileNotFoundError(f"directory {path.parent} does not exist; create it first")
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix if suffix is not None else path.suffix,
        dir=path.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        # a replaced file keeps its permissions; a new one gets those of a plain open()
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
