#!/usr/bin/env python3
"""SQS data plane: esmd vs fauxqs vs moto, and esmd's delivery through a mapping, in one run.

For each of esmd (durable defaults), fauxqs (in memory) and moto, one server at a time:
  1. SendMessage requests/s: wrk, --connections keep-alive connections, JSON protocol, one
     unique 64-byte message per request (bench/wrk/sqs.lua send);
  2. ReceiveMessage requests/s: wrk on a queue pre-filled (SendMessageBatch from --workers
     threads) with 1.5x the messages the run will take, as estimated by a short calibration
     run; MaxNumberOfMessages 1, WaitTimeSeconds 0; a receive that finds the queue empty is
     counted and fails the run (bench/wrk/sqs.lua receive). Received messages stay in flight.
     Then a consumer's loop on a queue filled alike (its own calibration run sizes it):
     ReceiveMessage, then DeleteMessage of each message received (bench/wrk/sqs.lua consume),
     reported as messages/s.
Then, for esmd only, on a fresh instance:
  3. records/s delivered through an SQS mapping to the no-op function builtin:ok, BatchSize 10
     (window 0) and BatchSize 100 (window 1 s): --records messages pre-filled, then the mapping
     is created (enabled), and the clock runs until the queue holds no message, visible,
     in flight or delayed (GetQueueAttributes every 20 ms);
  4. latency from SendMessage's response to the function receiving the record: --latency-messages
     messages sent one at a time at --latency-rate per second; the function is a separate
     process speaking the Invoke API (bench/sqs_function.py) that notes its receive time as
     soon as the request's headers are parsed; both ends stamp with the same wall clock. For
     reference the same run against builtin:ok, timed by esmd's invocation log (ms resolution).
Finally, for reference only (not a target): esmd with --durability normal (no fsync per commit)
repeats 1-4, which shows how much of esmd's time is the disk's fsync.

Every non-2xx response, receive from an empty queue, failed batch entry or undelivered record
is reported and makes the script exit 1. All servers bind 127.0.0.1 only; every process started
here is stopped on exit.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time

from benchlib import (ESMD_ACCOUNT, MAPPINGS, Client, Log, Moto, Server, auth, cpu_ticks, describe_machine,
                      fmt_kib, load_average, machine_busy_ticks, run_all, version, wait_until_quiet, work_dir,
                      write_results, yes)
import benchlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LUA = os.path.join(HERE, "wrk", "sqs.lua")
FUNCTION_PY = os.path.join(HERE, "sqs_function.py")
FAUXQS_PY = os.path.join(HERE, "fauxqs_server.mjs")
NODE_DIR = os.path.join(HERE, ".node")
NOOP = "noop"
LAT_FN = "lat"

failures: list[str] = []


# ---------------------------------------------------------------------------------------------
# Waiting for a quiet machine


PHASE_QUIET_S = 0.0  # --wait-quiet also lets each measured phase wait (at most this long) for quiet


def settle(log) -> None:
    if PHASE_QUIET_S > 0:
        wait_until_quiet(PHASE_QUIET_S, log, sample_s=1.0, pause_s=4.0)


# ---------------------------------------------------------------------------------------------
# Servers


class Esmd(benchlib.Esmd):
    def __init__(self, binary: str, data_dir: str, log_path: str, durability: str, function_port: int):
        super().__init__(binary, data_dir, log_path, durability, [
            f"{NOOP}=builtin:ok",
            f"{LAT_FN}=http://127.0.0.1:{function_port}/2015-03-31/functions/{LAT_FN}/invocations"])
        self.function_port = function_port


class Fauxqs(Server):
    name = "fauxqs"
    health_path = "/health"

    def __init__(self, node: str, app_js: str, log_path: str, mode: str = "log"):
        super().__init__(log_path)
        self.node, self.app_js, self.mode = node, app_js, mode

    def argv(self) -> list[str]:
        return [self.node, FAUXQS_PY, self.app_js, str(self.port), self.mode]


class TestFunction(Server):
    name = "test function"
    health_path = "/health"

    def argv(self) -> list[str]:
        return [sys.executable, FUNCTION_PY, str(self.port)]


# ---------------------------------------------------------------------------------------------
# SQS over the JSON protocol


class Sqs:
    def __init__(self, port: int):
        self.client = Client(port)
        self.port = port

    def call(self, op: str, payload: dict) -> dict:
        headers = {**auth("sqs"), "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{op}"}
        status, body = self.client.call("POST", "/", json.dumps(payload), headers)
        if not 200 <= status < 300:
            raise RuntimeError(f"{op}: HTTP {status}: {body[:300]!r}")
        return json.loads(body) if body else {}

    def create_queue(self, name: str) -> str:
        return self.call("CreateQueue", {"QueueName": name})["QueueUrl"]

    def depth(self, url: str) -> dict[str, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        a = self.call("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": names})["Attributes"]
        return {k: int(a.get(k, 0)) for k in names}

    def fill(self, url: str, n: int, workers: int, tag: str) -> float:
        """Sends n messages with SendMessageBatch (10 per request) from `workers` threads."""
        batches = [(i, min(10, n - i)) for i in range(0, n, 10)]

        def send(b: tuple[int, int]) -> None:
            start, count = b
            entries = [{"Id": f"m{j}", "MessageBody": f"{tag}-{start + j}-".ljust(64, "x")} for j in range(count)]
            out = self.call("SendMessageBatch", {"QueueUrl": url, "Entries": entries})
            if out.get("Failed"):
                raise RuntimeError(f"SendMessageBatch failed entries: {out['Failed'][:3]}")

        return run_all(workers, send, batches)


def http_json(port: int, method: str, path: str, body: dict | None = None) -> dict:
    c = Client(port)
    status, resp = c.call(method, path, json.dumps(body) if body is not None else None,
                          {**auth("lambda"), "Content-Type": "application/json"})
    if not 200 <= status < 300:
        raise RuntimeError(f"{method} {path}: HTTP {status}: {resp[:300]!r}")
    return json.loads(resp) if resp else {}


# ---------------------------------------------------------------------------------------------
# wrk


def run_wrk(port: int, op: str, url: str, threads: int, connections: int, duration: float, server_pid: int,
            body_bytes: int) -> dict:
    w = benchlib.run_wrk(LUA, port, [op, url, str(body_bytes)], threads, connections, duration, server_pid)
    # sqs.lua's counters: messages received or sent, empty receives, failed batch entries, requests
    for k in ("msgs", "empty", "failed", "receives", "deletes"):
        w[k] = w["counters"].get(k, 0)
    return w


def check_wrk(label: str, op: str, w: dict, log) -> None:
    line = (f"{label}: {op}: {w['rps']:,.0f} req/s, {w['ok_rps']:,.0f} 2xx/s, statuses {w['statuses']}, "
            f"messages {w['msgs']:,}, p50 {w['p50']} p99 {w['p99']}; server CPU {w['cpu_us_per_req']:.0f} us/req, "
            f"wrk CPU {w['wrk_cpu_s']:.1f} s, other processes {w['others_share']:.0%} of the CPUs")
    if w["socket_errors"]:
        line += f", socket errors: {w['socket_errors']}"
    log(line)
    problems = []
    if w["non2xx"]:
        problems.append(f"{w['non2xx']} non-2xx responses {w['statuses']}")
    if w["empty"]:
        problems.append(f"{w['empty']} receives found the queue empty (pre-fill too small)")
    if w["failed"]:
        problems.append(f"{w['failed']} failed batch entries")
    if w["total"] == 0:
        problems.append("no response at all")
    for p in problems:
        failures.append(f"{label} {op}: {p}")
        log(f"FAIL: {label} {op}: {p}")


# ---------------------------------------------------------------------------------------------
# 1-2: SendMessage and ReceiveMessage


def measure_queue_ops(s: Server, label: str, args, log) -> dict:
    r: dict = {}
    sqs = Sqs(s.port)
    send_url = sqs.create_queue("bench-send")
    settle(log)
    w = run_wrk(s.port, "send", send_url, args.wrk_threads, args.connections, args.duration, s.proc.pid,
                args.body_bytes)
    check_wrk(label, "SendMessage", w, log)
    r["send"] = w

    # Receive and the consumer loop must never find the queue empty, and each is measured alone
    # (not against a concurrent sender). A short calibration run on a filled queue estimates the
    # rate; a fresh queue is then filled with 1.5x what the measured run will take. Calibrations
    # on this shared machine can be off: a run that did run dry is repeated once on a queue twice
    # as deep as the rate it reached would need; only if that one runs dry too does it count as
    # a failure.
    for op, name, tag in (("receive", "ReceiveMessage", "r"), ("consume", "ReceiveMessage+DeleteMessage", "c")):
        cal_url = sqs.create_queue(f"bench-{op}-calibration")
        sqs.fill(cal_url, cal_fill(r, args), args.workers, f"{tag}0")
        cal = run_wrk(s.port, op, cal_url, args.wrk_threads, args.connections, args.calibrate, s.proc.pid,
                      args.body_bytes)
        finish_consume(cal, args)
        rate = consumed_ps(cal) * (2 if ran_dry(cal) else 1)  # ran dry: the rate is at least that
        r[f"{op}_cal"] = cal
        n = fill_for(rate, args)
        for attempt in (1, 2):
            url = sqs.create_queue(f"bench-{op}-{attempt}")
            secs = sqs.fill(url, n, args.workers, f"{tag}{attempt}")
            log(f"{label}: {name} calibration {consumed_ps(cal):,.0f} messages/s over {args.calibrate:g} s; "
                f"pre-filled {n:,} messages in {secs:.1f} s ({n / secs:,.0f}/s with SendMessageBatch, "
                f"{args.workers} threads)")
            settle(log)
            w = run_wrk(s.port, op, url, args.wrk_threads, args.connections, args.duration, s.proc.pid,
                        args.body_bytes)
            finish_consume(w, args)
            if not ran_dry(w) or attempt == 2:
                break
            n = max(2 * n, 2 * fill_for(w["ok_rps"], args))
            log(f"{label}: {name} ran dry after {w['msgs']:,} messages; again on a queue of {n:,}")
        check_wrk(label, name, w, log)
        if op == "consume":
            log(f"{label}: consumer loop: {w['receives']:,} receives, {w['deletes']:,} deletes = "
                f"{w['deletes_ps']:,.0f} messages/s received and deleted")
        r[op] = w
        r[f"{op}_fill"] = n
    r["rss_kib"] = s.rss()
    return r


def cal_fill(r: dict, args) -> int:
    """Messages for a calibration run: more than the send run's rate could take in that time."""
    return min(args.max_fill, int(math.ceil(r["send"]["ok_rps"] * args.calibrate * 1.2 / 10)) * 10 + 100)


