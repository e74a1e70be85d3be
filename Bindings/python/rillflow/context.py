"""What a Python step gets: `Context`, with the powers of the C rf_step_ctx, and the code that
runs one host-run task (a step invocation) and completes it."""
from __future__ import annotations

import asyncio
import contextvars
import ctypes
import sys
import traceback
from typing import TYPE_CHECKING, Any, Iterable, Optional

from . import _capi as c
from . import _json, _kept
from .errors import check, error_for

if TYPE_CHECKING:
    from .engine import _Host
    from .workflow import StepSpec, Workflow

_lib = c.lib
_MAX_ERROR = 4000  # rf_step_ctx_complete takes at most 4096 bytes of message


class Context:
    """One invocation of a step. Valid until the step returns; afterwards every call raises
    `InvalidHandle`. Events it sends take effect when the step returns; stream events (tokens,
    custom events, progress, state) are written at once."""

    __slots__ = ("_ctx", "spec", "_info", "_event_type", "_first_input", "_inputs", "_token_index")

    def __init__(self, ctx: int, spec: "StepSpec", info: c.rf_step_info) -> None:
        self._ctx = ctx
        self.spec = spec
        self._info = info
        # Copied now: the library's bytes live only as long as the context, and a try that
        # times out while it waits for a pool thread ends its context before the code runs.
        self._event_type: bytes = info.event_type or b""
        self._first_input: bytes = ctypes.string_at(info.input, info.input_len) if info.input_len else b""
        self._inputs: Optional[list[Any]] = None
        self._token_index = 0

    @property
    def step(self) -> str:
        return self.spec.name

    @property
    def workflow(self) -> str:
        return self.spec.workflow_name

    @property
    def event_type(self) -> str:
        """The event type that started this invocation ("start" for the first step)."""
        return self._event_type.decode()

    @property
    def attempt(self) -> int:
        """1 for the first try."""
        return self._info.attempt

    @property
    def run_id(self) -> int:
        return self._info.run_id

    # ---- inputs ----

    def _read_inputs(self) -> list[Any]:
        if self._inputs is None:
            data, length = ctypes.c_void_p(), ctypes.c_uint32()
            values = []
            for index in range(self._info.input_count):
                check(_lib.rf_step_ctx_input(self._ctx, index, ctypes.byref(data), ctypes.byref(length)))
                values.append(_json.loads(ctypes.string_at(data.value, length.value)) if length.value else None)
            self._inputs = values
        return self._inputs

    @property
    def input(self) -> Any:
        """The payload of the event that started the step (the run's input for "start")."""
        if self._inputs is not None:
            return self._inputs[0] if self._inputs else None
        return _json.loads(self._first_input) if self._first_input else None

    @property
    def inputs(self) -> list[Any]:
        """Every input: several for a fan-in step, a foreach's outputs in item order."""
        return list(self._read_inputs())

    # ---- the stream ----

    def write_event_to_stream(self, data: Any, topic: str = "stream") -> None:
        """A custom event on the named topic (the data as JSON)."""
        payload = _json.dumps(data)
        check(_lib.rf_step_ctx_emit_custom(self._ctx, c.text(topic, "topic"), payload, len(payload)))

    def stream_token(self, text: str) -> None:
        """A token delta; its index counts up from 0 within this invocation."""
        raw = text.encode()
        check(_lib.rf_step_ctx_emit_token(self._ctx, raw, len(raw), self._token_index))
        self._token_index += 1

    def progress(self, completed: int, total: int, status: str = "running") -> None:
        """A progress event: {"completed", "total", "status"}."""
        check(_lib.rf_step_ctx_emit_progress(self._ctx, c.in_range(completed, 2**64 - 1, "completed"),
                                             c.in_range(total, 2**64 - 1, "total"), c.text(status, "status")))

    # ---- routing ----

    def send(self, event_type: str, data: Any = None) -> None:
        """Sends an event (data as JSON) to the steps that accept its type, when this step returns."""
        payload = b"" if data is None else _json.dumps(data)
        check(_lib.rf_step_ctx_send(self._ctx, c.text(event_type, "event_type"), payload, len(payload)))

    def send_each(self, event_type: str, items: Iterable[Any]) -> None:
        """Sends a list (at least one item) as one event: a foreach step that accepts it runs once per item."""
        payloads = [_json.dumps(item) for item in items]
        count = len(payloads)
        pointers = (ctypes.c_void_p * max(count, 1))(*[ctypes.cast(ctypes.c_char_p(p), ctypes.c_void_p) for p in payloads])
        lengths = (ctypes.c_uint32 * max(count, 1))(*[len(p) for p in payloads])
        check(_lib.rf_step_ctx_send_each(self._ctx, c.text(event_type, "event_type"), pointers, lengths, count))

    def set_output(self, value: Any) -> None:
        """A foreach item's output: shown in its progress event, passed on in item order."""
        payload = _json.dumps(value)
        check(_lib.rf_step_ctx_set_output(self._ctx, payload, len(payload)))

    def stop(self, result: Any = None) -> None:
        """Ends the run with `result` when this step returns (its sends must list "stop")."""
        payload = _json.dumps(result)
        check(_lib.rf_step_ctx_stop(self._ctx, payload, len(payload)))

    def request_input(self, prompt: Any, answer_type: str) -> None:
        """Asks a human: the run suspends when this step returns; `run.resume(answer)` delivers
        the answer as an event of `answer_type` (which this step's sends must list)."""
        payload = _json.dumps(prompt)
        check(_lib.rf_step_ctx_request_input(self._ctx, payload, len(payload), c.text(answer_type, "answer_type")))

    def start_child(self, workflow: "Workflow", input: Any, result_type: str) -> None:
        """Starts a sub-workflow when this step returns; its result arrives as `result_type`."""
        payload = _json.dumps(input)
        check(_lib.rf_step_ctx_start_child(self._ctx, workflow._built_handle(), payload, len(payload),
                                           c.text(result_type, "result_type")))

    # ---- state, usage, cancellation ----

    def set_state(self, key: str, value: Any) -> None:
        """Sets a key of the run's state (emits a state-changed event)."""
        payload = _json.dumps(value)
        check(_lib.rf_step_ctx_set_state(self._ctx, c.text(key, "key"), payload, len(payload)))

    def get_state(self, key: str, default: Any = None) -> Any:
        """The value of a key of the run's state, or `default` if it was never set."""
        length = ctypes.c_uint32()
        name = c.text(key, "key")
        buffer, capacity = None, 0
        while True:  # again if a concurrent step set a longer value between the two calls
            status = _lib.rf_step_ctx_get_state(self._ctx, name, buffer, capacity, ctypes.byref(length))
            if status == c.RF_E_NOT_FOUND:
                return default
            if status == c.RF_OK and buffer is not None:
                return _json.loads(buffer.raw[: length.value])
            if status not in (c.RF_OK, c.RF_E_TOO_LARGE):
                raise error_for(status)
            buffer = ctypes.create_string_buffer(length.value + 1)
            capacity = len(buffer)

    def report_usage(self, input_tokens: int = 0, output_tokens: int = 0, total_tokens: Optional[int] = None,
                     reasoning_tokens: int = 0, cached_input_tokens: int = 0) -> None:
        """Adds an LLM call's token counts to the run's totals (total defaults to input + output)."""
        if total_tokens is None:
            total_tokens = input_tokens + output_tokens
        for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens), ("total_tokens", total_tokens),
                            ("reasoning_tokens", reasoning_tokens), ("cached_input_tokens", cached_input_tokens)):
            c.in_range(value, 2**64 - 1, name)
        usage = c.rf_token_usage(struct_size=ctypes.sizeof(c.rf_token_usage), input_tokens=input_tokens,
                                 output_tokens=output_tokens,
                                 total_tokens=total_tokens,
                                 reasoning_tokens=reasoning_tokens, cached_input_tokens=cached_input_tokens)
        check(_lib.rf_step_ctx_report_usage(self._ctx, ctypes.byref(usage)))

    @property
    def cancelled(self) -> bool:
        """True once the run has ended or this try has timed out: a long step should stop."""
        return _lib.rf_step_ctx_check_cancelled(self._ctx) != c.RF_OK

    def __repr__(self) -> str:
        return f"Context(step={self.step!r}, attempt={self.attempt}, run_id={self.run_id})"


