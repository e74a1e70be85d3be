"""What the binding keeps alive for the library, and what it lets go: callbacks outlive the
Python objects that made them, failed constructors release what they created, copies are taken
before the library's memory can go, and closing an engine ends the steps it had handed out."""
import asyncio
import gc
import os
import signal
import threading

import pytest

import rillflow
from rillflow import Workflow
from rillflow import _kept
from rillflow import run as run_module


def one_step(engine, name, function, **options):
    wf = Workflow(name, engine=engine)
    wf.step(accepts="start", sends="stop", **options)(function)
    return wf


def test_a_sink_dropped_without_close_keeps_receiving(engine):
    received, completed = [], threading.Event()

    def deliver(events):
        received.extend(events)
        if events[-1].kind == "run_completed":
            completed.set()

    engine.add_sink(deliver)  # the Sink object is not kept by the caller
    gc.collect()
    run = one_step(engine, "dropped_sink", lambda ctx, _: "ok").run()
    assert run.result(timeout=10) == "ok"
    assert completed.wait(10)
    assert [event.kind for event in received][0] == "run_started"


def test_sink_close_takes_any_timeout(engine):
    for timeout in (float("inf"), 1e9):
        sink = engine.add_sink(lambda events: None)
        sink.close(timeout=timeout)
        with pytest.raises(ValueError):
            sink.stats  # closed for good: nothing was lost on the way


def test_a_stream_whose_construction_fails_releases_its_subscription(engine, monkeypatch):
    run = one_step(engine, "stream_failure", lambda ctx, _: "ok").run()
    released = []
    real_release = run_module.c.lib.rf_subscription_release
    monkeypatch.setattr(run_module.c.lib, "rf_subscription_release", lambda handle: released.append(handle) or real_release(handle))

    def failing_reader(handle):
        raise MemoryError("simulated")

    monkeypatch.setattr(run_module, "BatchReader", failing_reader)
    with pytest.raises(MemoryError):
        run.stream()
    gc.collect()
    assert len(released) == 1
    assert run.result(timeout=10) == "ok"


def test_a_step_definition_is_let_go_with_its_workflow_and_runs(engine):
    def kept():  # what the package keeps for the library now (another thread may change it)
        with _kept._lock:
            return set(_kept._objects)

    # Tracked by number, not counted: an earlier test's objects may be let go meanwhile.
    before = kept()
    wf = one_step(engine, "released_steps", lambda ctx, _: "ok")
    added = kept() - before
    assert len(added) == 1
    run = wf.run()
    assert run.result(timeout=10) == "ok"
    run.close()
    wf.close()
    # The library lets go once nothing uses the step, which a worker thread may see last.
    for _ in range(10_000):
        if not added & kept():
            break
        threading.Event().wait(0.001)
    assert not added & kept()


def test_a_step_that_runs_after_its_try_timed_out_still_sees_its_input():
    engine = rillflow.Engine(worker_threads=2, step_threads=1)
    release, ran, seen = threading.Event(), threading.Event(), []

    def late_step(ctx, value):
        seen.append((ctx.event_type, value))
        ran.set()

    blocker = one_step(engine, "blocker", lambda ctx, _: release.wait(10) and "done")
    late = one_step(engine, "late", late_step, timeout=0.05)
    blocking = blocker.run()
    waiting = late.run({"payload": "x" * 100})
    with pytest.raises(rillflow.RunError):
        waiting.result(timeout=10)  # timed out while queued behind the blocker
    release.set()
    assert blocking.result(timeout=10) == "done"
    assert ran.wait(10)
    assert seen == [("start", {"payload": "x" * 100})]
    engine.close()


