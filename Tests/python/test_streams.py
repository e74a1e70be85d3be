"""Streams: modes and filters, resuming from a seq, several consumers, cancellation from every
side, Ctrl-C, the JSON envelope, and released objects."""
import asyncio
import json
import os
import signal
import threading

import pytest

import rillflow
from rillflow import Workflow

from conftest import kinds


def planner(engine, gate=None):
    """plan (state) -> answer (tokens, state, custom event) -> stop; waits on `gate` if given."""
    wf = Workflow("modes", engine=engine)

    @wf.step(accepts="start", sends="planned")
    def plan(ctx, question):
        ctx.set_state("plan", "look it up")
        return question

    @wf.step(accepts="planned", sends="stop")
    def answer(ctx, question):
        if gate is not None:
            gate.wait(10)
        for word in ("Oslo", " is", " the", " capital"):
            ctx.stream_token(word)
        ctx.write_event_to_stream({"note": "done"}, topic="notes")
        ctx.set_state("answer", "Oslo")
        return "Oslo"

    return wf


def test_the_five_modes(engine):
    run = planner(engine).run("capital of Norway?")
    run.result(timeout=10)
    assert kinds(run.events("tokens", timeout=10)) == [
        "run_started", "step_started", "state_changed", "step_completed", "step_started", "token", "token", "token",
        "token", "custom", "state_changed", "step_completed", "run_completed"]
    assert "token" not in kinds(run.events("messages", timeout=10))
    assert kinds(run.events("updates", timeout=10)) == ["state_changed", "step_completed", "state_changed",
                                                        "step_completed", "run_completed"]
    assert kinds(run.events("values", timeout=10)) == ["state_changed", "state_changed", "run_completed"]
    custom = list(run.events("custom", kinds=["custom"], topics=["notes"], timeout=10))
    assert kinds(custom) == ["custom", "run_completed"] and custom[0].data == {"note": "done"}
    assert kinds(run.events("custom", kinds=["custom"], topics=["other"], timeout=10)) == ["run_completed"]
    with pytest.raises(ValueError, match="mode must be one of"):
        run.stream("everything")
    with pytest.raises(ValueError, match="unknown event kinds"):
        run.stream("custom", kinds=["tokens"])


def test_resume_from_a_seq(engine):
    run = planner(engine).run("q")
    run.result(timeout=10)
    everything = list(run.events(timeout=10))
    resumed = list(run.events(from_seq=6, timeout=10))
    assert [e.seq for e in resumed] == [e.seq for e in everything[5:]]
    assert resumed[0].seq == 6
    assert list(run.events(from_seq=0, timeout=10)) == []  # the live tail of an ended run: nothing more


