"""Every event of every run, also written to SQLite (the standard library's sqlite3) by a sink,
beside the live stream; afterwards the database is queried like any audit log.
    python sqlite_sink.py [--fast]
"""
import os
import sqlite3
import tempfile

from _path import FAST  # noqa: F401
import rillflow

engine = rillflow.Engine()
scratch = tempfile.TemporaryDirectory()  # a real audit log would live somewhere that stays
database = sqlite3.connect(os.path.join(scratch.name, "events.db"), check_same_thread=False)
database.execute("CREATE TABLE events (run_id INTEGER, seq INTEGER, kind TEXT, step TEXT, data TEXT, "
                 "PRIMARY KEY (run_id, seq))")


def write(events):  # called on the engine's sink thread, one run's events in order
    database.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)",
                         [(e.run_id, e.seq, e.kind, e.step, e.text) for e in events])


sink = engine.add_sink(write, run_ended=lambda run_id: database.commit())

wf = rillflow.Workflow("logged", engine=engine)


@wf.step(accepts="start", sends="stop")
def answer(ctx, question):
    for word in ["Events", " go", " to", " the", " stream", " and", " to", " the", " log."]:
        ctx.stream_token(word)
    ctx.set_state("words", 9)
    return "logged"


run = wf.run("where do events go?")
streamed = list(run.events())
print("streamed live:", len(streamed), "events:", "".join(e.data for e in streamed if e.kind == "token"))
sink.close(timeout=5)  # waits until the sink has everything emitted so far
rows = database.execute("SELECT kind, count(*) FROM events WHERE run_id = ? GROUP BY kind ORDER BY min(seq)",
                        (run.id,)).fetchall()
print("in the database:", rows)
print("logged:", sum(count for _, count in rows), "events")
database.close()
scratch.cleanup()
