"""Shared fixtures for the Kinesis poller integration tests (test_kinesis_poller_*.py).

KinesisTestCase extends the SQS poller fixtures (sqs_poller_support.PollerTestCase): one esmd
per test class, a scriptable test function per test (SqsFunction: fn.behave(...), fn.calls()),
plus streams written with boto3's Kinesis client and helpers that read the Kinesis events the
function received (record data base64-decoded).
"""
import base64
import json
import time

from esmd_harness import ACCOUNT, wait_until
from sqs_poller_support import PollerTestCase, Reply, unique  # noqa: F401 - re-exported


def data_of(record):
    """The record's data as text."""
    return base64.b64decode(record["kinesis"]["data"]).decode()


def fail_if_data_contains(marker):
    """A function that raises when any record's data contains `marker`, and succeeds otherwise."""
    error = json.dumps({"errorMessage": "poison", "errorType": "Exception"})

    def behaviour(event):
        if any(marker in data_of(r) for r in event.get("Records", [])):
            return Reply(200, error, {"X-Amz-Function-Error": "Unhandled"})
        return Reply(200, "")
    return behaviour


class KinesisTestCase(PollerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kin = cls.esmd.client("kinesis")

    # -- streams --------------------------------------------------------------------------
    def make_stream(self, shards=1, name=None):
        name = name or unique("stream")
        self.kin.create_stream(StreamName=name, ShardCount=shards)
        wait_until(lambda: self.kin.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == "ACTIVE",
                   message=f"stream {name} active")
        return name, self.stream_arn(name)

    def stream_arn(self, name):
        return f"arn:aws:kinesis:{self.esmd.region}:{ACCOUNT}:stream/{name}"

    def shard_ids(self, stream):
        return [s["ShardId"] for s in self.kin.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]]

    def put(self, stream, datas, key=None, keys=None):
        """PutRecords in chunks of 500; returns [(shard id, sequence number)] in order."""
        out = []
        for start in range(0, len(datas), 500):
            chunk = datas[start:start + 500]
            entries = []
            for i, d in enumerate(chunk):
                k = keys[start + i] if keys else (key or f"pk-{start + i}")
                entries.append({"Data": d.encode() if isinstance(d, str) else d, "PartitionKey": k})
            r = self.kin.put_records(StreamName=stream, Records=entries)
            self.assertEqual(r.get("FailedRecordCount", 0), 0, r)
            out += [(e["ShardId"], e["SequenceNumber"]) for e in r["Records"]]
        return out

    # -- mappings -------------------------------------------------------------------------
    def make_kinesis_mapping(self, stream_arn, position="TRIM_HORIZON", **params):
        return self.make_mapping(stream_arn, StartingPosition=position, **params)

    def mapping(self, uuid):
        return self.lam.get_event_source_mapping(UUID=uuid)

    def wait_result(self, uuid, result, timeout=10.0):
        wait_until(lambda: self.mapping(uuid).get("LastProcessingResult") == result, timeout=timeout,
                   message=f"LastProcessingResult {result}")

    # -- what the function saw ------------------------------------------------------------
    def delivered(self, function=None):
        """Data of every record the function received, in arrival order (with repeats)."""
        return [data_of(r) for r in self.fn.records(function)]

    def successful_data(self, uuid):
        """Data of the records of the mapping's invocations that succeeded (esmd's invocation log)."""
        out = []
        for inv in self.invocations(uuid=uuid, limit=10000):
            if inv["Outcome"] == "Success":
                out += [data_of(r) for r in inv["Event"].get("Records", [])]
        return out

    def wait_delivered(self, expected, timeout=10.0, function=None):
        want = set(expected)
        wait_until(lambda: want <= set(self.delivered(function)), timeout=timeout,
                   message=f"{len(want)} records delivered")

    # -- destinations ---------------------------------------------------------------------
    def dlq(self):
        url, arn = self.make_queue()
        return url, arn

    def receive_all(self, url, want, timeout=15.0):
        """Receives (and deletes) messages until `want` have arrived; returns their parsed bodies."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < deadline:
            r = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in r.get("Messages", []):
                got.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        self.assertEqual(len(got), want, f"failure records in the DLQ: {got}")
        return got

    def destination_entries(self, arn):
        status, _, body = self.esmd.http("GET", "/_esmd/destinations?arn=" + arn)
        self.assertEqual(status, 200, body)
        return json.loads(body)["Entries"]
