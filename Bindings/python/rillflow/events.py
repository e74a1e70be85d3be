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

# The header of a packed event (rf_packed_event, 72 bytes); its names and data follow it. The
# run ids (bytes 24-48) are not unpacked: with the names they identify the event's source, which
# is looked up by those bytes (few distinct sources, so few int and str objects are ever made).
_HEADER = struct.Struct("<IIQq24xQIIHHH2x")
assert _HEADER.size == ctypes.sizeof(c.rf_packed_event)
_IDS = struct.Struct("<QQQ")

_string_at = ctypes.string_at
# (run_id, parent_run_id, root_run_id, workflow, step, topic) by their packed bytes.
_sources: dict[bytes, tuple[int, int, int, str, str, str]] = {}


def _source(key: bytes, workflow_length: int, step_length: int) -> tuple[int, int, int, str, str, str]:
    if len(_sources) > 4096:
        _sources.clear()
    names = key[24:]
    source = _sources[key] = (*_IDS.unpack_from(key), names[:workflow_length].decode("utf-8", "replace"),
                              names[workflow_length:workflow_length + step_length].decode("utf-8", "replace"),
                              names[workflow_length + step_length:].decode("utf-8", "replace"))
    return source


class Event(tuple):
    """One event of a run's stream: seq, kind (a name such as "token"), timestamp_ns, run ids,
    workflow and step names, topic, attempt, token index and data."""

    __slots__ = ()

    # Fields: kind, seq, timestamp_ns, source (run ids and names), attempt, token_index, raw data.
    kind_id: int = property(itemgetter(0))  # type: ignore[assignment]
    seq: int = property(itemgetter(1))  # type: ignore[assignment]
    timestamp_ns: int = property(itemgetter(2))  # type: ignore[assignment]
    attempt: int = property(itemgetter(4))  # type: ignore[assignment]
    token_index: int = property(itemgetter(5))  # type: ignore[assignment]
    raw: bytes = property(itemgetter(6))  # type: ignore[assignment]

    @property
    def run_id(self) -> int:
        return self[3][0]

    @property
    def parent_run_id(self) -> int:
        """0 when the run has no parent."""
        return self[3][1]

    @property
    def root_run_id(self) -> int:
        return self[3][2]

    @property
    def workflow(self) -> str:
        return self[3][3]

    @property
    def step(self) -> str:
        """The step's name; "" for run-level events."""
        return self[3][4]

    @property
    def topic(self) -> str:
        """A custom event's topic; "" otherwise."""
        return self[3][5]

    @property
    def kind(self) -> str:
        return KIND_NAMES.get(self[0], "unknown")

    @property
    def data(self) -> Any:
        """The token's text for a token delta; the decoded JSON otherwise (None when empty)."""
        raw = self[6]
        if self[0] == c.RF_EVENT_TOKEN:
            return raw.decode("utf-8", "replace")
        return json.loads(raw) if raw else None

    @property
    def text(self) -> str:
        """The data as text, undecoded."""
        return self[6].decode("utf-8", "replace")

    @property
    def is_terminal(self) -> bool:
        return self[0] in TERMINAL_KINDS

    def to_json(self) -> str:
        """The JSON envelope every binding and sink shares, rendered by the library itself."""
        run_id, parent_run_id, root_run_id = self[3][:3]
        workflow, step, topic = (s.encode() for s in self[3][3:])
        raw = self[6]
        event = c.rf_event(
            struct_size=ctypes.sizeof(c.rf_event), kind=self[0], seq=self[1], timestamp_ns=self[2],
            run_id=run_id, parent_run_id=parent_run_id, root_run_id=root_run_id,
            workflow_name=ctypes.cast(ctypes.c_char_p(workflow), ctypes.c_void_p),
            step_name=ctypes.cast(ctypes.c_char_p(step), ctypes.c_void_p),
            topic=ctypes.cast(ctypes.c_char_p(topic), ctypes.c_void_p),
            attempt=self[4], data_len=len(raw), token_index=self[5],
            data=ctypes.cast(ctypes.c_char_p(raw), ctypes.c_void_p))
        length = ctypes.c_size_t()
        c.lib.rf_event_to_json(ctypes.byref(event), None, 0, ctypes.byref(length))
        buffer = ctypes.create_string_buffer(length.value + 1)
        check(c.lib.rf_event_to_json(ctypes.byref(event), buffer, len(buffer), ctypes.byref(length)))
        return buffer.raw[: length.value].decode()

    def __repr__(self) -> str:
        where = f" step={self.step!r}" if self.step else ""
        return f"Event(seq={self[1]}, kind={self.kind!r}{where}, data={self[6][:60]!r})"


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
        unpack, sources, source = _HEADER.unpack_from, _sources, _source
        rows = []
        append = rows.append
        offset = 0
        for _ in range(self._count.value):
            size, kind, seq, ts, token, attempt, length, wlen, slen, tlen = unpack(data, offset)
            end = offset + 72 + wlen + slen + tlen
            key = data[offset + 24:offset + 48] + data[offset + 72:end]
            append((kind, seq, ts, sources.get(key) or source(key, wlen, slen), attempt, token, data[end:end + length]))
            offset += size
        return 0, list(map(Event, rows))  # made in one C loop: much cheaper than one by one
