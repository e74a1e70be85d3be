"""Events as light Python objects, and the batch reader that makes them.

An Event is a tuple subclass (no per-instance dict): its fields are read through properties,
and `data` is decoded when it is read: the text of a token delta, the JSON value otherwise.
"""
from __future__ import annotations

import ctypes
import json
import struct
from operator import itemgetter
from typing import Any

from . import _capi as c
from .errors import check

KIND_NAMES = {kind: c.lib.rf_event_kind_name(kind).decode() for kind in range(1, 17)}
KINDS = {name: kind for kind, name in KIND_NAMES.items()}
TERMINAL_KINDS = frozenset({c.RF_EVENT_RUN_COMPLETED, c.RF_EVENT_RUN_FAILED, c.RF_EVENT_RUN_TIMED_OUT,
                            c.RF_EVENT_RUN_CANCELLED})

# The layout of rf_event (96 bytes), read in one go for a whole batch.
_LAYOUT = struct.Struct("<IIQqQQQQQQIIQQ")
assert _LAYOUT.size == ctypes.sizeof(c.rf_event)

_string_at = ctypes.string_at
_names: dict[bytes, str] = {}


def _name(pointer: int) -> str:
    """A NUL-terminated name from an event, decoded once per distinct name."""
    raw = _string_at(pointer)
    name = _names.get(raw)
    if name is None:
        if len(_names) > 4096:
            _names.clear()
        name = _names[raw] = raw.decode("utf-8", "replace")
    return name


class Event(tuple):
    """One event of a run's stream: seq, kind (a name such as "token"), timestamp_ns, run ids,
    workflow and step names, topic, attempt, token index and data."""

    __slots__ = ()

    kind_id: int = property(itemgetter(0))  # type: ignore[assignment]
    seq: int = property(itemgetter(1))  # type: ignore[assignment]
    timestamp_ns: int = property(itemgetter(2))  # type: ignore[assignment]
    run_id: int = property(itemgetter(3))  # type: ignore[assignment]
    parent_run_id: int = property(itemgetter(4))  # type: ignore[assignment]
    root_run_id: int = property(itemgetter(5))  # type: ignore[assignment]
    workflow: str = property(itemgetter(6))  # type: ignore[assignment]
    step: str = property(itemgetter(7))  # type: ignore[assignment]
    topic: str = property(itemgetter(8))  # type: ignore[assignment]
    attempt: int = property(itemgetter(9))  # type: ignore[assignment]
    token_index: int = property(itemgetter(10))  # type: ignore[assignment]
    raw: bytes = property(itemgetter(11))  # type: ignore[assignment]

    @property
    def kind(self) -> str:
        return KIND_NAMES.get(self[0], "unknown")

    @property
    def data(self) -> Any:
        """The token's text for a token delta; the decoded JSON otherwise (None when empty)."""
        raw = self[11]
        if self[0] == c.RF_EVENT_TOKEN:
            return raw.decode("utf-8", "replace")
        return json.loads(raw) if raw else None

    @property
    def text(self) -> str:
        """The data as text, undecoded."""
        return self[11].decode("utf-8", "replace")

    @property
    def is_terminal(self) -> bool:
        return self[0] in TERMINAL_KINDS

    def to_json(self) -> str:
        """The JSON envelope every binding and sink shares, rendered by the library itself."""
        workflow, step, topic = (s.encode() for s in (self[6], self[7], self[8]))
        raw = self[11]
        event = c.rf_event(
            struct_size=ctypes.sizeof(c.rf_event), kind=self[0], seq=self[1], timestamp_ns=self[2],
            run_id=self[3], parent_run_id=self[4], root_run_id=self[5],
            workflow_name=ctypes.cast(ctypes.c_char_p(workflow), ctypes.c_void_p),
            step_name=ctypes.cast(ctypes.c_char_p(step), ctypes.c_void_p),
            topic=ctypes.cast(ctypes.c_char_p(topic), ctypes.c_void_p),
            attempt=self[9], data_len=len(raw), token_index=self[10],
            data=ctypes.cast(ctypes.c_char_p(raw), ctypes.c_void_p))
        length = ctypes.c_size_t()
        c.lib.rf_event_to_json(ctypes.byref(event), None, 0, ctypes.byref(length))
        buffer = ctypes.create_string_buffer(length.value + 1)
        check(c.lib.rf_event_to_json(ctypes.byref(event), buffer, len(buffer), ctypes.byref(length)))
        return buffer.raw[: length.value].decode()

    def __repr__(self) -> str:
        where = f" step={self[7]!r}" if self[7] else ""
        return f"Event(seq={self[1]}, kind={self.kind!r}{where}, data={self[11][:60]!r})"


class BatchReader:
    """Reads a subscription in batches into Events. One per subscription; one thread at a time."""

    CAPACITY = 256

    def __init__(self, subscription: int) -> None:
        self._subscription = subscription
        self._buffer = (c.rf_event * self.CAPACITY)()
        self._buffer[0].struct_size = ctypes.sizeof(c.rf_event)
        self._address = ctypes.addressof(self._buffer)
        self._count = ctypes.c_uint32()
        self._count_ref = ctypes.byref(self._count)

    def read(self, timeout_ms: int) -> tuple[int, list[Event]]:
        """(status, events): RF_OK with at least one event, or the status that stopped it."""
        status = c.lib.rf_subscription_read_batch(self._subscription, self._address, self.CAPACITY, timeout_ms,
                                                  self._count_ref)
        if status != 0:
            return status, []
        count = self._count.value
        raw = _string_at(self._address, 96 * count)
        new, name, string_at = tuple.__new__, _name, _string_at
        events = [
            new(Event, (kind, seq, ts, run, parent, root, name(wf), name(step) if step else "",
                        name(topic) if kind == 4 else "", attempt, token, string_at(data, length)))
            for (_, kind, seq, ts, run, parent, root, wf, step, topic, attempt, length, token, data)
            in _LAYOUT.iter_unpack(raw)
        ]
        return 0, events
