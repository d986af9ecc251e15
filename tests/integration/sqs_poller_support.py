"""Shared fixtures for the SQS poller integration tests (test_sqs_poller*.py).

SqsFunction is a scriptable test function: the Invoke-API server of invoke_function_server.py
with a per-test behaviour, answering each batch as the test says, and recording each batch it
received with its start and end time:

    fn.behave(succeed())                  # 200, empty body
    fn.behave(succeed('{"x":1}'))         # 200 with that body
    fn.behave(raise_error())              # 200 + X-Amz-Function-Error: Unhandled
    fn.behave(report(["id-1"]))           # {"batchItemFailures":[{"itemIdentifier":"id-1"}]}
    fn.behave(slow(2.0, succeed()))       # waits 2 s, then answers as the inner behaviour
    fn.behave(lambda event: Reply(...))   # anything else

PollerTestCase starts one esmd per test class and, per test, an SqsFunction registered as a
fresh function; helpers create queues and mappings with boto3 (raw REST-JSON for members such
as ScalingConfig that an older boto3 lacks) and wait for stable states.
"""
import itertools
import json
import threading
import time
import unittest

from esmd_harness import ACCOUNT, Esmd, wait_until
from invoke_function_server import FunctionServer
from lambda_support import create_mapping, update_mapping


