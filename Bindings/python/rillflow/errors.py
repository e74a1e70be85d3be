"""Exceptions: every non-zero rf_status becomes one of these, carrying rf_last_error()."""
from __future__ import annotations

from . import _capi as c


class RillflowError(Exception):
    """A call into librillflow failed. `status` is the rf_status, `status_name` its name."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.status_name = c.lib.rf_status_name(status).decode()


class InvalidArgument(RillflowError, ValueError):
    """An argument is missing or out of range (RF_E_INVALID_ARGUMENT, RF_E_STRUCT_SIZE, RF_E_TOO_LARGE)."""


class InvalidHandle(RillflowError):
    """The object was released (RF_E_INVALID_HANDLE)."""


class InvalidState(RillflowError):
    """The object's state does not allow the call (RF_E_STATE), e.g. resuming a run that is not waiting."""


class Timeout(RillflowError, TimeoutError):
    """A wait ran out of time (RF_E_TIMEOUT, RF_E_AGAIN)."""


class Closed(RillflowError):
    """The object was closed while the call waited (RF_E_CLOSED, RF_E_END_OF_STREAM)."""


class NotFound(RillflowError, LookupError):
    """A named thing does not exist (RF_E_NOT_FOUND, RF_E_SEQ_UNAVAILABLE)."""


class Cancelled(RillflowError):
    """The step's run has ended or its try timed out (RF_E_CANCELLED)."""


class CorruptHistory(RillflowError):
    """Bytes of the durable history are damaged (RF_E_CORRUPT). The message names the file,
    offset and seq; a stream raising it is closed, so open a new one from a later seq to read on."""


class SystemFailure(RillflowError, OSError):
    """The operating system or the library failed (RF_E_SYSTEM, RF_E_NO_MEMORY, RF_E_INTERNAL)."""


_FAMILIES = {
    c.RF_E_INVALID_ARGUMENT: InvalidArgument,
    c.RF_E_STRUCT_SIZE: InvalidArgument,
    c.RF_E_TOO_LARGE: InvalidArgument,
    c.RF_E_INVALID_HANDLE: InvalidHandle,
    c.RF_E_STATE: InvalidState,
    c.RF_E_TIMEOUT: Timeout,
    c.RF_E_AGAIN: Timeout,
    c.RF_E_CLOSED: Closed,
    c.RF_E_END_OF_STREAM: Closed,
    c.RF_E_NOT_FOUND: NotFound,
    c.RF_E_SEQ_UNAVAILABLE: NotFound,
    c.RF_E_CANCELLED: Cancelled,
    c.RF_E_CORRUPT: CorruptHistory,
    c.RF_E_SYSTEM: SystemFailure,
    c.RF_E_NO_MEMORY: SystemFailure,
    c.RF_E_INTERNAL: SystemFailure,
}


def error_for(status: int) -> RillflowError:
    """The exception for a failed call's status, with the calling thread's last error message."""
    message = c.lib.rf_last_error().decode(errors="replace")
    return _FAMILIES.get(status, RillflowError)(status, message)


def check(status: int) -> None:
    """Raises the matching exception unless status is RF_OK."""
    if status != 0:
        raise error_for(status)


class RunError(Exception):
    """A run ended without completing. `status` is "failed", "timed_out" or "cancelled";
    `event` the terminal event (its data says why: step, error, attempts; or the timeout)."""

    def __init__(self, status: str, message: str, event=None) -> None:
        super().__init__(message)
        self.status = status
        self.event = event


class RunFailed(RunError):
    pass


class RunTimedOut(RunError, TimeoutError):
    pass


class RunCancelled(RunError):
    pass
