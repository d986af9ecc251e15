#!/usr/bin/env python3
"""Instructions per request on the four hot paths, under valgrind's callgrind.

    python3 bench/hot_profile.py [--esmd build/esmd] [--durability full] [-n 2000] [--top 20]

esmd runs under callgrind; each phase sends N requests one after the other on one keep-alive
connection (raw HTTP/1.1, no client library in the way), with the profile zeroed before and
dumped after:
  send    SQS SendMessage, a 64-byte body
  put     Kinesis PutRecord, 64 bytes of data, a new partition key each time, a 4-shard stream
  get     GetEventSourceMapping of one SQS mapping
  update  UpdateEventSourceMapping of that mapping, BatchSize alternating 9 and 10
The mapping's queue holds no messages, and --transition-delay-ms 0 settles each Update at once.
Instruction counts do not depend on the machine's load, so they are the figure to compare
before and after a change; `strace -f -c -p PID` over the same phases counts the syscalls
(--strace runs the phases again without valgrind, under strace).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqs_profile import parse  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "000000000000"
AUTH = ("Authorization: AWS4-HMAC-SHA256 Credential=bench/20240101/us-east-1/{svc}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64 + "\r\nX-Amz-Date: 20240101T000000Z\r\n")


class Conn:
    def __init__(self, port: int):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, method: str, path: str, headers: str, body: bytes) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
        self.s.sendall(head.encode() + body)
        while b"\r\n\r\n" not in self.buf:
            got = self.s.recv(65536)
            if not got:
                raise ConnectionError("connection closed")
            self.buf += got
        h, _, rest = self.buf.partition(b"\r\n\r\n")
        status = int(h.split(b" ", 2)[1])
        length = 0
        for line in h.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(rest) < length:
            rest += self.s.recv(65536)
        self.buf = rest[length:]
        return status, rest[:length]


def sqs(c: Conn, op: str, payload: dict) -> dict:
    h = AUTH.format(svc="sqs") + f"Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.{op}\r\n"
    st, body = c.request("POST", "/", h, json.dumps(payload).encode())
    assert 200 <= st < 300, (op, st, body)
    return json.loads(body or b"{}")


def kinesis(c: Conn, op: str, payload: dict) -> dict:
    h = AUTH.format(svc="kinesis") + (f"Content-Type: application/x-amz-json-1.1\r\n"
                                      f"X-Amz-Target: Kinesis_20131202.{op}\r\n")
    st, body = c.request("POST", "/", h, json.dumps(payload).encode())
    assert 200 <= st < 300, (op, st, body)
    return json.loads(body or b"{}")


def lam(c: Conn, method: str, path: str, payload: dict | None) -> dict:
    h = AUTH.format(svc="lambda") + "Content-Type: application/json\r\n"
    st, body = c.request(method, path, h, json.dumps(payload).encode() if payload is not None else b"")
    assert 200 <= st < 300, (method, path, st, body)
    return json.loads(body or b"{}")


def phases(c: Conn, n: int, control) -> list[tuple[str, int]]:
    url = sqs(c, "CreateQueue", {"QueueName": "hot-send"})["QueueUrl"]
    sqs(c, "CreateQueue", {"QueueName": "hot-map"})
    kinesis(c, "CreateStream", {"StreamName": "hot", "ShardCount": 4})
    for _ in range(600):
        d = kinesis(c, "DescribeStreamSummary", {"StreamName": "hot"})["StreamDescriptionSummary"]
        if d["StreamStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    m = lam(c, "POST", "/2015-03-31/event-source-mappings/", {
        "FunctionName": "noop", "EventSourceArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:hot-map", "BatchSize": 10})
    mpath = f"/2015-03-31/event-source-mappings/{m['UUID']}"
    time.sleep(1)
    data = base64.b64encode(b"x" * 64).decode()
    done = []

    def run(name, fn):
        for i in range(20):  # warm-up
            fn(i)
        control("-z")
        for i in range(n):
            fn(i)
        control("-d", name)
        done.append((name, n))

    run("send", lambda i: sqs(c, "SendMessage", {"QueueUrl": url, "MessageBody": f"{i:064d}"}))
    run("put", lambda i: kinesis(c, "PutRecord", {"StreamName": "hot", "Data": data, "PartitionKey": f"pk-{i}"}))
    run("get", lambda i: lam(c, "GET", mpath, None))
    run("update", lambda i: lam(c, "PUT", mpath, {"BatchSize": 9 + i % 2}))
    return done


def start(argv: list[str], port: int, log: str) -> subprocess.Popen:
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            Conn(port).request("GET", "/_esmd/health", "", b"")
            return p
        except (OSError, IndexError):
            time.sleep(0.2)
    raise RuntimeError("esmd did not start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(os.path.dirname(HERE), "build", "esmd"))
    ap.add_argument("--durability", default="full", choices=["normal", "full"])
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--strace", action="store_true", help="count syscalls per request instead (no valgrind)")
    ap.add_argument("--esmd-arg", action="append", default=[], help="one more esmd argument (repeat), e.g. --threads=1")
    ap.add_argument("--keep", action="store_true", help="keep the callgrind files (for callgrind_annotate)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="esmd-hot-")
    try:
        port = free_port()
        out = os.path.join(work, "callgrind.out")
        esmd = [os.path.abspath(args.esmd), "--host", "127.0.0.1", "--port", str(port), "--data-dir", work,
                "--durability", args.durability, "--transition-delay-ms", "0", "--function", "noop=builtin:ok", "--kafka-port", "off", *args.esmd_arg]
        if args.strace:
            p = start(esmd, port, os.path.join(work, "log"))
            tracer: list[subprocess.Popen] = []

            def control(*a: str) -> None:
                if a[0] == "-z":
                    tracer.append(subprocess.Popen(["strace", "-f", "-c", "-o", os.path.join(work, "strace"),
                                                    "-p", str(p.pid)], stderr=subprocess.DEVNULL))
                    time.sleep(1.0)
                else:
                    t = tracer.pop()
                    t.send_signal(2)
                    t.wait()
                    with open(os.path.join(work, "strace")) as f:
                        text = f.read()
                    print(f"\n## {a[1]}: syscalls (strace -f -c), {args.n} requests")
                    for line in text.splitlines():
                        parts = line.split()
                        if len(parts) >= 5 and parts[3].isdigit():
                            print(f"  {int(parts[3]) / args.n:6.2f}/req  {parts[-1]}")
                        elif "total" in line:
                            print(f"  {int(parts[2]) / args.n:6.2f}/req  total")
        else:
            p = start(["valgrind", "--tool=callgrind", "--compress-strings=no", "--compress-pos=no",
                       f"--callgrind-out-file={out}", *esmd], port, os.path.join(work, "log"))

            def control(*a: str) -> None:
                subprocess.run(["callgrind_control", *a, str(p.pid)], check=True, capture_output=True)

        try:
            done = phases(Conn(port), args.n, control)
        finally:
            p.terminate()
            p.wait()
        if not args.strace:
            for i, (name, units) in enumerate(done, 1):
                total, own, _ = parse(f"{out}.{i}")
                print(f"\n## {name}: {total / units:,.0f} instructions per request ({units} requests)")
                for f, cst in own.most_common(args.top):
                    print(f"  {cst / units:>9,.0f}  {cst / total:5.1%}  {f[:140]}")
    finally:
        if args.keep:
            print(f"\ncallgrind files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
