"""Function errors, redrive to a dead-letter queue and ReportBatchItemFailures
(data-plane.md §2.2, §2.3), observed through the queue itself.

Queues use a 1 s visibility timeout, so a message that was not deleted shows up again about
a second after the failed invocation.
"""
import json
import threading
import time
import unittest

from esmd_harness import wait_until
from sqs_poller_support import PollerTestCase, Reply, raise_error, succeed

VT = 1  # the queues' visibility timeout, seconds


def first_then(first, then=None):
    """Answers the first invocation with `first`, every later one with `then` (success)."""
    then = then or succeed()
    lock = threading.Lock()
    seen = [0]

    def behaviour(event):
        with lock:
            seen[0] += 1
            n = seen[0]
        return (first if n == 1 else then)(event)
    return behaviour


def body_reply(body):
    return lambda event: Reply(200, body)


class FunctionErrorTest(PollerTestCase):
    def test_failed_batch_comes_back_after_the_visibility_timeout_with_receive_count_2(self):
        url, arn = self.make_queue(visibility=VT)
        self.fn.behave(first_then(raise_error()))
        self.make_mapping(arn)
        self.send(url, ["retry me"])
        calls = self.fn.wait_calls(2, timeout=VT + 5)
        first, second = calls[0].records[0], calls[1].records[0]
        self.assertEqual(first["attributes"]["ApproximateReceiveCount"], "1")
        self.assertEqual(second["attributes"]["ApproximateReceiveCount"], "2")
        self.assertEqual(first["messageId"], second["messageId"])
        self.assertEqual(second["attributes"]["ApproximateFirstReceiveTimestamp"],
                         first["attributes"]["ApproximateFirstReceiveTimestamp"])
        # Nothing deleted on failure and no retry before the visibility timeout ends.
        self.assertGreaterEqual(calls[1].started - calls[0].ended, VT - 0.15)
        self.wait_empty(url)
        self.assertEqual(len(self.fn.calls()), 2)

    def test_always_failing_function_sends_the_message_to_the_dlq_after_exactly_2_invocations(self):
        dlq_url, dlq_arn = self.make_queue()
        url, arn = self.make_queue(visibility=VT, RedrivePolicy=json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
        self.fn.behave(raise_error())
        self.make_mapping(arn)
        sent = self.send(url, ['{"order": 7}'])
        wait_until(lambda: self.total(dlq_url) == 1, timeout=3 * VT + 5, message="message in the DLQ")
        self.assertEqual(self.total(url), 0)
        calls = self.fn.calls()
        self.assertEqual(len(calls), 2)
        self.assertEqual([c.records[0]["attributes"]["ApproximateReceiveCount"] for c in calls], ["1", "2"])
        msgs = self.sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10,
                                        AttributeNames=["All"])["Messages"]
        self.assertEqual(len(msgs), 1)
        self.assertEqual(msgs[0]["Body"], '{"order": 7}')
        self.assertEqual(msgs[0]["MessageId"], sent[0])

    def test_one_raising_message_sends_the_whole_batch_to_the_dlq(self):
        dlq_url, dlq_arn = self.make_queue()
        url, arn = self.make_queue(visibility=VT, RedrivePolicy=json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))

        def fail_on_bad(event):
            if any(r["body"] == "bad" for r in event["Records"]):
                return raise_error()(event)
            return Reply(200, b"")
        self.fn.behave(fail_on_bad)
        self.mapping_over_backlog(url, arn, ["good", "bad"], BatchSize=2)
        wait_until(lambda: self.total(dlq_url) == 2, timeout=3 * VT + 6, message="both messages in the DLQ")
        bodies = sorted(m["Body"] for m in self.sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"])
        self.assertEqual(bodies, ["bad", "good"])

    def test_invoke_error_deletes_nothing(self):
        url, arn = self.make_queue(visibility=VT)
        self.fn.behave(first_then(lambda e: Reply(500, '{"Type":"Service","Message":"boom"}')))
        self.make_mapping(arn)
        self.send(url, ["x"])
        calls = self.fn.wait_calls(2, timeout=VT + 5)
        self.assertEqual(calls[1].records[0]["attributes"]["ApproximateReceiveCount"], "2")
        self.wait_empty(url)


    def test_with_a_window_a_failed_batch_stays_invisible_for_window_plus_timeout_plus_30s(self):
        # Window 1 s + function timeout 3 s > the queue's 1 s visibility timeout, so Lambda
        # extends the messages' visibility to 1 + 3 + 30 s (data-plane.md §2.2).
        url, arn = self.make_queue(visibility=VT)
        self.fn.behave(raise_error())
        self.make_mapping(arn, MaximumBatchingWindowInSeconds=1)
        self.send(url, ["held"])
        calls = self.fn.wait_calls(1, timeout=5)
        deadline = calls[0].ended + VT + 2
        while time.monotonic() < deadline:
            self.assertEqual(self.counts(url), (0, 1))
            time.sleep(0.1)
        self.assertEqual(len(self.fn.calls()), 1)


class ReportBatchItemFailuresTest(PollerTestCase):
    """Each row of data-plane.md §2.3: 3 messages go out in one batch; the function answers the
    row's body once and succeeds afterwards. What the queue gives back tells what was deleted:
    complete success empties it, complete failure returns all 3 with receive count 2, a partial
    failure returns exactly the listed ids."""

    def run_case(self, response, report_flag=True, expect="success", keep=None):
        url, arn = self.make_queue(visibility=VT)
        params = dict(BatchSize=3)
        if report_flag:
            params["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        self.fn.behave(first_then(response if callable(response) else body_reply(response)))
        _, ids = self.mapping_over_backlog(url, arn, ["m0", "m1", "m2"], **params)
        first = self.fn.wait_calls(1)[0]
        self.assertEqual(sorted(first.bodies), ["m0", "m1", "m2"], "the three messages form one batch")
        if expect == "success":
            self.wait_empty(url, timeout=5)
            # Give a redelivery the chance to happen: none may come.
            wait_until(lambda: self.total(url) == 0, timeout=1)
            self.assertEqual(len(self.fn.calls()), 1)
        elif expect == "failure":
            calls = self.fn.wait_calls(2, timeout=VT + 5)
            self.assertEqual(sorted(calls[1].bodies), ["m0", "m1", "m2"])
            self.assertEqual({r["attributes"]["ApproximateReceiveCount"] for r in calls[1].records}, {"2"})
            self.wait_empty(url)
        else:  # partial
            keep_ids = {ids[i] for i in keep}
            calls = self.fn.wait_calls(2, timeout=VT + 5)
            self.assertEqual({r["messageId"] for r in calls[1].records}, keep_ids)
            self.wait_empty(url)
            self.assertEqual(len(self.fn.calls()), 2)
        return ids

    def ids_reply(self, make_items):
        """A reply built from the batch's message ids (sorted by body m0, m1, m2)."""
        def behaviour(event):
            ids = [r["messageId"] for r in sorted(event["Records"], key=lambda r: r["body"])]
            return Reply(200, json.dumps({"batchItemFailures": make_items(ids)}))
        return behaviour

    # -- flag on ---------------------------------------------------------------------------
    def test_function_error_is_a_complete_failure(self):
        self.run_case(raise_error(), expect="failure")

    def test_listed_ids_are_kept_and_the_rest_deleted(self):
        self.run_case(self.ids_reply(lambda ids: [{"itemIdentifier": ids[1]}, {"itemIdentifier": ids[2]}]),
                      expect="partial", keep=[1, 2])

    def test_the_same_id_listed_twice_counts_once(self):
        self.run_case(self.ids_reply(lambda ids: [{"itemIdentifier": ids[0]}, {"itemIdentifier": ids[0]}]),
                      expect="partial", keep=[0])

    def test_empty_batch_item_failures_is_a_complete_success(self):
        self.run_case('{"batchItemFailures":[]}')

    def test_null_batch_item_failures_is_a_complete_success(self):
        self.run_case('{"batchItemFailures":null}')

    def test_empty_object_is_a_complete_success(self):
        self.run_case("{}")

    def test_null_is_a_complete_success(self):
        self.run_case("null")

    def test_empty_payload_is_a_complete_success(self):
        self.run_case("")

    def test_other_json_without_batch_item_failures_is_a_complete_success(self):
        self.run_case('"ok"')

    def test_json_array_is_a_complete_success(self):
        self.run_case("[]")

    def test_object_with_other_keys_is_a_complete_success(self):
        self.run_case('{"status":1}')

    def test_invalid_json_is_a_complete_failure(self):
        self.run_case('{"batchItemFailures": [', expect="failure")

    def test_empty_item_identifier_is_a_complete_failure(self):
        self.run_case('{"batchItemFailures":[{"itemIdentifier":""}]}', expect="failure")

    def test_null_item_identifier_is_a_complete_failure(self):
        self.run_case('{"batchItemFailures":[{"itemIdentifier":null}]}', expect="failure")

    def test_item_with_a_different_key_is_a_complete_failure(self):
        self.run_case('{"batchItemFailures":[{"foo":"notvalid"}]}', expect="failure")

    def test_unknown_item_identifier_is_a_complete_failure(self):
        self.run_case(self.ids_reply(lambda ids: [{"itemIdentifier": ids[0]}, {"itemIdentifier": "not-in-batch"}]),
                      expect="failure")

    def test_batch_item_failures_that_is_not_an_array_is_a_complete_failure(self):
        self.run_case('{"batchItemFailures":{"itemIdentifier":"x"}}', expect="failure")

    # -- flag off --------------------------------------------------------------------------
    def test_without_the_flag_listed_ids_are_deleted_too(self):
        self.run_case(self.ids_reply(lambda ids: [{"itemIdentifier": ids[1]}]), report_flag=False)

    def test_without_the_flag_invalid_json_is_a_success(self):
        self.run_case("{not json", report_flag=False)

    def test_without_the_flag_a_function_error_is_still_a_complete_failure(self):
        self.run_case(raise_error(), report_flag=False, expect="failure")


if __name__ == "__main__":
    unittest.main()
