"""A tiny function server speaking the Lambda Invoke API, for integration tests.

`FunctionServer(mode)` listens on 127.0.0.1 on a free port, answers
`POST /2015-03-31/functions/{name}/invocations` (any path, in fact) and records every request.
Register it with esmd as the target `server.url(name)`.

Modes (data-plane.md §5):
  "lambda-api"  like Lambda or `sam local start-lambda`: a function error is 200 with
                `X-Amz-Function-Error`; sends `X-Amz-Executed-Version` and `x-amzn-RequestId`.
  "rie"         like aws-lambda-rie: a function error is 200 with an errorMessage/errorType body
                and no header; a timeout is the plain text "Task timed out after ..."; a crash is
                502. Like the RIE it does not expect concurrent requests: `overlapped` records
                whether two were ever open at once.
  "slow"        holds every request until `release()` (or for `hold_s` seconds), then answers.

What a request does is decided by its event (the JSON body):
  {"fail": "message"}    a function error
  {"status": 429}        lambda-api: answer with that HTTP status (a Lambda service error)
  {"timeout": true}      rie: the RIE's timeout text
  {"crash": true}        rie: 502, as when the runtime exits during the invoke
  {"respond": <json>}    200 with that JSON as the function's result
  {"hold_ms": 50}        wait that long before answering (makes overlaps observable)
anything else: 200 with {"echo": <event>}.
A `handler(event, request)` given to the constructor replaces all of this; it returns
(status, headers dict, body bytes or str).
"""
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FunctionServer:
    def __init__(self, mode="lambda-api", handler=None, hold_s=60.0):
        assert mode in ("lambda-api", "rie", "slow"), mode
        self.mode = mode
        self.handler = handler
        self.hold_s = hold_s
        self.requests = []          # dicts: path, headers (lower-cased names), body, event
        self.connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.barrier = None         # a threading.Barrier that every request waits at, if set
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._sockets = set()
        self._httpd = None
        self._thread = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with owner._lock:
                    owner.connections += 1
                    owner._sockets.add(self.connection)

            def finish(self):
                with owner._lock:
                    owner._sockets.discard(self.connection)
                super().finish()

            def log_message(self, *args):
                pass

            def do_POST(self):
                owner._serve(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops listening and closes every open connection (esmd sees its pooled ones close)."""
        self._released.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            with self._lock:
                socks = list(self._sockets)
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._httpd.server_address[1]

    def url(self, name="function"):
        return f"http://127.0.0.1:{self.port}/2015-03-31/functions/{name}/invocations"

    def release(self):
        """Lets every held ("slow") request answer."""
        self._released.set()

    @property
    def overlapped(self):
        return self.max_in_flight > 1

    def events(self):
        with self._lock:
            return [r["event"] for r in self.requests]

    # -- serving ---------------------------------------------------------------------------
    def _serve(self, h):
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        try:
            event = json.loads(body) if body else None
        except ValueError:
            event = body.decode(errors="replace")
        with self._lock:
            self.requests.append({"path": h.path, "body": body, "event": event,
                                  "headers": {k.lower(): v for k, v in h.headers.items()}})
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.barrier is not None:
                try:
                    self.barrier.wait()
                except threading.BrokenBarrierError:
                    pass
            status, headers, out = self._answer(event, h)
        finally:
            # Before the answer is written: the client cannot send its next request earlier.
            with self._lock:
                self.in_flight -= 1
        if isinstance(out, str):
            out = out.encode()
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(out)))
            h.end_headers()
            h.wfile.write(out)
        except OSError:
            # The client gave up (esmd's deadline passed): what a real runtime would not notice.
            h.close_connection = True

    def _answer(self, event, h):
        if self.handler:
            return self.handler(event, h)
        ev = event if isinstance(event, dict) else {}
        if ev.get("hold_ms"):
            time.sleep(ev["hold_ms"] / 1000.0)
        if self.mode == "slow":
            self._released.wait(self.hold_s)
        lambda_headers = {"Content-Type": "application/json"}
        if self.mode == "lambda-api":
            lambda_headers.update({"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": "fs-" + str(uuid.uuid4())})
        if "fail" in ev:
            err = json.dumps({"errorMessage": str(ev["fail"]), "errorType": "Exception", "stackTrace": []})
            if self.mode == "rie":
                return 200, {"Content-Type": "application/json"}, err
            return 200, dict(lambda_headers, **{"X-Amz-Function-Error": "Unhandled"}), err
        if "status" in ev and self.mode == "lambda-api":
            status = int(ev["status"])
            return status, {"Content-Type": "application/json", "x-amzn-errortype": "TestError"}, \
                json.dumps({"Type": "User", "Message": f"status {status} on request"})
        if ev.get("timeout") and self.mode == "rie":
            return 200, {"Content-Type": "text/plain"}, "Task timed out after 3.00 seconds"
        if ev.get("crash") and self.mode == "rie":
            return 502, {}, b""
        if "respond" in ev:
            return 200, lambda_headers, json.dumps(ev["respond"])
        return 200, lambda_headers, json.dumps({"echo": event})
