"""The Kafka poller's batches: BatchSize, the batching window (500 ms by default, 0 = at once),
several partitions in one event, a topic created after its mapping (data-plane.md §4,
kafka.md B.3). Runs under /usr/bin/python3 against esmd's own broker: AWS CLI, confluent-kafka."""
import base64
import time
import unittest

from esmd_harness import wait_until

from kafka_poller_support import OK, KafkaPollerTestCase, kafka_records, values
from kafka_support import unique


class BatchingTest(KafkaPollerTestCase):
    def test_batch_size_5_splits_12_records_in_order(self):
        topic = unique("b5")
        texts = [f"r{i}" for i in range(12)]
        self.produce(topic, texts)
        self.create_msk(topic, "--batch-size", "5")
        self.wait_values(texts)
        calls = self.fn.finished_calls()
        self.assertTrue(all(len(values(c.event)) <= 5 for c in calls), [values(c.event) for c in calls])
        self.assertEqual(self.delivered(), texts)
        offsets = [r["offset"] for c in calls for _, r in kafka_records(c.event)]
        self.assertEqual(offsets, list(range(12)))

    def test_an_updated_batch_size_applies_to_later_batches(self):
        topic = unique("upd")
        self.produce(topic, ["warm"])
        u = self.create_msk(topic, "--batch-size", "2", "--maximum-batching-window-in-seconds", "1")
        self.wait_values(["warm"])
        self.update(u, "--batch-size", "6")
        wait_until(lambda: self.peek(u).get("BatchSize") == 6 and self.peek(u).get("State") == "Enabled",
                   timeout=10, message="BatchSize 6 in force")
        texts = [f"u{i}" for i in range(6)]
        self.produce(topic, texts)
        self.wait_values(texts)
        sizes = [len(values(c.event)) for c in self.fn.finished_calls()][1:]
        self.assertEqual(self.delivered(), ["warm"] + texts)
        self.assertEqual(max(sizes), 6, sizes)

    def test_default_window_holds_a_lone_record_about_half_a_second(self):
        topic = unique("win")
        self.produce(topic, ["warm"])
        self.create_msk(topic)
        self.wait_values(["warm"])
        time.sleep(0.3)  # the consumer is at the end of the topic
        self.produce(topic, ["lone"])
        sent = time.monotonic()  # acknowledged: the poller can read it from now on
        self.wait_values(["lone"])
        call = [c for c in self.fn.finished_calls() if "lone" in values(c.event)][0]
        waited = call.started - sent
        self.assertGreaterEqual(waited, 0.3, waited)
        self.assertLess(waited, 3.0, waited)

    def test_window_zero_sends_at_once(self):
        topic = unique("w0")
        self.produce(topic, ["warm"])
        u = self.create_msk(topic, "--maximum-batching-window-in-seconds", "0")
        self.assertEqual(self.get(u)["MaximumBatchingWindowInSeconds"], 0)
        self.wait_values(["warm"])
        time.sleep(0.3)
        self.produce(topic, ["quick"])
        sent = time.monotonic()
        self.wait_values(["quick"])
        call = [c for c in self.fn.finished_calls() if "quick" in values(c.event)][0]
        self.assertLess(call.started - sent, 0.3)

    def test_three_partitions_share_events_each_in_offset_order(self):
        topic = unique("p3")
        self.create_topic(topic, 3)
        expected = {}
        for p in range(3):
            texts = [f"p{p}-{i}" for i in range(6)]
            self.produce(topic, texts, partition=p)
            expected[f"{topic}-{p}"] = texts
        self.create_msk(topic, "--batch-size", "100")
        self.wait_values([t for ts in expected.values() for t in ts])
        got = {}
        keys_per_event = []
        for c in self.fn.finished_calls():
            keys_per_event.append(list(c.event["records"]))
            for key, r in kafka_records(c.event):
                self.assertEqual(key, f"{r['topic']}-{r['partition']}")
                got.setdefault(key, []).append(r)
        for key, texts in expected.items():
            self.assertEqual([base64.b64decode(r["value"]).decode() for r in got[key]], texts)
            self.assertEqual([r["offset"] for r in got[key]], list(range(6)))
        self.assertTrue(any(len(keys) > 1 for keys in keys_per_event), keys_per_event)



class LateTopicTest(KafkaPollerTestCase):
    def test_a_topic_created_after_its_mapping_is_consumed(self):
        topic = unique("late")
        u = self.create_msk(topic)
        time.sleep(1.0)  # the consumer is up with no such topic
        self.produce(topic, ["born-late-1", "born-late-2"])
        self.wait_values(["born-late-1", "born-late-2"], timeout=40)
        self.wait_result(u, OK)

if __name__ == "__main__":
    unittest.main()
