"""The Kafka poller reading "someone else's Kafka": librdkafka's mock cluster
(tests/tools/mock_kafka_cluster, mock_kafka.py) stands for a team's real cluster, and a
self-managed mapping created with the AWS CLI points at it. Records produced there with kcat
reach the function; when the cluster goes down the mapping reports AWS's connection problem and
esmd stays healthy, and when it comes back delivery resumes from the committed offsets with
nothing skipped (issue 12)."""
import base64
import json
import unittest

from esmd_harness import Esmd, wait_until
from kafka_support import kcat
from mock_kafka import MockKafkaCluster
from sqs_poller_support import SqsFunction, unique

CONNECTION_PROBLEM = "PROBLEM: Connection error. Please check your event source connection configuration."
# A cluster in a VPC without authentication: what a plaintext connection needs.
ACCESS = json.dumps([{"Type": "VPC_SUBNET", "URI": "subnet:subnet-0a1b2c3d"},
                     {"Type": "VPC_SECURITY_GROUP", "URI": "security_group:sg-0a1b2c3d"}])


class OtherClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(in_memory=True, transition_delay_ms=50).start()

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def setUp(self):
        self.fn = SqsFunction()
        self.addCleanup(self.fn.close)
        self.function = self.fn.register(self.esmd, unique("fn"), concurrency=10)

    def create_mapping(self, bootstrap, topic, **extra):
        args = ["lambda", "create-event-source-mapping", "--function-name", self.function, "--topics", topic,
                "--self-managed-event-source", json.dumps({"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS":
                                                                          bootstrap.split(",")}}),
                "--source-access-configurations", ACCESS, "--starting-position", "TRIM_HORIZON"]
        for k, v in extra.items():
            args += [k, v]
        code, out, err = self.esmd.aws(*args)
        self.assertEqual(code, 0, err)
        uuid = out["UUID"]
        self.addCleanup(self.esmd.aws, "lambda", "delete-event-source-mapping", "--uuid", uuid)
        return uuid

    def result(self, uuid):
        code, out, err = self.esmd.aws("lambda", "get-event-source-mapping", "--uuid", uuid)
        self.assertEqual(code, 0, err)
        return out.get("LastProcessingResult")

    def values(self):
        return [base64.b64decode(r["value"]).decode()
                for c in self.fn.calls() for rs in c.event["records"].values() for r in rs]

    def test_records_produced_to_another_cluster_reach_the_function_and_survive_its_outage(self):
        topic = unique("orders")
        with MockKafkaCluster(topics={topic: 2}) as kafka:
            kcat(kafka.bootstrap, "-P", "-t", topic, "-p", "0", input=b"a1\na2\n")
            kcat(kafka.bootstrap, "-P", "-t", topic, "-p", "1", input=b"b1\n")
            uuid = self.create_mapping(kafka.bootstrap, topic)
            wait_until(lambda: sorted(self.values()) == ["a1", "a2", "b1"], timeout=30,
                       message="the three records delivered")
            event = self.fn.calls()[0].event
            self.assertEqual(event["eventSource"], "SelfManagedKafka")
            self.assertNotIn("eventSourceArn", event)
            self.assertEqual(event["bootstrapServers"], kafka.bootstrap)
            wait_until(lambda: self.result(uuid) == "OK", timeout=10, message="LastProcessingResult OK")

            kafka.down()
            wait_until(lambda: self.result(uuid) == CONNECTION_PROBLEM, timeout=30,
                       message="the connection problem in LastProcessingResult")
            status, _, _ = self.esmd.http("GET", "/_esmd/health")
            self.assertEqual(status, 200)

            kafka.up()
            kcat(kafka.bootstrap, "-P", "-t", topic, "-p", "0", input=b"a3\n")
            wait_until(lambda: "a3" in self.values(), timeout=30, message="a record produced after the outage")
            wait_until(lambda: self.result(uuid) == "OK", timeout=10, message="LastProcessingResult OK again")
            # Each record once: the offsets committed before the outage held.
            self.assertEqual(sorted(self.values()), ["a1", "a2", "a3", "b1"])


if __name__ == "__main__":
    unittest.main()
