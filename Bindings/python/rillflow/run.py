"""Runs and their streams.

`async for` waits on the subscription's file descriptor with the running loop's `add_reader`;
a plain `for` waits inside the library's read (the GIL released), which wakes sooner than a
`select` followed by a read, in slices of at most 100 ms so that Ctrl-C is handled between
them. No polling thread, no sleeps; events are read in batches."""
from __future__ import annotations

import asyncio
import ctypes
import math
import threading
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterable, Iterator, Optional

from . import _capi as c
from . import _json
from .errors import (Closed, InvalidHandle, InvalidState, NotFound, RunCancelled, RunError, RunFailed, RunTimedOut, Timeout, check,
                     error_for)
from .events import KINDS, TERMINAL_KINDS, BatchReader, Event

if TYPE_CHECKING:
    from .workflow import Workflow

MODES = {"tokens": c.RF_STREAM_TOKENS, "messages": c.RF_STREAM_MESSAGES, "updates": c.RF_STREAM_UPDATES,
         "values": c.RF_STREAM_VALUES, "custom": c.RF_STREAM_CUSTOM}
STATUSES = {c.RF_RUN_PENDING: "pending", c.RF_RUN_RUNNING: "running", c.RF_RUN_SUSPENDED: "suspended",
            c.RF_RUN_COMPLETED: "completed", c.RF_RUN_FAILED: "failed", c.RF_RUN_TIMED_OUT: "timed_out",
            c.RF_RUN_CANCELLED: "cancelled", c.RF_RUN_INTERRUPTED: "interrupted"}
_ENDINGS = {c.RF_EVENT_RUN_FAILED: (RunFailed, "failed"), c.RF_EVENT_RUN_TIMED_OUT: (RunTimedOut, "timed_out"),
            c.RF_EVENT_RUN_CANCELLED: (RunCancelled, "cancelled")}


# The longest one blocking read of a plain `for` waits: Python runs signal handlers (Ctrl-C)
# only between calls into the library, so this is how late a KeyboardInterrupt can come.
_WAIT_SLICE_MS = 100


