"""The SQS event a function receives is the one AWS builds (data-plane.md §1.1, §1.2).

Events are compared as parsed JSON (AWS does not keep key order), key by key, with every
attribute string-typed and the body passed through byte for byte.
"""
import base64
import hashlib
import time
import unittest

from sqs_poller_support import PollerTestCase

STANDARD_RECORD_KEYS = {"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                        "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"}
STANDARD_ATTRIBUTE_KEYS = {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                           "ApproximateFirstReceiveTimestamp"}
FIFO_ATTRIBUTE_KEYS = STANDARD_ATTRIBUTE_KEYS | {"SequenceNumber", "MessageGroupId", "MessageDeduplicationId"}


def md5(b):
    return hashlib.md5(b.encode() if isinstance(b, str) else b).hexdigest()


class SqsEventShapeTest(PollerTestCase):
    def assert_common(self, rec, arn, body, message_id, before_ms, after_ms):
        self.assertEqual(rec["messageId"], message_id)
        self.assertIsInstance(rec["receiptHandle"], str)
        self.assertTrue(rec["receiptHandle"])
        self.assertEqual(rec["body"], body)
        self.assertEqual(rec["md5OfBody"], md5(body))
        self.assertEqual(rec["eventSource"], "aws:sqs")
        self.assertEqual(rec["eventSourceARN"], arn)
        self.assertEqual(rec["awsRegion"], self.esmd.region)
        attrs = rec["attributes"]
        for k, v in attrs.items():
            self.assertIsInstance(v, str, f"attribute {k} must be a string")
        self.assertEqual(attrs["ApproximateReceiveCount"], "1")
        self.assertTrue(attrs["SenderId"])
        sent = int(attrs["SentTimestamp"])
        first = int(attrs["ApproximateFirstReceiveTimestamp"])
        self.assertLessEqual(before_ms - 5, sent)
        self.assertLessEqual(sent, first)
        self.assertLessEqual(first, after_ms + 5)

    def test_standard_queue_event_matches_aws_shape(self):
        url, arn = self.make_queue()
        uuid = self.make_mapping(arn, BatchSize=10)
        before = int(time.time() * 1000)
        body = '{"a": 1}'
        sent = self.sqs.send_message(
            QueueUrl=url, MessageBody=body,
            MessageAttributes={
                "priority": {"DataType": "Number", "StringValue": "3"},
                "tenant": {"DataType": "String", "StringValue": "acme"},
                "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
            })
        calls = self.fn.wait_calls(1)
        after = int(time.time() * 1000)
        event = calls[0].event
        self.assertEqual(set(event), {"Records"})
        self.assertEqual(len(event["Records"]), 1)
        rec = event["Records"][0]
        self.assertEqual(set(rec), STANDARD_RECORD_KEYS | {"md5OfMessageAttributes"})
        self.assertEqual(set(rec["attributes"]), STANDARD_ATTRIBUTE_KEYS)
        self.assert_common(rec, arn, body, sent["MessageId"], before, after)
        self.assertEqual(rec["md5OfMessageAttributes"], sent["MD5OfMessageAttributes"])
        self.assertEqual(rec["messageAttributes"], {
            "priority": {"stringValue": "3", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
            "tenant": {"stringValue": "acme", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "blob": {"binaryValue": base64.b64encode(b"\x00\x01\xff").decode(), "stringListValues": [],
                     "binaryListValues": [], "dataType": "Binary"},
        })
        # Byte for byte: the body is a JSON string holding exactly what was sent.
        self.assertIn(b'"body":"{\\"a\\": 1}"', self.fn.raw_bodies()[0])
        self.wait_empty(url)
        # The invocation log shows the same event and the outcome.
        log = self.invocations(uuid)
        self.assertEqual(len(log), 1)
        self.assertEqual(log[0]["Event"], event)
        self.assertEqual(log[0]["Outcome"], "Success")

    def test_body_passes_byte_for_byte(self):
        url, arn = self.make_queue()
        self.make_mapping(arn)
        bodies = ['{"a": 1}', '  {"b":[1, 2 ,3]}  ', "plain text", "tab\there\nnew line\r",
                  "unicode é ü 中文 😀", '"quoted" \\ backslash / slash', "{not json", "x" * 5000,
                  "\u2028\u2029"]
        ids = self.send(url, bodies)
        self.fn.wait_bodies(bodies)
        by_id = {r["messageId"]: r for r in self.fn.records()}
        for i, b in zip(ids, bodies):
            self.assertEqual(by_id[i]["body"], b)
            self.assertEqual(by_id[i]["md5OfBody"], md5(b))

    def test_md5_of_message_attributes_is_omitted_without_attributes_and_window_0(self):
        url, arn = self.make_queue()
        self.make_mapping(arn)
        self.send(url, ["no attributes"])
        rec = self.fn.wait_calls(1)[0].event["Records"][0]
        self.assertNotIn("md5OfMessageAttributes", rec)
        self.assertEqual(rec["messageAttributes"], {})
        self.assertEqual(set(rec), STANDARD_RECORD_KEYS)

    def test_md5_of_message_attributes_is_null_without_attributes_and_a_window(self):
        url, arn = self.make_queue()
        self.make_mapping(arn, MaximumBatchingWindowInSeconds=1)
        sent = self.sqs.send_message(QueueUrl=url, MessageBody="a",
                                     MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
        self.send(url, ["b"])
        self.fn.wait_bodies(["a", "b"])
        recs = {r["body"]: r for r in self.fn.records()}
        self.assertIn("md5OfMessageAttributes", recs["b"])
        self.assertIsNone(recs["b"]["md5OfMessageAttributes"])
        self.assertEqual(recs["a"]["md5OfMessageAttributes"], sent["MD5OfMessageAttributes"])

    def test_fifo_queue_event_matches_aws_shape(self):
        url, arn = self.make_queue(fifo=True)
        self.make_mapping(arn, BatchSize=10)
        before = int(time.time() * 1000)
        sent = self.sqs.send_message(QueueUrl=url, MessageBody="order o-2002 paid",
                                     MessageGroupId="customer-17", MessageDeduplicationId="o-2002-paid")
        calls = self.fn.wait_calls(1)
        after = int(time.time() * 1000)
        rec = calls[0].event["Records"][0]
        self.assertEqual(set(rec), STANDARD_RECORD_KEYS)
        self.assertEqual(set(rec["attributes"]), FIFO_ATTRIBUTE_KEYS)
        self.assert_common(rec, arn, "order o-2002 paid", sent["MessageId"], before, after)
        self.assertEqual(rec["attributes"]["SequenceNumber"], sent["SequenceNumber"])
        self.assertEqual(rec["attributes"]["MessageGroupId"], "customer-17")
        self.assertEqual(rec["attributes"]["MessageDeduplicationId"], "o-2002-paid")
        self.assertEqual(rec["messageAttributes"], {})
        self.assertTrue(rec["eventSourceARN"].endswith(".fifo"))
        self.wait_empty(url)

    def test_fifo_content_based_dedup_id_is_the_body_sha256(self):
        url, arn = self.make_queue(fifo=True, ContentBasedDeduplication="true")
        self.make_mapping(arn)
        self.sqs.send_message(QueueUrl=url, MessageBody="hello", MessageGroupId="g")
        rec = self.fn.wait_calls(1)[0].event["Records"][0]
        self.assertEqual(rec["attributes"]["MessageDeduplicationId"], hashlib.sha256(b"hello").hexdigest())

    def test_aws_cli_sent_message_reaches_the_function(self):
        url, arn = self.make_queue()
        self.make_mapping(arn)
        rc, out, err = self.esmd.aws("sqs", "send-message", "--queue-url", url, "--message-body", '{"cli": true}')
        self.assertEqual(rc, 0, err)
        rec = self.fn.wait_calls(1)[0].event["Records"][0]
        self.assertEqual(rec["body"], '{"cli": true}')
        self.assertEqual(rec["messageId"], out["MessageId"])


if __name__ == "__main__":
    unittest.main()