def fill_for(rate: float, args) -> int:
    """A queue depth that a run at `rate` messages/s cannot empty in --duration (1.5x, rounded)."""
    return min(args.max_fill, int(math.ceil(rate * args.duration * 1.5 / 10)) * 10 + 200)


def finish_consume(w: dict, args) -> None:
    if w["receives"] or w["deletes"]:  # the consume op
        # An empty receive shows as a receive sent with no message back (the last few receives
        # may still have been in flight when wrk stopped).
        w["empty"] = max(0, w["receives"] - w["msgs"] - args.connections)
        w["deletes_ps"] = w["ok_rps"] * (w["deletes"] / w["total"] if w["total"] else 0.0)


def consumed_ps(w: dict) -> float:
    """Messages per second a receive or consume run took off the queue."""
    return w["deletes_ps"] if "deletes_ps" in w else w["ok_rps"] * (w["msgs"] / w["total"] if w["total"] else 0)


def ran_dry(w: dict) -> bool:
    return w["empty"] > 0


# ---------------------------------------------------------------------------------------------
# 3-4: delivery through a mapping (esmd)


def create_mapping(port: int, function: str, queue: str, batch: int, window: int) -> str:
    m = http_json(port, "POST", MAPPINGS, {
        "FunctionName": function, "EventSourceArn": f"arn:aws:sqs:us-east-1:{ESMD_ACCOUNT}:{queue}",
        "BatchSize": batch, "MaximumBatchingWindowInSeconds": window, "Enabled": True})
    return m["UUID"]


