"""The floor of a Python worker's CPU time per request: the Flask app of
predictor.py called in process, with no server, no socket and no other
process; then the same requests through the sagekit adapter's handle() on a
socket that is never read from or written to.

    python3 floor.py ADAPTER_DIR MODULE:ATTR CALLS SETS BUDGET_S

Run in the predictor's directory. Prints one JSON line: the fastest set's
CPU microseconds per call of each, and the calls in that set."""

import io
import json
import os
import sys
import time

adapter, target = sys.argv[1], sys.argv[2]
calls, sets, budget = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
sys.path.insert(0, adapter)
sys.path.insert(0, os.getcwd())
from sagekit_adapter import server  # noqa: E402
from sagekit_adapter.loader import load_wsgi  # noqa: E402

app = load_wsgi(target)
# The tree predictor prints a line per request; a worker's output goes to
# a pipe, here to /dev/null.
sys.stdout = open(os.devnull, "w")

BODY = b"5.1,3.5,1.4,0.2\n"
REQUEST = (b"POST /invocations HTTP/1.1\r\nHost: worker\r\nContent-Type: text/csv\r\n"
           b"Content-Length: 16\r\n\r\n" + BODY)
# The environ the adapter builds for REQUEST.
ENVIRON = dict(server.BASE_ENVIRON, REQUEST_METHOD="POST", SERVER_PROTOCOL="HTTP/1.1",
               PATH_INFO="/invocations", QUERY_STRING="", HTTP_HOST="worker",
               CONTENT_TYPE="text/csv", CONTENT_LENGTH="16")


def start_response(status, headers, exc_info=None):
    return None


def call_app():
    environ = ENVIRON.copy()
    environ["wsgi.input"] = io.BytesIO(BODY)
    result = app(environ, start_response)
    for _ in result:
        pass
    close = getattr(result, "close", None)
    if close is not None:
        close()


class Socket(object):
    """Hands out REQUEST on every recv and drops what is sent."""

    def recv(self, n):
        return REQUEST

    def sendall(self, data):
        pass


conn = server.Conn(Socket())


def call_handle():
    server.handle(conn, app)


def best(f):
    """The fewest CPU microseconds per call over sets of at most calls
    calls, each stopped after budget seconds of CPU time."""
    for _ in range(min(200, calls)):
        f()
    best_us, best_n = None, 0
    for _ in range(sets):
        n, t0 = 0, time.process_time()
        while n < calls:
            for _ in range(100):
                f()
            n += 100
            if time.process_time() - t0 >= budget:
                break
        us = (time.process_time() - t0) / n * 1e6
        if best_us is None or us < best_us:
            best_us, best_n = us, n
    return best_us, best_n


app_us, app_n = best(call_app)
handle_us, handle_n = best(call_handle)
sys.__stdout__.write(json.dumps({"app_us": app_us, "app_calls": app_n,
                                 "handle_us": handle_us, "handle_calls": handle_n}) + "\n")