def _failure_message(error: BaseException) -> bytes:
    """The exception's type, message and traceback, cut to fit (keeping the end)."""
    # The three-argument form: the one-argument form is Python 3.10+.
    trace = traceback.format_exception(type(error), error, error.__traceback__)
    text = f"{type(error).__name__}: {error}\n" + "".join(trace)
    raw = text.encode("utf-8", "replace")
    if len(raw) > _MAX_ERROR:
        raw = raw[:200] + b"\n...\n" + raw[-(_MAX_ERROR - 210):]
    return raw


def _finish(ctx: int, spec: "StepSpec", context: Context, value: Any, error: Optional[BaseException]) -> None:
    """Completes the invocation: the return value is sent as the step's one declared event type."""
    if error is None and value is not None:
        try:
            if len(spec.sends) != 1:
                raise TypeError(f"step {spec.name!r} returned a value but sends {len(spec.sends)} event types: "
                                "use ctx.send(event_type, value)")
            if spec.sends[0] == "stop":
                context.stop(value)
            else:
                context.send(spec.sends[0], value)
        except BaseException as failure:  # noqa: BLE001 - reported as the step's failure
            error = failure
    if error is None:
        _lib.rf_step_ctx_complete(ctx, c.RF_OK, None)
        return
    try:
        message = _failure_message(error)
    except BaseException:  # noqa: BLE001 - an exception whose str() raises: the step still ends
        message = f"{type(error).__name__} (its message could not be read)".encode()
    _lib.rf_step_ctx_complete(ctx, c.RF_E_SYSTEM, message)


