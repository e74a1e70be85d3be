"""Human in the loop: a step asks a question, the run waits (suspended), the answer resumes it.
    python human_in_the_loop.py [--fast]
"""
from _path import FAST  # noqa: F401
import rillflow

wf = rillflow.Workflow("publish")


@wf.step(accepts="start", sends="review")
def draft(ctx, topic):
    text = f"Rivers carve their valleys slowly. ({topic})"
    for word in text.split(" "):
        ctx.stream_token(word + " ")
    ctx.request_input({"question": "Publish this draft?", "draft": text}, "review")


@wf.step(accepts="review", sends="stop")
def publish(ctx, answer):
    return {"published": answer == "yes", "answer": answer}


def main():
    run = wf.run("geology")
    for ev in run.events(end_at_suspension=True):  # this stream ends at the question
        if ev.kind == "input_required":
            print("input_required", ev.data)
    print("status", run.wait())
    waited = ev.seq
    answer = "yes"
    print("answering", answer)
    run.resume(answer)
    for ev in run.events(from_seq=waited + 1):  # a second stream picks up after the question
        print(ev.seq, ev.kind, ev.step)
    print("result", run.result())
    try:
        run.resume("again")
    except rillflow.InvalidState as error:
        print("resume again:", error.status_name)


if __name__ == "__main__":
    main()
