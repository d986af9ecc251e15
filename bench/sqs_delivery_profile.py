#!/usr/bin/env python3
"""Instructions per record delivered through an SQS mapping, under valgrind's callgrind.

    python3 bench/sqs_delivery_profile.py [--esmd build/esmd] [--messages 20000] [--batch 10]

esmd starts under callgrind with instrumentation off; one queue is filled with --messages
64-byte messages (SendMessageBatch, not counted); then instrumentation goes on, an SQS mapping
(BatchSize --batch, window 0) to builtin:ok is created, and once the queue holds no message
(visible, in flight or delayed; GetQueueAttributes once a second) instrumentation goes off and
the profile is dumped. Prints instructions per record delivered, the functions with the most
instructions of their own and the inclusive cost of the delivery's stages (bench/README.md,
"SQS delivery profile, issue 14"). Counts include every thread. Takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqs  # noqa: E402
import sqs_profile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STAGES = ["DbWorker::loop", "SqsPoller::receive_job", "QueueEngine::receive(", "QueueEngine::take_visible",
          "read_message", "load_message_row", "update_message_receive", "receipt_for", "SqsPoller::delete_messages",
          "QueueEngine::delete_message", "delete_message_row", "Transaction::commit", "SqsPoller::on_received",
          "sqs_record_json", "sqs_event_json", "SqsPoller::on_invoked", "judge_batch", "PollerBase::invoke",
          "md5_hex", "md5_of_attributes", "sqlite3_step", "malloc", "free"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(os.path.dirname(HERE), "build", "esmd"))
    ap.add_argument("--durability", default="normal", choices=["normal", "full"])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--keep", help="copy the callgrind file here (for callgrind_annotate)")
    args = ap.parse_args()

    def prepare(port: int) -> dict:
        client = sqs.Sqs(port)
        url = client.create_queue("deliver")
        client.fill(url, args.messages, 4, "d")
        n = sum(client.depth(url).values())
        if n != args.messages:
            raise RuntimeError(f"queue holds {n} messages, not {args.messages}")
        return {"client": client, "url": url, "seq0": sqs.last_seq(port)}

    def deliver(port: int, st: dict) -> int:
        sqs.create_mapping(port, sqs.NOOP, "deliver", args.batch, 0)
        deadline = time.time() + 900
        while sum(st["client"].depth(st["url"]).values()) and time.time() < deadline:
            time.sleep(1)
        return args.messages

    def after(port: int, st: dict) -> None:
        invocations = sqs.last_seq(port) - st["seq0"]
        left = sum(st["client"].depth(st["url"]).values())
        print(f"{invocations:,} invocations, {left} left in the queue")

    sqs_profile.profile_delivery(args.esmd, args.durability, "esmd-sqs-delivery-", prepare, deliver,
                                 f"delivery, BatchSize {args.batch}, to builtin:ok", STAGES, args.top, args.keep,
                                 after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
