#!/usr/bin/env python3
"""Soak (issue 13): moderate steady load for a while, with esmd's RSS and open descriptors
sampled every 10 s. The load: SQS batches of 10 to a queue that a mapping drains into a
function, a receive/delete consumer on a second queue, Kinesis puts through a mapping, and
GetEventSourceMapping calls, about RATE requests a second in all. Prints the samples' first,
last, minimum and maximum, and the drift (last minus the first sample after warm-up).

    bench/soak.py [SECONDS] [RATE]          (default 3600 s, 200 requests/s)

Bounded by SECONDS; everything binds 127.0.0.1 and stops at the end.
"""
import json
import os
import sys
import tempfile
import shutil
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("ESMD_BIN", os.path.join(HERE, "..", "build", "esmd"))

from esmd_harness import ACCOUNT, Esmd, wait_until  # noqa: E402
from invoke_function_server import FunctionServer  # noqa: E402


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss // 1024, len(os.listdir(f"/proc/{pid}/fd"))


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 3600
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    delivered = [0]
    lock = threading.Lock()

    def handler(event, request):
        with lock:
            delivered[0] += len(event.get("Records", []))
        return 200, {}, b""

    fn = FunctionServer(handler=handler).start()
    data = tempfile.mkdtemp(prefix="esmd-soak-")
    esmd = Esmd(data_dir=data, transition_delay_ms=0, functions=()).start()
    stop = threading.Event()
    counts = {"requests": 0, "errors": 0}
    try:
        esmd.http("PUT", "/_esmd/functions/soak", json.dumps({"Target": fn.url("soak"), "Concurrency": 4}))
        sqs, kin, lam = esmd.client("sqs"), esmd.client("kinesis"), esmd.client("lambda")
        mapped = sqs.create_queue(QueueName="soak-mapped")["QueueUrl"]
        plain = sqs.create_queue(QueueName="soak-plain")["QueueUrl"]
        kin.create_stream(StreamName="soak", ShardCount=2)
        wait_until(lambda: kin.describe_stream_summary(StreamName="soak")["StreamDescriptionSummary"]
                   ["StreamStatus"] == "ACTIVE", timeout=10)
        uuid = lam.create_event_source_mapping(FunctionName="soak", BatchSize=10,
                                               EventSourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:soak-mapped")["UUID"]
        lam.create_event_source_mapping(FunctionName="soak", BatchSize=100, StartingPosition="LATEST",
                                        EventSourceArn=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/soak")

        def loop(step, share):
            interval = 1.0 / max(1, rate * share)
            nxt = time.monotonic()
            while not stop.is_set():
                try:
                    step()
                except Exception:
                    counts["errors"] += 1
                counts["requests"] += 1
                nxt += interval
                time.sleep(max(0.0, nxt - time.monotonic()))

        n = [0]

        def send_batch():
            n[0] += 1
            sqs.send_message_batch(QueueUrl=mapped, Entries=[{"Id": str(i), "MessageBody": f"{n[0]}-{i}" * 20}
                                                            for i in range(10)])

        def consume():
            sqs.send_message(QueueUrl=plain, MessageBody="x" * 512)
            for m in sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=10).get("Messages", []):
                sqs.delete_message(QueueUrl=plain, ReceiptHandle=m["ReceiptHandle"])

        def put():
            kin.put_record(StreamName="soak", PartitionKey=str(n[0] % 7), Data=b"y" * 256)

        def get():
            lam.get_event_source_mapping(UUID=uuid)

        threads = [threading.Thread(target=loop, args=a, daemon=True)
                   for a in ((send_batch, 0.2), (consume, 0.3), (put, 0.3), (get, 0.2))]
        for t in threads:
            t.start()
        samples = []
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            time.sleep(min(10, max(0.1, seconds - (time.monotonic() - started))))
            samples.append((round(time.monotonic() - started), *sample(esmd.proc.pid)))
        stop.set()
        for t in threads:
            t.join(timeout=30)
        warm = samples[min(len(samples) - 1, 6)]  # the first minute is warm-up
        rss = [s[1] for s in samples]
        fds = [s[2] for s in samples]
        print(f"soak {seconds} s at ~{rate} requests/s: {counts['requests']} requests, {counts['errors']} errors, "
              f"{delivered[0]} records delivered to the function")
        print(f"RSS MiB: first {rss[0]}, after warm-up {warm[1]}, last {rss[-1]}, min {min(rss)}, max {max(rss)}; "
              f"drift after warm-up {rss[-1] - warm[1]:+d} MiB")
        print(f"open fds: first {fds[0]}, after warm-up {warm[2]}, last {fds[-1]}, min {min(fds)}, max {max(fds)}")
        print("samples (s, RSS MiB, fds):", " ".join(f"{t}:{r}:{f}" for t, r, f in samples))
        return 1 if counts["errors"] else 0
    finally:
        stop.set()
        esmd.cleanup()
        fn.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
