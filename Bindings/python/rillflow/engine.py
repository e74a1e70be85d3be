"""The engine: its handle, and the host that runs Python steps.

Python steps are host-run steps: the engine queues each invocation, and a host thread owned
by this package takes it (waiting on the engine's task fd with an asyncio loop's add_reader)
and runs it: `async def` steps as tasks on that loop, `def` steps on a thread pool. Steps are
never ctypes callbacks; the only ones C calls are a sink's and the destructor that tells this
package the library let go of a sink or step (see _kept), and those live as long as C needs them.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import ctypes
import os
import signal
import threading
import weakref
from typing import Any, Optional

from . import _capi as c
from .errors import check


class Engine:
    """Worker threads, limits and defaults; usually one per process (see `default_engine()`).
    An engine still open when the interpreter exits is closed then, so its sinks get what was
    emitted (within the engine's sink drain timeout) before the process ends.

    Arguments left at 0 take the library's defaults (see rf_engine_options in rillflow.h).
    `step_threads` is the size of the thread pool that runs `def` steps. `history_dir` turns on
    the durable history there (`history_fsync`: "run_end", "never" or "batch"; retention by
    `history_max_bytes` and `history_max_age_ms`; `history_read_only` to read another
    engine's runs with `open_run`)."""

    _FSYNC = {"run_end": c.RF_HISTORY_FSYNC_RUN_END, "never": c.RF_HISTORY_FSYNC_NEVER, "batch": c.RF_HISTORY_FSYNC_BATCH}

    def __init__(self, *, worker_threads: int = 0, log_capacity: int = 0, max_event_bytes: int = 0,
                 history_bytes: int = 0, emit_timeout_ms: int = 0, sink_drain_timeout_ms: int = 0, step_threads: int = 8,
                 history_dir: Optional[str] = None, history_fsync: str = "run_end", history_max_bytes: int = 0,
                 history_max_age_ms: int = 0, history_segment_bytes: int = 0, history_read_only: bool = False) -> None:
        options = c.rf_engine_options()
        c.lib.rf_engine_options_init_v2(ctypes.byref(options), ctypes.sizeof(options))
        # ctypes would silently keep the low 32 bits of a larger number.
        options.worker_threads = c.in_range(worker_threads, c.UINT32_MAX, "worker_threads")
        options.log_capacity = c.in_range(log_capacity, c.UINT32_MAX, "log_capacity")
        options.max_event_bytes = c.in_range(max_event_bytes, c.UINT32_MAX, "max_event_bytes")
        options.history_bytes = c.in_range(history_bytes, 2**64 - 1, "history_bytes")
        options.emit_timeout_ms = c.in_range(emit_timeout_ms, c.UINT32_MAX, "emit_timeout_ms")
        options.sink_drain_timeout_ms = c.in_range(sink_drain_timeout_ms, c.UINT32_MAX, "sink_drain_timeout_ms")
        if history_dir is None:
            # As the C API does: history settings without a history would be silently unused.
            unused = [name for name, value in (("history_max_bytes", history_max_bytes), ("history_max_age_ms", history_max_age_ms),
                                               ("history_segment_bytes", history_segment_bytes),
                                               ("history_read_only", history_read_only)) if value]
            if unused or history_fsync != "run_end":
                raise ValueError(f"{', '.join(unused) or 'history_fsync'} given without history_dir")
        else:
            if history_fsync not in self._FSYNC:
                raise ValueError(f"history_fsync must be one of {sorted(self._FSYNC)}, not {history_fsync!r}")
            options.history_dir = os.fsencode(history_dir)  # str, bytes or a path (UTF-8, as C requires)
            options.history_fsync = self._FSYNC[history_fsync]
            options.history_max_bytes = c.in_range(history_max_bytes, 2**64 - 1, "history_max_bytes")
            options.history_max_age_ms = c.in_range(history_max_age_ms, 2**64 - 1, "history_max_age_ms")
            options.history_segment_bytes = c.in_range(history_segment_bytes, c.UINT32_MAX, "history_segment_bytes")
            options.history_flags = c.RF_HISTORY_READ_ONLY if history_read_only else 0
        handle = c.handle()
        check(c.lib.rf_engine_create(ctypes.byref(options), ctypes.byref(handle)))
        self._handle: Optional[int] = handle.value
        self._step_threads = step_threads
        self._host: Optional[_Host] = None
        self._lock = threading.Lock()
        _open_engines.add(self)

    @property
    def handle(self) -> int:
        if self._handle is None:
            from .errors import InvalidHandle
            raise InvalidHandle(c.RF_E_INVALID_HANDLE, "the engine is closed")
        return self._handle

    @property
    def options(self) -> dict[str, Any]:
        """The effective options, defaults resolved (history_dir is a str, or None)."""
        options = c.rf_engine_options()
        options.struct_size = ctypes.sizeof(options)
        check(c.lib.rf_engine_get_options(self.handle, ctypes.byref(options)))
        values: dict[str, Any] = {name: getattr(options, name) for name, _ in c.rf_engine_options._fields_
                                  if not name.startswith("reserved") and name != "struct_size"}
        values["history_dir"] = values["history_dir"].decode() if values["history_dir"] else None
        return values

    def open_run(self, run_id: int) -> "Run":
        """Opens a finished run from the durable history (this process's or an earlier one's):
        its `status`, every event it recorded (`run.events(from_seq=1)`), and as `result()`, when
        it completed, its terminal event's data (for a workflow run {"result": ..., "usage": ...});
        other endings raise from `result()` as a live run's do.
        Raises NotFound if the history has no such run, InvalidState without a history."""
        from .run import Run
        handle = c.handle()
        check(c.lib.rf_engine_open_run(self.handle, c.in_range(run_id, 2**64 - 1, "run_id"), ctypes.byref(handle)))
        return Run(handle.value)

    def manual_run(self, name: str, *, start: bool = True, input: Any = None, trace_id: Optional[str] = None,
                   parent_span_id: Optional[str] = None, metadata: Any = None) -> "Run":
        """A run without a workflow: code that runs its own steps streams through it, emitting
        with `run.emit(...)` / `run.emit_batch(...)` and ending it with `run.end(...)`; streams,
        `await run` and `result()` work as for a workflow run (the result is the data given to
        `end`). `name` names it on every event. start=False leaves it pending, so streams can be
        opened first (`run.start(input)` then). Keep the Run: dropping it cancels the run."""
        from .run import Run, run_options
        options = run_options(trace_id, parent_span_id, metadata)
        handle = c.handle()
        check(c.lib.rf_run_create_manual(self.handle, c.text(name, "name"), ctypes.byref(options), ctypes.byref(handle)))
        run = Run(handle.value)
        if start:
            run.start(input)
        return run

    def add_sink(self, deliver, **options):  # type: ignore[no-untyped-def]
        """Adds a sink: `deliver(events)` gets every event of every run created from now on, per
        run in order, in batches, on a thread of the engine's. Options: run_ended(run_id),
        kinds, lossy, max_failures, retry_backoff (seconds). Returns a `Sink`."""
        from .sinks import Sink
        return Sink(self, deliver, **options)

    def ensure_host(self) -> None:
        """Starts the host thread that runs this engine's Python steps, once."""
        with self._lock:
            if self._host is None:
                self._host = _Host(self)

    def close(self) -> None:
        """Releases the engine: its host stops, runs and subscriptions stay usable. Raises
        InvalidState in a sink's callback (the engine's sink thread), and the engine stays open."""
        with self._lock:
            handle, self._handle = self._handle, None
            host, self._host = self._host, None
        if handle is not None:
            status = c.lib.rf_engine_release(handle)
            if status == c.RF_E_STATE:  # refused on the sink thread: nothing was released
                with self._lock:
                    self._handle, self._host = handle, host
            check(status)
        if host is not None:
            host.stop()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_default: Optional[Engine] = None
_default_lock = threading.Lock()
# Engines not closed yet, closed at exit; weak, so an engine nobody uses any more can go.
_open_engines: "weakref.WeakSet[Engine]" = weakref.WeakSet()


@atexit.register
def _close_open_engines() -> None:
    for engine in list(_open_engines):
        try:
            engine.close()
        except Exception:  # noqa: BLE001 - exiting: nothing left to report to
            pass


def default_engine() -> Engine:
    """The engine workflows use when none is given, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default


# What the library's own threads leave open (see "Signals." in rillflow.h): faults go to the
# thread that caused them, SIGABRT to the one that aborts, a profiler's SIGPROF to whatever runs;
# SIGKILL and SIGSTOP, which no thread can block, are left out of the set asked for.
_OPEN_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGTRAP, signal.SIGSYS,
                 signal.SIGABRT, signal.SIGPROF, signal.SIGKILL, signal.SIGSTOP}


def _start_with_signals_blocked(thread: threading.Thread) -> None:
    """Starts `thread` with the program's asynchronous signals blocked, as the library starts its
    own: a new thread inherits its creator's mask, so the caller blocks them for the length of
    the start. A signal sent meanwhile waits for the caller's mask to come back."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals() - _OPEN_SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _Host:
    """A daemon thread with its own asyncio loop that takes the engine's host-run tasks. Like the
    library's threads it blocks the program's signals, and so do the `def`-step threads it
    starts (they inherit its mask): a signal sent to the process goes to the program's own
    threads, where `signal.sigwait()` takes one the program blocks (Python runs handlers on the
    main thread in any case)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.loop = asyncio.new_event_loop()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=engine._step_threads,
                                                          thread_name_prefix="rillflow-step")
        fd = ctypes.c_int32()
        check(c.lib.rf_engine_task_fd(engine.handle, ctypes.byref(fd)))
        self.fd = fd.value
        self.engine_handle = engine.handle
        self.running: set[asyncio.Task] = set()
        started = threading.Event()
        self.thread = threading.Thread(target=self._main, args=(started,), name="rillflow-host", daemon=True)
        _start_with_signals_blocked(self.thread)
        started.wait()

    def _main(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.add_reader(self.fd, self.drain)
        started.set()
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def drain(self) -> None:
        """Takes and starts every waiting task (on the host's loop)."""
        from .context import run_task
        take, handle = c.lib.rf_engine_take_task, self.engine_handle
        ctx = c.handle()
        ref = ctypes.byref(ctx)
        while True:
            status = take(handle, 0, ref)
            if status != 0:
                if status != c.RF_E_AGAIN:  # closed: the engine was released
                    self.loop.remove_reader(self.fd)
                return
            run_task(self, ctx.value)

    def stop(self) -> None:
        """Stops taking tasks. Steps taken but not finished still end: suspended `async def`
        steps are cancelled (they fail with CancelledError), queued `def` steps fail unrun, so
        no run is left waiting for a step that will never complete."""
        def shut() -> None:
            self.loop.remove_reader(self.fd)
            cancelled = list(self.running)
            for task in cancelled:
                task.cancel()
            if not cancelled:
                self.loop.stop()
                return
            # Once the cancelled tasks have finished (a step's cleanup may await for several
            # turns) and completed their steps; a few seconds at most, within the join below.
            waiting = asyncio.ensure_future(asyncio.wait(cancelled, timeout=4), loop=self.loop)
            waiting.add_done_callback(lambda _: self.loop.stop())
        try:
            self.loop.call_soon_threadsafe(shut)
        except RuntimeError:
            pass  # the loop is already closed
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout=5)
        self.pool.shutdown(wait=False, cancel_futures=True)
