"""Workflows from Python: decorated def and async def steps, routing, the step context's every
power, failures and retries, timeouts, human input, sub-workflows."""
import asyncio
import threading

import pytest

import rillflow
from rillflow import Retry, Workflow

from conftest import held_run, kinds


def test_chain_of_async_and_def_steps(engine):
    wf = Workflow("chain", engine=engine)

    @wf.step(accepts="start", sends="researched")
    async def research(ctx, question):
        ctx.write_event_to_stream({"msg": "Step one is happening"}, topic="progress")
        await asyncio.sleep(0)
        return {"question": question, "notes": 3}

    @wf.step(accepts="researched", sends="written")
    def write(ctx, notes):  # a plain def step runs on a worker thread
        assert threading.current_thread().name.startswith("rillflow-step")
        for word in ("Call", " me", " Ishmael."):
            ctx.stream_token(word)
        ctx.set_state("draft", "Call me Ishmael.")
        ctx.report_usage(input_tokens=12, output_tokens=3)
        return notes["notes"] * 2

    @wf.step(accepts="written", sends="stop")
    async def finish(ctx, count):
        return {"count": count, "draft": ctx.get_state("draft"), "missing": ctx.get_state("nope", "default")}

    run = wf.run("what is Moby Dick?")
    assert run.result(timeout=10) == {"count": 6, "draft": "Call me Ishmael.", "missing": "default"}
    events = list(run.events(timeout=10))
    assert kinds(events) == ["run_started", "step_started", "custom", "step_completed", "step_started", "token",
                             "token", "token", "state_changed", "step_completed", "step_started", "step_completed",
                             "run_completed"]
    assert [e.seq for e in events] == list(range(1, 14))
    assert events[2].topic == "progress" and events[2].data == {"msg": "Step one is happening"}
    assert [e.token_index for e in events if e.kind == "token"] == [0, 1, 2]
    assert "".join(e.data for e in events if e.kind == "token") == "Call me Ishmael."
    assert events[-1].data["usage"]["total_tokens"] == 15
    assert run.usage == {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15, "reasoning_tokens": 0,
                         "cached_input_tokens": 0}
    assert run.status == "completed"


def test_await_run_and_async_stream(engine):
    wf = Workflow("awaited", engine=engine)

    @wf.step(accepts="start", sends="stop")
    async def echo(ctx, value):
        ctx.progress(1, 2, "half")
        ctx.progress(2, 2)
        return value

    async def main():
        run = wf.run([1, 2, 3])
        seen = [event async for event in run.stream(mode="messages")]
        return await run, seen

    result, seen = asyncio.run(main())
    assert result == [1, 2, 3]
    progress = [e.data for e in seen if e.kind == "progress"]
    assert progress == [{"completed": 1, "total": 2, "status": "half"}, {"completed": 2, "total": 2, "status": "running"}]


def test_fan_out_concurrency_and_fan_in(engine):
    wf = Workflow("fan", engine=engine)
    running, peak = [0], [0]
    lock = threading.Lock()

    @wf.step(accepts="start", sends="item")
    def split(ctx, count):
        for i in range(count):
            ctx.send("item", i)

    @wf.step(accepts="item", sends="squared", concurrency=2)
    async def square(ctx, value):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        await asyncio.sleep(0.001)
        with lock:
            running[0] -= 1
        return value * value

    @wf.step(accepts="squared", sends="stop", collect=20)
    def join(ctx, first):
        assert first == ctx.inputs[0]
        return sorted(ctx.inputs)

    run = wf.run(20)
    assert run.result(timeout=10) == sorted(i * i for i in range(20))
    assert 1 <= peak[0] <= 2


def test_foreach_progress_and_ordered_outputs(engine):
    wf = Workflow("foreach", engine=engine)

    @wf.step(accepts="start", sends="cities")
    def split(ctx, cities):
        ctx.send_each("cities", cities)

    @wf.step(accepts="cities", sends="forecasts", foreach_done="forecasts", concurrency=3)
    async def forecast(ctx, city):
        await asyncio.sleep(0.001 * (len(city) % 3))
        ctx.set_output({"city": city, "temp": len(city)})

    @wf.step(accepts="forecasts", sends="stop")
    def summarize(ctx, first):
        return ctx.inputs

    cities = ["Oslo", "Lima", "Cairo", "Perth", "Quito"]
    run = wf.run(cities)
    assert run.result(timeout=10) == [{"city": c, "temp": len(c)} for c in cities]
    progress = [e.data for e in run.events(timeout=10) if e.kind == "progress"]
    assert [p["completed"] for p in progress] == [1, 2, 3, 4, 5]
    assert sorted(p["index"] for p in progress) == [0, 1, 2, 3, 4]
    assert all(p["status"] == "success" and p["total"] == 5 for p in progress)


