#!/usr/bin/env python3
"""Kinesis data plane: esmd vs kinesalite vs moto, side by side in one run.

For each of esmd (durable defaults), kinesalite (in memory) and moto, one server at a time:
  1. PutRecord requests/s: wrk, --connections keep-alive connections, JSON 1.1, one record per
     request with a unique partition key and --data-bytes of data, into a stream of
     --put-shards shards (bench/wrk/kinesis.lua put);
  2. GetRecords records/s: a one-shard stream pre-filled (PutRecords, 500 a request, from
     --workers threads; not timed) with --get-fill records of --data-bytes, then wrk: each
     connection follows its own chain of GetRecords (Limit --get-limit, default 1,000: moto
     takes seconds over a page of 10,000) through NextShardIterator from TRIM_HORIZON, and
     starts over at the tip (bench/wrk/kinesis.lua get). Records/s = records received / run
     time.
For reference only (not a target): esmd with --durability normal (no fsync per commit) repeats
both.

Every non-2xx response or failed PutRecords entry is reported and makes the script exit 1.
All servers bind 127.0.0.1 only; every process started here is stopped on exit.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
import time

from benchlib import (Client, Log, Moto, Server, auth, describe_machine, fmt_kib, load_average, run_all, version,
                      wait_until_quiet, work_dir, write_results, yes)
import benchlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LUA = os.path.join(HERE, "wrk", "kinesis.lua")
KINESALITE_JS = os.path.join(HERE, "kinesalite_server.js")
NODE_DIR = os.path.join(HERE, ".node")
SHARD0 = "shardId-000000000000"

failures: list[str] = []


class Kinesalite(Server):
    name = "kinesalite"
    health_path = "/health"

    def __init__(self, node: str, module: str, log_path: str):
        super().__init__(log_path)
        self.node, self.module = node, module

    def argv(self) -> list[str]:
        return [self.node, KINESALITE_JS, self.module, str(self.port)]


class Kinesis:
    def __init__(self, port: int):
        self.client = Client(port)

    def call(self, op: str, payload: dict) -> dict:
        headers = {**auth("kinesis"), "Content-Type": "application/x-amz-json-1.1",
                   "X-Amz-Target": f"Kinesis_20131202.{op}"}
        status, body = self.client.call("POST", "/", json.dumps(payload), headers)
        if not 200 <= status < 300:
            raise RuntimeError(f"{op}: HTTP {status}: {body[:300]!r}")
        return json.loads(body) if body.strip() else {}

    def create_stream(self, name: str, shards: int) -> None:
        self.call("CreateStream", {"StreamName": name, "ShardCount": shards})
        deadline = time.time() + 30
        while time.time() < deadline:
            d = self.call("DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]
            if d["StreamStatus"] == "ACTIVE":
                return
            time.sleep(0.05)
        raise RuntimeError(f"stream {name} not ACTIVE after 30 s")

    def fill(self, name: str, n: int, data_bytes: int, workers: int) -> float:
        data = base64.b64encode(b"f" * data_bytes).decode()
        batches = [(i, min(500, n - i)) for i in range(0, n, 500)]

        def put(b: tuple[int, int]) -> None:
            start, count = b
            out = self.call("PutRecords", {"StreamName": name, "Records": [
                {"Data": data, "PartitionKey": f"k{start + j}"} for j in range(count)]})
            if out.get("FailedRecordCount"):
                raise RuntimeError(f"PutRecords: {out['FailedRecordCount']} failed records")

        return run_all(workers, put, batches)


def run_wrk(port: int, args_: list[str], args, server_pid: int) -> dict:
    w = benchlib.run_wrk(LUA, port, args_, args.wrk_threads, args.connections, args.duration, server_pid)
    for k in ("records", "iterators", "empty"):
        w[k] = w["counters"].get(k, 0)
    # wrk's own duration: responses / (responses per second).
    w["secs"] = w["total"] / w["rps"] if w["rps"] else args.duration
    w["records_ps"] = w["records"] / w["secs"] if w["secs"] else 0.0
    w["cpu_us_per_record"] = w["server_cpu_s"] / w["records"] * 1e6 if w["records"] else 0.0
    return w


def check_wrk(label: str, op: str, w: dict, log) -> None:
    line = (f"{label}: {op}: {w['rps']:,.0f} req/s, {w['records_ps']:,.0f} records/s, statuses {w['statuses']}, "
            f"p50 {w['p50']} p99 {w['p99']}; server CPU {w['cpu_us_per_req']:.0f} us/req "
            f"({w['cpu_us_per_record']:.2f} us/record), wrk CPU {w['wrk_cpu_s']:.1f} s, other processes "
            f"{w['others_share']:.0%} of the CPUs")
    if op == "GetRecords":
        line += f"; {w['iterators']} GetShardIterator, {w['empty']} empty pages"
    if w["socket_errors"]:
        line += f", socket errors: {w['socket_errors']}"
    log(line)
    if w["non2xx"]:
        failures.append(f"{label} {op}: {w['non2xx']} non-2xx responses {w['statuses']}")
        log(f"FAIL: {failures[-1]}")
    if w["records"] == 0:
        failures.append(f"{label} {op}: no record at all")
        log(f"FAIL: {failures[-1]}")


def measure(s: Server, label: str, args, log) -> dict:
    r: dict = {}
    k = Kinesis(s.port)
    k.create_stream("bench-put", args.put_shards)
    if args.wait_quiet:
        wait_until_quiet(min(60.0, args.wait_quiet), log, sample_s=1.0, pause_s=4.0)
    r["put"] = run_wrk(s.port, ["put", "bench-put", str(args.data_bytes)], args, s.proc.pid)
    check_wrk(label, "PutRecord", r["put"], log)

    k.create_stream("bench-get", 1)
    secs = k.fill("bench-get", args.get_fill, args.data_bytes, args.workers)
    log(f"{label}: pre-filled {args.get_fill:,} records in {secs:.1f} s ({args.get_fill / secs:,.0f}/s with "
        f"PutRecords, {args.workers} threads)")
    if args.wait_quiet:
        wait_until_quiet(min(60.0, args.wait_quiet), log, sample_s=1.0, pause_s=4.0)
    r["get"] = run_wrk(s.port, ["get", "bench-get", SHARD0, str(args.get_limit)], args, s.proc.pid)
    check_wrk(label, "GetRecords", r["get"], log)
    r["rss_kib"] = s.rss()
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(ROOT, "build-bench", "esmd"), help="esmd binary")
    ap.add_argument("--node", default=shutil.which("node") or "node", help="Node for kinesalite")
    ap.add_argument("--kinesalite", default=os.path.join(NODE_DIR, "node_modules", "kinesalite"),
                    help="kinesalite's package directory")
    ap.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=8, help="threads that pre-fill the GetRecords stream")
    ap.add_argument("--data-bytes", type=int, default=64, help="bytes of data per record")
    ap.add_argument("--put-shards", type=int, default=4, help="shards of the PutRecord stream")
    ap.add_argument("--get-fill", type=int, default=100_000, help="records in the GetRecords stream")
    ap.add_argument("--get-limit", type=int, default=1000,
                    help="GetRecords Limit (0: none, the server's maximum of 10,000)")
    ap.add_argument("--servers", default="esmd,kinesalite,moto", help="comma-separated subset to compare")
    ap.add_argument("--no-reference", action="store_true", help="skip the esmd --durability normal reference")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="wait up to S seconds for the machine's CPUs to be mostly idle before starting, "
                         "and up to min(S, 60) seconds before each measured run")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "kinesis.md"))
    args = ap.parse_args()
    servers = [x for x in args.servers.split(",") if x]
    args.esmd, args.kinesalite = os.path.abspath(args.esmd), os.path.abspath(args.kinesalite)

    if not shutil.which("wrk"):
        sys.exit("wrk not found (bench/kinesis.sh installs it)")
    if "esmd" in servers and not os.access(args.esmd, os.X_OK):
        sys.exit(f"no esmd binary at {args.esmd} (bench/kinesis.sh builds it)")
    if "kinesalite" in servers and not os.path.exists(os.path.join(args.kinesalite, "package.json")):
        sys.exit(f"no kinesalite at {args.kinesalite} (bench/kinesis.sh installs it)")
    if "moto" in servers:
        import moto  # noqa: F401  (fail early when moto is missing)

    work = work_dir("esmd-bench-kinesis-")
    log = Log()
    busy = wait_until_quiet(args.wait_quiet, log)
    started = time.time()
    versions = {
        "esmd": version([args.esmd, "--version"]) if "esmd" in servers else "",
        "moto": "moto " + version([sys.executable, "-c", "import moto; print(moto.__version__)"])
        if "moto" in servers else "",
        "kinesalite": ("kinesalite " + json.load(open(os.path.join(args.kinesalite, "package.json")))["version"]
                       + " on Node " + version([args.node, "--version"])) if "kinesalite" in servers else "",
        "wrk": version(["wrk", "-v"]).split("\n")[0].split(" [")[0],
    }
    machine = describe_machine(work, busy, log)

    results: dict = {}
    counter = iter(range(1_000_000))
    runs: list[tuple[str, str]] = []
    for name in servers:
        if name == "esmd":
            runs += [("esmd", "full")] + ([] if args.no_reference else [("esmd (normal)", "normal")])
        else:
            runs.append((name, ""))
    for label, durability in runs:
        if label.startswith("esmd"):
            d = os.path.join(work, f"esmd-{durability}-{next(counter)}")
            os.makedirs(d)
            s: Server = benchlib.Esmd(args.esmd, d, os.path.join(work, "esmd.log"), durability)
        elif label == "kinesalite":
            s = Kinesalite(args.node, args.kinesalite, os.path.join(work, "kinesalite.log"))
        elif label == "moto":
            s = Moto(os.path.join(work, "moto.log"))
        else:
            sys.exit(f"unknown server {label}")
        t = s.launch()
        log(f"{label}: up in {t * 1000:.0f} ms on port {s.port}")
        try:
            results[label] = measure(s, label, args, log)
        finally:
            s.stop()

    machine["load_after"] = load_average()
    table = render(args, machine, versions, results, time.time() - started)
    write_results(args.out, table, log, ((label, op, r[op]) for label, r in results.items() for op in ("put", "get")))
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def render(args, machine, versions, results, secs) -> str:
    def ratio(a: float, b: float) -> str:
        if b <= 0:
            return "—"
        x = a / b
        return f"{x:,.0f}×" if x >= 10 else f"{x:.1f}×" if x >= 1 else f"{x:.2f}×"

    cols = [c for c in ("esmd", "kinesalite", "moto") if c in results]
    others = [c for c in ("kinesalite", "moto") if c in results and "esmd" in results]
    head = "| metric | " + " | ".join(cols) + "".join(f" | esmd ÷ {o}" for o in others) + " | target | met |"
    sep = "|---|" + "---:|" * (len(cols) + len(others)) + "---|---|"
    rows = []

    def row(name, fn, ratio_fn=None, target="", met=""):
        rows.append([name] + [fn(results[c]) for c in cols]
                    + [ratio_fn(results["esmd"], results[o]) if ratio_fn else "" for o in others] + [target, met])

    kin = results.get("kinesalite")
    e = results.get("esmd")
    put_met = yes(e["put"]["ok_rps"] >= 5 * kin["put"]["ok_rps"] and e["put"]["non2xx"] == 0) if e and kin else ""
    get_met = yes(e["get"]["records_ps"] >= 10 * kin["get"]["records_ps"] and e["get"]["non2xx"] == 0) \
        if e and kin else ""
    row("PutRecord req/s (2xx)", lambda r: f"{r['put']['ok_rps']:,.0f}",
        lambda a, b: ratio(a["put"]["ok_rps"], b["put"]["ok_rps"]), "≥ 5× kinesalite", put_met)
    row("PutRecord non-2xx / responses", lambda r: f"{r['put']['non2xx']} / {r['put']['total']:,}")
    row("PutRecord latency p50 / p99", lambda r: f"{r['put']['p50']} / {r['put']['p99']}")
    row("PutRecord server CPU per request", lambda r: f"{r['put']['cpu_us_per_req']:,.0f} µs",
        lambda a, b: ratio(a["put"]["cpu_us_per_req"], b["put"]["cpu_us_per_req"]))
    row("GetRecords records/s", lambda r: f"{r['get']['records_ps']:,.0f}",
        lambda a, b: ratio(a["get"]["records_ps"], b["get"]["records_ps"]), "≥ 10× kinesalite", get_met)
    row("GetRecords req/s (2xx; GetShardIterator included)", lambda r: f"{r['get']['ok_rps']:,.0f}",
        lambda a, b: ratio(a["get"]["ok_rps"], b["get"]["ok_rps"]))
    row("GetRecords non-2xx / responses", lambda r: f"{r['get']['non2xx']} / {r['get']['total']:,}")
    row("GetRecords latency p50 / p99", lambda r: f"{r['get']['p50']} / {r['get']['p99']}")
    row("GetRecords server CPU per record", lambda r: f"{r['get']['cpu_us_per_record']:.2f} µs",
        lambda a, b: ratio(a["get"]["cpu_us_per_record"], b["get"]["cpu_us_per_record"]))
    row("CPUs taken by other processes during the Put / Get runs",
        lambda r: f"{r['put']['others_share']:.0%} / {r['get']['others_share']:.0%}")
    row("server RSS after the runs", lambda r: fmt_kib(r["rss_kib"]))

    limit = f"Limit {args.get_limit:,}" if args.get_limit else "no Limit (10,000 records a page)"
    out = [
        "# Kinesis: esmd vs kinesalite vs moto",
        "",
        f"{machine['date']} · {machine['cores']} cores ({machine['cpu']}) · Linux {machine['kernel']} · "
        + " · ".join(v for v in (f"{versions['esmd']} ({machine['rev']})" if versions["esmd"] else "",
                                 versions["kinesalite"], versions["moto"], versions["wrk"]) if v)
        + f" · other processes used {machine['busy_before']:.0%} of the CPUs just before the run; "
        f"load average {machine['load_before']} before, {machine['load_after']} after",
        "",
        f"## PutRecord and GetRecords, wrk `-t{args.wrk_threads} -c{args.connections} -d{args.duration:g}s`",
        "",
        head, sep,
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    bound = args.connections / machine["fsync_ms"] * 1000 if machine["fsync_ms"] > 0 else 0
    notes = [
        "",
        "Notes:",
        "",
        f"- esmd: file-backed SQLite in a fresh temporary `--data-dir` on {machine['data_fs']}, `--durability full`: "
        f"every record is fsynced before its 200. One fdatasync took {machine['fsync_ms']:.2f} ms when the run "
        f"began; with {args.connections} connections at most {args.connections} PutRecords share an fsync, so the "
        f"durable rate is bounded by about {bound:,.0f} req/s on this disk, whatever the CPU.",
        "- kinesalite: in memory (its CLI's default without --path), streams ACTIVE at once, bound to 127.0.0.1 "
        "(`bench/kinesalite_server.js`). moto: `python3 -m moto.server` (in memory); it answers "
        "`Connection: close`, so wrk reconnects for each moto request.",
        f"- PutRecord: {args.data_bytes} bytes of data, a unique partition key per request, a stream of "
        f"{args.put_shards} shards. GetRecords: one shard pre-filled with {args.get_fill:,} records of "
        f"{args.data_bytes} bytes (not timed); {limit}; each connection reads the shard from TRIM_HORIZON to the tip "
        "through NextShardIterator and starts again; the GetShardIterator requests that start each pass count as "
        "requests, not records.",
        "- req/s counts 2xx responses; server CPU is the server process's user+system time during the run. wrk runs "
        "on the same cores as the server.",
    ]
    if "esmd (normal)" in results:
        r = results["esmd (normal)"]
        notes.append(f"- Reference, not a target: esmd with `--durability normal` (survives kill -9, not a power "
                     f"loss): PutRecord {r['put']['ok_rps']:,.0f} req/s ({r['put']['cpu_us_per_req']:.0f} µs "
                     f"CPU/request), GetRecords {r['get']['records_ps']:,.0f} records/s.")
    notes.append(f"- The whole run took {secs:.0f} s.")
    return "\n".join(out + notes) + "\n"


if __name__ == "__main__":
    sys.exit(main())
