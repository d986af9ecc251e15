"""kafka-python 2.0.2 (Debian's python3-kafka, pure Python, fixed old protocol versions: Metadata
v0/v1, Fetch v4, ListOffsets v1, JoinGroup v2, OffsetCommit v2, OffsetFetch v1; reference §A.2)
against esmd's Kafka listener: producer with acks 0, 1 and all; a consumer group of two members
sharing a 4-partition topic that rebalances when one leaves; committed offsets and their
metadata after a restart; the admin client's topics, configs and groups with Kafka's errors.
kafka-python has no idempotent producer."""
import threading
import time
import unittest

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import (InvalidReplicationFactorError, InvalidTopicError, TopicAlreadyExistsError,
                          UnknownTopicOrPartitionError)
from kafka.structs import OffsetAndMetadata

from esmd_harness import Esmd, wait_until
from kafka_support import confluent_consume, kafka_python_consume, record, unique


def make_records(n, tag):
    return [record(None, f"k{i}".encode(), f"{tag}-{i}".encode() * 3, [("n", str(i).encode())],
                   1_650_000_000_000 + i) for i in range(n)]


def content(records):
    return [(r["key"], r["value"], r["headers"], r["timestamp"]) for r in records]


def produce(bootstrap, topic, records, partition=0, **conf):
    """Sends each record and waits for its acknowledgement; returns the offsets."""
    p = KafkaProducer(bootstrap_servers=bootstrap, **conf)
    try:
        futures = [p.send(topic, key=r["key"], value=r["value"], headers=r["headers"], partition=partition,
                          timestamp_ms=r["timestamp"]) for r in records]
        p.flush(30)
        return [f.get(timeout=30).offset for f in futures]
    finally:
        p.close(timeout=10)


class Member(threading.Thread):
    """One kafka-python group member polling on its own thread (a KafkaConsumer belongs to one
    thread): its current assignment and every (partition, offset) it read."""

    def __init__(self, bootstrap, group, topic, name):
        super().__init__(name=name, daemon=True)
        self.args = dict(bootstrap_servers=bootstrap, group_id=group, client_id=name, auto_offset_reset="earliest",
                         enable_auto_commit=True, auto_commit_interval_ms=200, heartbeat_interval_ms=300,
                         session_timeout_ms=10000)
        self.topic = topic
        self.assigned = set()
        self.seen = set()
        self.halt = threading.Event()
        self.failure = None

    def run(self):
        try:
            c = KafkaConsumer(self.topic, **self.args)
        except Exception as e:  # the test reports it
            self.failure = e
            return
        try:
            while not self.halt.is_set():
                for msgs in c.poll(timeout_ms=100).values():
                    self.seen.update((m.partition, m.offset) for m in msgs)
                self.assigned = {tp.partition for tp in c.assignment()}
        except Exception as e:
            self.failure = e
        finally:
            c.close()  # LeaveGroup

    def leave(self):
        self.halt.set()
        self.join(30)
        if self.is_alive():
            raise AssertionError(f"{self.name} did not close within 30 s")


