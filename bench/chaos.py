#!/usr/bin/env python3
"""kill -9 chaos (issue 13): SQS sends and Kinesis puts flow through mappings to a function
that fails 20 % of its batches and times out on 5 %, Kafka produces (kcat) go to esmd's broker
and through an MSK mapping to the same function, and esmd is killed -9 at random moments KILLS
times and restarted on the same data directory. At the end every acknowledged message and record
must have reached the function (at least once, and in order per partition key for Kinesis), and
every acknowledged Kafka record must also be readable from the topic. Prints acknowledged /
delivered / duplicated / lost per source; exits 1 if anything acknowledged was lost or a key went
out of order.

    bench/chaos.py [KILLS] [SEED]          (default 50 kills; esmd is build/esmd or $ESMD_BIN)

Bounded: producers stop after the last kill, the drain waits at most 120 s, and every process
binds 127.0.0.1 and is stopped at the end.
"""
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("ESMD_BIN", os.path.join(HERE, "..", "build", "esmd"))

from esmd_harness import ACCOUNT, Esmd, wait_until  # noqa: E402
from invoke_function_server import FunctionServer  # noqa: E402

KEYS = [f"key-{i}" for i in range(8)]


class Function:
    """Fails 20 % of batches (a function error) and answers 5 % after the 1 s timeout; records
    every record of every batch it received (a failed batch is delivered again)."""

    def __init__(self, rng):
        self.rng = rng
        self.lock = threading.Lock()
        self.sqs = []        # bodies, in arrival order, duplicates included
        self.kinesis = []    # (partition key, data), in arrival order, duplicates included
        self.kafka = []      # values, in arrival order, duplicates included
        self.server = FunctionServer(handler=self.handle).start()

    def handle(self, event, request):
        with self.lock:
            roll = self.rng.random()
        if roll < 0.05:
            time.sleep(1.5)  # past the 1 s timeout: a timeout, whatever it answers
        if roll < 0.25:
            return 200, {"X-Amz-Function-Error": "Unhandled"}, json.dumps({"errorMessage": "chaos"})
        with self.lock:
            for records in event.get("records", {}).values():
                self.kafka += [base64.b64decode(r["value"]).decode() for r in records]
            for r in event.get("Records", []):
                if r.get("eventSource") == "aws:sqs":
                    self.sqs.append(r["body"])
                elif r.get("eventSource") == "aws:kinesis":
                    self.kinesis.append((r["kinesis"]["partitionKey"],
                                         base64.b64decode(r["kinesis"]["data"]).decode()))
        return 200, {}, b""


class Producers:
    def __init__(self, esmd, queue_url, stream, topic, kafka_bootstrap):
        self.esmd, self.queue_url, self.stream, self.topic = esmd, queue_url, stream, topic
        self.bootstrap = kafka_bootstrap
        self.stop = threading.Event()
        self.sqs_acked, self.kinesis_acked, self.kafka_acked = [], [], []
        self.next_seq = {k: 0 for k in KEYS}
        self.errors = 0

    def sqs_loop(self):
        n = 0
        while not self.stop.is_set():
            try:
                sqs = self.esmd.client("sqs")
                while not self.stop.is_set():
                    bodies = [f"m-{n + i}" for i in range(10)]
                    out = sqs.send_message_batch(QueueUrl=self.queue_url, Entries=[
                        {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)])
                    ok = {int(e["Id"]) for e in out.get("Successful", [])}
                    self.sqs_acked += [b for i, b in enumerate(bodies) if i in ok]
                    n += 10
            except Exception:
                self.errors += 1
                n += 10  # those bodies were not acknowledged; never reuse them
                time.sleep(0.05)

    def kinesis_loop(self):
        # Per key, record k+1 is put only after k was acknowledged: order per key is defined.
        while not self.stop.is_set():
            try:
                kin = self.esmd.client("kinesis")
                while not self.stop.is_set():
                    key = random.choice(KEYS)
                    data = f"{key}:{self.next_seq[key]}"
                    kin.put_record(StreamName=self.stream, PartitionKey=key, Data=data.encode())
                    self.kinesis_acked.append((key, data))
                    self.next_seq[key] += 1
            except Exception:
                self.errors += 1
                time.sleep(0.05)

    def kafka_loop(self):
        n = 0
        while not self.stop.is_set():
            values = [f"k-{n + i}" for i in range(20)]
            n += 20
            try:
                p = subprocess.run(["kcat", "-P", "-b", self.bootstrap, "-t", self.topic, "-X", "acks=all",
                                    "-X", "message.timeout.ms=3000", "-X", "socket.timeout.ms=3000"],
                                   input="\n".join(values) + "\n", capture_output=True, text=True, timeout=20)
                if p.returncode == 0 and "ERROR" not in p.stderr and "fail" not in p.stderr.lower():
                    self.kafka_acked += values
                else:
                    self.errors += 1
            except subprocess.TimeoutExpired:
                self.errors += 1

    def start(self):
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self.sqs_loop, self.kinesis_loop,
                                                                            self.kafka_loop)]
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def kafka_read_all(bootstrap, topic):
    p = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q"],
                       capture_output=True, text=True, timeout=60)
    return p.stdout.split()


