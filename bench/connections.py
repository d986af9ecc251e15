#!/usr/bin/env python3
"""Connections under load (issue 13): N keep-alive connections held open at once, each sending
GetEventSourceMapping requests in turn (p50/p99 latency and errors), then M connect / request /
close cycles, then a slowloris client (headers dripped a byte a second) that esmd must cut off,
and a body over the limit refused before it is sent. The real esmd binary (build/esmd or
$ESMD_BIN) on 127.0.0.1; every loop is bounded.

    bench/connections.py [CONNECTIONS] [CYCLES] [ROUNDS]     (default 1000 10000 5)
"""
import asyncio
import os
import resource
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("ESMD_BIN", os.path.join(HERE, "..", "build", "esmd"))

from esmd_harness import ACCOUNT, Esmd  # noqa: E402


def request(path, host):
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n").encode()


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def held(port, path, n, rounds):
    conns = []
    for _ in range(n):
        conns.append(await asyncio.open_connection("127.0.0.1", port))
    lat, errors = [], 0
    req = request(path, f"127.0.0.1:{port}")

    async def one(rw):
        nonlocal errors
        r, w = rw
        for _ in range(rounds):
            t = time.perf_counter()
            w.write(req)
            await w.drain()
            try:
                status = await asyncio.wait_for(read_response(r), 30)
            except Exception:
                errors += 1
                return
            lat.append(time.perf_counter() - t)
            errors += status != 200
    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in conns))
    took = time.perf_counter() - started
    for _, w in conns:
        w.close()
    return lat, errors, took


async def churn(port, path, cycles, parallel=50):
    errors = 0
    req = request(path, f"127.0.0.1:{port}")
    sem = asyncio.Semaphore(parallel)

    async def cycle():
        nonlocal errors
        async with sem:
            try:
                r, w = await asyncio.open_connection("127.0.0.1", port)
                w.write(req)
                await w.drain()
                errors += await asyncio.wait_for(read_response(r), 30) != 200
                w.close()
            except Exception:
                errors += 1
    started = time.perf_counter()
    await asyncio.gather(*(cycle() for _ in range(cycles)))
    return errors, time.perf_counter() - started


def slowloris(port, limit_s=120):
    """Drips a header a byte a second; returns the seconds until esmd closed the connection."""
    s = socket.create_connection(("127.0.0.1", port))
    started = time.monotonic()
    try:
        s.sendall(b"GET /_esmd/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while time.monotonic() - started < limit_s:
            s.sendall(b"X")
            time.sleep(1)
    except OSError:
        return time.monotonic() - started
    finally:
        s.close()
    return None


def oversized(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.0\r\n"
              b"X-Amz-Target: AmazonSQS.SendMessage\r\nContent-Length: 104857600\r\n\r\n")
    status = s.recv(64).split(b" ")[1]
    s.close()
    return int(status)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    cycles = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, n + 256), hard), hard))
    with Esmd(in_memory=True, transition_delay_ms=0) as esmd:
        lam = esmd.client("lambda")
        esmd.client("sqs").create_queue(QueueName="conn")
        uuid = lam.create_event_source_mapping(FunctionName="fn", Enabled=False,
                                               EventSourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:conn")["UUID"]
        path = f"/2015-03-31/event-source-mappings/{uuid}"
        lat, errors, took = asyncio.run(held(esmd.port, path, n, rounds))
        lat.sort()
        print(f"{n} keep-alive connections held, {len(lat)} GetEventSourceMapping in {took:.1f} s: "
              f"errors {errors}, p50 {statistics.median(lat) * 1000:.2f} ms, "
              f"p99 {lat[int(len(lat) * 0.99) - 1] * 1000:.2f} ms")
        cerr, ctook = asyncio.run(churn(esmd.port, path, cycles))
        print(f"{cycles} connect/request/close cycles in {ctook:.1f} s: errors {cerr}")
        print(f"a body of 100 MiB announced: {oversized(esmd.port)} before any of it was sent")
        cut = slowloris(esmd.port)
        print(f"slowloris (a header byte a second): closed by esmd after {cut:.0f} s" if cut else
              "slowloris: still open after 120 s")
        with open(f"/proc/{esmd.proc.pid}/status") as f:
            rss = next(line.split()[1] for line in f if line.startswith("VmRSS:"))
        print(f"esmd RSS at the end: {int(rss) // 1024} MiB, open fds {len(os.listdir(f'/proc/{esmd.proc.pid}/fd'))}")
        return 1 if errors or cerr or not cut else 0


if __name__ == "__main__":
    sys.exit(main())
