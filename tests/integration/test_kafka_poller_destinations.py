"""The Kafka poller's OnFailure destinations, end to end (data-plane.md §4, kafka.md B.5): given-up
records reach an esmd SQS queue with AWS's Kafka failure record (read back with the AWS CLI), and
a kafka://<topic> destination on esmd's own broker, one message per record keyed by the record's
key (read back with confluent-kafka). Runs under /usr/bin/python3: AWS CLI, kcat, confluent-kafka."""
import base64
import json
import unittest

from esmd_harness import ACCOUNT, wait_until
from kafka_poller_support import KafkaPollerTestCase
from kafka_support import confluent_consume, unique
from sqs_poller_support import raise_error


class KafkaDestinationsTest(KafkaPollerTestCase):
    def test_given_up_records_reach_an_sqs_queue_with_the_kafka_failure_record(self):
        queue = unique("kafka-dlq")
        url = self.aws("sqs", "create-queue", "--queue-name", queue)["QueueUrl"]
        self.fn.behave(raise_error())
        topic = unique("orders")
        self.produce(topic, ["a", "b"])
        u = self.create_msk(topic, "--maximum-retry-attempts", "1", "--destination-config",
                            json.dumps({"OnFailure": {"Destination":
                                                      f"arn:aws:sqs:{self.esmd.region}:{ACCOUNT}:{queue}"}}))
        bodies = []

        def received():
            out = self.esmd.aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "1")[1]
            bodies.extend(m["Body"] for m in (out or {}).get("Messages", []))
            return bodies
        wait_until(received, timeout=30, interval=0.1, message="the failure record in the queue")
        record = json.loads(bodies[0])
        self.assertEqual(record["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual(record["requestContext"]["approximateInvokeCount"], 2)
        self.assertEqual(record["requestContext"]["functionArn"],
                         f"arn:aws:lambda:{self.esmd.region}:{ACCOUNT}:function:{self.function}")
        self.assertEqual(record["responseContext"]["functionError"], "Unhandled")
        self.assertEqual(record["version"], "1.0")
        info = record["KafkaBatchInfo"]
        self.assertEqual(info["batchSize"], 2)
        self.assertEqual(info["eventSourceArn"], self.peek(u)["EventSourceArn"])
        self.assertEqual(info["bootstrapServers"], self.esmd.kafka_bootstrap)
        self.assertEqual(info["recordsInfo"][f"{topic}-0"]["firstRecordOffset"], "0")
        self.assertEqual(info["recordsInfo"][f"{topic}-0"]["lastRecordOffset"], "1")
        self.assertRegex(info["recordsInfo"][f"{topic}-0"]["firstRecordTimestamp"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertNotIn("payload", record)
        # Past the given-up records: a later record is delivered (and fails) alone.
        self.produce(topic, ["c"])
        wait_until(lambda: any(base64.b64decode(r["value"]) == b"c" for c in self.fn.calls()
                               for rs in c.event["records"].values() for r in rs),
                   timeout=15, message="the next record delivered")

    def test_a_kafka_destination_gets_one_message_per_record_keyed_by_its_key(self):
        self.fn.behave(raise_error())
        topic, dlt = unique("orders"), unique("orders-dlt")
        self.create_topic(dlt, 1)
        self.kcat_produce(topic, "-K", ":", input=b"k1:a\nk2:b\n")
        self.create_msk(topic, "--maximum-retry-attempts", "0", "--destination-config",
                        json.dumps({"OnFailure": {"Destination": f"kafka://{dlt}"}}))
        got = confluent_consume(self.esmd.kafka_bootstrap, dlt, 2, timeout=30)
        self.assertEqual([r["key"] for r in got], [b"k1", b"k2"])
        first = json.loads(got[0]["value"])
        self.assertEqual(first["requestContext"]["condition"], "RetriesExhausted")
        self.assertEqual(first["KafkaBatchInfo"]["recordInfo"]["offset"], "0")
        payload = first["payload"]
        self.assertEqual(payload["eventSource"], "aws:kafka")
        self.assertEqual([base64.b64decode(r["value"]) for r in payload["records"][f"{topic}-0"]], [b"a"])


if __name__ == "__main__":
    unittest.main()
