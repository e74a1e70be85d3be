"""How runs end when they do not complete: a timeout (with the steps still active), a cancel,
and a failure after retries (step, error with its traceback, attempts, elapsed time).
    python termination.py [--fast]
"""
import asyncio
import threading

from _path import FAST  # noqa: F401
import rillflow

slow = rillflow.Workflow("slow")


@slow.step(accepts="start", sends="stop")
async def think(ctx, _):
    while not ctx.cancelled:  # a long step checks whether it should stop
        await asyncio.sleep(0.005)


failing = rillflow.Workflow("failing")


@failing.step(accepts="start", sends="stop", retry=rillflow.Retry(attempts=3, backoff=0.01))
def call_api(ctx, _):
    raise ConnectionError(f"upstream returned 503 (try {ctx.attempt})")


async def main():
    run = slow.run(timeout=0.1)
    try:
        await run
    except rillflow.RunTimedOut as ended:
        print(f"WorkflowTimedOut: timeout {ended.event.data['timeout_ns'] / 1e9}s, "
              f"active_steps {ended.event.data['active_steps']}")

    run = slow.run()
    threading.Timer(0.05, run.cancel, args=("user pressed stop",)).start()
    try:
        await run
    except rillflow.RunCancelled as ended:
        print(f"WorkflowCancelled: {ended.event.data}")

    run = failing.run()
    async for ev in run.stream(mode="updates"):
        pass
    retries = [ev for ev in run.events() if ev.kind == "step_retrying"]
    print(f"retried {len(retries)} times, waits {[ev.data['backoff_ns'] for ev in retries]} ns")
    try:
        await run
    except rillflow.RunFailed as ended:
        data = ended.event.data
        print(f"WorkflowFailed: step '{data['step']}' failed after {data['attempts']} attempts "
              f"in {data['elapsed_ns'] / 1e6:.1f} ms: {data['error'].splitlines()[0]}")


if __name__ == "__main__":
    asyncio.run(main())
