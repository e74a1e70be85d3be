"""A three-step workflow that streams progress and LLM tokens, live (LlamaIndex's streaming page).

Step one writes progress events to the stream, step two "calls an LLM" and streams its answer
token by token, step three ends the run. The caller watches with `async for` and awaits the
result.   python three_step.py [--fast]
"""
import asyncio

from _path import FAST
import rillflow

wf = rillflow.Workflow("three-step")


@wf.step(accepts="start", sends="first")
async def step_one(ctx, first_input):
    ctx.write_event_to_stream({"msg": "Step one is happening"}, topic="progress")
    return "First step complete."


@wf.step(accepts="first", sends="second")
async def step_two(ctx, first_output):
    response = ""
    for delta in ["Call", " me", " Ish", "mael.", " Some", " years", " ago..."]:
        ctx.stream_token(delta)  # what an LLM client's stream would hand us, chunk by chunk
        response += delta
        await asyncio.sleep(0 if FAST else 0.03)
    ctx.report_usage(input_tokens=17, output_tokens=7)
    return {"second_output": "Second step complete, full response attached", "response": response}


@wf.step(accepts="second", sends="stop")
async def step_three(ctx, second):
    ctx.write_event_to_stream({"msg": "Step three is happening"}, topic="progress")
    return "Workflow complete."


async def main():
    run = wf.run({"first_input": "Start the workflow."})
    async for ev in run.stream():
        if ev.kind == "custom":
            print(ev.data["msg"])
        elif ev.kind == "token":
            print(ev.data, end="", flush=True)
        elif ev.kind == "step_completed":
            print(f"\n[{ev.step} completed in {ev.data['duration_ns'] / 1e6:.2f} ms]")
    print("Final result", await run)
    print("usage", run.usage)


if __name__ == "__main__":
    asyncio.run(main())
