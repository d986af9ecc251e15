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
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kinesis_delivery as kd  # noqa: E402
import sqs_profile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STAGES = ["PartitionPipeline::on_read", "KinesisPartitionSource::read", "StreamEngine::read",
          "KinesisPartitionSource::render", "kinesis_record_json", "kinesis_event_json", "PartitionPipeline::form_batch",
          "PositionSet", "InvocationLog", "FunctionInvoker", "DbWorker::loop", "sqlite3_step", "save_checkpoint",
          "malloc", "free", "memcpy", "base64"]


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

    def prepare(port: int) -> dict:
        kin = kd.client("kinesis", port)
        kin.create_stream(StreamName="deliver", ShardCount=args.shards)
        arn = kd.wait_active(kin, "deliver")
        per_shard = kd.put_records(kin, "deliver", args.records, 64, "r")
        return {"arn": arn, "expected": sum(-(-n // args.batch) for n in per_shard.values()),
                "base": kd.get_json(port, "/_esmd/invocations?limit=1")["LastSeq"]}

    def deliver(port: int, st: dict) -> int:
        kd.client("lambda", port).create_event_source_mapping(
            FunctionName="noop", EventSourceArn=st["arn"], StartingPosition="TRIM_HORIZON", BatchSize=args.batch)
        deadline = time.time() + 900
        while kd.get_json(port, "/_esmd/invocations?limit=1")["LastSeq"] - st["base"] < st["expected"]:
            if time.time() > deadline:
                raise RuntimeError("the records were not all delivered in 900 s")
            time.sleep(0.5)
        return args.records

    sqs_profile.profile_delivery(args.esmd, args.durability, "esmd-kinesis-delivery-", prepare, deliver,
                                 f"Kinesis delivery, {args.shards} shards, BatchSize {args.batch}, to builtin:ok",
                                 STAGES, args.top, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
