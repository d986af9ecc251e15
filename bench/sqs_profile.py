#!/usr/bin/env python3
"""Where esmd's CPU goes on the SQS paths: instructions per request under valgrind's callgrind.

    python3 bench/sqs_profile.py [--esmd build-bench/esmd] [--durability normal] [--top 25]

Instruction counts do not depend on what else the machine is doing, unlike req/s on a shared
2-core machine, so they are the figure to compare before and after a change. esmd runs under
callgrind (about 50x slower), bound to 127.0.0.1; wrk drives one phase at a time and the
profile is zeroed before and dumped after each:
  send     SendMessage, one 64-byte message per request
  receive  ReceiveMessage (MaxNumberOfMessages 1) on a pre-filled queue; messages stay in flight
  consume  ReceiveMessage, then DeleteMessage of what it got
  deliver  an SQS mapping (BatchSize 10, window 0) to builtin:ok drains a pre-filled queue;
           normalised per record
For each phase: instructions per request (or record), the functions with the most
instructions of their own, and the inclusive cost of esmd's main stages. --durability full
adds the fsync waits, which callgrind does not see; `strace -f -c -e trace=fdatasync -p PID`
counts those.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqs  # noqa: E402  (the benchmark's process and client helpers)

HERE = os.path.dirname(os.path.abspath(__file__))
STAGES = ["DbWorker::loop", "SqsApi::handle(", "QueueEngine::send(", "QueueEngine::insert_message",
          "QueueEngine::take_visible", "QueueEngine::delete_message", "Transaction::commit", "sqlite3_step",
          "Session::on_read(", "Session::send(", "SqsPoller::on_received", "sqs_record_json", "md5_hex",
          "malloc", "free"]


class CallgrindEsmd(sqs.Server):
    name = "esmd (callgrind)"
    health_path = "/_esmd/health"

    def __init__(self, binary: str, data_dir: str, out: str, durability: str, log_path: str):
        super().__init__(log_path)
        self.binary, self.data_dir, self.out, self.durability = binary, data_dir, out, durability

    def argv(self) -> list[str]:
        return ["valgrind", "--tool=callgrind", "--compress-strings=no", "--compress-pos=no",
                f"--callgrind-out-file={self.out}", self.binary, "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", self.data_dir, "--durability", self.durability, "--transition-delay-ms", "0",
                "--function", "noop=builtin:ok"]


class PausedCallgrindEsmd(CallgrindEsmd):
    """esmd under callgrind with instrumentation off until `callgrind_control -i on`."""

    def argv(self) -> list[str]:
        a = super().argv()
        return a[:1] + ["--instr-atstart=no"] + a[1:]


def profile_delivery(esmd: str, durability: str, prefix: str, prepare, deliver, name: str, stages: list[str],
                     top: int, keep: str | None = None, after=None) -> None:
    """The delivery profiles' session: esmd under callgrind with instrumentation off;
    prepare(port) fills the source and returns its state; instrumentation goes on for
    deliver(port, state), which creates the mapping, waits until everything is delivered and
    returns the records delivered; then the profile is dumped (after(port, state), if given,
    checks the outcome uninstrumented) and reported per record, with `stages` as the inclusive
    stages. keep: a path to copy the callgrind file to."""
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install valgrind)")
    work = tempfile.mkdtemp(prefix=prefix)
    try:
        out = os.path.join(work, "callgrind.out")
        s = PausedCallgrindEsmd(os.path.abspath(esmd), work, out, durability, os.path.join(work, "esmd.log"))
        s.launch(deadline_s=120)

        def control(*a: str) -> None:
            subprocess.run(["callgrind_control", *a, str(s.proc.pid)], check=True, capture_output=True)

        state = prepare(s.port)
        control("-i", "on")
        t0 = time.time()
        records = deliver(s.port, state)
        control("-i", "off")
        secs = time.time() - t0
        control("-d", "delivery")
        if after:
            after(s.port, state)
        s.stop()
        print(f"{records:,} records delivered, {secs:.0f} s under callgrind")
        dump = f"{out}.1"
        if keep:
            shutil.copy(dump, keep)
        STAGES[:] = stages
        report(name, dump, records, "record", top)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def parse(path: str) -> tuple[int, collections.Counter, collections.Counter]:
    """Self and inclusive instruction counts per function from an uncompressed callgrind file."""
    own: collections.Counter = collections.Counter()
    called: collections.Counter = collections.Counter()
    fn, after_calls, total = "", False, 0
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("fn="):
                fn, after_calls = line[3:].rstrip("\n"), False
            elif line.startswith("calls="):
                after_calls = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) >= 2:
                    cost = int(parts[1])
                    if after_calls:
                        called[fn] += cost
                        after_calls = False
                    else:
                        own[fn] += cost
                        total += cost
    inclusive = collections.Counter({f: own[f] + called[f] for f in set(own) | set(called)})
    return total, own, inclusive


def report(name: str, path: str, units: int, unit: str, top: int) -> None:
    total, own, inclusive = parse(path)
    print(f"\n## {name}: {total / max(1, units):,.0f} instructions per {unit} ({units:,} {unit}s, {total:,} in all)")
    print(f"\nown instructions per {unit}:")
    for f, c in own.most_common(top):
        print(f"  {c / max(1, units):>9,.0f}  {c / total:5.1%}  {f[:140]}")
    print(f"\ninclusive, per {unit} (a stage's callees included):")
    for stage in STAGES:
        matches = [(c, f) for f, c in inclusive.items() if stage in f and "::_M_" not in f and "{lambda" not in f]
        if matches:
            c, f = max(matches)
            print(f"  {c / max(1, units):>9,.0f}  {c / total:5.1%}  {stage}  ({f[:90]})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(os.path.dirname(HERE), "build-bench", "esmd"))
    ap.add_argument("--durability", default="normal", choices=["normal", "full"])
    ap.add_argument("--seconds", type=float, default=15, help="seconds of each wrk phase")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_control", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install valgrind wrk)")
    work = tempfile.mkdtemp(prefix="esmd-profile-")
    try:
        out = os.path.join(work, "callgrind.out")
        s = CallgrindEsmd(os.path.abspath(args.esmd), work, out, args.durability, os.path.join(work, "esmd.log"))
        s.launch(deadline_s=120)
        pid = s.proc.pid
        client = sqs.Sqs(s.port)
        urls = {q: client.create_queue(q) for q in ("send", "receive", "consume", "deliver")}

        def control(*a: str) -> None:
            subprocess.run(["callgrind_control", *a, str(pid)], check=True, capture_output=True)

        def wrk(op: str, queue: str) -> dict:
            return sqs.run_wrk(s.port, op, urls[queue], 1, 8, args.seconds, pid, 64)

        dumps = []
        control("-z")
        w = wrk("send", "send")
        control("-d", "send")
        dumps.append(("SendMessage", w["total"], "request"))
        for q in ("receive", "consume", "deliver"):
            client.fill(urls[q], 3000, 8, q)
        control("-z")
        w = wrk("receive", "receive")
        control("-d", "receive")
        dumps.append(("ReceiveMessage (messages stay in flight)", w["total"], "request"))
        w = wrk("consume", "consume")
        control("-d", "consume")
        dumps.append(("consumer loop (ReceiveMessage + DeleteMessage)", w["total"], "request"))
        n = sum(client.depth(urls["deliver"]).values())
        sqs.create_mapping(s.port, sqs.NOOP, "deliver", 10, 0)
        deadline = time.time() + 300
        while sum(client.depth(urls["deliver"]).values()) and time.time() < deadline:
            time.sleep(0.5)
        control("-d", "deliver")
        dumps.append(("delivery, BatchSize 10, to builtin:ok", n, "record"))
        s.stop()
        for i, (name, units, unit) in enumerate(dumps, 1):
            report(name, f"{out}.{i}", units, unit, args.top)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
