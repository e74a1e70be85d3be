"""Workflows defined with decorators on plain functions.

    wf = Workflow("three-step")

    @wf.step(accepts="start", sends="first")
    async def step_one(ctx, data):
        ctx.write_event_to_stream({"msg": "Step one is happening"}, topic="progress")
        return "First step complete."        # sent as "first", the one type it sends

    run = wf.run({"question": "..."})
    result = await run
"""
from __future__ import annotations

import ctypes
import inspect
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Union

from . import _capi as c
from . import _kept
from .engine import Engine, default_engine
from .errors import InvalidHandle, InvalidState, check
from .run import Run, run_options

Names = Union[str, Sequence[str]]


@dataclass(frozen=True)
class Retry:
    """A step's retry policy: `attempts` tries in all; before try n+1 a wait of
    backoff × multiplier^(n-1) seconds, at most `max_backoff`, spread by ±`jitter` (0 to 1)."""

    attempts: int = 3
    backoff: float = 0.0
    multiplier: float = 2.0
    max_backoff: Optional[float] = None
    jitter: float = 0.0


@dataclass
class StepSpec:
    """A Python step as the engine's host runs it."""

    name: str
    workflow_name: str
    function: Callable[..., Any]
    accepts: list[str]
    sends: list[str]
    is_async: bool


def _names(value: Optional[Names]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


def _milliseconds(seconds: Optional[float], what: str, limit: int = 2**64 - 1) -> int:
    if seconds is None:
        return 0
    if seconds <= 0:
        raise ValueError(f"{what} must be positive, got {seconds}")
    return c.in_range(max(1, round(seconds * 1000)), limit, f"{what} in milliseconds")


class Workflow:
    """A named set of steps. Add steps with `@workflow.step(...)`; the workflow is built (checked
    and frozen) on its first run or by `build()`; every mistake raises `InvalidArgument` with a
    message naming it."""

    def __init__(self, name: str, *, engine: Optional[Engine] = None) -> None:
        self.name = name
        self.engine = engine or default_engine()
        handle = c.handle()
        check(c.lib.rf_workflow_create(self.engine.handle, c.text(name, "name"), ctypes.byref(handle)))
        self._handle: Optional[int] = handle.value
        self._built = False
        self._lock = threading.Lock()
        self.steps: dict[str, StepSpec] = {}

    def step(self, *, accepts: Names, sends: Optional[Names] = None, name: Optional[str] = None,
             concurrency: int = 0, collect: int = 0, foreach_done: Optional[str] = None,
             timeout: Optional[float] = None, retry: Optional[Retry] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorates `def f(ctx, data)` or `async def f(ctx, data)` as a step.

        accepts / sends: event types ("start", "a,b" or a list); "stop" among sends ends the run.
        A non-None return value is sent as the step's one declared type (the result, for "stop").
        concurrency: invocations at once (0 = no limit); collect: fan-in of N events; foreach_done:
        run once per item of the accepted list and send the outputs as this type; timeout: seconds
        per try; retry: a `Retry`."""

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            self.add_step(function, accepts=accepts, sends=sends, name=name, concurrency=concurrency,
                          collect=collect, foreach_done=foreach_done, timeout=timeout, retry=retry)
            return function

        return register

    def add_step(self, function: Callable[..., Any], *, accepts: Names, sends: Optional[Names] = None,
                 name: Optional[str] = None, concurrency: int = 0, collect: int = 0,
                 foreach_done: Optional[str] = None, timeout: Optional[float] = None,
                 retry: Optional[Retry] = None) -> None:
        """The same as the decorator, for a function defined elsewhere."""
        step_name = name or function.__name__
        spec = StepSpec(step_name, self.name, function, _names(accepts), _names(sends),
                        inspect.iscoroutinefunction(function))
        options = c.rf_step_options()
        c.lib.rf_step_options_init(ctypes.byref(options), ctypes.sizeof(options))
        options.flags = c.RF_STEP_HOST_RUN
        options.concurrency = c.in_range(concurrency, c.UINT32_MAX, "concurrency")
        options.collect = c.in_range(collect, c.UINT32_MAX, "collect")
        options.foreach_done = c.text(foreach_done, "foreach_done") if foreach_done else None
        options.timeout_ms = _milliseconds(timeout, "timeout", c.UINT32_MAX)
        if retry is not None:
            options.retry_attempts = c.in_range(retry.attempts, c.UINT32_MAX, "retry attempts")
            options.retry_initial_backoff_ms = c.in_range(round(retry.backoff * 1000), c.UINT32_MAX, "retry backoff in milliseconds")
            options.retry_multiplier = retry.multiplier
            options.retry_max_backoff_ms = c.in_range(round((retry.max_backoff or 0) * 1000), c.UINT32_MAX,
                                                      "retry max_backoff in milliseconds")
            options.retry_jitter = retry.jitter
        name, accepts = c.text(step_name, "step name"), c.text(",".join(spec.accepts), "accepts")
        sends = c.text(",".join(spec.sends), "sends")
        with self._lock:
            # The spec lives until the library lets go of the step (_kept.RELEASE); if the
            # step is refused, the library never took it.
            step_id = _kept.keep(spec)
            try:
                check(c.lib.rf_workflow_add_step(self._live_handle(), name, accepts, sends, c.NO_STEP_FN,
                                                 _kept.user_data(step_id), _kept.RELEASE, ctypes.byref(options)))
            except BaseException:
                _kept.forget(step_id)
                raise
            self.steps[step_name] = spec

    def build(self) -> "Workflow":
        """Checks and freezes the workflow (done by the first run if not called)."""
        with self._lock:
            if not self._built:
                check(c.lib.rf_workflow_build(self._live_handle()))
                self._built = True
        return self

    def _live_handle(self) -> int:
        if self._handle is None:
            raise InvalidHandle(c.RF_E_INVALID_HANDLE, f"workflow {self.name!r} is closed")
        return self._handle

    def _built_handle(self) -> int:
        self.build()
        return self._live_handle()

    def run(self, input: Any = None, *, timeout: Optional[float] = None, step_budget: int = 0,
            trace_id: Optional[str] = None, parent_span_id: Optional[str] = None,
            metadata: Any = None, start: bool = True) -> Run:
        """Creates a run and (unless start=False) starts it with `input` (sent as JSON).
        Keep the returned Run: dropping it cancels the run. Streams opened later see every
        event from seq 1 as long as the run's log and retained history (the engine's
        history_bytes, 4 MiB by default) or its durable history still hold it; from an older
        seq they raise NotFound."""
        handle = self._built_handle()
        self.engine.ensure_host()
        options = run_options(trace_id, parent_span_id, metadata)
        options.timeout_ms = _milliseconds(timeout, "timeout")
        options.step_budget = c.in_range(step_budget, c.UINT32_MAX, "step_budget")
        run_handle = c.handle()
        check(c.lib.rf_run_create(handle, ctypes.byref(options), ctypes.byref(run_handle)))
        run = Run(run_handle.value, self)
        if start:
            run.start(input)
        return run

    def close(self) -> None:
        """Releases the workflow; runs already made from it go on."""
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            check(c.lib.rf_workflow_release(handle))

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit the library may be gone
            pass
