"""What bench/control_plane.py and bench/sqs.py share: server processes, HTTP clients, wrk runs,
CPU accounting and the facts about the machine that explain the figures.

Importing this module registers the clean-up: every process started with `Server.launch()` is
stopped when the script ends or is interrupted (SIGINT, SIGTERM, SIGHUP).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import datetime
import http.client
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MAPPINGS = "/2015-03-31/event-source-mappings"
MOTO_ACCOUNT = "123456789012"
ESMD_ACCOUNT = "000000000000"


# No server here checks signatures; moto routes by the service in the credential scope (without
# it, moto takes a request for S3), and esmd and fauxqs take only the region from it.
def auth(service: str) -> dict[str, str]:
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=bench/20240101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "X-Amz-Date": "20240101T000000Z",
    }


# ---------------------------------------------------------------------------------------------
# Processes


_children: list[subprocess.Popen] = []


def _stop(p: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if p.poll() is not None:
        return
    try:
        os.killpg(p.pid, sig)  # each child leads its own session (start_new_session=True)
    except ProcessLookupError:
        return
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def _stop_all() -> None:
    for p in _children:
        _stop(p)


atexit.register(_stop_all)
for _s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_s, lambda signum, _frame: sys.exit(128 + signum))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def get_status(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


class Server:
    """One server process; `launch()` returns the seconds from spawn to the first 200 on `probe`
    (a path and its headers; by default the health path), polled every `poll_s` seconds."""

    name = ""
    health_path = ""
    health_headers: dict[str, str] = {}
    poll_s = 0.005

    def __init__(self, log_path: str):
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def launch(self, probe: tuple[str, dict[str, str]] | None = None, deadline_s: float = 60) -> float:
        path, headers = probe or (self.health_path, self.health_headers)
        log = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True, cwd=tempfile.gettempdir())
        _children.append(self.proc)
        log.close()
        while True:
            try:
                if get_status(self.port, path, headers) == 200:
                    return time.perf_counter() - t0
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            if time.perf_counter() - t0 > deadline_s:
                raise RuntimeError(f"{self.name} did not answer {path} within {deadline_s}s")
            time.sleep(self.poll_s)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc:
            _stop(self.proc, sig)
            _children.remove(self.proc)
            self.proc = None

    def rss(self) -> int:
        assert self.proc
        return rss_kib(self.proc.pid)


class Esmd(Server):
    """esmd on 127.0.0.1 with `--transition-delay-ms 0`; `functions` are `--function` values (NAME=TARGET)."""

    name = "esmd"
    health_path = "/_esmd/health"
    account = ESMD_ACCOUNT

    def __init__(self, binary: str, data_dir: str, log_path: str, durability: str = "full",
                 functions: list[str] | tuple[str, ...] = ()):
        super().__init__(log_path)
        self.binary, self.data_dir, self.durability = binary, data_dir, durability
        self.functions = list(functions)

    def argv(self) -> list[str]:
        return [self.binary, "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", self.data_dir,
                "--durability", self.durability, "--transition-delay-ms", "0",
                *(a for f in self.functions for a in ("--function", f))]


class Moto(Server):
    name = "moto"
    health_path = "/moto-api/"
    account = MOTO_ACCOUNT

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]


# ---------------------------------------------------------------------------------------------
# HTTP with bounded concurrency


class Client:
    """A keep-alive HTTP connection per thread (http.client reopens it if the server closes)."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()

    def call(self, method: str, path: str, body: str | None, headers: dict[str, str]) -> tuple[int, bytes]:
        c = getattr(self.local, "conn", None)
        if c is None:
            c = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        for attempt in range(3):
            try:
                c.request(method, path, body=body, headers=headers)
                r = c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, ConnectionError):
                c.close()
                if attempt == 2:
                    raise
        raise AssertionError


def run_all(workers: int, fn, items) -> float:
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(fn, items):
            pass
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# CPU accounting and wrk


def cpu_ticks(pid: int) -> int:
    """utime + stime of every thread of pid, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def machine_busy_ticks() -> int:
    """Busy (not idle, not iowait) clock ticks of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]


