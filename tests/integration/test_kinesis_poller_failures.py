"""The Kinesis poller when the function fails: retries to exhaustion, the on-failure record,
bisect, and ReportBatchItemFailures (data-plane.md §3.2, §3.4–§3.6)."""
import json
import re
import unittest

from esmd_harness import wait_until
from kinesis_poller_support import KinesisTestCase, Reply, data_of, fail_if_data_contains
from sqs_poller_support import raise_error, succeed

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def iso_of(arrival_seconds):
    import datetime
    t = datetime.datetime.fromtimestamp(round(arrival_seconds * 1000) / 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def reply_per_data(bodies):
    """A function answering each single-record batch with bodies[data]."""
    def behaviour(event):
        return Reply(200, bodies[data_of(event["Records"][0])])
    return behaviour


class KinesisFailureTest(KinesisTestCase):
    def on_failure(self, arn):
        return {"OnFailure": {"Destination": arn}}

    def test_retries_to_exhaustion_send_the_exact_failure_record_to_an_sqs_queue(self):
        stream, arn = self.make_stream(1)
        url, dlq = self.dlq()
        sent = self.put(stream, ["a", "b"], key="k")
        self.fn.behave(raise_error())
        uuid = self.make_kinesis_mapping(arn, BatchSize=10, MaximumRetryAttempts=2,
                                         DestinationConfig=self.on_failure(dlq))
        [record] = self.receive_all(url, 1)
        calls = self.fn.calls()
        self.assertEqual(len(calls), 3, "the first try and 2 retries")
        for c in calls:
            self.assertEqual([data_of(r) for r in c.records], ["a", "b"])
        records = calls[0].records
        last_invocation = self.invocations(uuid=uuid)[-1]
        self.assertEqual(set(record), {"requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"})
        self.assertEqual(record["requestContext"], {
            "requestId": last_invocation["RequestId"],
            "functionArn": self.mapping(uuid)["FunctionArn"],
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 3,
        })
        self.assertEqual(record["responseContext"],
                         {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
        self.assertEqual(record["version"], "1.0")
        self.assertRegex(record["timestamp"], ISO_MS)
        self.assertEqual(record["KinesisBatchInfo"], {
            "shardId": sent[0][0],
            "startSequenceNumber": sent[0][1],
            "endSequenceNumber": sent[1][1],
            "approximateArrivalOfFirstRecord": iso_of(records[0]["kinesis"]["approximateArrivalTimestamp"]),
            "approximateArrivalOfLastRecord": iso_of(records[1]["kinesis"]["approximateArrivalTimestamp"]),
            "batchSize": 2,
            "streamArn": arn,
        })
        # The shard moved past the batch: the next record goes through.
        self.fn.behave(succeed())
        self.put(stream, ["c"], key="k")
        self.wait_delivered({"c"})
        self.wait_result(uuid, "OK")
        self.assertEqual(self.delivered().count("a"), 3)

    def test_bisect_isolates_one_poison_record_among_100(self):
        stream, arn = self.make_stream(1)
        url, dlq = self.dlq()
        datas = [f"good-{i}" for i in range(100)]
        datas[37] = "poison-37"
        sent = self.put(stream, datas, key="same-key")
        self.fn.behave(fail_if_data_contains("poison"))
        uuid = self.make_kinesis_mapping(arn, BatchSize=100, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
                                         DestinationConfig=self.on_failure(dlq))
        [record] = self.receive_all(url, 1)
        self.assertEqual(record["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual(record["requestContext"]["approximateInvokeCount"], 1)
        info = record["KinesisBatchInfo"]
        self.assertEqual(info["batchSize"], 1)
        self.assertEqual(info["startSequenceNumber"], sent[37][1])
        self.assertEqual(info["endSequenceNumber"], sent[37][1])
        good = set(datas) - {"poison-37"}
        wait_until(lambda: good <= set(self.successful_data(uuid)), message="every good record delivered")
        # ceil-half splits, first half first: [0,100) [0,50) [0,25) [25,50) [25,38) [25,32) [32,38)
        # [32,35) [35,38) [35,37) [37,38) [38,50) [50,100)
        sizes = [len(c.records) for c in self.fn.calls()]
        self.assertEqual(sizes, [100, 50, 25, 25, 13, 7, 6, 3, 3, 2, 1, 12, 50])
        self.assertEqual(sorted(self.successful_data(uuid)), sorted(good), "each good record delivered once")

    def test_a_partial_response_retries_from_the_lowest_reported_record(self):
        # The recorded AWS run: BatchSize 3, MaximumRetryAttempts 3, the 6th record always failing.
        stream, arn = self.make_stream(1)
        url, dlq = self.dlq()
        sent = self.put(stream, [f"r{i}" for i in range(1, 7)], key="k")
        seq_of = {f"r{i}": s for i, (_, s) in zip(range(1, 7), sent)}

        def behaviour(event):
            failed = [r["kinesis"]["sequenceNumber"] for r in event["Records"] if data_of(r) == "r6"]
            return Reply(200, json.dumps({"batchItemFailures": [{"itemIdentifier": s} for s in failed]}))
        self.fn.behave(behaviour)
        self.make_kinesis_mapping(arn, BatchSize=3, MaximumRetryAttempts=3, FunctionResponseTypes=["ReportBatchItemFailures"],
                                  DestinationConfig=self.on_failure(dlq))
        [record] = self.receive_all(url, 1)
        batches = [[data_of(r) for r in c.records] for c in self.fn.calls()]
        self.assertEqual(batches, [["r1", "r2", "r3"], ["r4", "r5", "r6"], ["r6"], ["r6"], ["r6"]])
        self.assertEqual(record["requestContext"]["approximateInvokeCount"], 4)
        self.assertEqual(record["responseContext"]["functionError"], None)
        self.assertIn("functionError", record["responseContext"])
        info = record["KinesisBatchInfo"]
        self.assertEqual((info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]),
                         (seq_of["r6"], seq_of["r6"], 1))

    def test_the_retry_after_a_partial_response_includes_the_later_records(self):
        stream, arn = self.make_stream(1)
        sent = self.put(stream, ["r1", "r2", "r3", "r4"], key="k")
        state = {"first": True}

        def behaviour(event):
            if state["first"]:
                state["first"] = False
                return Reply(200, json.dumps({"batchItemFailures": [{"itemIdentifier": sent[3][1]},
                                                                    {"itemIdentifier": sent[1][1]}]}))
            return Reply(200, "")
        self.fn.behave(behaviour)
        self.make_kinesis_mapping(arn, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
        self.fn.wait_calls(2)
        batches = [[data_of(r) for r in c.records] for c in self.fn.calls()]
        self.assertEqual(batches, [["r1", "r2", "r3", "r4"], ["r2", "r3", "r4"]])

    def test_every_documented_success_response_completes_the_batch(self):
        stream, arn = self.make_stream(1)
        url, dlq = self.dlq()
        bodies = {"empty": "", "list": "[]", "null": "null", "object": "{}",
                  "no-failures": '{"batchItemFailures":[]}', "null-failures": '{"batchItemFailures":null}'}
        self.fn.behave(reply_per_data(bodies))
        uuid = self.make_kinesis_mapping(arn, "LATEST", BatchSize=1, MaximumRetryAttempts=1,
                                         FunctionResponseTypes=["ReportBatchItemFailures"],
                                         DestinationConfig=self.on_failure(dlq))
        self.put(stream, list(bodies), key="k")
        self.wait_delivered(set(bodies))
        self.put(stream, ["end"], key="k")
        bodies["end"] = ""
        self.wait_delivered({"end"})
        self.assertEqual(self.delivered(), list(bodies), "one invocation each")
        self.assertEqual(self.total(url), 0)
        self.wait_result(uuid, "OK")

    def test_invalid_partial_responses_fail_the_whole_batch_with_a_null_function_error(self):
        stream, arn = self.make_stream(1)
        url, dlq = self.dlq()
        bodies = {"empty-id": '{"batchItemFailures":[{"itemIdentifier":""}]}',
                  "null-id": '{"batchItemFailures":[{"itemIdentifier":null}]}',
                  "other-key": '{"batchItemFailures":[{"foo":123}]}',
                  "unknown-id": '{"batchItemFailures":[{"itemIdentifier":"123"}]}'}
        self.fn.behave(reply_per_data(bodies))
        self.make_kinesis_mapping(arn, "LATEST", BatchSize=1, MaximumRetryAttempts=1,
                                  FunctionResponseTypes=["ReportBatchItemFailures"],
                                  DestinationConfig=self.on_failure(dlq))
        self.put(stream, list(bodies), key="k")
        records = self.receive_all(url, len(bodies), timeout=20)
        for r in records:
            self.assertEqual(r["requestContext"]["condition"], "RetryAttemptsExhausted")
            self.assertEqual(r["requestContext"]["approximateInvokeCount"], 2)
            self.assertIsNone(r["responseContext"]["functionError"])
        self.assertEqual(self.delivered(), [d for d in bodies for _ in range(2)])

    def test_sns_and_s3_destinations_are_kept_for_the_admin_route(self):
        s1, arn1 = self.make_stream(1)
        s2, arn2 = self.make_stream(1)
        topic = "arn:aws:sns:us-east-1:000000000000:failures"
        bucket = "arn:aws:s3:::failures-bucket"
        self.fn.behave(raise_error())
        sent1 = self.put(s1, ["to-sns"], key="k")
        sent2 = self.put(s2, ["to-s3"], key="k")
        u1 = self.make_kinesis_mapping(arn1, MaximumRetryAttempts=0, DestinationConfig=self.on_failure(topic))
        u2 = self.make_kinesis_mapping(arn2, MaximumRetryAttempts=0, DestinationConfig=self.on_failure(bucket))
        wait_until(lambda: self.destination_entries(topic) and self.destination_entries(bucket),
                   message="both destinations written")
        [sns] = self.destination_entries(topic)
        self.assertEqual(sns["MappingUUID"], u1)
        message = json.loads(sns["Body"])
        self.assertEqual(message["KinesisBatchInfo"]["startSequenceNumber"], sent1[0][1])
        self.assertNotIn("payload", message)
        [s3] = self.destination_entries(bucket)
        self.assertEqual(s3["MappingUUID"], u2)
        self.assertRegex(s3["Key"], rf"^aws/lambda/{u2}/{sent2[0][0]}/\d{{4}}/\d\d/\d\d/"
                                    r"\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d-[0-9a-f-]{36}$")
        obj = json.loads(s3["Body"])
        self.assertEqual(obj["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual([data_of(r) for r in obj["payload"]["Records"]], ["to-s3"])
        self.assertEqual(len(self.destination_entries("")), 2)


if __name__ == "__main__":
    unittest.main()
