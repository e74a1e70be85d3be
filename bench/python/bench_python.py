"""Python binding benchmarks, each printed as "figure value unit" (run by bench/run):
  py.burst.eps              token deltas consumed with `async for` from a native producer thread
  py.burst_fields.eps       the same, the consumer reading each event's kind and data (text)
  py.chain.us_per_step      a chain of trivial `async def` steps (one step sending itself the next event)
  py.fanout100.ms           100 trivial `async def` branches and a fan-in step
  py.latency.p50_us / p99   emit (native thread) to `async for` receipt, one event every 200 us
  py.latency_blocking.p50_us / p99   the same with a plain `for` loop (blocking in the library)
  py.stall.rss_growth_mib   memory growth while the consumer stalls and 200,000 events are emitted
  py.stall.lost             events that consumer missed once it read again
  py.ref.ctypes_call.us     a reference: one trivial ctypes call into the library
  py.ref.asyncio_wake.p50_us / p99   the reference for py.latency: a native thread writes its
                            send time to a pipe at the same pacing; an idle asyncio loop wakes on
                            it (add_reader, a future, the awaiting coroutine), no Rillflow involved
  py.ref.blocking_wake.p50_us / p99  the reference for py.latency_blocking: the same writer, and a
                            Python thread blocked in os.read on the pipe
Usage: bench_python.py BUILD_DIR [scale]"""
import asyncio
import ctypes
import os
import statistics
import sys
import time

BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build"
SCALE = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "Bindings", "python"))
os.environ.setdefault("RILLFLOW_LIBRARY", os.path.join(BUILD, "librillflow.so.1"))

import rillflow  # noqa: E402
from rillflow import _capi as c  # noqa: E402

producer = ctypes.CDLL(os.path.join(BUILD, "bench", "libpy_producer.so"))
producer.producer_start.restype = ctypes.c_void_p
producer.producer_start.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint64]
producer.producer_join.restype = ctypes.c_uint64
producer.producer_join.argtypes = [ctypes.c_void_p]
producer.pipe_writer_start.restype = ctypes.c_void_p
producer.pipe_writer_start.argtypes = [ctypes.c_int, ctypes.c_uint64, ctypes.c_uint64]
producer.pipe_writer_join.argtypes = [ctypes.c_void_p]

engine = rillflow.Engine(worker_threads=2)


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


async def burst(count, read_fields=False):
    run = engine.manual_run("bench")
    stream = run.stream()
    started = time.perf_counter()
    thread = producer.producer_start(run._live_handle(), count, 24, 0)
    received = 0
    if read_fields:  # what a consumer printing tokens does: each event's kind and data
        text = 0
        async for event in stream:
            received += 1
            if event.kind == "token":
                text += len(event.data)
        assert text == count * 24, text
    else:
        async for event in stream:
            received += 1
    elapsed = time.perf_counter() - started
    producer.producer_join(thread)
    assert received == count + 2, received  # run started, the tokens, run completed
    return count / elapsed


def paced_stream(count):
    """A run a native thread emits `count` tokens into, one every 200 us, a stream of it, and
    the thread. (The caller keeps the run: a dropped run is cancelled.)"""
    run = engine.manual_run("bench")
    stream = run.stream()
    return run, stream, producer.producer_start(run._live_handle(), count, 24, 200_000)


def delay_us(event):
    """Microseconds since the token was emitted (its data starts with that time); None for
    other events."""
    if event.kind_id != c.RF_EVENT_TOKEN:
        return None
    return (time.monotonic_ns() - int(event.raw[:20])) / 1000


