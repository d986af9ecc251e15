"""tests/tools/mock_kafka_cluster, the other Kafka of the poller's tests, proved with real clients
(kcat and confluent-kafka 1.7.0 on librdkafka 2.0.2): records kcat produces are read back by a
consumer group whose committed offsets carry over to its next member; `down` makes produces fail
and refuses connections; `up` serves the same bootstrap address again, with the records and the
group's offsets intact; stdin EOF and SIGTERM end it with exit code 0."""
import signal
import socket
import time
import unittest

from confluent_kafka import Consumer, KafkaError, TopicPartition

from kafka_support import confluent_consume, confluent_producer, kcat, unique
from mock_kafka import MockKafkaCluster

FORMAT = "%o|%k|%s\\n"
# librdkafka 2.0.2 backs off reconnecting up to reconnect.backoff.max.ms, 10 s by default: a
# client that lived through `down` could take that long to notice `up`.
FAST_RECONNECT = {"reconnect.backoff.ms": 100, "reconnect.backoff.max.ms": 500}


def ports(bootstrap):
    return [int(address.rsplit(":", 1)[1]) for address in bootstrap.split(",")]


def accepts(port):
    """True when the port accepts a TCP connection, False when it refuses it."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except ConnectionRefusedError:
        return False


def produce(bootstrap, topic, lines, *args, timeout=60, check=True):
    """kcat -P of KEY<TAB>VALUE lines to partition 0; the CompletedProcess."""
    return kcat(bootstrap, "-P", "-t", topic, "-p", "0", "-K", "\t", *args,
                input=("\n".join(lines) + "\n").encode(), timeout=timeout, check=check)


class Member:
    """A confluent-kafka member of `group` subscribed to `topic` (partition 0 of it), with
    manual commits.

    A short session timeout: when the last member leaves, the mock holds the next JoinGroup for
    the leaver's session.timeout.ms - 1 s (44 s with the default 45 s) before it elects a leader."""

    def __init__(self, bootstrap, group, topic):
        self.topic = topic
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                                  "enable.partition.eof": False, "session.timeout.ms": 6000,
                                  "heartbeat.interval.ms": 500, **FAST_RECONNECT})
        # The group's committed offset before this member read anything, or None.
        committed = self.consumer.committed([TopicPartition(topic, 0)], timeout=10)[0]
        self.start = committed.offset if committed.offset >= 0 else None
        self.consumer.subscribe([topic])

    def read(self, count, timeout=30.0):
        """(offset, key, value) of the next `count` records; fails at the deadline. Errors the
        consumer reports while brokers are unreachable are transient: it keeps polling."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"read {len(out)} of {count} records of {self.topic} in {timeout}s: {out}")
            m = self.consumer.poll(0.2)
            if m is None or m.error():
                continue
            out.append((m.offset(), m.key().decode(), m.value().decode()))
        return out

    def commit(self):
        self.consumer.commit(asynchronous=False)

    def close(self):
        self.consumer.close()


def group_read(bootstrap, group, topic, count):
    """A new member's start offset and the `count` records it reads; it commits them and leaves."""
    member = Member(bootstrap, group, topic)
    try:
        rows = member.read(count)
        member.commit()
        return member.start, rows
    finally:
        member.close()


def deliver(producer, topic, value, timeout):
    """Produces one record to partition 0 and waits for its delivery report: the KafkaError, or
    None once delivered. Fails when no report comes before the deadline."""
    reports = []
    producer.produce(topic, key=b"p", value=value, partition=0, on_delivery=lambda err, msg: reports.append(err))
    deadline = time.monotonic() + timeout
    while not reports:
        if time.monotonic() > deadline:
            raise AssertionError(f"no delivery report for {value!r} within {timeout}s")
        producer.poll(0.1)
    return reports[0]