class Stream:
    """A subscription to a run's events: `async for event in stream`, or `for event in stream`.
    Close it (or use it as a context manager) to release it early; it closes itself at the end.
    A stream is iterated once: leaving its iteration early (break, an exception, a timeout,
    a cancelled task) closes it too, and a new one (`run.stream(from_seq=last_seq + 1)`)
    goes on from where it stopped."""

    def __init__(self, run: "Run", mode: str = "tokens", *, kinds: Optional[Iterable[str]] = None,
                 topics: Optional[Iterable[str]] = None, from_seq: int = 1, lossy: bool = False,
                 end_at_suspension: bool = False) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        options = c.rf_subscription_options()
        c.lib.rf_subscription_options_init(ctypes.byref(options))
        options.mode = MODES[mode]
        options.start_seq = c.in_range(from_seq, 2**64 - 1, "from_seq")
        options.flags = (c.RF_SUBSCRIBE_LOSSY if lossy else 0) | (c.RF_SUBSCRIBE_END_AT_SUSPENSION if end_at_suspension else 0)
        if kinds is not None:
            kinds = list(kinds)  # read once: an iterator would be empty the second time
            unknown = [k for k in kinds if k not in KINDS]
            if unknown:
                raise ValueError(f"unknown event kinds {unknown}; known: {', '.join(KINDS)}")
            options.kinds = sum(c.kind_bit(KINDS[k]) for k in set(kinds))
        topic_list = [c.text(t, "a topic") for t in topics] if topics is not None else None
        if topic_list is not None:
            array = (ctypes.c_char_p * max(len(topic_list), 1))(*topic_list)
            options.topics = ctypes.cast(array, ctypes.POINTER(ctypes.c_char_p))
            options.topic_count = len(topic_list)
        # Every field close() uses is set before the subscription exists, so a failure after
        # it was created still releases it (through __del__).
        self._handle: Optional[int] = None
        self._fd: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._waiter: Optional[asyncio.Future] = None
        handle = c.handle()
        check(c.lib.rf_subscription_create(run._live_handle(), ctypes.byref(options), ctypes.byref(handle)))
        self._handle = handle.value
        self._reader = BatchReader(handle.value)

    def _descriptor(self) -> int:
        if self._fd is None:
            fd = ctypes.c_int32()
            check(c.lib.rf_subscription_fd(self._handle, ctypes.byref(fd)))
            self._fd = fd.value
        return self._fd

    def _read(self, timeout_ms: int = 0) -> tuple[int, Iterator[Event]]:
        if self._handle is None:
            return c.RF_E_END_OF_STREAM, iter(())
        status, events = self._reader.read(timeout_ms)
        if status == c.RF_E_INVALID_HANDLE and self._handle is None:
            return c.RF_E_CLOSED, events  # closed by another thread between the check and the read
        return status, events

    async def _events(self) -> AsyncIterator[Event]:
        try:
            while True:
                status, events = self._read()
                if status == c.RF_OK:
                    for event in events:
                        yield event
                elif status == c.RF_E_AGAIN:
                    await self._readable()
                elif status in (c.RF_E_END_OF_STREAM, c.RF_E_CLOSED):
                    return
                else:
                    raise error_for(status)
        finally:
            self.close()

    async def _readable(self) -> None:
        """Waits until the fd is readable. The reader stays registered between waits (a stream
        read in a loop costs no epoll_ctl per wait); its callback unregisters it when nobody
        waits, so a readable fd never spins the loop."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._unregister()
            self._loop = loop
            loop.add_reader(self._descriptor(), self._on_readable)
        self._waiter = loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _on_readable(self) -> None:
        waiter = self._waiter
        if waiter is None:
            self._unregister()
        elif not waiter.done():
            waiter.set_result(None)

    def _unregister(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and self._fd is not None and not loop.is_closed():
            loop.remove_reader(self._fd)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    def __iter__(self) -> Iterator[Event]:
        return self.iterate()

    def iterate(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Events in order, waiting at most `timeout` seconds in all (None: no limit; then Timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                if deadline is None:
                    wait_ms = _WAIT_SLICE_MS
                else:
                    wait_ms = min(_WAIT_SLICE_MS, max(0, math.ceil((deadline - time.monotonic()) * 1000)))
                status, events = self._read(wait_ms)
                if status == c.RF_OK:
                    yield from events
                elif status in (c.RF_E_AGAIN, c.RF_E_TIMEOUT):
                    if deadline is not None and time.monotonic() >= deadline:
                        from .errors import Timeout
                        raise Timeout(c.RF_E_TIMEOUT, f"no event within {timeout} s")
                elif status in (c.RF_E_END_OF_STREAM, c.RF_E_CLOSED):
                    return
                else:
                    raise error_for(status)
        finally:
            self.close()

    def close(self) -> None:
        """Releases the subscription. Its fd leaves the event loop first, on the loop's thread
        (a stream collected on another thread hands the work over to it)."""
        loop = self._loop
        # A loop that is not running will not run the handover: then it is done here.
        if loop is not None and loop.is_running() and asyncio._get_running_loop() is not loop:
            try:
                loop.call_soon_threadsafe(self._close_now)
                return
            except RuntimeError:
                pass  # that loop is closed: nothing is registered with it any more
        self._close_now()

    def _close_now(self) -> None:
        self._unregister()  # before the fd closes with the subscription
        handle, self._handle = self._handle, None
        if handle is not None:
            c.lib.rf_subscription_release(handle)
        # An `async for` waiting for the fd would wait forever: it wakes and finds the end.
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "Stream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit the library may be gone
            pass


def run_options(trace_id: Optional[str], parent_span_id: Optional[str], metadata: Any) -> c.rf_run_options:
    """rf_run_options with a new run's trace context and metadata (sent as JSON), the rest 0."""
    options = c.rf_run_options()
    c.lib.rf_run_options_init_v2(ctypes.byref(options), ctypes.sizeof(options))
    options.trace_id = c.text(trace_id, "trace_id") if trace_id else None
    options.parent_span_id = c.text(parent_span_id, "parent_span_id") if parent_span_id else None
    options.metadata = _json.dumps(metadata) if metadata is not None else None
    return options


_TERMINAL_NAMES = frozenset(name for name, kind in KINDS.items() if kind in TERMINAL_KINDS)