def test_exceptions_are_retried_then_fail_the_run_with_the_traceback(engine):
    wf = Workflow("flaky", engine=engine)
    tries = []

    @wf.step(accepts="start", sends="stop", retry=Retry(attempts=3, backoff=0.001))
    def fetch(ctx, _):
        tries.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError("upstream returned 503")
        return "ok"

    run = wf.run()
    assert run.result(timeout=10) == "ok"
    assert tries == [1, 2, 3]
    retrying = [e for e in run.events(timeout=10) if e.kind == "step_retrying"]
    assert [e.attempt for e in retrying] == [1, 2]
    assert retrying[0].data["error"].startswith("ConnectionError: upstream returned 503\nTraceback")
    assert retrying[0].data["backoff_ns"] == 1_000_000

    doomed = Workflow("doomed", engine=engine)

    @doomed.step(accepts="start", sends="stop", retry=Retry(attempts=2))
    async def always(ctx, _):
        raise ValueError("bad input")

    run = doomed.run()
    with pytest.raises(rillflow.RunFailed) as failure:
        run.result(timeout=10)
    data = failure.value.event.data
    assert data["step"] == "always" and data["attempts"] == 2
    assert data["error"].startswith("ValueError: bad input")
    assert 'raise ValueError("bad input")' in data["error"]
    assert failure.value.status == "failed"


def test_a_value_returned_by_a_step_with_several_sends_fails_it(engine):
    wf = Workflow("ambiguous", engine=engine)

    @wf.step(accepts="start", sends="a,stop")
    def first(ctx, _):
        return 1

    @wf.step(accepts="a", sends="stop")
    def second(ctx, _):
        return 2

    with pytest.raises(rillflow.RunFailed, match="returned a value but sends 2 event types"):
        wf.run().result(timeout=10)


def test_step_and_run_timeouts(engine):
    wf = Workflow("slow", engine=engine)

    # The timeout also bounds the second try, host hand-off included: wide enough for a busy machine.
    @wf.step(accepts="start", sends="stop", timeout=0.2, retry=Retry(attempts=2))
    async def slow(ctx, _):
        if ctx.attempt == 1:
            while not ctx.cancelled:
                await asyncio.sleep(0.001)
            return None
        return "second try"

    run = wf.run()
    assert run.result(timeout=10) == "second try"
    retrying = [e for e in run.events(timeout=10) if e.kind == "step_retrying"]
    assert "timed out after 200 ms" in retrying[0].data["error"]

    stuck = Workflow("stuck", engine=engine)

    @stuck.step(accepts="start", sends="stop")
    def hang(ctx, _):
        while not ctx.cancelled:
            threading.Event().wait(0.001)

    run = stuck.run(timeout=0.05)
    with pytest.raises(rillflow.RunTimedOut) as timed_out:
        run.result(timeout=10)
    assert timed_out.value.event.data == {"timeout_ns": 50_000_000, "active_steps": ["hang"]}
    assert isinstance(timed_out.value, TimeoutError)


def test_human_in_the_loop(engine):
    wf = Workflow("approval", engine=engine)

    @wf.step(accepts="start", sends="review")
    def draft(ctx, topic):
        ctx.stream_token(f"A draft about {topic}")
        ctx.request_input({"question": "Publish?"}, "review")

    @wf.step(accepts="review", sends="stop")
    def publish(ctx, answer):
        return {"published": answer == "yes"}

    run = wf.run("rivers")
    until_question = list(run.events(end_at_suspension=True, timeout=10))
    assert until_question[-1].kind == "input_required"
    assert until_question[-1].data == {"prompt": {"question": "Publish?"}}
    assert run.wait(timeout=10) == "suspended"
    run.resume("yes")
    with pytest.raises(rillflow.InvalidState, match="not waiting for input"):
        run.resume("again")  # one answer per question
    assert run.result(timeout=10) == {"published": True}
    with pytest.raises(rillflow.InvalidState, match="not waiting for input"):
        run.resume("late")


def test_result_waits_through_a_suspension_answered_by_another_thread(engine):
    wf = Workflow("approval_elsewhere", engine=engine)

    @wf.step(accepts="start", sends="review")
    def ask(ctx, _):
        ctx.request_input("Publish?", "review")

    @wf.step(accepts="review", sends="stop")
    def publish(ctx, answer):
        return answer

    run = wf.run()

    def answer_once_suspended():
        assert run.wait(timeout=10) == "suspended"
        run.resume("yes")

    answerer = threading.Thread(target=answer_once_suspended)
    answerer.start()
    assert run.result(timeout=10) == "yes"  # result() did not return at the suspension
    answerer.join()


def test_result_times_out_while_the_run_goes_on(engine):
    run, gate = held_run(engine)
    with pytest.raises(rillflow.Timeout, match="did not end within 0.05 s"):
        run.result(timeout=0.05)
    assert run.status == "running"
    gate.set()
    assert run.result(timeout=10) == "done"


