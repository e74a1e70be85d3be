"""rillflow: workflows that stream everything they do, live — Python binding of librillflow.

    import rillflow

    wf = rillflow.Workflow("hello")

    @wf.step(accepts="start", sends="stop")
    async def greet(ctx, name):
        for word in ("Hello, ", name, "!"):
            ctx.stream_token(word)
        return f"Hello, {name}!"

    run = wf.run("Ada")
    async for event in run.stream():
        print(event.kind, event.data)
    print(await run)
"""
from ._capi import lib as _lib
from .context import Context
from .engine import Engine, default_engine
from .errors import (
    Cancelled, Closed, CorruptHistory, InvalidArgument, InvalidHandle, InvalidState, NotFound, RillflowError, RunCancelled, RunError,
    RunFailed, RunTimedOut, SystemFailure, Timeout,
)
from .events import Event
from .run import Run, Stream
from .sinks import Sink
from .workflow import Retry, Workflow

__version__ = "1.4.0"
library_version: str = _lib.rf_version_string().decode()

__all__ = [
    "Cancelled", "Closed", "Context", "CorruptHistory", "Engine", "Event", "InvalidArgument", "InvalidHandle", "InvalidState",
    "NotFound", "Retry", "RillflowError", "Run", "RunCancelled", "RunError", "RunFailed", "RunTimedOut", "Sink", "Stream",
    "SystemFailure", "Timeout", "Workflow", "default_engine", "library_version",
]
