"""Kinesis records on esmd's port, driven by boto3 and the AWS CLI: MD5 routing to shards
(checked against a hash computed here), ExplicitHashKey, sequence-number order, every shard
iterator type, GetRecords paging with NextShardIterator and MillisBehindLatest, expired and
invalid iterators, size and count limits, and per-record partial failures of PutRecords when
the opt-in shard limits throttle a shard."""
import base64
import datetime
import json
import os
import tempfile
import time
import unittest

from esmd_harness import ACCOUNT, Esmd, wait_until
from kinesis_support import KinesisErrorAssertions, b64, hash_key, owning_shard, raw
from lambda_support import unique

MIB = 1024 * 1024


def fnv1a(data):
    h = 1469598103934665603
    for byte in data:
        h ^= byte
        h = (h * 1099511628211) % 2 ** 64
    return h


class KinesisRecordsTest(KinesisErrorAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()
        cls.kinesis = cls.esmd.client("kinesis")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def stream(self, shards=1):
        name = unique("r")
        self.kinesis.create_stream(StreamName=name, ShardCount=shards)
        return name

    def iterator(self, name, shard="shardId-000000000000", kind="TRIM_HORIZON", **kwargs):
        return self.kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType=kind,
                                               **kwargs)["ShardIterator"]

    def read_all(self, it, limit=10000):
        out = []
        for _ in range(100):
            got = self.kinesis.get_records(ShardIterator=it, Limit=limit)
            out += got["Records"]
            it = got["NextShardIterator"]
            if not got["Records"]:
                return out, it
        raise AssertionError("GetRecords never reached the tip")

    # -- routing and sequence numbers ------------------------------------------------------------
    def test_partition_keys_go_to_the_shard_whose_range_holds_their_md5(self):
        name = self.stream(shards=5)
        shards = self.kinesis.list_shards(StreamName=name)["Shards"]
        seen = set()
        for i in range(120):
            key = f"user-{i}"
            put = self.kinesis.put_record(StreamName=name, Data=f"d{i}".encode(), PartitionKey=key)
            self.assertEqual(put["ShardId"], owning_shard(shards, hash_key(key)), key)
            seen.add(put["ShardId"])
        self.assertEqual(len(seen), 5)

    def test_an_explicit_hash_key_overrides_the_partition_key(self):
        name = self.stream(shards=4)
        shards = self.kinesis.list_shards(StreamName=name)["Shards"]
        for target in shards:
            for key in (target["HashKeyRange"]["StartingHashKey"], target["HashKeyRange"]["EndingHashKey"]):
                put = self.kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="same", ExplicitHashKey=key)
                self.assertEqual(put["ShardId"], target["ShardId"])
        self.assert_client_error(lambda: self.kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k",
                                                                 ExplicitHashKey=str(2 ** 128)),
                                 "InvalidArgumentException")

    def test_sequence_numbers_look_like_aws_and_increase_in_put_order_per_shard(self):
        name = self.stream(shards=2)
        last = {}
        for i in range(40):
            put = self.kinesis.put_record(StreamName=name, Data=b"x", PartitionKey=f"k{i % 7}",
                                          SequenceNumberForOrdering=last.get("shardId-000000000000", "0"))
            seq = put["SequenceNumber"]
            self.assertRegex(seq, r"^49\d{54}$")
            if put["ShardId"] in last:
                self.assertGreater(int(seq), int(last[put["ShardId"]]))
            last[put["ShardId"]] = seq
        records, _ = self.read_all(self.iterator(name))
        seqs = [int(r["SequenceNumber"]) for r in records]
        self.assertEqual(seqs, sorted(seqs))

    def test_put_records_answers_each_record_in_order_and_data_round_trips_byte_for_byte(self):
        name = self.stream(shards=3)
        shards = self.kinesis.list_shards(StreamName=name)["Shards"]
        payloads = [bytes([i, 0, 255, i]) * (i + 1) for i in range(30)]
        keys = [f"pk-{i}" for i in range(30)]
        out = self.kinesis.put_records(StreamName=name, Records=[
            {"Data": d, "PartitionKey": k} for d, k in zip(payloads, keys)])
        self.assertEqual(out["FailedRecordCount"], 0)
        self.assertEqual(len(out["Records"]), 30)
        got = {}
        for shard in shards:
            records, _ = self.read_all(self.iterator(name, shard["ShardId"]))
            for r in records:
                got[r["SequenceNumber"]] = (shard["ShardId"], r["PartitionKey"], r["Data"])
        for answer, key, data in zip(out["Records"], keys, payloads):
            self.assertEqual(answer["ShardId"], owning_shard(shards, hash_key(key)))
            self.assertEqual(got[answer["SequenceNumber"]], (answer["ShardId"], key, data))

    def test_the_cli_puts_and_reads_records(self):
        name = self.stream()
        with tempfile.NamedTemporaryFile("wb", delete=False) as f:
            f.write(b"\x00binary\xffdata")
        try:
            rc, put, err = self.esmd.aws("kinesis", "put-record", "--stream-name", name, "--partition-key", "cli",
                                         "--data", f"fileb://{f.name}")
        finally:
            os.remove(f.name)
        self.assertEqual(rc, 0, err)
        self.assertEqual(put["ShardId"], "shardId-000000000000")
        rc, it, err = self.esmd.aws("kinesis", "get-shard-iterator", "--stream-name", name, "--shard-id",
                                    "shardId-000000000000", "--shard-iterator-type", "TRIM_HORIZON")
        self.assertEqual(rc, 0, err)
        rc, got, err = self.esmd.aws("kinesis", "get-records", "--shard-iterator", it["ShardIterator"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(got["Records"]), 1)
        record = got["Records"][0]
        self.assertEqual(base64.b64decode(record["Data"]), b"\x00binary\xffdata")
        self.assertEqual((record["PartitionKey"], record["SequenceNumber"]), ("cli", put["SequenceNumber"]))
        self.assertEqual(got["MillisBehindLatest"], 0)
        self.assertIn("NextShardIterator", got)

    # -- iterators ---------------------------------------------------------------------------------
    def test_each_iterator_type_starts_where_aws_starts_it(self):
        name = self.stream()
        seqs = [self.kinesis.put_record(StreamName=name, Data=str(i).encode(), PartitionKey="k")["SequenceNumber"]
                for i in range(5)]
        latest = self.iterator(name, kind="LATEST")
        data = lambda recs: [r["Data"] for r in recs]  # noqa: E731
        self.assertEqual(data(self.read_all(self.iterator(name))[0]), [b"0", b"1", b"2", b"3", b"4"])
        self.assertEqual(data(self.read_all(self.iterator(name, kind="AT_SEQUENCE_NUMBER",
                                                          StartingSequenceNumber=seqs[2]))[0]), [b"2", b"3", b"4"])
        self.assertEqual(data(self.read_all(self.iterator(name, kind="AFTER_SEQUENCE_NUMBER",
                                                          StartingSequenceNumber=seqs[2]))[0]), [b"3", b"4"])
        self.assertEqual(self.kinesis.get_records(ShardIterator=latest)["Records"], [])
        self.kinesis.put_record(StreamName=name, Data=b"5", PartitionKey="k")
        self.assertEqual(data(self.read_all(latest)[0]), [b"5"])

    def test_at_timestamp_starts_at_the_first_record_that_arrived_then(self):
        name = self.stream()
        first = self.kinesis.put_record(StreamName=name, Data=b"early", PartitionKey="k")
        early = self.read_all(self.iterator(name))[0][0]["ApproximateArrivalTimestamp"]
        # Older botocore sends timestamps in whole seconds: the second record comes a second later.
        wait_until(lambda: datetime.datetime.now(datetime.timezone.utc) >= early.replace(microsecond=0) +
                   datetime.timedelta(seconds=1, milliseconds=5), timeout=5,
                   message="the clock to move a second past the first record")
        self.kinesis.put_record(StreamName=name, Data=b"late", PartitionKey="k")
        records = self.read_all(self.iterator(name))[0]
        late_at = records[1]["ApproximateArrivalTimestamp"]
        self.assertGreater(late_at, early)
        got = self.read_all(self.iterator(name, kind="AT_TIMESTAMP", Timestamp=late_at))[0]
        self.assertEqual([r["Data"] for r in got], [b"late"])
        got = self.read_all(self.iterator(name, kind="AT_TIMESTAMP", Timestamp=early))[0]
        self.assertEqual(got[0]["SequenceNumber"], first["SequenceNumber"])
        got = self.read_all(self.iterator(name, kind="AT_TIMESTAMP", Timestamp=datetime.datetime(2000, 1, 1)))[0]
        self.assertEqual(len(got), 2)
        future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        message = self.assert_client_error(lambda: self.iterator(name, kind="AT_TIMESTAMP", Timestamp=future),
                                           "InvalidArgumentException")
        self.assertTrue(message.startswith("The timestampInMillis parameter cannot be greater than the "
                                           "currentTimestampInMillis."), message)

    def test_get_records_pages_with_next_shard_iterator_and_reports_how_far_behind_it_is(self):
        name = self.stream()
        self.kinesis.put_records(StreamName=name, Records=[{"Data": str(i).encode(), "PartitionKey": "k"}
                                                           for i in range(7)])
        time.sleep(0.05)  # let the records age so that MillisBehindLatest has something to count
        it = self.iterator(name)
        pages = []
        for _ in range(10):
            got = self.kinesis.get_records(ShardIterator=it, Limit=3)
            if not got["Records"]:
                self.assertEqual(got["MillisBehindLatest"], 0)
                break
            pages.append(([r["Data"] for r in got["Records"]], got["MillisBehindLatest"]))
            it = got["NextShardIterator"]
        self.assertEqual([p[0] for p in pages], [[b"0", b"1", b"2"], [b"3", b"4", b"5"], [b"6"]])
        self.assertGreaterEqual(pages[0][1], 50)
        self.assertGreaterEqual(pages[1][1], 50)
        self.assertEqual(pages[2][1], 0)
        # The last iterator waits at the tip for new records.
        self.kinesis.put_record(StreamName=name, Data=b"7", PartitionKey="k")
        self.assertEqual([r["Data"] for r in self.kinesis.get_records(ShardIterator=it)["Records"]], [b"7"])

    def test_an_iterator_expires_after_five_minutes(self):
        name = self.stream()
        token = self.iterator(name)
        # The token is esmd's own: rewrite its issue time five minutes and a second back (and
        # its check) the way esmd writes it.
        fields = base64.b64decode(token).decode().split(":")
        fields[5] = str(int(fields[5]) - 301_000)
        body = ":".join(fields[:6]).encode()
        old = base64.b64encode(body + b":" + str(fnv1a(body)).encode()).decode()
        message = self.assert_client_error(lambda: self.kinesis.get_records(ShardIterator=old),
                                           "ExpiredIteratorException")
        self.assertRegex(message, r"^Iterator expired. The iterator was created at time \w{3} \w{3} \d\d "
                                  r"\d\d:\d\d:\d\d UTC \d{4} while right now it is .* which is further in the "
                                  r"future than the tolerated delay of 300000 milliseconds.$")
        self.assertEqual(self.kinesis.get_records(ShardIterator=token)["Records"], [])

    def test_a_forged_iterator_is_invalid_and_one_of_a_deleted_stream_not_found(self):
        name = self.stream()
        token = self.iterator(name)
        forged = base64.b64encode(base64.b64decode(token).replace(b":0:", b":9:", 1)).decode()
        self.assert_client_error(lambda: self.kinesis.get_records(ShardIterator=forged), "InvalidArgumentException")
        self.assert_client_error(lambda: self.kinesis.get_records(ShardIterator="AAAA"), "InvalidArgumentException")
        # A token rebuilt with a valid check (the check is no secret) still cannot name a shard
        # that does not exist.
        fields = base64.b64decode(token).decode().split(":")
        for shard in ("1", "4294967295", "999999999999999999"):
            fields[3] = shard
            body = ":".join(fields[:6]).encode()
            crafted = base64.b64encode(body + b":" + str(fnv1a(body)).encode()).decode()
            self.assert_client_error(lambda: self.kinesis.get_records(ShardIterator=crafted),
                                     "ResourceNotFoundException")
        self.kinesis.delete_stream(StreamName=name)
        self.assert_client_error(lambda: self.kinesis.get_records(ShardIterator=token), "ResourceNotFoundException")

    def test_shard_iterator_errors_use_aws_wording(self):
        name = self.stream(shards=2)
        self.assert_client_error(lambda: self.iterator(name, shard="shardId-000000000009"),
                                 "ResourceNotFoundException",
                                 f"Shard shardId-000000000009 in stream {name} under account {ACCOUNT} does not exist")
        self.assert_client_error(lambda: self.iterator(name, kind="AT_SEQUENCE_NUMBER"), "InvalidArgumentException")
        self.assert_client_error(lambda: self.iterator(name, kind="AT_TIMESTAMP"), "InvalidArgumentException")
        put = self.kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k", ExplicitHashKey="0")
        self.assert_client_error(
            lambda: self.iterator(name, shard="shardId-000000000001", kind="AT_SEQUENCE_NUMBER",
                                  StartingSequenceNumber=put["SequenceNumber"]),
            "InvalidArgumentException",
            "Invalid StartingSequenceNumber. It encodes shardId-000000000000, while it was used in a call to a shard "
            "with shardId-000000000001")
        self.assert_client_error(
            lambda: self.iterator(name, kind="AT_SEQUENCE_NUMBER", StartingSequenceNumber="12345"),
            "InvalidArgumentException",
            f"StartingSequenceNumber 12345 used in GetShardIterator on shard shardId-000000000000 in stream {name} "
            f"under account {ACCOUNT} is invalid.")
        self.assert_kinesis_error(raw(self.esmd, "GetShardIterator", {"StreamName": name, "ShardId": "shardId-0",
                                                                      "ShardIteratorType": "SOMEWHERE"}),
                                  "ValidationException",
                                  "1 validation error detected: Value 'SOMEWHERE' at 'shardIteratorType' failed to "
                                  "satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, "
                                  "AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]")

    # -- limits --------------------------------------------------------------------------------------
    def test_record_and_request_limits_are_enforced_with_aws_error_types(self):
        name = self.stream()
        put = lambda **body: raw(self.esmd, "PutRecord", dict({"StreamName": name}, **body))  # noqa: E731
        self.assert_kinesis_error(put(Data=b64(b"x" * (MIB + 1)), PartitionKey="k"), "ValidationException",
                                  f"1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim={MIB + 1} "
                                  f"cap={MIB + 1}]' at 'data' failed to satisfy constraint: Member must have length "
                                  f"less than or equal to {MIB}")
        self.assert_kinesis_error(put(Data=b64(b"x" * MIB), PartitionKey="kk"), "InvalidArgumentException")
        status, _, ok = put(Data=b64(b"x" * (MIB - 2)), PartitionKey="kk")
        self.assertEqual(status, 200, ok)
        self.assert_kinesis_error(put(Data="eA==", PartitionKey=""), "ValidationException",
                                  "1 validation error detected: Value '' at 'partitionKey' failed to satisfy "
                                  "constraint: Member must have length greater than or equal to 1")
        self.assert_kinesis_error(put(Data="eA==", PartitionKey="k" * 257), "ValidationException")
        self.assert_kinesis_error(put(Data="eA==", PartitionKey="k", ExplicitHashKey="01"), "ValidationException")
        self.assert_kinesis_error(put(Data="not base64!", PartitionKey="k"), "SerializationException")
        self.assert_kinesis_error(put(PartitionKey="k"), "ValidationException",
                                  "1 validation error detected: Value null at 'data' failed to satisfy constraint: "
                                  "Member must not be null")
        entry = {"Data": "eA==", "PartitionKey": "k"}
        self.assert_kinesis_error(raw(self.esmd, "PutRecords", {"StreamName": name, "Records": [entry] * 501}),
                                  "ValidationException")
        self.assert_kinesis_error(raw(self.esmd, "PutRecords", {"StreamName": name, "Records": []}),
                                  "ValidationException")
        self.assert_kinesis_error(
            raw(self.esmd, "PutRecords", {"StreamName": name, "Records": [entry, {"Data": "eA==", "PartitionKey": ""}]}),
            "ValidationException",
            "1 validation error detected: Value '' at 'records.2.member.partitionKey' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1")
        big = {"Data": b64(b"y" * (MIB - 10)), "PartitionKey": "k"}
        self.assert_kinesis_error(raw(self.esmd, "PutRecords", {"StreamName": name, "Records": [big] * 5 + [
            {"Data": b64(b"y" * 100_000), "PartitionKey": "k"}]}), "InvalidArgumentException")
        # Just under 5 MiB of data is 6.7 MB of base64 on the wire: accepted.
        status, _, ok = raw(self.esmd, "PutRecords", {"StreamName": name, "Records": [big] * 5})
        self.assertEqual((status, ok["FailedRecordCount"]), (200, 0))
        it = self.iterator(name)
        self.assert_kinesis_error(raw(self.esmd, "GetRecords", {"ShardIterator": it, "Limit": 10001}),
                                  "ValidationException")
        self.assert_kinesis_error(raw(self.esmd, "GetRecords", {"ShardIterator": it, "Limit": 0}),
                                  "ValidationException")
        # The 1 MiB record and the five large ones (6 MiB) fit in one GetRecords (10 MiB at most).
        status, _, got = raw(self.esmd, "GetRecords", {"ShardIterator": it})
        self.assertEqual((status, len(got["Records"])), (200, 6))
        status, _, more = raw(self.esmd, "PutRecords", {"StreamName": name, "Records": [big] * 5})
        status, _, got = raw(self.esmd, "GetRecords", {"ShardIterator": it})
        self.assertEqual((status, len(got["Records"])), (200, 10))  # 10 MiB: the 11th waits


class KinesisShardLimitsTest(KinesisErrorAssertions, unittest.TestCase):
    """With --kinesis-shard-limits, a shard takes at most 1 MiB and 1,000 records a second."""

    def setUp(self):
        self.esmd = Esmd("--kinesis-shard-limits").start()
        self.kinesis = self.esmd.client("kinesis")

    def tearDown(self):
        self.esmd.cleanup()

    def test_put_records_reports_throttled_records_one_by_one(self):
        name = unique("limited")
        self.kinesis.create_stream(StreamName=name, ShardCount=2)
        shards = self.kinesis.list_shards(StreamName=name)["Shards"]
        big = b"z" * (600 * 1024)
        # Two 600 KiB records for shard 0 in one request (one instant): the second is over 1 MiB/s.
        out = self.kinesis.put_records(StreamName=name, Records=[
            {"Data": big, "PartitionKey": "a", "ExplicitHashKey": "0"},
            {"Data": b"small", "PartitionKey": "b", "ExplicitHashKey": shards[1]["HashKeyRange"]["StartingHashKey"]},
            {"Data": big, "PartitionKey": "c", "ExplicitHashKey": "1"},
        ])
        self.assertEqual(out["FailedRecordCount"], 1)
        ok0, ok1, failed = out["Records"]
        self.assertEqual(ok0["ShardId"], "shardId-000000000000")
        self.assertEqual(ok1["ShardId"], "shardId-000000000001")
        self.assertNotIn("SequenceNumber", failed)
        self.assertEqual(failed["ErrorCode"], "ProvisionedThroughputExceededException")
        self.assertEqual(failed["ErrorMessage"], f"Rate exceeded for shard shardId-000000000000 in stream {name} "
                                                 f"under account {ACCOUNT}.")
        it = self.kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assertEqual(len(self.kinesis.get_records(ShardIterator=it)["Records"]), 1)

    def test_put_record_over_the_limit_is_provisioned_throughput_exceeded(self):
        name = unique("limited")
        self.kinesis.create_stream(StreamName=name, ShardCount=1)
        codes = []
        for _ in range(6):  # 600 KiB each: at most two fit in any one second
            try:
                self.kinesis.put_record(StreamName=name, Data=b"z" * (600 * 1024), PartitionKey="k")
                codes.append("ok")
            except self.kinesis.exceptions.ProvisionedThroughputExceededException as e:
                codes.append(e.response["Error"]["Code"])
        self.assertIn("ProvisionedThroughputExceededException", codes)
        status, _, body = raw(self.esmd, "PutRecords", {"StreamName": name, "Records": [
            {"Data": b64(b"q"), "PartitionKey": str(i)} for i in range(500)]})
        self.assertEqual(status, 200, body)
        self.assertEqual(json.dumps(body).count("ProvisionedThroughputExceededException"), body["FailedRecordCount"])


if __name__ == "__main__":
    unittest.main()