class MockKafkaClusterTest(unittest.TestCase):
    def test_kcat_records_are_read_by_a_group_that_resumes_after_its_commit(self):
        topic = unique("orders")
        group = unique("group")
        with MockKafkaCluster(topics={topic: 1}) as kafka:
            produce(kafka.bootstrap, topic, [f"k{i}\tfirst{i}" for i in range(3)])
            start, rows = group_read(kafka.bootstrap, group, topic, 3)
            self.assertIsNone(start)
            self.assertEqual(rows, [(i, f"k{i}", f"first{i}") for i in range(3)])

            # A new member of the same group starts from the committed offset 3, not from the
            # earliest record: it reads the two records produced since.
            produce(kafka.bootstrap, topic, [f"k{i}\tsecond{i}" for i in range(2)])
            start, rows = group_read(kafka.bootstrap, group, topic, 2)
            self.assertEqual(start, 3)
            self.assertEqual(rows, [(3, "k0", "second0"), (4, "k1", "second1")])

            # kcat's own view of the partition: all five, in order.
            out = kcat(kafka.bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
                       "-f", FORMAT).stdout.decode()
            self.assertEqual(out.splitlines(), ["0|k0|first0", "1|k1|first1", "2|k2|first2",
                                                "3|k0|second0", "4|k1|second1"])
            self.assertEqual(kafka.stop(), 0)

    def test_down_fails_produces_and_up_serves_the_same_bootstrap_with_its_records_and_offsets(self):
        topic = unique("events")
        group = unique("group")
        with MockKafkaCluster(topics={topic: 1}) as kafka:
            bootstrap = kafka.bootstrap
            (port,) = ports(bootstrap)
            produce(bootstrap, topic, [f"k{i}\tbefore{i}" for i in range(3)])
            # A producer and a group member that live through the outage, as the poller's would.
            producer = confluent_producer(bootstrap, **{"message.timeout.ms": 3000, **FAST_RECONNECT})
            self.assertIsNone(deliver(producer, topic, b"before-p", timeout=30))
            member = Member(bootstrap, group, topic)
            try:
                self.assertEqual([r[2] for r in member.read(4)], ["before0", "before1", "before2", "before-p"])
                member.commit()

                kafka.down()
                self.assertFalse(accepts(port), "a down broker accepted a connection")
                # A new client fails at once (all brokers down); the live producer's record
                # times out (message.timeout.ms).
                started = time.monotonic()
                p = produce(bootstrap, topic, ["k\tlost"], "-X", "message.timeout.ms=3000", timeout=30, check=False)
                self.assertNotEqual(p.returncode, 0, p.stderr)
                err = deliver(producer, topic, b"lost-p", timeout=15)
                self.assertIsNotNone(err)
                self.assertEqual(err.code(), KafkaError._MSG_TIMED_OUT, err)
                self.assertLess(time.monotonic() - started, 15)

                kafka.up()
                self.assertEqual(kafka.bootstrap, bootstrap)
                self.assertTrue(accepts(port), "the broker did not accept again on its old port")
                produce(bootstrap, topic, [f"k{i}\tafter{i}" for i in range(2)])
                self.assertIsNone(deliver(producer, topic, b"after-p", timeout=30))
                # The same member reads on after the outage, without a restart.
                self.assertEqual([r[2] for r in member.read(3)], ["after0", "after1", "after-p"])
            finally:
                member.close()
            # The records from before the outage are still there, and neither lost one.
            rows = confluent_consume(bootstrap, topic, 7)
            self.assertEqual([r["value"] for r in rows], [b"before0", b"before1", b"before2", b"before-p",
                                                          b"after0", b"after1", b"after-p"])
            # The offset committed before the outage survived it: a new member starts there.
            start, rows = group_read(bootstrap, group, topic, 3)
            self.assertEqual(start, 4)
            self.assertEqual([r[2] for r in rows], ["after0", "after1", "after-p"])

    def test_one_broker_of_three_goes_down_and_up_on_its_own_port(self):
        topic = unique("spread")
        with MockKafkaCluster(brokers=3, topics={topic: 3}) as kafka:
            first, second, third = ports(kafka.bootstrap)
            kafka.down(2)
            self.assertEqual([accepts(first), accepts(second), accepts(third)], [True, False, True])
            kafka.up(2)
            self.assertEqual([accepts(first), accepts(second), accepts(third)], [True, True, True])
            kafka.down()
            self.assertEqual([accepts(first), accepts(second), accepts(third)], [False, False, False])
            kafka.up()
            produce(kafka.bootstrap, topic, ["k\tback"])
            self.assertEqual(confluent_consume(kafka.bootstrap, topic, 1)[0]["value"], b"back")

    def test_unknown_commands_and_brokers_are_refused(self):
        with MockKafkaCluster(brokers=2) as kafka:
            self.assertEqual(kafka.command("reboot"), "ERR unknown command: reboot")
            self.assertEqual(kafka.command("down 1 2"), "ERR down takes at most one broker id")
            self.assertEqual(kafka.command("up x"), "ERR bad broker id: x")
            self.assertTrue(kafka.command("down 7").startswith("ERR "))
            self.assertEqual(kafka.command(""), "ERR empty command")
            self.assertEqual(kafka.command("down 2"), "OK")
            self.assertEqual(kafka.command("up 2"), "OK")

    def test_stdin_eof_and_sigterm_end_it_with_exit_code_0(self):
        with MockKafkaCluster() as kafka:
            self.assertEqual(kafka.stop(), 0)
        with MockKafkaCluster() as kafka:
            kafka.proc.send_signal(signal.SIGTERM)
            self.assertEqual(kafka.proc.wait(timeout=10), 0)
            self.assertEqual(kafka.stop(), 0)


if __name__ == "__main__":
    unittest.main()
