import threading
import warnings

import pytest

from picasso.utils.threads import catch_warnings_locked


def test_one_thread_at_a_time_changes_the_warning_filters():
    inside = threading.Event()
    release = threading.Event()
    entered = []

    def first():
        with catch_warnings_locked():
            warnings.simplefilter("ignore", UserWarning)
            inside.set()
            release.wait(5)

    def second():
        with catch_warnings_locked():
            entered.append(True)

    holder = threading.Thread(target=first)
    holder.start()
    assert inside.wait(5)
    waiter = threading.Thread(target=second)
    waiter.start()
    waiter.join(0.2)
    assert not entered, "a second thread changed the filters while the first held them"
    release.set()
    holder.join(5)
    waiter.join(5)
    assert entered == [True]


def test_filters_are_restored_and_warnings_recorded():
    with catch_warnings_locked(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("recorded", UserWarning)
    assert [str(w.message) for w in caught] == ["recorded"]
    with pytest.warns(UserWarning, match="after"):
        warnings.warn("after", UserWarning)
