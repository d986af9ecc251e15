"""The Kafka poller when the function fails or filters: whole-batch retries in order,
ReportBatchItemFailures, bisect with MaximumRetryAttempts, FilterCriteria and the committed
offsets, a self-managed cluster nobody listens on (data-plane.md §4, kafka.md B.4-B.5). Runs
under /usr/bin/python3 against esmd's own broker: AWS CLI, confluent-kafka."""
import base64
import json
import threading
import time
import unittest

from esmd_harness import Esmd, free_port, wait_until
from kafka_poller_support import (CONNECTION_ERROR, OK, KafkaPollerTestCase, kafka_records,
                                  values)
from kafka_support import confluent_produce, record, unique
from sqs_poller_support import Reply, raise_error, succeed


class Scripted:
    """A behaviour answering call i with answers[i](event) (the last one after that), and
    recording (values, succeeded) per call."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.lock = threading.Lock()
        self.log = []

    def __call__(self, event):
        with self.lock:
            i = len(self.log)
            answer = self.answers[min(i, len(self.answers) - 1)]
            self.log.append(None)
        reply = answer(event)
        ok = "X-Amz-Function-Error" not in reply.headers and b"batchItemFailures" not in reply.body
        with self.lock:
            self.log[i] = (values(event), ok)
        return reply

    def calls(self):
        with self.lock:
            return [c for c in self.log if c is not None]

    def succeeded(self):
        return [v for vs, ok in self.calls() if ok for v in vs]


class RetryTest(KafkaPollerTestCase):
    def test_a_failing_batch_is_retried_whole_and_nothing_overtakes_it(self):
        topic = unique("retry")
        self.produce(topic, ["a", "b", "c"])
        script = Scripted(raise_error(), raise_error(), succeed())
        self.fn.behave(script)
        u = self.create_msk(topic, "--batch-size", "3")
        wait_until(lambda: len(script.calls()) >= 1, timeout=15, message="the first call")
        self.produce(topic, ["d", "e"])
        wait_until(lambda: {"a", "b", "c", "d", "e"} <= set(script.succeeded()), timeout=20,
                   message="every record delivered in a successful call")
        calls = script.calls()
        self.assertEqual([ok for _, ok in calls[:3]], [False, False, True])
        self.assertEqual(calls[0][0], ["a", "b", "c"])
        self.assertEqual(calls[1][0], calls[0][0])
        self.assertEqual(calls[2][0], calls[0][0])
        self.assertEqual(script.succeeded(), ["a", "b", "c", "d", "e"])
        self.wait_result(u, OK)


class ReportBatchItemFailuresTest(KafkaPollerTestCase):
    def test_records_from_the_reported_offset_come_again_and_earlier_ones_do_not(self):
        topic = unique("rbif")
        texts = [f"r{i}" for i in range(6)]
        self.produce(topic, texts)
        reported = []

        def report_middle(event):
            recs = [r for _, r in kafka_records(event)]
            offset = recs[len(recs) // 2]["offset"]
            reported.append(offset)
            return Reply(200, json.dumps({"batchItemFailures": [
                {"itemIdentifier": {"partition": f"{topic}-0", "offset": offset}}]}))
        script = Scripted(report_middle, succeed())
        self.fn.behave(script)
        self.create_msk(topic, "--batch-size", "10", "--function-response-types", "ReportBatchItemFailures")

        def done():  # the first call's records before the reported one succeeded with it
            calls = script.calls()
            return calls and set(texts) <= set(calls[0][0][:reported[0]]) | set(script.succeeded())
        wait_until(done, timeout=20, message="every record delivered")
        first, n = script.calls()[0][0], reported[0]
        self.assertGreater(len(first), 1, "the first batch must hold several records for this test")
        later = [v for vs, _ in script.calls()[1:] for v in vs]
        self.assertEqual(later[:len(first) - n], first[n:])
        for v in first[:n]:
            self.assertNotIn(v, later)
        self.assertEqual(sorted(set(first[:n]) | set(later), key=texts.index), texts)


    def test_an_identifier_naming_no_record_of_the_batch_fails_it_whole(self):
        topic = unique("rbif-bad")
        self.produce(topic, ["a", "b", "c"])
        bad = Reply(200, json.dumps({"batchItemFailures": [{"itemIdentifier": {"partition": f"{topic}-0",
                                                                                "offset": 99}}]}))
        script = Scripted(lambda event: bad, succeed())
        self.fn.behave(script)
        self.create_msk(topic, "--batch-size", "10", "--function-response-types", "ReportBatchItemFailures")
        wait_until(lambda: len(script.calls()) >= 2, timeout=20, message="a second call")
        first, second = script.calls()[0][0], script.calls()[1][0]
        self.assertEqual(second[:len(first)], first)

    def test_a_failure_in_a_later_partition_retries_from_it_in_event_order(self):
        topic = unique("rbif-p")
        self.create_topic(topic, 2)
        self.produce(topic, ["p0-a", "p0-b"], partition=0)
        self.produce(topic, ["p1-a", "p1-b"], partition=1)
        named = []

        def fail_second_partition(event):
            keys = list(event["records"])
            if len(keys) < 2:
                return Reply(200, b"")
            r = event["records"][keys[1]][1]
            named.append((keys, r["offset"], base64.b64decode(r["value"]).decode()))
            return Reply(200, json.dumps({"batchItemFailures": [
                {"itemIdentifier": {"partition": keys[1], "offset": r["offset"]}}]}))
        script = Scripted(fail_second_partition, succeed())
        self.fn.behave(script)
        self.create_msk(topic, "--batch-size", "10", "--function-response-types", "ReportBatchItemFailures")
        wait_until(lambda: len(script.calls()) >= 2, timeout=20, message="a second call")
        if not named:
            self.skipTest(f"the first event held one partition: {script.calls()[0]}")
        keys, offset, value = named[0]
        first = script.calls()[0][0]
        retried = script.calls()[1][0]
        # Records from the named one on, in the event's order, come again; none before it.
        self.assertEqual(retried, first[first.index(value):])


class BisectTest(KafkaPollerTestCase):
    def test_a_poison_record_is_given_up_and_the_rest_flow(self):
        topic = unique("bisect")
        texts = ["g0", "g1", "g2", "poison", "g4", "g5", "g6", "g7"]
        self.produce(topic, texts)

        def fail_on_poison(event):
            return raise_error()(event) if "poison" in values(event) else Reply(200, b"")
        script = Scripted(fail_on_poison)
        self.fn.behave(script)
        self.create_msk(topic, "--batch-size", "8", "--bisect-batch-on-function-error",
                        "--maximum-retry-attempts", "1")
        good = [t for t in texts if t != "poison"]
        wait_until(lambda: set(good) <= set(script.succeeded()), timeout=30,
                   message="every good record delivered")
        self.produce(topic, ["later"])
        wait_until(lambda: "later" in script.succeeded(), timeout=20, message="a later record delivered")
        self.assertNotIn("poison", script.succeeded())
        self.assertTrue(any(vs == ["poison"] for vs, _ in script.calls()), script.calls())
        self.assertTrue(any(len(vs) == 8 for vs, _ in script.calls()), script.calls())
        tries = sum("poison" in vs for vs, _ in script.calls())
        time.sleep(1.5)  # proving the poison record is not tried again
        self.assertEqual(sum("poison" in vs for vs, _ in script.calls()), tries)
        self.assertEqual([v for v in script.succeeded() if v in good], good)


class FilterTest(KafkaPollerTestCase):
    def committed(self, group, topic):
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.esmd.kafka_bootstrap, "group.id": group,
                      "enable.auto.commit": False})
        try:
            return c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
        finally:
            c.close()

    def test_only_matching_records_reach_the_function_and_the_others_are_committed(self):
        topic = unique("filter")
        kinds = ["keep", "drop", "keep", "drop", "drop", "keep", "drop", "drop"]
        texts = [json.dumps({"kind": k, "n": i}) for i, k in enumerate(kinds)]
        self.produce(topic, texts)
        pattern = json.dumps({"value": {"kind": ["keep"]}})
        u = self.create_msk(topic, "--filter-criteria", json.dumps({"Filters": [{"Pattern": pattern}]}))
        keep = [t for t in texts if '"keep"' in t]
        self.wait_values(keep)
        wait_until(lambda: self.committed(u, topic) == len(texts), timeout=15, interval=0.3,
                   message="the group's committed offset past every record")
        # Records that match none: committed without a call.
        self.produce(topic, [json.dumps({"kind": "drop", "n": 99})])
        wait_until(lambda: self.committed(u, topic) == len(texts) + 1, timeout=15, interval=0.3,
                   message="a lone unmatched record committed")
        self.assertEqual(self.delivered(), keep)


class ConnectionErrorTest(KafkaPollerTestCase):
    def test_a_self_managed_cluster_nobody_listens_on_is_a_connection_error(self):
        port = free_port(avoid=(self.esmd.port, self.esmd.kafka_port))
        u = self.create_self_managed(unique("nowhere"), [f"127.0.0.1:{port}"])
        self.wait_result(u, CONNECTION_ERROR, timeout=60)
        self.assertIsNone(self.esmd.proc.poll())
        self.assertTrue(self.esmd._healthy())
        self.assertEqual(self.fn.calls(), [])
        self.assertEqual(self.get(u)["State"], "Enabled")

    def test_a_cluster_that_comes_up_later_is_consumed(self):
        port = free_port(avoid=(self.esmd.port, self.esmd.kafka_port))
        topic = unique("later")
        u = self.create_self_managed(topic, [f"127.0.0.1:{port}"])
        self.wait_result(u, CONNECTION_ERROR, timeout=60)
        # A second esmd is the cluster, on the port the mapping names.
        cluster = Esmd("--kafka-port", str(port), in_memory=True).start()
        self.addCleanup(cluster.cleanup)
        confluent_produce(cluster.kafka_bootstrap, topic, [record(0, None, b"hello", [], None)])
        self.wait_values(["hello"], timeout=60)
        self.wait_result(u, OK)


if __name__ == "__main__":
    unittest.main()
