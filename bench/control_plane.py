#!/usr/bin/env python3
"""esmd vs moto: start-up, memory and control-plane throughput, measured in one run.

For each server, in this order:
  1. start-up: process start -> first 200 from a health request (esmd GET /_esmd/health,
     moto GET /moto-api/), and -> first 200 from ListEventSourceMappings; median of --reps;
  2. idle RSS (VmRSS of the server process, --idle-wait seconds after its first answer);
  3. RSS after creating --mappings SQS mappings (moto first needs an IAM role, a function and
     one SQS queue per mapping; esmd needs only a registered function);
  4. GetEventSourceMapping and UpdateEventSourceMapping requests/s with wrk over keep-alive,
     --connections connections, every response status counted (bench/wrk/mappings.lua).

esmd runs with its durable defaults: a file-backed SQLite database in a fresh temporary
--data-dir and --durability full (each commit fsynced before the 2xx), with
--transition-delay-ms 0 so that a mapping is Enabled again right after its Update commits.
Both servers bind 127.0.0.1 only; every process started here is stopped on exit.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import statistics
import sys
import time
import urllib.parse
import zipfile

from benchlib import (MAPPINGS, MOTO_ACCOUNT, Client, Log, auth, cpu_ticks, describe_machine, fmt_kib,
                      load_average, run_all, version, wait_until_quiet, work_dir, write_results, yes)
import benchlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LUA = os.path.join(HERE, "wrk", "mappings.lua")
FUNCTION = "bench-fn"


# ---------------------------------------------------------------------------------------------
# Servers (start-up is polled every 0.5 ms)


class Esmd(benchlib.Esmd):
    poll_s = 0.0005

    def __init__(self, binary: str, data_dir: str, log_path: str, durability: str = "full"):
        super().__init__(binary, data_dir, log_path, durability, [f"{FUNCTION}=builtin:ok"])


class Moto(benchlib.Moto):
    poll_s = 0.0005


# ---------------------------------------------------------------------------------------------
# Creating what the mappings need, then the mappings, with bounded concurrency


def expect(status: int, body: bytes, what: str) -> None:
    if not 200 <= status < 300:
        raise RuntimeError(f"{what}: HTTP {status}: {body[:300]!r}")


def moto_function(client: Client) -> None:
    """moto's CreateEventSourceMapping needs a real function, and CreateFunction a real IAM role."""
    form = {**auth("iam"), "Content-Type": "application/x-www-form-urlencoded"}
    role = {"Action": "CreateRole", "Version": "2010-05-08", "RoleName": "bench-role",
            "AssumeRolePolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})}
    expect(*client.call("POST", "/", urllib.parse.urlencode(role), form), "CreateRole")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return event\n")
    fn = {"FunctionName": FUNCTION, "Runtime": "python3.12", "Handler": "index.handler",
          "Role": f"arn:aws:iam::{MOTO_ACCOUNT}:role/bench-role",
          "Code": {"ZipFile": base64.b64encode(buf.getvalue()).decode()}}
    expect(*client.call("POST", "/2015-03-31/functions", json.dumps(fn),
                        {**auth("lambda"), "Content-Type": "application/json"}), "CreateFunction")


def create_queues(client: Client, n: int, workers: int) -> float:
    """One SQS queue per mapping (SQS query protocol, which both servers speak)."""
    sqs = {**auth("sqs"), "Content-Type": "application/x-www-form-urlencoded"}

    def create_queue(i: int) -> None:
        q = {"Action": "CreateQueue", "Version": "2012-11-05", "QueueName": f"bench-q{i}"}
        expect(*client.call("POST", "/", urllib.parse.urlencode(q), sqs), f"CreateQueue bench-q{i}")

    return run_all(workers, create_queue, range(n))


def create_mappings(client: Client, account: str, n: int, workers: int) -> tuple[list[str], float]:
    uuids: list[str | None] = [None] * n
    headers = {**auth("lambda"), "Content-Type": "application/json"}

    def create(i: int) -> None:
        body = json.dumps({"FunctionName": FUNCTION, "EventSourceArn": f"arn:aws:sqs:us-east-1:{account}:bench-q{i}"})
        status, resp = client.call("POST", MAPPINGS, body, headers)
        expect(status, resp, f"CreateEventSourceMapping #{i}")
        uuids[i] = json.loads(resp)["UUID"]

    secs = run_all(workers, create, range(n))
    return [u for u in uuids if u], secs


# ---------------------------------------------------------------------------------------------
# wrk


def run_wrk(port: int, op: str, uuid_file: str, threads: int, connections: int, duration: int,
            server_pid: int) -> dict:
    return benchlib.run_wrk(LUA, port, [op, uuid_file, str(threads)], threads, connections, duration, server_pid)


# ---------------------------------------------------------------------------------------------
# The run


def measure(server_factory, label: str, args, work: str, log) -> dict:
    r: dict = {}
    probes = {"health": None, "list": (MAPPINGS, auth("lambda"))}
    for probe, spec in probes.items():
        times = []
        for i in range(args.reps):
            s = server_factory(f"start-{probe}-{i}")
            times.append(s.launch(spec))
            s.stop()
        r[f"start_{probe}"] = statistics.median(times)
        r[f"start_{probe}_all"] = times
        log(f"{label}: start -> first {probe} 200: median {fmt_s(r[f'start_{probe}'])} "
            f"({', '.join(fmt_s(t) for t in times)})")

    s = server_factory("main")
    s.launch()
    time.sleep(args.idle_wait)
    r["idle_rss"] = s.rss()
    log(f"{label}: idle RSS {fmt_kib(r['idle_rss'])}")
    client = Client(s.port)
    if isinstance(s, Moto):
        moto_function(client)
    r["queues_secs"] = create_queues(client, args.mappings, args.workers)
    r["queues_rss"] = s.rss()
    log(f"{label}: {args.mappings} queues in {r['queues_secs']:.1f}s; RSS {fmt_kib(r['queues_rss'])}")
    uuids, secs = create_mappings(client, s.account, args.mappings, args.workers)
    r["create_secs"] = secs
    time.sleep(1)
    r["full_rss"] = s.rss()
    # esmd runs a poller per SQS mapping (moto runs none): what do 10,000 idle mappings cost?
    t0 = cpu_ticks(s.proc.pid)
    time.sleep(args.idle_cpu_window)
    r["idle_cpu"] = (cpu_ticks(s.proc.pid) - t0) / os.sysconf("SC_CLK_TCK") / args.idle_cpu_window
    log(f"{label}: {len(uuids)} mappings in {secs:.1f}s ({len(uuids) / secs:.0f}/s); RSS {fmt_kib(r['full_rss'])}")
    log(f"{label}: CPU while idle with {args.mappings} mappings: {r['idle_cpu']:.1%} of a core")
    uuid_file = os.path.join(work, f"{label}-uuids.txt")
    with open(uuid_file, "w") as f:
        f.write("\n".join(uuids) + "\n")
    for op in ("get", "update"):
        w = run_wrk(s.port, op, uuid_file, args.wrk_threads, args.connections, args.duration, s.proc.pid)
        r[op] = w
        log(f"{label}: {op}: {w['rps']:.0f} req/s, {w['ok_rps']:.0f} 2xx/s, statuses {w['statuses']}, "
            f"p50 {w['p50']} p99 {w['p99']}; server CPU {w['cpu_us_per_req']:.0f} us/req, "
            f"wrk CPU {w['wrk_cpu_s']:.1f} s" + (f", socket errors: {w['socket_errors']}" if w["socket_errors"] else ""))
    r["server"] = s
    r["uuid_file"] = uuid_file
    return r


def fmt_s(t: float) -> str:
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(ROOT, "build-bench", "esmd"), help="esmd binary")
    ap.add_argument("--reps", type=int, default=5, help="start-up repetitions (median)")
    ap.add_argument("--mappings", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=8, help="concurrent creators")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--idle-wait", type=float, default=1.0, help="seconds between start and the idle RSS reading")
    ap.add_argument("--idle-cpu-window", type=float, default=20.0, metavar="S",
                    help="seconds over which CPU use is measured with the mappings in place and no requests "
                         "(20 s = one SQS long-poll cycle of esmd's pollers)")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="wait up to S seconds for the machine's CPUs to be mostly idle before starting")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "control_plane.md"))
    args = ap.parse_args()

    for tool in ("wrk",):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (bench/control_plane.sh installs it)")
    if not os.access(args.esmd, os.X_OK):
        sys.exit(f"no esmd binary at {args.esmd} (bench/control_plane.sh builds it)")
    import moto  # noqa: F401  (fail early when moto is missing)

    work = work_dir("esmd-bench-")
    log = Log()

    busy = wait_until_quiet(args.wait_quiet, log)
    started = time.time()
    esmd_version = version([args.esmd, "--version"])
    moto_version = version([sys.executable, "-c", "import moto; print(moto.__version__)"])
    wrk_version = version(["wrk", "-v"]).split("\n")[0].strip()
    machine = describe_machine(work, busy, log)

    counter = iter(range(1_000_000))

    def new_esmd(tag: str, durability: str = "full") -> Esmd:
        d = os.path.join(work, f"esmd-{tag}-{next(counter)}")
        os.makedirs(d)
        return Esmd(args.esmd, d, os.path.join(work, "esmd.log"), durability)

    def new_moto(tag: str) -> Moto:
        return Moto(os.path.join(work, "moto.log"))

    e = measure(new_esmd, "esmd", args, work, log)
    # Keep only one server alive at a time so that neither competes with the other for CPU.
    esmd_srv: Esmd = e.pop("server")
    esmd_srv.stop()
    # A restart over the database that now holds the mappings (no schema to create).
    restarts = []
    for _ in range(args.reps):
        again = Esmd(args.esmd, esmd_srv.data_dir, os.path.join(work, "esmd.log"))
        restarts.append(again.launch())
        again.stop()
    e["restart"] = statistics.median(restarts)
    log(f"esmd: restart over {args.mappings} mappings -> first health 200: median {fmt_s(e['restart'])} "
        f"({', '.join(fmt_s(t) for t in restarts)})")
    # Reference, not a target: the same mappings under --durability normal (no fsync per commit)
    # shows how much of Update's time is the disk's fsync.
    ref = Esmd(args.esmd, esmd_srv.data_dir, os.path.join(work, "esmd.log"), "normal")
    ref.launch()
    e["update_normal"] = run_wrk(ref.port, "update", e["uuid_file"], args.wrk_threads, args.connections, args.duration,
                                 ref.proc.pid)
    ref.stop()
    w = e["update_normal"]
    log(f"esmd (reference, --durability normal): update {w['rps']:.0f} req/s, statuses {w['statuses']}, "
        f"server CPU {w['cpu_us_per_req']:.0f} us/req")

    m = measure(new_moto, "moto", args, work, log)
    m.pop("server").stop()

    machine["load_after"] = load_average()
    table = render(args, machine, e, m, esmd_version, moto_version, wrk_version, time.time() - started)
    write_results(args.out, table, log,
                  ((label, op, r[op]) for label, r in (("esmd", e), ("moto", m)) for op in ("get", "update")))
    errors = e["get"]["non2xx"] + e["update"]["non2xx"] + m["get"]["non2xx"] + m["update"]["non2xx"]
    return 1 if errors else 0


