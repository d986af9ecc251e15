"""FIFO queues (data-plane.md §2.4) and ScalingConfig.MaximumConcurrency (§2.5).

FIFO: never two batches of one message group in flight, order kept per group, failed
messages retried before anything newer of their group. Concurrency: the mapping never has
more invocations open than MaximumConcurrency, however many the function allows.
"""
import threading
import time
import unittest

from sqs_poller_support import PollerTestCase, Reply, raise_error, report, slow

VT = 1


def group_of(record):
    return record["attributes"]["MessageGroupId"]


class FifoTest(PollerTestCase):
    def assert_groups_serialised_and_ordered(self, expected):
        """expected: group -> bodies in send order. Checks the successful calls."""
        calls = sorted(self.fn.finished_calls(), key=lambda c: c.started)
        by_group = {}
        for c in calls:
            for g in {group_of(r) for r in c.records}:
                by_group.setdefault(g, []).append(c)
        for g, group_calls in by_group.items():
            for a, b in zip(group_calls, group_calls[1:]):
                self.assertLessEqual(a.ended, b.started, f"two batches of group {g} overlapped")
            delivered = [r["body"] for c in group_calls for r in c.records if group_of(r) == g]
            self.assertEqual(delivered, expected[g], f"group {g} out of order")

    def test_groups_run_in_parallel_but_each_group_in_order_one_batch_at_a_time(self):
        url, arn = self.make_queue(fifo=True)
        self.fn.behave(slow(0.15))
        groups = {g: [f"{g}-{i}" for i in range(6)] for g in ("ga", "gb", "gc")}
        uuid = self.make_mapping(arn, Enabled=False, BatchSize=2)
        for i in range(6):
            for g, bodies in groups.items():
                self.sqs.send_message(QueueUrl=url, MessageBody=bodies[i], MessageGroupId=g,
                                      MessageDeduplicationId=bodies[i])
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        self.fn.wait_bodies([b for bs in groups.values() for b in bs], timeout=15)
        self.wait_empty(url)
        self.assert_groups_serialised_and_ordered(groups)
        self.assertGreaterEqual(self.fn.max_concurrent, 2, "groups should be processed concurrently")
        self.assertLessEqual(self.fn.max_concurrent, 3, "more batches in flight than groups")

    def test_messages_sent_while_a_group_is_in_flight_wait_for_it(self):
        url, arn = self.make_queue(fifo=True)
        gate = threading.Event()

        def hold_first(event):
            if any(r["body"] == "g-0" for r in event["Records"]):
                gate.wait(5)
            return Reply(200, b"")
        self.fn.behave(hold_first)
        self.make_mapping(arn, BatchSize=10)
        self.sqs.send_message(QueueUrl=url, MessageBody="g-0", MessageGroupId="g", MessageDeduplicationId="0")
        self.fn.wait_bodies(["g-0"])
        for i in range(1, 5):
            self.sqs.send_message(QueueUrl=url, MessageBody=f"g-{i}", MessageGroupId="g",
                                  MessageDeduplicationId=str(i))
        self.sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="h", MessageDeduplicationId="h")
        # Another group is not blocked.
        self.fn.wait_bodies(["other"])
        self.assertEqual(len([b for b in self.fn.bodies() if b.startswith("g-")]), 1)
        gate.set()
        self.fn.wait_bodies([f"g-{i}" for i in range(5)])
        self.wait_empty(url)
        self.assert_groups_serialised_and_ordered({"g": [f"g-{i}" for i in range(5)], "h": ["other"]})

    def test_failed_messages_are_retried_before_anything_newer_of_their_group(self):
        url, arn = self.make_queue(fifo=True, visibility=VT)
        fails = [1]

        def fail_once(event):
            if fails[0]:
                fails[0] = 0
                return raise_error()(event)
            return Reply(200, b"")
        self.fn.behave(fail_once)
        self.make_mapping(arn, BatchSize=10)
        self.sqs.send_message(QueueUrl=url, MessageBody="first", MessageGroupId="g", MessageDeduplicationId="1")
        self.fn.wait_calls(1)
        self.sqs.send_message(QueueUrl=url, MessageBody="second", MessageGroupId="g", MessageDeduplicationId="2")
        self.fn.wait_bodies(["first", "second"], timeout=VT + 5)
        self.wait_empty(url)
        calls = self.fn.calls()
        self.assertEqual(calls[0].bodies, ["first"])
        delivered = [b for c in calls[1:] for b in c.bodies]
        self.assertEqual(delivered, ["first", "second"])
        self.assertEqual(calls[1].records[0]["attributes"]["ApproximateReceiveCount"], "2")

    def test_partial_batch_failure_retries_exactly_the_listed_messages(self):
        # As recorded on AWS: ids 2, 3, 4 failed on the 1st call; the 2nd call got only 2, 3, 4.
        url, arn = self.make_queue(fifo=True, visibility=VT)
        seen = []

        def fail_tail(event):
            seen.append(1)
            if len(seen) == 1:
                ids = [r["messageId"] for r in event["Records"]]
                return report(ids[2:])(event)
            return Reply(200, b"")
        self.fn.behave(fail_tail)
        uuid = self.make_mapping(arn, Enabled=False, BatchSize=10,
                                 FunctionResponseTypes=["ReportBatchItemFailures"])
        bodies = [f"m{i}" for i in range(5)]
        for b in bodies:
            self.sqs.send_message(QueueUrl=url, MessageBody=b, MessageGroupId="g", MessageDeduplicationId=b)
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        calls = self.fn.wait_calls(2, timeout=VT + 5)
        self.assertEqual(calls[0].bodies, bodies)
        self.assertEqual(calls[1].bodies, ["m2", "m3", "m4"])
        self.wait_empty(url)
        self.assertEqual(len(self.fn.calls()), 2)


    def test_a_batch_split_by_the_6_mb_cap_goes_out_one_part_at_a_time_in_order(self):
        # One group, ten 900 KB messages: one receive, two batches (6 + 4 records); the second
        # waits for the first, as two batches of one group must never be in flight together.
        url, arn = self.make_queue(fifo=True, MaximumMessageSize=1048576)
        self.fn.behave(slow(0.3))
        bodies = [chr(ord("a") + i) * (900 * 1024) for i in range(10)]
        uuid = self.make_mapping(arn, Enabled=False, BatchSize=10)
        for i, b in enumerate(bodies):
            self.sqs.send_message(QueueUrl=url, MessageBody=b, MessageGroupId="big", MessageDeduplicationId=str(i))
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        self.fn.wait_bodies(bodies, timeout=20)
        self.wait_empty(url)
        calls = sorted(self.fn.finished_calls(), key=lambda c: c.started)
        self.assertEqual([len(c.records) for c in calls], [6, 4])
        self.assert_groups_serialised_and_ordered({"big": bodies})


