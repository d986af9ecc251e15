#!/usr/bin/env python3
"""Instructions per record delivered through a Kinesis mapping, under valgrind's callgrind.

    python3 bench/kinesis_delivery_profile.py [--esmd build/esmd] [--records 40000] [--batch 100]

esmd starts under callgrind with instrumentation off; a stream of --shards shards (default 4)
is filled with --records 64-byte records (PutRecords, not counted); then instrumentation goes
on, a mapping (TRIM_HORIZON, BatchSize --batch) to builtin:ok is created, and once the
invocation log holds every expected invocation (ceil(records of a shard / batch) per shard)
instrumentation goes off and the profile is dumped. Prints instructions per record delivered,
the functions with the most instructions of their own and the inclusive cost of the
delivery's stages (bench/README.md, "Kinesis delivery profile, issue 14"). Counts include
every thread. Takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kinesis_delivery as kd  # noqa: E402
import sqs_profile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STAGES = ["PartitionPipeline::on_read", "KinesisPartitionSource::read", "StreamEngine::read",
          "KinesisPartitionSource::render", "kinesis_record_json", "kinesis_event_json", "PartitionPipeline::form_batch",
          "PositionSet", "InvocationLog", "FunctionInvoker", "DbWorker::loop", "sqlite3_step", "save_checkpoint",
          "malloc", "free", "memcpy", "base64"]


class DeliveryEsmd(sqs_profile.CallgrindEsmd):
    def argv(self) -> list[str]:
        a = super().argv()
        return a[:1] + ["--instr-atstart=no"] + a[1:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(os.path.dirname(HERE), "build", "esmd"))
    ap.add_argument("--durability", default="normal", choices=["normal", "full"])
    ap.add_argument("--records", type=int, default=40000)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--keep", help="copy the callgrind file here (for callgrind_annotate)")
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install valgrind)")
    work = tempfile.mkdtemp(prefix="esmd-kinesis-delivery-")
    try:
        out = os.path.join(work, "callgrind.out")
        s = DeliveryEsmd(os.path.abspath(args.esmd), work, out, args.durability, os.path.join(work, "esmd.log"))
        s.launch(deadline_s=120)
        pid = s.proc.pid

        def control(*a: str) -> None:
            subprocess.run(["callgrind_control", *a, str(pid)], check=True, capture_output=True)

        kin, lam = kd.client("kinesis", s.port), kd.client("lambda", s.port)
        kin.create_stream(StreamName="deliver", ShardCount=args.shards)
        arn = kd.wait_active(kin, "deliver")
        per_shard = kd.put_records(kin, "deliver", args.records, 64, "r")
        expected = sum(-(-n // args.batch) for n in per_shard.values())
        base = kd.get_json(s.port, "/_esmd/invocations?limit=1")["LastSeq"]
        control("-i", "on")
        t0 = time.time()
        lam.create_event_source_mapping(FunctionName="noop", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                        BatchSize=args.batch)
        deadline = t0 + 900
        while kd.get_json(s.port, "/_esmd/invocations?limit=1")["LastSeq"] - base < expected:
            if time.time() > deadline:
                raise RuntimeError("the records were not all delivered in 900 s")
            time.sleep(0.5)
        control("-i", "off")
        secs = time.time() - t0
        control("-d", "delivery")
        s.stop()
        print(f"{args.records:,} records in {expected:,} invocations, {secs:.0f} s under callgrind")
        dump = f"{out}.1"
        if args.keep:
            shutil.copy(dump, args.keep)
        sqs_profile.STAGES[:] = STAGES
        sqs_profile.report(f"Kinesis delivery, {args.shards} shards, BatchSize {args.batch}, to builtin:ok", dump,
                           args.records, "record", args.top)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