def run_wrk(lua: str, port: int, script_args: list[str], threads: int, connections: int, duration: float,
            server_pid: int) -> dict:
    """One wrk run with the script `lua` (which prints `BENCH_STATUS 200=… NAME=…`): throughput,
    every status, latency p50/p99, and the CPU of the server, of wrk and of everything else."""
    hz = os.sysconf("SC_CLK_TCK")
    busy0 = machine_busy_ticks()
    cpu0 = cpu_ticks(server_pid)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "10s",
           "-s", lua, f"http://127.0.0.1:{port}", "--", *script_args]
    ru0 = os.times()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    ru1 = os.times()
    server_cpu = (cpu_ticks(server_pid) - cpu0) / hz
    wrk_cpu = (ru1.children_user - ru0.children_user) + (ru1.children_system - ru0.children_system)
    # What the rest of the machine (other processes, interrupts) took meanwhile: such a run's
    # figures are skewed, and this says by how much.
    others_cpu = max(0.0, (machine_busy_ticks() - busy0) / hz - server_cpu - wrk_cpu)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr}\n{out.stdout}")
    text = out.stdout
    m = re.search(r"BENCH_STATUS ?(.*)", text)
    fields = dict(kv.split("=") for kv in (m.group(1).split() if m else []))
    statuses = {int(k): int(v) for k, v in fields.items() if k.isdigit()}
    counters = {k: int(v) for k, v in fields.items() if not k.isdigit()}
    total = sum(statuses.values())
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
    sock = re.search(r"Socket errors: (.*)", text)
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
    return {"cmd": " ".join(cmd), "rps": rps, "ok_rps": rps * ok / total if total else 0.0, "total": total,
            "ok": ok, "non2xx": total - ok, "statuses": statuses, "counters": counters,
            "socket_errors": sock.group(1) if sock else "", "p50": lat.get("50", "?"), "p99": lat.get("99", "?"),
            "raw": text, "server_cpu_s": server_cpu, "wrk_cpu_s": wrk_cpu, "others_cpu_s": others_cpu,
            "others_share": others_cpu / (duration * (os.cpu_count() or 1)),
            "cpu_us_per_req": server_cpu / total * 1e6 if total else 0.0}


# ---------------------------------------------------------------------------------------------
# Machine facts that explain the numbers


def fsync_ms(directory: str, n: int = 30) -> float:
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"\0" * 65536)
        os.fsync(fd)
        t0 = time.perf_counter()
        for i in range(n):
            os.pwrite(fd, b"x" * 4096, (i % 16) * 4096)
            os.fdatasync(fd)
        return (time.perf_counter() - t0) / n * 1000
    finally:
        os.close(fd)
        os.unlink(path)


def fs_type(directory: str) -> str:
    out = subprocess.run(["df", "--output=fstype", directory], capture_output=True, text=True).stdout.split()
    return out[-1] if out else "?"


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def cpu_busy(sample_s: float = 2.0) -> float:
    """Fraction of all CPUs busy (not idle or iowait) over sample_s seconds, from /proc/stat."""
    def snap() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t0, i0 = snap()
    time.sleep(sample_s)
    t1, i1 = snap()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def wait_until_quiet(max_wait_s: float, log, sample_s: float = 2.0, pause_s: float = 8.0) -> float:
    """Other work on the machine skews every figure; wait (bounded) until the CPUs are mostly idle."""
    deadline = time.time() + max_wait_s
    busy = cpu_busy(sample_s)
    while busy > 0.2 and time.time() < deadline:
        log(f"machine busy ({busy:.0%} CPU used by other processes); waiting")
        time.sleep(pause_s)
        busy = cpu_busy(sample_s)
    return busy


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def version(cmd: list[str]) -> str:
    """What cmd prints (stripped), or "?" if it cannot run."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "?"


def describe_machine(work: str, busy: float, log) -> dict:
    """The source revision, date, CPUs, kernel, and the file system and fdatasync time of `work`
    (where the data directories go); logs a line of it. `busy` is cpu_busy() before the run."""
    machine = {
        "rev": version(["git", "-C", ROOT, "describe", "--always", "--dirty"]) or "?",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release(),
        "data_fs": fs_type(work), "fsync_ms": fsync_ms(work), "load_before": load_average(), "busy_before": busy,
    }
    log(f"machine: {machine['cores']} cores, {machine['cpu']}, Linux {machine['kernel']}; data dir on "
        f"{machine['data_fs']}, fdatasync {machine['fsync_ms']:.2f} ms")
    return machine


# ---------------------------------------------------------------------------------------------
# The run's files and output


def work_dir(prefix: str) -> str:
    """A temporary directory, removed when the script ends."""
    work = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, work, True)
    return work


class Log:
    """Prints each line as it comes and keeps it for the results file."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, msg: str) -> None:
        print(msg, flush=True)
        self.lines.append(msg)


def write_results(path: str, table: str, log: Log, runs) -> None:
    """Prints the table, then writes it to `path` with the log and each wrk run's command and
    output; `runs` yields (label, op, the run_wrk() result)."""
    print()
    print(table)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(table)
        f.write("\n## Log\n\n```\n" + "\n".join(log.lines) + "\n```\n")
        for label, op, w in runs:
            f.write(f"\n### {label} {op}\n\n`{w['cmd']}`\n\n```\n{w['raw'].rstrip()}\n```\n")
    print(f"\nwritten to {os.path.relpath(path)}")


def fmt_kib(k: int) -> str:
    return f"{k / 1024:.1f} MiB"


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"
