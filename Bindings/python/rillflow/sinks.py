"""Sinks: every event of every run, delivered to a Python callable beside the live streams.

The engine calls the sink on a thread of its own (never a step's), one run's events in order,
in batches; the callable gets a list of Events. Raising makes the engine offer the same batch
again after the backoff (and disable the sink after `max_failures` failures in a row).
"""
from __future__ import annotations

import ctypes
import struct
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

from . import _capi as c
from . import _kept
from .errors import check
from .events import KINDS, Event, packed_entry

if TYPE_CHECKING:
    from .engine import Engine

_RF_EVENT = struct.Struct("<IIQqQQQQQQIIQQ")  # rf_event, 96 bytes
assert _RF_EVENT.size == ctypes.sizeof(c.rf_event)


def _events(pointer: Any, count: int) -> list[Event]:
    """Events copied out of an rf_event array (valid during the callback only)."""
    raw = ctypes.string_at(pointer, _RF_EVENT.size * count)
    string_at, events = ctypes.string_at, []
    for (_, kind, seq, ts, run, parent, root, workflow, step, topic, attempt, length, token, data) in _RF_EVENT.iter_unpack(raw):
        entry = packed_entry(kind, seq, ts, run, parent, root, token, attempt, string_at(workflow), string_at(step),
                             string_at(topic), string_at(data, length))
        events.append(Event((kind, seq, entry)))
    return events


class Sink:
    """A registered sink. `stats` reports what it did; `close(timeout)` drains and detaches it."""

    def __init__(self, engine: "Engine", deliver: Callable[[list[Event]], None], *,
                 run_ended: Optional[Callable[[int], None]] = None, kinds: Optional[Iterable[str]] = None,
                 lossy: bool = False, max_failures: int = 0, retry_backoff: float = 0.1) -> None:
        self._deliver = deliver
        self._run_ended_callable = run_ended
        # The C callbacks live on this object, which stays alive (kept under the number the
        # library gets as user_data) until the library lets go of the sink: dropping it
        # without close() must not free what the sink thread calls.
        self._callback = c.rf_sink_fn(self._on_events)
        self._ended_callback = c.rf_sink_run_ended_fn(self._on_run_ended)
        options = c.rf_sink_options()
        check(c.lib.rf_sink_options_init(ctypes.byref(options), ctypes.sizeof(options)))
        options.flags = c.RF_SINK_LOSSY if lossy else 0
        if kinds is not None:
            options.kinds = sum(c.kind_bit(KINDS[kind]) for kind in set(kinds))
        options.max_failures = c.in_range(max_failures, c.UINT32_MAX, "max_failures")
        options.retry_backoff_ms = c.in_range(max(1, round(retry_backoff * 1000)), c.UINT32_MAX, "retry_backoff in milliseconds")
        options.run_ended = self._ended_callback
        self.error: Optional[BaseException] = None  # the last exception the callable raised
        self._lock = threading.Lock()
        handle = c.handle()
        number = _kept.keep(self)
        try:
            check(c.lib.rf_engine_add_sink(engine.handle, self._callback, _kept.user_data(number), _kept.RELEASE,
                                           ctypes.byref(options), ctypes.byref(handle)))
        except BaseException:
            _kept.forget(number)  # refused: the library never took it
            raise
        self._handle: Optional[int] = handle.value

    def _on_events(self, _user_data: Any, events: Any, count: int) -> int:
        try:
            self._deliver(_events(events, count))
            return c.RF_OK
        except BaseException as error:  # noqa: BLE001 - reported through stats and retried
            self.error = error
            return c.RF_E_SYSTEM

    def _on_run_ended(self, _user_data: Any, run_id: int) -> None:
        if self._run_ended_callable is not None:
            try:
                self._run_ended_callable(run_id)
            except BaseException as error:  # noqa: BLE001
                self.error = error

    @property
    def stats(self) -> dict[str, Any]:
        """delivered, dropped, failures, runs, disabled and last_error."""
        stats = c.rf_sink_stats(struct_size=ctypes.sizeof(c.rf_sink_stats))
        with self._lock:
            if self._handle is None:
                raise ValueError("the sink is closed")
            check(c.lib.rf_sink_get_stats(self._handle, ctypes.byref(stats)))
        return {"delivered": stats.delivered, "dropped": stats.dropped, "failures": stats.failures, "runs": stats.runs,
                "disabled": bool(stats.disabled), "last_error": stats.last_error.decode(errors="replace")}

    def close(self, timeout: Optional[float] = None) -> None:
        """Delivers what was emitted so far (waiting at most `timeout` seconds; None: no limit),
        then detaches the sink. Raises Timeout if it had not caught up (it is closed anyway).
        Raises InvalidState in a sink's own callback (the sink thread), and the sink stays open."""
        milliseconds = -1 if timeout is None or timeout == float("inf") else min(max(0, round(timeout * 1000)), 2**31 - 1)
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            status = c.lib.rf_sink_release(handle, milliseconds)
            if status not in (c.RF_OK, c.RF_E_TIMEOUT):  # not released (e.g. on the sink thread): still ours
                with self._lock:
                    self._handle = handle
            check(status)
