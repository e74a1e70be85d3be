"""Manual runs: a host that runs its own steps emits their events, one at a time or in
batches, ends the run, and streams and results work as for a workflow run; every refusal."""
import asyncio
import json
import threading

import pytest

import rillflow

from conftest import held_run, kinds


def test_emitted_events_stream_in_order_with_their_fields_and_the_run_ends_with_its_result(engine):
    run = engine.manual_run("agent", start=False)
    stream = run.stream()
    assert run.status == "pending"
    run.start({"question": "capital of Norway"})
    seqs = [run.emit("step_started", step="think", attempt=1),
            run.emit("token", "Os", step="think", token_index=0),
            run.emit("token", "lo", step="think", token_index=1),
            run.emit("custom", {"sources": 2}, topic="search"),
            run.emit("progress", {"completed": 1, "total": 2}, step="think"),
            run.emit("custom", b'"raw"', topic="bytes")]
    assert seqs == [2, 3, 4, 5, 6, 7]  # run_started is 1
    run.end("run_completed", {"answer": "Oslo"})
    events = list(stream.iterate(10))
    assert kinds(events) == ["run_started", "step_started", "token", "token", "custom", "progress", "custom",
                             "run_completed"]
    assert [e.seq for e in events] == list(range(1, 9))
    assert events[0].data["input_bytes"] == len(b'{"question":"capital of Norway"}')
    assert all(e.workflow == "agent" for e in events)
    assert (events[1].step, events[1].attempt) == ("think", 1)
    assert [(e.data, e.token_index) for e in events[2:4]] == [("Os", 0), ("lo", 1)]
    assert (events[4].topic, events[4].data) == ("search", {"sources": 2})
    assert events[5].data == {"completed": 1, "total": 2}
    assert (events[6].topic, events[6].data) == ("bytes", "raw")
    assert run.result(10) == {"answer": "Oslo"}
    assert run.status == "completed"


def test_data_sent_as_bytes_that_are_not_json_reads_as_raw_and_text_but_not_as_data(engine):
    """Bytes are sent as they are (the library never parses JSON): a reader's `data` raises on
    bytes that are not JSON, as documented, and `raw` and `text` still give them."""
    run = engine.manual_run("not_json")
    stream = run.stream()
    run.emit("custom", b"not json", topic="t")
    run.end("run_completed")
    custom = next(e for e in stream.iterate(10) if e.kind == "custom")
    with pytest.raises(json.JSONDecodeError):
        custom.data
    assert (custom.raw, custom.text) == (b"not json", "not json")


def test_a_batch_gets_consecutive_seqs_and_is_streamed_in_order(engine):
    run = engine.manual_run("batch")
    stream = run.stream()
    tokens = [{"kind": "token", "data": f"t{i} ", "token_index": i} for i in range(100)]
    seqs = run.emit_batch(tokens + [{"kind": "custom", "data": [1, 2], "topic": "done", "step": "s", "attempt": 2}])
    assert seqs == list(range(2, 103))
    assert run.emit_batch([]) == []
    run.end()
    events = list(stream.iterate(10))
    assert "".join(e.data for e in events if e.kind == "token") == "".join(f"t{i} " for i in range(100))
    assert [e.token_index for e in events if e.kind == "token"] == list(range(100))
    last = events[-2]
    assert (last.kind, last.data, last.topic, last.step, last.attempt) == ("custom", [1, 2], "done", "s", 2)
    assert run.result(10) is None


def test_a_refused_event_in_a_batch_appends_none_and_is_named_by_its_index(engine):
    run = engine.manual_run("refused")
    with pytest.raises(rillflow.InvalidArgument, match=r"events\[2\]"):
        run.emit_batch([{"kind": "token", "data": "a"}, {"kind": "token", "data": "b"}, {"kind": "run_started"}])
    with pytest.raises(rillflow.InvalidArgument, match=r"events\[1\]"):
        run.emit_batch([{"kind": "token"}, {"kind": "token", "step": "x" * 256}])
    with pytest.raises(ValueError, match=r"events\[1\]: unknown event kind 'tokens'"):
        run.emit_batch([{"kind": "token"}, {"kind": "tokens"}])
    with pytest.raises(ValueError, match=r"events\[0\]: a dict with 'kind'"):
        run.emit_batch([{"data": "no kind"}])
    with pytest.raises(ValueError, match=r"not colour"):
        run.emit_batch([{"kind": "token", "colour": "red"}])
    with pytest.raises(ValueError, match=r"events\[0\]: token_index is -1"):
        run.emit_batch([{"kind": "token", "token_index": -1}])
    with pytest.raises(ValueError, match=r"events\[1\]: topic contains a NUL byte"):
        run.emit_batch([{"kind": "token"}, {"kind": "custom", "topic": "a\0b"}])
    with pytest.raises(TypeError, match=r"events\[0\]: a token's data is its text"):
        run.emit_batch([{"kind": "token", "data": 5}])
    # Nothing of the refused batches is in the stream: the next event gets seq 2.
    assert run.emit("token", "first") == 2
    run.end()