def main():
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = random.Random(seed)
    random.seed(seed)
    data_dir = tempfile.mkdtemp(prefix="esmd-chaos-")
    fn = Function(rng)
    esmd = Esmd(data_dir=data_dir, transition_delay_ms=0, functions=()).start()
    try:
        esmd.http("PUT", "/_esmd/functions/chaos", json.dumps({"Target": fn.server.url("chaos"), "Timeout": 1,
                                                               "Concurrency": 10}))
        sqs, kin, lam = esmd.client("sqs"), esmd.client("kinesis"), esmd.client("lambda")
        url = sqs.create_queue(QueueName="chaos", Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
        kin.create_stream(StreamName="chaos", ShardCount=2)
        wait_until(lambda: kin.describe_stream_summary(StreamName="chaos")["StreamDescriptionSummary"]
                   ["StreamStatus"] == "ACTIVE", timeout=10)
        lam.create_event_source_mapping(FunctionName="chaos", BatchSize=10,
                                        EventSourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:chaos")
        lam.create_event_source_mapping(FunctionName="chaos", BatchSize=50, StartingPosition="TRIM_HORIZON",
                                        EventSourceArn=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/chaos")
        lam.create_event_source_mapping(FunctionName="chaos", BatchSize=50, StartingPosition="TRIM_HORIZON",
                                        Topics=["chaos"],
                                        EventSourceArn=f"arn:aws:kafka:us-east-1:{ACCOUNT}:cluster/chaos/"
                                                       "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f-1")
        producers = Producers(esmd, url, "chaos", "chaos", esmd.kafka_bootstrap)
        producers.start()
        started = time.monotonic()
        for i in range(kills):
            time.sleep(rng.uniform(0.2, 1.2))
            esmd.restart(kill=True)
        producers.join()
        chaos_s = time.monotonic() - started

        acked_sqs, acked_kin = set(producers.sqs_acked), set(producers.kinesis_acked)

        def drained():
            with fn.lock:
                return (acked_sqs <= set(fn.sqs) and acked_kin <= set(fn.kinesis)
                        and set(producers.kafka_acked) <= set(fn.kafka))
        try:
            wait_until(drained, timeout=120, interval=0.5, message="every acknowledged record delivered")
        except AssertionError:
            pass
        kafka_seen = kafka_read_all(esmd.kafka_bootstrap, "chaos")
        with fn.lock:
            sqs_seen, kin_seen, kafka_delivered = list(fn.sqs), list(fn.kinesis), list(fn.kafka)
        # Per key, the first delivery of each record comes in the order it was put.
        order_broken = 0
        for key in KEYS:
            firsts, seen = [], set()
            for k, d in kin_seen:
                if k == key and d not in seen:
                    seen.add(d)
                    firsts.append(int(d.split(":")[1]))
            order_broken += firsts != sorted(firsts)
        rows = [
            ("SQS", len(acked_sqs), len(set(sqs_seen) & acked_sqs), len(sqs_seen) - len(set(sqs_seen)),
             len(acked_sqs - set(sqs_seen))),
            ("Kinesis", len(acked_kin), len(set(kin_seen) & acked_kin), len(kin_seen) - len(set(kin_seen)),
             len(acked_kin - set(kin_seen))),
            ("Kafka", len(producers.kafka_acked), len(set(kafka_delivered) & set(producers.kafka_acked)),
             len(kafka_delivered) - len(set(kafka_delivered)), len(set(producers.kafka_acked) - set(kafka_delivered))),
            ("(topic)", len(producers.kafka_acked), len(set(kafka_seen) & set(producers.kafka_acked)),
             len(kafka_seen) - len(set(kafka_seen)), len(set(producers.kafka_acked) - set(kafka_seen))),
        ]
        print(f"{kills} kill -9s in {chaos_s:.0f} s (seed {seed}); client errors while esmd was down: "
              f"{producers.errors}")
        print(f"{'source':<8} {'acknowledged':>12} {'delivered':>10} {'duplicates':>10} {'lost':>6}")
        for r in rows:
            print(f"{r[0]:<8} {r[1]:>12} {r[2]:>10} {r[3]:>10} {r[4]:>6}")
        print(f"Kinesis keys out of order: {order_broken}")
        print("(Kafka: through the MSK mapping; '(topic)': readable from the topic after the last restart, "
              "where duplicates are kcat retries of a produce whose answer the kill cut off)")
        lost = sum(r[4] for r in rows)
        return 1 if lost or order_broken else 0
    finally:
        esmd.cleanup()
        fn.server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
