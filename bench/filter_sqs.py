#!/usr/bin/env python3
"""Delivery rate of an SQS mapping whose FilterCriteria drops 90% of the messages.

--records messages (default 100,000) are pre-filled with SendMessageBatch: small JSON bodies of
which every tenth has "keep": true. Then a mapping to the no-op function builtin:ok is created
with FilterCriteria {"body": {"keep": [true]}} (BatchSize --batch-size, window 0), and the clock
runs until the queue holds no message at all (GetQueueAttributes every 20 ms): the matching
messages were delivered and deleted after their invocation, the others deleted by the filter.
The invocation log is read while it drains (`since` cursor) to check that exactly the matching
messages reached the function and no invocation carried a non-matching one.

For comparison the same run without a filter (every message delivered) follows, on a fresh
esmd. Each run is reported as messages/s drained (all of the queue) and matching records/s
delivered, with esmd's CPU time per message.

esmd runs with its durable defaults (--durability full) unless --durability says otherwise.
Everything binds 127.0.0.1; every process started here is stopped on exit. Any undelivered
matching message, delivered non-matching message or failed invocation makes it exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

import benchlib
from benchlib import (ESMD_ACCOUNT, MAPPINGS, Client, Log, auth, cpu_ticks, describe_machine, machine_busy_ticks,
                      run_all, version, wait_until_quiet, work_dir)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NOOP = "noop"
PATTERN = {"body": {"keep": [True]}}

failures: list[str] = []


class Api:
    def __init__(self, port: int):
        self.client = Client(port)

    def sqs(self, op: str, payload: dict) -> dict:
        headers = {**auth("sqs"), "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{op}"}
        status, body = self.client.call("POST", "/", json.dumps(payload), headers)
        if not 200 <= status < 300:
            raise RuntimeError(f"{op}: HTTP {status}: {body[:300]!r}")
        return json.loads(body) if body else {}

    def lam(self, method: str, path: str, body: dict | None = None) -> dict:
        status, resp = self.client.call(method, path, json.dumps(body) if body is not None else None,
                                        {**auth("lambda"), "Content-Type": "application/json"})
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {resp[:300]!r}")
        return json.loads(resp) if resp else {}

    def depth(self, url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        a = self.sqs("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": names})["Attributes"]
        return sum(int(a.get(k, 0)) for k in names)


def body(i: int, match_every: int) -> str:
    return json.dumps({"n": i, "keep": i % match_every == 0, "kind": "order", "pad": "x" * 40})


def fill(api: Api, url: str, n: int, match_every: int, workers: int) -> float:
    batches = [(i, min(10, n - i)) for i in range(0, n, 10)]

    def send(b: tuple[int, int]) -> None:
        start, count = b
        entries = [{"Id": f"m{j}", "MessageBody": body(start + j, match_every)} for j in range(count)]
        out = api.sqs("SendMessageBatch", {"QueueUrl": url, "Entries": entries})
        if out.get("Failed"):
            raise RuntimeError(f"SendMessageBatch failed entries: {out['Failed'][:3]}")

    return run_all(workers, send, batches)


class LogReader(threading.Thread):
    """Follows esmd's invocation log with a `since` cursor; counts records and checks them."""

    def __init__(self, port: int, uuid: str, since: int, filtered: bool):
        super().__init__(daemon=True)
        self.api = Api(port)
        self.uuid, self.since, self.filtered = uuid, since, filtered
        self.stop_flag = threading.Event()
        self.records = self.invocations = self.bad_records = 0
        self.outcomes: dict[str, int] = {}
        self.ids: set[str] = set()

    def poll(self) -> None:
        out = self.api.lam("GET", f"/_esmd/invocations?mapping={self.uuid}&since={self.since}&limit=10000")
        for inv in out["Invocations"]:
            self.since = max(self.since, inv["Seq"])
            self.invocations += 1
            self.outcomes[inv["Outcome"]] = self.outcomes.get(inv["Outcome"], 0) + 1
            for rec in inv["Event"]["Records"]:
                if rec["messageId"] in self.ids:
                    continue  # a redelivery after a failure would show here; counted once
                self.ids.add(rec["messageId"])
                self.records += 1
                if self.filtered and not json.loads(rec["body"])["keep"]:
                    self.bad_records += 1

    def run(self) -> None:
        while not self.stop_flag.wait(0.1):
            self.poll()

    def finish(self) -> None:
        self.stop_flag.set()
        self.join()
        self.poll()


