"""Sinks from Python: every event of every run, in order per run, on the engine's thread;
kinds filters; a raising sink retried with the same batch; stats; closing, also at exit."""
import os
import subprocess
import sys
import threading
import time

import pytest

import rillflow
from rillflow import Workflow

from conftest import ROOT


def chatty(engine, name="chatty", tokens=50):
    wf = Workflow(name, engine=engine)

    @wf.step(accepts="start", sends="stop")
    def talk(ctx, _):
        for i in range(tokens):
            ctx.stream_token(f"t{i} ")
        ctx.write_event_to_stream({"done": True}, topic="notes")
        return "ok"

    return wf


def test_every_event_of_every_run_in_order(engine):
    seen, ended, threads = {}, [], set()

    def deliver(events):
        threads.add(threading.current_thread().name)
        for event in events:
            seen.setdefault(event.run_id, []).append((event.seq, event.kind))

    sink = engine.add_sink(deliver, run_ended=ended.append)
    wf = chatty(engine)
    runs = [wf.run() for _ in range(3)]
    for run in runs:
        assert run.result(timeout=10) == "ok"
    sink.close(timeout=10)
    for run in runs:
        expected = [(event.seq, event.kind) for event in run.events(timeout=10)]
        assert seen[run.id] == expected and len(expected) == 55  # started x2, 50 tokens, custom, completed x2
    assert sorted(ended) == sorted(run.id for run in runs)
    assert threading.main_thread().name not in threads and not any(t.startswith("rillflow") for t in threads)


def test_kinds_filter_and_stats(engine):
    kinds = []
    sink = engine.add_sink(lambda events: kinds.extend(e.kind for e in events), kinds=["custom"])
    chatty(engine).run().result(timeout=10)
    stats_before_close = sink.stats
    sink.close(timeout=10)
    assert kinds == ["custom", "run_completed"]
    assert stats_before_close["runs"] == 1 and stats_before_close["failures"] == 0
    with pytest.raises(ValueError, match="closed"):
        sink.stats
    sink.close()  # twice is harmless


def test_a_raising_sink_gets_the_same_batch_again(engine):
    calls, delivered = [0], []

    def flaky(events):
        calls[0] += 1
        if calls[0] <= 2:
            raise ConnectionError("database is locked")
        delivered.extend(e.seq for e in events)

    sink = engine.add_sink(flaky, retry_backoff=0.001)
    run = chatty(engine, tokens=5).run()
    run.result(timeout=10)
    sink.close(timeout=10)
    assert delivered == list(range(1, 11))  # in order, each once
    assert isinstance(sink.error, ConnectionError)


def test_a_sink_failing_for_good_is_disabled_and_the_run_goes_on(engine):
    sink = engine.add_sink(lambda events: 1 / 0, max_failures=2, retry_backoff=0.001)
    run = chatty(engine, tokens=5).run()
    assert run.result(timeout=10) == "ok"  # the live run never waited for the broken sink
    for _ in range(1000):
        if sink.stats["disabled"]:
            break
        threading.Event().wait(0.001)
    stats = sink.stats
    assert stats["disabled"] and stats["failures"] == 2 and "RF_E_SYSTEM" in stats["last_error"]
    assert isinstance(sink.error, ZeroDivisionError)
    sink.close(timeout=1)


def test_sink_events_equal_stream_events_field_by_field(engine):
    delivered = []
    sink = engine.add_sink(delivered.extend)
    before = time.time_ns()
    run = chatty(engine, name="fields", tokens=3).run()
    assert run.result(timeout=10) == "ok"
    after = time.time_ns()
    sink.close(timeout=10)
    streamed = list(run.events(timeout=10))
    assert [tuple(e) for e in delivered] == [tuple(e) for e in streamed]  # byte for byte
    tokens = [e for e in streamed if e.kind == "token"]
    assert [(e.token_index, e.data, e.raw, e.step, e.topic) for e in tokens] == [
        (i, f"t{i} ", f"t{i} ".encode(), "talk", "") for i in range(3)]
    custom = next(e for e in streamed if e.kind == "custom")
    assert (custom.topic, custom.data, custom.text) == ("notes", {"done": True}, '{"done":true}')
    for event in streamed:
        assert before <= event.timestamp_ns <= after
        assert (event.run_id, event.parent_run_id, event.root_run_id) == (run.id, 0, run.id)
        assert event.workflow == "fields" and event.attempt == (1 if event.step else 0)
    assert [e.seq for e in streamed] == list(range(1, len(streamed) + 1))
    assert streamed[-1].is_terminal and not any(e.is_terminal for e in streamed[:-1])
    assert repr(tokens[0]) == "Event(seq=3, kind='token' step='talk', data=b't0 ')"


def test_closing_the_sink_or_its_engine_from_the_sink_is_refused_and_changes_nothing():
    engine = rillflow.Engine(worker_threads=2, step_threads=2)
    refused, tried = [], threading.Event()

    def deliver(events):
        if tried.is_set():
            return
        for close in (sink.close, engine.close):
            try:
                close()
            except rillflow.InvalidState as error:
                refused.append("sink thread" in str(error))
        tried.set()

    sink = engine.add_sink(deliver)
    run = chatty(engine, tokens=3).run()
    assert run.result(timeout=10) == "ok"
    assert tried.wait(10)
    assert refused == [True, True]
    # Both are still open and usable: the batch whose callback tried to close them is counted
    # as delivered once the callback has returned (just after `tried` was set).
    deadline = time.monotonic() + 10
    while sink.stats["delivered"] == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert sink.stats["delivered"] > 0
    sink.close(timeout=5)
    engine.close()


def test_a_slow_sink_gets_every_event_before_the_interpreter_exits():
    # The script never closes its engine; the report runs after rillflow's exit handler, which
    # was registered later (exit handlers run last first).
    script = """
import atexit, time
seen = []
atexit.register(lambda: print(" ".join(seen)))
import rillflow

def deliver(events):
    time.sleep(0.3)  # still busy with its first batch when the script ends
    seen.extend(event.kind for event in events)

rillflow.default_engine().add_sink(deliver)
wf = rillflow.Workflow("at_exit")
wf.step(accepts="start", sends="stop")(lambda ctx, _: 1)
assert wf.run().result(timeout=10) == 1
"""
    environment = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "Bindings", "python"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["run_started", "step_started", "step_completed", "run_completed"]
