#!/usr/bin/python3
"""Kafka: esmd's broker vs librdkafka's in-memory mock cluster, side by side in one run.

For each of esmd (durable defaults: file-backed SQLite, `--durability full`) and the mock
(bench/kafka_mock.c, one broker), one at a time, on a topic of --partitions partitions created
up front on both:
  1. produce: whole-process wall time of `kcat -P -b … -t bench` sending --records small records
     (the lines of `seq 1 N`, 1-7 bytes each, no key) from a file, with kcat's defaults (acks=all,
     librdkafka batching); then the stored count (high minus low watermarks) is checked;
  2. consume: wall time from starting `kcat -C -b … -t bench -e -o beginning -q` until it has
     printed every record the topic holds (and, as a second row, the whole process, which also
     waits for the broker's empty answer to the final fetch: Kafka and esmd hold it for
     fetch.wait.max.ms); the lines it printed are counted and compared with what was produced
     (the mock keeps only about 5 MB per partition in memory, reference §A.7: whatever it
     dropped is reported, not hidden);
  3. produce latency: --latency-count acks=all produce round trips of one record each with
     confluent-kafka (linger.ms=0, the next record sent only after the previous one's delivery
     report), p50/p99/mean, after --latency-warmup unmeasured ones.
And for esmd alone (the issue's targets): start-up with the Kafka listener on, from exec to the
Kafka port accepting a TCP connection (fresh --data-dir each time, median of --startup-reps), and
idle RSS one second after that. The mock's start-up is shown for scale.

Runs under Debian's /usr/bin/python3 (confluent-kafka). All servers bind 127.0.0.1; every
process started here is stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time

import benchlib
from benchlib import (Log, describe_machine, fmt_kib, free_port, load_average, version, wait_until_quiet, work_dir,
                      write_results, yes)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOPIC = "bench"
LATENCY_TOPIC = "latency"

failures: list[str] = []


class Esmd(benchlib.Esmd):
    """esmd with its Kafka listener on a free port."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kafka_port = free_port()
        while self.kafka_port == self.port:
            self.kafka_port = free_port()

    def argv(self) -> list[str]:
        return super().argv() + ["--kafka-port", str(self.kafka_port)]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid


class Mock:
    """bench/kafka_mock: one librdkafka mock broker; the topics are created when it starts."""

    name = "mock"

    def __init__(self, binary: str, topics: list[str], log_path: str):
        self.binary, self.topics, self.log_path = binary, topics, log_path
        self.proc: subprocess.Popen | None = None
        self.bootstrap = ""

    def launch(self) -> float:
        """Seconds from exec to the printed port accepting a connection."""
        log = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([self.binary, *self.topics], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=log, start_new_session=True)
        benchlib._children.append(self.proc)
        log.close()
        self.bootstrap = self.proc.stdout.readline().decode().strip()
        if not self.bootstrap:
            raise RuntimeError(f"the mock printed no address; see {self.log_path}")
        host, port = self.bootstrap.rsplit(":", 1)
        return wait_accepting(host, int(port), t0, self.proc)

    def stop(self) -> None:
        if self.proc:
            self.proc.stdin.close()
            benchlib._stop(self.proc)
            benchlib._children.remove(self.proc)
            self.proc = None

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid


def wait_accepting(host: str, port: int, t0: float, proc: subprocess.Popen, deadline_s: float = 30) -> float:
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return time.perf_counter() - t0
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before accepting on {port}")
        if time.perf_counter() - t0 > deadline_s:
            raise RuntimeError(f"nothing accepted on {port} within {deadline_s}s")
        time.sleep(0.0005)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str], server_pid: int, stdin=None, timeout: float = 900) -> dict:
    """Runs cmd to its end: wall seconds, its CPU, the server's CPU, its output and exit code."""
    hz = os.sysconf("SC_CLK_TCK")
    cpu0, server0 = children_cpu(), benchlib.cpu_ticks(server_pid)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=stdin, capture_output=True, timeout=timeout)
    wall = time.perf_counter() - t0
    return {"cmd": " ".join(cmd), "wall": wall, "client_cpu": children_cpu() - cpu0,
            "server_cpu": (benchlib.cpu_ticks(server_pid) - server0) / hz, "rc": p.returncode,
            "stdout": p.stdout, "stderr": p.stderr.decode(errors="replace")}