def delete_mapping(port: int, uuid: str) -> None:
    http_json(port, "DELETE", f"{MAPPINGS}/{uuid}")


def last_seq(port: int) -> int:
    return http_json(port, "GET", "/_esmd/invocations?limit=1")["LastSeq"]


def measure_delivery(s: Esmd, label: str, batch: int, window: int, args, log) -> dict:
    sqs = Sqs(s.port)
    queue = f"bench-deliver-{batch}"
    url = sqs.create_queue(queue)
    secs = sqs.fill(url, args.records, args.workers, f"d{batch}")
    d = sqs.depth(url)
    n = d["ApproximateNumberOfMessages"]
    if n != args.records:
        raise RuntimeError(f"{queue}: {n} visible messages after sending {args.records}")
    settle(log)
    seq0 = last_seq(s.port)
    hz = os.sysconf("SC_CLK_TCK")
    busy0 = machine_busy_ticks()
    me0 = os.times()
    cpu0 = cpu_ticks(s.proc.pid)
    t0 = time.perf_counter()
    uuid = create_mapping(s.port, NOOP, queue, batch, window)
    left = n
    deadline = t0 + args.drain_timeout
    while time.perf_counter() < deadline:
        left = sum(sqs.depth(url).values())
        if left == 0:
            break
        time.sleep(0.02)
    secs_drain = time.perf_counter() - t0
    cpu = (cpu_ticks(s.proc.pid) - cpu0) / hz
    me1 = os.times()
    mine = (me1.user - me0.user) + (me1.system - me0.system)  # this script's polling
    others = max(0.0, (machine_busy_ticks() - busy0) / hz - cpu - mine)
    delete_mapping(s.port, uuid)
    invocations = last_seq(s.port) - seq0
    recent = http_json(s.port, "GET", f"/_esmd/invocations?mapping={uuid}&limit=100")["Invocations"]
    bad = [i["Outcome"] for i in recent if i["Outcome"] != "Success"]
    r = {"batch": batch, "window": window, "records": n, "fill_secs": secs, "secs": secs_drain, "left": left,
         "rps": (n - left) / secs_drain, "invocations": invocations, "cpu_s": cpu,
         "cpu_us_per_record": cpu / max(1, n - left) * 1e6,
         "others_share": others / (secs_drain * (os.cpu_count() or 1))}
    log(f"{label}: delivery BatchSize {batch}, window {window} s: {n - left:,} of {n:,} records in {secs_drain:.2f} s "
        f"= {r['rps']:,.0f} records/s, {invocations:,} invocations ({(n - left) / max(1, invocations):.1f} records "
        f"each), server CPU {r['cpu_us_per_record']:.1f} us/record; pre-fill took {secs:.1f} s; other processes "
        f"{r['others_share']:.0%} of the CPUs")
    if left:
        failures.append(f"{label} delivery batch {batch}: {left} records still queued after {args.drain_timeout} s")
        log(f"FAIL: {failures[-1]}")
    if bad:
        failures.append(f"{label} delivery batch {batch}: outcomes {bad[:5]}")
        log(f"FAIL: {failures[-1]}")
    return r


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def send_paced(sqs: Sqs, url: str, n: int, rate: float, tag: str) -> dict[str, tuple[int, int]]:
    """Sends n messages one at a time at `rate`/s; returns messageId -> (request start, response) in ns."""
    sent: dict[str, tuple[int, int]] = {}
    interval = 1 / rate
    nxt = time.perf_counter()
    for i in range(n):
        delay = nxt - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        nxt += interval
        t0 = time.time_ns()
        out = sqs.call("SendMessage", {"QueueUrl": url, "MessageBody": f"{tag}-{i}"})
        t1 = time.time_ns()
        sent[out["MessageId"]] = (t0, t1)
    return sent


