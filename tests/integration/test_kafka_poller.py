"""The Kafka poller (MSK and self-managed mappings) as the function sees it: the event's shape,
starting positions (data-plane.md §1.5, §1.6, §4,
kafka.md part B). Runs under /usr/bin/python3: AWS CLI for the control plane, kcat and
confluent-kafka to produce, esmd's own broker as the cluster."""
import base64
import time
import unittest

from esmd_harness import wait_until
from kafka_poller_support import KafkaPollerTestCase, OK, kafka_records, values
from sqs_poller_support import slow
from kafka_support import confluent_produce, record, unique

MSK_RECORD_KEYS = {"topic", "partition", "offset", "timestamp", "timestampType", "key", "value", "headers"}


def signed(data):
    return [b - 256 if b > 127 else b for b in data]


class EventShapeTest(KafkaPollerTestCase):
    def test_msk_event_has_the_documented_members_from_kcat_and_confluent_records(self):
        topic = unique("orders")
        self.kcat_produce(topic, "-K", ":", "-H", "trace-id=abc", "-H", "empty=", input=b"k1:{\"a\":1}\n")
        self.kcat_produce(topic, input=b"no-key\n")
        confluent_produce(self.esmd.kafka_bootstrap, topic, [
            record(0, b"k3", b"v3", [("h", b"x\xc3\xab\x00\xff"), ("h", b"again")], 1_700_000_000_000),
            record(0, None, b"v4", [], 1_700_000_000_001),
            record(0, b"gone", None, [], 1_700_000_000_002)])
        arn = f"arn:aws:kafka:{self.esmd.region}:000000000000:cluster/demo/7c9e6679-7425-40de-944b-e07fc1f90ae7-2"
        u = self.create_msk(topic, "--batch-size", "10", arn=arn)
        wait_until(lambda: sum(len(kafka_records(c.event)) for c in self.fn.finished_calls()) >= 5, timeout=15,
                   message="5 records delivered")
        events = [c.event for c in self.fn.finished_calls()]
        for event in events:
            self.assertEqual(set(event), {"eventSource", "eventSourceArn", "bootstrapServers", "records"})
            self.assertEqual(event["eventSource"], "aws:kafka")
            self.assertEqual(event["eventSourceArn"], arn)
            self.assertEqual(event["bootstrapServers"], self.esmd.kafka_bootstrap)
            self.assertEqual(list(event["records"]), [f"{topic}-0"])
        recs = [r for e in events for _, r in kafka_records(e)]
        self.assertEqual([r["offset"] for r in recs], [0, 1, 2, 3, 4])
        for r in recs:
            self.assertEqual((r["topic"], r["partition"], r["timestampType"]), (topic, 0, "CREATE_TIME"))
            for member in ("partition", "offset", "timestamp"):
                self.assertIs(type(r[member]), int, member)
        k1, nokey, k3, k4, tombstone = recs
        self.assertEqual(set(k1), MSK_RECORD_KEYS)
        self.assertEqual(base64.b64decode(k1["key"]), b"k1")
        self.assertEqual(base64.b64decode(k1["value"]), b'{"a":1}')
        self.assertEqual(k1["headers"], [{"trace-id": signed(b"abc")}, {"empty": []}])
        self.assertLess(abs(k1["timestamp"] - time.time() * 1000), 120_000)
        self.assertEqual(set(nokey), MSK_RECORD_KEYS - {"key"})
        self.assertEqual(base64.b64decode(nokey["value"]), b"no-key")
        self.assertEqual(nokey["headers"], [])
        self.assertEqual(k3["timestamp"], 1_700_000_000_000)
        self.assertEqual(k3["headers"], [{"h": [120, -61, -85, 0, -1]}, {"h": signed(b"again")}])
        self.assertEqual(base64.b64decode(k3["key"]), b"k3")
        self.assertEqual(set(k4), MSK_RECORD_KEYS - {"key"})
        self.assertEqual(k4["timestamp"], 1_700_000_000_001)
        # A null value (a tombstone): no `value` member either (data-plane.md §1.6, PROPOSAL).
        self.assertEqual(set(tombstone), MSK_RECORD_KEYS - {"value"})
        self.assertEqual(base64.b64decode(tombstone["key"]), b"gone")
        self.wait_result(u, OK)

    def test_self_managed_event_has_no_arn_and_the_servers_as_given(self):
        topic = unique("sm")
        self.produce(topic, ["one"])
        servers = [self.esmd.kafka_bootstrap]
        self.create_self_managed(topic, servers)
        event = self.fn.wait_calls(1, timeout=15)[0].event
        self.assertEqual(set(event), {"eventSource", "bootstrapServers", "records"})
        self.assertEqual(event["eventSource"], "SelfManagedKafka")
        self.assertEqual(event["bootstrapServers"], ",".join(servers))
        self.assertEqual(values(event), ["one"])
        self.assertEqual(list(event["records"]), [f"{topic}-0"])

    def test_self_managed_bootstrap_servers_are_the_mappings_endpoints_joined(self):
        topic = unique("sm2")
        self.produce(topic, ["one"])
        servers = [f"localhost:{self.esmd.kafka_port}", self.esmd.kafka_bootstrap]
        u = self.create_self_managed(topic, servers)
        listed = self.get(u)["SelfManagedEventSource"]["Endpoints"]["KAFKA_BOOTSTRAP_SERVERS"]
        self.assertEqual(sorted(listed), sorted(servers))
        event = self.fn.wait_calls(1, timeout=15)[0].event
        self.assertEqual(event["bootstrapServers"], ",".join(listed))
        self.assertEqual(values(event), ["one"])


