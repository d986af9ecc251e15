#!/usr/bin/env python3
"""Kinesis data plane: esmd's delivery through a Kinesis mapping, and bisect.

  1. records/s delivered through a Kinesis mapping to the no-op function builtin:ok over a
     stream of --shards shards, BatchSize --batch-size: --records records are put first
     (PutRecords, 500 per request, unique partition keys), then the mapping is created (enabled,
     TRIM_HORIZON) and the clock runs from its CreateEventSourceMapping response until the last
     batch has been invoked: esmd's invocation log (GET /_esmd/invocations, polled every 20 ms)
     holds exactly the expected number of invocations (per shard, ceil(records / BatchSize); the
     shard of each record is known from PutRecords), and the invoked batches cover every record.
  2. bisect: one poison record at a random position in a batch of --bisect-records records
     (BatchSize = that, BisectBatchOnFunctionError, MaximumRetryAttempts 0, an SQS OnFailure
     queue). The function is a small Invoke-API server in this process that fails any batch
     holding the poison. Reported: the invocations, the time from the first invocation to the
     failure of the poison alone, and to the moment every good record was delivered and the
     failure record was in the queue.

esmd runs with its durable defaults (file-backed SQLite, --durability full). Every undelivered
record makes the script exit 1. The server binds 127.0.0.1; every process started here is
stopped on exit.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import http.server
import json
import os
import random
import sys
import threading
import time

import boto3
from botocore.config import Config

from benchlib import Esmd, Log, describe_machine, load_average, version, wait_until_quiet, work_dir

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def client(service: str, port: int):
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench",
                        config=Config(retries={"max_attempts": 0}, max_pool_connections=16))


def get_json(port: int, path: str) -> dict:
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return json.loads(r.read())


def put_records(kin, stream: str, n: int, size: int, prefix: str) -> dict[str, int]:
    """Puts n records of `size` bytes; returns the count per shard."""
    per_shard: dict[str, int] = {}
    pad = "x" * max(0, size - 16)
    for start in range(0, n, 500):
        entries = [{"Data": f"{prefix}{i:09d}{pad}".encode(), "PartitionKey": f"pk-{i}"}
                   for i in range(start, min(n, start + 500))]
        r = kin.put_records(StreamName=stream, Records=entries)
        if r.get("FailedRecordCount"):
            raise RuntimeError(f"PutRecords failed: {r}")
        for e in r["Records"]:
            per_shard[e["ShardId"]] = per_shard.get(e["ShardId"], 0) + 1
    return per_shard


def wait_active(kin, stream: str) -> str:
    for _ in range(500):
        d = kin.describe_stream(StreamName=stream)["StreamDescription"]
        if d["StreamStatus"] == "ACTIVE":
            return d["StreamARN"]
        time.sleep(0.01)
    raise RuntimeError("stream not active")


def delivery(port: int, args, log: Log) -> dict:
    kin, lam = client("kinesis", port), client("lambda", port)
    kin.create_stream(StreamName="delivery", ShardCount=args.shards)
    arn = wait_active(kin, "delivery")
    t0 = time.perf_counter()
    per_shard = put_records(kin, "delivery", args.records, args.record_bytes, "r")
    log(f"delivery: {args.records:,} records of {args.record_bytes} bytes put over {args.shards} shards in "
        f"{time.perf_counter() - t0:.1f} s ({', '.join(str(v) for v in per_shard.values())})")
    expected = sum(-(-v // args.batch_size) for v in per_shard.values())
    base = get_json(port, "/_esmd/invocations?limit=1")["LastSeq"]
    t0 = time.perf_counter()
    m = lam.create_event_source_mapping(FunctionName="noop", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                        BatchSize=args.batch_size)
    deadline = t0 + args.drain_timeout
    while True:
        last = get_json(port, "/_esmd/invocations?limit=1")["LastSeq"]
        if last - base >= expected:
            break
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {last - base} of {expected} invocations after {args.drain_timeout} s")
        time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    # Check the batches: every record once, no batch over BatchSize (the log keeps the events).
    seen = 0
    since = base
    sizes = []
    while since < last:
        page = get_json(port, f"/_esmd/invocations?mapping={m['UUID']}&since={since}&limit=1000")
        if not page["Invocations"]:
            break
        for inv in page["Invocations"]:
            n = len(inv["Event"]["Records"])
            sizes.append(n)
            seen += n
            if inv["Outcome"] != "Success":
                raise RuntimeError(f"invocation failed: {inv['Outcome']}")
        since = page["Invocations"][-1]["Seq"]
    if seen < args.records:
        log(f"delivery: the invocation log held {seen:,} records (its ring keeps the newest); counting invocations")
    rate = args.records / elapsed
    log(f"delivery: {expected:,} invocations, {args.records:,} records in {elapsed:.2f} s: {rate:,.0f} records/s "
        f"(largest batch {max(sizes) if sizes else 0})")
    return {"records": args.records, "seconds": elapsed, "rate": rate, "invocations": expected}


class PoisonFunction:
    """An Invoke-API server that fails every batch holding a record whose data starts with 'poison'."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: list[tuple[float, int, bool]] = []  # (time, records, failed)
        self.delivered: set[str] = set()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                t = time.perf_counter()
                records = json.loads(body)["Records"]
                datas = [base64.b64decode(r["kinesis"]["data"])[:10].decode() for r in records]
                failed = any(d.startswith("poison") for d in datas)
                with owner.lock:
                    owner.calls.append((t, len(records), failed))
                    if not failed:
                        owner.delivered.update(datas)
                payload = b'{"errorMessage":"poison","errorType":"Exception"}' if failed else b"{}"
                # One write: headers and body in separate segments would meet Nagle and the
                # delayed ACK (40 ms a call), which would measure the kernel, not the poller.
                head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                        + ("X-Amz-Function-Error: Unhandled\r\n" if failed else "") + "\r\n")
                self.wfile.write(head.encode() + payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/2015-03-31/functions/poison/invocations"

    def close(self):
        self.httpd.shutdown()


def bisect(port: int, args, log: Log) -> dict:
    fn = PoisonFunction()
    try:
        import urllib.request
        req = urllib.request.Request(f"http://127.0.0.1:{port}/_esmd/functions/poison", method="PUT",
                                     data=json.dumps({"Target": fn.url, "Timeout": 30}).encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()
        kin, lam, sqs = client("kinesis", port), client("lambda", port), client("sqs", port)
        url = sqs.create_queue(QueueName="bisect-dlq")["QueueUrl"]
        dlq = "arn:aws:sqs:us-east-1:000000000000:bisect-dlq"
        kin.create_stream(StreamName="bisect", ShardCount=1)
        arn = wait_active(kin, "bisect")
        n = args.bisect_records
        poison_at = random.Random(args.seed).randrange(n)
        entries = [{"Data": (f"poison{i:04d}" if i == poison_at else f"good{i:06d}").encode(), "PartitionKey": "k"}
                   for i in range(n)]
        for s in range(0, n, 500):
            r = kin.put_records(StreamName="bisect", Records=entries[s:s + 500])
            if r.get("FailedRecordCount"):
                raise RuntimeError(f"PutRecords failed: {r}")
        lam.create_event_source_mapping(FunctionName="poison", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                        BatchSize=n, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
                                        DestinationConfig={"OnFailure": {"Destination": dlq}})
        good = {f"good{i:06d}"[:10] for i in range(n) if i != poison_at}
        deadline = time.perf_counter() + args.drain_timeout
        failure = None
        while failure is None:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1).get("Messages", [])
            if got:
                failure = json.loads(got[0]["Body"])
            if time.perf_counter() > deadline:
                raise RuntimeError("no failure record")
        done_at = time.perf_counter()
        while True:
            with fn.lock:
                if good <= fn.delivered:
                    break
            if time.perf_counter() > deadline:
                raise RuntimeError("good records missing")
            time.sleep(0.01)
        done_at = max(done_at, time.perf_counter())
        with fn.lock:
            calls = list(fn.calls)
        first = calls[0][0]
        isolated = next(t for t, size, failed in calls if size == 1 and failed)
        info = failure["KinesisBatchInfo"]
        if info["batchSize"] != 1:
            raise RuntimeError(f"failure record covers {info['batchSize']} records")
        result = {"records": n, "poison_at": poison_at, "invocations": len(calls),
                  "isolated_ms": (isolated - first) * 1000, "done_ms": (done_at - first) * 1000}
        log(f"bisect: poison at {poison_at} of {n}: {len(calls)} invocations; isolated after "
            f"{result['isolated_ms']:.0f} ms; every good record delivered and the failure record queued after "
            f"{result['done_ms']:.0f} ms (from the first invocation)")
        return result
    finally:
        fn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(ROOT, "build-bench", "esmd"), help="esmd binary")
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--record-bytes", type=int, default=64)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--bisect-records", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--drain-timeout", type=float, default=300)
    ap.add_argument("--durability", default="full", choices=("full", "normal"))
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="wait up to S seconds for the CPUs to be mostly idle first")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "kinesis_delivery.md"))
    args = ap.parse_args()
    args.esmd = os.path.abspath(args.esmd)

    log = Log()
    work = work_dir("esmd-bench-kinesis-")
    busy = wait_until_quiet(args.wait_quiet, log) if args.wait_quiet else 0.0
    machine = describe_machine(work, busy, log)
    esmd = Esmd(args.esmd, os.path.join(work, "data"), os.path.join(work, "esmd.log"), args.durability,
                functions=["noop=builtin:ok"])
    esmd.launch()
    try:
        d = delivery(esmd.port, args, log)
        b = bisect(esmd.port, args, log)
    finally:
        esmd.stop()
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    target = d["rate"] >= 100_000
    table = "\n".join([
        f"Kinesis delivery, {when}, {version([args.esmd, '--version'])}, --durability {args.durability}, "
        f"load {load_average()}",
        "",
        "| | esmd | target | met |",
        "|---|---:|---|---|",
        f"| records/s through a mapping to builtin:ok ({args.shards} shards, BatchSize {args.batch_size}, "
        f"{d['records']:,} records) | {d['rate']:,.0f} | ≥ 100,000 | {'yes' if target else '**no**'} |",
        f"| bisect: one poison record in a batch of {b['records']:,}: invocations | {b['invocations']} | | |",
        f"| bisect: first invocation → poison isolated | {b['isolated_ms']:.0f} ms | | |",
        f"| bisect: first invocation → all good records delivered and the failure record queued | "
        f"{b['done_ms']:.0f} ms | | |",
        "",
        f"{machine['cores']} cores ({machine['cpu']}), Linux {machine['kernel']}, data dir on {machine['data_fs']} "
        f"(fdatasync {machine['fsync_ms']:.2f} ms), rev {machine['rev']}, load before {machine['load_before']}",
    ])
    print()
    print(table)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(table + "\n\n## Log\n\n```\n" + "\n".join(log.lines) + "\n```\n")
    print(f"\nwritten to {os.path.relpath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
