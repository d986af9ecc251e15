"""Starts the real esmd binary on a free loopback port and drives it with real clients.

Every integration test uses this: `Esmd` owns one esmd process; `aws()` runs the AWS CLI
against it; `client()` returns a boto3 client; `wait_until()` polls a condition with a
deadline instead of sleeping.

Each esmd also gets its own free Kafka port (`kafka_port`, `kafka_bootstrap`): the default 9092
would make two tests collide under `ctest -j`. boto3 is imported only by `client()`, so the
Kafka tests can run under Debian's /usr/bin/python3, which has the Kafka clients but no boto3.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

ESMD_BIN = os.environ.get("ESMD_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "esmd")
ACCOUNT = "000000000000"


def free_port(avoid=()):
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def wait_until(cond, timeout=10.0, interval=0.02, message="condition"):
    """Polls cond() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")


class Esmd:
    def __init__(self, *args, data_dir=None, in_memory=False, region="us-east-1",
                 transition_delay_ms=100, functions=("fn=builtin:ok",), env=None, preexec_fn=None):
        self.args = list(args)
        self.own_dir = data_dir is None and not in_memory
        self.data_dir = data_dir or (None if in_memory else tempfile.mkdtemp(prefix="esmd-test-"))
        self.in_memory = in_memory
        self.region = region
        self.transition_delay_ms = transition_delay_ms
        self.functions = list(functions)
        self.extra_env = env or {}
        self.preexec_fn = preexec_fn  # e.g. a lower RLIMIT_NOFILE for esmd alone
        self.port = None
        # The --kafka-port this harness passes: picked once, so restart() keeps the clients'
        # bootstrap address. None when the test's own arguments or environment set the port.
        self.kafka_port_arg = None
        self.kafka_port = None
        self.proc = None
        self.log_path = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, port=None):
        self.port = port or free_port()
        cmd = [ESMD_BIN, "--host", "127.0.0.1", "--port", str(self.port),
               "--transition-delay-ms", str(self.transition_delay_ms), "--log-level", "debug"]
        cmd += ["--in-memory"] if self.in_memory else ["--data-dir", self.data_dir]
        for f in self.functions:
            cmd += ["--function", f]
        cmd += self._kafka_args()
        cmd += self.args
        fd, self.log_path = tempfile.mkstemp(prefix="esmd-log-", suffix=".txt")
        env = dict(os.environ)
        env.update(self.extra_env)
        self.proc = subprocess.Popen(cmd, stdout=fd, stderr=fd, env=env, preexec_fn=self.preexec_fn)
        os.close(fd)
        wait_until(self._healthy, timeout=15, message="esmd health")
        self.kafka_port = self._reported_kafka_port()
        return self

    def _kafka_args(self):
        if "--kafka-port" in self.args or any(a.startswith("--kafka-port=") for a in self.args) \
                or "ESMD_KAFKA_PORT" in self.extra_env:
            return []
        if self.kafka_port_arg is None:
            self.kafka_port_arg = free_port(avoid=(self.port,))
        return ["--kafka-port", str(self.kafka_port_arg)]

    def _reported_kafka_port(self):
        """The Kafka port as health reports it (the bound one, also for `--kafka-port 0`);
        None when the listener is off."""
        try:
            with urllib.request.urlopen(self.url + "/_esmd/health", timeout=5) as r:
                health = json.loads(r.read() or b"{}")
        except (OSError, ValueError):
            health = {}
        if "kafka" not in health:
            return self.kafka_port_arg
        kafka = health["kafka"]
        return kafka.get("port") if isinstance(kafka, dict) else None

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"esmd exited with {self.proc.returncode}: {self.log()}")
        try:
            with urllib.request.urlopen(self.url + "/_esmd/health", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.check_sanitizers()

    # What AddressSanitizer, UndefinedBehaviorSanitizer, LeakSanitizer and ThreadSanitizer print
    # (scripts/sanitize.sh runs these tests against such builds of esmd).
    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                         "runtime error: ", "contract violated: ")

    def check_sanitizers(self):
        """Fails the test when esmd's log holds a sanitizer report or a broken ESM_DCHECK."""
        try:
            with open(self.log_path, errors="replace") as f:
                text = f.read()
        except (OSError, TypeError):
            return
        for marker in self.SANITIZER_MARKERS:
            if marker in text:
                at = text.index(marker)
                raise AssertionError(f"esmd reported {marker.strip()!r}:\n{text[max(0, at - 200):at + 4000]}")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, kill=False):
        """Stops esmd (SIGTERM, or SIGKILL with kill=True) and starts it again on the same port
        and data directory."""
        if kill:
            self.kill9()
        else:
            self.stop()
        return self.start(self.port)

    def cleanup(self):
        self.stop()
        if self.own_dir and self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.log_path and os.path.exists(self.log_path):
            os.remove(self.log_path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # -- clients ---------------------------------------------------------------------------
    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def kafka_bootstrap(self):
        """host:port for a Kafka client's bootstrap servers."""
        if self.kafka_port is None:
            raise AssertionError("this esmd has no Kafka listener")
        return f"127.0.0.1:{self.kafka_port}"

    def env(self, region=None):
        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": region or self.region, "AWS_REGION": region or self.region,
            "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true",
        })
        env.pop("AWS_PROFILE", None)
        return env

    def aws(self, *args, region=None, check=False):
        """Runs `aws ARGS --endpoint-url ...`; returns (returncode, parsed JSON or text, stderr)."""
        cmd = ["aws", *args, "--endpoint-url", self.url, "--output", "json"]
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.env(region), timeout=120)
        out = p.stdout
        try:
            out = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            pass
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {p.stderr}")
        return p.returncode, out, p.stderr

    def client(self, service="lambda", region=None):
        import boto3
        from botocore.config import Config
        return boto3.client(
            service, endpoint_url=self.url, region_name=region or self.region,
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=5))

    def http(self, method, path, body=None, headers=None):
        """A raw HTTP request; returns (status, headers, body bytes)."""
        data = body if isinstance(body, (bytes, type(None))) else body.encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()