def test_sub_workflow(engine):
    child = Workflow("summarize", engine=engine)

    @child.step(accepts="start", sends="stop")
    def summarize(ctx, text):
        ctx.stream_token("short")
        return text.upper()

    parent = Workflow("research", engine=engine)

    @parent.step(accepts="start", sends="summary")
    def gather(ctx, text):
        ctx.start_child(child, text, "summary")

    @parent.step(accepts="summary", sends="stop")
    def report(ctx, summary):
        return {"report": summary}

    run = parent.run("rivers carve valleys")
    assert run.result(timeout=10) == {"report": "RIVERS CARVE VALLEYS"}
    events = list(run.events(timeout=10))
    child_events = [e for e in events if e.run_id != run.id]
    assert child_events and all(e.parent_run_id == run.id and e.root_run_id == run.id for e in child_events)
    assert "token" in kinds(child_events) and child_events[-1].kind == "run_completed"
    assert events[-1].kind == "run_completed" and events[-1].run_id == run.id


def test_building_errors_name_the_problem(engine):
    wf = Workflow("broken", engine=engine)

    @wf.step(accepts="start", sends="nowhere")
    def only(ctx, _):
        pass

    with pytest.raises(rillflow.InvalidArgument, match="event type 'nowhere' sent by step 'only' is accepted by no step"):
        wf.run()
    with pytest.raises(rillflow.InvalidArgument, match="duplicate step name 'only'"):
        wf.add_step(only, accepts="start", sends="stop")
    with pytest.raises(ValueError, match="timeout must be positive"):
        wf.add_step(only, name="other", accepts="start", sends="stop", timeout=-1)

    good = Workflow("good", engine=engine)
    good.add_step(lambda ctx, _: "done", name="only", accepts="start", sends="stop")
    good.build()
    with pytest.raises(rillflow.InvalidState, match="is built"):
        good.add_step(lambda ctx, _: None, name="late", accepts="start", sends="stop")
    assert good.run().result(timeout=10) == "done"
    good.close()
    with pytest.raises(rillflow.InvalidHandle, match="closed"):
        good.run()


def test_context_misuse_fails_the_step(engine):
    wf = Workflow("misuse", engine=engine)

    @wf.step(accepts="start", sends="stop")
    def undeclared(ctx, _):
        ctx.send("elsewhere", 1)

    with pytest.raises(rillflow.RunFailed, match="did not declare that it sends 'elsewhere'"):
        wf.run().result(timeout=10)

    kept = []
    later = Workflow("later", engine=engine)

    @later.step(accepts="start", sends="stop")
    def keep(ctx, _):
        kept.append(ctx)
        return 1

    assert later.run().result(timeout=10) == 1
    with pytest.raises(rillflow.InvalidHandle):
        kept[0].stream_token("too late")


def test_async_steps_keep_their_context_variables_to_themselves(engine):
    """A context variable a step sets is its own through its awaits, and never seen by a later
    step; after its first await a step runs in a Task (from the start on Python 3.12+)."""
    import contextvars
    import sys
    request = contextvars.ContextVar("request", default=None)
    wf = Workflow("tasks", engine=engine)

    @wf.step(accepts="start", sends="first")
    async def first(ctx, data):
        request.set("first's")
        if sys.version_info >= (3, 12):
            assert asyncio.current_task() is not None
        await asyncio.sleep(0)
        async with asyncio.timeout(5) if hasattr(asyncio, "timeout") else _no_timeout():  # needs a Task
            await asyncio.sleep(0)
        return {"own": request.get(), "task": asyncio.current_task() is not None}

    @wf.step(accepts="first", sends="stop")
    async def second(ctx, data):
        return dict(data, later=request.get())

    assert wf.run("x").result(timeout=10) == {"own": "first's", "task": True, "later": None}


class _no_timeout:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


def test_a_step_whose_exception_cannot_be_printed_still_fails_its_run(engine):
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    wf = Workflow("unprintable", engine=engine)

    @wf.step(accepts="start", sends="stop")
    async def broken(ctx, data):
        raise Unprintable()

    with pytest.raises(rillflow.RunFailed, match="Unprintable"):
        wf.run("x").result(timeout=10)


def test_names_with_a_nul_byte_or_a_lone_surrogate_are_refused_not_cut_short(engine):
    # C reads a name up to its first NUL: "a\0b" would quietly become "a".
    with pytest.raises(ValueError, match="name contains a NUL byte"):
        Workflow("wf\0x", engine=engine)
    wf = Workflow("names", engine=engine)
    with pytest.raises(ValueError, match="step name contains a NUL byte"):
        wf.step(accepts="start", sends="stop", name="a\0b")(lambda ctx, _: None)
    with pytest.raises(ValueError, match="accepts is not valid text"):
        wf.step(accepts="st\ud800art", sends="stop")(lambda ctx, _: None)

    @wf.step(accepts="start", sends="stop")
    def emit(ctx, topic):
        ctx.write_event_to_stream({"n": 1}, topic=topic)
        return "sent"

    assert wf.run("fine").result(10) == "sent"
    with pytest.raises(rillflow.RunFailed, match="topic contains a NUL byte"):
        wf.run("to\0pic").result(10)
    run, gate = held_run(engine)
    with pytest.raises(ValueError, match="a topic contains a NUL byte"):
        run.stream("custom", topics=["ok", "no\0"])
    with pytest.raises(ValueError, match="reason contains a NUL byte"):
        run.cancel("why\0not")
    gate.set()
    assert run.result(10) == "done"