def p50_p99(delays):
    delays = sorted(delay for delay in delays if delay is not None)
    return delays[len(delays) // 2], delays[int(len(delays) * 0.99)]


async def latency(count):
    _run, stream, thread = paced_stream(count)
    delays = []
    async for event in stream:
        delays.append(delay_us(event))
    producer.producer_join(thread)
    return p50_p99(delays)


def latency_blocking(count):
    """py.latency, the consumer a plain `for` loop (waiting inside the library's read)."""
    _run, stream, thread = paced_stream(count)
    delays = [delay_us(event) for event in stream]
    producer.producer_join(thread)
    return p50_p99(delays)


def blocking_wake(count):
    """Bare wake-up latency of a Python thread blocked in os.read, the same writer and pacing."""
    read_end, write_end = os.pipe()
    writer = producer.pipe_writer_start(write_end, count, 200_000)
    delays = []
    while len(delays) < count:
        data = os.read(read_end, 8 * 64)
        now = time.monotonic_ns()
        delays.extend((now - int.from_bytes(data[i:i + 8], "little", signed=True)) / 1000 for i in range(0, len(data), 8))
    producer.pipe_writer_join(writer)
    os.close(read_end)
    os.close(write_end)
    return p50_p99(delays)


async def asyncio_wake(count):
    """Bare asyncio wake-up latency on an fd written by a native thread, the same pacing."""
    loop = asyncio.get_running_loop()
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    waiter = [None]

    def readable():
        if waiter[0] is not None and not waiter[0].done():
            waiter[0].set_result(None)

    loop.add_reader(read_end, readable)
    writer = producer.pipe_writer_start(write_end, count, 200_000)
    delays, received = [], 0
    while received < count:
        waiter[0] = loop.create_future()
        await waiter[0]
        now = time.monotonic_ns()
        try:
            data = os.read(read_end, 8 * 64)
        except BlockingIOError:  # a wake for data an earlier read already took
            continue
        for i in range(0, len(data), 8):
            delays.append((now - int.from_bytes(data[i:i + 8], "little", signed=True)) / 1000)
            received += 1
    loop.remove_reader(read_end)
    producer.pipe_writer_join(writer)
    os.close(read_end)
    os.close(write_end)
    return p50_p99(delays)


async def stall(count):
    run = engine.manual_run("bench")
    stream = run.stream()
    before = rss_mib()
    thread = producer.producer_start(run._live_handle(), count, 24, 0)
    await asyncio.sleep(0.5)  # the stall itself: the consumer does not read for half a second
    grown = rss_mib() - before
    received = 0
    async for event in stream:
        received += event.kind_id == c.RF_EVENT_TOKEN
    failures = producer.producer_join(thread)
    return max(grown, rss_mib() - before), count - received + failures


def chain_workflow(steps):
    wf = rillflow.Workflow("chain", engine=engine)
    left = [0]

    @wf.step(accepts="start,hop", sends="hop,stop")
    async def hop(ctx, _):
        left[0] -= 1
        if left[0] > 0:
            ctx.send("hop")
        else:
            ctx.stop(1)

    def run():
        left[0] = steps
        began = time.perf_counter()
        wf.run(None, step_budget=steps + 10).result()
        return (time.perf_counter() - began) * 1e6 / steps

    return run


def fanout_workflow():
    wf = rillflow.Workflow("fanout", engine=engine)

    @wf.step(accepts="start", sends="branch")
    async def split(ctx, _):
        for _ in range(100):
            ctx.send("branch")

    @wf.step(accepts="branch", sends="joined")
    async def branch(ctx, _):
        ctx.send("joined")

    @wf.step(accepts="joined", sends="stop", collect=100)
    async def join(ctx, _):
        return 100

    def run():
        began = time.perf_counter()
        wf.run().result()
        return (time.perf_counter() - began) * 1000

    return run


def ctypes_call_us(count=200_000):
    version = c.lib.rf_version
    began = time.perf_counter()
    for _ in range(count):
        version()
    return (time.perf_counter() - began) * 1e6 / count


def main():
    events = int(1_000_000 * SCALE)
    print(f"py.ref.ctypes_call.us {ctypes_call_us():.4f} us")
    asyncio.run(burst(events // 10))  # warm up
    print(f"py.burst.eps {asyncio.run(burst(events)):.0f} events/s")
    print(f"py.burst_fields.eps {asyncio.run(burst(events, read_fields=True)):.0f} events/s")
    p50, p99 = asyncio.run(latency(max(2000, int(10_000 * SCALE))))
    print(f"py.latency.p50_us {p50:.2f} us")
    print(f"py.latency.p99_us {p99:.2f} us")
    p50, p99 = latency_blocking(max(2000, int(10_000 * SCALE)))
    print(f"py.latency_blocking.p50_us {p50:.2f} us")
    print(f"py.latency_blocking.p99_us {p99:.2f} us")
    p50, p99 = asyncio.run(asyncio_wake(max(2000, int(10_000 * SCALE))))
    print(f"py.ref.asyncio_wake.p50_us {p50:.2f} us")
    print(f"py.ref.asyncio_wake.p99_us {p99:.2f} us")
    p50, p99 = blocking_wake(max(2000, int(10_000 * SCALE)))
    print(f"py.ref.blocking_wake.p50_us {p50:.2f} us")
    print(f"py.ref.blocking_wake.p99_us {p99:.2f} us")
    chain = chain_workflow(max(1000, int(20_000 * SCALE)))
    chain()
    print(f"py.chain.us_per_step {chain():.3f} us")
    fanout = fanout_workflow()
    samples = [fanout() for _ in range(max(5, int(21 * SCALE)))]
    print(f"py.fanout100.ms {statistics.median(samples):.3f} ms")
    grown, lost = asyncio.run(stall(200_000))
    print(f"py.stall.rss_growth_mib {grown:.2f} MiB")
    print(f"py.stall.lost {lost} events")


if __name__ == "__main__":
    main()