def render(args, machine, e, m, esmd_version, moto_version, wrk_version, secs) -> str:
    def times(a: float, b: float, word: str) -> str:
        return f"{b / a:,.0f}× {word}" if a > 0 else "—"

    rows = [
        (f"start → first health 200 (median of {args.reps})", fmt_s(e["start_health"]), fmt_s(m["start_health"]),
         times(e["start_health"], m["start_health"], "faster"), "< 20 ms", yes(e["start_health"] < 0.020)),
        (f"start → first ListEventSourceMappings 200 (median of {args.reps})", fmt_s(e["start_list"]),
         fmt_s(m["start_list"]), times(e["start_list"], m["start_list"], "faster"), "", ""),
        (f"esmd restart over its {args.mappings:,} mappings → first health 200 (median of {args.reps})",
         fmt_s(e["restart"]), "—", "", "", ""),
        ("idle RSS", fmt_kib(e["idle_rss"]), fmt_kib(m["idle_rss"]), times(e["idle_rss"], m["idle_rss"], "smaller"),
         "< 10 MB", yes(e["idle_rss"] * 1024 < 10_000_000)),
        (f"RSS with {args.mappings:,} SQS queues", fmt_kib(e["queues_rss"]), fmt_kib(m["queues_rss"]),
         times(e["queues_rss"], m["queues_rss"], "smaller"), "", ""),
        (f"RSS with {args.mappings:,} SQS queues + {args.mappings:,} mappings", fmt_kib(e["full_rss"]),
         fmt_kib(m["full_rss"]),
         times(e["full_rss"], m["full_rss"], "smaller"), "", ""),
    ]
    rows.append((f"CPU at rest with those mappings ({args.idle_cpu_window:g} s)",
                 f"{e['idle_cpu']:.1%} of a core", f"{m['idle_cpu']:.1%} of a core", "", "", ""))
    for op, name in (("get", "GetEventSourceMapping"), ("update", "UpdateEventSourceMapping")):
        a, b = e[op], m[op]
        rows += [
            (f"{name} req/s (2xx)", f"{a['ok_rps']:,.0f}", f"{b['ok_rps']:,.0f}",
             times(b["ok_rps"], a["ok_rps"], "more"), "≥ 100× moto",
             yes(b["ok_rps"] > 0 and a["ok_rps"] >= 100 * b["ok_rps"] and a["non2xx"] == 0)),
            (f"{name} non-2xx / responses", f"{a['non2xx']} / {a['total']:,}", f"{b['non2xx']} / {b['total']:,}",
             "", "0", yes(a["non2xx"] == 0 and b["non2xx"] == 0)),
            (f"{name} latency p50 / p99", f"{a['p50']} / {a['p99']}", f"{b['p50']} / {b['p99']}", "", "", ""),
            (f"{name} server CPU per request", f"{a['cpu_us_per_req']:,.0f} µs", f"{b['cpu_us_per_req']:,.0f} µs",
             times(a["cpu_us_per_req"], b["cpu_us_per_req"], "less"), "", ""),
        ]

    un = e["update_normal"]
    out = [
        "# Control plane: esmd vs moto",
        "",
        f"{machine['date']} · {machine['cores']} cores ({machine['cpu']}) · Linux {machine['kernel']} · "
        f"{esmd_version} ({machine['rev']}) · moto {moto_version} · {wrk_version.split(' [')[0]} · "
        f"other processes used {machine['busy_before']:.0%} of the CPUs just before the run; "
        f"load average {machine['load_before']} before, {machine['load_after']} after",
        "",
        "| metric | esmd | moto | esmd vs moto | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += [
        "",
        f"- esmd: file-backed SQLite in a fresh temporary `--data-dir` on {machine['data_fs']}, `--durability full` "
        f"(each commit fsynced before its 2xx; one fdatasync on this disk took {machine['fsync_ms']:.2f} ms on "
        "average when the run began), `--transition-delay-ms 0`, default log level and threads.",
        f"- Each mapping has its own SQS queue, created first on the same server (both refuse a mapping to a "
        "queue that does not exist); moto also needs an IAM role and a function (zip code, no Docker). "
        "esmd's function is `--function bench-fn=builtin:ok`.",
        "- moto: `python3 -m moto.server`, health `GET /moto-api/`. moto answers `Connection: close`, so wrk "
        "reconnects for each moto request.",
        f"- wrk `-t{args.wrk_threads} -c{args.connections} -d{args.duration}s` with `bench/wrk/mappings.lua`, cycling "
        f"through all {args.mappings:,} mappings; Update sends `{{\"BatchSize\": 1..10}}`. req/s counts 2xx "
        "responses only. Server CPU is the server process's user+system time during the run / responses.",
        f"- CPU at rest: the server's CPU time over {args.idle_cpu_window:g} s with the mappings in place and no "
        "requests. esmd runs one poller per SQS mapping, each long-polling its queue 20 s at a time; moto runs none.",
        f"- esmd start-up includes creating the SQLite database and its schema in the fresh `--data-dir` "
        "(about ten fdatasyncs); the restart row opens the existing one.",
        "- esmd for reference, not a target: UpdateEventSourceMapping with `--durability normal` (no fsync per commit): "
        f"{un['ok_rps']:,.0f} 2xx/s, {un['non2xx']} non-2xx, {un['cpu_us_per_req']:,.0f} µs CPU per request.",
        f"- with {args.workers} concurrent clients, creating the {args.mappings:,} queues took esmd "
        f"{e['queues_secs']:.1f} s, moto {m['queues_secs']:.1f} s; the {args.mappings:,} mappings esmd "
        f"{e['create_secs']:.1f} s, moto {m['create_secs']:.1f} s. The whole run took {secs:.0f} s.",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