def measure_latency(s: Esmd, fn: TestFunction, label: str, args, log) -> dict:
    sqs = Sqs(s.port)
    out: dict = {}
    for kind in ("http", "builtin"):
        queue = f"bench-latency-{kind}"
        url = sqs.create_queue(queue)
        uuid = create_mapping(s.port, LAT_FN if kind == "http" else NOOP, queue, 10, 0)
        fn_client = Client(fn.port)

        def received() -> dict[str, int]:
            if kind == "http":
                status, body = fn_client.call("GET", "/received", None, {})
                return {k: v for k, v in json.loads(body).items()}
            inv = http_json(s.port, "GET", f"/_esmd/invocations?mapping={uuid}&limit=10000")["Invocations"]
            return {rec["messageId"]: i["Time"] * 1_000_000 for i in inv for rec in i["Event"]["Records"]}

        def wait_for(ids, timeout: float = 30) -> dict[str, int]:
            deadline = time.perf_counter() + timeout
            while True:
                got = received()
                if all(i in got for i in ids) or time.perf_counter() > deadline:
                    return got
                time.sleep(0.05)

        # Warm-up: the poller is running and (http) its keep-alive connection to the function is open.
        warm = send_paced(sqs, url, 5, args.latency_rate, f"warm-{kind}")
        wait_for(warm)
        settle(log)
        sent = send_paced(sqs, url, args.latency_messages, args.latency_rate, f"lat-{kind}")
        got = wait_for(sent)
        delete_mapping(s.port, uuid)
        missing = [m for m in sent if m not in got]
        from_resp = [(got[m] - t1) / 1e6 for m, (t0, t1) in sent.items() if m in got]
        from_req = [(got[m] - t0) / 1e6 for m, (t0, t1) in sent.items() if m in got]
        send_ms = [(t1 - t0) / 1e6 for (t0, t1) in sent.values()]
        r = {"n": len(sent), "missing": len(missing)}
        if from_resp:
            r.update({"p50": percentile(from_resp, 50), "p99": percentile(from_resp, 99), "max": max(from_resp),
                      "min": min(from_resp), "p50_req": percentile(from_req, 50), "p99_req": percentile(from_req, 99),
                      "send_p50": percentile(send_ms, 50), "send_p99": percentile(send_ms, 99)})
            log(f"{label}: latency SendMessage response -> {'test function (http)' if kind == 'http' else 'builtin:ok invocation log'}"
                f": p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, min {r['min']:.2f}, max {r['max']:.2f} "
                f"({len(from_resp)} messages at {args.latency_rate:g}/s); from the request's start p50 "
                f"{r['p50_req']:.2f} ms p99 {r['p99_req']:.2f} ms; SendMessage itself p50 {r['send_p50']:.2f} ms "
                f"p99 {r['send_p99']:.2f} ms")
        if missing:
            failures.append(f"{label} latency ({kind}): {len(missing)} of {len(sent)} messages never reached the function")
            log(f"FAIL: {failures[-1]}")
        out[kind] = r
    return out


