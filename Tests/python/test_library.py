"""Loading the library, the declarations of the whole C API, errors as exceptions, and what the
library's threads leave to the process (signals)."""
import ctypes
import os
import re
import signal
import subprocess
import sys

import pytest

import rillflow
from rillflow import _capi as c
from rillflow import _library
from rillflow.errors import error_for

from conftest import ROOT

HEADER = os.path.join(ROOT, "Include", "rillflow.h")


def header_text():
    with open(HEADER) as f:
        return f.read()


def test_every_header_function_is_declared():
    declared = set(re.findall(r"RF_API\s+[^;(]*?\b(rf_\w+)\s*\(", header_text()))
    assert len(declared) > 50
    assert declared == set(c.PROTOTYPES)
    for name in declared:
        assert getattr(c.lib, name).argtypes is not None


def test_struct_sizes_match_the_header():
    text = header_text()
    for struct, macro in [("rf_event", "RF_EVENT_SIZE_V1"), ("rf_sink_options", "RF_SINK_OPTIONS_SIZE_V1"),
                          ("rf_sink_stats", "RF_SINK_STATS_SIZE_V1"),
                          ("rf_emit", "RF_EMIT_SIZE_V1"), ("rf_subscription_options", "RF_SUBSCRIPTION_OPTIONS_SIZE_V1"),
                          ("rf_token_usage", "RF_TOKEN_USAGE_SIZE_V1"), ("rf_step_options", "RF_STEP_OPTIONS_SIZE_V1"),
                          ("rf_step_info", "RF_STEP_INFO_SIZE_V1"), ("rf_history_info", "RF_HISTORY_INFO_SIZE_V2")]:
        size = int(re.search(rf"#define {macro} (\d+)u", text).group(1))
        assert ctypes.sizeof(getattr(c, struct)) == size, struct
    assert ctypes.sizeof(c.rf_run_options) == 48  # grew in 1.1 (the first published size is 24)
    assert ctypes.sizeof(c.rf_engine_options) == 80  # grew in 1.1 and 1.2 (the first published size is 32)


def test_status_and_kind_values_match_the_header():
    text = header_text()
    for name in dir(c):
        if re.fullmatch(r"RF_(E_\w+|EVENT_\w+|RUN_\w+|STREAM_\w+|SUBSCRIBE_\w+|STEP_\w+|HISTORY_(FSYNC_\w+|READ_ONLY))", name):
            match = re.search(rf"#define {name}\s+\(?(-?\d+)u?\)?", text)
            assert match, name
            assert int(match.group(1)) == getattr(c, name), name


def test_version():
    assert rillflow.library_version.startswith("1.")
    assert c.lib.rf_version() // 10000 == _library.REQUIRED_MAJOR


def run_python(code, **env):
    environment = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "Bindings", "python"), **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)


def test_library_named_by_the_environment_comes_first():
    missing = run_python("import rillflow", RILLFLOW_LIBRARY="/nonexistent/librillflow.so.1")
    assert missing.returncode != 0
    assert "ImportError: rillflow: librillflow.so.1 was not found" in missing.stderr
    assert "RILLFLOW_LIBRARY" in missing.stderr and "cmake" in missing.stderr
    found = run_python("import rillflow; print(rillflow.library_version)",
                       RILLFLOW_LIBRARY=os.path.join(ROOT, "build", "librillflow.so.1"))
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == rillflow.library_version


def test_candidates_are_tried_in_order(monkeypatch):
    monkeypatch.delenv("RILLFLOW_LIBRARY", raising=False)
    origins = [origin for _, origin in _library.candidates()]
    assert origins[:2] == ["bundled", "build tree"]


def test_an_old_library_is_refused():
    class Old:
        class rf_version:
            restype = argtypes = None

            def __call__(self):
                return 10300  # 1.3: without rf_history_info.last_error, which this package reads
        rf_version = rf_version()
    with pytest.raises(ImportError, match="needs 1.4 or a later 1.x"):
        _library.check_version(Old(), "/x/librillflow.so.1")


def test_errors_carry_the_status_and_message():
    options = c.rf_engine_options()  # struct_size 0
    status = c.lib.rf_engine_create(ctypes.byref(options), ctypes.byref(c.handle()))
    error = error_for(status)
    assert isinstance(error, rillflow.InvalidArgument) and isinstance(error, ValueError)
    assert error.status == c.RF_E_STRUCT_SIZE and error.status_name == "RF_E_STRUCT_SIZE"
    assert "struct_size is 0" in str(error)
    assert isinstance(error_for(c.RF_E_INVALID_HANDLE), rillflow.InvalidHandle)
    assert isinstance(error_for(c.RF_E_TIMEOUT), TimeoutError)
    assert isinstance(error_for(c.RF_E_NOT_FOUND), LookupError)
    assert isinstance(error_for(c.RF_E_SYSTEM), OSError)
    assert isinstance(error_for(c.RF_E_CANCELLED), rillflow.Cancelled)
    assert isinstance(error_for(c.RF_E_CORRUPT), rillflow.CorruptHistory)


