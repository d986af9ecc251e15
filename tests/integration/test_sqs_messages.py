"""SQS message operations over the JSON protocol with boto3: SendMessage(+Batch) with their MD5
digests, ReceiveMessage (MaxNumberOfMessages, long polling, VisibilityTimeout, attribute
filters), DeleteMessage(+Batch), ChangeMessageVisibility(+Batch), PurgeQueue, DelaySeconds,
retention, RedrivePolicy to a dead-letter queue, and the limits on bodies and attributes."""
import json
import threading
import time
import unittest
import urllib.error

from esmd_harness import ACCOUNT, Esmd, wait_until
from lambda_support import boto_has
from sqs_support import SqsTestCase, json_request, log_mark, logged_since, md5_of_attributes, md5_of_body

ATTRIBUTES = {
    "colour": {"DataType": "String", "StringValue": "blue ✓"},
    "count": {"DataType": "Number", "StringValue": "-12.5e3"},
    "blob": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
    "pre.one": {"DataType": "String.custom", "StringValue": "1"},
    "pre.two": {"DataType": "Number.int", "StringValue": "2"},
    "gif": {"DataType": "Binary.gif", "BinaryValue": b"GIF89a"},
}


class SqsMessageTest(SqsTestCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()
        cls.sqs = cls.esmd.client("sqs")
        # Retention is at least 60 s in SQS: this queue's message is sent first and checked
        # last (test_zz_...), so the wait overlaps the other tests.
        cls.retention_url = cls.sqs.create_queue(
            QueueName="retention", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        cls.sqs.send_message(QueueUrl=cls.retention_url, MessageBody="expires after a minute")
        cls.retention_sent = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def new_queue(self, suffix="", **attributes):
        return self.sqs.create_queue(QueueName=self.queue_name(suffix),
                                     Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]

    def receive(self, url, **kwargs):
        if not boto_has(self.sqs, "ReceiveMessage", *kwargs):
            # botocore < 1.34 (Debian 12's 1.29) predates MessageSystemAttributeNames: send what
            # current SDKs send, a JSON-protocol request.
            status, _, doc = json_request(self.esmd, "ReceiveMessage", dict(QueueUrl=url, **kwargs))
            self.assertEqual(status, 200, doc)
            return doc.get("Messages", [])
        return self.sqs.receive_message(QueueUrl=url, **kwargs).get("Messages", [])

    def count(self, url, name="ApproximateNumberOfMessages"):
        return int(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name])

    def arn(self, url):
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    # -- SendMessage and its digests -----------------------------------------------------------
    def test_send_message_answers_the_md5s_the_sdks_compute(self):
        url = self.new_queue()
        body = "héllo wörld 🚀 <xml> & \"quotes\"\r\n\ttab"
        sent = self.sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=ATTRIBUTES)
        self.assertEqual(sent["MD5OfMessageBody"], md5_of_body(body))
        self.assertEqual(sent["MD5OfMessageAttributes"], md5_of_attributes(ATTRIBUTES))
        self.assertRegex(sent["MessageId"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        self.assertNotIn("SequenceNumber", sent)
        [m] = self.receive(url, MessageAttributeNames=["All"])
        self.assertEqual(m["Body"], body)
        self.assertEqual(m["MessageId"], sent["MessageId"])
        self.assertEqual(m["MD5OfBody"], md5_of_body(body))
        self.assertEqual(m["MessageAttributes"], ATTRIBUTES)
        self.assertEqual(m["MD5OfMessageAttributes"], md5_of_attributes(ATTRIBUTES))

    def test_send_message_without_attributes_has_no_attribute_digest(self):
        url = self.new_queue()
        sent = self.sqs.send_message(QueueUrl=url, MessageBody="plain")
        self.assertNotIn("MD5OfMessageAttributes", sent)
        [m] = self.receive(url, MessageAttributeNames=["All"])
        self.assertNotIn("MessageAttributes", m)
        self.assertNotIn("MD5OfMessageAttributes", m)

    def test_cli_send_and_receive_with_attributes(self):
        url = self.new_queue()
        rc, sent, err = self.esmd.aws(
            "sqs", "send-message", "--queue-url", url, "--message-body", "from the cli",
            "--message-attributes", json.dumps({"k": {"DataType": "String", "StringValue": "v"}}), check=True)
        self.assertEqual(sent["MD5OfMessageBody"], md5_of_body("from the cli"))
        self.assertEqual(sent["MD5OfMessageAttributes"],
                         md5_of_attributes({"k": {"DataType": "String", "StringValue": "v"}}))
        rc, got, err = self.esmd.aws("sqs", "receive-message", "--queue-url", url,
                                     "--message-attribute-names", "All", check=True)
        self.assertEqual(got["Messages"][0]["Body"], "from the cli")
        self.assertEqual(got["Messages"][0]["MessageAttributes"], {"k": {"DataType": "String", "StringValue": "v"}})
        rc, out, err = self.esmd.aws("sqs", "delete-message", "--queue-url", url,
                                     "--receipt-handle", got["Messages"][0]["ReceiptHandle"], check=True)
        self.assertEqual(self.count(url, "ApproximateNumberOfMessagesNotVisible"), 0)

    def test_a_trace_header_is_a_system_attribute_with_its_own_digest(self):
        url = self.new_queue()
        header = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
        system = {"AWSTraceHeader": {"DataType": "String", "StringValue": header}}
        sent = self.sqs.send_message(QueueUrl=url, MessageBody="traced", MessageSystemAttributes=system)
        self.assertEqual(sent["MD5OfMessageSystemAttributes"], md5_of_attributes(system))
        self.assertNotIn("MD5OfMessageAttributes", sent)
        [m] = self.receive(url, MessageSystemAttributeNames=["AWSTraceHeader"])
        self.assertEqual(m["Attributes"], {"AWSTraceHeader": header})

    # -- SendMessageBatch ----------------------------------------------------------------------
    def test_send_message_batch_answers_each_entry_with_its_digests(self):
        url = self.new_queue()
        entries = [{"Id": f"e{i}", "MessageBody": f"body {i}"} for i in range(10)]
        entries[3]["MessageAttributes"] = ATTRIBUTES
        got = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
        self.assertEqual(got.get("Failed", []), [])
        by_id = {e["Id"]: e for e in got["Successful"]}
        self.assertEqual(set(by_id), {e["Id"] for e in entries})
        for e in entries:
            self.assertEqual(by_id[e["Id"]]["MD5OfMessageBody"], md5_of_body(e["MessageBody"]))
        self.assertEqual(by_id["e3"]["MD5OfMessageAttributes"], md5_of_attributes(ATTRIBUTES))
        self.assertNotIn("MD5OfMessageAttributes", by_id["e0"])
        self.assertEqual(self.count(url), 10)

    def test_send_message_batch_reports_the_entries_that_failed(self):
        url = self.new_queue()
        got = self.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "ok1", "MessageBody": "fine"},
            {"Id": "bad_chars", "MessageBody": "nul \x00 inside"},
            {"Id": "bad_number", "MessageBody": "x",
             "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "abc"}}},
            {"Id": "ok2", "MessageBody": "also fine"},
        ])
        self.assertEqual(sorted(e["Id"] for e in got["Successful"]), ["ok1", "ok2"])
        failed = {e["Id"]: e for e in got["Failed"]}
        self.assertEqual(set(failed), {"bad_chars", "bad_number"})
        self.assertEqual(failed["bad_chars"]["Code"], "InvalidMessageContents")
        self.assertEqual(failed["bad_number"]["Code"], "InvalidParameterValue")
        for f in failed.values():
            self.assertTrue(f["SenderFault"])
            self.assertTrue(f["Message"])
        self.assertEqual(sorted(m["Body"] for m in self.receive(url, MaxNumberOfMessages=10)), ["also fine", "fine"])

    def test_batch_requests_are_checked_as_a_whole(self):
        url = self.new_queue()
        self.assert_sqs_error("AWS.SimpleQueueService.EmptyBatchRequest", self.sqs.send_message_batch,
                              QueueUrl=url, Entries=[])
        self.assert_sqs_error("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", self.sqs.send_message_batch,
                              QueueUrl=url, Entries=[{"Id": f"i{i}", "MessageBody": "x"} for i in range(11)])
        e = self.assert_sqs_error("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", self.sqs.send_message_batch,
                                  QueueUrl=url, Entries=[{"Id": "same", "MessageBody": "x"},
                                                         {"Id": "same", "MessageBody": "y"}])
        self.assertIsInstance(e, self.sqs.exceptions.BatchEntryIdsNotDistinct)
        self.assert_sqs_error("AWS.SimpleQueueService.InvalidBatchEntryId", self.sqs.send_message_batch,
                              QueueUrl=url, Entries=[{"Id": "not valid!", "MessageBody": "x"}])
        self.assert_sqs_error("AWS.SimpleQueueService.InvalidBatchEntryId", self.sqs.send_message_batch,
                              QueueUrl=url, Entries=[{"Id": "x" * 81, "MessageBody": "x"}])
        big = "b" * 300_000
        self.assert_sqs_error("AWS.SimpleQueueService.BatchRequestTooLong", self.sqs.send_message_batch,
                              QueueUrl=url, Entries=[{"Id": f"i{i}", "MessageBody": big} for i in range(4)])
        for op in (self.sqs.delete_message_batch, self.sqs.change_message_visibility_batch):
            self.assert_sqs_error("AWS.SimpleQueueService.EmptyBatchRequest", op, QueueUrl=url, Entries=[])
        self.assertEqual(self.count(url), 0)

    # -- bodies and attributes that SQS refuses ------------------------------------------------
    def test_invalid_characters_are_invalid_message_contents(self):
        url = self.new_queue()
        for body in ("\x00", "bell \x07", "\ufffe", "\x1f"):
            with self.subTest(body=body):
                self.assert_sqs_error("InvalidMessageContents", self.sqs.send_message, QueueUrl=url, MessageBody=body)
        self.sqs.send_message(QueueUrl=url, MessageBody="\t\n\r \ud7ff \ue000 \U0010ffff")
        self.assertEqual(self.count(url), 1)

    def test_a_body_over_the_maximum_message_size_is_refused(self):
        url = self.new_queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="m" * 1_048_576)
        self.assert_sqs_error("InvalidParameterValue", self.sqs.send_message, QueueUrl=url,
                              MessageBody="m" * 1_048_577)
        small = self.new_queue("-small", MaximumMessageSize=1024)
        self.sqs.send_message(QueueUrl=small, MessageBody="s" * 1024)
        self.assert_sqs_error("InvalidParameterValue", self.sqs.send_message, QueueUrl=small, MessageBody="s" * 1025)
        self.assert_sqs_error("InvalidParameterValue", self.sqs.send_message, QueueUrl=small, MessageBody="s" * 1000,
                              MessageAttributes={"a": {"DataType": "String", "StringValue": "v" * 100}})
        [m] = self.receive(url)
        self.assertEqual(len(m["Body"]), 1_048_576)
        self.assertEqual(m["MD5OfBody"], md5_of_body("m" * 1_048_576))

    def test_a_request_over_the_http_body_limit_is_an_error_not_a_crash(self):
        url = self.new_queue()
        try:
            status, _, _ = self.esmd.http("POST", "/", json.dumps({"QueueUrl": url, "MessageBody": "x" * 7_000_000}),
                                          {"X-Amz-Target": "AmazonSQS.SendMessage",
                                           "Content-Type": "application/x-amz-json-1.0"})
            self.assertEqual(status, 413)
        except (urllib.error.URLError, ConnectionError):
            pass  # esmd answered 413 and closed the connection while the client was still writing
        self.sqs.send_message(QueueUrl=url, MessageBody="still serving")
        self.assertEqual(self.count(url), 1)

    def test_invalid_message_attributes_are_refused(self):
        url = self.new_queue()
        bad = [
            {"n": {"DataType": "Number", "StringValue": "twelve"}},
            {"t": {"DataType": "Colour", "StringValue": "x"}},
            {"t": {"DataType": "Stringy", "StringValue": "x"}},
            {"t": {"DataType": "String.", "StringValue": "x"}},
            {"n": {"DataType": "Number", "StringValue": "1e"}},
            {"n": {"DataType": "Number", "StringValue": "nan"}},
            {"s": {"DataType": "String", "StringValue": ""}},
            {"s": {"DataType": "String", "StringValue": "nul \x00"}},
            {"b": {"DataType": "Binary", "StringValue": "not binary"}},
            {"a b": {"DataType": "String", "StringValue": "space in name"}},
            {".lead": {"DataType": "String", "StringValue": "x"}},
            {"AWS.reserved": {"DataType": "String", "StringValue": "x"}},
            {f"k{i}": {"DataType": "String", "StringValue": "x"} for i in range(11)},
        ]
        for attrs in bad:
            with self.subTest(attrs=list(attrs)):
                self.assert_sqs_error("InvalidParameterValue", self.sqs.send_message, QueueUrl=url,
                                      MessageBody="x", MessageAttributes=attrs)
        self.assert_sqs_error("MissingParameter", self.sqs.send_message, QueueUrl=url, MessageBody="")
        self.assertEqual(self.count(url), 0)

    # -- ReceiveMessage --------------------------------------------------------------------------
    def test_receive_returns_at_most_max_number_of_messages(self):
        url = self.new_queue()
        for i in range(5):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        self.assertEqual(len(self.receive(url)), 1)
        self.assertEqual(len(self.receive(url, MaxNumberOfMessages=3)), 3)
        self.assertEqual(len(self.receive(url, MaxNumberOfMessages=10)), 1)
        self.assertEqual(self.receive(url, MaxNumberOfMessages=10), [])
        for bad in (0, 11):
            self.assert_sqs_error("InvalidParameterValue", self.sqs.receive_message, QueueUrl=url,
                                  MaxNumberOfMessages=bad)
        self.assert_sqs_error("InvalidParameterValue", self.sqs.receive_message, QueueUrl=url, WaitTimeSeconds=21)

    def test_a_waiting_receive_is_answered_promptly_by_a_send(self):
        url = self.new_queue()
        result = {}

        def long_poll():
            started = time.monotonic()
            result["messages"] = self.esmd.client("sqs").receive_message(
                QueueUrl=url, WaitTimeSeconds=15, MaxNumberOfMessages=10).get("Messages", [])
            result["elapsed"] = time.monotonic() - started

        mark = log_mark(self.esmd)
        t = threading.Thread(target=long_poll)
        t.start()
        wait_until(lambda: logged_since(self.esmd, mark, "sqs ReceiveMessage"), message="the long poll")
        sent_at = time.monotonic()
        self.sqs.send_message(QueueUrl=url, MessageBody="wake up")
        t.join(20)
        self.assertFalse(t.is_alive())
        self.assertEqual([m["Body"] for m in result["messages"]], ["wake up"])
        self.assertLess(result["elapsed"], 10)
        self.assertLess(time.monotonic() - sent_at, 2)

    def test_a_long_poll_on_an_empty_queue_ends_empty_after_the_wait(self):
        url = self.new_queue()
        started = time.monotonic()
        self.assertEqual(self.receive(url, WaitTimeSeconds=1), [])
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        self.assertLess(time.monotonic() - started, 5)
        waiting = self.new_queue("-default", ReceiveMessageWaitTimeSeconds=1)
        started = time.monotonic()
        self.assertEqual(self.receive(waiting), [])
        self.assertGreaterEqual(time.monotonic() - started, 0.9)

    def test_a_message_becomes_visible_again_after_its_visibility_timeout(self):
        url = self.new_queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="again")
        [first] = self.receive(url, VisibilityTimeout=1, AttributeNames=["All"])
        self.assertEqual(first["Attributes"]["ApproximateReceiveCount"], "1")
        self.assertEqual(self.receive(url), [])
        again = wait_until(lambda: self.receive(url, AttributeNames=["All"]), timeout=5, message="redelivery")
        self.assertEqual(again[0]["MessageId"], first["MessageId"])
        self.assertEqual(again[0]["Attributes"]["ApproximateReceiveCount"], "2")
        self.assertNotEqual(again[0]["ReceiptHandle"], first["ReceiptHandle"])
        self.assertEqual(again[0]["Attributes"]["ApproximateFirstReceiveTimestamp"],
                         first["Attributes"]["ApproximateFirstReceiveTimestamp"])

    def test_the_queue_visibility_timeout_applies_when_receive_names_none(self):
        url = self.new_queue(VisibilityTimeout=1)
        self.sqs.send_message(QueueUrl=url, MessageBody="q")
        self.assertEqual(len(self.receive(url)), 1)
        self.assertEqual(self.receive(url), [])
        wait_until(lambda: self.receive(url), timeout=5, message="redelivery after the queue's timeout")

    def test_system_attribute_names_select_the_attributes_returned(self):
        url = self.new_queue()
        before = int(time.time() * 1000)
        for i in range(4):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        [m] = self.receive(url, AttributeNames=["All"])
        self.assertEqual(set(m["Attributes"]), {"SenderId", "SentTimestamp", "ApproximateReceiveCount",
                                                "ApproximateFirstReceiveTimestamp"})
        self.assertGreaterEqual(int(m["Attributes"]["SentTimestamp"]), before - 1000)
        self.assertGreaterEqual(int(m["Attributes"]["ApproximateFirstReceiveTimestamp"]),
                                int(m["Attributes"]["SentTimestamp"]))
        [m] = self.receive(url, AttributeNames=["SentTimestamp"])
        self.assertEqual(set(m["Attributes"]), {"SentTimestamp"})
        [m] = self.receive(url, MessageSystemAttributeNames=["ApproximateReceiveCount", "SenderId"])
        self.assertEqual(set(m["Attributes"]), {"ApproximateReceiveCount", "SenderId"})
        [m] = self.receive(url)
        self.assertNotIn("Attributes", m)

    def test_message_attribute_names_select_by_name_prefix_or_all(self):
        url = self.new_queue()
        for i in range(5):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageAttributes=ATTRIBUTES)
        cases = [
            (["All"], set(ATTRIBUTES)),
            ([".*"], set(ATTRIBUTES)),
            (["colour", "blob", "absent"], {"colour", "blob"}),
            (["pre.*"], {"pre.one", "pre.two"}),
            (["absent"], set()),
        ]
        for names, expected in cases:
            with self.subTest(names=names):
                [m] = self.receive(url, MessageAttributeNames=names)
                got = m.get("MessageAttributes", {})
                self.assertEqual(set(got), expected)
                for k in got:
                    self.assertEqual(got[k], ATTRIBUTES[k])
                if got:
                    self.assertEqual(m["MD5OfMessageAttributes"], md5_of_attributes(got))

    # -- DeleteMessage, ChangeMessageVisibility, PurgeQueue --------------------------------------
    def test_delete_message_removes_a_received_message(self):
        url = self.new_queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="bye")
        [m] = self.receive(url, VisibilityTimeout=0)
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        self.assertEqual(self.receive(url), [])
        self.assertEqual(self.count(url) + self.count(url, "ApproximateNumberOfMessagesNotVisible"), 0)
        self.assert_sqs_error("ReceiptHandleIsInvalid", self.sqs.delete_message, QueueUrl=url,
                              ReceiptHandle="not-a-handle")

    def test_a_stale_receipt_handle_never_deletes_a_newer_message(self):
        url = self.new_queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="old")
        [old] = self.receive(url)
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=old["ReceiptHandle"])
        self.sqs.send_message(QueueUrl=url, MessageBody="new")
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=old["ReceiptHandle"])
        self.assert_sqs_error("AWS.SimpleQueueService.MessageNotInflight", self.sqs.change_message_visibility,
                              QueueUrl=url, ReceiptHandle=old["ReceiptHandle"], VisibilityTimeout=0)
        self.assertEqual([m["Body"] for m in self.receive(url)], ["new"])

    def test_delete_message_batch_reports_bad_handles(self):
        url = self.new_queue()
        for i in range(3):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        got = self.receive(url, MaxNumberOfMessages=10)
        self.assertEqual(len(got), 3)
        entries = [{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got[:2])]
        entries.append({"Id": "bogus", "ReceiptHandle": "bogus-handle"})
        out = self.sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        self.assertEqual(sorted(e["Id"] for e in out["Successful"]), ["d0", "d1"])
        [failed] = out["Failed"]
        self.assertEqual((failed["Id"], failed["Code"], failed["SenderFault"]), ("bogus", "ReceiptHandleIsInvalid", True))
        self.assertEqual(self.count(url, "ApproximateNumberOfMessagesNotVisible"), 1)

    def test_change_message_visibility_hides_or_releases_a_message(self):
        url = self.new_queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="cmv")
        [m] = self.receive(url, VisibilityTimeout=1)
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=600)
        self.assertEqual(self.count(url, "ApproximateNumberOfMessagesNotVisible"), 1)
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        [again] = self.receive(url, VisibilityTimeout=0)
        self.assertEqual(again["MessageId"], m["MessageId"])
        e = self.assert_sqs_error("AWS.SimpleQueueService.MessageNotInflight", self.sqs.change_message_visibility,
                                  QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=30)
        self.assertIsInstance(e, self.sqs.exceptions.MessageNotInflight)
        self.assert_sqs_error("ReceiptHandleIsInvalid", self.sqs.change_message_visibility, QueueUrl=url,
                              ReceiptHandle="garbage", VisibilityTimeout=30)
        [m] = self.receive(url)
        self.assert_sqs_error("InvalidParameterValue", self.sqs.change_message_visibility, QueueUrl=url,
                              ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=43201)

    def test_change_message_visibility_batch_reports_messages_not_in_flight(self):
        url = self.new_queue()
        for i in range(2):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        a, b = self.receive(url, MaxNumberOfMessages=2)
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=b["ReceiptHandle"], VisibilityTimeout=0)
        out = self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "a", "ReceiptHandle": a["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "b", "ReceiptHandle": b["ReceiptHandle"], "VisibilityTimeout": 60},
        ])
        self.assertEqual([e["Id"] for e in out["Successful"]], ["a"])
        [failed] = out["Failed"]
        self.assertEqual((failed["Id"], failed["Code"]), ("b", "AWS.SimpleQueueService.MessageNotInflight"))
        self.assertEqual(self.count(url), 2)

    def test_purge_queue_deletes_every_message(self):
        url = self.new_queue()
        for i in range(4):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        self.receive(url)
        self.sqs.purge_queue(QueueUrl=url)
        self.assertEqual(self.count(url) + self.count(url, "ApproximateNumberOfMessagesNotVisible"), 0)
        self.assertEqual(self.receive(url), [])
        self.sqs.send_message(QueueUrl=url, MessageBody="after purge")
        self.assertEqual([m["Body"] for m in self.receive(url)], ["after purge"])

    # -- DelaySeconds ------------------------------------------------------------------------------
    def test_delay_seconds_on_a_message_holds_it_back(self):
        url = self.new_queue()
        sent = time.monotonic()
        self.sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=1)
        self.assertEqual(self.receive(url), [])
        self.assertEqual(self.count(url, "ApproximateNumberOfMessagesDelayed"), 1)
        [m] = wait_until(lambda: self.receive(url), timeout=5, message="the delayed message")
        self.assertGreaterEqual(time.monotonic() - sent, 0.9)
        self.assertEqual(m["Body"], "delayed")
        self.assert_sqs_error("InvalidParameterValue", self.sqs.send_message, QueueUrl=url, MessageBody="x",
                              DelaySeconds=901)

    def test_the_queue_delay_applies_to_messages_without_their_own(self):
        url = self.new_queue(DelaySeconds=1)
        self.sqs.send_message(QueueUrl=url, MessageBody="queue delay")
        self.sqs.send_message(QueueUrl=url, MessageBody="no delay", DelaySeconds=0)
        self.assertEqual([m["Body"] for m in self.receive(url, MaxNumberOfMessages=10)], ["no delay"])
        [m] = wait_until(lambda: self.receive(url), timeout=5, message="the queue-delayed message")
        self.assertEqual(m["Body"], "queue delay")

    def test_a_long_poll_is_answered_when_a_delayed_message_becomes_visible(self):
        url = self.new_queue()
        self.sqs.send_message(QueueUrl=url, MessageBody="soon", DelaySeconds=1)
        started = time.monotonic()
        [m] = self.receive(url, WaitTimeSeconds=10)
        self.assertEqual(m["Body"], "soon")
        self.assertLess(time.monotonic() - started, 5)

    # -- RedrivePolicy -----------------------------------------------------------------------------
    def test_redrive_moves_a_message_to_the_dead_letter_queue_after_max_receive_count(self):
        dlq = self.new_queue("-dlq")
        src = self.new_queue("-src", RedrivePolicy=json.dumps({"deadLetterTargetArn": self.arn(dlq),
                                                                "maxReceiveCount": 2}))
        sent = self.sqs.send_message(QueueUrl=src, MessageBody="poison",
                                     MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
        for n in (1, 2):
            [m] = self.receive(src, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"])
            self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], str(n))
        self.assertEqual(self.receive(src, MaxNumberOfMessages=10), [])
        self.assertEqual(self.count(src) + self.count(src, "ApproximateNumberOfMessagesNotVisible"), 0)
        [dead] = self.receive(dlq, AttributeNames=["All"], MessageAttributeNames=["All"])
        self.assertEqual(dead["MessageId"], sent["MessageId"])
        self.assertEqual(dead["Body"], "poison")
        self.assertEqual(dead["MessageAttributes"], {"k": {"DataType": "String", "StringValue": "v"}})
        self.assertEqual(dead["Attributes"]["DeadLetterQueueSourceArn"], self.arn(src))
        self.assertEqual(dead["Attributes"]["ApproximateReceiveCount"], "3")

    def test_redrive_wakes_a_long_poll_on_the_dead_letter_queue(self):
        dlq = self.new_queue("-dlq")
        src = self.new_queue("-src", RedrivePolicy=json.dumps({"deadLetterTargetArn": self.arn(dlq),
                                                                "maxReceiveCount": "1"}))
        self.sqs.send_message(QueueUrl=src, MessageBody="to the dlq")
        self.assertEqual(len(self.receive(src, VisibilityTimeout=0)), 1)
        result = {}
        t = threading.Thread(target=lambda: result.update(
            got=self.esmd.client("sqs").receive_message(QueueUrl=dlq, WaitTimeSeconds=10).get("Messages", [])))
        mark = log_mark(self.esmd)
        t.start()
        wait_until(lambda: logged_since(self.esmd, mark, "sqs ReceiveMessage"), message="the long poll")
        self.assertEqual(self.receive(src), [])
        t.join(10)
        self.assertEqual([m["Body"] for m in result["got"]], ["to the dlq"])

    # -- queue URLs ---------------------------------------------------------------------------------
    def test_requests_for_a_missing_queue_are_non_existent_queue(self):
        url = f"{self.esmd.url}/{ACCOUNT}/missing"
        for call, kwargs in ((self.sqs.send_message, {"MessageBody": "x"}), (self.sqs.receive_message, {}),
                             (self.sqs.purge_queue, {}), (self.sqs.get_queue_attributes, {}),
                             (self.sqs.delete_message, {"ReceiptHandle": "h"})):
            with self.subTest(call=call.__name__):
                self.assert_sqs_error("AWS.SimpleQueueService.NonExistentQueue", call, QueueUrl=url, **kwargs)

    # -- retention (runs last: see setUpClass) -------------------------------------------------------
    def test_zz_a_message_older_than_the_retention_period_is_deleted(self):
        self.assertEqual(self.count(self.retention_url), 1)
        remaining = 60.5 - (time.monotonic() - self.retention_sent)
        wait_until(lambda: self.count(self.retention_url) == 0, timeout=max(remaining, 0) + 5,
                   interval=0.25, message="the message to expire")
        self.assertGreaterEqual(time.monotonic() - self.retention_sent, 59.5)
        self.assertEqual(self.receive(self.retention_url), [])


if __name__ == "__main__":
    unittest.main()
