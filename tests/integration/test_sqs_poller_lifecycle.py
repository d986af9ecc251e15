"""The SQS poller follows its mapping (issue 3 §3, control-plane.md §3.4, data-plane.md §2.7):
Disable pauses and Enable resumes, an Update applies from the next batch, Delete stops the
poller after its in-flight batch, a restart or kill -9 loses nothing (at least once), and
Create refuses a missing queue and the FIFO limits with AWS's messages.
"""
import threading
import time
import unittest

from esmd_harness import wait_until
from sqs_poller_support import PollerTestCase, Reply, SqsFunction, slow, unique


class LifecycleTest(PollerTestCase):
    def assert_stays(self, cond, seconds, message):
        """Checks cond() keeps holding for `seconds` (a negative observation needs some time)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.assertTrue(cond(), message)
            time.sleep(0.05)

    def test_disable_pauses_and_enable_resumes(self):
        url, arn = self.make_queue()
        uuid = self.make_mapping(arn)
        self.send(url, ["before"])
        self.fn.wait_bodies(["before"])
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
        self.wait_state(uuid, "Disabled")
        self.send(url, ["while-1", "while-2", "while-3"])
        self.assert_stays(lambda: self.counts(url) == (3, 0), 1.0, "a disabled mapping received messages")
        self.assertEqual(self.fn.bodies(), ["before"])
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        self.wait_state(uuid, "Enabled")
        self.fn.wait_bodies(["while-1", "while-2", "while-3"])
        self.wait_empty(url)

    def test_disable_lets_the_in_flight_batch_finish_and_delete_its_messages(self):
        url, arn = self.make_queue()
        self.fn.behave(slow(1.0))
        uuid = self.make_mapping(arn)
        self.send(url, ["in-flight"])
        wait_until(lambda: self.fn.calls(), message="invocation started")
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
        self.fn.wait_calls(1, timeout=5)
        self.wait_empty(url)
        self.wait_state(uuid, "Disabled")
        self.send(url, ["later"])
        self.assert_stays(lambda: self.counts(url) == (1, 0), 0.5, "a disabled mapping received messages")

    def test_update_of_batch_size_applies_to_the_next_batch(self):
        url, arn = self.make_queue()
        uuid = self.make_mapping(arn, BatchSize=2, MaximumBatchingWindowInSeconds=1)
        self.send_batch(url, [f"a{i}" for i in range(4)])
        self.fn.wait_bodies([f"a{i}" for i in range(4)])
        self.assertEqual([len(c.records) for c in self.fn.calls()], [2, 2])
        self.lam.update_event_source_mapping(UUID=uuid, BatchSize=5)
        self.wait_state(uuid, "Enabled")
        self.send_batch(url, [f"b{i}" for i in range(5)])
        self.fn.wait_bodies([f"b{i}" for i in range(5)])
        self.assertEqual([len(c.records) for c in self.fn.calls()], [2, 2, 5])

    def test_update_of_function_name_applies_to_the_next_batch(self):
        url, arn = self.make_queue()
        other = SqsFunction()
        self.addCleanup(other.close)
        other_name = other.register(self.esmd, unique("fn2"))
        uuid = self.make_mapping(arn)
        self.send(url, ["to-first"])
        self.fn.wait_bodies(["to-first"])
        r = self.lam.update_event_source_mapping(UUID=uuid, FunctionName=other_name)
        self.assertTrue(r["FunctionArn"].endswith(":function:" + other_name))
        self.wait_state(uuid, "Enabled")
        self.send(url, ["to-second"])
        other.wait_bodies(["to-second"])
        self.assertEqual(self.fn.bodies(), ["to-first"])
        self.wait_empty(url)

    def test_delete_stops_the_poller_after_its_in_flight_batch(self):
        url, arn = self.make_queue()
        gate = threading.Event()

        def held(event):
            gate.wait(5)
            return Reply(200, b"")
        self.fn.behave(held)
        uuid = self.make_mapping(arn)
        self.send(url, ["in-flight"])
        wait_until(lambda: self.fn.calls(), message="invocation started")
        self.lam.delete_event_source_mapping(UUID=uuid)
        self.send(url, ["after-delete"])
        self.wait_gone(uuid)
        gate.set()
        # The in-flight batch completes and its message is deleted ...
        self.fn.wait_calls(1)
        wait_until(lambda: self.counts(url) == (1, 0), message="only the later message left")
        # ... and nothing more is received.
        self.assert_stays(lambda: self.counts(url) == (1, 0), 1.0, "a deleted mapping received messages")
        self.assertEqual(self.fn.bodies(), ["in-flight"])
        self.assertEqual(len(self.fn.calls()), 1)

    def test_a_recreated_mapping_picks_up_where_the_deleted_one_stopped(self):
        url, arn = self.make_queue()
        uuid = self.make_mapping(arn)
        self.lam.delete_event_source_mapping(UUID=uuid)
        self.wait_gone(uuid)
        self.send(url, ["waiting"])
        self.assert_stays(lambda: self.counts(url) == (1, 0), 0.3, "no mapping, no receive")
        self.make_mapping(arn)
        self.fn.wait_bodies(["waiting"])
        self.wait_empty(url)


class CreateValidationTest(PollerTestCase):
    def create_error(self, **params):
        with self.assertRaises(self.lam.exceptions.InvalidParameterValueException) as cm:
            self.lam.create_event_source_mapping(FunctionName=self.function, **params)
        return cm.exception.response["Error"]["Message"]

    def test_create_refuses_a_queue_that_does_not_exist(self):
        msg = self.create_error(EventSourceArn=self.queue_arn("no-such-queue"))
        self.assertEqual(msg, "Error occurred while ReceiveMessage. SQS Error Code: "
                              "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: "
                              "The specified queue does not exist.")

    def test_aws_cli_create_refuses_a_queue_that_does_not_exist(self):
        rc, out, err = self.esmd.aws("lambda", "create-event-source-mapping", "--function-name", self.function,
                                     "--event-source-arn", self.queue_arn("missing-too"))
        self.assertNotEqual(rc, 0)
        self.assertIn("InvalidParameterValueException", err)
        self.assertIn("AWS.SimpleQueueService.NonExistentQueue", err)

    def test_create_refuses_batch_size_11_on_a_fifo_queue(self):
        _, arn = self.make_queue(fifo=True)
        self.assertEqual(self.create_error(EventSourceArn=arn, BatchSize=11),
                         "Maximum batch size must be between 1 and 10 inclusive")

    def test_create_refuses_a_batching_window_on_a_fifo_queue(self):
        _, arn = self.make_queue(fifo=True)
        self.assertEqual(self.create_error(EventSourceArn=arn, MaximumBatchingWindowInSeconds=1),
                         "Batching window is not supported for FIFO queues")

    def test_create_refuses_batch_size_over_10_without_a_window_on_a_standard_queue(self):
        _, arn = self.make_queue()
        self.assertEqual(self.create_error(EventSourceArn=arn, BatchSize=11),
                         "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
                         "greater than 10")

    def test_a_deleted_queue_stops_nothing_else(self):
        # A mapping whose queue is deleted keeps its state; esmd keeps running and a new
        # queue of the same name is picked up again.
        url, arn = self.make_queue(name=unique("gone"))
        uuid = self.make_mapping(arn)
        self.sqs.delete_queue(QueueUrl=url)
        self.assertEqual(self.state(uuid), "Enabled")
        name = arn.rsplit(":", 1)[1]
        url2 = self.sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
        self.send(url2, ["reborn"])
        self.fn.wait_bodies(["reborn"], timeout=10)


class RestartTest(PollerTestCase):
    in_memory = False

    def run_interrupted(self, interrupt, expect_redelivery):
        """20 messages, a slow function, the process interrupted while a batch is in flight:
        afterwards every message is delivered and the queue empties."""
        url, arn = self.make_queue(visibility=2)
        self.fn.behave(slow(0.5))
        bodies = [f"r{i}" for i in range(20)]
        uuid, _ = self.mapping_over_backlog(url, arn, bodies, BatchSize=5, ScalingConfig={"MaximumConcurrency": 2})
        wait_until(lambda: self.fn.calls(), message="a batch in flight")
        cut = [c for c in self.fn.calls() if c.ended is None]
        before = len(self.fn.calls())
        interrupt()
        self.esmd.start(self.esmd.port)
        self.fn.wait_bodies(bodies, timeout=20)
        wait_until(lambda: self.total(url) == 0, timeout=20, message="queue drained")
        self.assertEqual(self.state(uuid), "Enabled")
        if expect_redelivery:
            # The function never answered esmd for these: each comes again, received twice.
            self.assertTrue(cut)
            again = {r["body"]: r for c in self.fn.calls()[before:] for r in c.records}
            for c in cut:
                for r in c.records:
                    self.assertIn(r["body"], again)
                    self.assertEqual(again[r["body"]]["attributes"]["ApproximateReceiveCount"], "2")

    def test_kill_9_while_a_batch_is_in_flight_loses_nothing(self):
        self.run_interrupted(self.esmd.kill9, expect_redelivery=True)

    def test_restart_while_a_batch_is_in_flight_loses_nothing(self):
        self.run_interrupted(self.esmd.stop, expect_redelivery=False)

    def test_messages_sent_before_a_restart_are_delivered_after_it(self):
        url, arn = self.make_queue()
        uuid = self.make_mapping(arn, Enabled=False)
        self.send(url, ["durable-1", "durable-2"])
        self.esmd.restart(kill=True)
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        self.fn.wait_bodies(["durable-1", "durable-2"])
        self.wait_empty(url)


if __name__ == "__main__":
    unittest.main()
