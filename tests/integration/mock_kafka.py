"""librdkafka's mock cluster (tests/tools/mock_kafka_cluster) as "someone else's Kafka": a Kafka
that is not esmd, for the Kafka poller's tests.

    with MockKafkaCluster(topics={"orders": 3}) as kafka:
        kafka.bootstrap      # "127.0.0.1:PORT[,...]", the same for the cluster's whole life
        kafka.down()         # every broker refuses connections and drops the open ones
        kafka.up()           # ... accepts them again, on the same ports

What the 2.0.2 mock supports (groups and commits yes, no admin APIs, ~5 MB per partition) and
its timing traps are in the header comment of tests/tools/mock_kafka_cluster.c. Two that tests
meet first: give group consumers a short session.timeout.ms (after the last member leaves, the
mock holds the next JoinGroup for session.timeout.ms - 1 s), and give clients that live through
down() a short reconnect.backoff.max.ms (librdkafka's default 10 s delays noticing up()). The binary is $MOCK_KAFKA_CLUSTER_BIN
(tests/CMakeLists.txt sets it), else build/tests/tools/mock_kafka_cluster in this checkout.
Every wait has a deadline.
"""
import os
import selectors
import signal
import subprocess
import tempfile
import time

MOCK_KAFKA_CLUSTER_BIN = os.environ.get("MOCK_KAFKA_CLUSTER_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "tests", "tools", "mock_kafka_cluster")


class MockKafkaCluster:
    """One mock_kafka_cluster process: `brokers` brokers (ids 1..brokers) and the `topics`
    ({name: partitions}) created up front. start() returns once the bootstrap line is read."""

    def __init__(self, brokers=1, topics=None, debug=None, start_timeout=15.0):
        self.brokers = brokers
        self.topics = dict(topics or {})
        self.debug = debug  # librdkafka debug contexts, e.g. "mock" logs every request received
        self.start_timeout = start_timeout
        self.bootstrap = None
        self.proc = None
        self.log_path = None
        self._selector = None
        self._pending = b""

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        cmd = [MOCK_KAFKA_CLUSTER_BIN, "--brokers", str(self.brokers)]
        for name, partitions in self.topics.items():
            cmd += ["--topic", f"{name}:{partitions}"]
        if self.debug:
            cmd += ["--debug", self.debug]
        fd, self.log_path = tempfile.mkstemp(prefix="mock-kafka-log-", suffix=".txt")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=fd)
        finally:
            os.close(fd)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        line = self._read_line(self.start_timeout, "its BOOTSTRAP line")
        if not line.startswith("BOOTSTRAP "):
            self.stop()
            raise AssertionError(f"mock_kafka_cluster printed {line!r}, not a BOOTSTRAP line: {self.log()}")
        self.bootstrap = line.split(" ", 1)[1]
        return self

    def stop(self):
        """Closes stdin (the cluster is destroyed and the program exits 0); SIGTERM, then
        SIGKILL, if it does not. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        if self._selector:
            self._selector.close()
            self._selector = None
        self.proc.stdout.close()
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        if self.log_path and os.path.exists(self.log_path):
            os.unlink(self.log_path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def log(self):
        """What librdkafka logged (stderr), for failure messages."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-8000:]
        except (OSError, TypeError):
            return ""

    # -- commands ----------------------------------------------------------------------------
    def down(self, broker_id=None, timeout=10.0):
        """Every broker (or one) closes its connections and refuses new ones until up()."""
        self._command("down" if broker_id is None else f"down {broker_id}", timeout)

    def up(self, broker_id=None, timeout=10.0):
        """Every broker (or one) accepts connections again, on the same port as before."""
        self._command("up" if broker_id is None else f"up {broker_id}", timeout)

    def command(self, line, timeout=10.0):
        """Sends one command line; returns the program's one-line answer ("OK" or "ERR ...")."""
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"mock_kafka_cluster is not running ({line}): {self.log()}")
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        return self._read_line(timeout, f"the answer to {line!r}")

    def _command(self, line, timeout):
        answer = self.command(line, timeout)
        if answer != "OK":
            raise AssertionError(f"mock_kafka_cluster answered {line!r} with {answer!r}")

    def _read_line(self, timeout, what):
        """The next line of stdout, read with os.read (no hidden buffer between select calls)."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"mock_kafka_cluster did not print {what} within {timeout}s: {self.log()}")
            if not self._selector.select(left):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"mock_kafka_cluster exited ({self.proc.wait(timeout=5)}) before printing {what}: "
                                     f"{self.log()}")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode()