def test_two_consumers_at_once_see_the_same_stream(engine):
    gate = threading.Event()
    run = planner(engine, gate).run("q")
    seen = {}

    def consume(name):
        seen[name] = [(e.seq, e.kind) for e in run.events(timeout=10)]

    threads = [threading.Thread(target=consume, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()

    async def also_async():
        return [(e.seq, e.kind) async for e in run.stream()]

    gate.set()
    seen["async"] = asyncio.run(also_async())
    for t in threads:
        t.join()
    assert seen["a"] == seen["b"] == seen["async"]
    assert len(seen["a"]) == 13


def test_cancel_while_streaming(engine):
    gate = threading.Event()
    run = planner(engine, gate).run("q")
    stream = run.events(timeout=10)
    first = next(stream)
    assert first.kind == "run_started"
    run.cancel("user pressed stop")
    rest = list(stream)
    assert rest[-1].kind == "run_cancelled" and rest[-1].data == {"reason": "user pressed stop"}
    gate.set()
    with pytest.raises(rillflow.RunCancelled, match="user pressed stop"):
        run.result(timeout=10)
    with pytest.raises(rillflow.InvalidState, match="already ended"):
        run.cancel()


def test_cancelling_the_awaiting_task_cancels_the_run(engine):
    gate = threading.Event()
    wf = planner(engine, gate)

    async def main():
        run = wf.run("q")
        waiter = asyncio.ensure_future(run)  # `await run` in a task
        # One turn of the loop runs the waiter until it waits on its stream's fd (the run is
        # held at the gate, so no terminal event can have come).
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return run

    run = asyncio.run(main())
    gate.set()
    assert run.wait(timeout=10) == "cancelled"
    events = list(run.events(timeout=10))
    assert events[-1].data == {"reason": "the awaiting task was cancelled"}


def test_ctrl_c_in_a_blocking_wait_cancels_the_run(engine):
    gate = threading.Event()
    run = planner(engine, gate).run("q")
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        timer.start()  # inside: however late this thread gets on, the interrupt is caught here
        run.result(timeout=10)
    timer.join()
    gate.set()
    assert run.wait(timeout=10) == "cancelled"


def test_to_json_is_the_shared_envelope(engine):
    run = planner(engine).run("q")
    run.result(timeout=10)
    for event in run.events(timeout=10):
        envelope = json.loads(event.to_json())
        assert envelope["seq"] == event.seq and envelope["kind"] == event.kind
        assert envelope["run_id"] == run.id and envelope["workflow"] == "modes"
        if event.kind == "token":
            assert envelope["data"] == event.data and envelope["token_index"] == event.token_index
        elif event.kind == "custom":
            assert envelope["topic"] == "notes" and envelope["data"] == {"note": "done"}
        assert envelope["time"].endswith("Z")


def test_released_objects_refuse_calls(engine):
    run = planner(engine).run("q")
    run.result(timeout=10)
    stream = run.stream()
    run.close()
    run.close()
    assert [e.kind for e in stream][-1] == "run_completed"  # a stream outlives its run's handle
    # A closed object raises InvalidHandle, as an engine does (errors.py: "was released").
    with pytest.raises(rillflow.InvalidHandle, match="closed"):
        run.status
    with pytest.raises(rillflow.InvalidHandle):
        run.stream()
    with pytest.raises(rillflow.InvalidHandle):
        run.resume(1)


def test_a_stream_that_waits_too_long_times_out(engine):
    gate = threading.Event()
    run = planner(engine, gate).run("q")
    with pytest.raises(rillflow.Timeout):
        list(run.events("values", from_seq=3, timeout=0.05))
    gate.set()
    assert run.result(timeout=10) == "Oslo"


def test_dropping_a_run_cancels_it(engine):
    gate = threading.Event()
    run = planner(engine, gate).run("q")
    stream = run.stream()
    del run
    events = list(stream.iterate(timeout=10))
    gate.set()
    assert events[-1].kind == "run_cancelled" and events[-1].data == {"reason": "released"}


def test_closing_a_stream_ends_a_for_loop_blocked_in_it(engine):
    gate = threading.Event()
    run = planner(engine, gate).run("q")
    stream = run.stream("custom")  # the custom event comes only after the held step goes on
    seen, finished = [], threading.Event()

    def consume():
        seen.extend(stream)  # blocked inside the library's read
        finished.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert not finished.wait(0.2)
    stream.close()  # the read returns "closed", and the loop ends without an error
    assert finished.wait(5)
    consumer.join()
    assert "custom" not in [event.kind for event in seen]  # it ended by the close, not the run
    gate.set()
    assert run.result(timeout=10) == "Oslo"


def test_closing_a_stream_ends_an_async_for_waiting_in_it(engine):
    gate = threading.Event()
    run = planner(engine, gate).run("q")
    stream = run.stream("custom")

    async def main():
        seen = []

        async def consume():
            async for event in stream:
                seen.append(event)

        task = asyncio.create_task(consume())
        for _ in range(5000):  # until it waits on the fd (it reads run_started first)
            if stream._waiter is not None:
                break
            await asyncio.sleep(0.001)
        assert stream._waiter is not None
        stream.close()
        await asyncio.wait_for(task, 5)  # ends, as a blocking read ends with "closed"
        return seen

    assert "custom" not in kinds(asyncio.run(main()))
    gate.set()
    assert run.result(timeout=10) == "Oslo"


def chatty(engine, fail):
    """One step that streams far more than its run keeps in memory, then returns or fails."""
    wf = Workflow("chatty", engine=engine)

    @wf.step(accepts="start", sends="stop")
    def talk(ctx, _):
        for i in range(3000):
            ctx.stream_token("x" * 100)
        if fail:
            raise RuntimeError("talked too much")
        return "said"

    return wf


def test_the_result_of_a_run_whose_first_events_left_memory():
    with rillflow.Engine(worker_threads=2, log_capacity=64 << 10, history_bytes=64 << 10, max_event_bytes=4096) as small:
        assert chatty(small, fail=False).run(None).result(timeout=30) == "said"
        with pytest.raises(rillflow.RunFailed, match="talked too much"):
            chatty(small, fail=True).run(None).result(timeout=30)

        async def awaited(fail):
            return await chatty(small, fail=fail).run(None)

        assert asyncio.run(awaited(False)) == "said"
        with pytest.raises(rillflow.RunFailed, match="talked too much"):
            asyncio.run(awaited(True))
