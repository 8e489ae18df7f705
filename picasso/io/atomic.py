"""Atomic file writing: outputs appear whole or not at all."""

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_path"]


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
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
