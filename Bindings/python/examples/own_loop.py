"""An agent loop of your own, streamed through Rillflow: a manual run. The loop emits its steps,
token deltas and progress itself; watchers stream the run (live, or later from any seq) as they
would a workflow's.   python own_loop.py [--fast]
"""
import asyncio
import threading
import time

from _path import FAST
import rillflow


def agent(run, question):
    """Stands in for code you already have: a loop that calls a model and some tools."""
    run.emit("step_started", step="answer", attempt=1)
    for index, word in enumerate(["Oslo", " is", " the", " capital", " of", " Norway."]):
        run.emit("token", word, step="answer", token_index=index)
        time.sleep(0 if FAST else 0.05)
    # Tool results at hand all at once go in one call.
    run.emit_batch([{"kind": "progress", "data": {"completed": done, "total": 3}, "step": "check"}
                    for done in (1, 2, 3)])
    run.emit("step_completed", step="answer", attempt=1)
    run.end("run_completed", {"question": question, "answer": "Oslo"})


async def main():
    run = rillflow.default_engine().manual_run("my-agent", start=False)
    stream = run.stream()  # opened before the start: it sees every event
    run.start({"question": "What is the capital of Norway?"})
    worker = threading.Thread(target=agent, args=(run, "What is the capital of Norway?"))
    worker.start()
    async for event in stream:
        if event.kind == "token":
            print(f"token {event.data!r}")
        elif event.kind == "progress":
            print(f"progress {event.data['completed']}/{event.data['total']}")
        else:
            print(event.seq, event.kind, event.step)
    worker.join()
    print("result", await run)
    # A late watcher replays what it missed, from any seq.
    print("from seq 9:", [event.kind for event in run.events(from_seq=9)])


asyncio.run(main())