class Reply:
    def __init__(self, status=200, body=b"", headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.headers = dict(headers or {})


def succeed(body=b""):
    return lambda event: Reply(200, body)


def raise_error(message="boom"):
    payload = json.dumps({"errorMessage": message, "errorType": "Exception", "stackTrace": []})
    return lambda event: Reply(200, payload, {"X-Amz-Function-Error": "Unhandled"})


def report(ids):
    body = json.dumps({"batchItemFailures": [{"itemIdentifier": i} for i in ids]})
    return lambda event: Reply(200, body)


def slow(seconds, then=None):
    inner = then or succeed()

    def behaviour(event):
        time.sleep(seconds)
        return inner(event)
    return behaviour


class Call:
    """One invocation as the function saw it."""

    def __init__(self, function, event, started):
        self.function = function
        self.event = event
        self.started = started
        self.ended = None

    @property
    def records(self):
        if isinstance(self.event, dict) and isinstance(self.event.get("Records"), list):
            return self.event["Records"]
        return []

    @property
    def bodies(self):
        return [r.get("body") for r in self.records]


class SqsFunction:
    def __init__(self, behaviour=None):
        self._lock = threading.Lock()
        self._behaviour = behaviour or succeed()
        self._calls = []
        self._open = 0
        self.max_concurrent = 0
        self.server = FunctionServer(handler=self._handle).start()

    def _handle(self, event, request):
        parts = request.path.split("?")[0].split("/")
        call = Call(parts[3] if len(parts) > 4 else "", event, time.monotonic())
        with self._lock:
            self._calls.append(call)
            self._open += 1
            self.max_concurrent = max(self.max_concurrent, self._open)
            behaviour = self._behaviour
        try:
            reply = behaviour(event)
        finally:
            with self._lock:
                self._open -= 1
                call.ended = time.monotonic()
        return reply.status, dict({"Content-Type": "application/json"}, **reply.headers), reply.body

    def register(self, esmd, name, timeout=3, concurrency=None):
        """Registers this server as function `name` in esmd (PUT /_esmd/functions/{name})."""
        spec = {"Target": self.server.url(name), "Timeout": timeout}
        if concurrency is not None:
            spec["Concurrency"] = concurrency
        status, _, body = esmd.http("PUT", f"/_esmd/functions/{name}", json.dumps(spec),
                                    {"Content-Type": "application/json"})
        if status != 200:
            raise AssertionError(f"registering {name} failed: {status} {body!r}")
        return name

    def behave(self, behaviour):
        with self._lock:
            self._behaviour = behaviour

    def raw_bodies(self):
        """The request bodies exactly as they arrived."""
        with self.server._lock:
            return [r["body"] for r in self.server.requests]

    def calls(self, function=None):
        with self._lock:
            return [c for c in self._calls if function is None or c.function == function]

    def finished_calls(self, function=None):
        return [c for c in self.calls(function) if c.ended is not None]

    def bodies(self, function=None):
        return [b for c in self.calls(function) for b in c.bodies]

    def records(self, function=None):
        return [r for c in self.calls(function) for r in c.records]

    def wait_calls(self, n, timeout=10.0, function=None):
        """Waits until at least n invocations have been answered; returns all calls."""
        wait_until(lambda: len(self.finished_calls(function)) >= n, timeout=timeout,
                   message=f"{n} invocations of {function or 'any function'}")
        return self.calls(function)

    def wait_bodies(self, expected, timeout=10.0, function=None):
        """Waits until every body in `expected` was delivered at least once."""
        want = set(expected)
        wait_until(lambda: want <= set(self.bodies(function)), timeout=timeout,
                   message=f"{len(want)} bodies delivered")

    def close(self):
        self.server.stop()

_names = itertools.count(1)


def unique(prefix):
    return f"{prefix}-{next(_names)}-{int(time.monotonic() * 1000) % 100000}"


class PollerTestCase(unittest.TestCase):
    esmd_args = ()
    transition_delay_ms = 50
    in_memory = True

    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(*cls.esmd_args, in_memory=cls.in_memory,
                        transition_delay_ms=cls.transition_delay_ms).start()
        cls.sqs = cls.esmd.client("sqs")
        cls.lam = cls.esmd.client("lambda")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def setUp(self):
        self.fn = SqsFunction()
        self.addCleanup(self.fn.close)
        self.function = self.fn.register(self.esmd, unique("fn"), concurrency=50)
        self.mappings = []

    def tearDown(self):
        # Stop this test's pollers so they do not outlive it and race the next test.
        for uuid in self.mappings:
            try:
                self.wait_stable(uuid)
                self.lam.delete_event_source_mapping(UUID=uuid)
            except Exception:
                pass

    # -- queues --------------------------------------------------------------------------
    def make_queue(self, name=None, fifo=False, visibility=30, **attributes):
        name = name or unique("q")
        attrs = {"VisibilityTimeout": str(visibility)}
        if fifo:
            name += ".fifo"
            attrs["FifoQueue"] = "true"
        attrs.update({k: str(v) for k, v in attributes.items()})
        url = self.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        arn = self.queue_arn(name)
        return url, arn

    def queue_arn(self, name):
        return f"arn:aws:sqs:{self.esmd.region}:{ACCOUNT}:{name}"

    def counts(self, url):
        a = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])

    def total(self, url):
        return sum(self.counts(url))

    def wait_empty(self, url, timeout=10.0):
        wait_until(lambda: self.total(url) == 0, timeout=timeout, message=f"queue {url} empty")

    def send(self, url, bodies, **kwargs):
        ids = []
        for b in bodies:
            ids.append(self.sqs.send_message(QueueUrl=url, MessageBody=b, **kwargs)["MessageId"])
        return ids

    def send_batch(self, url, bodies, **kwargs):
        ids = []
        for start in range(0, len(bodies), 10):
            chunk = bodies[start:start + 10]
            entries = [dict(Id=str(i), MessageBody=b, **kwargs) for i, b in enumerate(chunk)]
            r = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
            self.assertFalse(r.get("Failed"), r)
            by_id = {e["Id"]: e["MessageId"] for e in r["Successful"]}
            ids += [by_id[str(i)] for i in range(len(chunk))]
        return ids

    # -- mappings ------------------------------------------------------------------------
    def make_mapping(self, queue_arn, function=None, wait=True, **params):
        m = create_mapping(self.esmd, self.lam, FunctionName=function or self.function, EventSourceArn=queue_arn,
                           **params)
        self.mappings.append(m["UUID"])
        if wait and params.get("Enabled", True):
            self.wait_state(m["UUID"], "Enabled")
        return m["UUID"]

    def update_mapping(self, uuid, **params):
        """UpdateEventSourceMapping with boto3, or raw REST-JSON for members it lacks."""
        return update_mapping(self.esmd, self.lam, uuid, **params)

    def mapping_over_backlog(self, url, arn, bodies, **params):
        """Sends `bodies` while the mapping is disabled, then enables it: with window 0 the
        first receive takes them all, so they form one batch (up to BatchSize)."""
        uuid = self.make_mapping(arn, Enabled=False, **params)
        ids = self.send_batch(url, bodies)
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        self.wait_state(uuid, "Enabled")
        return uuid, ids

    def state(self, uuid):
        return self.lam.get_event_source_mapping(UUID=uuid)["State"]

    def wait_state(self, uuid, state, timeout=10.0):
        wait_until(lambda: self.state(uuid) == state, timeout=timeout, message=f"mapping {uuid} {state}")

    def wait_stable(self, uuid, timeout=10.0):
        wait_until(lambda: self.state(uuid) in ("Enabled", "Disabled"), timeout=timeout,
                   message=f"mapping {uuid} stable")

    def wait_gone(self, uuid, timeout=10.0):
        def gone():
            try:
                self.lam.get_event_source_mapping(UUID=uuid)
                return False
            except self.lam.exceptions.ResourceNotFoundException:
                return True
        wait_until(gone, timeout=timeout, message=f"mapping {uuid} deleted")

    def invocations(self, uuid=None, function=None, limit=1000):
        q = [f"limit={limit}"]
        if uuid:
            q.append(f"mapping={uuid}")
        if function:
            q.append(f"function={function}")
        status, _, body = self.esmd.http("GET", "/_esmd/invocations?" + "&".join(q))
        self.assertEqual(status, 200, body)
        return json.loads(body)["Invocations"]
