"""A minimal server-sent-events endpoint (standard library only) that streams runs to `curl`
and resumes from Last-Event-ID.

    python sse_server.py [--port 8080]
    curl -N -X POST localhost:8080/runs -d '"rivers"'        # starts a run: {"run_id": 1, ...}
    curl -N localhost:8080/runs/1/events                     # its events, live, as SSE
    curl -N -H 'Last-Event-ID: 5' localhost:8080/runs/1/events   # resumes after seq 5

Each SSE message is `id: <seq>`, `event: <kind>` and `data: <the JSON envelope>`: a browser's
EventSource reconnects with Last-Event-ID by itself, and nothing is missed or repeated.
"""
import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _path import FAST
import rillflow

wf = rillflow.Workflow("essay")


@wf.step(accepts="start", sends="stop")
def write(ctx, topic):
    for word in f"A short essay about {topic}, written one word at a time.".split():
        ctx.stream_token(word + " ")
        time.sleep(0 if FAST else 0.05)
    return {"topic": topic, "words": 10}


runs: dict[int, rillflow.Run] = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        if self.path != "/runs":
            return self.send_error(404)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        run = wf.run(json.loads(body) if body else "rivers")
        runs[run.id] = run
        self.reply(201, {"run_id": run.id, "events": f"/runs/{run.id}/events"})

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "runs" or parts[2] != "events" or not parts[1].isdigit():
            return self.send_error(404)
        run = runs.get(int(parts[1]))
        if run is None:
            return self.send_error(404, "no such run")
        last = self.headers.get("Last-Event-ID")
        from_seq = int(last) + 1 if last and last.isdigit() else 1
        try:
            events = run.events(from_seq=from_seq)
        except rillflow.NotFound as error:  # that seq is no longer retained
            return self.reply(410, {"error": str(error)})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for event in events:
                self.wfile.write(f"id: {event.seq}\nevent: {event.kind}\ndata: {event.to_json()}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away; it can come back with Last-Event-ID
        self.close_connection = True

    def reply(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--fast", action="store_true")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
