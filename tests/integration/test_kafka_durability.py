"""kill -9 in the middle of a produce loop: every record esmd acknowledged (acks=all) is there
after the restart, at the offset it was acknowledged with; offsets have no holes; an idempotent
producer's retries across the restart are not written twice. Topics and their partitions survive
too, and so does the log start offset that retention moved."""
import threading
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from esmd_harness import Esmd, wait_until
from kafka_support import confluent_consume, fetch_batches, unique


class KafkaKillTest(unittest.TestCase):
    def setUp(self):
        self.esmd = Esmd().start()

    def tearDown(self):
        self.esmd.cleanup()

    def produce_through_a_kill(self, topic, partitions, **conf):
        """Sends numbered records round-robin over the partitions until some hundreds are
        acknowledged, kills esmd with SIGKILL while up to 200 more are in flight, restarts it on the same
        ports, and lets the producer finish (retrying what was lost). Returns {number:
        (partition, offset)} of every acknowledged record and the numbers that failed."""
        p = Producer({"bootstrap.servers": self.esmd.kafka_bootstrap, "acks": "all", "linger.ms": 2,
                      "message.timeout.ms": 60000, "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200,
                      **conf})
        acked, failed = {}, {}
        lock = threading.Lock()

        def report(err, msg):
            number = int(msg.value())
            with lock:
                if err is None:
                    acked[number] = (msg.partition(), msg.offset())
                else:
                    failed[number] = err

        killed = False
        sent = 0
        total = 4000
        deadline = time.monotonic() + 120
        # Keep up to 200 records outstanding, so that some are in flight whenever the kill comes.
        while (sent < total or not killed) and time.monotonic() < deadline:
            outstanding = sent - len(acked) - len(failed)
            if sent < total and outstanding < 200:
                try:
                    p.produce(topic, value=str(sent).encode(), key=f"k{sent}".encode(),
                              partition=sent % partitions, on_delivery=report)
                    sent += 1
                except BufferError:
                    pass
                p.poll(0)
            else:
                p.poll(0.01)
            if not killed and len(acked) >= 1000 and sent - len(acked) - len(failed) > 0:
                self.esmd.kill9()
                killed = True
                in_flight_at_kill = sent - len(acked) - len(failed)
                self.esmd.start(self.esmd.port)
        self.assertTrue(killed, f"only {len(acked)} of {sent} records were acknowledged before the deadline")
        self.assertGreater(in_flight_at_kill, 0, "no record was in flight when esmd was killed")
        self.assertEqual(p.flush(90), 0, "records still in flight 90 s after the restart")
        self.assertEqual(len(acked) + len(failed), sent)
        return acked, failed

    def read_partition(self, topic, partition):
        """{offset: value} of every record in the partition, from 0 to the high watermark."""
        hw = fetch_batches(self.esmd.kafka_port, topic, partition)["high_watermark"]
        return hw, {r["offset"]: r["value"] for r in confluent_consume(self.esmd.kafka_bootstrap, topic, hw,
                                                                       partition=partition, timeout=60)}

    def check(self, topic, partitions, acked):
        values = {}
        for part in range(partitions):
            hw, records = self.read_partition(topic, part)
            # No holes: offsets run 0 .. high watermark - 1.
            self.assertEqual(sorted(records), list(range(hw)), f"partition {part}")
            values.update({(part, o): v for o, v in records.items()})
        for number, where in sorted(acked.items()):
            self.assertEqual(values.get(where), str(number).encode(),
                             f"record {number}, acknowledged at partition {where[0]} offset {where[1]}")
        return values

    def test_every_acknowledged_record_survives_kill_9_at_its_offset(self):
        topic = unique("kill")
        acked, _ = self.produce_through_a_kill(topic, 1)
        self.assertGreaterEqual(len(acked), 1000)
        self.check(topic, 1, acked)

    def test_an_idempotent_producer_writes_each_record_once_through_kill_9(self):
        topic = unique("kill-idem")
        admin = AdminClient({"bootstrap.servers": self.esmd.kafka_bootstrap})
        admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(timeout=30)
        acked, failed = self.produce_through_a_kill(topic, 3, **{"enable.idempotence": True})
        # With idempotence librdkafka retries until delivered: nothing fails, nothing is doubled.
        self.assertEqual(failed, {})
        values = self.check(topic, 3, acked)
        written = sorted(int(v) for v in values.values())
        self.assertEqual(written, sorted(acked), "records written more than once or not acknowledged")

    def test_topics_and_records_survive_a_clean_restart_and_offsets_continue(self):
        topic = unique("restart")
        admin = AdminClient({"bootstrap.servers": self.esmd.kafka_bootstrap})
        admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
        p = Producer({"bootstrap.servers": self.esmd.kafka_bootstrap, "acks": "all"})
        for i in range(10):
            p.produce(topic, value=f"before{i}".encode(), partition=i % 2)
        self.assertEqual(p.flush(30), 0)
        self.esmd.restart()
        admin = AdminClient({"bootstrap.servers": self.esmd.kafka_bootstrap})
        wait_until(lambda: topic in admin.list_topics(timeout=10).topics, timeout=20, message="the topic listed")
        self.assertEqual(sorted(admin.list_topics(timeout=10).topics[topic].partitions), [0, 1])
        offsets = []
        p = Producer({"bootstrap.servers": self.esmd.kafka_bootstrap, "acks": "all"})
        p.produce(topic, value=b"after", partition=0, on_delivery=lambda err, msg: offsets.append((err, msg.offset())))
        self.assertEqual(p.flush(30), 0)
        self.assertEqual(offsets, [(None, 5)])
        got = confluent_consume(self.esmd.kafka_bootstrap, topic, 6)
        self.assertEqual([r["value"] for r in got], [f"before{i}".encode() for i in range(0, 10, 2)] + [b"after"])

    def test_retention_trims_expired_records_and_the_log_start_survives_a_restart(self):
        topic = unique("retention")
        bootstrap = self.esmd.kafka_bootstrap
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, 1, 1, config={"retention.ms": "1500"})])[topic].result(timeout=30)
        tp = TopicPartition(topic, 0)
        watch = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("watch")})
        try:
            produce_values(bootstrap, topic, [b"old%d" % i for i in range(5)])
            # esmd checks retention every second: the batch goes 1.5-2.5 s after its append.
            wait_until(lambda: watch.get_watermark_offsets(tp, timeout=10) == (5, 5), timeout=30,
                       message="the expired records trimmed (log start 5, high watermark 5)")
            # Offsets continue after the trimmed ones.
            self.assertEqual(produce_values(bootstrap, topic, [b"new%d" % i for i in range(5)]), list(range(5, 10)))
            # A reader asking for offset 0 is out of range and resets to the log start.
            got = confluent_consume(bootstrap, topic, 5, offset=0, **{"auto.offset.reset": "earliest"})
            self.assertEqual([(r["offset"], r["value"]) for r in got], [(5 + i, b"new%d" % i) for i in range(5)])
        finally:
            watch.close()
        self.esmd.restart(kill=True)
        watch = Consumer({"bootstrap.servers": self.esmd.kafka_bootstrap, "group.id": unique("watch")})
        try:
            low, high = watch.get_watermark_offsets(tp, timeout=10)
            self.assertEqual(high, 10)
            self.assertGreaterEqual(low, 5, "the log start went back after the restart")
        finally:
            watch.close()


def produce_values(bootstrap, topic, values):
    offsets = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for v in values:
        p.produce(topic, value=v, partition=0, on_delivery=lambda err, msg: offsets.append((err, msg.offset())))
    assert p.flush(30) == 0
    assert all(err is None for err, _ in offsets), offsets
    return [o for _, o in offsets]


if __name__ == "__main__":
    unittest.main()
