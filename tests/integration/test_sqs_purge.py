"""PurgeQueue's one-a-minute rule: a second purge of a queue within 60 s is
PurgeQueueInProgress (400, `Only one PurgeQueue operation on NAME is allowed every 60
seconds.`) in both protocols and leaves the queue's messages alone; once esmd's clock has moved
60 s (the ESMD_TEST_CLOCK_FILE hook, README "Test hooks") the queue purges again. Driven by
boto3 (JSON protocol), the AWS CLI and raw query-protocol requests."""
import os
import signal
import tempfile
import unittest

from esmd_harness import ACCOUNT, Esmd, wait_until
from sqs_support import SqsTestCase, find, json_request, query_request, text

CODE = "AWS.SimpleQueueService.PurgeQueueInProgress"


def in_progress(name):
    return f"Only one PurgeQueue operation on {name} is allowed every 60 seconds."


class SqsPurgeTest(SqsTestCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        fd, cls.clock_file = tempfile.mkstemp(prefix="esmd-clock-")
        os.close(fd)
        cls.offset_ms = 0
        cls.esmd = Esmd(env={"ESMD_TEST_CLOCK_FILE": cls.clock_file}).start()
        cls.sqs = cls.esmd.client("sqs")

    @classmethod
    def tearDownClass(cls):
        cls.esmd.cleanup()
        os.unlink(cls.clock_file)

    def move_clock(self, ms):
        """Moves esmd's clock forward by ms; returns once esmd logged the new offset."""
        type(self).offset_ms += ms
        with open(self.clock_file, "w") as f:
            f.write(str(self.offset_ms))
        os.kill(self.esmd.proc.pid, signal.SIGUSR1)

        def logged():
            with open(self.esmd.log_path) as f:
                return f"test clock: offset {self.offset_ms} ms" in f.read()
        wait_until(logged, timeout=10, message=f"esmd took the clock offset {self.offset_ms}")

    def bodies(self, url):
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return sorted(m["Body"] for m in got.get("Messages", []))

    def test_boto3_a_second_purge_within_a_minute_is_refused_and_one_a_minute_later_purges(self):
        name = self.queue_name()
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody="purged")
        self.sqs.purge_queue(QueueUrl=url)
        self.sqs.send_message(QueueUrl=url, MessageBody="kept")
        e = self.assert_sqs_error(CODE, self.sqs.purge_queue, QueueUrl=url)
        self.assertEqual(e.response["Error"]["Message"], in_progress(name))
        self.assertEqual(self.bodies(url), ["kept"])
        # Another queue's purge is not held back by this one's.
        other = self.sqs.create_queue(QueueName=self.queue_name("-other"))["QueueUrl"]
        self.sqs.purge_queue(QueueUrl=other)
        self.move_clock(59_000)
        self.assert_sqs_error(CODE, self.sqs.purge_queue, QueueUrl=url)
        self.move_clock(1_000)
        self.sqs.purge_queue(QueueUrl=url)
        self.assertEqual(self.bodies(url), [])
        # The successful purge starts a new minute.
        self.assert_sqs_error(CODE, self.sqs.purge_queue, QueueUrl=url)

    def test_the_cli_prints_purge_queue_in_progress_for_a_second_purge(self):
        name = self.queue_name()
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        rc, _, err = self.esmd.aws("sqs", "purge-queue", "--queue-url", url)
        self.assertEqual(rc, 0, err)
        rc, _, err = self.esmd.aws("sqs", "purge-queue", "--queue-url", url)
        self.assertNotEqual(rc, 0)
        self.assertIn(f"({CODE}) when calling the PurgeQueue operation: {in_progress(name)}", err)
        self.move_clock(60_000)
        rc, _, err = self.esmd.aws("sqs", "purge-queue", "--queue-url", url)
        self.assertEqual(rc, 0, err)

    def test_the_json_protocol_answers_its_shape_and_the_query_code(self):
        name = self.queue_name()
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        status, _, _ = json_request(self.esmd, "PurgeQueue", {"QueueUrl": url})
        self.assertEqual(status, 200)
        status, headers, body = json_request(self.esmd, "PurgeQueue", {"QueueUrl": url})
        self.assertEqual(status, 400, body)
        self.assertTrue(body["__type"].endswith("PurgeQueueInProgress"), body)
        self.assertEqual(body["message"], in_progress(name))
        query_error = headers.get("x-amzn-query-error") or headers.get("X-Amzn-Query-Error")
        self.assertEqual(query_error, f"{CODE};Sender")

    def test_the_query_protocol_answers_the_error_in_xml(self):
        name = self.queue_name()
        url = f"{self.esmd.url}/{ACCOUNT}/{name}"
        self.sqs.create_queue(QueueName=name)
        status, _, _ = query_request(self.esmd, "PurgeQueue", {"QueueUrl": url})
        self.assertEqual(status, 200)
        status, _, root = query_request(self.esmd, "PurgeQueue", {"QueueUrl": url})
        self.assertEqual(status, 400)
        error = find(root, "Error")
        self.assertEqual(text(error, "Type"), "Sender")
        self.assertEqual(text(error, "Code"), CODE)
        self.assertEqual(text(error, "Message"), in_progress(name))


if __name__ == "__main__":
    unittest.main()