class ConcurrencyTest(PollerTestCase):
    def test_maximum_concurrency_caps_concurrent_invocations(self):
        url, arn = self.make_queue()
        self.fn.behave(slow(0.3))
        self.mapping_over_backlog(url, arn, [f"c{i}" for i in range(12)], BatchSize=1,
                                  ScalingConfig={"MaximumConcurrency": 2})
        self.fn.wait_bodies([f"c{i}" for i in range(12)], timeout=15)
        self.assertEqual(self.fn.max_concurrent, 2)

    def test_batches_split_by_the_6_mb_cap_still_respect_maximum_concurrency(self):
        # Each receive of ten 900 KB messages splits into 6 + 4 records. The function takes
        # 0.1 s per record, so the 4-record batch frees a slot while the 6-record one still
        # runs: the next receive's two batches must then go out one after the other.
        url, arn = self.make_queue(MaximumMessageSize=1048576)

        def per_record(event):
            time.sleep(0.1 * len(event["Records"]))
            return Reply(200, b"")
        self.fn.behave(per_record)
        bodies = [f"{i:02d}" + "x" * (900 * 1024) for i in range(20)]
        uuid = self.make_mapping(arn, Enabled=False, BatchSize=10, ScalingConfig={"MaximumConcurrency": 2})
        for b in bodies:
            self.send(url, [b])
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        self.fn.wait_bodies(bodies, timeout=30)
        self.wait_empty(url)
        self.assertEqual(self.fn.max_concurrent, 2)

    def test_without_scaling_config_the_default_of_5_applies(self):
        url, arn = self.make_queue()
        self.fn.behave(slow(0.3))
        self.mapping_over_backlog(url, arn, [f"d{i}" for i in range(20)], BatchSize=1)
        self.fn.wait_bodies([f"d{i}" for i in range(20)], timeout=15)
        self.assertEqual(self.fn.max_concurrent, 5)

    def test_a_function_registered_with_concurrency_1_gets_one_batch_at_a_time(self):
        url, arn = self.make_queue()
        self.fn.behave(slow(0.1))
        name = self.fn.register(self.esmd, self.function + "-rie", concurrency=1)
        uuid = self.make_mapping(arn, function=name, Enabled=False, BatchSize=1,
                                 ScalingConfig={"MaximumConcurrency": 10})
        self.send_batch(url, [f"r{i}" for i in range(6)])
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        self.fn.wait_bodies([f"r{i}" for i in range(6)], timeout=10)
        self.assertEqual(self.fn.max_concurrent, 1)

    def test_raising_maximum_concurrency_applies_live(self):
        url, arn = self.make_queue()
        self.fn.behave(slow(0.3))
        uuid, _ = self.mapping_over_backlog(url, arn, [f"e{i}" for i in range(4)], BatchSize=1,
                                            ScalingConfig={"MaximumConcurrency": 2})
        self.fn.wait_bodies([f"e{i}" for i in range(4)], timeout=10)
        self.assertEqual(self.fn.max_concurrent, 2)
        self.update_mapping(uuid, ScalingConfig={"MaximumConcurrency": 4})
        self.wait_state(uuid, "Enabled")
        self.fn.max_concurrent = 0
        self.send_batch(url, [f"f{i}" for i in range(12)])
        self.fn.wait_bodies([f"f{i}" for i in range(12)], timeout=10)
        self.assertEqual(self.fn.max_concurrent, 4)


if __name__ == "__main__":
    unittest.main()