def test_what_emit_and_end_refuse(engine):
    small = rillflow.Engine(max_event_bytes=1024)
    try:
        run = small.manual_run("limits")
        with pytest.raises(rillflow.InvalidArgument, match="max_event_bytes"):
            run.emit("custom", b"x" * 1025)
        with pytest.raises(rillflow.InvalidArgument, match="emitted by the engine"):
            run.emit("run_completed")
        with pytest.raises(rillflow.InvalidArgument, match="255 bytes"):
            run.emit("token", "a", topic="t" * 256)
        with pytest.raises(ValueError, match="unknown event kind"):
            run.emit("tokens", "a")
        with pytest.raises(ValueError, match="attempt is -1"):
            run.emit("token", "a", attempt=-1)
        # What C would read wrong is refused here: a NUL would cut a name short, a lone
        # surrogate is no UTF-8, and a token's data is text, not a value.
        with pytest.raises(ValueError, match="step contains a NUL byte"):
            run.emit("token", "a", step="think\0ing")
        with pytest.raises(ValueError, match="topic is not valid text"):
            run.emit("custom", 1, topic="\ud800")
        with pytest.raises(ValueError, match="data is not valid text"):
            run.emit("token", "\ud800")
        with pytest.raises(ValueError, match="data is not valid text"):
            run.emit("custom", {"text": "\ud800"})
        with pytest.raises(TypeError, match="a token's data is its text"):
            run.emit("token", 5)
        with pytest.raises(ValueError, match="name contains a NUL byte"):
            small.manual_run("a\0b")
        # None names mean none, and a token's text may hold NUL bytes (its data has a length).
        seq = run.emit("token", "a\0b", step=None, topic=None)
        event = next(e for e in run.events(from_seq=seq, timeout=10))
        assert (event.seq, event.data, event.step, event.topic) == (seq, "a\0b", "", "")
        with pytest.raises(ValueError, match="must be one of"):
            run.end("token")
        run.end("run_failed", {"error": "no sources"})
        with pytest.raises(rillflow.RunFailed, match="no sources"):
            run.result(10)
        with pytest.raises(rillflow.InvalidState, match="ended"):
            run.emit("token", "late")
        with pytest.raises(rillflow.InvalidState, match="ended") as refused:
            run.emit_batch([{"kind": "token", "data": "late"}])
        assert refused.value.seqs == []
        with pytest.raises(rillflow.InvalidState):
            run.end()
        run.close()
        with pytest.raises(rillflow.InvalidHandle):
            run.emit("token", "closed")
        with pytest.raises(rillflow.InvalidHandle):
            run.emit_batch([])
    finally:
        small.close()


def test_a_pending_run_refuses_events_and_can_only_be_cancelled(engine):
    run = engine.manual_run("pending", start=False)
    with pytest.raises(rillflow.InvalidState, match="not started"):
        run.emit("token", "early")
    with pytest.raises(rillflow.InvalidState, match="pending"):
        run.end()
    run.end("run_cancelled", {"reason": "not needed"})
    with pytest.raises(rillflow.RunCancelled):
        run.result(10)


def test_a_workflow_run_refuses_manual_events(engine):
    run, gate = held_run(engine)
    try:
        with pytest.raises(rillflow.InvalidState, match="workflow run"):
            run.emit("token", "not mine")
        with pytest.raises(rillflow.InvalidState, match="workflow run"):
            run.emit_batch([{"kind": "token"}])
        with pytest.raises(rillflow.InvalidState, match="workflow run"):
            run.end()
    finally:
        gate.set()
    assert run.result(10) == "done"


def test_events_emitted_on_other_threads_reach_an_async_consumer(engine):
    run = engine.manual_run("threads")
    stream = run.stream()

    def produce(producer):
        for index in range(500):
            run.emit("token", f"{producer}:{index}", step=f"p{producer}", token_index=index)

    async def consume():
        seen = {0: [], 1: []}
        async for event in stream:
            if event.kind == "token":
                seen[int(event.step[1:])].append(event.token_index)
                if len(seen[0]) + len(seen[1]) == 1000:
                    run.end("run_completed", "done")
        return seen

    threads = [threading.Thread(target=produce, args=(p,)) for p in (0, 1)]
    for thread in threads:
        thread.start()
    seen = asyncio.run(asyncio.wait_for(consume(), 30))
    for thread in threads:
        thread.join()
    assert seen == {0: list(range(500)), 1: list(range(500))}  # each producer's order kept
    assert run.result(10) == "done"


def test_a_batch_stopped_by_a_full_log_says_which_events_it_appended():
    small = rillflow.Engine(log_capacity=64 << 10, max_event_bytes=4096, emit_timeout_ms=50)
    try:
        run = small.manual_run("stalled")
        stalled = run.stream()  # not read until the batch has given up
        with pytest.raises(rillflow.Timeout, match="emit_timeout_ms") as stopped:
            run.emit_batch([{"kind": "token", "data": f"{i:016d}", "token_index": i} for i in range(2000)])
        appended = stopped.value.seqs
        assert 0 < len(appended) < 2000
        assert appended == list(range(2, 2 + len(appended)))
        run.end()  # the log keeps room for the terminal event
        events = list(stalled.iterate(10))
        assert [e.token_index for e in events if e.kind == "token"] == list(range(len(appended)))
        assert kinds(events)[-1] == "run_completed"
    finally:
        small.close()
