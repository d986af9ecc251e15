"""What a client on one connection relies on, seen on the raw wire: a fetch at the end of a
partition waits up to max_wait_ms and a produce wakes it at once (long polling, reference
§A.4.4); responses come back in request order, so a request pipelined behind a waiting fetch is
answered after it (§A.1); acks=0 gets no answer at all."""
import struct
import time
import unittest

from esmd_harness import Esmd
from kafka_support import (RawConnection, confluent_consume, confluent_produce, encode_batch, fetch_request,
                           parse_fetch, produce_request, produce_response, record, request, unique)


class KafkaWireTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()
        cls.port = cls.esmd.kafka_port

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def new_topic(self):
        topic = unique("wire")
        confluent_produce(self.esmd.kafka_bootstrap, topic, [record(0, None, b"zero", [], 0)])  # creates it
        return topic

    def test_a_fetch_at_the_end_waits_for_max_wait_and_then_answers_empty(self):
        topic = self.new_topic()
        with RawConnection(self.port, timeout=15) as c:
            t0 = time.monotonic()
            c.send(fetch_request(topic, 1, offset=1, max_wait_ms=1000))
            error, hw, batches = parse_fetch(c.read_frame(), 1)
            waited = time.monotonic() - t0
        self.assertEqual((error, hw, batches), (0, 1, []))
        self.assertGreater(waited, 0.9, "the fetch was answered before its max_wait_ms")
        self.assertLess(waited, 5)

    def test_a_produce_wakes_a_waiting_fetch(self):
        topic = self.new_topic()
        with RawConnection(self.port, timeout=15) as fetcher, RawConnection(self.port) as producer:
            t0 = time.monotonic()
            fetcher.send(fetch_request(topic, 2, offset=1, max_wait_ms=10000))
            producer.send(produce_request(topic, encode_batch([b"wake"]), 3))
            self.assertEqual(produce_response(producer.read_frame(), topic), (0, 1))
            error, hw, batches = parse_fetch(fetcher.read_frame(), 2)
            waited = time.monotonic() - t0
        self.assertEqual((error, hw), (0, 2))
        self.assertEqual([(b["base_offset"], b["records_count"]) for b in batches], [(1, 1)])
        self.assertLess(waited, 5, "the produce did not wake the fetch waiting for 10 s")

    def test_a_request_behind_a_waiting_fetch_is_answered_after_it(self):
        topic = self.new_topic()
        with RawConnection(self.port, timeout=15) as c:
            t0 = time.monotonic()
            c.send(fetch_request(topic, 4, offset=1, max_wait_ms=1500) + request(18, 0, 5))
            first = c.read_frame()
            second = c.read_frame()
            waited = time.monotonic() - t0
        self.assertEqual(struct.unpack(">i", first[:4])[0], 4)
        self.assertEqual(struct.unpack(">ih", second[:6]), (5, 0))
        self.assertGreater(waited, 1.4)

    def test_acks_0_gets_no_answer_and_the_next_request_is_answered(self):
        topic = self.new_topic()
        with RawConnection(self.port) as c:
            c.send(produce_request(topic, encode_batch([b"quiet"]), 6, acks=0) + request(18, 0, 7))
            frame = c.read_frame()
        self.assertEqual(struct.unpack(">ih", frame[:6]), (7, 0), "the first answer is not the ApiVersions one")
        self.assertEqual([r["value"] for r in confluent_consume(self.esmd.kafka_bootstrap, topic, 2)],
                         [b"zero", b"quiet"])


if __name__ == "__main__":
    unittest.main()
