"""Named-topic progress updates, and resuming a stream from a sequence number (Mistral's topics
and broker_sequence).   python topic_progress.py [--fast]
"""
import time

from _path import FAST
import rillflow

wf = rillflow.Workflow("progress-stream")


@wf.step(accepts="start", sends="stop")
def process(ctx, text):
    words = text.split()
    for i, word in enumerate(words):
        ctx.write_event_to_stream({"progress_idx": i + 1, "progress_total": len(words), "word": word},
                                  topic="progress-stream")
        ctx.write_event_to_stream({"token": word}, topic="token")
        time.sleep(0 if FAST else 0.1)
    return {"processed_text": " ".join(words), "token_count": len(words)}


def main():
    run = wf.run("the quick brown fox jumps over the lazy dog")
    seqs = []
    for ev in run.events("custom", kinds=["custom"], topics=["progress-stream"]):
        if ev.kind == "custom":
            seqs.append(ev.seq)
            print(f"broker_sequence {ev.seq} {ev.topic} {ev.data}")
    print("result", run.result())
    # A client that saw up to the third update reconnects and resumes right after it.
    resumed = list(run.events("custom", kinds=["custom"], topics=["progress-stream"], from_seq=seqs[2] + 1))
    print(f"resumed after {seqs[2]}: {len(resumed)} events, first {resumed[0].seq}, last {resumed[-1].kind}")


if __name__ == "__main__":
    main()
