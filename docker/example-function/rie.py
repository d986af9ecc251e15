"""A stand-in for AWS's Lambda Runtime Interface Emulator (RIE), in Python's standard library.

AWS's Lambda base images run your handler behind the RIE, which serves the Lambda Invoke API
on port 8080:

    POST /2015-03-31/functions/function/invocations    body: the event

This stand-in answers the same way, so esmd (or `curl`) cannot tell the two apart for the
outcomes it models:
  - success: 200 with the handler's return value as JSON;
  - an exception: 200 with {"errorMessage", "errorType", "stackTrace"} and no
    X-Amz-Function-Error header (the RIE sends none);
  - one invocation at a time: a second request waits for the first (the RIE, unlike this,
    crashes on concurrent requests; esmd never sends them to one endpoint).
Not modelled: AWS_LAMBDA_FUNCTION_TIMEOUT (a handler may run as long as it likes), the
Runtime API for custom runtimes, and X-Amz-Client-Context.

Usage: python3 rie.py MODULE.FUNCTION   (like the base images' CMD, e.g. handler.handler);
the module is imported from LAMBDA_TASK_ROOT (default /var/task).
"""
import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INVOKE_PATH = "/2015-03-31/functions/function/invocations"


class Context:
    """The attributes of the Python runtime's context object that handlers commonly read."""

    def __init__(self, request_id, timeout_s):
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
        self.invoked_function_arn = (f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:"
                                     f"012345678912:function:{self.function_name}")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "$LATEST"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(spec):
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        sys.exit(f"rie: handler must be MODULE.FUNCTION, got {spec!r}")
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    return getattr(importlib.import_module(module_name), function_name)


def main():
    handler = load_handler(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("_HANDLER", "handler.handler"))
    timeout_s = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "300"))
    one_at_a_time = threading.Lock()

    class Invoke(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body, content_type="application/json"):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path.split("?")[0] != INVOKE_PATH:
                return self.reply(404, "404 page not found\n", "text/plain")
            request_id = str(uuid.uuid4())
            with one_at_a_time:
                print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
                started = time.monotonic()
                try:
                    event = json.loads(raw) if raw.strip() else {}
                    result = json.dumps(handler(event, Context(request_id, timeout_s)))
                except Exception as e:  # the runtime reports any exception as a function error
                    result = json.dumps({"errorMessage": str(e), "errorType": type(e).__name__,
                                         "stackTrace": traceback.format_tb(e.__traceback__)})
                ms = (time.monotonic() - started) * 1000
                print(f"END RequestId: {request_id}", flush=True)
                print(f"REPORT RequestId: {request_id}\tDuration: {ms:.2f} ms", flush=True)
            self.reply(200, result)

    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("RIE_PORT", "8080"))), Invoke)
    server.daemon_threads = True
    print(f"rie: serving {INVOKE_PATH} on port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
