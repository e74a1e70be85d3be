"""The five stream modes side by side (the .NET engine's StreamMode Tokens, Messages, Updates,
Values, Custom; LangGraph's stream_mode).   python stream_modes.py
"""
import asyncio

from _path import FAST  # noqa: F401 - same command line as the other examples
import rillflow

wf = rillflow.Workflow("capital")


@wf.step(accepts="start", sends="planned")
def plan(ctx, question):
    ctx.set_state("plan", "answer from memory")
    return question


@wf.step(accepts="planned", sends="stop")
async def answer(ctx, question):
    for token in ["The", " capital", " of", " Norway", " is", " Oslo."]:
        ctx.stream_token(token)
    ctx.set_state("answer", "Oslo")
    return "The capital of Norway is Oslo."


async def read_all(stream):
    return [ev.kind async for ev in stream]


async def main():
    run = wf.run(start=False)
    # Five subscriptions, made before the run starts (any stream could also start at seq 1 later).
    streams = {"tokens": run.stream("tokens"), "messages": run.stream("messages"),
               "updates": run.stream("updates"), "values": run.stream("values"),
               "custom": run.stream("custom", kinds=["step_completed"])}
    run.start("What is the capital of Norway?")
    results = await asyncio.gather(*(read_all(stream) for stream in streams.values()))
    for mode, kinds in zip(streams, results):
        print(f"{mode:<9}{len(kinds):>3}: {' '.join(kinds)}")
    print("result", await run)


if __name__ == "__main__":
    asyncio.run(main())