# ---------------------------------------------------------------------------------------------
# The run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(ROOT, "build-bench", "esmd"), help="esmd binary")
    ap.add_argument("--node", default=os.path.join(NODE_DIR, "node_modules", ".bin", "node"),
                    help="Node >= 22.5 for fauxqs")
    ap.add_argument("--fauxqs", default=os.path.join(NODE_DIR, "node_modules", "fauxqs", "dist", "app.js"),
                    help="fauxqs's dist/app.js")
    ap.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    ap.add_argument("--calibrate", type=float, default=2, help="seconds of the receive calibration run")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=8, help="threads that pre-fill queues")
    ap.add_argument("--body-bytes", type=int, default=64, help="message body size for SendMessage")
    ap.add_argument("--max-fill", type=int, default=1_000_000, help="cap on a receive queue's pre-fill")
    ap.add_argument("--records", type=int, default=100_000, help="messages delivered through each mapping")
    ap.add_argument("--drain-timeout", type=float, default=120)
    ap.add_argument("--latency-messages", type=int, default=500)
    ap.add_argument("--latency-rate", type=float, default=100, help="messages/s of the latency run")
    ap.add_argument("--servers", default="esmd,fauxqs,moto", help="comma-separated subset to compare")
    ap.add_argument("--no-reference", action="store_true", help="skip the esmd --durability normal reference")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="wait up to S seconds for the machine's CPUs to be mostly idle before starting, "
                         "and up to min(S, 60) seconds before each measured phase")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "sqs.md"))
    args = ap.parse_args()
    servers = [x for x in args.servers.split(",") if x]
    args.esmd, args.node, args.fauxqs = (os.path.abspath(p) for p in (args.esmd, args.node, args.fauxqs))

    if not shutil.which("wrk"):
        sys.exit("wrk not found (bench/sqs.sh installs it)")
    if "esmd" in servers and not os.access(args.esmd, os.X_OK):
        sys.exit(f"no esmd binary at {args.esmd} (bench/sqs.sh builds it)")
    if "fauxqs" in servers and not (os.access(args.node, os.X_OK) and os.path.exists(args.fauxqs)):
        sys.exit(f"no Node at {args.node} or no fauxqs at {args.fauxqs} (bench/sqs.sh installs both)")
    if "moto" in servers:
        import moto  # noqa: F401  (fail early when moto is missing)

    work = work_dir("esmd-bench-sqs-")
    log = Log()

    busy = wait_until_quiet(args.wait_quiet, log)
    global PHASE_QUIET_S
    PHASE_QUIET_S = min(60.0, args.wait_quiet)
    started = time.time()

    versions = {
        "esmd": version([args.esmd, "--version"]) if "esmd" in servers else "",
        "moto": "moto " + version([sys.executable, "-c", "import moto; print(moto.__version__)"]) if "moto" in servers else "",
        "fauxqs": ("fauxqs " + json.load(open(os.path.join(os.path.dirname(os.path.dirname(args.fauxqs)), "package.json")))["version"]
                   + " on Node " + version([args.node, "--version"])) if "fauxqs" in servers else "",
        "wrk": version(["wrk", "-v"]).split("\n")[0].split(" [")[0],
    }
    machine = describe_machine(work, busy, log)

    counter = iter(range(1_000_000))

    def new_esmd(durability: str, fn_port: int) -> Esmd:
        d = os.path.join(work, f"esmd-{durability}-{next(counter)}")
        os.makedirs(d)
        return Esmd(args.esmd, d, os.path.join(work, "esmd.log"), durability, fn_port)

    results: dict = {}
    fn = TestFunction(os.path.join(work, "function.log"))
    try:
        # One server at a time, each on a fresh data directory, so that none competes with another.
        esmd_variants = [("esmd", "full")] + ([] if args.no_reference else [("esmd (normal)", "normal")])
        runs: list[tuple[str, str]] = []
        for name in servers:
            runs += esmd_variants if name == "esmd" else [(name, "")]
        for label, durability in runs:
            if label.startswith("esmd"):
                s = new_esmd(durability, fn.port)
            elif label == "fauxqs":
                s = Fauxqs(args.node, args.fauxqs, os.path.join(work, "fauxqs.log"))
            elif label == "moto":
                s = Moto(os.path.join(work, "moto.log"))
            else:
                sys.exit(f"unknown server {label}")
            t = s.launch()
            log(f"{label}: up in {t * 1000:.0f} ms on port {s.port}")
            try:
                results[label] = measure_queue_ops(s, label, args, log)
            finally:
                s.stop()
            if label == "fauxqs":
                # Reference: fauxqs's SendMessage without its per-request log line.
                s = Fauxqs(args.node, args.fauxqs, os.path.join(work, "fauxqs-quiet.log"), "quiet")
                s.launch()
                try:
                    settle(log)
                    url = Sqs(s.port).create_queue("bench-send")
                    w = run_wrk(s.port, "send", url, args.wrk_threads, args.connections, args.duration, s.proc.pid,
                                args.body_bytes)
                    check_wrk("fauxqs (no request log)", "SendMessage", w, log)
                    results["fauxqs"]["send_quiet"] = w
                finally:
                    s.stop()

        if "esmd" in servers:
            fn.launch()
            for label, durability in esmd_variants:
                s = new_esmd(durability, fn.port)
                s.launch()
                try:
                    r = results[label]
                    r["deliver10"] = measure_delivery(s, label, 10, 0, args, log)
                    r["deliver100"] = measure_delivery(s, label, 100, 1, args, log)
                    r["latency"] = measure_latency(s, fn, label, args, log)
                finally:
                    s.stop()
    finally:
        fn.stop()

    machine["load_after"] = load_average()
    table = render(args, machine, versions, results, servers, time.time() - started)
    write_results(args.out, table, log, ((label, op, r[op]) for label, r in results.items()
                                         for op in ("send", "receive", "consume") if op in r))
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def render(args, machine, versions, results, servers, secs) -> str:
    def ratio(a: float, b: float) -> str:
        if b <= 0:
            return "—"
        x = a / b
        return f"{x:,.0f}×" if x >= 10 else f"{x:.1f}×" if x >= 1 else f"{x:.2f}×" if x >= 0.1 else f"{x:.3f}×"

    cols = [s for s in ("esmd", "fauxqs", "moto") if s in results]
    others = [s for s in ("fauxqs", "moto") if s in results and "esmd" in results]
    head = "| metric | " + " | ".join(cols) + "".join(f" | esmd ÷ {o}" for o in others) + " | target | met |"
    sep = "|---|" + "---:|" * (len(cols) + len(others)) + "---|---|"
    rows = []
    for op, name in (("send", "SendMessage"), ("receive", "ReceiveMessage")):
        def cells(fn):
            return [fn(results[c][op]) for c in cols]

        target, met = "", ""
        if op == "send" and "esmd" in results and "fauxqs" in results:
            target = "≥ 2× fauxqs"
            met = yes(results["esmd"]["send"]["ok_rps"] >= 2 * results["fauxqs"]["send"]["ok_rps"]
                      and results["esmd"]["send"]["non2xx"] == 0)
        rows.append([f"{name} req/s (2xx)"] + cells(lambda w: f"{w['ok_rps']:,.0f}")
                    + [ratio(results["esmd"][op]["ok_rps"], results[o][op]["ok_rps"]) for o in others] + [target, met])
        rows.append([f"{name} non-2xx / responses"] + cells(lambda w: f"{w['non2xx']} / {w['total']:,}")
                    + [""] * len(others) + ["0", yes(all(results[c][op]["non2xx"] == 0 for c in cols))])
        rows.append([f"{name} latency p50 / p99"] + cells(lambda w: f"{w['p50']} / {w['p99']}")
                    + [""] * len(others) + ["", ""])
        rows.append([f"{name} server CPU per request"] + cells(lambda w: f"{w['cpu_us_per_req']:,.0f} µs")
                    + [ratio(results["esmd"][op]["cpu_us_per_req"], results[o][op]["cpu_us_per_req"])
                       for o in others] + ["", ""])
    if "fauxqs" in results and "send_quiet" in results["fauxqs"]:
        q = results["fauxqs"]["send_quiet"]
        rows.insert(4, ["SendMessage req/s (2xx), fauxqs without its request log"]
                    + [f"{q['ok_rps']:,.0f}" if c == "fauxqs" else "" for c in cols]
                    + [ratio(results["esmd"]["send"]["ok_rps"], q["ok_rps"]) if o == "fauxqs" and "esmd" in results
                       else "" for o in others] + ["", ""])
    rows.append([f"ReceiveMessage req/s in the {args.calibrate:g}-s calibration run (few messages in flight yet)"]
                + [f"{results[c]['receive_cal']['ok_rps']:,.0f}" for c in cols]
                + [ratio(results["esmd"]["receive_cal"]["ok_rps"], results[o]["receive_cal"]["ok_rps"]) for o in others]
                + ["", ""])
    rows.append(["consumer loop (ReceiveMessage, then DeleteMessage of what it got): messages/s"]
                + [f"{results[c]['consume']['deletes_ps']:,.0f}" for c in cols]
                + [ratio(results["esmd"]["consume"]["deletes_ps"], results[o]["consume"]["deletes_ps"]) for o in others]
                + ["", ""])
    rows.append(["consumer loop non-2xx / responses"]
                + [f"{results[c]['consume']['non2xx']} / {results[c]['consume']['total']:,}" for c in cols]
                + [""] * len(others) + ["0", yes(all(results[c]["consume"]["non2xx"] == 0 for c in cols))])
    rows.append(["consumer loop server CPU per request"]
                + [f"{results[c]['consume']['cpu_us_per_req']:,.0f} µs" for c in cols]
                + [ratio(results["esmd"]["consume"]["cpu_us_per_req"], results[o]["consume"]["cpu_us_per_req"])
                   for o in others] + ["", ""])
    rows.append(["CPUs taken by other processes during the Send / Receive / consumer runs"]
                + ["{:.0%} / {:.0%} / {:.0%}".format(*(results[c][k]["others_share"] for k in ("send", "receive", "consume")))
                   for c in cols] + [""] * len(others) + ["", ""])
    rows.append(["server RSS after the runs"] + [fmt_kib(results[c]["rss_kib"]) for c in cols]
                + [""] * len(others) + ["", ""])

    out = [
        "# SQS: esmd vs fauxqs vs moto",
        "",
        f"{machine['date']} · {machine['cores']} cores ({machine['cpu']}) · Linux {machine['kernel']} · "
        + " · ".join(v for v in (f"{versions['esmd']} ({machine['rev']})" if versions["esmd"] else "",
                                 versions["fauxqs"], versions["moto"], versions["wrk"]) if v)
        + f" · other processes used {machine['busy_before']:.0%} of the CPUs just before the run; "
        f"load average {machine['load_before']} before, {machine['load_after']} after",
        "",
        f"## SendMessage and ReceiveMessage, wrk `-t{args.wrk_threads} -c{args.connections} -d{args.duration:g}s`",
        "",
        head, sep,
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]

    if "esmd" in results and "deliver10" in results["esmd"]:
        e = results["esmd"]
        ref = results.get("esmd (normal)")
        out += ["", "## esmd: delivery through an SQS mapping to a no-op function", "",
                "| metric | esmd | esmd `--durability normal` (reference) | target | met |", "|---|---:|---:|---|---|"]

        def refcell(f) -> str:
            return f(ref) if ref else "—"

        for key, name in (("deliver10", "BatchSize 10, window 0"), ("deliver100", "BatchSize 100, window 1 s")):
            d = e[key]
            out.append(f"| records/s delivered, {name} ({d['records']:,} records) | {d['rps']:,.0f} | "
                       f"{refcell(lambda r: format(r[key]['rps'], ',.0f'))} | ≥ 20,000 | "
                       f"{yes(d['rps'] >= 20000 and d['left'] == 0)} |")
            def detail(r, key=key) -> str:
                d = r[key]
                return (f"{d['invocations']:,} ({d['records'] / max(1, d['invocations']):.1f}), "
                        f"{d['cpu_us_per_record']:.1f} µs, {d['others_share']:.0%}")

            out.append(f"| … invocations (records each), server CPU per record, CPUs taken by other processes | "
                       f"{detail(e)} | {refcell(detail)} | | |")

        def lat_cell(r, kind: str, a: str, b: str) -> str:
            lat = r["latency"][kind]
            return f"{lat[a]:.2f} / {lat[b]:.2f} ms" if a in lat else "—"

        lat_rows = [
            ("http", "p50", "p99", "latency p50 / p99: SendMessage response read → test function receives the record "
             "(http, Invoke API)", "p50 < 5 ms"),
            ("http", "p50_req", "p99_req", "latency p50 / p99: SendMessage request sent → test function receives "
             "the record (includes SendMessage's own commit)", ""),
            ("builtin", "p50", "p99", "latency p50 / p99: SendMessage response read → builtin:ok invoked "
             "(esmd's invocation log `Time`, 1 ms resolution)", ""),
            ("http", "send_p50", "send_p99", "… SendMessage's own latency p50 / p99 in the http run", ""),
        ]
        for kind, a, b, name, target in lat_rows:
            lat = e["latency"][kind]
            met = yes(lat.get(a, 1e9) < 5 and lat["missing"] == 0) if target else ""
            out.append(f"| {name} | {lat_cell(e, kind, a, b)} | {refcell(lambda r: lat_cell(r, kind, a, b))} | "
                       f"{target} | {met} |")

    bound = args.connections / machine["fsync_ms"] * 1000 if machine["fsync_ms"] > 0 else 0
    notes = [
        "",
        "Notes:",
        "",
        f"- esmd: file-backed SQLite in a fresh temporary `--data-dir` on {machine['data_fs']}, `--durability full`: every "
        f"message is fsynced before its 2xx. One fdatasync on this disk took {machine['fsync_ms']:.2f} ms when the run began; "
        f"esmd group-commits the requests that wait together, but with {args.connections} connections at most "
        f"{args.connections} requests share an fsync, so a durable SendMessage rate is bounded by about "
        f"{args.connections} / fsync ≈ {bound:,.0f} req/s on this disk, whatever the CPU.",
        "- fauxqs: in memory (it has no persistence), started with `buildApp()` from its package, as its CLI "
        "(`npx fauxqs`) does — with the CLI's request log (a pino JSON line per request, to a file) — but bound to "
        "127.0.0.1 (the CLI binds 0.0.0.0). For reference its SendMessage is also measured without that log.",
        "- moto: `python3 -m moto.server`; it answers `Connection: close`, so wrk reconnects for each moto request.",
        f"- SendMessage: one unique {args.body_bytes}-byte body per request. ReceiveMessage: MaxNumberOfMessages 1, "
        "WaitTimeSeconds 0, on a queue pre-filled (SendMessageBatch, not timed) with 1.5× what a "
        f"{args.calibrate:g}-second calibration run predicts the measured run will take — receive is measured "
        "alone, not competing with a sender; received messages stay in flight (visibility timeout 30 s). A receive "
        "that finds the queue empty would fail the run. So ReceiveMessage runs with more and more messages in flight "
        "(a consumer that never deletes); the calibration row shows the rate while few are. The consumer loop "
        "row is the usual consumer instead: each wrk thread sends DeleteMessage for every handle it received, "
        "so messages/s there = received and deleted, two requests each.",
        "- req/s counts 2xx responses only; server CPU is the server process's user+system time during the run / "
        "responses (lower is better; the esmd ÷ columns divide esmd's figure by the other's on every row). "
        "wrk runs on the same 2 cores as the server.",
    ]
    if "esmd" in results and "deliver10" in results["esmd"]:
        notes += [
            f"- Delivery: {args.records:,} messages pre-filled (not timed), then the mapping is created enabled "
            "(`--transition-delay-ms 0`) and the clock runs from the Create request until GetQueueAttributes "
            "(polled every 20 ms) shows no visible, in-flight or delayed message. Only successful "
            "invocations delete messages, so an empty queue means every record was delivered.",
            f"- Latency: {args.latency_messages} messages sent one at a time at {args.latency_rate:g}/s to a mapping "
            "with BatchSize 10 and window 0. The http row is the honest one: the function is a separate "
            "process (`bench/sqs_function.py`) that stamps the wall clock as soon as esmd's Invoke request "
            "has arrived and its headers are parsed; the sender stamps the same clock when SendMessage's "
            "response has been read. A negative figure means the function had the record before the sender "
            "had read its 200: esmd answers the poller's waiting long poll in the same commit as the "
            "SendMessage, and both replies race. The builtin:ok row uses the invocation log's `Time` (epoch ms, taken "
            "when esmd starts the invocation), so it is up to 1 ms low and has no function hop.",
        ]
    if "esmd (normal)" in results:
        r = results["esmd (normal)"]
        notes.append(
            f"- Reference, not a target: esmd with `--durability normal` (SQLite synchronous=NORMAL: survives kill -9, "
            f"not power loss): SendMessage {r['send']['ok_rps']:,.0f} req/s "
            f"({r['send']['cpu_us_per_req']:.0f} µs CPU/request, p50 {r['send']['p50']}), ReceiveMessage "
            f"{r['receive']['ok_rps']:,.0f} req/s ({r['receive']['cpu_us_per_req']:.0f} µs CPU/request); "
            f"{r['send']['non2xx'] + r['receive']['non2xx']} non-2xx.")
    notes.append(f"- The whole run took {secs:.0f} s.")
    return "\n".join(out + notes) + "\n"


if __name__ == "__main__":
    sys.exit(main())