def _emit_struct(kind: str, data: Any, step: Optional[str], topic: Optional[str], attempt: int, token_index: int,
                 index: Optional[int] = None) -> tuple[c.rf_emit, tuple[bytes, bytes, bytes]]:
    """An rf_emit for `Run.emit`, and the bytes it points to (kept alive by the caller)."""
    where = "" if index is None else f"events[{index}]: "
    if kind not in KINDS:
        raise ValueError(f"{where}unknown event kind {kind!r}; known: {', '.join(KINDS)}")
    if isinstance(data, (bytes, bytearray, memoryview)):
        payload = bytes(data)
    elif data is None:
        payload = b""
    elif KINDS[kind] == c.RF_EVENT_TOKEN and not isinstance(data, str):
        raise TypeError(f"{where}a token's data is its text (str or bytes), not {type(data).__name__}")
    else:
        try:  # (a token's text may hold NUL bytes: data has a length)
            payload = data.encode() if KINDS[kind] == c.RF_EVENT_TOKEN else _json.dumps(data)
        except UnicodeEncodeError as error:
            raise ValueError(f"{where}data is not valid text: {error.reason} at index {error.start}") from None
    step_name, topic_name = c.text(step or "", f"{where}step"), c.text(topic or "", f"{where}topic")
    event = c.rf_emit(struct_size=ctypes.sizeof(c.rf_emit), kind=KINDS[kind], step_name=step_name, topic=topic_name,
                      data=ctypes.cast(ctypes.c_char_p(payload), ctypes.c_void_p) if payload else None,
                      data_len=c.in_range(len(payload), c.UINT32_MAX, f"{where}data's length"),
                      attempt=c.in_range(attempt, c.UINT32_MAX, f"{where}attempt"),
                      token_index=c.in_range(token_index, 2**64 - 1, f"{where}token_index"))
    return event, (payload, step_name, topic_name)