def test_closing_the_engine_ends_the_steps_it_handed_out():
    engine = rillflow.Engine(worker_threads=2, step_threads=1)
    release, started = threading.Event(), threading.Event()

    def block(ctx, _):
        started.set()
        release.wait(10)
        return "done"

    async def forever(ctx, _):
        await asyncio.Event().wait()

    async def cleans_up(ctx, _):
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.01)  # a cleanup that awaits: more turns than one

    blocking = one_step(engine, "blocking", block).run()
    assert started.wait(10)
    queued = one_step(engine, "queued", lambda ctx, _: "never").run()   # waits for the only pool thread
    suspended = one_step(engine, "suspended", forever).run()
    cleaning = one_step(engine, "cleaning", cleans_up).run()
    # Until the host has taken both: the def step waits in the pool's queue, the async one is
    # a running task. Nothing signals either, so look (for at most 10 s).
    host = engine._host
    for _ in range(10_000):
        if host.pool._work_queue.qsize() == 1 and len(host.running) == 2:
            break
        threading.Event().wait(0.001)
    assert host.pool._work_queue.qsize() == 1 and len(host.running) == 2
    engine.close()
    with pytest.raises(rillflow.RunError, match="closed before this step ran"):
        queued.result(timeout=10)
    with pytest.raises(rillflow.RunError, match="CancelledError"):
        suspended.result(timeout=10)
    with pytest.raises(rillflow.RunError, match="CancelledError"):
        cleaning.result(timeout=10)
    release.set()
    assert blocking.result(timeout=10) == "done"


def test_a_close_from_another_thread_waits_until_the_result_is_copied(engine, monkeypatch):
    run = one_step(engine, "copied_result", lambda ctx, _: {"answer": 42}).run()
    assert run.wait(timeout=10) == "completed"
    real_string_at = run_module.ctypes.string_at
    closer_finished_during_the_copy = []

    def string_at_with_a_close_racing(address, size):
        # The library's pointer is in hand: a close now would free the bytes before the copy.
        closer = threading.Thread(target=run.close)
        closer.start()
        closer.join(0.2)
        closer_finished_during_the_copy.append(not closer.is_alive())
        copy = real_string_at(address, size)
        monkeypatch.setattr(run_module.ctypes, "string_at", real_string_at)
        string_at_with_a_close_racing.closer = closer
        return copy

    monkeypatch.setattr(run_module.ctypes, "string_at", string_at_with_a_close_racing)
    assert run.result(timeout=10) == {"answer": 42}
    string_at_with_a_close_racing.closer.join(10)
    assert closer_finished_during_the_copy == [False]
    with pytest.raises(rillflow.InvalidHandle, match="is closed"):
        run.result(timeout=10)


def test_a_kept_value_whose_finalizer_lets_go_of_another_does_not_deadlock():
    # What a step's code does when it holds the last reference to a workflow: dropping it
    # releases the workflow, and the library's destructor for its steps calls back in.
    class ForgetsOnFinalize:
        def __init__(self, other):
            self.other = other

        def __del__(self):
            _kept.forget(self.other)

    inner = _kept.keep(object())
    outer = _kept.keep(ForgetsOnFinalize(inner))
    forgotten = threading.Event()
    threading.Thread(target=lambda: (_kept.forget(outer), forgotten.set()), daemon=True).start()
    assert forgotten.wait(10)
    assert _kept.get(inner) is None and _kept.get(outer) is None


def test_a_forked_child_refuses_the_parents_engine_and_makes_its_own(engine):
    """os.fork() (multiprocessing's default start method on Linux before Python 3.14): the
    child has none of the engine's threads, so the parent's engine, workflows and runs are
    refused there with an error naming the fork, not left to hang; a new engine works."""
    parent_wf = one_step(engine, "parent", lambda ctx, _: "parent")
    assert parent_wf.run().result(timeout=10) == "parent"  # the engine's threads are running
    pid = os.fork()
    if pid == 0:
        status = 1
        signal.alarm(20)  # a hang in the child kills it, and the parent sees the signal
        try:
            try:
                parent_wf.run()
                status = 2
            except rillflow.InvalidHandle as error:
                if "handles made before the fork are refused" not in str(error):
                    status = 3
                else:
                    child_engine = rillflow.Engine(worker_threads=1)
                    wf = one_step(child_engine, "child", lambda ctx, _: "child")
                    status = 0 if wf.run().result(timeout=10) == "child" else 4
        finally:
            os._exit(status)  # nothing of the parent's (pytest, atexit) runs in the child
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert parent_wf.run().result(timeout=10) == "parent"  # the parent is untouched
