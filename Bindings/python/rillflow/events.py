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

# The header of a packed event (rf_packed_event, 72 bytes); its names and data follow it.
_HEADER = struct.Struct("<IIQqQQQQIIHHHH")
assert _HEADER.size == ctypes.sizeof(c.rf_packed_event)

_string_at = ctypes.string_at
# (workflow, step, topic) by their packed bytes: decoded once per distinct combination. (Looking
# up the run ids the same way costs more: the key must then be built from two slices.)
_sources: dict[bytes, tuple[str, str, str]] = {}


def _source_names(key: bytes, workflow_length: int, step_length: int) -> tuple[str, str, str]:
    if len(_sources) > 4096:
        _sources.clear()
    names = _sources[key] = (key[:workflow_length].decode("utf-8", "replace"),
                             key[workflow_length:workflow_length + step_length].decode("utf-8", "replace"),
                             key[workflow_length + step_length:].decode("utf-8", "replace"))
    return names


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
    attempt: int = property(itemgetter(7))  # type: ignore[assignment]
    token_index: int = property(itemgetter(8))  # type: ignore[assignment]
    raw: bytes = property(itemgetter(9))  # type: ignore[assignment]

    @property
    def workflow(self) -> str:
        return self[6][0]

    @property
    def step(self) -> str:
        """The step's name; "" for run-level events."""
        return self[6][1]

    @property
    def topic(self) -> str:
        """A custom event's topic; "" otherwise."""
        return self[6][2]

    @property
    def kind(self) -> str:
        return KIND_NAMES.get(self[0], "unknown")

    @property
    def data(self) -> Any:
        """The token's text for a token delta; the decoded JSON otherwise (None when empty)."""
        raw = self[9]
        if self[0] == c.RF_EVENT_TOKEN:
            return raw.decode("utf-8", "replace")
        return json.loads(raw) if raw else None

    @property
    def text(self) -> str:
        """The data as text, undecoded."""
        return self[9].decode("utf-8", "replace")

    @property
    def is_terminal(self) -> bool:
        return self[0] in TERMINAL_KINDS

    def to_json(self) -> str:
        """The JSON envelope every binding and sink shares, rendered by the library itself."""
        workflow, step, topic = (s.encode() for s in self[6])
        raw = self[9]
        event = c.rf_event(
            struct_size=ctypes.sizeof(c.rf_event), kind=self[0], seq=self[1], timestamp_ns=self[2],
            run_id=self[3], parent_run_id=self[4], root_run_id=self[5],
            workflow_name=ctypes.cast(ctypes.c_char_p(workflow), ctypes.c_void_p),
            step_name=ctypes.cast(ctypes.c_char_p(step), ctypes.c_void_p),
            topic=ctypes.cast(ctypes.c_char_p(topic), ctypes.c_void_p),
            attempt=self[7], data_len=len(raw), token_index=self[8],
            data=ctypes.cast(ctypes.c_char_p(raw), ctypes.c_void_p))
        length = ctypes.c_size_t()
        c.lib.rf_event_to_json(ctypes.byref(event), None, 0, ctypes.byref(length))
        buffer = ctypes.create_string_buffer(length.value + 1)
        check(c.lib.rf_event_to_json(ctypes.byref(event), buffer, len(buffer), ctypes.byref(length)))
        return buffer.raw[: length.value].decode()

    def __repr__(self) -> str:
        where = f" step={self.step!r}" if self.step else ""
        return f"Event(seq={self[1]}, kind={self.kind!r}{where}, data={self[9][:60]!r})"


class BatchReader:
    """Reads a subscription in batches (rf_subscription_read_packed: one copy per batch) into
    Events. One per subscription; one thread at a time."""

    def __init__(self, subscription: int) -> None:
        self._subscription = subscription
        count, used = ctypes.c_uint32(), ctypes.c_uint32()
        # Asked with no buffer, the library says how big one must be for this run's events.
        status = c.lib.rf_subscription_read_packed(subscription, None, 0, 0, ctypes.byref(count), ctypes.byref(used))
        if status != c.RF_E_TOO_LARGE:
            check(status)
        self._capacity = used.value + (256 << 10)
        self._buffer = ctypes.create_string_buffer(self._capacity)
        self._address = ctypes.addressof(self._buffer)
        self._count, self._used = count, used
        self._count_ref, self._used_ref = ctypes.byref(count), ctypes.byref(used)

    def read(self, timeout_ms: int) -> tuple[int, list[Event]]:
        """(status, events): RF_OK with at least one event, or the status that stopped it."""
        status = c.lib.rf_subscription_read_packed(self._subscription, self._address, self._capacity, timeout_ms,
                                                   self._count_ref, self._used_ref)
        if status != 0:
            return status, []
        data = _string_at(self._address, self._used.value)
        unpack, sources = _HEADER.unpack_from, _sources
        rows = []
        append = rows.append
        offset = 0
        for _ in range(self._count.value):
            size, kind, seq, ts, run, parent, root, token, attempt, length, wlen, slen, tlen, _r = unpack(data, offset)
            start = offset + 72
            end = start + wlen + slen + tlen
            key = data[start:end]
            append((kind, seq, ts, run, parent, root, sources.get(key) or _source_names(key, wlen, slen), attempt,
                    token, data[end:end + length]))
            offset += size
        return 0, list(map(Event, rows))  # made in one C loop: much cheaper than one by one
