"""How the SQS poller forms batches (data-plane.md §2.1): BatchSize, the batching window, the
6 MB cap on the serialized event, and the latency of a window-0 mapping.
"""
import statistics
import time
import unittest

from esmd_harness import wait_until
from sqs_poller_support import PollerTestCase

MAX_EVENT_BYTES = 6 * 1024 * 1024


class BatchingTest(PollerTestCase):
    def test_batches_never_exceed_batch_size_and_nothing_is_lost(self):
        url, arn = self.make_queue()
        bodies = [f"msg-{i}" for i in range(25)]
        self.mapping_over_backlog(url, arn, bodies, BatchSize=3)
        self.fn.wait_bodies(bodies)
        self.wait_empty(url)
        sizes = [len(c.records) for c in self.fn.calls()]
        self.assertLessEqual(max(sizes), 3, sizes)
        self.assertEqual(sizes.count(3), len(sizes) - (1 if 25 % 3 else 0), sizes)
        self.assertEqual(sorted(self.fn.bodies()), sorted(bodies))

    def test_window_0_sends_a_backlog_in_batches_of_batch_size(self):
        url, arn = self.make_queue()
        bodies = [f"b{i}" for i in range(30)]
        self.mapping_over_backlog(url, arn, bodies, BatchSize=10)
        self.fn.wait_bodies(bodies)
        self.assertEqual(sorted(len(c.records) for c in self.fn.calls()), [10, 10, 10])

    def test_an_under_filled_batch_waits_for_the_window(self):
        url, arn = self.make_queue()
        self.make_mapping(arn, BatchSize=10, MaximumBatchingWindowInSeconds=2)
        first_sent = time.monotonic()
        self.send(url, ["w1", "w2", "w3"])
        calls = self.fn.wait_calls(1, timeout=6)
        self.assertEqual(sorted(calls[0].bodies), ["w1", "w2", "w3"])
        waited = calls[0].started - first_sent
        self.assertGreaterEqual(waited, 1.9, "the batch went out before the window ended")
        self.assertLess(waited, 2.8, "the batch went out long after the window ended")
        self.wait_empty(url)
        self.assertEqual(len(self.fn.calls()), 1)

    def test_a_full_batch_goes_at_once_without_waiting_for_the_window(self):
        url, arn = self.make_queue()
        self.make_mapping(arn, BatchSize=5, MaximumBatchingWindowInSeconds=10)
        sent = time.monotonic()
        self.send_batch(url, [f"f{i}" for i in range(5)])
        calls = self.fn.wait_calls(1, timeout=3)
        self.assertEqual(len(calls[0].records), 5)
        self.assertLess(calls[0].started - sent, 1.0)

    def test_batch_size_100_with_a_window(self):
        url, arn = self.make_queue()
        bodies = [f"h{i}" for i in range(150)]
        self.mapping_over_backlog(url, arn, bodies, BatchSize=100, MaximumBatchingWindowInSeconds=2)
        enabled = time.monotonic()
        # 100 are there at once: a full batch, sent without waiting for the window.
        self.fn.wait_calls(1, timeout=3)
        first = self.fn.calls()[0]
        self.assertEqual(len(first.records), 100)
        self.assertLess(first.started - enabled, 1.5)
        # The other 50 wait for the window.
        calls = self.fn.wait_calls(2, timeout=5)
        self.assertEqual(len(calls[1].records), 50)
        self.assertGreaterEqual(calls[1].started - first.started, 1.8)
        self.assertEqual(sorted(self.fn.bodies()), sorted(bodies))
        self.wait_empty(url)

    def test_messages_sent_during_the_window_join_the_batch(self):
        url, arn = self.make_queue()
        self.make_mapping(arn, BatchSize=50, MaximumBatchingWindowInSeconds=2)
        start = time.monotonic()
        sent = []
        while len(sent) < 20:  # spread over about a second, well inside the window
            sent += self.send(url, [f"s{len(sent)}"])
            time.sleep(0.05)
        self.assertLess(time.monotonic() - start, 1.9, "sending took longer than the window")
        calls = self.fn.wait_calls(1, timeout=5)
        self.assertEqual(calls[0].bodies, [f"s{i}" for i in range(20)])
        self.assertGreaterEqual(calls[0].started - start, 1.9)

    def test_the_serialized_event_never_passes_6_mb(self):
        url, arn = self.make_queue(MaximumMessageSize=1048576)
        bodies = [chr(ord("a") + i) * (900 * 1024) for i in range(10)]
        uuid = self.make_mapping(arn, Enabled=False, BatchSize=10)
        for b in bodies:
            self.send(url, [b])
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        self.fn.wait_bodies(bodies, timeout=20)
        raw = self.fn.raw_bodies()
        self.assertGreaterEqual(len(raw), 2)
        for r in raw:
            self.assertLessEqual(len(r), MAX_EVENT_BYTES)
        # Each batch is as full as the cap allows: 6 records of 900 KB fit, 7 do not.
        self.assertEqual(sorted(len(c.records) for c in self.fn.calls()), [4, 6])
        self.assertEqual(sorted(self.fn.bodies()), sorted(bodies))
        self.wait_empty(url)

    def test_window_0_delivers_within_milliseconds(self):
        url, arn = self.make_queue()
        self.make_mapping(arn)
        latencies = []
        for i in range(50):
            body = f"lat-{i}"
            # Measured from before SendMessage: an upper bound that includes its round trip
            # (the function often has the record before boto3 has parsed the response).
            before = time.monotonic()
            self.sqs.send_message(QueueUrl=url, MessageBody=body)
            wait_until(lambda: body in self.fn.bodies(), timeout=5, interval=0.001, message=body)
            call = next(c for c in self.fn.calls() if body in c.bodies)
            latencies.append(call.started - before)
        p50 = statistics.median(latencies)
        print(f"window 0: p50 {p50 * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms over 50 messages")
        self.assertLess(p50, 0.2, f"p50 {p50 * 1000:.1f} ms")


if __name__ == "__main__":
    unittest.main()