def _never_ran(ctx: int) -> None:
    """A `def` step still queued for a pool thread when its engine was closed: it fails."""
    _lib.rf_step_ctx_complete(ctx, c.RF_E_CANCELLED, b"the engine was closed before this step ran")


def run_task(host: "_Host", ctx: int) -> None:
    """Runs one taken task on the host: `async def` steps start eagerly on the host's loop (a
    step that never suspends costs no Task and no loop turn), `def` steps go to its pool."""
    info = c.rf_step_info(struct_size=ctypes.sizeof(c.rf_step_info))
    if _lib.rf_step_ctx_get_info(ctx, ctypes.byref(info)) != c.RF_OK:
        return  # its try already ended (timed out while it waited): nothing to run
    spec = _kept.get(info.user_data or 0)
    if spec is None:
        _lib.rf_step_ctx_complete(ctx, c.RF_E_INTERNAL, b"no Python step is registered for this task")
        return
    context = Context(ctx, spec, info)
    if not spec.is_async:
        future = host.pool.submit(_run_sync, ctx, spec, context)
        future.add_done_callback(lambda done: _never_ran(ctx) if done.cancelled() else None)
        return
    if _EAGER_TASKS:  # Python 3.12+: a real Task, started eagerly
        task = asyncio.Task(_run_async(ctx, spec, context), loop=host.loop, eager_start=True)
        if not task.done():
            host.running.add(task)
            task.add_done_callback(host.running.discard)
        return
    # Before 3.12 (no eager Tasks) its first part runs here, outside a Task: a chain of steps
    # that never suspend then runs in one drain, without a Task and a loop turn per step. It
    # runs in a context of its own, which the Task that carries it on takes over, so context
    # variables it sets are its own, never seen by later steps.
    step_context = contextvars.copy_context()
    try:
        coroutine = spec.function(context, context.input)
        pending = step_context.run(coroutine.send, None)
    except StopIteration as returned:
        _finish(ctx, spec, context, returned.value, None)
        return
    except BaseException as error:  # noqa: BLE001 - every failure is the step's
        _finish(ctx, spec, context, None, error)
        return
    # It suspended: a Task carries it on from where it stopped.
    task = step_context.run(host.loop.create_task, _resume(ctx, spec, context, _Resumed(coroutine, pending)))
    host.running.add(task)
    task.add_done_callback(host.running.discard)


_EAGER_TASKS = sys.version_info >= (3, 12)


class _Resumed:
    """Awaiting it continues a coroutine that was started outside a Task and suspended: what
    it yielded goes to the Task, what the Task sends or throws goes back into it."""

    __slots__ = ("coroutine", "pending")

    def __init__(self, coroutine: Any, pending: Any) -> None:
        self.coroutine = coroutine
        self.pending = pending

    def __await__(self) -> Any:
        coroutine, value = self.coroutine, self.pending
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as error:  # noqa: BLE001 - thrown in by the Task (a cancel)
                try:
                    value = coroutine.throw(error)
                except StopIteration as returned:
                    return returned.value
            else:
                try:
                    value = coroutine.send(sent)
                except StopIteration as returned:
                    return returned.value


async def _resume(ctx: int, spec: "StepSpec", context: Context, resumed: _Resumed) -> None:
    try:
        value = await resumed
    except BaseException as error:  # noqa: BLE001
        _finish(ctx, spec, context, None, error)
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
    else:
        _finish(ctx, spec, context, value, None)


async def _run_async(ctx: int, spec: "StepSpec", context: Context) -> None:
    try:
        value = await spec.function(context, context.input)
    except BaseException as error:  # noqa: BLE001 - every failure is the step's, reported to the engine
        _finish(ctx, spec, context, None, error)
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
    else:
        _finish(ctx, spec, context, value, None)


def _run_sync(ctx: int, spec: "StepSpec", context: Context) -> None:
    try:
        value = spec.function(context, context.input)
    except BaseException as error:  # noqa: BLE001
        _finish(ctx, spec, context, None, error)
        return
    _finish(ctx, spec, context, value, None)
