"""Python objects the library refers to by a number (its user_data), kept alive until the
library says it is done with them by calling `RELEASE` (an rf_destructor) with that number.

A sink's callbacks and a step's code must outlive every call the library can still make, which
only the library knows: it calls the destructor once the sink or step definition is released
and no longer called. Dropping the Python object earlier must not free what C will call.
"""
from __future__ import annotations

import ctypes
import itertools
import threading
from typing import Any, Optional

from . import _capi as c

_objects: dict[int, Any] = {}
# Reentrant: a finalizer that runs while it is held (the garbage collector may run at any
# allocation) may release a library object whose destructor calls forget() on this thread.
_lock = threading.RLock()
_ids = itertools.count(1)


def keep(value: Any) -> int:
    """Keeps `value` alive; returns the number to pass as user_data."""
    with _lock:
        number = next(_ids)
        _objects[number] = value
    return number


def get(number: int) -> Optional[Any]:
    return _objects.get(number)


def forget(number: int) -> None:
    """Lets go of a kept value (the library called RELEASE, or never took the number)."""
    with _lock:
        value = _objects.pop(number, None)
    # Dropped outside the lock: it may be the last reference to an object whose finalizer
    # releases a library object, and so calls back in here.
    del value


def _release(user_data: Optional[int]) -> None:
    forget(user_data or 0)


# The destructor passed with every kept number: a module global, so it is never collected.
RELEASE = c.rf_destructor(_release)


def user_data(number: int) -> ctypes.c_void_p:
    return ctypes.c_void_p(number)
