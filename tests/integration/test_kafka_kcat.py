"""kcat (librdkafka 2.0.2) against esmd's Kafka listener: metadata names the broker at its
advertised address and lists the topics; produce with keys, headers and every codec, stored
compressed as sent (CRC-32C intact); consume from a partition and offset; consume as a group
whose committed offsets carry over to the next run."""
import json
import time
import unittest
import urllib.request

from esmd_harness import Esmd, free_port
from kafka_support import CODEC_IDS, fetch_batches, kcat, unique

FORMAT = "%p|%o|%k|%s|%h|%T\\n"


def parse(out):
    rows = []
    for line in out.decode().splitlines():
        p, o, k, s, h, t = line.split("|")
        rows.append({"partition": int(p), "offset": int(o), "key": k, "value": s, "headers": h, "ts": int(t)})
    return rows


class KcatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()
        cls.bootstrap = cls.esmd.kafka_bootstrap

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def produce(self, topic, lines, *args):
        kcat(self.bootstrap, "-P", "-t", topic, "-p", "0", *args, input=("\n".join(lines) + "\n").encode())

    def consume(self, topic, *args, timeout=30):
        return parse(kcat(self.bootstrap, "-C", "-t", topic, "-e", "-q", "-f", FORMAT, *args, timeout=timeout).stdout)

    def test_health_reports_the_kafka_listener(self):
        with urllib.request.urlopen(self.esmd.url + "/_esmd/health", timeout=5) as r:
            health = json.loads(r.read())
        self.assertEqual(health["kafka"]["port"], self.esmd.kafka_port)
        self.assertEqual(health["kafka"]["advertised"], f"127.0.0.1:{self.esmd.kafka_port}")

    def test_metadata_lists_the_broker_at_its_advertised_address_and_the_topics(self):
        topic = unique("meta")
        self.produce(topic, ["one"])
        meta = json.loads(kcat(self.bootstrap, "-L", "-J").stdout)
        self.assertEqual([(b["id"], b["name"]) for b in meta["brokers"]][0][1], f"127.0.0.1:{self.esmd.kafka_port}")
        self.assertEqual(len(meta["brokers"]), 1)
        topics = {t["topic"]: t for t in meta["topics"]}
        self.assertIn(topic, topics)
        # Auto-created topics have one partition, led by the one broker (reference §A.4.2).
        parts = topics[topic]["partitions"]
        broker_id = meta["brokers"][0]["id"]
        self.assertEqual([(p["partition"], p["leader"]) for p in parts], [(0, broker_id)])
        self.assertEqual([r["id"] for r in parts[0]["replicas"]], [broker_id])
        self.assertEqual([r["id"] for r in parts[0]["isrs"]], [broker_id])
        self.assertNotIn("error", topics[topic])

    def test_metadata_names_the_configured_advertised_listener(self):
        port = free_port()
        with Esmd("--kafka-port", str(port), "--kafka-advertised-listener", f"localhost:{port}") as other:
            meta = json.loads(kcat(f"127.0.0.1:{port}", "-L", "-J").stdout)
            self.assertEqual([b["name"] for b in meta["brokers"]], [f"localhost:{port}"])
            # The advertised address is what the client dials after bootstrap: a round trip works.
            topic = unique("adv")
            kcat(f"127.0.0.1:{port}", "-P", "-t", topic, input=b"via-localhost\n")
            out = kcat(f"127.0.0.1:{port}", "-C", "-t", topic, "-e", "-q", "-f", "%s\\n").stdout
            self.assertEqual(out, b"via-localhost\n")
            self.assertEqual(other.kafka_port, port)

    def test_kafka_port_0_picks_a_free_port_and_off_disables_the_listener(self):
        with Esmd("--kafka-port", "0") as picked:
            self.assertIsNotNone(picked.kafka_port)
            self.assertNotEqual(picked.kafka_port, 0)
            meta = json.loads(kcat(picked.kafka_bootstrap, "-L", "-J").stdout)
            self.assertEqual([b["name"] for b in meta["brokers"]], [picked.kafka_bootstrap])
        with Esmd("--kafka-port", "off") as off:
            with urllib.request.urlopen(off.url + "/_esmd/health", timeout=5) as r:
                self.assertIsNone(json.loads(r.read())["kafka"])
            self.assertIsNone(off.kafka_port)
        port = free_port()
        with Esmd(env={"ESMD_KAFKA_PORT": str(port)}) as from_env:
            self.assertEqual(from_env.kafka_port, port)
            kcat(from_env.kafka_bootstrap, "-L")

    def test_produce_without_auto_create_fails_on_an_unknown_topic(self):
        with Esmd("--kafka-auto-create-topics", "off") as other:
            topic = unique("nocreate")
            p = kcat(other.kafka_bootstrap, "-P", "-t", topic, "-X", "message.timeout.ms=3000",
                     input=b"lost\n", check=False, timeout=60)
            self.assertNotEqual(p.returncode, 0, p.stderr)
            meta = json.loads(kcat(other.kafka_bootstrap, "-L", "-J").stdout)
            self.assertNotIn(topic, [t["topic"] for t in meta["topics"]])

    def test_produce_with_keys_and_headers_round_trips_with_every_codec(self):
        for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
            with self.subTest(codec=codec):
                topic = unique(f"codec-{codec}")
                # Repetitive values, so that librdkafka's compressed batch is smaller than the
                # plain one (it sends a batch uncompressed otherwise).
                lines = [f"key{i}\t{codec} value {i} " + "abc" * 40 for i in range(50)]
                before = int(time.time() * 1000)
                self.produce(topic, lines, "-K", "\t", "-H", "h1=v1", "-H", "trace=xyz", "-z", codec)
                after = int(time.time() * 1000)
                rows = self.consume(topic)
                self.assertEqual([(r["offset"], r["key"], r["value"]) for r in rows],
                                 [(i, f"key{i}", lines[i].split("\t", 1)[1]) for i in range(50)])
                self.assertTrue(all(r["headers"] == "h1=v1,trace=xyz" for r in rows), rows[0])
                self.assertTrue(all(before - 1000 <= r["ts"] <= after + 1000 for r in rows), rows[0])
                # esmd stores the batches as kcat sent them: compressed with this codec (a
                # minimum version above 0 in ApiVersions would have made kcat send them plain,
                # reference trap T1) and with the CRC-32C the producer computed.
                stored = fetch_batches(self.esmd.kafka_port, topic)
                self.assertEqual(stored["error"], 0)
                self.assertEqual(stored["high_watermark"], 50)
                self.assertTrue(stored["batches"])
                self.assertEqual({b["codec"] for b in stored["batches"]}, {CODEC_IDS[codec]})
                self.assertTrue(all(b["crc_ok"] and b["magic"] == 2 for b in stored["batches"]), stored)
                self.assertEqual(sum(b["records_count"] for b in stored["batches"]), 50)

    def test_consume_from_a_partition_and_offset(self):
        topic = unique("offsets")
        self.produce(topic, [f"m{i}" for i in range(10)])
        self.assertEqual([(r["partition"], r["offset"], r["value"]) for r in self.consume(topic, "-p", "0", "-o", "4")],
                         [(0, i, f"m{i}") for i in range(4, 10)])
        self.assertEqual([r["offset"] for r in self.consume(topic, "-p", "0", "-o", "beginning")], list(range(10)))
        # A negative offset counts back from the end (ListOffsets latest).
        self.assertEqual([r["value"] for r in self.consume(topic, "-p", "0", "-o", "-3")], ["m7", "m8", "m9"])
        # At the end: nothing, and kcat still exits at end of partition.
        self.assertEqual(self.consume(topic, "-p", "0", "-o", "end"), [])

    def test_consume_as_a_group_resumes_after_the_committed_offsets(self):
        topic = unique("group")
        group = unique("kcat-group")
        self.produce(topic, [f"first{i}" for i in range(5)])
        group_args = ("-X", "auto.offset.reset=earliest", "-X", "heartbeat.interval.ms=500")

        def run_group():
            out = kcat(self.bootstrap, "-G", group, "-e", "-q", "-f", FORMAT, *group_args, topic,
                       timeout=60).stdout
            return [r["value"] for r in parse(out)]

        self.assertEqual(run_group(), [f"first{i}" for i in range(5)])
        self.produce(topic, [f"second{i}" for i in range(3)])
        # kcat commits what it consumed when it leaves the group: the next run starts after it.
        self.assertEqual(run_group(), [f"second{i}" for i in range(3)])


if __name__ == "__main__":
    unittest.main()