class KafkaPythonTest(unittest.TestCase):
    def setUp(self):
        self.esmd = Esmd().start()
        self.bootstrap = self.esmd.kafka_bootstrap
        self.admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=20000)

    def tearDown(self):
        self.admin.close()
        self.esmd.cleanup()

    # -- producer ------------------------------------------------------------------------------
    def test_producer_round_trips_keys_headers_and_timestamps_with_every_acks(self):
        for acks in (1, "all"):
            with self.subTest(acks=acks):
                topic = unique("kp")
                sent = make_records(30, topic)
                self.assertEqual(produce(self.bootstrap, topic, sent, acks=acks), list(range(30)))
                self.assertEqual(content(confluent_consume(self.bootstrap, topic, 30)), content(sent))
                self.assertEqual(content(kafka_python_consume(self.bootstrap, topic, 30)), content(sent))

    def test_producer_acks_0_records_arrive(self):
        topic = unique("kp0")
        sent = make_records(20, topic)
        produce(self.bootstrap, topic, sent, acks=0)
        self.assertEqual(content(kafka_python_consume(self.bootstrap, topic, 20)), content(sent))
        self.assertEqual(produce(self.bootstrap, topic, make_records(2, "more"), acks=1), [20, 21])

    def test_consumer_reads_from_an_offset_and_finds_the_partition_ends(self):
        topic = unique("ends")
        produce(self.bootstrap, topic, make_records(12, topic))
        got = kafka_python_consume(self.bootstrap, topic, 5, offset=7)
        self.assertEqual([r["offset"] for r in got], [7, 8, 9, 10, 11])
        c = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            tp = TopicPartition(topic, 0)
            # ListOffsets v1: earliest, latest and by timestamp (the first record at or after it).
            self.assertEqual(c.beginning_offsets([tp]), {tp: 0})
            self.assertEqual(c.end_offsets([tp]), {tp: 12})
            found = c.offsets_for_times({tp: 1_650_000_000_000 + 5})[tp]
            self.assertEqual((found.offset, found.timestamp), (5, 1_650_000_000_000 + 5))
            self.assertIsNone(c.offsets_for_times({tp: 1_650_000_000_000 + 99})[tp])
        finally:
            c.close()

    # -- consumer groups -----------------------------------------------------------------------
    def test_two_members_share_four_partitions_and_the_one_left_gets_all_after_a_leave(self):
        topic = unique("kgroup")
        group = unique("g")
        self.admin.create_topics([NewTopic(topic, 4, 1)])
        for part in range(4):
            produce(self.bootstrap, topic, make_records(5, f"p{part}"), partition=part)
        a = Member(self.bootstrap, group, topic, "member-a")
        a.start()
        try:
            wait_until(lambda: a.failure or a.assigned == {0, 1, 2, 3}, timeout=30, message="member a assigned all")
            self.assertIsNone(a.failure)
            b = Member(self.bootstrap, group, topic, "member-b")
            b.start()
            try:
                wait_until(lambda: a.failure or b.failure or (a.assigned and b.assigned and not a.assigned & b.assigned
                                                              and a.assigned | b.assigned == {0, 1, 2, 3}),
                           timeout=30, message=f"the members sharing the partitions (a {a.assigned}, b {b.assigned})")
                self.assertIsNone(a.failure or b.failure)
                self.assertEqual((len(a.assigned), len(b.assigned)), (2, 2))
                described = self.admin.describe_consumer_groups([group])[0]
                self.assertEqual(described.state, "Stable")
                self.assertEqual(described.protocol_type, "consumer")
                self.assertEqual(sorted(m.client_id for m in described.members), ["member-a", "member-b"])
                self.assertIn((group, "consumer"), self.admin.list_consumer_groups())
            finally:
                b.leave()
            wait_until(lambda: a.failure or a.assigned == {0, 1, 2, 3}, timeout=30,
                       message=f"member a assigned all partitions after b left (a {a.assigned})")
            self.assertIsNone(a.failure)
            for part in range(4):
                produce(self.bootstrap, topic, make_records(1, f"late{part}"), partition=part)
            wait_until(lambda: {(p, 5) for p in range(4)} <= a.seen, timeout=30,
                       message=f"member a reading the new records (saw {sorted(a.seen)})")
            everything = {(p, o) for p in range(4) for o in range(6)}
            self.assertEqual((a.seen | b.seen) & everything, everything)
        finally:
            a.leave()

    def test_a_group_without_members_is_deleted_with_its_offsets_and_an_unknown_one_is_not_found(self):
        topic = unique("kdel")
        group = unique("g")
        self.admin.create_topics([NewTopic(topic, 1, 1)])
        produce(self.bootstrap, topic, make_records(3, "d"), partition=0)
        tp = TopicPartition(topic, 0)
        # A manually assigned consumer commits as no member of the group (generation -1).
        c = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False)
        try:
            c.assign([tp])
            c.commit({tp: OffsetAndMetadata(2, "before-delete")})
        finally:
            c.close()
        self.assertEqual({t: o.offset for t, o in self.admin.list_consumer_group_offsets(group).items()}, {tp: 2})
        self.assertIn((group, "consumer"), [(g, "consumer") for g, _ in self.admin.list_consumer_groups()])
        unknown = unique("never")
        results = dict(self.admin.delete_consumer_groups([group, unknown]))
        self.assertEqual(results[group].errno, 0)
        self.assertEqual(results[unknown].errno, 69)  # GROUP_ID_NOT_FOUND
        self.assertEqual(self.admin.list_consumer_group_offsets(group), {})
        self.assertNotIn(group, [g for g, _ in self.admin.list_consumer_groups()])

    def test_committed_offsets_and_metadata_survive_a_restart(self):
        topic = unique("kcommit")
        group = unique("g")
        self.admin.create_topics([NewTopic(topic, 2, 1)])
        for part in range(2):
            produce(self.bootstrap, topic, make_records(10, f"p{part}"), partition=part)
        tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
        c = KafkaConsumer(topic, bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False,
                          auto_offset_reset="earliest", heartbeat_interval_ms=300)
        try:
            seen = set()
            deadline = time.monotonic() + 30
            while len(seen) < 20 and time.monotonic() < deadline:
                for msgs in c.poll(timeout_ms=200).values():
                    seen.update((m.partition, m.offset) for m in msgs)
            self.assertEqual(len(seen), 20)
            c.commit({tp0: OffsetAndMetadata(4, "meta-zero"), tp1: OffsetAndMetadata(7, "meta-one")})
        finally:
            c.close()

        self.esmd.restart()
        self.admin.close()
        self.admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=20000)

        offsets = self.admin.list_consumer_group_offsets(group)
        self.assertEqual({tp: (om.offset, om.metadata) for tp, om in offsets.items()},
                         {tp0: (4, "meta-zero"), tp1: (7, "meta-one")})
        c = KafkaConsumer(topic, bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False,
                          auto_offset_reset="earliest")
        try:
            got = set()
            deadline = time.monotonic() + 30
            while len(got) < 9 and time.monotonic() < deadline:
                for msgs in c.poll(timeout_ms=200).values():
                    got.update((m.partition, m.offset) for m in msgs)
            self.assertEqual(got, {(0, o) for o in range(4, 10)} | {(1, o) for o in range(7, 10)})
            self.assertEqual(c.committed(tp0), 4)
        finally:
            c.close()

    # -- admin ---------------------------------------------------------------------------------
    def test_admin_creates_lists_and_deletes_topics(self):
        topic = unique("kadmin")
        self.admin.create_topics([NewTopic(topic, 3, 1)])
        self.assertIn(topic, self.admin.list_topics())
        c = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            self.assertEqual(c.partitions_for_topic(topic), {0, 1, 2})
        finally:
            c.close()
        self.admin.delete_topics([topic])
        wait_until(lambda: topic not in self.admin.list_topics(), timeout=10, message="the topic gone")

    def test_admin_errors_are_kafkas(self):
        topic = unique("kerrs")
        self.admin.create_topics([NewTopic(topic, 1, 1)])
        with self.assertRaises(TopicAlreadyExistsError):
            self.admin.create_topics([NewTopic(topic, 1, 1)])
        with self.assertRaises(InvalidReplicationFactorError):
            self.admin.create_topics([NewTopic(unique("rf3"), 1, 3)])
        with self.assertRaises(InvalidTopicError):
            self.admin.create_topics([NewTopic("bad name!", 1, 1)])
        with self.assertRaises(UnknownTopicOrPartitionError):
            self.admin.delete_topics([unique("missing")])
        self.assertNotIn("bad name!", self.admin.list_topics())

    def test_admin_describes_topic_configs(self):
        topic = unique("kconf")
        self.admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"retention.ms": "120000"})])
        response = self.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])[0]
        (error, _message, _type, name, entries), = response.resources
        self.assertEqual((error, name), (0, topic))
        values = {e[0]: e[1] for e in entries}
        self.assertEqual(values["retention.ms"], "120000")
        self.assertIn("cleanup.policy", values)


if __name__ == "__main__":
    unittest.main()
