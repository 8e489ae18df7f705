"""
Warning filters in threaded code.

Python's warning filters are process-wide: `warnings.catch_warnings` saves
them on entry and restores them on exit, so two threads that use it at once
can undo each other's changes, and a warning one thread silenced reaches
another as an error where warnings are errors (as under pytest). picasso
reads and checks SDSS frames in threads; its code that changes the filters
there goes through `catch_warnings_locked`.
"""

import threading
import warnings
from contextlib import contextmanager

__all__ = ["catch_warnings_locked"]

_FILTERS_LOCK = threading.RLock()


@contextmanager
def catch_warnings_locked(**kwargs):
    """
    `warnings.catch_warnings`, with every other caller of this function held off meanwhile.

    Parameters
    ----------
    **kwargs
        Passed to `warnings.catch_warnings` (``record=True`` yields the list).

    Yields
    ------
    caught : list or None
        What `warnings.catch_warnings` yields.
    """
    with _FILTERS_LOCK, warnings.catch_warnings(**kwargs) as caught:
        yield caught
