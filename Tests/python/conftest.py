"""The tests import the package from the source tree; it finds the library in build/."""
import os
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Bindings", "python"))

import pytest  # noqa: E402

import rillflow  # noqa: E402


@pytest.fixture
def engine():
    """An engine of the test's own, closed afterwards."""
    engine = rillflow.Engine(worker_threads=2, step_threads=4)
    yield engine
    engine.close()


def kinds(events):
    return [event.kind for event in events]


def held_run(engine):
    """A workflow run whose one step waits (up to 10 s) until the returned gate is set, then
    completes with "done": (run, gate)."""
    wf = rillflow.Workflow("held", engine=engine)
    gate = threading.Event()

    @wf.step(accepts="start", sends="stop")
    def hold(ctx, _):
        gate.wait(10)
        return "done"

    return wf.run(), gate
