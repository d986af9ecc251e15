#!/usr/bin/env python3
"""esmd's SQS queue with a large backlog: memory, and whether send and receive slow down.

    python3 bench/sqs_memory.py [--esmd build/esmd] [--messages 1000000] [--in-flight 100000]

One esmd (durable defaults: file-backed SQLite in a temporary --data-dir, --durability full) on
127.0.0.1 and a free port, driven over the SQS JSON protocol by --connections threads, each with
its own keep-alive connection:

1. on an empty queue: --duration seconds of SendMessage (1 KB bodies); then, with --small
   messages queued, as long of ReceiveMessage(10) + DeleteMessageBatch;
2. SendMessageBatch (10 x 1 KB) until --messages are queued; esmd's VmRSS after;
3. the same two runs with that backlog (the receive run deletes what it receives);
4. --in-flight messages received with a 12-hour visibility timeout and kept in flight, then the
   receive run again;
5. a restart over that database: seconds to the first health answer, and VmRSS.

Prints one table (rates in requests/s and messages/s) with the load average at each step: the
figures are only comparable within a run on a quiet machine. Everything started is stopped and
the data directory removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, Client, Esmd, auth, load_average, run_all, work_dir  # noqa: E402

BODY = ("0123456789abcdef" * 64)[:1024]


class Sqs:
    def __init__(self, port: int, account: str):
        self.client = Client(port)
        self.account = account
        self.port = port

    def call(self, op: str, payload: dict) -> dict:
        headers = {**auth("sqs"), "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{op}"}
        status, body = self.client.call("POST", "/", json.dumps(payload), headers)
        if status != 200:
            raise RuntimeError(f"{op}: HTTP {status}: {body[:300]!r}")
        return json.loads(body) if body else {}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{self.account}/{name}"


def timed(threads: int, duration: float, step) -> tuple[int, int]:
    """Runs step() on `threads` threads for `duration` seconds; (requests, messages) done."""
    stop = time.perf_counter() + duration
    counts = [[0, 0] for _ in range(threads)]

    def worker(i: int) -> None:
        while time.perf_counter() < stop:
            counts[i][1] += step()
            counts[i][0] += 1

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(ROOT, "build", "esmd"))
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--in-flight", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=200_000, help="the backlog of the baseline receive run")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--connections", type=int, default=8)
    args = ap.parse_args()

    work = work_dir("esmd-sqs-memory-")
    rows: list[tuple[str, str, str]] = []

    def row(what: str, value: str) -> None:
        rows.append((what, value, load_average()))
        print(f"{what}: {value} (load {rows[-1][2]})", flush=True)

    try:
        esmd = Esmd(args.esmd, os.path.join(work, "data"), os.path.join(work, "esmd.log"))
        os.makedirs(esmd.data_dir)
        esmd.launch()
        sqs = Sqs(esmd.port, esmd.account)
        sqs.call("CreateQueue", {"QueueName": "backlog"})
        url = sqs.url("backlog")
        row("RSS, empty queue", f"{esmd.rss() / 1024:.1f} MiB")

        def send() -> int:
            sqs.call("SendMessage", {"QueueUrl": url, "MessageBody": BODY})
            return 1

        def receive_delete() -> int:
            got = sqs.call("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10}).get("Messages", [])
            if got:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
                sqs.call("DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
            return len(got)

        batch = {"QueueUrl": url, "Entries": [{"Id": str(i), "MessageBody": BODY} for i in range(10)]}

        def fill_to(total: int) -> None:
            queued = int(sqs.call("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})
                         ["Attributes"]["ApproximateNumberOfMessages"])
            batches = max(0, (total - queued) // 10)
            secs = run_all(args.connections, lambda _: sqs.call("SendMessageBatch", batch), range(batches))
            row(f"SendMessageBatch fill to {total:,}", f"{batches * 10 / secs:,.0f} msg/s ({secs:.0f} s)")

        def receive_rate(label: str) -> None:
            n, m = timed(args.connections, args.duration, receive_delete)
            row(f"ReceiveMessage(10)+DeleteMessageBatch, {label}",
                f"{n / args.duration:,.0f} receives/s, {m / args.duration:,.0f} msg/s")

        n, _ = timed(args.connections, args.duration, send)
        row("SendMessage, empty queue", f"{n / args.duration:,.0f} req/s")
        # Enough that the receive run does not run dry, small next to the backlog of step 3.
        fill_to(args.small)
        receive_rate(f"{args.small:,} queued")

        fill_to(args.messages)
        time.sleep(1)
        row(f"RSS, {args.messages:,} queued", f"{esmd.rss() / 1024:.1f} MiB")
        n, _ = timed(args.connections, args.duration, send)
        row(f"SendMessage, {args.messages:,} queued", f"{n / args.duration:,.0f} req/s")
        receive_rate(f"{args.messages:,} queued")

        def receive_keep() -> int:
            got = sqs.call("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 43200})
            return len(got.get("Messages", []))

        secs = run_all(args.connections, lambda _: receive_keep(), range(args.in_flight // 10))
        attrs = sqs.call("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})["Attributes"]
        row(f"{attrs['ApproximateNumberOfMessagesNotVisible']} in flight (received in {secs:.0f} s)",
            f"RSS {esmd.rss() / 1024:.1f} MiB")
        n, m = timed(args.connections, args.duration, receive_delete)
        row(f"ReceiveMessage(10)+DeleteMessageBatch, {args.in_flight:,} in flight",
            f"{n / args.duration:,.0f} receives/s, {m / args.duration:,.0f} msg/s")

        # A restart loads the index of every message, not the bodies.
        esmd.stop()
        secs = esmd.launch()
        attrs = sqs.call("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})["Attributes"]
        row(f"restart with {attrs['ApproximateNumberOfMessages']} queued + "
            f"{attrs['ApproximateNumberOfMessagesNotVisible']} in flight", f"{secs:.1f} s to health, RSS {esmd.rss() / 1024:.1f} MiB")

        print()
        print(f"esmd {args.esmd}, {args.connections} connections, {args.duration:g} s runs, 1 KB bodies")
        print()
        print("| step | result | load average |")
        print("|---|---|---|")
        for what, value, load in rows:
            print(f"| {what} | {value} | {load} |")
        esmd.stop()
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
