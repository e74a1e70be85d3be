"""Events as light Python objects, and the batch reader that makes them.

An Event is a tuple subclass (no per-instance dict) of three items: the kind, the seq, and the
event's packed bytes (an rf_packed_event header, the names, the data), copied out of the batch
it came in. The other fields are decoded from those bytes when they are read, so an event that
is only counted or filtered by kind costs a few hundred nanoseconds to make; `data` is decoded
when it is read: the text of a token delta, the JSON value otherwise.
"""
from __future__ import annotations

import ctypes
import json
import struct
from operator import itemgetter
from typing import Any, Iterator

from . import _capi as c
from .errors import check

KIND_NAMES = {kind: c.lib.rf_event_kind_name(kind).decode() for kind in range(1, 17)}
KINDS = {name: kind for kind, name in KIND_NAMES.items()}
_TOKEN = c.RF_EVENT_TOKEN
TERMINAL_KINDS = frozenset({c.RF_EVENT_RUN_COMPLETED, c.RF_EVENT_RUN_FAILED, c.RF_EVENT_RUN_TIMED_OUT,
                            c.RF_EVENT_RUN_CANCELLED})

# The header of a packed event (rf_packed_event, 72 bytes); its names and data follow it.
_HEADER = struct.Struct("<IIQqQQQQIIHHHH")
assert _HEADER.size == ctypes.sizeof(c.rf_packed_event)
_LEAD = struct.Struct("<IIQ")  # size, kind, seq: what making an Event reads
_LENGTHS = struct.Struct("<IHHH")  # data_len, workflow_len, step_len, topic_len, at offset 60

# (workflow, step, topic) by their packed bytes: decoded once per distinct combination.
_sources: dict[bytes, tuple[str, str, str]] = {}


def _source_names(key: bytes, workflow_length: int, step_length: int) -> tuple[str, str, str]:
    if len(_sources) > 4096:
        _sources.clear()
    names = _sources[key] = (key[:workflow_length].decode("utf-8", "replace"),
                             key[workflow_length:workflow_length + step_length].decode("utf-8", "replace"),
                             key[workflow_length + step_length:].decode("utf-8", "replace"))
    return names


def packed_entry(kind: int, seq: int, timestamp_ns: int, run_id: int, parent_run_id: int, root_run_id: int,
                 token_index: int, attempt: int, workflow: bytes, step: bytes, topic: bytes, data: bytes) -> bytes:
    """The packed bytes of an event given field by field (events that do not come from a packed read)."""
    size = (_HEADER.size + len(workflow) + len(step) + len(topic) + len(data) + 7) & ~7
    entry = _HEADER.pack(size, kind, seq, timestamp_ns, run_id, parent_run_id, root_run_id, token_index, attempt,
                         len(data), len(workflow), len(step), len(topic), 0) + workflow + step + topic + data
    return entry + bytes(size - len(entry))


def _header_field(code: str, offset: int) -> property:
    """A read-only property decoding one number of an event's packed header."""
    unpack = struct.Struct("<" + code).unpack_from
    return property(lambda event: unpack(event[2], offset)[0])


def _data_of(entry: bytes) -> bytes:
    """The data bytes of a packed event (after its header and names)."""
    length, workflow_length, step_length, topic_length = _LENGTHS.unpack_from(entry, 60)
    start = _HEADER.size + workflow_length + step_length + topic_length
    return entry[start:start + length]


