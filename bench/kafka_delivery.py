#!/usr/bin/python3
"""Kafka poller: records/s and produce → invoke latency through MSK mappings on esmd's own broker,
side by side with a plain confluent-kafka consumer group on the same broker, in one run.

  1. throughput: --records records of --record-bytes bytes are produced up front (confluent-kafka,
     linger.ms 20 and batches of 10,000: not timed) to a topic of --partitions partitions, round
     robin over the partitions; then an MSK mapping (esmd's own broker) to the no-op builtin:ok is
     created, BatchSize 100, MaximumBatchingWindowInSeconds 0, TRIM_HORIZON. The clock runs from
     the CreateEventSourceMapping answer until the mapping's group (its UUID) has committed the
     end offset of every partition (OffsetFetch through confluent-kafka's Consumer.committed(),
     every 20 ms). The same again on a second topic with BatchSize 10,000. The invocations are
     counted from esmd's invocation log (GET /_esmd/invocations, LastSeq) and must be at least
     ceil(records / BatchSize) (a batch takes records of any partitions); each mapping is deleted after its run.
  2. peer: a plain confluent-kafka consumer group reads a third topic of the same records from
     the same broker, consume() of up to 100 records at a time and an asynchronous commit after
     each (so every 100 records), at most --peer-commits-in-flight outstanding; the clock runs from creating the consumer until its final
     synchronous commit, and its committed offsets are checked against the end offsets. The
     poller's figures are given as a ratio of it: the rate a Kafka client reaches with no
     invocation at all.
  3. latency: a mapping with BatchSize 100 and window 0 to an Invoke-API function served by this
     process (one thread, Concurrency 1 in esmd); --latency-count records, after
     --latency-warmup unmeasured ones, are produced one at a time (linger.ms 0, acks=all), each
     carrying its send time, each sent after the previous one reached the function. p50/p99 of
     send → arrival at the function, and of send → the produce acknowledgement for scale.
  4. esmd's RSS after the run and its CPU seconds per 100,000 records delivered.

esmd runs with its durable defaults (file-backed SQLite in a fresh --data-dir, --durability full:
produces and offset commits are acknowledged after their fsync). Runs under Debian's
/usr/bin/python3 (confluent-kafka; no boto3 there: mappings are created over raw HTTP). The
servers bind 127.0.0.1; every process started here is stopped on exit. A record not delivered
(committed offsets short of the end, missing invocations, a latency record that never arrives)
makes the script exit 1.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import http.server
import json
import os
import resource
import socket
import sys
import threading
import time

import benchlib
from benchlib import (ESMD_ACCOUNT, MAPPINGS, Log, auth, describe_machine, fmt_kib, free_port, load_average, version,
                      wait_until_quiet, work_dir, yes)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLUSTER_ARN = f"arn:aws:kafka:us-east-1:{ESMD_ACCOUNT}:cluster/bench/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f-1"
THROUGHPUT_TARGET = 200_000
LATENCY_TARGET_MS = 10.0

failures: list[str] = []
PEER_EXTRA: dict = {}


class Esmd(benchlib.Esmd):
    """esmd with its Kafka listener on a free port."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kafka_port = free_port()
        while self.kafka_port == self.port:
            self.kafka_port = free_port()

    def argv(self) -> list[str]:
        return super().argv() + ["--kafka-port", str(self.kafka_port)]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid


