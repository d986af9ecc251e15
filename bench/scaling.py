#!/usr/bin/env python3
"""How esmd's cost grows with the work: one table per dimension, a fresh esmd for each step.

  queues     1 / 100 / 10,000 SQS queues, each with a mapping to builtin:ok: setup time, RSS and
             CPU at rest, GetEventSourceMapping req/s (cycling through the mappings), records/s
             of a burst delivered through the mappings, SendMessage req/s (to random queues, the
             mappings delivering meanwhile)
  messages   0 / 100,000 / 1,000,000 messages of 1 KB queued in one queue (no mapping):
             fill rate (SendMessageBatch), RSS and CPU at rest at that depth, SendMessage req/s,
             and the consumer loop (ReceiveMessage of up to 10, DeleteMessageBatch) messages/s
  shards     one Kinesis stream of 1 / 64 / 500 shards (500 is esmd's account limit, as AWS's
             default): setup time, RSS and CPU at rest, records/s delivered through one Kinesis
             mapping (BatchSize 100) to builtin:ok, PutRecord req/s with random partition keys

Every step starts a fresh esmd with its durable defaults (file-backed SQLite in a temporary
--data-dir, --durability full), --transition-delay-ms 0, --kafka-port 0 (the broker on a free
port) and --function bench-fn=builtin:ok, bound to 127.0.0.1 on a free port; it is stopped and
its data dir removed after the step (and on exit or Ctrl-C).

Load comes from this script's own client (wrk is not needed): --procs processes sharing
--connections keep-alive connections, one request in flight on each, every status counted.
It runs on the same cores as esmd, as wrk would.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import multiprocessing
import os
import random
import selectors
import shutil
import signal
import socket
import sys
import time
import traceback

import benchlib
from benchlib import (MAPPINGS, Client, Log, auth, cpu_ticks, describe_machine, fmt_kib, load_average, rss_kib,
                      run_all, version)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FUNCTION = "bench-fn"
ACCOUNT = benchlib.ESMD_ACCOUNT
HZ = os.sysconf("SC_CLK_TCK")

SQS_HEADERS = {**auth("sqs"), "Content-Type": "application/x-amz-json-1.0"}
KINESIS_HEADERS = {**auth("kinesis"), "Content-Type": "application/x-amz-json-1.1"}
LAMBDA_HEADERS = {**auth("lambda"), "Content-Type": "application/json"}


# ---------------------------------------------------------------------------------------------
# The load generator: processes, each with a few keep-alive connections driven by one selector


class Job:
    """What one load process sends: next_request() gives (request bytes, tag) or None when a
    fixed amount of work is done; on_response(tag, status, body) sees every answer."""

    def __init__(self):
        self.counters: collections.Counter = collections.Counter()

    def next_request(self) -> tuple[bytes, object] | None:
        raise NotImplementedError

    def on_response(self, tag, status: int, body: bytes) -> None:
        pass


def http_request(port: int, method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _Conn:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.tag = None
        self.sent_at = 0.0

    def response(self) -> tuple[int, bytes] | None:
        """(status, body) once a whole response is buffered."""
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "transfer-encoding":
                raise RuntimeError("chunked response: not handled by this client")
        if len(self.buf) < end + 4 + length:
            return None
        body = bytes(self.buf[end + 4:end + 4 + length])
        del self.buf[:end + 4 + length]
        return int(lines[0].split()[1]), body


def _load_process(port, make_job, index, nprocs, nconns, start_at, stop_at, give_up_at, out):
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        job = make_job(index, nprocs)
        conns = [_Conn(port) for _ in range(nconns)]
        statuses: collections.Counter = collections.Counter()
        lat: list[float] = []
        sel = selectors.DefaultSelector()
        time.sleep(max(0.0, start_at - time.time()))
        t0 = time.perf_counter()

        def send(c: _Conn) -> bool:
            if time.time() >= stop_at:
                return False
            r = job.next_request()
            if r is None:
                return False
            c.tag = r[1]
            c.sent_at = time.perf_counter()
            c.sock.sendall(r[0])
            return True

        active = 0
        for c in conns:
            if send(c):
                sel.register(c.sock, selectors.EVENT_READ, c)
                active += 1
        while active:
            if time.time() > give_up_at:
                raise RuntimeError("load run did not finish in time")
            for key, _ in sel.select(timeout=1):
                c = key.data
                data = c.sock.recv(262144)
                if not data:
                    raise RuntimeError("esmd closed a connection")
                c.buf += data
                r = c.response()
                if r is None:
                    continue
                lat.append(time.perf_counter() - c.sent_at)
                statuses[r[0]] += 1
                job.on_response(c.tag, r[0], r[1])
                if not send(c):
                    sel.unregister(c.sock)
                    active -= 1
        elapsed = time.perf_counter() - t0
        for c in conns:
            c.sock.close()
        ru = os.times()
        out.put({"statuses": dict(statuses), "counters": dict(job.counters), "lat": lat, "elapsed": elapsed,
                 "cpu": ru.user + ru.system})
    except BaseException:
        out.put({"error": traceback.format_exc()})


def load(port: int, make_job, *, server_pid: int, connections: int, procs: int, duration: float | None = None,
         limit: float = 900) -> dict:
    """Runs make_job(index, nprocs) in `procs` forked processes over `connections` connections,
    for `duration` seconds or, without one, until every job's next_request() says None or `limit`
    seconds have passed (then no new request is sent; see the counters for what was done). Returns
    requests/s of 2xx answers, every status, the jobs' counters summed, latency p50/p99 and the
    CPU seconds of esmd and of the load processes."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 0.3  # every process connected first
    stop_at = start_at + (duration or limit)
    give_up_at = stop_at + 60
    shares = [connections // procs + (1 if i < connections % procs else 0) for i in range(procs)]
    ps = [ctx.Process(target=_load_process, daemon=True,
                      args=(port, make_job, i, procs, shares[i], start_at, stop_at, give_up_at, out))
          for i in range(procs) if shares[i]]
    cpu0 = cpu_ticks(server_pid)
    for p in ps:
        p.start()
    results = []
    try:
        for _ in ps:
            results.append(out.get(timeout=give_up_at - time.time() + 30))
    finally:
        for p in ps:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
    server_cpu = (cpu_ticks(server_pid) - cpu0) / HZ
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError("load process failed:\n" + errors[0])
    statuses: collections.Counter = collections.Counter()
    counters: collections.Counter = collections.Counter()
    lat: list[float] = []
    for r in results:
        statuses.update(r["statuses"])
        counters.update(r["counters"])
        lat += r["lat"]
    lat.sort()
    elapsed = max(r["elapsed"] for r in results)
    total = sum(statuses.values())
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    return {"elapsed": elapsed, "total": total, "ok": ok, "non2xx": total - ok, "ok_rps": ok / elapsed,
            "statuses": dict(statuses), "counters": counters, "server_cpu": server_cpu,
            "client_cpu": sum(r["cpu"] for r in results),
            "p50_ms": lat[len(lat) // 2] * 1000 if lat else 0.0,
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0}


def describe(w: dict, unit: str = "req/s", rate: float | None = None) -> str:
    rate = w["ok_rps"] if rate is None else rate
    s = (f"{rate:,.0f} {unit} ({w['ok']:,} 2xx in {w['elapsed']:.1f} s, p50 {w['p50_ms']:.1f} ms, "
         f"p99 {w['p99_ms']:.1f} ms; esmd CPU {w['server_cpu']:.1f} s, client CPU {w['client_cpu']:.1f} s)")
    if w["non2xx"]:
        s += f"; NON-2xx: {w['statuses']}"
    return s


# ---- the jobs (each runs in its own load process; `index` of `nprocs` picks its share)


class GetMappings(Job):
    def __init__(self, port: int, uuids: list[str], index: int, nprocs: int):
        super().__init__()
        mine = uuids[index::nprocs] or uuids
        random.Random(index).shuffle(mine)
        self.reqs = [http_request(port, "GET", f"{MAPPINGS}/{u}", b"", auth("lambda")) for u in mine]
        self.i = 0

    def next_request(self):
        self.i += 1
        return self.reqs[self.i % len(self.reqs)], None


class SendMessages(Job):
    """SendMessage to a random queue of `urls`, a unique body of `size` bytes each."""

    def __init__(self, port: int, urls: list[str], size: int, index: int):
        super().__init__()
        self.port, self.urls, self.size, self.index = port, urls, size, index
        self.rng = random.Random(index)
        self.n = 0
        self.headers = {**SQS_HEADERS, "X-Amz-Target": "AmazonSQS.SendMessage"}

    def next_request(self):
        self.n += 1
        body = f"{self.index}-{self.n}-".ljust(self.size, "x")
        doc = json.dumps({"QueueUrl": self.rng.choice(self.urls), "MessageBody": body}).encode()
        return http_request(self.port, "POST", "/", doc, self.headers), None


class SendBatches(Job):
    """A fixed set of SendMessageBatch requests: `plan` is a list of (queue URL, entries), this
    process takes every nprocs-th; counts the messages accepted and the entries refused."""

    def __init__(self, port: int, plan: list[tuple[str, int]], size: int, index: int, nprocs: int):
        super().__init__()
        self.port, self.size, self.index = port, size, index
        self.plan = plan[index::nprocs]
        self.i = 0
        self.headers = {**SQS_HEADERS, "X-Amz-Target": "AmazonSQS.SendMessageBatch"}

    def next_request(self):
        if self.i >= len(self.plan):
            return None
        url, n = self.plan[self.i]
        self.i += 1
        entries = [{"Id": f"m{k}", "MessageBody": f"{self.index}-{self.i}-{k}-".ljust(self.size, "x")}
                   for k in range(n)]
        doc = json.dumps({"QueueUrl": url, "Entries": entries}).encode()
        return http_request(self.port, "POST", "/", doc, self.headers), n

    def on_response(self, n, status, body):
        if 200 <= status < 300:
            failed = len(json.loads(body).get("Failed", []))
            self.counters["failed"] += failed
            self.counters["msgs"] += n - failed


class Consume(Job):
    """A consumer's loop on one queue: ReceiveMessage (up to 10, no wait), then DeleteMessageBatch
    of what it got, from whichever connection is free next; stops once a receive finds the queue
    empty, so that a shallow queue's rate is not diluted by empty receives."""

    def __init__(self, port: int, url: str):
        super().__init__()
        self.port, self.url = port, url
        self.handles: list[str] = []
        self.receive = http_request(port, "POST", "/", json.dumps(
            {"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0}).encode(),
            {**SQS_HEADERS, "X-Amz-Target": "AmazonSQS.ReceiveMessage"})
        self.delete_headers = {**SQS_HEADERS, "X-Amz-Target": "AmazonSQS.DeleteMessageBatch"}

    def next_request(self):
        if not self.handles:
            if self.counters["empty"]:
                return None  # the queue ran dry: the run ends when the last connection sees it
            self.counters["receives"] += 1
            return self.receive, "receive"
        batch, self.handles = self.handles[:10], self.handles[10:]
        doc = json.dumps({"QueueUrl": self.url, "Entries": [
            {"Id": f"d{k}", "ReceiptHandle": h} for k, h in enumerate(batch)]}).encode()
        self.counters["deletes"] += 1
        return http_request(self.port, "POST", "/", doc, self.delete_headers), "delete"

    def on_response(self, tag, status, body):
        if not 200 <= status < 300:
            return
        d = json.loads(body)
        if tag == "receive":
            got = [m["ReceiptHandle"] for m in d.get("Messages", [])]
            self.counters["received"] += len(got)
            if not got:
                self.counters["empty"] += 1
            self.handles += got
        else:
            self.counters["deleted"] += len(d.get("Successful", []))
            self.counters["failed"] += len(d.get("Failed", []))


class PutRecord(Job):
    def __init__(self, port: int, stream: str, size: int, index: int):
        super().__init__()
        self.port, self.stream = port, stream
        self.data = base64.b64encode(b"d" * size).decode()
        self.rng = random.Random(index * 7919 + 1)
        self.headers = {**KINESIS_HEADERS, "X-Amz-Target": "Kinesis_20131202.PutRecord"}

    def next_request(self):
        doc = json.dumps({"StreamName": self.stream, "Data": self.data,
                          "PartitionKey": f"{self.rng.getrandbits(64):016x}"}).encode()
        return http_request(self.port, "POST", "/", doc, self.headers), None


class PutRecords(Job):
    """A fixed number of records, 500 a request, random partition keys; counts them per shard."""

    def __init__(self, port: int, stream: str, size: int, records: int, index: int, nprocs: int):
        super().__init__()
        self.port, self.stream = port, stream
        self.data = base64.b64encode(b"d" * size).decode()
        self.rng = random.Random(index * 104729 + 3)
        self.chunks = [min(500, records - s) for s in range(0, records, 500)][index::nprocs]
        self.headers = {**KINESIS_HEADERS, "X-Amz-Target": "Kinesis_20131202.PutRecords"}

    def next_request(self):
        if not self.chunks:
            return None
        n = self.chunks.pop()
        doc = json.dumps({"StreamName": self.stream, "Records": [
            {"Data": self.data, "PartitionKey": f"{self.rng.getrandbits(64):016x}"} for _ in range(n)]}).encode()
        return http_request(self.port, "POST", "/", doc, self.headers), n

    def on_response(self, n, status, body):
        if 200 <= status < 300:
            d = json.loads(body)
            self.counters["failed"] += d.get("FailedRecordCount", 0)
            for r in d["Records"]:
                if "ShardId" in r:
                    self.counters["shard:" + r["ShardId"]] += 1


# ---------------------------------------------------------------------------------------------
# esmd and the control-plane calls a step needs


class Esmd(benchlib.Esmd):
    poll_s = 0.002

    def argv(self) -> list[str]:
        return super().argv() + ["--kafka-port", "0"]


def expect(status: int, body: bytes, what: str) -> bytes:
    if not 200 <= status < 300:
        raise RuntimeError(f"{what}: HTTP {status}: {body[:300]!r}")
    return body


def call(client: Client, target: str, doc: dict, what: str = "") -> dict:
    """An SQS (AmazonSQS.X) or Kinesis (Kinesis_20131202.X) JSON call."""
    headers = {**(SQS_HEADERS if target.startswith("AmazonSQS") else KINESIS_HEADERS), "X-Amz-Target": target}
    body = expect(*client.call("POST", "/", json.dumps(doc), headers), what or target)
    return json.loads(body) if body else {}


def get_json(client: Client, path: str) -> dict:
    return json.loads(expect(*client.call("GET", path, None, {}), path))


def rest_cpu(pid: int, seconds: float) -> float:
    """esmd's CPU over `seconds` with no request: the share of one core."""
    t0 = cpu_ticks(pid)
    time.sleep(seconds)
    return (cpu_ticks(pid) - t0) / HZ / seconds


def clear_invocations(s: "Step") -> int:
    """Empties esmd's invocation log (it keeps the newest 10,000 events, records included) and
    returns the RSS a moment later: what the log held, as far as the allocator gives it back."""
    expect(*s.client.call("DELETE", "/_esmd/invocations", None, {}), "DELETE /_esmd/invocations")
    time.sleep(0.5)
    return s.rss()


def du_mib(path: str) -> float:
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(d, f)).st_blocks * 512
            except OSError:
                pass
    return total / 1048576


class Step:
    """One fresh esmd in its own data dir; the dir is removed when the step ends."""

    def __init__(self, args, work: str, tag: str):
        self.dir = os.path.join(work, tag)
        os.makedirs(self.dir)
        self.esmd = Esmd(args.esmd, os.path.join(self.dir, "data"), os.path.join(work, f"{tag}.log"),
                         functions=[f"{FUNCTION}=builtin:ok"])

    def __enter__(self):
        self.esmd.launch()
        self.pid = self.esmd.proc.pid
        self.client = Client(self.esmd.port)
        return self

    def __exit__(self, *exc):
        self.esmd.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def rss(self) -> int:
        return rss_kib(self.pid)


# ---------------------------------------------------------------------------------------------
# Step 1: queues and mappings


def create_queues_and_mappings(s: Step, n: int, workers: int) -> tuple[list[str], list[str], float, float]:
    urls: list[str | None] = [None] * n
    uuids: list[str | None] = [None] * n

    def queue(i: int) -> None:
        urls[i] = call(s.client, "AmazonSQS.CreateQueue", {"QueueName": f"bench-q{i}"})["QueueUrl"]

    def mapping(i: int) -> None:
        doc = {"FunctionName": FUNCTION, "EventSourceArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:bench-q{i}"}
        body = expect(*s.client.call("POST", MAPPINGS, json.dumps(doc), LAMBDA_HEADERS), f"CreateESM #{i}")
        uuids[i] = json.loads(body)["UUID"]

    q_secs = run_all(workers, queue, range(n))
    m_secs = run_all(workers, mapping, range(n))
    return [u for u in urls if u], [u for u in uuids if u], q_secs, m_secs


def count_delivered(s: Step, since: int, target: int, deadline_s: float) -> tuple[int, int, int]:
    """Follows the invocation log from `since` until its events hold `target` records (or the
    deadline): returns (records, invocations, failed invocations)."""
    records = invocations = failed = 0
    deadline = time.perf_counter() + deadline_s
    while records < target and time.perf_counter() < deadline:
        page = get_json(s.client, f"/_esmd/invocations?function={FUNCTION}&since={since}&limit=1000")
        for inv in page["Invocations"]:
            invocations += 1
            records += len(inv["Event"].get("Records", []))
            if inv["Outcome"] != "Success":
                failed += 1
            since = inv["Seq"]
        if len(page["Invocations"]) < 1000:
            time.sleep(0.05)
    return records, invocations, failed


def queues_step(n: int, args, work: str, log: Log) -> dict:
    r: dict = {"n": n}
    with Step(args, work, f"queues-{n}") as s:
        t0 = time.perf_counter()
        urls, uuids, r["queue_secs"], r["mapping_secs"] = create_queues_and_mappings(s, n, args.workers)
        r["setup"] = time.perf_counter() - t0
        time.sleep(1)
        r["rss"] = s.rss()
        r["cpu"] = rest_cpu(s.pid, args.idle_window)
        log(f"queues {n:,}: {n:,} queues in {r['queue_secs']:.1f} s, {n:,} mappings in {r['mapping_secs']:.1f} s; "
            f"RSS {fmt_kib(r['rss'])}; CPU at rest {r['cpu']:.1%} of a core")

        r["get"] = load(s.esmd.port, lambda i, k: GetMappings(s.esmd.port, uuids, i, k), server_pid=s.pid,
                        connections=args.connections, procs=args.procs, duration=args.duration)
        log(f"queues {n:,}: GetEventSourceMapping {describe(r['get'])}")

        # A burst: `burst` messages spread evenly over the queues (SendMessageBatch of up to
        # 10), timed from the first send until the function has had every one of them.
        burst = max(args.burst, n)
        per_queue = [burst // n + (1 if i < burst % n else 0) for i in range(n)]
        plan = [(urls[i], min(10, per_queue[i] - k)) for i in range(n) for k in range(0, per_queue[i], 10)]
        since = get_json(s.client, "/_esmd/invocations?limit=1")["LastSeq"]
        t0 = time.perf_counter()
        fill = load(s.esmd.port, lambda i, k: SendBatches(s.esmd.port, plan, 64, i, k), server_pid=s.pid,
                    connections=args.connections, procs=args.procs)
        sent = fill["counters"]["msgs"]
        got, invocations, failed = count_delivered(s, since, sent, args.drain_timeout)
        r["burst_secs"] = time.perf_counter() - t0
        r["burst"] = {"sent": sent, "send_secs": fill["elapsed"], "delivered": got, "invocations": invocations,
                      "failed": failed, "rate": got / r["burst_secs"], "complete": got >= sent and not failed}
        log(f"queues {n:,}: burst of {sent:,} messages (sent in {fill['elapsed']:.1f} s): {got:,} records delivered "
            f"in {invocations:,} invocations ({failed} failed) {r['burst_secs']:.1f} s after the first send: "
            f"{r['burst']['rate']:,.0f} records/s")

        r["send"] = load(s.esmd.port, lambda i, k: SendMessages(s.esmd.port, urls, 64, i), server_pid=s.pid,
                         connections=args.connections, procs=args.procs, duration=args.duration)
        log(f"queues {n:,}: SendMessage {describe(r['send'])}")
        time.sleep(1)
        r["rss_after"] = s.rss()
        r["rss_cleared"] = clear_invocations(s)
        log(f"queues {n:,}: RSS at the end {fmt_kib(r['rss_after'])}, after clearing the invocation log "
            f"{fmt_kib(r['rss_cleared'])}")
    return r


# ---------------------------------------------------------------------------------------------
# Step 2: messages queued in one queue


def messages_step(n: int, args, work: str, log: Log) -> dict:
    r: dict = {"n": n}
    with Step(args, work, f"messages-{n}") as s:
        url = call(s.client, "AmazonSQS.CreateQueue", {"QueueName": "depth"})["QueueUrl"]
        r["rss_empty"] = s.rss()
        r["fill"] = None
        depth = 0
        if n:
            plan = [(url, min(10, n - k)) for k in range(0, n, 10)]
            log(f"messages {n:,}: filling ({len(plan):,} SendMessageBatch requests of 10 x {args.message_bytes} B)")
            f = r["fill"] = load(s.esmd.port, lambda i, k: SendBatches(s.esmd.port, plan, args.message_bytes, i, k),
                                 server_pid=s.pid, connections=args.connections, procs=args.procs,
                                 limit=args.fill_timeout)
            depth = f["counters"]["msgs"]
            log(f"messages {n:,}: {depth:,} queued in {f['elapsed']:.1f} s: "
                f"{describe(f, 'messages/s', depth / f['elapsed'])}")
        time.sleep(1)
        r["depth"] = depth
        r["rss"] = s.rss()
        r["cpu"] = rest_cpu(s.pid, args.idle_window)
        r["disk_mib"] = du_mib(s.esmd.data_dir)
        log(f"messages {n:,}: RSS {fmt_kib(r['rss'])} (empty queue: {fmt_kib(r['rss_empty'])}); CPU at rest "
            f"{r['cpu']:.1%} of a core; data dir {r['disk_mib']:,.0f} MiB")

        r["send"] = load(s.esmd.port, lambda i, k: SendMessages(s.esmd.port, [url], args.message_bytes, i),
                         server_pid=s.pid, connections=args.connections, procs=args.procs, duration=args.duration)
        log(f"messages {n:,}: SendMessage {describe(r['send'])}")
        r["consume_depth"] = depth + r["send"]["ok"]
        c = r["consume"] = load(s.esmd.port, lambda i, k: Consume(s.esmd.port, url), server_pid=s.pid,
                                connections=args.connections, procs=args.procs, duration=args.duration)
        r["consume_rate"] = c["counters"]["deleted"] / c["elapsed"]
        log(f"messages {n:,}: consumer loop from {r['consume_depth']:,} queued: "
            f"{describe(c, 'messages deleted/s', r['consume_rate'])}; {c['counters']['received']:,} received, "
            f"{c['counters']['deleted']:,} deleted, {c['counters']['empty']:,} empty receives")
        r["rss_after"] = s.rss()
    return r


# ---------------------------------------------------------------------------------------------
# Step 3: shards


def shards_step(n: int, args, work: str, log: Log) -> dict:
    r: dict = {"n": n}
    stream = "scaling"
    with Step(args, work, f"shards-{n}") as s:
        t0 = time.perf_counter()
        call(s.client, "Kinesis_20131202.CreateStream", {"StreamName": stream, "ShardCount": n})
        while True:
            d = call(s.client, "Kinesis_20131202.DescribeStreamSummary", {"StreamName": stream})
            if d["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                arn = d["StreamDescriptionSummary"]["StreamARN"]
                break
            if time.perf_counter() - t0 > 60:
                raise RuntimeError("stream not ACTIVE after 60 s")
            time.sleep(0.01)
        r["setup"] = time.perf_counter() - t0
        time.sleep(1)
        r["rss"] = s.rss()
        r["cpu"] = rest_cpu(s.pid, args.idle_window)
        log(f"shards {n}: stream ACTIVE in {r['setup'] * 1000:.0f} ms; RSS {fmt_kib(r['rss'])}; CPU at rest "
            f"{r['cpu']:.1%} of a core")

        # Delivery: the records first, then the mapping (TRIM_HORIZON); the clock runs from its
        # Create until the invocation log holds ceil(records of the shard / BatchSize)
        # invocations for every shard.
        f = load(s.esmd.port, lambda i, k: PutRecords(s.esmd.port, stream, args.record_bytes, args.records, i, k),
                 server_pid=s.pid, connections=args.connections, procs=args.procs, limit=args.fill_timeout)
        per_shard = {k[6:]: v for k, v in f["counters"].items() if k.startswith("shard:")}
        put = sum(per_shard.values())
        if f["non2xx"] or f["counters"]["failed"] or put != args.records:
            raise RuntimeError(f"PutRecords: {put} of {args.records} records, statuses {f['statuses']}")
        log(f"shards {n}: {put:,} records put over {len(per_shard)} shards in {f['elapsed']:.1f} s "
            f"({put / f['elapsed']:,.0f} records/s with PutRecords of 500)")
        r["rss_put"] = s.rss()
        log(f"shards {n}: RSS with the records in the stream {fmt_kib(r['rss_put'])}")
        expected = sum(-(-v // args.batch_size) for v in per_shard.values())
        base = get_json(s.client, "/_esmd/invocations?limit=1")["LastSeq"]
        t0 = time.perf_counter()
        m = json.loads(expect(*s.client.call("POST", MAPPINGS, json.dumps({
            "FunctionName": FUNCTION, "EventSourceArn": arn, "StartingPosition": "TRIM_HORIZON",
            "BatchSize": args.batch_size}), LAMBDA_HEADERS), "CreateEventSourceMapping"))
        deadline = t0 + args.drain_timeout
        last = base
        while last - base < expected and time.perf_counter() < deadline:
            time.sleep(0.02)
            last = get_json(s.client, "/_esmd/invocations?limit=1")["LastSeq"]
        secs = time.perf_counter() - t0
        done = last - base >= expected
        r["delivery"] = {"records": put, "invocations": last - base, "expected": expected, "secs": secs,
                         "rate": put / secs if done else 0.0, "complete": done}
        log(f"shards {n}: delivery: {last - base:,} of {expected:,} invocations in {secs:.2f} s"
            + (f": {put / secs:,.0f} records/s" if done else ": INCOMPLETE"))
        r["rss_delivered"] = s.rss()
        r["rss_cleared"] = clear_invocations(s)
        expect(*s.client.call("DELETE", f"{MAPPINGS}/{m['UUID']}", None, auth("lambda")), "DeleteEventSourceMapping")
        time.sleep(0.5)

        r["put"] = load(s.esmd.port, lambda i, k: PutRecord(s.esmd.port, stream, args.record_bytes, i),
                        server_pid=s.pid, connections=args.connections, procs=args.procs, duration=args.duration)
        log(f"shards {n}: PutRecord {describe(r['put'])}")
        r["rss_after"] = s.rss()
        log(f"shards {n}: RSS after the delivery {fmt_kib(r['rss_delivered'])}, after clearing the invocation log "
            f"{fmt_kib(r['rss_cleared'])}, at the end {fmt_kib(r['rss_after'])}")
    return r


# ---------------------------------------------------------------------------------------------
# The tables


def mib(k: int) -> str:
    return f"{k / 1024:,.1f}"


def rate(w: dict | None, value: float | None = None, per: int | None = None) -> str:
    """The rate, then esmd's CPU per request (or per `per` items) in µs."""
    if w is None:
        return "—"
    s = f"{(w['ok_rps'] if value is None else value):,.0f}"
    n = w["total"] if per is None else per
    if n:
        s += f" · {w['server_cpu'] / n * 1e6:,.0f} µs"
    return s + (f" ({w['non2xx']:,} non-2xx)" if w["non2xx"] else "")


def render(args, machine: dict, results: dict, secs: float, esmd_version: str) -> str:
    out = [
        "# esmd: how cost grows with the work",
        "",
        f"{machine['date']} · {machine['cores']} cores ({machine['cpu']}) · Linux {machine['kernel']} · "
        f"{esmd_version} ({args.esmd}) · bench rev {machine['rev']} · data dir on {machine['data_fs']}, fdatasync "
        f"{machine['fsync_ms']:.2f} ms · load average {machine['load_before']} before, {machine['load_after']} after "
        f"· whole run {secs / 60:.1f} min" + (" · `--quick`" if args.quick else ""),
        "",
        f"Each step is a fresh esmd (`--durability full`, file-backed SQLite). RSS is `VmRSS` in MiB; CPU at rest "
        f"is esmd's share of one core over {args.idle_window:g} s with no request; rates are 2xx answers over "
        f"{args.duration:g} s from {args.connections} keep-alive connections ({args.procs} client processes on the "
        "same cores). A rate is followed by esmd's CPU time per request (per message or record where the rate "
        "counts those), which depends less on what else the machine is doing.",
    ]
    if "queues" in results:
        out += ["", "## Queues and mappings (one SQS queue and one mapping to `builtin:ok` each)", "",
                "| queues + mappings | setup: queues / mappings | RSS idle | CPU at rest | GetEventSourceMapping req/s "
                "| burst delivered: records/s (records, invocations) | SendMessage req/s | RSS at the end / log cleared |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["queues"]:
            b = r["burst"]
            burst = f"{b['rate']:,.0f} ({b['delivered']:,}, {b['invocations']:,})"
            if not b["complete"]:
                burst += f" **incomplete: {b['delivered']:,} of {b['sent']:,}**"
            out.append(f"| {r['n']:,} | {r['queue_secs']:.2f} s / {r['mapping_secs']:.2f} s | {mib(r['rss'])} | "
                       f"{r['cpu']:.1%} | {rate(r['get'])} | {burst} | {rate(r['send'])} | {mib(r['rss_after'])} / "
                       f"{mib(r['rss_cleared'])} |")
        out += ["", f"Burst: max({args.burst:,}, N) messages of 64 B spread evenly over the N queues (SendMessageBatch "
                f"from {args.connections} connections), timed from the first send until the invocation log holds "
                "them all (BatchSize 10, no batching window). SendMessage: 64-byte bodies to random queues, "
                "while the mappings deliver them. *log cleared*: RSS after `DELETE /_esmd/invocations` (the log keeps the "
                "newest 10,000 invocations with their events)."]
    if "messages" in results:
        out += ["", f"## Messages queued (one queue, {args.message_bytes}-byte bodies, no mapping)", "",
                "| messages queued | fill: messages/s (SendMessageBatch) | RSS idle | CPU at rest | data dir | "
                "SendMessage req/s | consumer loop: messages/s | RSS at the end |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["messages"]:
            f = r["fill"]
            fill = "—" if f is None else f"{rate(f, r['depth'] / f['elapsed'], r['depth'])} ({f['elapsed']:.0f} s)"
            depth = f"{r['depth']:,}" + ("" if r["depth"] == r["n"] else f" of {r['n']:,}")
            out.append(f"| {depth} | {fill} | {mib(r['rss'])} | {r['cpu']:.1%} | {r['disk_mib']:,.0f} MiB | "
                       f"{rate(r['send'])} | {rate(r['consume'], r['consume_rate'], r['consume']['counters']['deleted'])}"
                       f"{' (drained)' if r['consume']['counters']['empty'] else ''} | {mib(r['rss_after'])} |")
        out += ["", "Consumer loop: ReceiveMessage (up to 10, WaitTimeSeconds 0) then DeleteMessageBatch of the "
                "handles; messages deleted per second, run after the SendMessage run (so the 0 step consumes what "
                "that run sent). *drained*: the queue ran dry before the run's end, which then ends it."]
    if "shards" in results:
        out += ["", "## Shards (one Kinesis stream)", "",
                "| shards | CreateStream → ACTIVE | RSS idle | CPU at rest | delivered: records/s (invocations) | "
                "RSS with the records / after their delivery / log cleared | PutRecord req/s | RSS at the end |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["shards"]:
            d = r["delivery"]
            dl = (f"{d['rate']:,.0f} ({d['invocations']:,})" if d["complete"]
                  else f"**incomplete: {d['invocations']:,} of {d['expected']:,} invocations**")
            out.append(f"| {r['n']} | {r['setup'] * 1000:,.0f} ms | {mib(r['rss'])} | {r['cpu']:.1%} | {dl} | "
                       f"{mib(r['rss_put'])} / {mib(r['rss_delivered'])} / {mib(r['rss_cleared'])} | {rate(r['put'])} | "
                       f"{mib(r['rss_after'])} |")
        out += ["", f"Delivery: {args.records:,} records of {args.record_bytes} B put first (PutRecords of 500, random "
                f"partition keys), then one mapping (TRIM_HORIZON, BatchSize {args.batch_size}) to `builtin:ok`; "
                "timed from its Create until the invocation log holds ceil(records of the shard / BatchSize) "
                "invocations for every shard. The mapping is deleted before the PutRecord run (random partition "
                f"keys, {args.record_bytes}-byte records)."]
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(ROOT, "build-bench", "esmd"), help="esmd binary")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes for a smoke run: 1/100 queues, 0/10,000 messages, 1/16 shards")
    ap.add_argument("--only", choices=("queues", "messages", "shards"), action="append",
                    help="run only this dimension (repeatable)")
    ap.add_argument("--queues", help="comma-separated step sizes (default 1,100,10000)")
    ap.add_argument("--messages", help="comma-separated step sizes (default 0,100000,1000000)")
    ap.add_argument("--shards", help="comma-separated step sizes (default 1,64,500)")
    ap.add_argument("--duration", type=float, default=5, help="seconds per throughput run")
    ap.add_argument("--idle-window", type=float, default=5, help="seconds over which CPU at rest is measured")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--procs", type=int, default=2, help="client processes sharing the connections")
    ap.add_argument("--workers", type=int, default=8, help="concurrent creators of queues and mappings")
    ap.add_argument("--burst", type=int, default=10000, help="messages of the queue step's delivery burst (at least N)")
    ap.add_argument("--message-bytes", type=int, default=1024)
    ap.add_argument("--records", type=int, default=100000, help="records of the shard step's delivery")
    ap.add_argument("--record-bytes", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--fill-timeout", type=float, default=300,
                    help="seconds after which a fill stops sending (the messages step then reports the depth reached)")
    ap.add_argument("--drain-timeout", type=float, default=120, help="seconds a delivery may take")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "scaling.md"))
    args = ap.parse_args()
    args.esmd = os.path.abspath(args.esmd)
    if not os.access(args.esmd, os.X_OK):
        sys.exit(f"no esmd binary at {args.esmd} (bench/scaling.sh builds it)")

    def sizes(given: str | None, full: list[int], quick: list[int]) -> list[int]:
        return [int(x) for x in given.split(",")] if given else (quick if args.quick else full)

    plan = {"queues": sizes(args.queues, [1, 100, 10000], [1, 100]),
            "messages": sizes(args.messages, [0, 100000, 1000000], [0, 10000]),
            "shards": sizes(args.shards, [1, 64, 500], [1, 16])}
    if args.quick and args.records == 100000:
        args.records = 10000
    steps = {"queues": queues_step, "messages": messages_step, "shards": shards_step}

    log = Log()
    work = benchlib.work_dir("esmd-scaling-")
    machine = describe_machine(work, benchlib.cpu_busy(1.0), log)
    esmd_version = version([args.esmd, "--version"])
    log(f"{esmd_version} at {args.esmd}; load average {machine['load_before']}")
    started = time.time()
    results: dict[str, list[dict]] = {}
    for dim in args.only or ("queues", "messages", "shards"):
        for n in plan[dim]:
            log(f"== {dim} {n:,} (load average {load_average()}, {time.time() - started:.0f} s into the run)")
            t0 = time.time()
            results.setdefault(dim, []).append(steps[dim](n, args, work, log))
            log(f"== {dim} {n:,}: {time.time() - t0:.0f} s")
    machine["load_after"] = load_average()
    table = render(args, machine, results, time.time() - started, esmd_version)
    print()
    print(table)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(table + "\n## Log\n\n```\n" + "\n".join(log.lines) + "\n```\n")
    print(f"written to {os.path.relpath(args.out)}")
    bad = [r for r in results.get("queues", []) if not r["burst"]["complete"]]
    bad += [r for r in results.get("shards", []) if not r["delivery"]["complete"]]
    for dim in results.values():
        for r in dim:
            for k in ("get", "send", "consume", "put", "fill"):
                if r.get(k) and r[k]["non2xx"]:
                    bad.append(r)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
