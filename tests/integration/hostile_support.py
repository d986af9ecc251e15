"""Dead and hostile functions (issue 13): a raw-socket server whose every connection misbehaves
in one chosen way, and a driver that invokes esmd's functions through
POST /_esmd/functions/NAME/invoke and samples esmd's RSS and open descriptors. Shared by
test_hostile_functions.py (a few hundred invocations) and bench/hostile_functions.py (10,000).

Behaviours (the function's registered Timeout is short, 0.3 s):
  refused  nothing listens on the port
  hang     reads the request, never answers
  status5xx  500 with a body
  huge     200 with a 10 MB body (Lambda's response limit is 6 MB)
  cut      a Content-Length of 1000, 10 bytes, then the connection is closed
  drip     the status line, then a byte every 100 ms
"""
import concurrent.futures
import json
import os
import socket
import threading
import time

from esmd_harness import free_port

BEHAVIOURS = ("refused", "hang", "status5xx", "huge", "cut", "drip")
HUGE = 10 * 1024 * 1024

# What esmd must report for each (Outcome, FunctionError, a piece of the Detail or payload).
EXPECTED = {
    "refused": ("InvokeError", None, "connect"),
    "hang": ("FunctionError", "Unhandled", "Task timed out after 0.30 seconds"),
    "status5xx": (None, None, None),  # an invoke error or a function error, never a success
    "huge": ("FunctionError", "Unhandled", "Response payload size exceeded"),
    "cut": ("FunctionError", "Unhandled", None),
    "drip": ("FunctionError", "Unhandled", "Task timed out after 0.30 seconds"),
}


class HostileServer:
    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/2015-03-31/functions/{name}/invocations"

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            body += chunk
        return True

    def _serve(self, conn):
        conn.settimeout(30)
        try:
            while not self.stopping.is_set() and self._read_request(conn):
                b = self.behaviour
                if b == "hang":
                    while not self.stopping.is_set() and conn.recv(1):
                        pass
                    return
                if b == "status5xx":
                    body = b'{"message":"upstream exploded"}'
                    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                    continue
                if b == "huge":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                                 % HUGE)
                    chunk = b"x" * 65536
                    for _ in range(HUGE // len(chunk)):
                        conn.sendall(chunk)
                    continue
                if b == "cut":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
                    return
                if b == "drip":
                    conn.sendall(b"HTTP/1.1 200 OK\r\n")
                    while not self.stopping.is_set():
                        conn.sendall(b"X")
                        time.sleep(0.1)
                    return
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopping.set()
        self.sock.close()


def register(esmd, name, url, timeout=0.3, concurrency=50):
    status, _, body = esmd.http("PUT", f"/_esmd/functions/{name}",
                                json.dumps({"Target": url, "Timeout": timeout, "Concurrency": concurrency}),
                                {"Content-Type": "application/json"})
    assert status == 200, (status, body)


def invoke(esmd, name):
    status, _, body = esmd.http("POST", f"/_esmd/functions/{name}/invoke", "{}")
    assert status == 200, (status, body)
    return json.loads(body)


def sample(pid):
    """(RSS in KiB, open descriptors) of a process."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def check(behaviour, outcome):
    """None when the outcome is what esmd must report for the behaviour, else why not."""
    want_outcome, want_error, want_text = EXPECTED[behaviour]
    if outcome["Outcome"] == "Success":
        return f"{behaviour}: a success: {outcome}"
    if want_outcome and outcome["Outcome"] != want_outcome:
        return f"{behaviour}: outcome {outcome['Outcome']}, want {want_outcome}: {outcome}"
    if want_error and outcome.get("FunctionError") != want_error:
        return f"{behaviour}: FunctionError {outcome.get('FunctionError')}, want {want_error}: {outcome}"
    if want_text and want_text not in (outcome.get("Detail", "") + outcome.get("Payload", "")):
        return f"{behaviour}: {want_text!r} not in {outcome}"
    return None


def run(esmd, counts, workers=50):
    """Invokes each behaviour counts[b] times (workers at once); returns a report dict."""
    servers = {b: HostileServer(b) for b in BEHAVIOURS if b != "refused"}
    try:
        for b in BEHAVIOURS:
            url = servers[b].url(b) if b in servers else f"http://127.0.0.1:{free_port()}/2015-03-31/functions/x/invocations"
            register(esmd, f"hostile-{b}", url)
        # Warm up at full concurrency, so that connection pools (a target that keeps its
        # connections open holds up to `workers` of them) and allocator arenas exist before the
        # baseline.
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda b: invoke(esmd, f"hostile-{b}"), [b for b in BEHAVIOURS for _ in range(workers)]))
        base = sample(esmd.proc.pid)
        report = {"base_rss_kib": base[0], "base_fds": base[1], "by_behaviour": {}, "wrong": []}
        peak_rss, peak_fds = base
        for b in BEHAVIOURS:
            started = time.monotonic()
            outcomes = {}
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                for out in pool.map(lambda _: invoke(esmd, f"hostile-{b}"), range(counts[b])):
                    outcomes[out["Outcome"]] = outcomes.get(out["Outcome"], 0) + 1
                    why = check(b, out)
                    if why and len(report["wrong"]) < 10:
                        report["wrong"].append(why)
                    rss, fds = sample(esmd.proc.pid)
                    peak_rss, peak_fds = max(peak_rss, rss), max(peak_fds, fds)
            report["by_behaviour"][b] = {"count": counts[b], "outcomes": outcomes,
                                         "seconds": round(time.monotonic() - started, 1)}
        end = sample(esmd.proc.pid)
        report.update(end_rss_kib=end[0], end_fds=end[1], peak_rss_kib=peak_rss, peak_fds=peak_fds,
                      invocations=sum(counts.values()))
        return report
    finally:
        for s in servers.values():
            s.stop()
