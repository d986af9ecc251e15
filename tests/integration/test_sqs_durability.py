"""A message acknowledged by SendMessage survives an esmd restart and a kill -9, with its
attributes, receive state and FIFO numbering; queues keep their attributes and tags."""
import json
import unittest

from esmd_harness import Esmd
from sqs_support import SqsTestCase, md5_of_attributes

ATTRIBUTES = {
    "s": {"DataType": "String", "StringValue": "kept"},
    "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
}


class SqsDurabilityTest(SqsTestCase, unittest.TestCase):
    def setUp(self):
        self.esmd = Esmd().start()
        self.sqs = self.esmd.client("sqs")

    def tearDown(self):
        self.esmd.cleanup()

    def reopen(self, kill):
        self.esmd.restart(kill=kill)
        self.sqs = self.esmd.client("sqs")

    def receive_all(self, url, **kwargs):
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **kwargs).get("Messages", [])
            if not got:
                return out
            out += got

    def check_messages_survive(self, kill):
        dlq = self.sqs.create_queue(QueueName="dlq")["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        url = self.sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "600", "RedrivePolicy": policy},
                                    tags={"keep": "me"})["QueueUrl"]
        sent = {}
        for i in range(20):
            r = self.sqs.send_message(QueueUrl=url, MessageBody=f"message {i}", MessageAttributes=ATTRIBUTES)
            sent[r["MessageId"]] = f"message {i}"
        batch = self.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": f"b{i}", "MessageBody": f"batch {i}"} for i in range(10)])
        for e in batch["Successful"]:
            sent[e["MessageId"]] = f"batch {e['Id'][1:]}"
        [in_flight] = self.sqs.receive_message(QueueUrl=url)["Messages"]
        self.sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=900)

        self.reopen(kill)

        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["VisibilityTimeout"], "600")
        self.assertEqual(json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"], dlq_arn)
        self.assertEqual(attrs["ApproximateNumberOfMessages"], "29")
        self.assertEqual(attrs["ApproximateNumberOfMessagesNotVisible"], "1")
        self.assertEqual(attrs["ApproximateNumberOfMessagesDelayed"], "1")
        self.assertEqual(self.sqs.list_queue_tags(QueueUrl=url)["Tags"], {"keep": "me"})

        got = self.receive_all(url, MessageAttributeNames=["All"], AttributeNames=["All"])
        received = {m["MessageId"]: m for m in got}
        self.assertEqual(len(got), 29)
        expected = {k: v for k, v in sent.items() if k != in_flight["MessageId"]}
        self.assertEqual({k: m["Body"] for k, m in received.items()}, expected)
        for m in got:
            if m["Body"].startswith("message"):
                self.assertEqual(m["MessageAttributes"], ATTRIBUTES)
                self.assertEqual(m["MD5OfMessageAttributes"], md5_of_attributes(ATTRIBUTES))
        # The message received before the restart is still in flight, and its receipt handle
        # still deletes it.
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=in_flight["ReceiptHandle"])
        self.assertEqual(self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])["Attributes"],
            {"ApproximateNumberOfMessagesNotVisible": "29"})

    def test_messages_survive_a_restart(self):
        self.check_messages_survive(kill=False)

    def test_messages_survive_kill_9(self):
        self.check_messages_survive(kill=True)

    def test_receive_counts_survive_kill_9(self):
        url = self.sqs.create_queue(QueueName="counts")["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody="counted")
        for _ in range(2):
            self.sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)
        self.reopen(kill=True)
        [m] = self.sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "3")

    def test_fifo_numbering_and_the_deduplication_of_queued_messages_survive_kill_9(self):
        url = self.sqs.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        first = self.sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="d1")
        self.reopen(kill=True)
        again = self.sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="d1")
        self.assertEqual(again["MessageId"], first["MessageId"])
        second = self.sqs.send_message(QueueUrl=url, MessageBody="two", MessageGroupId="g", MessageDeduplicationId="d2")
        self.assertGreater(int(second["SequenceNumber"]), int(first["SequenceNumber"]))
        [m] = self.sqs.receive_message(QueueUrl=url)["Messages"]
        self.assertEqual(m["Body"], "one")
        self.reopen(kill=True)
        self.assertNotIn("Messages", self.sqs.receive_message(QueueUrl=url), "the group is still locked")
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        [m] = self.sqs.receive_message(QueueUrl=url)["Messages"]
        self.assertEqual(m["Body"], "two")

    def test_a_deleted_queue_stays_deleted(self):
        url = self.sqs.create_queue(QueueName="doomed")["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody="x")
        self.sqs.delete_queue(QueueUrl=url)
        self.reopen(kill=True)
        self.assert_sqs_error("AWS.SimpleQueueService.NonExistentQueue", self.sqs.get_queue_url, QueueName="doomed")


if __name__ == "__main__":
    unittest.main()
