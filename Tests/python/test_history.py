"""The durable history from Python: a run written by one engine is reopened by a later one
and read from any seq; a replay older than memory comes from disk; options are checked."""
import time

import pytest

import rillflow
from rillflow import Workflow


def writer(engine, tokens):
    wf = Workflow("durable", engine=engine)

    @wf.step(accepts="start", sends="stop")
    def talk(ctx, _):
        for i in range(tokens):
            ctx.stream_token(f"token {i:05d} ")
        ctx.report_usage(input_tokens=120, output_tokens=tokens, reasoning_tokens=9, cached_input_tokens=64)
        return "done"

    return wf


def test_a_later_engine_reopens_a_run_and_reads_it_from_any_seq(tmp_path):
    with rillflow.Engine(worker_threads=2, log_capacity=1 << 16, history_bytes=1 << 16, max_event_bytes=4096,
                         history_dir=str(tmp_path), history_segment_bytes=1 << 16) as engine:
        run = writer(engine, 3000).run()
        assert run.result(timeout=20) == "done"
        # Memory holds the last ~64 KiB only: seq 1 comes from the files, then memory, gapless.
        replay = list(run.events(from_seq=1, timeout=20))
        assert [event.seq for event in replay] == list(range(1, len(replay) + 1)) and len(replay) == 3004
        run_id = run.id
        usage = run.usage
        assert usage["output_tokens"] == 3000 and usage["cached_input_tokens"] == 64
        assert engine.options["history_dir"] == str(tmp_path)

    with rillflow.Engine(history_dir=str(tmp_path)) as engine:
        reopened = engine.open_run(run_id)
        assert reopened.status == "completed"
        assert reopened.result(timeout=10)["result"] == "done"
        assert reopened.usage == usage  # as its run_completed event recorded it
        info = reopened.history
        assert info["records"] == info["last_seq"] == 3004 and info["segments"] > 1
        assert info["corrupt_records"] == 0 and info["torn_bytes"] == 0
        tokens = [event.data for event in reopened.events("tokens", from_seq=2000, timeout=10) if event.kind == "token"]
        assert tokens[0].startswith("token 0") and len(tokens) == 3002 - 2000 + 1  # tokens are seqs 3 to 3002
        assert [e.kind for e in reopened.events("values", from_seq=1, timeout=10)] == ["run_completed"]
        with pytest.raises(rillflow.NotFound):
            engine.open_run(run_id + 1000)
        reopened.close()


def test_history_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="history_fsync"):
        rillflow.Engine(history_dir=str(tmp_path), history_fsync="sometimes")
    with pytest.raises(rillflow.InvalidArgument, match="history_segment_bytes"):
        rillflow.Engine(history_dir=str(tmp_path), history_segment_bytes=10)
    # Settings for a history without one are refused, not silently unused (as in C).
    with pytest.raises(ValueError, match="history_max_bytes given without history_dir"):
        rillflow.Engine(history_max_bytes=1 << 30)
    with pytest.raises(ValueError, match="history_max_age_ms"):
        rillflow.Engine(history_dir=str(tmp_path), history_max_age_ms=2**64)
    with rillflow.Engine(history_dir=str(tmp_path)) as first:
        with pytest.raises(rillflow.InvalidState, match="in use by another engine"):
            rillflow.Engine(history_dir=str(tmp_path))
        with rillflow.Engine(history_dir=str(tmp_path), history_read_only=True) as reader:
            assert reader.options["history_flags"] == 1
        assert first.options["history_fsync"] == 0
    with rillflow.Engine() as plain:
        with pytest.raises(rillflow.InvalidState, match="history_dir"):
            plain.open_run(1)


def test_a_failed_write_is_counted_and_explained(tmp_path):
    with rillflow.Engine(history_dir=str(tmp_path)) as engine:
        run = engine.manual_run("failing", start=False)
        blocker = tmp_path / f"run-{run.id:020d}"
        blocker.write_text("in the way of the run's directory")
        run.start()
        run.emit("custom", {"n": 1}, topic="t")
        # The writer retries every 100 ms; bounded wait for its counters, not for time.
        deadline = time.monotonic() + 10
        while run.history["write_failures"] == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        info = run.history
        assert info["write_failures"] >= 1 and info["last_seq"] == 0
        assert "cannot create directory" in info["last_error"] and str(blocker) in info["last_error"]
        blocker.unlink()
        while run.history["last_seq"] < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert run.history["records"] == 2  # run started, the custom event: nothing lost
        run.end("run_completed")
