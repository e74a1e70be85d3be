"""Every Python example runs and prints what it is meant to show."""
import http.client
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

EXAMPLES = os.path.join(ROOT, "Bindings", "python", "examples")

EXPECTED = {
    "three_step.py": r"Step one is happening.*Call me Ishmael\. Some years ago\.\.\..*Step three is happening.*"
                     r"Final result Workflow complete\.\nusage \{'input_tokens': 17, 'output_tokens': 7, 'total_tokens': 24",
    "foreach_progress.py": r"forecast: 1/5 .*forecast: 2/5 .*forecast: 3/5 .*forecast: 4/5 .*forecast: 5/5 .*"
                           r"result \{'forecasts': \[\{'city': 'Oslo', 'temp_c': 16\}, \{'city': 'Lima'",
    "topic_progress.py": r"broker_sequence 3 progress-stream \{'progress_idx': 1.*broker_sequence 19 progress-stream .*'dog'\}.*"
                         r"resumed after 7: 7 events, first 9, last run_completed",
    "stream_modes.py": r"tokens +14: run_started.*messages +8: .*updates +5: state_changed step_completed state_changed "
                       r"step_completed run_completed\nvalues +3: state_changed state_changed run_completed\n"
                       r"custom +3: step_completed step_completed run_completed",
    "human_in_the_loop.py": r"input_required \{'prompt': \{'question': 'Publish this draft\?'.*status suspended.*"
                            r"run_resumed.*result \{'published': True, 'answer': 'yes'\}\nresume again: RF_E_STATE",
    "sqlite_sink.py": r"streamed live: 14 events: Events go to the stream and to the log\.\n"
                      r"in the database: \[\('run_started', 1\), \('step_started', 1\), \('token', 9\), "
                      r"\('state_changed', 1\), \('step_completed', 1\), \('run_completed', 1\)\]\nlogged: 14 events",
    "own_loop.py": r"1 run_started \n2 step_started answer\ntoken 'Oslo'\ntoken ' is'\n.*token ' Norway\.'\n"
                   r"progress 1/3\nprogress 2/3\nprogress 3/3\n12 step_completed answer\n13 run_completed \n"
                   r"result \{'question': 'What is the capital of Norway\?', 'answer': 'Oslo'\}\n"
                   r"from seq 9: \['progress', 'progress', 'progress', 'step_completed', 'run_completed'\]",
    "termination.py": r"WorkflowTimedOut: timeout 0\.1s, active_steps \['think'\]\nWorkflowCancelled: "
                      r"\{'reason': 'user pressed stop'\}\nretried 2 times.*WorkflowFailed: step 'call_api' failed after 3 "
                      r"attempts .*ConnectionError: upstream returned 503 \(try 3\)",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(name, tmp_path):
    # Each example gets a temporary directory of its own, which it must leave as it found it.
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), "--fast"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert re.search(EXPECTED[name], done.stdout, re.DOTALL), done.stdout
    assert os.listdir(tmp_path) == [], "left behind in the temporary directory"


def read_sse(response):
    """(id, event, data) of each message until the server closes the stream."""
    messages, fields = [], {}
    for line in response.read().decode().split("\n"):
        if not line:
            if fields:
                messages.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                fields = {}
            continue
        key, _, value = line.partition(": ")
        fields[key] = value
    return messages


def test_sse_server_streams_and_resumes_from_last_event_id():
    server = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "sse_server.py"), "--port", "0", "--fast"],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/runs", body=json.dumps("rivers"))
        created = json.loads(connection.getresponse().read())
        connection.close()

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", created["events"])
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
        everything = read_sse(response)
        assert [m[0] for m in everything] == list(range(1, len(everything) + 1))
        assert everything[-1][1] == "run_completed"
        assert everything[-1][2]["data"]["result"] == {"topic": "rivers", "words": 10}
        assert all(m[2]["seq"] == m[0] and m[2]["kind"] == m[1] for m in everything)

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", created["events"], headers={"Last-Event-ID": "5"})
        resumed = read_sse(connection.getresponse())
        assert resumed == everything[5:]

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/runs/999/events")
        assert connection.getresponse().status == 404
    finally:
        server.terminate()
        server.wait(timeout=10)
