"""confluent-kafka-python 1.7.0 (librdkafka 2.0.2) against esmd's Kafka listener: producers
with acks 0, 1 and all, with and without idempotence; a consumer group of two members sharing a
4-partition topic that rebalances when one leaves; committed offsets that survive kill -9; and
the admin client's create, list, describe and delete of topics with Kafka's errors."""
import subprocess
import sys
import threading
import time
import unittest

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from esmd_harness import Esmd, wait_until
from kafka_support import confluent_consume, confluent_produce, confluent_producer, fetch_batches, record, unique


def make_records(n, tag):
    return [record(None, f"k{i}".encode(), f"{tag}-{i}".encode() * 3, [("n", str(i).encode()), ("tag", tag.encode())],
                   1_700_000_000_000 + i) for i in range(n)]


def content(records):
    return [(r["key"], r["value"], r["headers"], r["timestamp"]) for r in records]


class Member(threading.Thread):
    """One consumer-group member polling on its own thread: what it is assigned now, every
    (partition, offset) it has read, and the first error it saw."""

    def __init__(self, bootstrap, group, topic, name):
        super().__init__(name=name, daemon=True)
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
            "auto.offset.reset": "earliest", "enable.auto.commit": True, "auto.commit.interval.ms": 200,
            # Fast rebalances for the test: a member learns of one from its next heartbeat.
            "heartbeat.interval.ms": 300, "session.timeout.ms": 10000})
        self.assigned = set()
        self.seen = set()
        self.errors = []
        self.halt = threading.Event()
        self.consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, consumer, partitions):
        self.assigned = {p.partition for p in partitions}

    def _on_revoke(self, consumer, partitions):
        self.assigned = set()

    def run(self):
        try:
            while not self.halt.is_set():
                m = self.consumer.poll(0.1)
                if m is None:
                    continue
                if m.error():
                    self.errors.append(m.error())
                    continue
                self.seen.add((m.partition(), m.offset()))
        finally:
            self.consumer.close()  # LeaveGroup

    def leave(self):
        self.halt.set()
        self.join(30)
        if self.is_alive():
            raise AssertionError(f"{self.name} did not close within 30 s")