def test_engine_options_and_close():
    engine = rillflow.Engine(worker_threads=3, log_capacity=1 << 20, max_event_bytes=4096)
    options = engine.options
    assert options["worker_threads"] == 3 and options["log_capacity"] == 1 << 20
    assert options["max_event_bytes"] == 4096 and options["history_bytes"] == 4 << 20
    engine.close()
    engine.close()  # twice is harmless
    with pytest.raises(rillflow.InvalidHandle):
        engine.options
    with pytest.raises(rillflow.InvalidArgument, match="worker_threads"):
        rillflow.Engine(worker_threads=5000)
    # Numbers past a C field's width are refused, not cut to their low bits (2**32 + 4096
    # would have been a valid 4096).
    with pytest.raises(ValueError, match="max_event_bytes"):
        rillflow.Engine(max_event_bytes=2**32 + 4096)
    with pytest.raises(ValueError, match="emit_timeout_ms"):
        rillflow.Engine(emit_timeout_ms=-1)
    with rillflow.Engine(sink_drain_timeout_ms=1234) as drained:
        assert drained.options["sink_drain_timeout_ms"] == 1234


def test_step_timeouts_past_32_bits_of_milliseconds_are_refused():
    wf = rillflow.Workflow("wide")
    with pytest.raises(ValueError, match="timeout in milliseconds"):
        @wf.step(accepts="start", sends="stop", timeout=50 * 24 * 3600)  # 50 days
        def slow(ctx, data):
            return data
    with pytest.raises(ValueError, match="retry backoff"):
        @wf.step(accepts="start", sends="stop", retry=rillflow.Retry(attempts=2, backoff=5e6))
        def retried(ctx, data):
            return data


def test_pip_installs_the_package(tmp_path):
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", "--target", str(target),
                           os.path.join(ROOT, "Bindings", "python")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (target / "rillflow" / "py.typed").exists()
    check = subprocess.run([sys.executable, "-c", "import rillflow; print(rillflow.__file__, rillflow.library_version)"],
                           capture_output=True, text=True, cwd=str(tmp_path),
                           env=dict(os.environ, PYTHONPATH=str(target),
                                    RILLFLOW_LIBRARY=os.path.join(ROOT, "build", "librillflow.so.1")))
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(str(target)) and check.stdout.split()[1] == rillflow.library_version


def test_numbers_past_their_c_field_are_refused_everywhere(engine):
    """ctypes keeps the low bits of a number too wide for its field (or wraps a negative one):
    every count, limit and id is checked first."""
    wf = rillflow.Workflow("wide-numbers", engine=engine)
    with pytest.raises(ValueError, match="concurrency"):
        wf.add_step(lambda ctx, x: x, accepts="start", sends="stop", concurrency=-1)
    with pytest.raises(ValueError, match="collect"):
        wf.add_step(lambda ctx, x: x, accepts="start", sends="stop", collect=2**32)
    wf.add_step(lambda ctx, x: x, accepts="start", sends="stop", name="echo")
    with pytest.raises(ValueError, match="step_budget"):
        wf.run("x", step_budget=2**32)  # would have been 0, the default
    with pytest.raises(ValueError, match="max_failures"):
        engine.add_sink(lambda events: None, max_failures=-1)
    with pytest.raises(ValueError, match="run_id"):
        engine.open_run(-1)
    run = wf.run("x")
    assert run.result(timeout=10) == "x"
    with pytest.raises(ValueError, match="from_seq"):
        run.events(from_seq=-1)
    # Kinds given as an iterator are read once, not found empty the second time.
    assert [e.kind for e in run.events("custom", kinds=iter(["run_completed"]), from_seq=1, timeout=10)] == ["run_completed"]


SIGNAL_SCRIPT = """
import os, signal, rillflow
handled = []
signal.signal(signal.SIGUSR1, lambda signum, frame: handled.append(signum))
engine = rillflow.Engine(worker_threads=2)
engine.add_sink(lambda events: None)
wf = rillflow.Workflow("signals", engine=engine)
wf.step(accepts="start", sends="stop")(lambda ctx, _: "ok")
assert wf.run().result(timeout=10) == "ok"  # every engine thread has started, SIGUSR1 open here
threads = [task for task in os.listdir("/proc/self/task") if task != str(os.getpid())]
assert len(threads) >= 6  # rf-worker x 2, rf-timer, rf-sinks, rillflow-host, a rillflow-step
for task in threads:  # every thread but the program's main one
    with open(f"/proc/self/task/{task}/status") as status:
        blocked = int(next(line for line in status if line.startswith("SigBlk:")).split()[1], 16)
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGCHLD):
        assert blocked >> (number - 1) & 1, (task, number)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
os.kill(os.getpid(), signal.SIGUSR1)
info = signal.sigtimedwait({signal.SIGUSR1}, 10)
engine.close()
print(info.si_signo if info else "timed out", handled)
"""


def test_a_signal_sent_to_the_process_goes_to_a_python_thread_not_the_engines():
    """The library's threads and the package's own (the host thread and its `def`-step pool)
    block the program's signals, though they started while the main thread left them open
    (their masks, in /proc); so once the main thread blocks SIGUSR1, a SIGUSR1 sent to the
    process waits for signal.sigtimedwait instead of going to one of them. (A process of its
    own: pytest's may hold other threads that leave it open.)"""
    done = run_python(SIGNAL_SCRIPT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(int(signal.SIGUSR1)), "[]"]

