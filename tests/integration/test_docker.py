"""The container image and the compose file, run the way users run them: esmd in a container with
a data volume, the function in a second container that speaks the Lambda Invoke API, and the
AWS CLI on the host talking to esmd through a published loopback port.

The images are built from this checkout (docker/Dockerfile, docker/example-function) with the
container tool, podman behind a small wrapper, since these machines have no Docker engine:
$ESMD_CONTAINER_TOOL, else <repo>/../shared/tools/container, else /work/shared/tools/container.
Without any of them the test exits with code 77, which CTest reports as skipped. The compose
test also needs podman-compose (scripts/install-deps.sh --test installs it).

Run from tests/integration: `python3 test_docker.py` (what CTest runs). It prints the build
time, the image size and the start-up times (process start to esmd's "listening" line, and
`podman start` to the first healthy answer on the published port).
"""
import datetime
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from esmd_harness import free_port, wait_until

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SKIP_EXIT = 77
IMAGE_SIZE_LIMIT = 100 * 1000 * 1000
# The target is 100 ms from process start to listening (measured: well under; see README.md).
# The assertion leaves room for a loaded CI machine and catches a start-up that really regressed.
STARTUP_LIMIT_MS = 1000
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# podman without systemd says so on every run/stop of a container with a HEALTHCHECK.
NOISE = ("unable to get systemd connection", "failed to connect to syslog")


def find_container_tool():
    """The container tool, or None when this machine has none."""
    configured = os.environ.get("ESMD_CONTAINER_TOOL")
    if configured:
        if not os.access(configured, os.X_OK):
            raise SystemExit(f"ESMD_CONTAINER_TOOL={configured} is not an executable")
        return configured
    for candidate in (os.path.join(REPO, "..", "shared", "tools", "container"), "/work/shared/tools/container"):
        if os.access(candidate, os.X_OK):
            return os.path.realpath(candidate)
    return None


def quiet(text):
    return "\n".join(line for line in text.splitlines() if not any(n in line for n in NOISE))


class Container:
    """Runs the container tool: `podman ARGS` with this machine's settings, `run`, `build`."""

    def __init__(self, tool):
        self.tool = tool

    def _exec(self, argv, check, timeout):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited with {p.returncode}:\n{quiet(p.stdout)}\n{quiet(p.stderr)}")
        return p

    def podman(self, *args, check=True, timeout=120):
        return self._exec([self.tool, "podman", *args], check, timeout)

    def run(self, *args, check=True, timeout=120):
        return self._exec([self.tool, "run", *args], check, timeout)

    def build(self, tag, context, dockerfile=None, timeout=1500):
        # Niced: CTest runs the other tests next to this one, and a compile should not slow
        # their servers down.
        argv = ["nice", "-n", "10", self.tool, "build", "--format", "docker", "-t", tag]
        if dockerfile:
            argv += ["-f", dockerfile]
        return self._exec(argv + [context], True, timeout)

    def setup(self):
        return self._exec([self.tool, "setup"], True, 600)

    def size(self, image):
        return int(self.podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())

    def logs(self, name, timestamps=False):
        p = self.podman("logs", *(["--timestamps"] if timestamps else []), name, check=False)
        return p.stdout + p.stderr

    def timed_lines(self, name):
        """(seconds since the epoch, text) for every log line of container `name`, as podman got it."""
        out = []
        for line in self.logs(name, timestamps=True).splitlines():
            stamp, _, text = line.partition(" ")
            try:
                out.append((parse_rfc3339(stamp), text))
            except ValueError:
                pass
        return out


def parse_rfc3339(stamp):
    """2026-11-27T19:04:58.435938793Z (podman logs --timestamps) -> seconds since the epoch."""
    base, _, frac = stamp.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() + (float("0." + frac) if frac else 0.0)