def http_call(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = dict(auth("lambda"), **{"Content-Type": "application/json"})
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = c.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else {}
    finally:
        c.close()


def create_mapping(port: int, function: str, topic: str, batch_size: int, window_s: int | None) -> dict:
    body = {"FunctionName": function, "EventSourceArn": CLUSTER_ARN, "Topics": [topic],
            "StartingPosition": "TRIM_HORIZON", "BatchSize": batch_size}
    if window_s is not None:
        body["MaximumBatchingWindowInSeconds"] = window_s
    status, m = http_call(port, "POST", MAPPINGS, body)
    if status // 100 != 2:
        raise RuntimeError(f"CreateEventSourceMapping {status}: {m}")
    return m


def delete_mapping(port: int, uuid: str) -> None:
    status, m = http_call(port, "DELETE", f"{MAPPINGS}/{uuid}")
    if status // 100 != 2:
        failures.append(f"DeleteEventSourceMapping {uuid}: {status} {m}")


def last_invocation(port: int) -> int:
    status, r = http_call(port, "GET", "/_esmd/invocations?limit=1")
    if status != 200:
        raise RuntimeError(f"/_esmd/invocations: {status} {r}")
    return r["LastSeq"]


def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for name, f in admin.create_topics([NewTopic(n, partitions, 1) for n in names]).items():
        f.result(timeout=30)


def produce(bootstrap: str, topic: str, n: int, size: int, partitions: int) -> float:
    """n records of `size` bytes, round robin over the partitions, batched; returns the seconds."""
    from confluent_kafka import Producer
    errors: list[str] = []
    # Idempotent (so at most 5 requests in flight, and no duplicates): with librdkafka's default
    # of 1,000,000 in flight, esmd's broker (64 at most per connection) drops the connection and
    # the retried batches are stored twice.
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10000,
                  "enable.idempotence": True,
                  "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1 << 20})
    pad = b"x" * max(0, size - 12)

    def report(err, _msg):
        if err:
            errors.append(str(err))

    t0 = time.perf_counter()
    for i in range(n):
        while True:
            try:
                p.produce(topic, value=b"%012d" % i + pad, partition=i % partitions, on_delivery=report)
                break
            except BufferError:
                p.poll(0.01)
        if i % 10000 == 0:
            p.poll(0)
    left = p.flush(120)
    if left or errors:
        raise RuntimeError(f"{topic}: {left} records not acknowledged, {len(errors)} errors ({errors[:3]})")
    return time.perf_counter() - t0


def end_offsets(bootstrap: str, topic: str, partitions: int) -> list[int]:
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermarks"})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(partitions)]
    finally:
        c.close()


class CommitWatcher:
    """The committed offsets of a group (OffsetFetch), without joining it."""

    def __init__(self, bootstrap: str, group: str, topic: str, partitions: int):
        from confluent_kafka import Consumer, TopicPartition
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
        self.tps = [TopicPartition(topic, p) for p in range(partitions)]

    def offsets(self) -> list[int]:
        return [tp.offset for tp in self.c.committed(self.tps, timeout=10)]

    def close(self) -> None:
        self.c.close()


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def cpu_ticks(pid: int) -> int:
    return benchlib.cpu_ticks(pid)


def throughput(esmd: Esmd, topic: str, ends: list[int], batch_size: int, window_s: int | None, args, log) -> dict:
    n = sum(ends)
    hz = os.sysconf("SC_CLK_TCK")
    base = last_invocation(esmd.port)
    cpu0 = cpu_ticks(esmd.pid)
    t0 = time.perf_counter()
    m = create_mapping(esmd.port, "noop", topic, batch_size, window_s)
    t_created = time.perf_counter()
    watcher = CommitWatcher(esmd.bootstrap, m["UUID"], topic, len(ends))
    deadline = t0 + args.drain_timeout
    expected_invocations = -(-n // batch_size)
    committed = [-1] * len(ends)
    # Also followed: the invocation count, and when it last moved (to within the 20 ms poll),
    # so that delivery is timed even when the commits lag behind it.
    invocations, t_last_invocation = 0, t_created
    t_commits_moved = t_created
    try:
        while True:
            now_committed = watcher.offsets()
            now = time.perf_counter()
            if now_committed != committed:
                committed, t_commits_moved = now_committed, now
            if all(c >= e for c, e in zip(committed, ends)):
                break
            seq = last_invocation(esmd.port) - base
            if seq != invocations:
                invocations, t_last_invocation = seq, now
            # Everything invoked and nothing moving any more: the commits are stuck.
            if (invocations >= expected_invocations and now - t_last_invocation > args.stall
                    and now - t_commits_moved > args.stall):
                break
            if now > deadline:
                break
            time.sleep(0.02)
    finally:
        watcher.close()
    done = all(c >= e for c, e in zip(committed, ends))
    elapsed = time.perf_counter() - t_created
    cpu = (cpu_ticks(esmd.pid) - cpu0) / hz
    invocations = last_invocation(esmd.port) - base
    if invocations > 0 and t_last_invocation == t_created:
        t_last_invocation = time.perf_counter()
    invoked_s = t_last_invocation - t_created
    delivered = sum(max(0, min(c, e)) for c, e in zip(committed, ends))
    delete_mapping(esmd.port, m["UUID"])
    label = f"BatchSize {batch_size}"
    if delivered < n:
        failures.append(f"{label}: committed offsets {committed} short of the end offsets {ends} "
                        f"{elapsed:.1f} s after the mapping was created ({n - delivered:,} records)")
    if invocations < expected_invocations:
        failures.append(f"{label}: {invocations:,} invocations, at least {expected_invocations:,} expected")
    r = {"batch_size": batch_size, "records": n, "seconds": elapsed, "rate": n / elapsed if done else 0.0,
         "committed_all": done, "uncommitted": n - delivered, "invoked_s": invoked_s,
         "invoked_rate": n / invoked_s if invoked_s > 0 else 0.0, "cpu_s": cpu,
         "invocations": invocations, "expected_invocations": expected_invocations,
         "create_ms": (t_created - t0) * 1000, "uuid": m["UUID"]}
    log(f"poller {label}: " + (f"{n:,} records committed in {elapsed:.2f} s ({r['rate']:,.0f} records/s)" if done else
                               f"{n - delivered:,} records still not committed after {elapsed:.2f} s") +
        f"; the last invocation {invoked_s:.2f} s after the create ({r['invoked_rate']:,.0f} records/s), "
        f"{invocations:,} invocations (≥ {expected_invocations:,} expected, {n / max(1, invocations):,.0f} records "
        f"each), esmd CPU {cpu:.2f} s, create answered in {r['create_ms']:.0f} ms")
    return r


def peer(esmd: Esmd, topic: str, ends: list[int], args, log) -> dict:
    """A plain consumer group: consume() up to 100 records at a time, an asynchronous commit
    after each, with at most --peer-commits-in-flight commits outstanding."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    n = sum(ends)
    hz = os.sysconf("SC_CLK_TCK")
    group = f"peer-{os.getpid()}"
    outstanding = [0]
    commit_errors: list[str] = []

    def on_commit(err, _partitions):
        outstanding[0] -= 1
        if err and err.code() != KafkaError._NO_OFFSET:  # nothing new to commit
            commit_errors.append(str(err))

    cpu0 = cpu_ticks(esmd.pid)
    me0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    c = Consumer({"bootstrap.servers": esmd.bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "on_commit": on_commit, **PEER_EXTRA})
    seen = commits = deferred = 0
    uncommitted = False
    try:
        c.subscribe([topic])
        deadline = t0 + args.drain_timeout
        while seen < n and time.perf_counter() < deadline:
            msgs = c.consume(num_messages=100, timeout=0.1)
            for msg in msgs:
                if not msg.error():
                    seen += 1
                    uncommitted = True
            if uncommitted:
                # Commits are cumulative: one deferred while too many are in flight is covered
                # by the next one.
                if outstanding[0] < args.peer_commits_in_flight:
                    outstanding[0] += 1
                    c.commit(asynchronous=True)
                    commits += 1
                    uncommitted = False
                else:
                    deferred += 1
        if uncommitted:
            c.commit(asynchronous=False)
            commits += 1
        while outstanding[0] > 0 and time.perf_counter() < deadline:
            c.consume(num_messages=1, timeout=0.001)  # serves the commit callbacks; nothing is left to read
        elapsed = time.perf_counter() - t0
        committed = [tp.offset for tp in c.committed([TopicPartition(topic, p) for p in range(len(ends))], timeout=10)]
    finally:
        c.close()
    me1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_ticks(esmd.pid) - cpu0) / hz
    client_cpu = (me1.ru_utime - me0.ru_utime) + (me1.ru_stime - me0.ru_stime)
    if seen != n or committed != ends:
        failures.append(f"peer: read {seen:,} of {n:,} records; committed {committed}, end offsets {ends}")
    if commit_errors:
        failures.append(f"peer: {len(commit_errors)} commits failed ({commit_errors[:3]})")
    r = {"records": n, "seconds": elapsed, "rate": n / elapsed, "cpu_s": cpu, "client_cpu_s": client_cpu,
         "commits": commits, "deferred": deferred}
    log(f"peer consumer group: {seen:,} records read and committed in {elapsed:.2f} s ({r['rate']:,.0f} records/s), "
        f"{commits:,} commits ({deferred:,} deferred while {args.peer_commits_in_flight} were in flight), "
        f"esmd CPU {cpu:.2f} s, the client's CPU {client_cpu:.2f} s")
    return r


class LatencyFunction:
    """An Invoke-API function: stamps time.time_ns() when a request's headers are in, then notes
    each record's send time (the value is b"<index>:<send ns>")."""

    def __init__(self):
        self.cond = threading.Condition()
        self.arrived: dict[int, tuple[int, int]] = {}  # index -> (send ns, arrival ns)
        self.calls = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *a):
                pass

            def do_POST(self):
                t = time.time_ns()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                event = json.loads(body)
                got = []
                for records in event.get("records", {}).values():
                    for rec in records:
                        index, sent = base64.b64decode(rec["value"]).split(b":")
                        got.append((int(index), int(sent)))
                # One write: headers and body in separate segments would meet Nagle and the
                # delayed ACK (40 ms a call).
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
                with owner.cond:
                    owner.calls += 1
                    for index, sent in got:
                        owner.arrived.setdefault(index, (sent, t))
                    owner.cond.notify_all()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/2015-03-31/functions/lat/invocations"

    def wait(self, index: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while index not in self.arrived:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def close(self):
        self.httpd.shutdown()


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


def latency(esmd: Esmd, topic: str, args, log) -> dict:
    from confluent_kafka import Producer
    fn = LatencyFunction()
    try:
        status, r = http_call(esmd.port, "PUT", "/_esmd/functions/lat",
                              {"Target": fn.url, "Concurrency": 1, "Timeout": 30})
        if status != 200:
            raise RuntimeError(f"registering the latency function: {status} {r}")
        m = create_mapping(esmd.port, "lat", topic, 100, 0)
        p = Producer({"bootstrap.servers": esmd.bootstrap, "linger.ms": 0})
        to_invoke, to_ack, ack_to_invoke = [], [], []
        for i in range(args.latency_warmup + args.latency_count):
            acked: list[int] = []
            sent = time.time_ns()
            p.produce(topic, value=b"%d:%d" % (i, sent),
                      on_delivery=lambda err, _m: acked.append(time.time_ns() if not err else -1))
            # The first record also waits for the mapping's consumer to join its group.
            deadline = time.monotonic() + (60 if i == 0 else 30)
            while not acked and time.monotonic() < deadline:
                p.poll(0.0005)
            if not acked or acked[0] < 0:
                failures.append(f"latency: record {i} not acknowledged by the broker")
                break
            if not fn.wait(i, deadline - time.monotonic()):
                failures.append(f"latency: record {i} never reached the function")
                break
            if i >= args.latency_warmup:
                to_invoke.append((fn.arrived[i][1] - sent) / 1e6)
                to_ack.append((acked[0] - sent) / 1e6)
                ack_to_invoke.append((fn.arrived[i][1] - acked[0]) / 1e6)
        p.flush(10)
        delete_mapping(esmd.port, m["UUID"])
    finally:
        fn.close()
    if not to_invoke:
        return {"count": 0}
    out = {"count": len(to_invoke), "p50": pct(to_invoke, 0.5), "p99": pct(to_invoke, 0.99),
           "max": max(to_invoke), "ack_p50": pct(to_ack, 0.5), "ack_p99": pct(to_ack, 0.99), "calls": fn.calls,
           "after_ack_p50": pct(ack_to_invoke, 0.5), "after_ack_p99": pct(ack_to_invoke, 0.99)}
    log(f"latency: produce → invoke p50 {out['p50']:.2f} ms, p99 {out['p99']:.2f} ms, max {out['max']:.2f} ms over "
        f"{out['count']} records ({out['calls']} invocations); produce → ack p50 {out['ack_p50']:.2f} ms, "
        f"p99 {out['ack_p99']:.2f} ms; ack → invoke p50 {out['after_ack_p50']:.2f} ms, p99 {out['after_ack_p99']:.2f} ms")
    return out


def render(args, machine, versions, tput: list[dict], peer_r: dict, lat: dict, rss: dict, secs: float) -> str:
    n = args.records
    window = "0" if args.window is not None and args.window == 0 else (
        f"{args.window} s" if args.window is not None else "default (500 ms)")
    rows = []
    for r in tput:
        committed = (f"{r['rate']:,.0f}" if r["committed_all"] else
                     f"never: {r['uncommitted']:,} records uncommitted after {r['seconds']:.0f} s")
        rows.append([f"poller: records/s to the group's commits at the end offsets, MSK mapping → builtin:ok, "
                     f"BatchSize {r['batch_size']:,}, window {window}",
                     committed, f"{r['rate'] / peer_r['rate']:.2f}×" if r["committed_all"] else "—",
                     f"≥ {THROUGHPUT_TARGET:,}", yes(r["rate"] >= THROUGHPUT_TARGET)])
        rows.append([f"  … records/s to the last invocation (BatchSize {r['batch_size']:,})",
                     f"{r['invoked_rate']:,.0f}", f"{r['invoked_rate'] / peer_r['rate']:.2f}×", "", ""])
        rows.append([f"  … wall time to the commits / to the last invocation / invocations (≥ expected) / records "
                     f"per invocation",
                     f"{r['seconds']:.2f} s / {r['invoked_s']:.2f} s / {r['invocations']:,} "
                     f"(≥ {r['expected_invocations']:,}) / {n / max(1, r['invocations']):,.0f}", "", "", ""])
        rows.append([f"  … esmd CPU per 100,000 records", f"{r['cpu_s'] / n * 1e5:.3f} s", "", "", ""])
    rows.append([f"peer: plain confluent-kafka consumer group, an asynchronous commit after each consume() of ≤ 100 "
                 f"records (≤ {args.peer_commits_in_flight} in flight): records/s",
                 f"{peer_r['rate']:,.0f}", "1×", "", ""])
    rows.append(["  … wall time / commits / esmd CPU per 100,000 records / the client's CPU",
                 f"{peer_r['seconds']:.2f} s / {peer_r['commits']:,} / {peer_r['cpu_s'] / n * 1e5:.3f} s / "
                 f"{peer_r['client_cpu_s']:.2f} s", "", "", ""])
    if lat.get("count"):
        rows.append([f"latency produce → invoke, BatchSize 100, window 0: p50 / p99 / max of {lat['count']}",
                     f"{lat['p50']:.2f} / {lat['p99']:.2f} / {lat['max']:.2f} ms", "", f"p50 < {LATENCY_TARGET_MS:g} ms",
                     yes(lat["p50"] < LATENCY_TARGET_MS)])
        rows.append(["  … of which produce → ack (acks=all, fsync): p50 / p99",
                     f"{lat['ack_p50']:.2f} / {lat['ack_p99']:.2f} ms", "", "", ""])
        rows.append(["  … ack → invoke (the record read, batched and sent by the poller): p50 / p99",
                     f"{lat['after_ack_p50']:.2f} / {lat['after_ack_p99']:.2f} ms", "", "", ""])
    rows.append(["esmd RSS after the run / peak / after clearing its invocation log",
                 f"{fmt_kib(rss['after'])} / {fmt_kib(rss['peak'])} / {fmt_kib(rss['cleared'])}", "", "", ""])

    out = [
        "# Kafka poller: delivery through MSK mappings on esmd's broker",
        "",
        f"{machine['date']} · {machine['cores']} cores ({machine['cpu']}) · Linux {machine['kernel']} · "
        f"{versions['esmd']} ({machine['rev']}) · {versions['librdkafka']} · other processes used "
        f"{machine['busy_before']:.0%} of the CPUs just before the run; load average {machine['load_before']} before, "
        f"{machine['load_after']} after",
        "",
        f"{n:,} records of {args.record_bytes} bytes per topic, {args.partitions} partitions, round robin.",
        "",
        "| metric | esmd | ÷ peer | target | met |",
        "|---|---:|---:|---|---|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += [
        "",
        "Notes:",
        "",
        f"- esmd: file-backed SQLite in a fresh `--data-dir` on {machine['data_fs']} (fdatasync "
        f"{machine['fsync_ms']:.2f} ms), `--durability full`: produces and offset commits are acknowledged after "
        "their commit's fsync.",
        "- Poller: clock from the CreateEventSourceMapping answer until the group (the mapping's UUID) has "
        "committed every partition's end offset (OffsetFetch every 20 ms). It includes the consumer's group join.",
        "- Peer: clock from creating the consumer (group join included) to its final commit; "
        "`consume(num_messages=100)` and an asynchronous commit after each call, at most "
        f"{args.peer_commits_in_flight} in flight (a commit due meanwhile is left to the next call: commits are "
        "cumulative). esmd's broker drops a connection with more than 64 requests in flight.",
        "- RSS: esmd's invocation log (`/_esmd/invocations`) keeps the newest events, up to 10,000 and "
        "256 MB, so the run's own events are part of the first two figures; the third is after "
        "`DELETE /_esmd/invocations`.",
        "- Latency: each record carries its send time (`time.time_ns()` before `produce()`); the function, "
        "a thread of this script, stamps the same clock when a request's headers are in.",
        f"- Run time {secs:.0f} s.",
    ]
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(ROOT, "build-bench", "esmd"), help="esmd binary")
    ap.add_argument("--records", type=int, default=400_000, help="records per topic")
    ap.add_argument("--record-bytes", type=int, default=100)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--batch-sizes", default="100,10000", help="one throughput run per BatchSize")
    ap.add_argument("--window", type=int, default=0, metavar="S",
                    help="MaximumBatchingWindowInSeconds of the throughput mappings (-1: leave it out, the default "
                         "500 ms)")
    ap.add_argument("--peer-commits-in-flight", type=int, default=16, metavar="N",
                    help="the peer's asynchronous commits outstanding at most (esmd's broker closes a connection "
                         "with more than 64 requests in flight)")
    ap.add_argument("--latency-count", type=int, default=500)
    ap.add_argument("--latency-warmup", type=int, default=50)
    ap.add_argument("--drain-timeout", type=float, default=60, help="seconds a throughput run may take at most")
    ap.add_argument("--stall", type=float, default=5, metavar="S",
                    help="end a throughput run once every batch was invoked and neither the invocations nor the "
                         "committed offsets moved for S seconds (the commits are stuck)")
    ap.add_argument("--durability", default="full", choices=("full", "normal"))
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="wait up to S seconds for the CPUs to be mostly idle first")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "kafka_delivery.md"))
    args = ap.parse_args()
    if args.window is not None and args.window < 0:
        args.window = None
    args.esmd = os.path.abspath(args.esmd)
    if not os.access(args.esmd, os.X_OK):
        sys.exit(f"no esmd binary at {args.esmd} (bench/kafka_delivery.sh builds it)")
    import confluent_kafka

    log = Log()
    work = work_dir("esmd-bench-kafka-delivery-")
    busy = wait_until_quiet(args.wait_quiet, log)
    started = time.time()
    machine = describe_machine(work, busy, log)
    versions = {"esmd": version([args.esmd, "--version"]),
                "librdkafka": f"librdkafka {confluent_kafka.libversion()[0]}, "
                              f"confluent-kafka {confluent_kafka.version()[0]}"}
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b]
    esmd = Esmd(args.esmd, os.path.join(work, "data"), os.path.join(work, "esmd.log"), args.durability,
                functions=["noop=builtin:ok"])
    esmd.launch()
    try:
        topics = [f"tput-{b}" for b in batch_sizes] + ["peer", "latency"]
        create_topics(esmd.bootstrap, topics, args.partitions)
        ends = {}
        for t in topics[:-1]:
            secs = produce(esmd.bootstrap, t, args.records, args.record_bytes, args.partitions)
            ends[t] = end_offsets(esmd.bootstrap, t, args.partitions)
            if sum(ends[t]) != args.records:
                raise RuntimeError(f"{t}: end offsets {ends[t]} do not add up to {args.records:,}")
            log(f"produced {args.records:,} records to {t} in {secs:.1f} s (end offsets {ends[t]})")
        # The peer first and the poller after it, so that neither reads a topic the other just
        # warmed up more than its own: each topic is read once.
        peer_r = peer(esmd, "peer", ends["peer"], args, log)
        tput = [throughput(esmd, f"tput-{b}", ends[f"tput-{b}"], b, args.window, args, log) for b in batch_sizes]
        lat = latency(esmd, "latency", args, log)
        rss = {"after": esmd.rss(), "peak": status_kib(esmd.pid, "VmHWM")}
        # esmd's invocation log keeps the newest events (up to 10,000 of them and 256 MB) for
        # /_esmd/invocations: how much of the RSS that is.
        http_call(esmd.port, "DELETE", "/_esmd/invocations")
        time.sleep(0.5)
        rss["cleared"] = esmd.rss()
        log(f"esmd RSS after the run: {fmt_kib(rss['after'])} (peak {fmt_kib(rss['peak'])}); "
            f"{fmt_kib(rss['cleared'])} once the invocation log is cleared")
    except BaseException:
        with open(esmd.log_path, errors="replace") as f:
            print("the end of esmd's log:\n" + "".join(f.readlines()[-40:]), file=sys.stderr)
        raise
    finally:
        esmd.stop()
    machine["load_after"] = load_average()
    table = render(args, machine, versions, tput, peer_r, lat, rss, time.time() - started)
    runs = []
    if failures:
        with open(esmd.log_path, errors="replace") as f:
            warnings = [line for line in f if " info " not in line]
        runs.append(("esmd", "log (warnings and errors, the last 60)",
                     {"cmd": esmd.log_path, "raw": "".join(warnings[-60:]) or "(none)"}))
    benchlib.write_results(args.out, table, log, runs)
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
