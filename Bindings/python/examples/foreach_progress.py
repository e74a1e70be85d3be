"""A foreach with live per-item progress (Mastra's workflow-step-progress events).

`forecast` runs once per city, at most two at a time; each item's end is a progress event
(completed, total, index, status, output) and the outputs reach `summarize` in item order.
    python foreach_progress.py [--fast]
"""
import asyncio

from _path import FAST
import rillflow

wf = rillflow.Workflow("weather")


@wf.step(accepts="start", sends="cities")
def split(ctx, cities):
    ctx.send_each("cities", cities)


@wf.step(accepts="cities", sends="forecasts", foreach_done="forecasts", concurrency=2)
async def forecast(ctx, city):
    await asyncio.sleep(0 if FAST else 0.1 * len(city) % 0.3)
    ctx.set_output({"city": city, "temp_c": len(city) * 4})


@wf.step(accepts="forecasts", sends="stop")
def summarize(ctx, _first):
    return {"forecasts": ctx.inputs}


async def main():
    run = wf.run(["Oslo", "Lima", "Cairo", "Perth", "Quito"])
    async for ev in run.stream(mode="custom", kinds=["progress"]):
        if ev.kind == "progress":
            p = ev.data
            print(f"workflow-step-progress {ev.step}: {p['completed']}/{p['total']} "
                  f"(item {p['index']}: {p['status']}) {p['output']}")
    print("result", await run)


if __name__ == "__main__":
    asyncio.run(main())