class HostClient:
    """The AWS CLI and plain HTTP on the host, against a port that a container publishes."""

    def __init__(self, port, region="us-east-1"):
        self.url = f"http://127.0.0.1:{port}"
        self.region = region

    def env(self):
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": self.region,
                    "AWS_REGION": self.region, "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true"})
        env.pop("AWS_PROFILE", None)
        return env

    def aws(self, *args):
        cmd = ["aws", *args, "--endpoint-url", self.url, "--output", "json"]
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return json.loads(p.stdout) if p.stdout.strip() else None

    def get_json(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return json.loads(r.read())

    def healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/_esmd/health", timeout=1) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def wait_healthy(self, timeout=30):
        """Polls the health route every 5 ms; returns the seconds it took."""
        t0 = time.monotonic()
        wait_until(self.healthy, timeout=timeout, interval=0.005, message=f"esmd health at {self.url}")
        return time.monotonic() - t0

    def mapping_state(self, uuid):
        return self.aws("lambda", "get-event-source-mapping", "--uuid", uuid)["State"]

    def queue_counts(self, queue_url):
        attrs = self.aws("sqs", "get-queue-attributes", "--queue-url", queue_url, "--attribute-names",
                         "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def delivered_bodies(log_text):
    """The message bodies the example handler printed (one JSON line per SQS record)."""
    bodies = []
    for line in log_text.splitlines():
        if line.startswith("{"):
            try:
                bodies.append(json.loads(line)["body"])
            except (ValueError, KeyError):
                pass
    return bodies


class DockerImageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tool = find_container_tool()
        if tool is None:
            raise unittest.SkipTest("no container tool (ESMD_CONTAINER_TOOL, ../shared/tools/container)")
        cls.c = Container(tool)
        cls.c.setup()
        cls.id = f"{os.getpid()}{secrets.token_hex(3)}"
        cls.image = f"localhost/esmd-test:{cls.id}"
        cls.fn_image = f"localhost/esmd-test-fn:{cls.id}"
        t0 = time.monotonic()
        cls.c.build(cls.image, REPO, dockerfile=os.path.join(REPO, "docker", "Dockerfile"))
        cls.addClassCleanup(cls.c.podman, "rmi", cls.image, check=False)
        print(f"docker: built {cls.image} from {REPO} in {time.monotonic() - t0:.1f} s", flush=True)
        cls.c.build(cls.fn_image, os.path.join(REPO, "docker", "example-function"))
        cls.addClassCleanup(cls.c.podman, "rmi", cls.fn_image, check=False)
        cls.size = cls.c.size(cls.image)
        print(f"docker: image size {cls.size / 1e6:.1f} MB (target < {IMAGE_SIZE_LIMIT / 1e6:.0f} MB)", flush=True)

    def name(self, what):
        return f"esmd-test-{self.id}-{what}"

    def print_logs(self, container):
        if self.c.podman("container", "exists", container, check=False).returncode != 0:
            return
        print(f"--- podman logs {container} (last 40 lines)\n" + "\n".join(self.c.logs(container).splitlines()[-40:]))

    def start_function(self, network):
        fn = self.name("fn")
        self.c.run("-d", "--name", fn, "--network", network, "--network-alias", "fn", self.fn_image)
        self.addCleanup(self.c.podman, "rm", "-f", "-t", "1", fn, check=False)
        self.addCleanup(self.print_logs, fn)
        return fn

    def start_esmd(self, name, network, volume, port):
        """Runs the image as users do: a named volume on /data, a loopback port, ESMD_* settings."""
        self.c.run("-d", "--name", name, "--network", network, "-p", f"127.0.0.1:{port}:9070", "-v", f"{volume}:/data",
                   "-e", "ESMD_TRANSITION_DELAY_MS=100", "-e", "ESMD_LOG_LEVEL=debug", self.image,
                   "--function", f"work=http://fn:8080{INVOKE_PATH}")
        self.addCleanup(self.c.podman, "rm", "-f", "-t", "1", name, check=False)
        self.addCleanup(self.print_logs, name)

    def test_image_is_small_runs_as_non_root_and_checks_its_health(self):
        self.assertLess(self.size, IMAGE_SIZE_LIMIT)
        inspected = json.loads(self.c.podman("image", "inspect", self.image).stdout)[0]
        cfg = inspected["Config"]
        self.assertEqual(cfg["User"], "esmd")
        self.assertEqual(cfg["Entrypoint"], ["esmd"])
        self.assertIn("ESMD_HOST=0.0.0.0", cfg["Env"])
        self.assertIn("ESMD_DATA_DIR=/data", cfg["Env"])
        self.assertIn("/data", cfg["Volumes"])
        self.assertEqual(inspected["Healthcheck"]["Test"], ["CMD", "esmd-healthcheck"])
        ident = self.c.run("--rm", "--entrypoint", "sh", self.image, "-c", "id -u; stat -c %U /data").stdout.split()
        self.assertEqual(ident, ["10001", "esmd"])

    def test_esmd_is_ready_within_milliseconds_of_its_process_start(self):
        # A shell logs the time just before it execs esmd; podman timestamps esmd's "listening"
        # line when it reads it, after esmd wrote it: an upper bound on the time to ready.
        # First on a new (anonymous) volume, then restarted on its database.
        name = self.name("startup")
        self.c.run("-d", "--name", name, "--entrypoint", "/bin/sh", self.image,
                   "-c", 'echo "exec esmd $(date +%s.%N)"; exec esmd "$@"', "sh")
        self.addCleanup(self.c.podman, "rm", "-f", "-v", "-t", "1", name, check=False)
        self.addCleanup(self.print_logs, name)
        first = self.exec_to_listening_ms(name, runs=1)
        self.c.podman("restart", "-t", "10", name)
        second = self.exec_to_listening_ms(name, runs=2)
        print(f"docker: process start -> listening: {first:.1f} ms on a new volume, {second:.1f} ms on restart "
              f"(target < 100 ms)", flush=True)
        self.assertLess(first, STARTUP_LIMIT_MS)
        self.assertLess(second, STARTUP_LIMIT_MS)

    def exec_to_listening_ms(self, name, runs):
        """Milliseconds from the last exec of esmd to the listening line after it."""
        def pair():
            lines = self.c.timed_lines(name)
            execs = [float(text.split()[-1]) for _, text in lines if text.startswith("exec esmd ")]
            if len(execs) < runs:
                return None
            ready = [t for t, text in lines if "listening on" in text and t >= execs[-1]]
            return [(ready[0] - execs[-1]) * 1000] if ready else None
        return wait_until(pair, timeout=15, message=f"esmd listening in {name} (run {runs})")[0]

    def test_messages_reach_a_function_container_and_survive_restart_and_kill(self):
        c = self.c
        network, volume, esmd = self.name("net"), self.name("data"), self.name("esmd")
        c.podman("network", "create", network)
        self.addCleanup(c.podman, "network", "rm", "-f", network, check=False)
        c.podman("volume", "create", volume)
        self.addCleanup(c.podman, "volume", "rm", "-f", volume, check=False)
        fn = self.start_function(network)
        port = free_port()
        host = HostClient(port)

        # First start on an empty volume: listening on all interfaces inside, healthy outside.
        t0 = time.monotonic()
        self.start_esmd(esmd, network, volume, port)
        host.wait_healthy()
        print(f"docker: first start: podman run -> first healthy answer {(time.monotonic() - t0) * 1000:.0f} ms",
              flush=True)
        self.assertIn("listening on http://0.0.0.0:9070 (/data/esmd.sqlite3", c.logs(esmd))
        self.assertEqual(c.podman("healthcheck", "run", esmd, check=False).returncode, 0, "HEALTHCHECK failed")

        # A queue and a mapping created from the host with the AWS CLI; messages reach the function
        # container (by its name on the network) and leave the queue.
        queue_url = host.aws("sqs", "create-queue", "--queue-name", "orders")["QueueUrl"]
        arn = "arn:aws:sqs:us-east-1:000000000000:orders"
        uuid = host.aws("lambda", "create-event-source-mapping", "--function-name", "work", "--event-source-arn", arn,
                        "--batch-size", "5")["UUID"]
        wait_until(lambda: host.mapping_state(uuid) == "Enabled", timeout=30, interval=0.1, message="Enabled")
        sent = [f"order-{i}" for i in range(3)]
        for body in sent:
            host.aws("sqs", "send-message", "--queue-url", queue_url, "--message-body", body)
        wait_until(lambda: set(sent) <= set(delivered_bodies(c.logs(fn))), timeout=30, message="deliveries to fn")
        wait_until(lambda: host.queue_counts(queue_url) == (0, 0), timeout=30, interval=0.1, message="an empty queue")
        outcomes = [i["Outcome"] for i in host.get_json("/_esmd/invocations?function=work")["Invocations"]]
        self.assertTrue(outcomes and set(outcomes) == {"Success"}, outcomes)

        # Disabled, with messages waiting: a graceful restart keeps both.
        host.aws("lambda", "update-event-source-mapping", "--uuid", uuid, "--no-enabled")
        wait_until(lambda: host.mapping_state(uuid) == "Disabled", timeout=30, interval=0.1, message="Disabled")
        held = ["held-1", "held-2"]
        for body in held:
            host.aws("sqs", "send-message", "--queue-url", queue_url, "--message-body", body)
        c.podman("stop", "-t", "10", esmd)
        self.assertEqual(c.podman("inspect", "--format", "{{.State.ExitCode}}", esmd).stdout.strip(), "0")
        t0 = time.monotonic()
        c.podman("start", esmd)
        wait_until(host.healthy, timeout=30, interval=0.005, message="health after podman start")
        print(f"docker: restart: podman start -> first healthy answer {(time.monotonic() - t0) * 1000:.0f} ms", flush=True)
        self.assert_state_kept(host, uuid, arn, queue_url, held, fn)

        # kill -9, then a new container on the same volume: the state lives in the volume.
        self.print_logs(esmd)
        c.podman("kill", "-s", "KILL", esmd)
        c.podman("rm", "-f", esmd)
        esmd2 = self.name("esmd2")
        t0 = time.monotonic()
        self.start_esmd(esmd2, network, volume, port)
        wait_until(host.healthy, timeout=30, interval=0.005, message="health of the new container")
        print(f"docker: new container on the volume: podman run -> first healthy answer "
              f"{(time.monotonic() - t0) * 1000:.0f} ms", flush=True)
        self.assert_state_kept(host, uuid, arn, queue_url, held, fn)

        # Enabled again: the messages that waited through both restarts reach the function.
        host.aws("lambda", "update-event-source-mapping", "--uuid", uuid, "--enabled")
        wait_until(lambda: set(held) <= set(delivered_bodies(c.logs(fn))), timeout=30, message="held deliveries")
        wait_until(lambda: host.queue_counts(queue_url) == (0, 0), timeout=30, interval=0.1, message="an empty queue")
        self.assertEqual(sorted(delivered_bodies(c.logs(fn))), sorted(sent + held))

    def assert_state_kept(self, host, uuid, arn, queue_url, held, fn):
        m = host.aws("lambda", "get-event-source-mapping", "--uuid", uuid)
        self.assertEqual((m["State"], m["EventSourceArn"], m["BatchSize"]), ("Disabled", arn, 5))
        self.assertIn(uuid, [x["UUID"] for x in host.aws("lambda", "list-event-source-mappings")["EventSourceMappings"]])
        self.assertEqual(host.queue_counts(queue_url), (len(held), 0))
        self.assertFalse(set(held) & set(delivered_bodies(self.c.logs(fn))), "delivered while disabled")

    def check_kafka_from_the_host(self, kafka_port):
        """kcat on the host produces to and consumes from the broker in the container, through the
        advertised listener the compose file sets (what a client dials after bootstrap)."""
        kcat = shutil.which("kcat")
        if kcat is None:
            print("docker: kcat is not installed; the Kafka round trip is left out", flush=True)
            return
        bootstrap = f"127.0.0.1:{kafka_port}"
        metadata = wait_until(lambda: subprocess.run([kcat, "-b", bootstrap, "-L", "-m", "5"], capture_output=True,
                                                     text=True, timeout=30).stdout, timeout=30, message="kcat -L")
        self.assertIn(f"broker 1 at {bootstrap}", metadata)
        p = subprocess.run([kcat, "-b", bootstrap, "-P", "-t", "from-host", "-z", "gzip"], input="one\ntwo\n",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run([kcat, "-b", bootstrap, "-C", "-t", "from-host", "-o", "beginning", "-e", "-q"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.stdout.split(), ["one", "two"], p.stderr)

    def test_compose_file_runs_esmd_next_to_the_example_function(self):
        compose = shutil.which("podman-compose")
        if compose is None:
            self.skipTest("podman-compose is not installed (scripts/install-deps.sh --test installs it)")
        # podman-compose runs `podman`; this wrapper gives it the container tool's settings.
        bindir = tempfile.mkdtemp(prefix="esmd-compose-")
        self.addCleanup(shutil.rmtree, bindir, ignore_errors=True)
        wrapper = os.path.join(bindir, "podman")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec "{self.c.tool}" podman "$@"\n')
        os.chmod(wrapper, stat.S_IRWXU)
        project = f"esmdtest{self.id}"
        port, kafka_port = free_port(), free_port()
        env = dict(os.environ, ESMD_PUBLISHED_PORT=str(port), ESMD_KAFKA_PUBLISHED_PORT=str(kafka_port))

        def podman_compose(*args, timeout=600):
            argv = [compose, "--podman-path", wrapper, "-p", project, "-f", os.path.join(REPO, "docker", "compose.yaml"),
                    "--podman-build-args", "--network=host --format docker", *args]
            p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
            if p.returncode != 0:
                raise AssertionError(f"podman-compose {' '.join(args)} exited with {p.returncode}:\n"
                                     f"{quiet(p.stdout)[-3000:]}\n{quiet(p.stderr)[-3000:]}")
            return p

        self.addCleanup(self.c.podman, "rmi", f"{project}_esmd", f"{project}_fn", check=False)
        self.addCleanup(self.c.podman, "network", "rm", "-f", f"{project}_default", check=False)
        self.addCleanup(podman_compose, "down", "-v", timeout=120)
        t0 = time.monotonic()
        podman_compose("up", "-d")
        esmd, fn = f"{project}_esmd_1", f"{project}_fn_1"
        self.addCleanup(self.print_logs, fn)
        self.addCleanup(self.print_logs, esmd)
        host = HostClient(port)
        host.wait_healthy()
        print(f"docker: podman-compose up -d (images from the build cache) -> healthy {time.monotonic() - t0:.1f} s",
              flush=True)
        self.assertEqual(self.c.podman("healthcheck", "run", esmd, check=False).returncode, 0, "HEALTHCHECK failed")
        self.check_kafka_from_the_host(kafka_port)

        # docker/README.md's walk-through: a queue with a dead-letter queue, a mapping to the
        # compose file's function with partial batch responses, one message the handler accepts
        # and one it reports as failed until the queue's redrive policy moves it away.
        dlq_arn = "arn:aws:sqs:us-east-1:000000000000:orders-dlq"
        dlq_url = host.aws("sqs", "create-queue", "--queue-name", "orders-dlq")["QueueUrl"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
        queue_url = host.aws("sqs", "create-queue", "--queue-name", "orders", "--attributes",
                             json.dumps({"VisibilityTimeout": "2", "RedrivePolicy": redrive}))["QueueUrl"]
        uuid = host.aws("lambda", "create-event-source-mapping", "--function-name", "process-orders",
                        "--event-source-arn", "arn:aws:sqs:us-east-1:000000000000:orders",
                        "--function-response-types", "ReportBatchItemFailures")["UUID"]
        wait_until(lambda: host.mapping_state(uuid) == "Enabled", timeout=30, interval=0.1, message="Enabled")
        ok, bad = '{"orderId":"o-1"}', '{"orderId":"o-2","fail":true}'
        host.aws("sqs", "send-message", "--queue-url", queue_url, "--message-body", ok)
        host.aws("sqs", "send-message", "--queue-url", queue_url, "--message-body", bad)
        wait_until(lambda: host.queue_counts(dlq_url)[0] == 1, timeout=30, interval=0.2, message="o-2 in the DLQ")
        wait_until(lambda: host.queue_counts(queue_url) == (0, 0), timeout=30, interval=0.1, message="an empty queue")
        bodies = delivered_bodies(self.c.logs(fn))
        self.assertEqual((bodies.count(ok), bodies.count(bad)), (1, 2), bodies)
        records = [json.loads(line) for line in self.c.logs(fn).splitlines() if line.startswith("{")]
        self.assertEqual({r["function"] for r in records}, {"process-orders"})
        received = host.aws("sqs", "receive-message", "--queue-url", dlq_url)["Messages"]
        self.assertEqual([m["Body"] for m in received], [bad])

        # The mapping lives in the compose file's volume: it is still there after a restart.
        podman_compose("restart", "esmd")
        host.wait_healthy()
        self.assertEqual(host.mapping_state(uuid), "Enabled")


if __name__ == "__main__":
    if find_container_tool() is None:
        print("SKIP: no container tool on this machine (set ESMD_CONTAINER_TOOL, or provide "
              "../shared/tools/container next to the repository); the Docker test needs one to build and run images")
        sys.exit(SKIP_EXIT)
    unittest.main(verbosity=2)
