"""The tests import the package from the source tree; it finds the library in build/."""
import os
import sys

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
