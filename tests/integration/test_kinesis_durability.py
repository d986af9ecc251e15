"""A record acknowledged by PutRecord(s) survives an esmd restart and a kill -9 with its
sequence number, partition key, data and arrival time; streams keep their shards, mode, tags
and retention; sequence numbers continue after the last record, never reused."""
import threading
import unittest

from esmd_harness import Esmd, wait_until
from lambda_support import unique


class KinesisDurabilityTest(unittest.TestCase):
    def setUp(self):
        self.esmd = Esmd().start()
        self.kinesis = self.esmd.client("kinesis")

    def tearDown(self):
        self.esmd.cleanup()

    def reopen(self, kill):
        self.esmd.restart(kill=kill)
        self.kinesis = self.esmd.client("kinesis")

    def read_shard(self, name, shard):
        it = self.kinesis.get_shard_iterator(StreamName=name, ShardId=shard,
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        out = []
        for _ in range(1000):
            got = self.kinesis.get_records(ShardIterator=it)
            out += got["Records"]
            it = got["NextShardIterator"]
            if not got["Records"]:
                return out
        raise AssertionError("GetRecords never reached the tip")

    def read_stream(self, name):
        out = {}
        for shard in self.kinesis.list_shards(StreamName=name)["Shards"]:
            for r in self.read_shard(name, shard["ShardId"]):
                out[r["SequenceNumber"]] = (shard["ShardId"], r["PartitionKey"], r["Data"],
                                            r["ApproximateArrivalTimestamp"])
        return out

    def check_records_survive(self, kill):
        name = unique("durable")
        self.kinesis.create_stream(StreamName=name, ShardCount=3)
        self.kinesis.add_tags_to_stream(StreamName=name, Tags={"team": "data"})
        self.kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=72)
        acknowledged = {}
        for i in range(30):
            put = self.kinesis.put_record(StreamName=name, Data=bytes([i, 0, 255]), PartitionKey=f"k{i}")
            acknowledged[put["SequenceNumber"]] = (put["ShardId"], f"k{i}", bytes([i, 0, 255]))
        batch = self.kinesis.put_records(StreamName=name, Records=[
            {"Data": f"batch-{i}".encode(), "PartitionKey": f"b{i}"} for i in range(50)])
        for i, r in enumerate(batch["Records"]):
            acknowledged[r["SequenceNumber"]] = (r["ShardId"], f"b{i}", f"batch-{i}".encode())
        before = self.read_stream(name)

        self.reopen(kill)

        after = self.read_stream(name)
        self.assertEqual(after, before)
        self.assertEqual({seq: v[:3] for seq, v in after.items()}, acknowledged)
        summary = self.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        self.assertEqual((summary["OpenShardCount"], summary["RetentionPeriodHours"]), (3, 72))
        self.assertEqual(self.kinesis.list_tags_for_stream(StreamName=name)["Tags"], [{"Key": "team", "Value": "data"}])
        # New records continue each shard's numbering.
        last = {}
        for seq, (shard, _, _) in acknowledged.items():
            last[shard] = max(last.get(shard, 0), int(seq))
        for i in range(10):
            put = self.kinesis.put_record(StreamName=name, Data=b"new", PartitionKey=f"k{i}")
            self.assertGreater(int(put["SequenceNumber"]), last[put["ShardId"]])
            self.assertNotIn(put["SequenceNumber"], acknowledged)

    def test_records_survive_a_restart(self):
        self.check_records_survive(kill=False)

    def test_records_survive_kill_9(self):
        self.check_records_survive(kill=True)

    def test_every_put_acknowledged_before_a_kill_9_is_there_after_it(self):
        """Writers keep putting while esmd is killed: whatever was answered 200 is kept."""
        name = unique("crash")
        self.kinesis.create_stream(StreamName=name, ShardCount=2)
        acknowledged = set()
        lock = threading.Lock()
        stop = threading.Event()

        def writer(n):
            client = self.esmd.client("kinesis")
            for i in range(2000):
                if stop.is_set():
                    return
                try:
                    put = client.put_record(StreamName=name, Data=f"{n}-{i}".encode(), PartitionKey=f"{n}-{i}")
                except Exception:  # noqa: BLE001 - the process is being killed under the writers
                    return
                with lock:
                    acknowledged.add(put["SequenceNumber"])

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: len(acknowledged) >= 200, timeout=30, message="200 acknowledged puts")
            self.esmd.kill9()
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        with lock:
            answered = set(acknowledged)
        self.esmd.start(self.esmd.port)
        self.kinesis = self.esmd.client("kinesis")
        kept = set(self.read_stream(name))
        self.assertGreaterEqual(len(answered), 200)
        self.assertEqual(answered - kept, set())


if __name__ == "__main__":
    unittest.main()