def measure(esmd: benchlib.Esmd, label: str, filtered: bool, args, log) -> dict:
    api = Api(esmd.port)
    queue = "bench-filter" if filtered else "bench-nofilter"
    url = api.sqs("CreateQueue", {"QueueName": queue})["QueueUrl"]
    fill_s = fill(api, url, args.records, args.match_every, args.workers)
    if api.depth(url) != args.records:
        raise RuntimeError(f"{queue}: depth {api.depth(url)} after sending {args.records}")
    expected = len(range(0, args.records, args.match_every)) if filtered else args.records
    if args.wait_quiet:
        wait_until_quiet(min(60.0, args.wait_quiet), log, sample_s=1.0, pause_s=4.0)
    since = api.lam("GET", "/_esmd/invocations?limit=1")["LastSeq"]
    hz = os.sysconf("SC_CLK_TCK")
    busy0, me0, cpu0 = machine_busy_ticks(), os.times(), cpu_ticks(esmd.proc.pid)
    t0 = time.perf_counter()
    mapping = {"FunctionName": NOOP, "EventSourceArn": f"arn:aws:sqs:us-east-1:{ESMD_ACCOUNT}:{queue}",
               "BatchSize": args.batch_size, "Enabled": True}
    if filtered:
        mapping["FilterCriteria"] = {"Filters": [{"Pattern": json.dumps(PATTERN)}]}
    uuid = api.lam("POST", MAPPINGS, mapping)["UUID"]
    reader = LogReader(esmd.port, uuid, since, filtered)
    reader.start()
    left = args.records
    deadline = t0 + args.drain_timeout
    while time.perf_counter() < deadline:
        left = api.depth(url)
        if left == 0:
            break
        time.sleep(0.02)
    secs = time.perf_counter() - t0
    cpu = (cpu_ticks(esmd.proc.pid) - cpu0) / hz
    me1 = os.times()
    mine = (me1.user - me0.user) + (me1.system - me0.system)
    others = max(0.0, (machine_busy_ticks() - busy0) / hz - cpu - mine)
    api.lam("DELETE", f"{MAPPINGS}/{uuid}")
    reader.finish()
    drained = args.records - left
    r = {"label": label, "filtered": filtered, "records": args.records, "expected": expected,
         "delivered": reader.records, "invocations": reader.invocations, "secs": secs, "fill_s": fill_s,
         "drain_ps": drained / secs, "deliver_ps": reader.records / secs, "cpu_s": cpu,
         "cpu_us_per_msg": cpu / max(1, drained) * 1e6, "others_share": others / (secs * (os.cpu_count() or 1)),
         "left": left, "outcomes": reader.outcomes, "bad": reader.bad_records}
    log(f"{label}: {drained:,} of {args.records:,} messages drained in {secs:.2f} s = {r['drain_ps']:,.0f} messages/s; "
        f"{reader.records:,} records delivered ({r['deliver_ps']:,.0f}/s) in {reader.invocations:,} invocations "
        f"({reader.records / max(1, reader.invocations):.2f} each); esmd CPU {r['cpu_us_per_msg']:.1f} us/message; "
        f"pre-fill {fill_s:.1f} s; other processes {r['others_share']:.0%} of the CPUs")
    problems = []
    if left:
        problems.append(f"{left} messages still queued after {args.drain_timeout} s")
    if reader.records != expected:
        problems.append(f"{reader.records} records delivered, expected {expected}")
    if reader.bad_records:
        problems.append(f"{reader.bad_records} non-matching records delivered")
    if set(reader.outcomes) - {"Success"}:
        problems.append(f"outcomes {reader.outcomes}")
    for p in problems:
        failures.append(f"{label}: {p}")
        log(f"FAIL: {label}: {p}")
    return r


def table(results: list[dict], machine: dict, esmd_version: str, args) -> str:
    lines = [
        "# SQS delivery with FilterCriteria",
        "",
        f"{machine['date']}, {esmd_version} ({machine['rev']}), {machine['cores']} cores {machine['cpu']}, "
        f"data dir on {machine['data_fs']} (fdatasync {machine['fsync_ms']:.2f} ms), --durability {args.durability}; "
        f"{args.records:,} messages, 1 in {args.match_every} matching, BatchSize {args.batch_size}, window 0, "
        "function builtin:ok.",
        "",
        "| run | messages drained/s | matching records delivered/s | invocations | records/invocation "
        "| esmd CPU/message | drain time | correct |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ok = not r["left"] and r["delivered"] == r["expected"] and not r["bad"] and set(r["outcomes"]) <= {"Success"}
        lines.append(
            f"| {r['label']} | {r['drain_ps']:,.0f} | {r['deliver_ps']:,.0f} | {r['invocations']:,} | "
            f"{r['delivered'] / max(1, r['invocations']):.2f} | {r['cpu_us_per_msg']:.1f} µs | {r['secs']:.1f} s | "
            f"{'yes' if ok else '**no**'} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(ROOT, "build-bench", "esmd"), help="esmd binary")
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--match-every", type=int, default=10, help="one message in N matches the filter")
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--workers", type=int, default=8, help="threads that pre-fill the queue")
    ap.add_argument("--durability", default="full", choices=["full", "normal"])
    ap.add_argument("--drain-timeout", type=float, default=600)
    ap.add_argument("--no-baseline", action="store_true", help="skip the run without a filter")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="wait up to S seconds for the machine's CPUs to be mostly idle first")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "filter_sqs.md"))
    args = ap.parse_args()
    args.esmd = os.path.abspath(args.esmd)
    if not os.access(args.esmd, os.X_OK):
        sys.exit(f"no esmd binary at {args.esmd} (bench/filter_sqs.sh builds it)")

    work = work_dir("esmd-bench-filter-")
    log = Log()
    busy = wait_until_quiet(args.wait_quiet, log)
    machine = describe_machine(work, busy, log)
    esmd_version = version([args.esmd, "--version"])
    results = []
    runs = [("filter keeps 10%", True)] + ([] if args.no_baseline else [("no filter (baseline)", False)])
    if args.match_every != 10:
        runs[0] = (f"filter keeps 1 in {args.match_every}", True)
    for i, (label, filtered) in enumerate(runs):
        d = os.path.join(work, f"esmd-{i}")
        os.makedirs(d)
        s = benchlib.Esmd(args.esmd, d, os.path.join(work, "esmd.log"), args.durability, [f"{NOOP}=builtin:ok"])
        s.launch()
        try:
            results.append(measure(s, label, filtered, args, log))
        finally:
            s.stop()
    out = table(results, machine, esmd_version, args)
    print()
    print(out)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(out + "\n## Log\n\n```\n" + "\n".join(log.lines) + "\n```\n")
    print(f"written to {os.path.relpath(args.out)}")
    if failures:
        print("FAILURES:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