class StartingPositionTest(KafkaPollerTestCase):
    def test_trim_horizon_gets_records_produced_before_the_mapping(self):
        topic = unique("th")
        self.produce(topic, ["a", "b", "c"])
        self.create_msk(topic)
        self.wait_values(["a", "b", "c"])
        self.assertEqual(self.delivered(), ["a", "b", "c"])

    def test_latest_skips_records_produced_before_enabled_and_gets_later_ones(self):
        topic = unique("latest")
        self.produce(topic, ["old-1", "old-2"])
        u = self.create_msk(topic, "--starting-position", "LATEST")
        # The consumer takes its position some time after Enabled: produce until a record
        # arrives, then check none of the old ones did.
        n = 0

        def one_arrives():
            nonlocal n
            n += 1
            self.produce(topic, [f"new-{n}"])
            return wait_or_none(lambda: self.delivered(), 1.0)
        wait_until(one_arrives, timeout=20, interval=0, message="a record produced after LATEST delivered")
        self.produce(topic, ["last"])
        self.wait_values(["last"])
        got = self.delivered()
        self.assertNotIn("old-1", got)
        self.assertNotIn("old-2", got)
        self.assertEqual(got[-1], "last")
        self.assertEqual(self.get(u)["StartingPosition"], "LATEST")

    def test_at_timestamp_starts_at_the_first_record_at_or_after_it(self):
        topic = unique("ts")
        base = 1_750_000_000_000
        self.produce(topic, ["t0", "t1", "t1b", "t2", "t3"],
                     timestamps=[base, base + 1000, base + 1999, base + 2000, base + 3000])
        # The CLI sends whole epoch seconds: the timestamp is that of t2.
        u = self.create_msk(topic, "--starting-position", "AT_TIMESTAMP",
                            "--starting-position-timestamp", str((base + 2000) // 1000))
        self.assertEqual(self.get(u)["StartingPositionTimestamp"], (base + 2000) / 1000)
        self.wait_values(["t2", "t3"])
        self.assertEqual(self.delivered(), ["t2", "t3"])


def wait_or_none(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


class OneIoThreadTest(KafkaPollerTestCase):
    """The consumer's assignment asks the cluster for committed offsets and positions, which
    waits: off the I/O thread, so that esmd's own broker (served by the same threads) answers.
    When it blocked the poller's thread, one I/O thread stalled 10 s on each call and then
    fell back to auto.offset.reset."""
    esmd_args = ("--threads", "1")

    def test_mappings_assigned_together_start_at_once_at_their_starting_position(self):
        topics = [unique(f"one-io-{i}") for i in range(3)]
        for t in topics:
            self.produce(t, [f"{t}-a", f"{t}-b"])
        started = time.monotonic()
        for t in topics:
            self.create_msk(t, wait=False)
        self.wait_values([f"{t}-{x}" for t in topics for x in "ab"], timeout=8)
        self.assertLess(time.monotonic() - started, 8)
        self.assertNotIn("committed offsets not read", self.esmd.log())
        code, _, err = self.esmd.aws("lambda", "list-event-source-mappings")
        self.assertEqual(code, 0, err)

    def test_deleting_mappings_with_batches_in_flight_leaves_the_api_answering(self):
        # The consumers are destroyed without leaving their group (a batch is in flight), which
        # waits for librdkafka's threads: not on the I/O thread, which serves the broker too.
        topics = [unique(f"one-io-del-{i}") for i in range(3)]
        for t in topics:
            self.produce(t, [f"{t}-x"])
        self.fn.behave(slow(2))
        uuids = [self.create_msk(t) for t in topics]
        wait_until(lambda: len(self.fn.calls()) >= 3, timeout=15, message="3 batches in flight")
        for u in uuids:
            status, _, body = self.esmd.http("DELETE", f"/2015-03-31/event-source-mappings/{u}")
            self.assertEqual(status, 202, body)
            self.mappings.remove(u)
        slowest = 0.0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            started = time.monotonic()
            status, _, _ = self.esmd.http("GET", "/_esmd/health")
            self.assertEqual(status, 200)
            slowest = max(slowest, time.monotonic() - started)
        self.assertLess(slowest, 1.0, "the slowest health answer after the deletes, in seconds")

if __name__ == "__main__":
    unittest.main()
