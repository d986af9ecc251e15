"""SQS FIFO queues with boto3: MessageGroupId required, deduplication by id and by content
within 5 minutes, SequenceNumber, the message-group lock (data-plane.md §2.4: while a group
has a message in flight the queue returns nothing more of that group), order, and redrive."""
import hashlib
import json
import threading
import time
import unittest

from esmd_harness import Esmd, wait_until
from sqs_support import SqsTestCase, log_mark, logged_since


class SqsFifoTest(SqsTestCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.esmd = Esmd().start()
        cls.sqs = cls.esmd.client("sqs")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()

    def new_fifo(self, suffix="", **attributes):
        attrs = {"FifoQueue": "true", **{k: str(v) for k, v in attributes.items()}}
        return self.sqs.create_queue(QueueName=self.queue_name(suffix + ".fifo"), Attributes=attrs)["QueueUrl"]

    def send(self, url, body, group, dedup=None, **kwargs):
        return self.sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                                     MessageDeduplicationId=dedup or body, **kwargs)

    def receive(self, url, **kwargs):
        return self.sqs.receive_message(QueueUrl=url, **kwargs).get("Messages", [])

    def bodies(self, messages):
        return [m["Body"] for m in messages]

    def test_a_fifo_queue_needs_the_fifo_suffix_and_attribute(self):
        url = self.new_fifo()
        self.assertTrue(url.endswith(".fifo"))
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["FifoQueue", "QueueArn"])["Attributes"]
        self.assertEqual(attrs["FifoQueue"], "true")
        self.assertTrue(attrs["QueueArn"].endswith(":" + self.queue_name(".fifo")))
        self.assert_sqs_error("InvalidAttributeValue", self.sqs.set_queue_attributes, QueueUrl=url,
                              Attributes={"FifoQueue": "false"})

    def test_send_needs_a_message_group_id(self):
        url = self.new_fifo()
        self.assert_sqs_error("MissingParameter", self.sqs.send_message, QueueUrl=url, MessageBody="x",
                              MessageDeduplicationId="d")

    def test_send_needs_a_dedup_id_unless_content_based_deduplication(self):
        url = self.new_fifo()
        self.assert_sqs_error("InvalidParameterValue", self.sqs.send_message, QueueUrl=url, MessageBody="x",
                              MessageGroupId="g")
        cbd = self.new_fifo("-cbd", ContentBasedDeduplication="true")
        self.sqs.send_message(QueueUrl=cbd, MessageBody="x", MessageGroupId="g")

    def test_group_and_dedup_ids_are_1_to_128_printable_characters(self):
        url = self.new_fifo()
        for group, dedup in (("has space", "d"), ("g", "x" * 129), ("g" * 129, "d"), ("tab\t", "d"), ("é", "d")):
            with self.subTest(group=group, dedup=dedup[:10]):
                self.assert_sqs_error("InvalidParameterValue", self.sqs.send_message, QueueUrl=url,
                                      MessageBody="x", MessageGroupId=group, MessageDeduplicationId=dedup)
        self.send(url, "ok", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~" + "a" * 98, dedup="D" * 128)

    def test_per_message_delay_is_refused_on_a_fifo_queue(self):
        url = self.new_fifo()
        self.assert_sqs_error("InvalidParameterValue", self.send, url, "x", "g", DelaySeconds=5)

    def test_a_standard_queue_refuses_a_dedup_id(self):
        url = self.sqs.create_queue(QueueName=self.queue_name())["QueueUrl"]
        self.assert_sqs_error("InvalidParameterValue", self.sqs.send_message, QueueUrl=url, MessageBody="x",
                              MessageDeduplicationId="d")

    def test_the_same_dedup_id_within_five_minutes_returns_the_same_message(self):
        url = self.new_fifo()
        first = self.send(url, "one", "g", dedup="same")
        again = self.send(url, "different body", "g", dedup="same")
        self.assertEqual(again["MessageId"], first["MessageId"])
        self.assertEqual(again["SequenceNumber"], first["SequenceNumber"])
        other = self.send(url, "two", "g", dedup="other")
        self.assertNotEqual(other["MessageId"], first["MessageId"])
        got = self.receive(url, MaxNumberOfMessages=10)
        self.assertEqual(self.bodies(got), ["one", "two"])
        # Deleting the message does not end its deduplication interval.
        for m in got:
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        self.assertEqual(self.send(url, "one", "g", dedup="same")["MessageId"], first["MessageId"])
        self.assertEqual(self.receive(url), [])

    def test_content_based_deduplication_uses_the_body_sha256(self):
        url = self.new_fifo(ContentBasedDeduplication="true")
        first = self.sqs.send_message(QueueUrl=url, MessageBody="content", MessageGroupId="g")
        again = self.sqs.send_message(QueueUrl=url, MessageBody="content", MessageGroupId="g")
        self.assertEqual(again["MessageId"], first["MessageId"])
        explicit = self.sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="g",
                                         MessageDeduplicationId=hashlib.sha256(b"content").hexdigest())
        self.assertEqual(explicit["MessageId"], first["MessageId"])
        [m] = self.receive(url, MaxNumberOfMessages=10, AttributeNames=["All"])
        self.assertEqual(m["Attributes"]["MessageDeduplicationId"], hashlib.sha256(b"content").hexdigest())

    def test_sequence_numbers_increase_and_are_returned_on_receive(self):
        url = self.new_fifo()
        seqs = [self.send(url, f"m{i}", "g" if i % 2 else "h")["SequenceNumber"] for i in range(6)]
        self.assertEqual(seqs, sorted(seqs, key=int))
        self.assertEqual(len(set(seqs)), 6)
        got = self.receive(url, MaxNumberOfMessages=10, AttributeNames=["All"])
        self.assertEqual(len(got), 6)
        for m in got:
            i = int(m["Body"][1:])
            self.assertEqual(m["Attributes"]["SequenceNumber"], seqs[i])
            self.assertEqual(m["Attributes"]["MessageGroupId"], "g" if i % 2 else "h")
            self.assertEqual(m["Attributes"]["MessageDeduplicationId"], m["Body"])

    def test_a_group_with_a_message_in_flight_returns_nothing_more_of_that_group(self):
        url = self.new_fifo()
        for body, group in (("a1", "A"), ("a2", "A"), ("b1", "B"), ("b2", "B")):
            self.send(url, body, group)
        [a1] = self.receive(url)
        self.assertEqual(a1["Body"], "a1")
        [b1] = self.receive(url)
        self.assertEqual(b1["Body"], "b1")
        self.assertEqual(self.receive(url, MaxNumberOfMessages=10), [])
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=a1["ReceiptHandle"])
        self.assertEqual(self.bodies(self.receive(url, MaxNumberOfMessages=10)), ["a2"])
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=b1["ReceiptHandle"])
        self.assertEqual(self.bodies(self.receive(url, MaxNumberOfMessages=10)), ["b2"])

    def test_one_receive_returns_a_group_in_order_and_other_groups_still_flow(self):
        url = self.new_fifo()
        for i in range(4):
            self.send(url, f"x{i}", "X")
        self.send(url, "y0", "Y")
        got = self.receive(url, MaxNumberOfMessages=10)
        self.assertEqual(self.bodies(got), ["x0", "x1", "x2", "x3", "y0"])
        self.send(url, "z0", "Z")
        self.send(url, "x4", "X")
        self.assertEqual(self.bodies(self.receive(url, MaxNumberOfMessages=10)), ["z0"])

    def test_a_message_that_was_not_deleted_comes_back_before_the_rest_of_its_group(self):
        url = self.new_fifo()
        for i in range(3):
            self.send(url, f"m{i}", "G")
        [m0] = self.receive(url, VisibilityTimeout=1)
        self.assertEqual(m0["Body"], "m0")
        self.assertEqual(self.receive(url), [])
        again = wait_until(lambda: self.receive(url, MaxNumberOfMessages=10, AttributeNames=["All"]),
                           timeout=5, message="m0 to come back")
        self.assertEqual(self.bodies(again), ["m0", "m1", "m2"])
        self.assertEqual(again[0]["Attributes"]["ApproximateReceiveCount"], "2")

    def test_a_group_whose_messages_time_out_together_is_returned_to_a_waiting_receive(self):
        url = self.new_fifo()
        for i in range(3):
            self.send(url, f"m{i}", "G")
        self.assertEqual(len(self.receive(url, MaxNumberOfMessages=10, VisibilityTimeout=1)), 3)
        started = time.monotonic()
        again = self.receive(url, MaxNumberOfMessages=10, WaitTimeSeconds=10)
        self.assertEqual(self.bodies(again), ["m0", "m1", "m2"])
        self.assertLess(time.monotonic() - started, 5)

    def test_deleting_the_message_in_flight_answers_a_receive_waiting_on_its_group(self):
        url = self.new_fifo()
        self.send(url, "first", "G")
        self.send(url, "second", "G")
        [m] = self.receive(url)
        result = {}
        mark = log_mark(self.esmd)
        t = threading.Thread(target=lambda: result.update(got=self.esmd.client("sqs").receive_message(
            QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])))
        t.start()
        wait_until(lambda: logged_since(self.esmd, mark, "sqs ReceiveMessage"), message="the long poll")
        started = time.monotonic()
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        t.join(15)
        self.assertEqual(self.bodies(result["got"]), ["second"])
        self.assertLess(time.monotonic() - started, 3)

    def test_change_visibility_to_zero_unlocks_the_group(self):
        url = self.new_fifo()
        self.send(url, "first", "G")
        self.send(url, "second", "G")
        [m] = self.receive(url, VisibilityTimeout=600)
        self.assertEqual(self.receive(url), [])
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        self.assertEqual(self.bodies(self.receive(url, MaxNumberOfMessages=10)), ["first", "second"])

    def test_send_message_batch_on_a_fifo_queue_numbers_each_entry(self):
        url = self.new_fifo()
        got = self.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": f"e{i}", "MessageBody": f"b{i}", "MessageGroupId": "G", "MessageDeduplicationId": f"d{i}"}
            for i in range(3)] + [{"Id": "nogroup", "MessageBody": "x", "MessageDeduplicationId": "dx"}])
        ok = sorted(got["Successful"], key=lambda e: e["Id"])
        self.assertEqual([e["Id"] for e in ok], ["e0", "e1", "e2"])
        self.assertEqual([int(e["SequenceNumber"]) for e in ok], sorted(int(e["SequenceNumber"]) for e in ok))
        self.assertEqual([(f["Id"], f["Code"]) for f in got["Failed"]], [("nogroup", "MissingParameter")])
        self.assertEqual(self.bodies(self.receive(url, MaxNumberOfMessages=10)), ["b0", "b1", "b2"])

    def test_redrive_from_a_fifo_queue_to_a_fifo_dead_letter_queue(self):
        dlq = self.new_fifo("-dlq")
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        src = self.new_fifo("-src", RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
        self.send(src, "poison", "G")
        self.send(src, "next", "G")
        [m] = self.receive(src, VisibilityTimeout=0)
        self.assertEqual(m["Body"], "poison")
        self.assertEqual(self.bodies(self.receive(src, MaxNumberOfMessages=10)), ["next"])
        [dead] = self.receive(dlq, AttributeNames=["All"])
        self.assertEqual(dead["Body"], "poison")
        self.assertEqual(dead["Attributes"]["MessageGroupId"], "G")
        self.assertTrue(dead["Attributes"]["SequenceNumber"].isdigit())


if __name__ == "__main__":
    unittest.main()
