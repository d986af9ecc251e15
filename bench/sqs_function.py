#!/usr/bin/env python3
"""A no-op Lambda function for bench/sqs.py's latency measurement, speaking the Invoke API.

    python3 sqs_function.py PORT

POST (any path, e.g. /2015-03-31/functions/NAME/invocations): notes the wall-clock time
(time.time_ns(), the clock the driver stamps SendMessage's response with) as soon as the request
line and headers are parsed, before reading the body; then reads the SQS event and remembers that
time for each record's messageId; answers 200 `{}` (success) over keep-alive.
GET /health: 200. GET /received: {"messageId": receive_time_ns, ...} of every record so far.
Binds 127.0.0.1 only.
"""

import http.server
import json
import socket
import sys
import threading
import time

received: dict[str, int] = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as an RIE or a real function endpoint
    # One write per response (headers and body are flushed together after the handler) and no
    # Nagle: otherwise the body waits for the client's delayed ACK, about 40 ms, and since esmd
    # sends one request at a time to an http target, the next invocation would wait with it.
    wbufsize = -1

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        t = time.time_ns()
        n = int(self.headers.get("Content-Length") or 0)
        event = json.loads(self.rfile.read(n) or b"{}")
        with lock:
            for r in event.get("Records", []):
                received.setdefault(r["messageId"], t)
        self._reply(b"{}")

    def do_GET(self) -> None:
        if self.path == "/received":
            with lock:
                body = json.dumps(received).encode()
            return self._reply(body)
        self._reply(b'{"status":"ok"}')

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # no per-request log line
        pass


def main() -> None:
    port = int(sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
