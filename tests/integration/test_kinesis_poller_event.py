"""The Kinesis poller: the event AWS builds, order per shard, starting positions, batching and
LastProcessingResult (data-plane.md §1.3, §3.1)."""
import base64
import json
import subprocess
import time
import unittest

from esmd_harness import ACCOUNT, wait_until
from kinesis_poller_support import KinesisTestCase, data_of
from sqs_poller_support import raise_error, succeed


def cli_major_version():
    out = subprocess.run(["aws", "--version"], capture_output=True, text=True)
    text = (out.stdout or out.stderr).strip()
    return int(text.split("/")[1].split(".")[0]) if text.startswith("aws-cli/") else 1


class KinesisEventTest(KinesisTestCase):
    def test_the_event_has_the_shape_aws_sends(self):
        stream, arn = self.make_stream(1)
        uuid = self.make_kinesis_mapping(arn, BatchSize=10)
        payload = '{"page":"/home","user":"u-42"}'
        args = ["kinesis", "put-record", "--stream-name", stream, "--partition-key", "user-42", "--data"]
        if cli_major_version() >= 2:
            args += [base64.b64encode(payload.encode()).decode()]
        else:
            args += [payload]
        code, put, err = self.esmd.aws(*args)
        self.assertEqual(code, 0, err)
        calls = self.fn.wait_calls(1)
        event = calls[0].event
        self.assertEqual(set(event), {"Records"})
        self.assertEqual(len(event["Records"]), 1)
        r = event["Records"][0]
        self.assertEqual(set(r), {"kinesis", "eventSource", "eventVersion", "eventID", "eventName",
                                  "invokeIdentityArn", "awsRegion", "eventSourceARN"})
        k = r["kinesis"]
        self.assertEqual(set(k), {"kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data",
                                  "approximateArrivalTimestamp"})
        self.assertEqual(k["kinesisSchemaVersion"], "1.0")
        self.assertEqual(k["partitionKey"], "user-42")
        self.assertEqual(k["sequenceNumber"], put["SequenceNumber"])
        self.assertEqual(data_of(r), payload)
        self.assertIsInstance(k["approximateArrivalTimestamp"], float)
        self.assertLess(abs(k["approximateArrivalTimestamp"] - time.time()), 30)
        self.assertEqual(r["eventSource"], "aws:kinesis")
        self.assertEqual(r["eventVersion"], "1.0")
        self.assertEqual(r["eventID"], f"{put['ShardId']}:{put['SequenceNumber']}")
        self.assertEqual(r["eventName"], "aws:kinesis:record")
        self.assertEqual(r["invokeIdentityArn"], f"arn:aws:iam::{ACCOUNT}:role/{self.function}-role")
        self.assertEqual(r["awsRegion"], self.esmd.region)
        self.assertEqual(r["eventSourceARN"], arn)
        # The raw body carries the timestamp as a number with milliseconds, never a string.
        raw = self.fn.raw_bodies()[0].decode()
        self.assertRegex(raw, r'"approximateArrivalTimestamp":\d+\.\d{3}\}')
        self.wait_result(uuid, "OK")

    def test_records_of_a_shard_arrive_in_sequence_order_and_batches_never_mix_shards(self):
        stream, arn = self.make_stream(3)
        self.make_kinesis_mapping(arn, BatchSize=7)
        sent = self.put(stream, [f"r{i}" for i in range(150)], keys=[f"user-{i % 13}" for i in range(150)])
        wanted = {f"r{i}" for i in range(150)}
        self.wait_delivered(wanted)
        last = {}
        for c in self.fn.calls():
            shards = {r["eventID"].split(":")[0] for r in c.records}
            self.assertEqual(len(shards), 1, "one invocation holds records of one shard")
            self.assertLessEqual(len(c.records), 7)
            shard = shards.pop()
            for r in c.records:
                seq = int(r["kinesis"]["sequenceNumber"])
                self.assertGreater(seq, last.get(shard, -1), "sequence order within a shard")
                last[shard] = seq
        self.assertEqual(len(last), len({s for s, _ in sent}))
        self.assertEqual(sorted(self.delivered()), sorted(wanted), "each record once")

    def test_trim_horizon_starts_at_the_oldest_record(self):
        stream, arn = self.make_stream(1)
        self.put(stream, ["old-1", "old-2"])
        self.make_kinesis_mapping(arn, "TRIM_HORIZON")
        self.put(stream, ["new-1"])
        self.wait_delivered({"old-1", "old-2", "new-1"})
        self.assertEqual(self.delivered(), ["old-1", "old-2", "new-1"])

    def test_latest_starts_after_the_records_already_there(self):
        stream, arn = self.make_stream(1)
        self.put(stream, ["old-1", "old-2"])
        self.make_kinesis_mapping(arn, "LATEST")
        self.put(stream, ["new-1", "new-2"])
        self.wait_delivered({"new-1", "new-2"})
        self.assertEqual(self.delivered(), ["new-1", "new-2"])

    def test_at_timestamp_starts_at_the_first_record_that_arrived_at_or_after_it(self):
        stream, arn = self.make_stream(1)
        self.put(stream, ["before"])
        time.sleep(1.1)  # arrival times are milliseconds apart; leave a clear gap
        boundary = time.time()
        time.sleep(0.05)
        self.put(stream, ["after-1", "after-2"])
        self.make_mapping(arn, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=boundary)
        self.wait_delivered({"after-1", "after-2"})
        self.assertEqual(self.delivered(), ["after-1", "after-2"])

    def test_batch_size_caps_each_invocation(self):
        stream, arn = self.make_stream(1)
        self.put(stream, [f"r{i}" for i in range(25)])
        self.make_kinesis_mapping(arn, BatchSize=10)
        self.wait_delivered({f"r{i}" for i in range(25)})
        sizes = [len(c.records) for c in self.fn.calls()]
        self.assertEqual(sizes, [10, 10, 5])

    def test_the_batching_window_holds_an_underfilled_batch(self):
        stream, arn = self.make_stream(1)
        self.make_kinesis_mapping(arn, "LATEST", BatchSize=100, MaximumBatchingWindowInSeconds=2)
        started = time.monotonic()
        self.put(stream, ["a"])
        time.sleep(0.3)
        self.put(stream, ["b", "c"])
        calls = self.fn.wait_calls(1, timeout=10)
        self.assertGreaterEqual(calls[0].started - started, 1.5, "held for the window")
        self.assertEqual([data_of(r) for r in calls[0].records], ["a", "b", "c"])

    def test_last_processing_result_follows_what_happens(self):
        stream, arn = self.make_stream(1)
        uuid = self.make_kinesis_mapping(arn, "LATEST", MaximumRetryAttempts=0)
        self.assertEqual(self.mapping(uuid)["LastProcessingResult"], "No records processed")
        self.put(stream, ["ok"])
        self.wait_result(uuid, "OK")
        self.fn.behave(raise_error())
        self.put(stream, ["bad"])
        self.wait_result(uuid, "PROBLEM: Function call failed")
        self.fn.behave(succeed())
        self.put(stream, ["ok-again"])
        self.wait_result(uuid, "OK")
        self.assertEqual(self.delivered(), ["ok", "bad", "ok-again"])


if __name__ == "__main__":
    unittest.main()
