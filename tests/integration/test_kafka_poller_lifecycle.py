"""The Kafka poller over a mapping's life and esmd's: disable stops delivery and enable resumes
it without loss, delete stops it, LastProcessingResult follows the function's answers, and a
kill -9 mid-stream loses and skips nothing (data-plane.md §4, control-plane.md §3.4). Runs under
/usr/bin/python3 against esmd's own broker: AWS CLI, confluent-kafka."""
import threading
import time
import unittest

from esmd_harness import wait_until
from kafka_poller_support import FAILED, OK, KafkaPollerTestCase, kafka_records, values
from kafka_support import unique
from sqs_poller_support import Reply, raise_error, slow, succeed


class LifecycleTest(KafkaPollerTestCase):
    def test_disable_stops_delivery_and_enable_resumes_without_loss(self):
        topic = unique("life")
        self.produce(topic, ["a"])
        u = self.create_msk(topic, "--maximum-batching-window-in-seconds", "0")
        self.wait_values(["a"])
        self.update(u, "--no-enabled")
        self.wait_state(u, "Disabled")
        self.produce(topic, ["b", "c"])
        time.sleep(1.5)  # proving nothing is delivered while disabled
        self.assertEqual(self.delivered(), ["a"])
        self.update(u, "--enabled")
        self.wait_state(u, "Enabled")
        self.wait_values(["b", "c"])
        self.assertEqual(self.delivered(), ["a", "b", "c"])

    def test_disabling_lets_the_batch_in_flight_finish_and_commit(self):
        topic = unique("inflight")
        self.produce(topic, ["a", "b"])
        self.fn.behave(slow(2.0))
        u = self.create_msk(topic, "--maximum-batching-window-in-seconds", "0", wait=False)
        wait_until(lambda: len(self.fn.calls()) >= 1, timeout=15, message="a call in flight")
        self.update(u, "--no-enabled")
        self.wait_state(u, "Disabled", timeout=15)
        self.fn.wait_calls(1, timeout=10)
        self.fn.behave(succeed())
        self.produce(topic, ["c"])
        self.update(u, "--enabled")
        self.wait_state(u, "Enabled")
        self.wait_values(["c"])
        # What was answered before the disable was committed: it does not come again.
        self.assertEqual(self.delivered(), ["a", "b", "c"])

    def test_delete_stops_delivery(self):
        topic = unique("del")
        self.produce(topic, ["a"])
        u = self.create_msk(topic, "--maximum-batching-window-in-seconds", "0")
        self.wait_values(["a"])
        self.aws("lambda", "delete-event-source-mapping", "--uuid", u)
        self.mappings.remove(u)

        def gone():
            return self.esmd.aws("lambda", "get-event-source-mapping", "--uuid", u)[0] != 0
        wait_until(gone, timeout=10, interval=0.2, message="mapping deleted")
        self.produce(topic, ["after-delete"])
        time.sleep(1.5)  # proving nothing is delivered after the delete
        self.assertEqual(self.delivered(), ["a"])

    def test_last_processing_result_follows_the_function(self):
        topic = unique("lpr")
        self.produce(topic, ["x"])
        self.fn.behave(raise_error())
        u = self.create_msk(topic)
        self.wait_result(u, FAILED)
        self.fn.behave(succeed())
        self.wait_result(u, OK, timeout=20)
        self.assertIn("x", self.delivered())


class KillNineTest(KafkaPollerTestCase):
    in_memory = False

    def test_a_batch_failing_across_a_restart_is_retried_from_its_start(self):
        topic = unique("failing")
        self.produce(topic, ["a", "b"])
        self.fn.behave(raise_error())
        self.create_msk(topic, "--batch-size", "10")
        self.fn.wait_calls(2, timeout=20)
        self.esmd.restart()
        before = len(self.fn.calls())
        self.fn.behave(succeed())
        wait_until(lambda: len(self.fn.finished_calls()) > before, timeout=30, message="a call after the restart")
        self.assertEqual(values(self.fn.calls()[before].event)[:2], ["a", "b"])

    def test_kill_9_mid_stream_then_restart_delivers_every_record_and_skips_none(self):
        topic = unique("kill")
        texts = [f"m{i:03d}" for i in range(200)]
        self.produce(topic, texts)
        lock = threading.Lock()
        generation = [0]
        done = []  # (offsets, esmd generation at the call's start, at its answer)

        def behaviour(event):
            started = generation[0]
            time.sleep(0.25)
            with lock:
                done.append(([r["offset"] for _, r in kafka_records(event)], started, generation[0]))
            return Reply(200, b"")

        def delivered(gen):  # the calls answered while the esmd that made them ran
            with lock:
                return [offsets for offsets, g0, g1 in done if g0 == g1 == gen]
        self.fn.behave(behaviour)
        u = self.create_msk(topic, "--batch-size", "10", "--maximum-batching-window-in-seconds", "0", wait=False)
        wait_until(lambda: len(done) >= 4, timeout=20, message="a few batches before the kill")
        self.esmd.kill9()
        with lock:
            generation[0] = 1
        before = {o for offsets in delivered(0) for o in offsets}
        self.assertLess(len(before), 200, "the kill came too late to be mid-stream")
        self.esmd.start(self.esmd.port)
        wait_until(lambda: set(range(200)) <= before | {o for offsets in delivered(1) for o in offsets},
                   timeout=40, interval=0.1, message="every record delivered after the restart")
        after = delivered(1)
        # Resumed at or before the first record not yet delivered: none skipped.
        self.assertLessEqual(after[0][0], max(before) + 1, (sorted(before)[-5:], after[:3]))
        flat = [o for offsets in after for o in offsets]
        self.assertEqual(flat, list(range(flat[0], 200)), "in order after the restart, none skipped")
        self.assertEqual(self.get(u)["State"], "Enabled")


if __name__ == "__main__":
    unittest.main()
