"""The AWS SDK for JavaScript v3 as a real client (issue 15): client-lambda for the
event-source-mapping API, client-sqs (the JSON protocol, with the SDK's own MD5 checks of what
it sends and receives) and client-kinesis, each answered in a shape the SDK parses, errors
included (the SDK names the exception from esmd's error type); and a message sent with the SDK
reaches a function through a mapping made with the SDK."""
import json
import time
import unittest

from aws_sdk_js import b, sdk_js, sdk_js_available, sdk_js_one, unb
from esmd_harness import ACCOUNT, Esmd, wait_until
from sqs_poller_support import SqsFunction, unique


@unittest.skipUnless(sdk_js_available(), "node is not installed")
class AwsSdkJsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd(transition_delay_ms=50).start()

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def ok(self, result):
        self.assertIn("ok", result, result)
        return result["ok"]

    def error(self, result, name, status):
        self.assertIn("error", result, result)
        self.assertEqual(result["error"]["name"], name, result)
        self.assertEqual(result["error"]["status"], status, result)
        self.assertTrue(result["error"]["message"], result)
        return result["error"]

    def queue(self):
        name = unique("js-q")
        url = self.ok(sdk_js_one(self.esmd, "sqs", "CreateQueue", {"QueueName": name}))["QueueUrl"]
        return name, url, f"arn:aws:sqs:{self.esmd.region}:{ACCOUNT}:{name}"

    def wait_state(self, uuid, states=("Enabled", "Disabled")):
        def stable():
            got = self.ok(sdk_js_one(self.esmd, "lambda", "GetEventSourceMapping", {"UUID": uuid}))
            return got if got["State"] in states else None
        return wait_until(stable, timeout=10, message=f"mapping {uuid} in {states}")

    def test_mapping_lifecycle_and_tags(self):
        fn = SqsFunction()
        self.addCleanup(fn.close)
        function = fn.register(self.esmd, unique("js-fn"))
        _, _, arn = self.queue()
        created = self.ok(sdk_js_one(self.esmd, "lambda", "CreateEventSourceMapping", {
            "EventSourceArn": arn, "FunctionName": function, "BatchSize": 5,
            "MaximumBatchingWindowInSeconds": 1, "Tags": {"team": "js"},
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": {"kind": ["a"]}})}]}}))
        uuid = created["UUID"]
        self.assertEqual(created["State"], "Creating")
        self.assertEqual(created["BatchSize"], 5)
        self.assertEqual(created["FunctionArn"],
                         f"arn:aws:lambda:{self.esmd.region}:{ACCOUNT}:function:{function}")
        self.assertIsInstance(created["LastModified"], dict)  # a Date, parsed from epoch seconds
        mapping_arn = created["EventSourceMappingArn"]
        self.wait_state(uuid)
        results = sdk_js(self.esmd, [
            ("lambda", "ListEventSourceMappings", {"EventSourceArn": arn}),
            ("lambda", "ListTags", {"Resource": mapping_arn}),
            ("lambda", "TagResource", {"Resource": mapping_arn, "Tags": {"env": "ci"}}),
            ("lambda", "UntagResource", {"Resource": mapping_arn, "TagKeys": ["team"]}),
            ("lambda", "ListTags", {"Resource": mapping_arn}),
            ("lambda", "UpdateEventSourceMapping", {"UUID": uuid, "BatchSize": 7, "Enabled": False}),
        ])
        listed = self.ok(results[0])["EventSourceMappings"]
        self.assertEqual([m["UUID"] for m in listed], [uuid])
        self.assertEqual(self.ok(results[1])["Tags"], {"team": "js"})
        self.ok(results[2])
        self.ok(results[3])
        self.assertEqual(self.ok(results[4])["Tags"], {"env": "ci"})
        updated = self.ok(results[5])
        self.assertEqual((updated["State"], updated["BatchSize"]), ("Disabling", 7))
        self.assertEqual(self.wait_state(uuid, ("Disabled",))["BatchSize"], 7)
        deleted = self.ok(sdk_js_one(self.esmd, "lambda", "DeleteEventSourceMapping", {"UUID": uuid}))
        self.assertEqual(deleted["State"], "Deleting")
        wait_until(lambda: "error" in sdk_js_one(self.esmd, "lambda", "GetEventSourceMapping", {"UUID": uuid}),
                   timeout=10, message="the mapping gone")

    def test_lambda_errors_are_the_sdks_exceptions(self):
        missing = "1b6c9a3e-0000-4000-8000-000000000000"
        _, _, arn = self.queue()
        results = sdk_js(self.esmd, [
            ("lambda", "GetEventSourceMapping", {"UUID": missing}),
            ("lambda", "DeleteEventSourceMapping", {"UUID": missing}),
            ("lambda", "CreateEventSourceMapping", {"EventSourceArn": arn, "FunctionName": "no-such-fn"}),
            ("lambda", "CreateEventSourceMapping", {"EventSourceArn": arn, "FunctionName": "f", "BatchSize": 0}),
        ])
        self.error(results[0], "ResourceNotFoundException", 404)
        self.error(results[1], "ResourceNotFoundException", 404)
        self.error(results[2], "InvalidParameterValueException", 400)  # control-plane.md: function lookup first
        err = results[3]["error"]
        self.assertIn(err["name"], ("InvalidParameterValueException", "ValidationException"), err)
        self.assertEqual(err["status"], 400)

    def test_sqs_json_protocol_round_trip(self):
        _, url, _ = self.queue()
        body = 'héllo {"js": true}'
        results = sdk_js(self.esmd, [
            ("sqs", "GetQueueUrl", {"QueueName": url.rsplit("/", 1)[1]}),
            ("sqs", "SendMessage", {"QueueUrl": url, "MessageBody": body, "MessageAttributes": {
                "n": {"DataType": "Number", "StringValue": "7"},
                "bin": {"DataType": "Binary", "BinaryValue": b(b"\x00\xff")}}}),
            ("sqs", "SendMessageBatch", {"QueueUrl": url, "Entries": [
                {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two", "DelaySeconds": 0}]}),
            ("sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]}),
            ("sqs", "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1,
                                       "MessageAttributeNames": ["All"], "MessageSystemAttributeNames": ["All"]}),
        ])
        self.assertEqual(self.ok(results[0])["QueueUrl"], url)
        sent = self.ok(results[1])
        self.assertTrue(sent["MessageId"] and sent["MD5OfMessageAttributes"])
        batch = self.ok(results[2])
        self.assertEqual(sorted(e["Id"] for e in batch["Successful"]), ["a", "b"])
        self.assertEqual(self.ok(results[3])["Attributes"]["ApproximateNumberOfMessages"], "3")
        got = self.ok(results[4])["Messages"]
        self.assertEqual(sorted(m["Body"] for m in got), sorted([body, "one", "two"]))
        first = next(m for m in got if m["Body"] == body)
        self.assertEqual(unb(first["MessageAttributes"]["bin"]["BinaryValue"]), b"\x00\xff")
        self.assertEqual(first["Attributes"]["ApproximateReceiveCount"], "1")
        results = sdk_js(self.esmd, [
            ("sqs", "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": first["ReceiptHandle"]}),
            ("sqs", "DeleteMessageBatch", {"QueueUrl": url, "Entries": [
                {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got) if m is not first]}),
            ("sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]}),
            ("sqs", "GetQueueUrl", {"QueueName": "js-no-such-queue"}),
            ("sqs", "SendMessage", {"QueueUrl": url, "MessageBody": ""}),
        ])
        self.ok(results[0])
        self.assertEqual(len(self.ok(results[1])["Successful"]), 2)
        attrs = self.ok(results[2])["Attributes"]
        self.assertEqual((attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]),
                         ("0", "0"))
        self.error(results[3], "QueueDoesNotExist", 400)
        self.assertEqual(results[4]["error"]["status"], 400, results[4])

    def test_kinesis_round_trip(self):
        self.kinesis_round_trip(http1=True)

    def test_kinesis_round_trip_over_http2_the_default(self):
        # client-kinesis's default handler speaks HTTP/2 with prior knowledge to an http:// endpoint.
        self.kinesis_round_trip(http1=False)

    def kinesis_round_trip(self, http1):
        stream = unique("js-s")
        results = sdk_js(self.esmd, [("kinesis", "CreateStream", {"StreamName": stream, "ShardCount": 2})], http1=http1)
        self.ok(results[0])
        def active():
            got = sdk_js_one(self.esmd, "kinesis", "DescribeStreamSummary", {"StreamName": stream}, http1=http1)
            return self.ok(got)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
        wait_until(active, timeout=10, message="stream ACTIVE")
        results = sdk_js(self.esmd, [
            ("kinesis", "PutRecord", {"StreamName": stream, "PartitionKey": "k", "Data": b(b"\x00first\xff")}),
            ("kinesis", "PutRecords", {"StreamName": stream, "Records": [
                {"PartitionKey": "k", "Data": b(b"second")}, {"PartitionKey": "k", "Data": b(b"third")}]}),
            ("kinesis", "ListShards", {"StreamName": stream}),
        ], http1=http1)
        put = self.ok(results[0])
        self.assertEqual(self.ok(results[1])["FailedRecordCount"], 0)
        self.assertEqual(len(self.ok(results[2])["Shards"]), 2)
        it = self.ok(sdk_js_one(self.esmd, "kinesis", "GetShardIterator", {
            "StreamName": stream, "ShardId": put["ShardId"], "ShardIteratorType": "TRIM_HORIZON"},
            http1=http1))["ShardIterator"]
        got = self.ok(sdk_js_one(self.esmd, "kinesis", "GetRecords", {"ShardIterator": it}, http1=http1))
        self.assertEqual([unb(r["Data"]) for r in got["Records"]], [b"\x00first\xff", b"second", b"third"])
        self.assertEqual(got["Records"][0]["SequenceNumber"], put["SequenceNumber"])
        self.assertIn("$date", got["Records"][0]["ApproximateArrivalTimestamp"])
        missing = sdk_js_one(self.esmd, "kinesis", "DescribeStreamSummary", {"StreamName": "js-none"}, http1=http1)
        self.error(missing, "ResourceNotFoundException", 400)

    def test_fidelity_findings_as_the_sdk_sees_them(self):
        """Issue 15's findings through this client: each answer is the exception AWS's SDK names."""
        fn = SqsFunction()
        self.addCleanup(fn.close)
        function = fn.register(self.esmd, unique("js-fn"))
        name, url, arn = self.queue()
        stream = unique("js-split")
        results = sdk_js(self.esmd, [
            ("sqs", "PurgeQueue", {"QueueUrl": url}),
            ("sqs", "PurgeQueue", {"QueueUrl": url}),
            ("lambda", "CreateEventSourceMapping", {
                "EventSourceArn": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{name}", "FunctionName": function}),
            ("lambda", "GetEventSourceMapping", {"UUID": "a/b"}),
            ("kinesis", "CreateStream", {"StreamName": stream, "ShardCount": 1}),
        ], http1=True)
        self.ok(results[0])
        err = self.error(results[1], "PurgeQueueInProgress", 400)
        self.assertIn(f"Only one PurgeQueue operation on {name} is allowed every 60 seconds", err["message"])
        err = self.error(results[2], "InvalidParameterValueException", 400)
        self.assertIn("Event source region must match Lambda region us-east-1", err["message"])
        self.error(results[3], "ResourceNotFoundException", 404)
        self.ok(results[4])
        mapping = self.ok(sdk_js_one(self.esmd, "lambda", "CreateEventSourceMapping", {
            "EventSourceArn": arn, "FunctionName": function, "Enabled": False}))
        self.addCleanup(lambda: sdk_js_one(self.esmd, "lambda", "DeleteEventSourceMapping", {"UUID": mapping["UUID"]}))
        results = sdk_js(self.esmd, [
            ("lambda", "TagResource", {"Resource": mapping["EventSourceMappingArn"],
                                       "Tags": {f"k{i}": "v" for i in range(51)}}),
            ("lambda", "TagResource", {"Resource": mapping["EventSourceMappingArn"], "Tags": {"aws:owner": "me"}}),
            ("lambda", "ListTags", {"Resource": mapping["EventSourceMappingArn"].replace("us-east-1", "eu-west-1")}),
            ("kinesis", "SplitShard", {"StreamName": stream, "ShardToSplit": "shardId-000000000000",
                                       "NewStartingHashKey": "100"}),
        ], http1=True)
        self.error(results[0], "InvalidParameterValueException", 400)
        self.error(results[1], "InvalidParameterValueException", 400)
        self.error(results[2], "ResourceNotFoundException", 404)
        self.assertIn("The operation SplitShard is not supported by esmd", results[3]["error"]["message"])
        self.assertEqual(results[3]["error"]["status"], 400)

    def test_a_message_sent_with_the_sdk_reaches_the_function(self):
        fn = SqsFunction()
        self.addCleanup(fn.close)
        function = fn.register(self.esmd, unique("js-fn"))
        _, url, arn = self.queue()
        uuid = self.ok(sdk_js_one(self.esmd, "lambda", "CreateEventSourceMapping", {
            "EventSourceArn": arn, "FunctionName": function, "BatchSize": 10}))["UUID"]
        self.addCleanup(lambda: sdk_js_one(self.esmd, "lambda", "DeleteEventSourceMapping", {"UUID": uuid}))
        self.wait_state(uuid)
        started = time.monotonic()
        self.ok(sdk_js_one(self.esmd, "sqs", "SendMessage", {"QueueUrl": url, "MessageBody": "from js"}))
        calls = fn.wait_calls(1, timeout=10)
        rec = calls[0].records[0]
        self.assertEqual((rec["body"], rec["eventSource"], rec["eventSourceARN"]), ("from js", "aws:sqs", arn))
        self.assertLess(time.monotonic() - started, 10)


if __name__ == "__main__":
    unittest.main()