def timed_until_lines(cmd: list[str], lines: int, server_pid: int, timeout: float = 900) -> dict:
    """Runs cmd until it has printed `lines` lines (or ended): wall seconds to that line, then
    stops it. For a consumer, the time to receive everything, whatever its shutdown costs."""
    hz = os.sysconf("SC_CLK_TCK")
    cpu0, server0 = children_cpu(), benchlib.cpu_ticks(server_pid)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen, deadline = 0, t0 + timeout
    while seen < lines and time.perf_counter() < deadline:
        chunk = p.stdout.read1(1 << 20)
        if not chunk:
            break
        seen += chunk.count(b"\n")
    wall = time.perf_counter() - t0
    server_cpu = (benchlib.cpu_ticks(server_pid) - server0) / hz
    p.terminate()
    _, err = p.communicate(timeout=30)
    return {"cmd": " ".join(cmd), "wall": wall, "client_cpu": children_cpu() - cpu0, "server_cpu": server_cpu,
            "rc": 0 if seen >= lines else p.returncode, "lines": seen, "stdout": b"",
            "stderr": err.decode(errors="replace")}


def stored(bootstrap: str, topic: str, partitions: int) -> tuple[int, int]:
    """(records held, records ever written) of topic: sums of high - low and of high watermarks."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermarks"})
    try:
        held = written = 0
        for p in range(partitions):
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            held += high - low
            written += high
        return held, written
    finally:
        c.close()


def produce_latency(bootstrap: str, count: int, warmup: int) -> dict:
    """acks=all round trips of one record each: produce, then poll until its delivery report."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    samples: list[float] = []
    errors = []
    for i in range(warmup + count):
        done: list[float] = []
        t0 = time.perf_counter()
        p.produce(LATENCY_TOPIC, value=b"%d" % i, partition=0,
                  on_delivery=lambda err, msg: (done.append(time.perf_counter()), errors.append(err) if err else None))
        deadline = t0 + 30
        while not done and time.perf_counter() < deadline:
            p.poll(0.0005)
        if not done:
            raise RuntimeError(f"no delivery report within 30 s for latency record {i}")
        if i >= warmup:
            samples.append(done[0] - t0)
    p.flush(10)
    samples.sort()
    return {"p50": samples[len(samples) // 2] * 1000,
            "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
            "mean": statistics.mean(samples) * 1000, "count": len(samples), "errors": len(errors)}


def measure(server, label: str, args, records_file: str, log) -> dict:
    r: dict = {}
    if isinstance(server, Esmd):
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": server.bootstrap})
        admin.create_topics([NewTopic(TOPIC, args.partitions, 1)])[TOPIC].result(timeout=30)

    with open(records_file, "rb") as f:
        r["produce"] = timed(["kcat", "-P", "-b", server.bootstrap, "-t", TOPIC], server.pid, stdin=f)
    if r["produce"]["rc"] != 0:
        failures.append(f"{label}: kcat -P exited {r['produce']['rc']}: {r['produce']['stderr'][-500:]}")
    r["held"], r["written"] = stored(server.bootstrap, TOPIC, args.partitions)
    if r["written"] != args.records:
        failures.append(f"{label}: {r['written']:,} records written of {args.records:,} produced")
    log(f"{label}: kcat produced {args.records:,} records in {r['produce']['wall']:.2f} s; the topic holds "
        f"{r['held']:,} of {r['written']:,} written")

    # Consume: the time until kcat has printed every record the topic holds. The whole `-e`
    # process also measures how the broker answers the final fetch of caught-up partitions:
    # Kafka (and esmd) hold it for fetch.wait.max.ms (500 ms) before answering empty, and
    # librdkafka reports the end of a partition only on that empty answer; the mock answers at
    # once. Both are measured.
    # kcat's own CPU bounds a consume on two cores, and it swings between runs (1.8 s to 3.7 s
    # for the same mock in two runs): the median of --consume-reps runs.
    def consume(extra):
        runs = [timed_until_lines(["kcat", "-C", "-b", server.bootstrap, "-t", TOPIC, "-e", "-o", "beginning", "-q",
                                   *extra], r["held"], server.pid) for _ in range(args.consume_reps)]
        runs.sort(key=lambda run: run["wall"])
        walls = ", ".join(f"{run['wall']:.2f}" for run in runs)
        log(f"{label}: consume {' '.join(extra) or '(defaults)'}: runs {walls} s")
        median = runs[len(runs) // 2]
        median["lines"] = min(run["lines"] for run in runs)
        return median

    r["consume"] = consume([])
    r["consumed"] = r["consume"]["lines"]
    # librdkafka keeps one fetch in flight per broker. When the partitions in it are all caught
    # up while the others wait for kcat to drain its queue, Kafka (and esmd) hold that fetch for
    # fetch.wait.max.ms and the others wait behind it; the mock answers at once. With a 10 ms
    # wait the stalls vanish on both sides and what remains is the transfer.
    r["consume_short"] = consume(["-X", "fetch.wait.max.ms=10"])
    r["consume_eof"] = timed(["kcat", "-C", "-b", server.bootstrap, "-t", TOPIC, "-e", "-o", "beginning", "-q"],
                             server.pid)
    r["consume_eof"]["stdout"] = b""
    if r["consume"]["rc"] != 0:
        failures.append(f"{label}: kcat -C exited {r['consume']['rc']}: {r['consume']['stderr'][-500:]}")
    if r["consumed"] != r["held"]:
        failures.append(f"{label}: kcat -C printed {r['consumed']:,} records, the topic holds {r['held']:,}")
    log(f"{label}: kcat consumed {r['consumed']:,} records in {r['consume']['wall']:.2f} s")

    r["latency"] = produce_latency(server.bootstrap, args.latency_count, args.latency_warmup)
    if r["latency"]["errors"]:
        failures.append(f"{label}: {r['latency']['errors']} latency records failed")
    log(f"{label}: produce latency p50 {r['latency']['p50']:.2f} ms, p99 {r['latency']['p99']:.2f} ms")
    r["rss_kib"] = benchlib.rss_kib(server.pid)
    return r


def startup(args, work: str, log) -> dict:
    times, rss = [], []
    for i in range(args.startup_reps):
        d = os.path.join(work, f"esmd-start-{i}")
        os.makedirs(d)
        s = Esmd(args.esmd, d, os.path.join(work, "esmd-start.log"))
        log_file = open(s.log_path, "ab")
        t0 = time.perf_counter()
        s.proc = subprocess.Popen(s.argv(), stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                  start_new_session=True, cwd=d)
        benchlib._children.append(s.proc)
        log_file.close()
        try:
            times.append(wait_accepting("127.0.0.1", s.kafka_port, t0, s.proc))
            time.sleep(1)
            rss.append(s.rss())
        finally:
            s.stop()
    mock_times, mock_rss = [], []
    for _ in range(args.startup_reps):
        m = Mock(args.mock, [], os.path.join(work, "mock-start.log"))
        try:
            mock_times.append(m.launch())
            time.sleep(1)
            mock_rss.append(benchlib.rss_kib(m.pid))
        finally:
            m.stop()
    out = {"ms": statistics.median(times) * 1000, "all_ms": [t * 1000 for t in times],
           "rss_kib": statistics.median(rss), "mock_ms": statistics.median(mock_times) * 1000,
           "mock_rss_kib": statistics.median(mock_rss)}
    log(f"esmd start-up to the Kafka port accepting: median {out['ms']:.1f} ms of "
        f"{', '.join(f'{t:.1f}' for t in out['all_ms'])}; idle RSS {fmt_kib(out['rss_kib'])}")
    return out


def ratio(a: float, b: float) -> str:
    if b <= 0:
        return "—"
    x = a / b
    return f"{x:,.0f}×" if x >= 10 else f"{x:.1f}×" if x >= 1 else f"{x:.2f}×"


def render(args, machine, versions, results, start, secs) -> str:
    e, m = results.get("esmd"), results.get("mock")
    cols = [c for c in ("esmd", "mock") if c in results]
    both = e is not None and m is not None
    head = "| metric | " + " | ".join(cols) + (" | esmd ÷ mock" if both else "") + " | target | met |"
    sep = "|---|" + "---:|" * (len(cols) + (1 if both else 0)) + "---|---|"
    rows = []

    def row(name, fn, ratio_fn=None, target="", met=""):
        rows.append([name] + [fn(results[c]) for c in cols] + ([ratio_fn(e, m) if ratio_fn else ""] if both else [])
                    + [target, met])

    def rps(r, op, n):
        return n / r[op]["wall"] if r[op]["wall"] > 0 else 0.0

    n = args.records
    row(f"kcat -P {n:,} records: wall time", lambda r: f"{r['produce']['wall']:.2f} s")
    row("kcat -P records/s", lambda r: f"{rps(r, 'produce', n):,.0f}",
        lambda a, b: ratio(rps(a, "produce", n), rps(b, "produce", n)), "≥ 1× mock",
        yes(rps(e, "produce", n) >= rps(m, "produce", n)) if both else "")
    row("kcat -P CPU: kcat / server",
        lambda r: f"{r['produce']['client_cpu']:.2f} s / {r['produce']['server_cpu']:.2f} s")
    row("records held after produce (of written)", lambda r: f"{r['held']:,} of {r['written']:,}")
    row("kcat -C: records read, wall time (median of the runs)",
        lambda r: f"{r['consumed']:,} in {r['consume']['wall']:.2f} s")
    row("kcat -C records/s", lambda r: f"{rps(r, 'consume', r['consumed']):,.0f}",
        lambda a, b: ratio(rps(a, "consume", a["consumed"]), rps(b, "consume", b["consumed"])), "≥ 1× mock",
        yes(rps(e, "consume", e["consumed"]) >= rps(m, "consume", m["consumed"])) if both else "")
    row("kcat -C with fetch.wait.max.ms=10: records/s (median of the runs)",
        lambda r: f"{rps(r, 'consume_short', r['consume_short']['lines']):,.0f}",
        lambda a, b: ratio(rps(a, "consume_short", a["consume_short"]["lines"]),
                           rps(b, "consume_short", b["consume_short"]["lines"])))
    row("kcat -C -e (to the end of every partition, with the final long poll): wall time",
        lambda r: f"{r['consume_eof']['wall']:.2f} s")
    row("kcat -C CPU: kcat / server",
        lambda r: f"{r['consume']['client_cpu']:.2f} s / {r['consume']['server_cpu']:.2f} s")
    row(f"produce latency, acks=all, 1 record (p50 / p99 / mean of {args.latency_count:,})",
        lambda r: f"{r['latency']['p50']:.2f} / {r['latency']['p99']:.2f} / {r['latency']['mean']:.2f} ms",
        lambda a, b: ratio(a["latency"]["p50"], b["latency"]["p50"]) + " (p50)")
    row("server RSS after the runs", lambda r: fmt_kib(r["rss_kib"]))
    if start:
        def per_server(esmd_value, mock_value):
            return [esmd_value if c == "esmd" else mock_value for c in cols] + ([""] if both else [])

        rows.append([f"start-up, exec → Kafka port accepting (median of {args.startup_reps})"]
                    + per_server(f"{start['ms']:.1f} ms", f"{start['mock_ms']:.1f} ms")
                    + ["< 20 ms", yes(start["ms"] < 20)])
        rows.append(["idle RSS, 1 s after start-up"]
                    + per_server(fmt_kib(start["rss_kib"]), fmt_kib(start["mock_rss_kib"]))
                    + ["< 10 MiB", yes(start["rss_kib"] < 10 * 1024)])

    out = [
        "# Kafka: esmd vs librdkafka's mock cluster",
        "",
        f"{machine['date']} · {machine['cores']} cores ({machine['cpu']}) · Linux {machine['kernel']} · "
        + " · ".join(v for v in (f"{versions['esmd']} ({machine['rev']})", versions["kcat"], versions["librdkafka"])
                     if v)
        + f" · other processes used {machine['busy_before']:.0%} of the CPUs just before the run; "
        f"load average {machine['load_before']} before, {machine['load_after']} after",
        "",
        f"Topic `{TOPIC}` with {args.partitions} partitions on both; records are the lines of `seq 1 {n}`.",
        "",
        head, sep,
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += [
        "",
        "Notes:",
        "",
        f"- esmd: file-backed SQLite in a fresh temporary `--data-dir` on {machine['data_fs']} (fdatasync "
        f"{machine['fsync_ms']:.2f} ms), `--durability full`: a produce is acknowledged after its commit. "
        "The mock keeps everything in memory, and only about 5 MB per partition (reference §A.7).",
        "- Wall times are whole processes: kcat's start, its metadata round trip, the transfer, and for "
        "`-P` the wait for every acknowledgement (kcat's default acks=all).",
        "- Produce latency: confluent-kafka, `linger.ms=0`, each record sent after the previous one's "
        "delivery report; time from `produce()` to the report.",
        f"- Run time {secs:.0f} s.",
    ]
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--esmd", default=os.path.join(ROOT, "build-bench", "esmd"), help="esmd binary")
    ap.add_argument("--mock", default=os.path.join(ROOT, "build-bench", "kafka_mock"), help="bench/kafka_mock binary")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=8,
                    help="partitions of the topic (enough that the mock's ~5 MB per partition keeps every record)")
    ap.add_argument("--latency-count", type=int, default=2000)
    ap.add_argument("--latency-warmup", type=int, default=100)
    ap.add_argument("--startup-reps", type=int, default=5)
    ap.add_argument("--consume-reps", type=int, default=3, help="consume runs per server (the median is shown)")
    ap.add_argument("--servers", default="esmd,mock", help="comma-separated subset to compare")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="wait up to S seconds for the machine's CPUs to be mostly idle before starting")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "kafka.md"))
    args = ap.parse_args()
    servers = [x for x in args.servers.split(",") if x]
    args.esmd, args.mock = os.path.abspath(args.esmd), os.path.abspath(args.mock)
    if not shutil.which("kcat"):
        sys.exit("kcat not found (bench/kafka.sh installs it)")
    if "esmd" in servers and not os.access(args.esmd, os.X_OK):
        sys.exit(f"no esmd binary at {args.esmd} (bench/kafka.sh builds it)")
    if not os.access(args.mock, os.X_OK):
        sys.exit(f"no mock at {args.mock} (bench/kafka.sh builds it)")
    import confluent_kafka

    work = work_dir("esmd-bench-kafka-")
    log = Log()
    busy = wait_until_quiet(args.wait_quiet, log)
    started = time.time()
    versions = {"esmd": version([args.esmd, "--version"]) if "esmd" in servers else "",
                "kcat": "kcat " + (re.search(r"Version (\S+)", version(["kcat", "-V"])) or ["", "?"])[1],
                "librdkafka": f"librdkafka {confluent_kafka.libversion()[0]}, "
                              f"confluent-kafka {confluent_kafka.version()[0]}"}
    machine = describe_machine(work, busy, log)
    records_file = os.path.join(work, "records.txt")
    with open(records_file, "wb") as f:
        subprocess.run(["seq", "1", str(args.records)], stdout=f, check=True)

    results: dict = {}
    for label in servers:
        if label == "esmd":
            d = os.path.join(work, "esmd-data")
            os.makedirs(d)
            s = Esmd(args.esmd, d, os.path.join(work, "esmd.log"))
            t = s.launch()
            log(f"esmd: HTTP health up in {t * 1000:.0f} ms; Kafka on {s.bootstrap}")
        elif label == "mock":
            s = Mock(args.mock, [f"{TOPIC}:{args.partitions}"], os.path.join(work, "mock.log"))
            t = s.launch()
            log(f"mock: up in {t * 1000:.0f} ms on {s.bootstrap}")
        else:
            sys.exit(f"unknown server {label}")
        try:
            results[label] = measure(s, label, args, records_file, log)
        finally:
            s.stop()
    start = startup(args, work, log) if "esmd" in servers and args.startup_reps > 0 else None

    machine["load_after"] = load_average()
    table = render(args, machine, versions, results, start, time.time() - started)
    runs = [(label, op, {"cmd": r[op]["cmd"], "raw": r[op]["stderr"] or "(no output on stderr)"})
            for label, r in results.items() for op in ("produce", "consume")]
    write_results(args.out, table, log, runs)
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
