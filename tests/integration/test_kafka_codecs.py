"""Every compression codec each client can produce, read back by the other clients byte for byte:
keys (binary, null), values (binary, empty, null), headers and timestamps intact. esmd stores a
batch as the producer sent it, so the test also checks the stored batches carry the codec and a
valid CRC-32C. Codecs: kcat and confluent-kafka gzip, snappy, lz4, zstd; kafka-python gzip and
those of lz4, snappy and zstd whose Python modules are installed (python3-lz4, python3-snappy,
python3-zstandard); kafkajs gzip (its other codecs are plug-ins)."""
import time
import unittest

from kafka import KafkaProducer
from kafka import codec as kafka_python_codec

from esmd_harness import Esmd
from kafka_support import (CODEC_IDS, confluent_consume, confluent_produce, fetch_batches, kafka_python_consume,
                           kafkajs, kafkajs_available, kcat, record, records_from_js, records_to_js, unique)

LIBRDKAFKA_CODECS = ("gzip", "snappy", "lz4", "zstd")
KAFKA_PYTHON_CODECS = tuple(c for c, has in (("gzip", True), ("snappy", kafka_python_codec.has_snappy()),
                                             ("lz4", kafka_python_codec.has_lz4()),
                                             ("zstd", kafka_python_codec.has_zstd())) if has)
KAFKAJS_CODECS = ("gzip",) if kafkajs_available() else ()
N = 24


def binary_records(tag):
    """Compressible values (a codec only pays off, and librdkafka only compresses, when the batch
    shrinks) with every byte value, plus the edge cases: null key, empty and null value."""
    out = []
    for i in range(N):
        key = None if i == 3 else b"\x00key\xff" + bytes([i])
        value = {5: b"", 7: None}.get(i, (f"{tag} {i} ".encode() * 20) + bytes(range(256)))
        headers = [("trace", f"t{i}".encode()), ("bin", b"\x00\x01\xfe\xff"), ("empty", b"")]
        out.append(record(i, key, value, headers, 1_600_000_000_000 + 1000 * i))
    return out


def content(records):
    return [(r["offset"], r["key"], r["value"], r["headers"], r["timestamp"]) for r in records]


class CodecsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()
        cls.bootstrap = cls.esmd.kafka_bootstrap

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    # -- producers: each returns the records as they must be read back --------------------------
    def produce_kcat(self, topic, codec):
        lines = [f"key{i}\tkcat {codec} line {i} " + "xyz" * 50 for i in range(N)]
        before = int(time.time() * 1000)
        kcat(self.bootstrap, "-P", "-t", topic, "-p", "0", "-K", "\t", "-z", codec, "-H", "from=kcat",
             "-H", "codec=" + codec, input=("\n".join(lines) + "\n").encode())
        after = int(time.time() * 1000)
        # kcat stamps records itself: take the timestamps confluent-kafka reads, within the run.
        got = confluent_consume(self.bootstrap, topic, N)
        for r in got:
            self.assertTrue(before - 1000 <= r["timestamp"] <= after + 1000, r)
        return [record(i, f"key{i}".encode(), line.split("\t", 1)[1].encode(),
                       [("from", b"kcat"), ("codec", codec.encode())], got[i]["timestamp"])
                for i, line in enumerate(lines)]

    def produce_confluent(self, topic, codec):
        sent = binary_records(topic)
        self.assertEqual(confluent_produce(self.bootstrap, topic, sent, **{"compression.type": codec,
                                                                           "linger.ms": 200}), list(range(N)))
        return sent

    def produce_kafka_python(self, topic, codec):
        sent = binary_records(topic)
        p = KafkaProducer(bootstrap_servers=self.bootstrap, compression_type=codec, linger_ms=50)
        try:
            futures = [p.send(topic, key=r["key"], value=r["value"], headers=r["headers"], partition=0,
                              timestamp_ms=r["timestamp"]) for r in sent]
            p.flush(30)
            self.assertEqual([f.get(timeout=30).offset for f in futures], list(range(N)))
        finally:
            p.close(timeout=10)
        return sent

    def produce_kafkajs(self, topic, codec):
        sent = binary_records(topic)
        out = kafkajs(self.bootstrap, {"op": "produce", "topic": topic, "messages": records_to_js(sent),
                                       "compression": codec})
        self.assertEqual(out["results"][0][0]["baseOffset"], "0")
        return sent

    def test_every_codec_round_trips_between_clients(self):
        producers = [("kcat", LIBRDKAFKA_CODECS, self.produce_kcat),
                     ("confluent", LIBRDKAFKA_CODECS, self.produce_confluent),
                     ("kafka-python", KAFKA_PYTHON_CODECS, self.produce_kafka_python),
                     ("kafkajs", KAFKAJS_CODECS, self.produce_kafkajs)]
        expected = {}
        for client, codecs, produce in producers:
            for codec in codecs:
                topic = unique(f"{client}-{codec}")
                expected[topic] = (client, codec, produce(topic, codec))

        for topic, (client, codec, sent) in expected.items():
            with self.subTest(producer=client, codec=codec):
                stored = fetch_batches(self.esmd.kafka_port, topic)
                self.assertEqual(stored["high_watermark"], N)
                codecs = {b["codec"] for b in stored["batches"]}
                if codec in LIBRDKAFKA_CODECS and client in ("kcat", "confluent"):
                    # librdkafka sends a batch uncompressed when the codec would not shrink it (a
                    # batch split off by the linger timer holding only the empty and null values):
                    # the codec must be stored, and nothing but it or none.
                    self.assertIn(CODEC_IDS[codec], codecs, f"{client} {codec}: the stored batches' codecs")
                    self.assertLessEqual(codecs, {0, CODEC_IDS[codec]}, f"{client} {codec}: the stored batches' codecs")
                else:
                    self.assertEqual(codecs, {CODEC_IDS[codec]}, f"{client} {codec}: the stored batches' codecs")
                self.assertTrue(all(b["crc_ok"] for b in stored["batches"]), stored)
                if client != "confluent":
                    self.assertEqual(content(confluent_consume(self.bootstrap, topic, N)), content(sent))
                if client != "kafka-python" and codec in KAFKA_PYTHON_CODECS:
                    self.assertEqual(content(kafka_python_consume(self.bootstrap, topic, N)), content(sent))

        js_topics = {t: v for t, v in expected.items() if v[1] in KAFKAJS_CODECS and v[0] != "kafkajs"}
        if js_topics:
            got = kafkajs(self.bootstrap, {"op": "consume", "topics": {t: N for t in js_topics},
                                           "group": unique("codecs"), "timeoutMs": 60000})["records"]
            for topic, (client, codec, sent) in js_topics.items():
                with self.subTest(producer=client, codec=codec, consumer="kafkajs"):
                    self.assertEqual(content(records_from_js(got[topic])), content(sent))


if __name__ == "__main__":
    unittest.main()
