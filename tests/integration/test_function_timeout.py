"""The function's timeout decides (issue 15, finding 10).

In Lambda a function that runs past its timeout has timed out: the mapping sees "Unhandled" with
"Task timed out after 1.00 seconds", and an SQS batch is not deleted. esmd gives an http target a
grace of 5 s beyond the timeout only so that a runtime can report its own timeout; an answer
that arrives in that grace is a timeout too, not a success.

The functions are registered with "Timeout": 1 through PUT /_esmd/functions; the queues and
mappings are created with boto3.
"""
import json
import unittest

from esmd_harness import wait_until
from sqs_poller_support import PollerTestCase, slow, unique

TIMEOUT_S = 1


class FunctionTimeoutTest(PollerTestCase):
    def setUp(self):
        super().setUp()
        self.function = self.fn.register(self.esmd, unique("fn-timeout"), timeout=TIMEOUT_S, concurrency=5)

    def test_an_answer_after_the_timeout_is_a_timeout_and_the_batch_is_not_deleted(self):
        dlq_url, dlq_arn = self.make_queue()
        # The visibility timeout outlasts the 2 s answer, so only a failed batch can come back.
        url, arn = self.make_queue(visibility=3, RedrivePolicy=json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}))
        self.fn.behave(slow(2.0))
        uuid = self.make_mapping(arn, BatchSize=1)
        self.send(url, ["too slow"])
        wait_until(lambda: self.total(dlq_url) == 1, timeout=15, message="the timed-out message in the DLQ")
        self.assertEqual(self.total(url), 0)
        self.assertEqual(len(self.fn.calls()), 1)
        [inv] = self.invocations(uuid=uuid)
        self.assertEqual(inv["Outcome"], "FunctionError", inv)
        self.assertEqual(inv["FunctionError"], "Unhandled")
        self.assertEqual(json.loads(inv["Response"]),
                         {"errorMessage": "Task timed out after 1.00 seconds", "errorType": "Sandbox.Timedout"})
        self.assertGreaterEqual(inv["DurationMs"], 2000)

    def test_a_direct_invoke_that_answers_late_reports_the_functions_timeout(self):
        self.fn.behave(slow(2.0))
        status, _, body = self.esmd.http("POST", f"/_esmd/functions/{self.function}/invoke", "{}")
        self.assertEqual(status, 200, body)
        out = json.loads(body)
        self.assertEqual(out["Outcome"], "FunctionError", out)
        self.assertEqual(out["FunctionError"], "Unhandled")
        self.assertEqual(json.loads(out["Payload"])["errorMessage"], "Task timed out after 1.00 seconds")

    def test_an_answer_within_the_timeout_is_a_success_and_the_batch_is_deleted(self):
        url, arn = self.make_queue(visibility=3)
        self.fn.behave(slow(0.3))
        uuid = self.make_mapping(arn, BatchSize=1)
        self.send(url, ["in time"])
        self.fn.wait_bodies(["in time"], timeout=10)
        self.wait_empty(url)
        [inv] = self.invocations(uuid=uuid)
        self.assertEqual(inv["Outcome"], "Success", inv)
        self.assertGreaterEqual(inv["DurationMs"], 300)


if __name__ == "__main__":
    unittest.main()
