"""kafkajs 2.2.4 (npm, pure JavaScript; installed into tests/integration/.node on first use)
against esmd's Kafka listener, through kafkajs_driver.js: producer (plain and idempotent, whose
InitProducerId goes to the controller that Metadata names), a consumer group of two members
that rebalances when one leaves, and the admin client (createTopics, listTopics, fetchOffsets,
deleteTopics) with Kafka's errors."""
import unittest

from esmd_harness import Esmd
from kafka_support import (confluent_consume, confluent_produce, fetch_batches, kafkajs, kafkajs_available,
                           record, records_from_js, records_to_js, unique)


def make_records(n, tag, partition=0):
    return [record(None, f"k{i}".encode(), f"{tag}-{i}".encode() * 2, [("n", str(i).encode()), ("js", b"\x00\xff")],
                   1_690_000_000_000 + i, partition) for i in range(n)]


def content(records):
    return [(r["key"], r["value"], r["headers"], r["timestamp"]) for r in records]


@unittest.skipUnless(kafkajs_available(), "node is not installed")
class KafkajsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()
        cls.bootstrap = cls.esmd.kafka_bootstrap

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def js(self, op, **command):
        return kafkajs(self.bootstrap, {"op": op, **command})

    def admin(self, *calls):
        return self.js("admin", calls=[{"call": c, "args": a} for c, a in calls])["results"]

    def test_producer_sends_and_a_librdkafka_consumer_reads_it_back(self):
        for idempotent in (False, True):
            with self.subTest(idempotent=idempotent):
                topic = unique("js-idem" if idempotent else "js")
                sent = make_records(30, topic)
                out = self.js("produce", topic=topic, messages=records_to_js(sent), idempotent=idempotent, perSend=10)
                self.assertEqual([r[0]["baseOffset"] for r in out["results"]], ["0", "10", "20"])
                self.assertTrue(all(r[0]["errorCode"] == 0 for r in out["results"]), out)
                self.assertEqual(content(confluent_consume(self.bootstrap, topic, 30)), content(sent))
                batches = fetch_batches(self.esmd.kafka_port, topic)["batches"]
                if idempotent:
                    self.assertEqual([b["base_sequence"] for b in batches], [0, 10, 20])
                    self.assertGreaterEqual(batches[0]["producer_id"], 0)
                    self.assertEqual(len({b["producer_id"] for b in batches}), 1)
                else:
                    self.assertEqual({b["producer_id"] for b in batches}, {-1})

    def test_consumer_reads_what_librdkafka_produced(self):
        topic = unique("js-read")
        sent = make_records(25, topic)
        confluent_produce(self.bootstrap, topic, sent)
        got = self.js("consume", topics={topic: 25}, group=unique("js-g"), timeoutMs=60000)["records"][topic]
        self.assertEqual(content(records_from_js(got)), content(sent))
        self.assertEqual([int(r["offset"]) for r in got], list(range(25)))

    def test_group_members_share_partitions_and_the_one_left_gets_all_after_a_leave(self):
        topic = unique("js-group")
        group = unique("js-g")
        self.assertEqual(self.admin(("createTopics", {"topics": [{"topic": topic, "numPartitions": 4}],
                                                      "waitForLeaders": True}))[0], {"ok": True})
        for part in range(4):
            confluent_produce(self.bootstrap, topic, make_records(5, f"p{part}", part))
        out = self.js("group", topic=topic, group=group, partitions=4, records=20, timeoutMs=60000)
        self.assertEqual(out["alone"], [0, 1, 2, 3])
        self.assertEqual(sorted(out["shared"]["a"] + out["shared"]["b"]), [0, 1, 2, 3])
        self.assertEqual((len(out["shared"]["a"]), len(out["shared"]["b"])), (2, 2))
        self.assertEqual(out["after"], [0, 1, 2, 3])
        # fetchOffsets (OffsetFetch v4): every partition committed after its 5 records.
        self.assertEqual(sorted((p["partition"], p["offset"]) for p in out["offsets"][0]["partitions"]),
                         [(p, "5") for p in range(4)])

    def test_admin_creates_lists_and_deletes_topics_with_kafkas_errors(self):
        topic = unique("js-admin")
        results = self.admin(
            ("createTopics", {"topics": [{"topic": topic, "numPartitions": 2}]}),
            ("listTopics", None),
            # kafkajs answers false when the topic exists (TOPIC_ALREADY_EXISTS is not thrown).
            ("createTopics", {"topics": [{"topic": topic, "numPartitions": 2}]}),
            ("createTopics", {"topics": [{"topic": unique("rf3"), "replicationFactor": 3}]}),
            ("createTopics", {"topics": [{"topic": "bad name!"}]}),
            ("fetchTopicMetadata", {"topics": [topic]}),
            ("deleteTopics", {"topics": [topic]}),
            ("listTopics", None),
        )
        self.assertEqual(results[0], {"ok": True})
        self.assertIn(topic, results[1]["ok"])
        self.assertEqual(results[2], {"ok": False})
        self.assertEqual([e["type"] for e in results[3]["error"]["errors"]], ["INVALID_REPLICATION_FACTOR"])
        self.assertEqual([e["type"] for e in results[4]["error"]["errors"]], ["INVALID_TOPIC_EXCEPTION"])
        (meta,) = results[5]["ok"]["topics"]
        self.assertEqual(sorted(p["partitionId"] for p in meta["partitions"]), [0, 1])
        self.assertIn("ok", results[6])
        self.assertNotIn(topic, results[7]["ok"])

    def test_admin_fetch_offsets_of_a_group_without_commits_is_minus_one(self):
        topic = unique("js-nocommit")
        self.admin(("createTopics", {"topics": [{"topic": topic, "numPartitions": 1}]}))
        (result,) = self.admin(("fetchOffsets", {"groupId": unique("nobody"), "topics": [topic]}))
        self.assertEqual(result["ok"][0]["partitions"], [{"partition": 0, "offset": "-1", "metadata": None}])


if __name__ == "__main__":
    unittest.main()
