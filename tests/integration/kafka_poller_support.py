"""Shared fixtures for the Kafka poller integration tests (test_kafka_poller*.py).

These run under Debian's /usr/bin/python3 (the Kafka clients import only there; it has no
boto3): the control plane is driven with the AWS CLI (`Esmd.aws`), records are produced with
kcat and confluent-kafka (kafka_support.py), and the function is sqs_poller_support's
SqsFunction. An MSK mapping and a self-managed one both read esmd's own broker.

KafkaPollerTestCase starts one esmd per test class and, per test, a fresh SqsFunction; helpers
create mappings with the CLI, produce, and take the records apart from the events.
"""
import base64
import json
import unittest
import uuid as uuidlib

from esmd_harness import ACCOUNT, Esmd, wait_until
from kafka_support import confluent_produce, kcat, record, unique
from sqs_poller_support import SqsFunction

SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:kafka-creds-AbCdEf"
OK = "OK"
FAILED = "PROBLEM: Function call failed"
CONNECTION_ERROR = "PROBLEM: Connection error. Please check your event source connection configuration."


def msk_arn(region, name=None):
    return f"arn:aws:kafka:{region}:{ACCOUNT}:cluster/{name or unique('c')}/{uuidlib.uuid4()}-2"


def kafka_records(event):
    """The event's records in event order: (partition key, record) pairs."""
    if not isinstance(event, dict) or not isinstance(event.get("records"), dict):
        return []
    return [(k, r) for k, rs in event["records"].items() for r in rs]


def values(event):
    """The decoded values of an event's records, in event order."""
    return [base64.b64decode(r["value"]).decode() for _, r in kafka_records(event) if "value" in r]


class KafkaPollerTestCase(unittest.TestCase):
    esmd_args = ()
    transition_delay_ms = 50
    in_memory = True

    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(*cls.esmd_args, in_memory=cls.in_memory,
                        transition_delay_ms=cls.transition_delay_ms).start()

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def setUp(self):
        self.fn = SqsFunction()
        self.addCleanup(self.fn.close)
        self.function = self.fn.register(self.esmd, unique("fn"), concurrency=10)
        self.mappings = []

    def tearDown(self):
        for u in self.mappings:
            self.esmd.aws("lambda", "delete-event-source-mapping", "--uuid", u)

    def aws(self, *args):
        code, out, err = self.esmd.aws(*args)
        self.assertEqual(code, 0, f"aws {' '.join(args)}: {err}")
        return out

    # -- mappings ------------------------------------------------------------------------
    def create_msk(self, topic, *options, arn=None, wait=True):
        """An MSK mapping of `topic` (TRIM_HORIZON unless options say otherwise); its UUID."""
        arn = arn or msk_arn(self.esmd.region)
        if "--starting-position" not in options:
            options = ("--starting-position", "TRIM_HORIZON", *options)
        return self._create(["--event-source-arn", arn, "--topics", topic, *options], wait)

    def create_self_managed(self, topic, servers, *options, wait=True):
        source = json.dumps({"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": list(servers)}})
        access = json.dumps([{"Type": "BASIC_AUTH", "URI": SECRET}])
        return self._create(["--self-managed-event-source", source, "--source-access-configurations", access,
                             "--topics", topic, *options], wait)

    def _create(self, args, wait):
        out = self.aws("lambda", "create-event-source-mapping", "--function-name", self.function, *args)
        self.mappings.append(out["UUID"])
        if wait and "--no-enabled" not in args:
            self.wait_state(out["UUID"], "Enabled")
        return out["UUID"]

    def get(self, u):
        return self.aws("lambda", "get-event-source-mapping", "--uuid", u)

    def update(self, u, *options):
        return self.aws("lambda", "update-event-source-mapping", "--uuid", u, *options)

    def peek(self, u):
        """GetEventSourceMapping as raw REST-JSON: the waits poll with it, as the CLI's start-up
        (about a second on a loaded machine) would blur them."""
        status, _, body = self.esmd.http("GET", f"/2015-03-31/event-source-mappings/{u}")
        return json.loads(body) if status == 200 else {}

    def wait_state(self, u, state, timeout=10.0):
        wait_until(lambda: self.peek(u).get("State") == state, timeout=timeout, interval=0.05,
                   message=f"mapping {u} {state}")

    def wait_result(self, u, result, timeout=15.0):
        wait_until(lambda: self.peek(u).get("LastProcessingResult") == result, timeout=timeout, interval=0.05,
                   message=f"mapping {u} LastProcessingResult {result!r}")

    # -- records -------------------------------------------------------------------------
    def produce(self, topic, texts, partition=0, key=None, timestamps=None):
        """Produces one record per text (value = the text) to topic/partition with
        confluent-kafka; returns their offsets."""
        recs = [record(0, key, t.encode(), [], (timestamps[i] if timestamps else None), partition)
                for i, t in enumerate(texts)]
        return confluent_produce(self.esmd.kafka_bootstrap, topic, recs)

    def kcat_produce(self, topic, *args, input):
        return kcat(self.esmd.kafka_bootstrap, "-P", "-t", topic, *args, input=input)

    def create_topic(self, topic, partitions):
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": self.esmd.kafka_bootstrap})
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                            operation_timeout=10)[topic].result(timeout=30)

    def delivered(self):
        """The values of every answered call, in call order."""
        return [v for c in self.fn.finished_calls() for v in values(c.event)]

    def wait_values(self, expected, timeout=15.0):
        want = set(expected)
        wait_until(lambda: want <= set(self.delivered()), timeout=timeout, interval=0.05,
                   message=f"{len(want)} values delivered (got {len(set(self.delivered()) & want)})")