class Run:
    """One execution of a workflow, or a manual run (`Engine.manual_run`), whose events the
    host emits itself (`emit`, `emit_batch`, `end`). `await run` (or `run.result()`) gives its result or raises
    RunFailed / RunTimedOut / RunCancelled; `run.stream()` / `run.events()` give its events.
    Releasing a Run that has not ended (close(), or dropping it) cancels it."""

    def __init__(self, handle: int, workflow: Optional["Workflow"] = None) -> None:
        # Held while the result's bytes, which the run owns, are copied: close() from another
        # thread must not free them in between.
        self._result_lock = threading.Lock()
        self._handle: Optional[int] = handle
        self.workflow = workflow
        run_id = ctypes.c_uint64()
        check(c.lib.rf_run_get_id(handle, ctypes.byref(run_id)))
        self.id: int = run_id.value

    def _live_handle(self) -> int:
        if self._handle is None:
            raise InvalidHandle(c.RF_E_INVALID_HANDLE, f"run {self.id} is closed")
        return self._handle

    def start(self, input: Any = None) -> None:
        """Starts a run made with start=False; input is sent as JSON."""
        payload = b"" if input is None else _json.dumps(input)
        check(c.lib.rf_run_start(self._live_handle(), payload, len(payload)))

    @property
    def status(self) -> str:
        """pending, running, suspended, completed, failed, timed_out, cancelled, or interrupted
        (reopened from a durable history that has no terminal event)."""
        status = ctypes.c_uint32()
        check(c.lib.rf_run_get_status(self._live_handle(), ctypes.byref(status)))
        return STATUSES[status.value]

    @property
    def usage(self) -> dict[str, int]:
        """Token usage the run's steps reported, summed (a run reopened from the durable history:
        the totals its run_completed event recorded, zeros if it ended otherwise)."""
        usage = c.rf_token_usage(struct_size=ctypes.sizeof(c.rf_token_usage))
        check(c.lib.rf_run_get_usage(self._live_handle(), ctypes.byref(usage)))
        return {name: getattr(usage, name) for name in
                ("input_tokens", "output_tokens", "total_tokens", "reasoning_tokens", "cached_input_tokens")}

    @property
    def history(self) -> dict[str, Any]:
        """What the run's durable history holds (see rf_history_info): first_seq, last_seq,
        synced_seq, records, bytes, segments, corrupt_records, torn_bytes, write_failures (ints)
        and last_error (why the latest failure happened, "" if none).
        Raises NotFound when its engine has no history_dir."""
        info = c.rf_history_info(struct_size=ctypes.sizeof(c.rf_history_info))
        check(c.lib.rf_run_get_history_info(self._live_handle(), ctypes.byref(info)))
        fields: dict[str, Any] = {name: getattr(info, name) for name, _ in c.rf_history_info._fields_
                                  if name not in ("struct_size", "reserved0")}
        fields["last_error"] = info.last_error.decode("utf-8", "replace")
        return fields

    def stream(self, mode: str = "tokens", *, kinds: Optional[Iterable[str]] = None,
               topics: Optional[Iterable[str]] = None, from_seq: int = 1, lossy: bool = False,
               end_at_suspension: bool = False) -> Stream:
        """A stream of the run's events, from `from_seq` (1 = from the start; 0 = only new ones).
        mode: tokens (everything), messages (all but tokens), updates, values, or custom (the
        `kinds` and `topics` given). Any number of streams may read one run."""
        return Stream(self, mode, kinds=kinds, topics=topics, from_seq=from_seq, lossy=lossy,
                      end_at_suspension=end_at_suspension)

    def events(self, mode: str = "tokens", *, timeout: Optional[float] = None, **options: Any) -> Iterator[Event]:
        """`stream(...)` for a plain `for` loop; `timeout` bounds the whole iteration."""
        return self.stream(mode, **options).iterate(timeout)

    def _ending_stream(self) -> Stream:
        # Only terminal events pass a custom filter whose one kind never occurs in a run's log.
        try:
            return Stream(self, "custom", kinds=["lagged"], from_seq=1)
        except NotFound:
            # Its first events are no longer kept: the live tail still sees a terminal event to
            # come, and one already written is told by the run's status (see _outcome).
            return Stream(self, "custom", kinds=["lagged"], from_seq=0)

    def _outcome(self, terminal: Optional[Event]) -> Any:
        if terminal is None:
            return self._outcome_without_event()
        if terminal.kind_id == c.RF_EVENT_RUN_COMPLETED:
            return self._completed_result()
        error, status = _ENDINGS[terminal.kind_id]
        raise error(status, f"run {self.id} {status.replace('_', ' ')}: {terminal.text}", terminal)

    def _outcome_without_event(self) -> Any:
        status = self.status
        if status == "completed":
            return self._completed_result()
        endings = {"failed": RunFailed, "timed_out": RunTimedOut, "cancelled": RunCancelled}
        if status not in endings:
            raise Closed(c.RF_E_CLOSED, f"run {self.id}'s stream ended without a terminal event")
        # Its result is refused, with why the run did not complete as the message.
        data, length = ctypes.c_void_p(), ctypes.c_uint32()
        why = str(error_for(c.lib.rf_run_get_result(self._live_handle(), ctypes.byref(data), ctypes.byref(length))))
        raise endings[status](status, f"run {self.id} {status.replace('_', ' ')}: {why}")

    def result(self, timeout: Optional[float] = None) -> Any:
        """Blocks until the run ends and returns its result (raises RunError otherwise, Timeout
        after `timeout` seconds). Ctrl-C cancels the run and raises KeyboardInterrupt."""
        deadline = None if timeout is None else time.monotonic() + timeout
        terminal = None
        try:
            # One blocking call, no subscription: what most runs need. A run that fails, or is
            # suspended meanwhile (its input may come from another thread), goes on below.
            status = self._wait_until(deadline)
            if status == c.RF_RUN_COMPLETED:
                return self._completed_result()
            if status is None:
                raise Timeout(c.RF_E_TIMEOUT, f"run {self.id} did not end within {timeout} s")
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            for event in self._ending_stream().iterate(remaining):
                terminal = event
        except KeyboardInterrupt:
            self._cancel_quietly("interrupted")
            raise
        return self._outcome(terminal)

    async def _result(self) -> Any:
        terminal = None
        try:
            async for event in self._ending_stream():
                terminal = event
        except asyncio.CancelledError:
            self._cancel_quietly("the awaiting task was cancelled")
            raise
        return self._outcome(terminal)

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._result().__await__()

    def _completed_result(self) -> Any:
        data, length = ctypes.c_void_p(), ctypes.c_uint32()
        with self._result_lock:
            check(c.lib.rf_run_get_result(self._live_handle(), ctypes.byref(data), ctypes.byref(length)))
            raw = ctypes.string_at(data.value, length.value)
        return _json.loads(raw)

    def _wait_until(self, deadline: Optional[float]) -> Optional[int]:
        """Waits until the run has ended or is suspended, or until `deadline` (time.monotonic());
        returns its RF_RUN_* status, or None if the deadline came first."""
        status = ctypes.c_uint32()
        handle = self._live_handle()
        while True:  # in slices, so Ctrl-C is seen
            left = _WAIT_SLICE_MS if deadline is None else \
                max(0, min(_WAIT_SLICE_MS, math.ceil((deadline - time.monotonic()) * 1000)))
            code = c.lib.rf_run_wait(handle, left, ctypes.byref(status))
            if code == c.RF_OK:
                return status.value
            if code not in (c.RF_E_TIMEOUT, c.RF_E_AGAIN):
                raise error_for(code)
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def wait(self, timeout: Optional[float] = None) -> str:
        """Waits until the run has ended or is suspended (waiting for input); returns its status
        (its current one if `timeout` seconds pass first)."""
        status = self._wait_until(None if timeout is None else time.monotonic() + timeout)
        return self.status if status is None else STATUSES[status]

    def cancel(self, reason: Optional[str] = None) -> None:
        """Cancels the run (InvalidState if it has already ended)."""
        check(c.lib.rf_run_cancel(self._live_handle(), c.text(reason, "reason") if reason else None))

    def _cancel_quietly(self, reason: str) -> None:
        if self._handle is not None:
            c.lib.rf_run_cancel(self._handle, reason.encode())

    # --- manual runs (Engine.manual_run): the host emits the events and ends the run ---

    def emit(self, kind: str, data: Any = None, *, step: Optional[str] = None, topic: Optional[str] = None,
             attempt: int = 0, token_index: int = 0) -> int:
        """Appends one event to a running manual run's stream and returns its seq. `data`: for
        "token", its text (str, or UTF-8 bytes); for other kinds, a value sent as JSON, or bytes
        that already are JSON (sent as they are: readers decode them as JSON). Every kind but
        run_started, lagged and the terminal ones (see `end`). ValueError for a name or text
        with a NUL byte or a lone surrogate; InvalidState if the run is pending, has ended or
        is a workflow run; InvalidArgument if refused (a name over 255 bytes, data over the
        engine's max_event_bytes); Timeout if a stalled stream held the log full for the
        engine's emit_timeout_ms."""
        event, _held = _emit_struct(kind, data, step, topic, attempt, token_index)  # (held through the call)
        seq = ctypes.c_uint64()
        check(c.lib.rf_run_emit(self._live_handle(), ctypes.byref(event), ctypes.byref(seq)))
        return seq.value

    def emit_batch(self, events: Iterable[dict[str, Any]]) -> list[int]:
        """Appends several events in one call, in order, and returns their seqs: each a dict
        of `emit`'s arguments ({"kind": "token", "data": "Hel"}, ...). All are checked first:
        if one is refused, none is appended (the message names its index). If the run ends
        or the log stays full partway, the exception's `seqs` lists those appended. An empty
        batch appends nothing and returns [] (only the run's handle is checked)."""
        structs: list[c.rf_emit] = []
        held: list[Any] = []  # the bytes the structs point to, held through the call
        for index, fields in enumerate(events):
            unknown = set(fields) - {"kind", "data", "step", "topic", "attempt", "token_index"}
            if "kind" not in fields or unknown:
                raise ValueError(f"events[{index}]: a dict with 'kind' and any of data, step, topic, attempt, "
                                 f"token_index{'; not ' + ', '.join(sorted(unknown)) if unknown else ''}")
            event, owned = _emit_struct(fields["kind"], fields.get("data"), fields.get("step"), fields.get("topic"),
                                        fields.get("attempt", 0), fields.get("token_index", 0), index)
            structs.append(event)
            held.append(owned)
        handle = self._live_handle()
        if not structs:
            return []
        array = (c.rf_emit * len(structs))(*structs)
        seqs = (ctypes.c_uint64 * len(structs))()
        emitted = ctypes.c_uint32()
        status = c.lib.rf_run_emit_batch(handle, array, len(structs), seqs, ctypes.byref(emitted))
        if status != 0:
            error = error_for(status)
            error.seqs = list(seqs[:emitted.value])  # type: ignore[attr-defined]
            raise error
        return list(seqs)

    def end(self, kind: str = "run_completed", data: Any = None) -> None:
        """Ends a manual run with its terminal event: run_completed (`data`, sent as JSON, is
        then its result), run_failed, run_timed_out or run_cancelled (`data` says why). A
        pending run can only be cancelled. InvalidState if it has already ended."""
        if kind not in _TERMINAL_NAMES:
            raise ValueError(f"kind must be one of {', '.join(sorted(_TERMINAL_NAMES))}, not {kind!r}")
        payload = b"" if data is None else _json.dumps(data)
        check(c.lib.rf_run_end(self._live_handle(), KINDS[kind], payload, len(payload)))

    def resume(self, answer: Any) -> None:
        """Answers the question a step asked (the run must be suspended; InvalidState if not)."""
        payload = _json.dumps(answer)
        check(c.lib.rf_run_resume(self._live_handle(), payload, len(payload)))

    def close(self) -> None:
        """Releases the run (cancelling it if it has not ended); its streams stay readable."""
        with self._result_lock:
            handle, self._handle = self._handle, None
            if handle is not None:
                c.lib.rf_run_release(handle)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def __repr__(self) -> str:
        state = self.status if self._handle is not None else "closed"
        return f"Run(id={self.id}, status={state!r})"


__all__ = ["Run", "Stream", "RunError", "TERMINAL_KINDS"]