class Event(tuple):
    """One event of a run's stream: seq, kind (a name such as "token"), timestamp_ns, run ids,
    workflow and step names, topic, attempt, token index and data."""

    __slots__ = ()

    kind_id: int = property(itemgetter(0))  # type: ignore[assignment]
    seq: int = property(itemgetter(1))  # type: ignore[assignment]

    # Offsets in rf_packed_event.
    timestamp_ns: int = _header_field("q", 16)  # type: ignore[assignment]
    run_id: int = _header_field("Q", 24)  # type: ignore[assignment]
    parent_run_id: int = _header_field("Q", 32)  # type: ignore[assignment]
    root_run_id: int = _header_field("Q", 40)  # type: ignore[assignment]
    token_index: int = _header_field("Q", 48)  # type: ignore[assignment]
    attempt: int = _header_field("I", 56)  # type: ignore[assignment]

    @property
    def raw(self) -> bytes:
        """The data, undecoded."""
        return _data_of(self[2])

    def _names(self) -> tuple[str, str, str]:
        entry = self[2]
        _, workflow_length, step_length, topic_length = _LENGTHS.unpack_from(entry, 60)
        key = entry[_HEADER.size:_HEADER.size + workflow_length + step_length + topic_length]
        return _sources.get(key) or _source_names(key, workflow_length, step_length)

    @property
    def workflow(self) -> str:
        return self._names()[0]

    @property
    def step(self) -> str:
        """The step's name; "" for run-level events."""
        return self._names()[1]

    @property
    def topic(self) -> str:
        """A custom event's topic; "" otherwise."""
        return self._names()[2]

    @property
    def kind(self) -> str:
        return KIND_NAMES.get(self[0], "unknown")

    @property
    def data(self) -> Any:
        """The token's text for a token delta; the decoded JSON otherwise (None when empty).
        Raises json.JSONDecodeError for data that is not JSON, which only a manual run's host
        can send, against the contract (the library renders JSON, it never parses it): `raw`
        and `text` give such data as it was sent."""
        raw = _data_of(self[2])
        if self[0] == _TOKEN:
            return raw.decode("utf-8", "replace")
        return json.loads(raw) if raw else None

    @property
    def text(self) -> str:
        """The data as text, undecoded."""
        return self.raw.decode("utf-8", "replace")

    @property
    def is_terminal(self) -> bool:
        return self[0] in TERMINAL_KINDS

    def to_json(self) -> str:
        """The JSON envelope every binding and sink shares, rendered by the library itself."""
        workflow, step, topic = (s.encode() for s in self._names())
        raw = self.raw
        event = c.rf_event(
            struct_size=ctypes.sizeof(c.rf_event), kind=self[0], seq=self[1], timestamp_ns=self.timestamp_ns,
            run_id=self.run_id, parent_run_id=self.parent_run_id, root_run_id=self.root_run_id,
            workflow_name=ctypes.cast(ctypes.c_char_p(workflow), ctypes.c_void_p),
            step_name=ctypes.cast(ctypes.c_char_p(step), ctypes.c_void_p),
            topic=ctypes.cast(ctypes.c_char_p(topic), ctypes.c_void_p),
            attempt=self.attempt, data_len=len(raw), token_index=self.token_index,
            data=ctypes.cast(ctypes.c_char_p(raw), ctypes.c_void_p))
        length = ctypes.c_size_t()
        c.lib.rf_event_to_json(ctypes.byref(event), None, 0, ctypes.byref(length))
        buffer = ctypes.create_string_buffer(length.value + 1)
        check(c.lib.rf_event_to_json(ctypes.byref(event), buffer, len(buffer), ctypes.byref(length)))
        return buffer.raw[: length.value].decode()

    def __repr__(self) -> str:
        step = self.step
        where = f" step={step!r}" if step else ""
        return f"Event(seq={self[1]}, kind={self.kind!r}{where}, data={self.raw[:60]!r})"


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
        # Copying a batch out through a memoryview costs no foreign call (string_at is one).
        self._view = memoryview(self._buffer).cast("B")
        self._count, self._used = count, used
        self._count_ref, self._used_ref = ctypes.byref(count), ctypes.byref(used)

    def read(self, timeout_ms: int) -> tuple[int, Iterator[Event]]:
        """(status, events): RF_OK with at least one event, or the status that stopped it.

        The events are made as they are iterated, from a copy of the batch: a consumer that
        handles each one and drops it keeps a few objects alive, not a batch of thousands, so
        the garbage collector (which runs every few hundred surviving objects) stays idle."""
        status = c.lib.rf_subscription_read_packed(self._subscription, self._address, self._capacity, timeout_ms,
                                                   self._count_ref, self._used_ref)
        if status != 0:
            return status, iter(())
        return 0, _events_in(self._view[: self._used.value].tobytes(), self._count.value)


def _events_in(data: bytes, count: int) -> Iterator[Event]:
    """The `count` packed events in `data`, in order."""
    lead = _LEAD.unpack_from
    offset = 0
    for _ in range(count):
        size, kind, seq = lead(data, offset)
        yield Event((kind, seq, data[offset:offset + size]))
        offset += size