class ConfluentTest(unittest.TestCase):
    def setUp(self):
        self.esmd = Esmd().start()
        self.bootstrap = self.esmd.kafka_bootstrap
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap})

    def tearDown(self):
        self.esmd.cleanup()

    def create_topic(self, name, partitions, **config):
        futures = self.admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                                     config=config)], operation_timeout=10)
        futures[name].result(timeout=30)

    def create_error(self, topic):
        try:
            self.admin.create_topics([topic], operation_timeout=10)[topic.topic].result(timeout=30)
        except KafkaException as e:
            return e.args[0].code()
        return None

    def topics(self):
        return self.admin.list_topics(timeout=10).topics

    # -- producers -----------------------------------------------------------------------------
    def test_producer_acks_1_and_all_round_trip_keys_headers_and_timestamps(self):
        for acks in ("1", "all"):
            with self.subTest(acks=acks):
                topic = unique(f"acks{acks}")
                sent = make_records(40, topic)
                offsets = confluent_produce(self.bootstrap, topic, sent, acks=acks)
                self.assertEqual(offsets, list(range(40)))
                got = confluent_consume(self.bootstrap, topic, 40)
                self.assertEqual(content(got), content(sent))
                self.assertEqual([r["offset"] for r in got], offsets)

    def test_producer_acks_0_is_not_answered_and_its_records_arrive(self):
        topic = unique("acks0")
        sent = make_records(30, topic)
        # librdkafka reports acks=0 deliveries at once, without offsets; a reply from esmd would
        # reach it as a response to a request it never expects one for.
        confluent_produce(self.bootstrap, topic, sent, acks="0")
        self.assertEqual(content(confluent_consume(self.bootstrap, topic, 30)), content(sent))
        # The connection is still good for a produce that is answered.
        more = make_records(5, topic + "-more")
        self.assertEqual(confluent_produce(self.bootstrap, topic, more, acks="all"), list(range(30, 35)))

    def test_idempotent_producer_gets_a_producer_id_and_consecutive_sequences(self):
        topic = unique("idem")
        sent = make_records(200, topic)
        p = confluent_producer(self.bootstrap, **{"enable.idempotence": True, "linger.ms": 20,
                                                  "batch.num.messages": 50})
        offsets = {}
        for i, r in enumerate(sent):
            p.produce(topic, key=r["key"], value=r["value"], headers=r["headers"], timestamp=r["timestamp"],
                      partition=0, on_delivery=lambda err, msg, i=i: offsets.__setitem__(i, (err, msg.offset())))
            if i % 50 == 49:
                p.flush(30)
        self.assertEqual(p.flush(30), 0)
        self.assertEqual({i: o for i, (e, o) in offsets.items()}, {i: i for i in range(200)})
        self.assertTrue(all(e is None for e, _ in offsets.values()))
        self.assertEqual(content(confluent_consume(self.bootstrap, topic, 200)), content(sent))
        stored = fetch_batches(self.esmd.kafka_port, topic)["batches"]
        pids = {b["producer_id"] for b in stored}
        self.assertEqual(len(pids), 1, stored)
        self.assertGreaterEqual(pids.pop(), 0)
        # Each batch's base sequence is the count of the producer's records before it.
        self.assertEqual([b["base_sequence"] for b in stored], [b["base_offset"] for b in stored])
        # A second idempotent producer is a new producer id.
        second = make_records(3, topic + "-2")
        confluent_produce(self.bootstrap, topic, second, **{"enable.idempotence": True})
        later = fetch_batches(self.esmd.kafka_port, topic, offset=200)["batches"]
        self.assertTrue(later)
        self.assertNotIn(later[0]["producer_id"], {b["producer_id"] for b in stored})
        self.assertEqual(later[0]["base_sequence"], 0)

    def test_a_record_above_the_size_limit_is_refused_with_message_too_large(self):
        topic = unique("big")
        self.create_topic(topic, 1, **{"max.message.bytes": "20000"})
        reports = []
        p = confluent_producer(self.bootstrap, **{"message.max.bytes": 5_000_000})
        # Kafka checks the size of a whole batch: one record per batch here.
        for value in (b"x" * 30_000, b"y" * 10_000):
            p.produce(topic, value=value, partition=0, on_delivery=lambda err, msg: reports.append(err))
            self.assertEqual(p.flush(30), 0)
        self.assertEqual([e and e.code() for e in reports], [KafkaError.MSG_SIZE_TOO_LARGE, None])
        # 1 MiB is the default limit of an auto-created topic.
        reports.clear()
        other = unique("big-default")
        p.produce(other, value=b"z" * (1_048_576 + 100), partition=0, on_delivery=lambda err, msg: reports.append(err))
        self.assertEqual(p.flush(30), 0)
        self.assertEqual([e and e.code() for e in reports], [KafkaError.MSG_SIZE_TOO_LARGE])

    # -- consumer groups -----------------------------------------------------------------------
    def test_two_members_share_four_partitions_and_the_one_left_gets_all_after_a_leave(self):
        topic = unique("group")
        group = unique("g")
        self.create_topic(topic, 4)
        for part in range(4):
            confluent_produce(self.bootstrap, topic, [dict(r, partition=part) for r in make_records(5, f"p{part}")])
        a = Member(self.bootstrap, group, topic, "member-a")
        a.start()
        try:
            wait_until(lambda: a.assigned == {0, 1, 2, 3}, timeout=30, message="member a assigned all partitions")
            b = Member(self.bootstrap, group, topic, "member-b")
            b.start()
            try:
                wait_until(lambda: a.assigned and b.assigned and a.assigned | b.assigned == {0, 1, 2, 3}
                           and not a.assigned & b.assigned, timeout=30,
                           message=f"the two members sharing the partitions (a {a.assigned}, b {b.assigned})")
                # The default range assignor splits 4 partitions 2 and 2.
                self.assertEqual((len(a.assigned), len(b.assigned)), (2, 2))
            finally:
                b.leave()
            wait_until(lambda: a.assigned == {0, 1, 2, 3}, timeout=30,
                       message=f"member a assigned all partitions after b left (a {a.assigned})")
            # Records produced after the rebalance reach the remaining member on every partition.
            for part in range(4):
                confluent_produce(self.bootstrap, topic,
                                  [dict(r, partition=part) for r in make_records(1, f"late{part}")])
            wait_until(lambda: {(p, 5) for p in range(4)} <= a.seen, timeout=30,
                       message=f"member a reading the new records (saw {sorted(a.seen)})")
            everything = {(p, o) for p in range(4) for o in range(6)}
            self.assertEqual((a.seen | b.seen) & everything, everything)
            self.assertEqual([e for e in a.errors + b.errors if e.code() != KafkaError._PARTITION_EOF], [])
        finally:
            a.leave()

    def test_two_members_joining_at_once_both_get_partitions(self):
        topic = unique("together")
        group = unique("g")
        self.create_topic(topic, 4)
        a = Member(self.bootstrap, group, topic, "member-a")
        b = Member(self.bootstrap, group, topic, "member-b")
        a.start()
        b.start()
        try:
            wait_until(lambda: len(a.assigned) == 2 and len(b.assigned) == 2
                       and a.assigned | b.assigned == {0, 1, 2, 3}, timeout=30,
                       message=f"both members assigned (a {a.assigned}, b {b.assigned})")
        finally:
            b.leave()
            a.leave()

    def test_a_member_rejoins_and_keeps_consuming_after_esmd_restarts(self):
        topic = unique("rejoin")
        group = unique("g")
        self.create_topic(topic, 4)
        a = Member(self.bootstrap, group, topic, "member-a")
        a.start()
        try:
            wait_until(lambda: a.assigned == {0, 1, 2, 3}, timeout=30, message="member a assigned all partitions")
            self.esmd.restart()
            for part in range(4):
                confluent_produce(self.bootstrap, topic, [dict(r, partition=part) for r in make_records(2, f"p{part}")])
            wait_until(lambda: {(p, o) for p in range(4) for o in range(2)} <= a.seen, timeout=60,
                       message=f"member a reading after the restart (saw {sorted(a.seen)})")
            self.assertEqual(a.assigned, {0, 1, 2, 3})
        finally:
            a.leave()

    def test_a_killed_member_is_expelled_after_its_session_timeout(self):
        topic = unique("expiry")
        group = unique("g")
        self.create_topic(topic, 4)
        a = Member(self.bootstrap, group, topic, "member-a")
        a.start()
        # Member b in its own process, so that it can die without leaving the group.
        script = (
            "import sys; from confluent_kafka import Consumer\n"
            "c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': sys.argv[2], 'session.timeout.ms': 6000,"
            " 'heartbeat.interval.ms': 300})\n"
            "c.subscribe([sys.argv[3]], on_assign=lambda c, ps: print('assigned', len(ps), flush=True))\n"
            "while True: c.poll(0.1)\n")
        b = subprocess.Popen([sys.executable, "-c", script, self.bootstrap, group, topic], stdout=subprocess.PIPE,
                             text=True)
        try:
            wait_until(lambda: len(a.assigned) == 2, timeout=30, message=f"a sharing with b (a {a.assigned})")
            t0 = time.monotonic()
            b.kill()
            b.wait()
            wait_until(lambda: a.assigned == {0, 1, 2, 3}, timeout=40,
                       message=f"member a assigned all partitions after b's session expired (a {a.assigned})")
            # Not before b's 6 s session timeout, less one heartbeat interval.
            self.assertGreater(time.monotonic() - t0, 5)
        finally:
            if b.poll() is None:
                b.kill()
                b.wait()
            a.leave()

    def test_committed_offsets_survive_kill_9(self):
        topic = unique("commits")
        group = unique("g")
        self.create_topic(topic, 2)
        for part in range(2):
            confluent_produce(self.bootstrap, topic, [dict(r, partition=part) for r in make_records(10, f"p{part}")])
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False,
                      "auto.offset.reset": "earliest", "heartbeat.interval.ms": 300})
        try:
            c.subscribe([topic])
            seen = set()
            deadline = time.monotonic() + 30
            while len(seen) < 20 and time.monotonic() < deadline:
                m = c.poll(0.2)
                if m is not None and not m.error():
                    seen.add((m.partition(), m.offset()))
            self.assertEqual(len(seen), 20)
            c.commit(offsets=[TopicPartition(topic, 0, 4), TopicPartition(topic, 1, 7)], asynchronous=False)
        finally:
            c.close()

        self.esmd.restart(kill=True)

        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False,
                      "auto.offset.reset": "earliest"})
        try:
            committed = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=20)
            self.assertEqual([(tp.partition, tp.offset) for tp in committed], [(0, 4), (1, 7)])
            # A member of the group resumes from them, not from the beginning.
            c.subscribe([topic])
            got = set()
            deadline = time.monotonic() + 30
            while len(got) < 9 and time.monotonic() < deadline:
                m = c.poll(0.2)
                if m is not None and not m.error():
                    got.add((m.partition(), m.offset()))
            self.assertEqual(got, {(0, o) for o in range(4, 10)} | {(1, o) for o in range(7, 10)})
        finally:
            c.close()

    # -- admin ---------------------------------------------------------------------------------
    def test_admin_creates_lists_and_deletes_topics(self):
        topic = unique("admin")
        self.create_topic(topic, 3)
        # Created topics are in Metadata at once (reference §A.4.10).
        listed = self.topics()
        self.assertIn(topic, listed)
        self.assertEqual(sorted(listed[topic].partitions), [0, 1, 2])
        self.assertIsNone(listed[topic].error)
        self.assertEqual(confluent_produce(self.bootstrap, topic, [dict(r, partition=2) for r in make_records(2, "x")]),
                         [0, 1])

        self.admin.delete_topics([topic], operation_timeout=10)[topic].result(timeout=30)
        wait_until(lambda: topic not in self.topics(), timeout=10, message="the deleted topic gone from metadata")

    def test_admin_errors_are_kafkas(self):
        topic = unique("errs")
        self.create_topic(topic, 1)
        self.assertEqual(self.create_error(NewTopic(topic, 1, 1)), KafkaError.TOPIC_ALREADY_EXISTS)
        self.assertEqual(self.create_error(NewTopic(unique("rf3"), 1, 3)), KafkaError.INVALID_REPLICATION_FACTOR)
        self.assertEqual(self.create_error(NewTopic("bad name!", 1, 1)), KafkaError.TOPIC_EXCEPTION)
        self.assertEqual(self.create_error(NewTopic("x" * 250, 1, 1)), KafkaError.TOPIC_EXCEPTION)
        self.assertEqual(self.create_error(NewTopic("..", 1, 1)), KafkaError.TOPIC_EXCEPTION)
        self.assertNotIn("bad name!", self.topics())
        missing = unique("missing")
        with self.assertRaises(KafkaException) as e:
            self.admin.delete_topics([missing], operation_timeout=10)[missing].result(timeout=30)
        self.assertEqual(e.exception.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART)

    def test_admin_describes_a_topics_configs(self):
        topic = unique("configs")
        self.create_topic(topic, 1, **{"retention.ms": "60000"})
        resource = ConfigResource("topic", topic)
        configs = self.admin.describe_configs([resource])[resource].result(timeout=30)
        self.assertEqual(configs["retention.ms"].value, "60000")
        for name in ("cleanup.policy", "max.message.bytes", "message.timestamp.type"):
            self.assertIn(name, configs)


if __name__ == "__main__":
    unittest.main()
