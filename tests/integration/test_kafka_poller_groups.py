"""The Kafka poller's consumer groups: a group's committed offsets win over StartingPosition, and
two mappings with their own groups each get every record (data-plane.md §4). Runs under
/usr/bin/python3 against esmd's own broker: AWS CLI, confluent-kafka."""
import json
import unittest

from esmd_harness import wait_until
from kafka_poller_support import KafkaPollerTestCase, msk_arn, values
from kafka_support import unique
from sqs_poller_support import SqsFunction


class ConsumerGroupTest(KafkaPollerTestCase):
    def test_a_consumer_group_with_committed_offsets_ignores_the_starting_position(self):
        from confluent_kafka import Consumer, TopicPartition
        topic, group = unique("grp"), unique("group")
        self.produce(topic, ["g0", "g1", "g2", "g3"])
        c = Consumer({"bootstrap.servers": self.esmd.kafka_bootstrap, "group.id": group,
                      "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
        finally:
            c.close()
        u = self.create_msk(topic, "--amazon-managed-kafka-event-source-config",
                            json.dumps({"ConsumerGroupId": group}))
        self.assertEqual(self.get(u)["AmazonManagedKafkaEventSourceConfig"], {"ConsumerGroupId": group})
        self.wait_values(["g2", "g3"])
        self.assertEqual(self.delivered(), ["g2", "g3"])

    def test_two_mappings_with_their_own_groups_each_get_every_record(self):
        topic = unique("two")
        self.produce(topic, ["x", "y"])
        other = SqsFunction()
        self.addCleanup(other.close)
        other_name = other.register(self.esmd, unique("fn2"), concurrency=10)
        self.create_msk(topic)
        out = self.aws("lambda", "create-event-source-mapping", "--function-name", other_name,
                       "--event-source-arn", msk_arn(self.esmd.region), "--topics", topic,
                       "--starting-position", "TRIM_HORIZON")
        self.mappings.append(out["UUID"])
        self.wait_values(["x", "y"])
        wait_until(lambda: [v for c in other.finished_calls() for v in values(c.event)] == ["x", "y"],
                   timeout=15, message="the second mapping's function got both records")
        self.assertEqual(self.delivered(), ["x", "y"])


if __name__ == "__main__":
    unittest.main()
