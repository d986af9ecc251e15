"""The Kinesis poller with ParallelizationFactor and tumbling windows (data-plane.md §3.7, §3.8)."""
import datetime
import hashlib
import json
import threading
import time
import unittest

from esmd_harness import wait_until
from kinesis_poller_support import KinesisTestCase, Reply, data_of


def parse_iso(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()


class KinesisParallelTest(KinesisTestCase):
    def test_parallelization_runs_batches_of_one_shard_at_once_and_keeps_each_key_in_order(self):
        stream, arn = self.make_stream(1)
        keys = [f"user-{i % 16}" for i in range(240)]
        sent = self.put(stream, [f"r{i}" for i in range(240)], keys=keys)

        def behaviour(event):
            time.sleep(0.05)
            return Reply(200, "")
        self.fn.behave(behaviour)
        self.make_kinesis_mapping(arn, BatchSize=5, ParallelizationFactor=4)
        self.wait_delivered({f"r{i}" for i in range(240)}, timeout=30)
        self.assertGreater(self.fn.max_concurrent, 1, "batches of one shard ran in parallel")
        self.assertLessEqual(self.fn.max_concurrent, 4)
        seq_of = {f"r{i}": int(s) for i, (_, s) in enumerate(sent)}
        key_of = {f"r{i}": keys[i] for i in range(240)}
        last = {}
        for c in sorted(self.fn.calls(), key=lambda c: c.started):
            for r in c.records:
                d = data_of(r)
                self.assertGreater(seq_of[d], last.get(key_of[d], -1), f"order of key {key_of[d]}")
                last[key_of[d]] = seq_of[d]
        self.assertEqual(sorted(self.delivered()), sorted(seq_of), "each record once")

    def test_disabling_as_both_lanes_finish_keeps_the_newest_checkpoint(self):
        # Lane of a key (data-plane.md §3.7): its MD5 as a 128-bit integer, modulo the lanes.
        def lane(key):
            return int(hashlib.md5(key.encode()).hexdigest(), 16) % 2
        keys = [f"k{i}" for i in range(40)]
        first = next(k for k in keys if lane(k) == 0)
        second = next(k for k in keys if lane(k) == 1)
        for attempt in range(5):
            stream, arn = self.make_stream(1)
            gate = threading.Event()

            def behaviour(event, gate=gate):
                gate.wait(10)
                return Reply(200, "")
            self.fn.behave(behaviour)
            before = len(self.delivered())
            calls_before = len(self.fn.calls())
            self.put(stream, ["a", "b"], keys=[first, second])
            uuid = self.make_kinesis_mapping(arn, BatchSize=10, ParallelizationFactor=2)
            wait_until(lambda: len(self.fn.calls()) - calls_before >= 2, message="both lanes in flight")
            self.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
            # Both lanes answer at once: the second one's checkpoint comes while the first's is
            # still being written, and the pause that follows must not drop it.
            gate.set()
            self.wait_state(uuid, "Disabled")
            self.fn.behave(lambda event: Reply(200, ""))
            self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
            self.wait_state(uuid, "Enabled")
            self.put(stream, ["c"], key=first)
            wait_until(lambda: "c" in self.delivered()[before:], message="the record after re-enabling")
            time.sleep(0.3)  # a redelivery would show up by now
            self.assertEqual(sorted(self.delivered()[before:]), ["a", "b", "c"], f"attempt {attempt}: each once")
            self.lam.delete_event_source_mapping(UUID=uuid)

    def test_the_read_ahead_of_a_shard_is_bounded_in_bytes_as_well_as_in_records(self):
        def rss_kb():
            with open(f"/proc/{self.esmd.proc.pid}/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        stream, arn = self.make_stream(1)
        blob = "x" * 1_000_000
        datas = [f"{i:03d}" + blob for i in range(80)]
        for start in range(0, len(datas), 4):  # PutRecords takes 5 MB a request
            self.put(stream, datas[start:start + 4], key="k")
        gate = threading.Event()

        def behaviour(event):
            gate.wait(20)
            return Reply(200, "")
        self.fn.behave(behaviour)
        before = rss_kb()
        self.make_kinesis_mapping(arn, BatchSize=100)
        wait_until(lambda: len(self.fn.calls()) >= 1, message="the first batch in flight")
        time.sleep(1.0)  # the read-ahead fills while the first batch waits
        grown_mb = (rss_kb() - before) / 1024
        gate.set()
        wait_until(lambda: len({d[:3] for d in self.delivered()}) == 80, timeout=30, message="80 records delivered")
        # 80 MB of data held as records (raw and base64) would grow esmd by about 190 MB; the
        # read-ahead of one lane is about two 6 MB events.
        self.assertLess(grown_mb, 60, f"esmd grew by {grown_mb:.0f} MB while one batch was in flight")

    def test_a_tumbling_window_carries_state_between_invocations_and_ends_with_a_final_call(self):
        stream, arn = self.make_stream(1)
        window_s = 2

        def behaviour(event):
            state = event.get("state") or {}
            count = state.get("count", 0) + len(event["Records"])
            return Reply(200, json.dumps({"state": {"count": count}}))
        self.fn.behave(behaviour)
        uuid = self.make_kinesis_mapping(arn, "LATEST", BatchSize=2, TumblingWindowInSeconds=window_s)
        self.put(stream, [f"r{i}" for i in range(5)], key="k")
        wait_until(lambda: any(c.event.get("isFinalInvokeForWindow") for c in self.fn.finished_calls()),
                   timeout=10, message="a final window invocation")
        calls = self.fn.calls()
        by_window = {}
        for c in calls:
            e = c.event
            self.assertEqual(e["shardId"], self.shard_ids(stream)[0])
            self.assertEqual(e["eventSourceARN"], arn)
            self.assertFalse(e["isWindowTerminatedEarly"])
            start, end = parse_iso(e["window"]["start"]), parse_iso(e["window"]["end"])
            self.assertEqual(end - start, window_s)
            self.assertEqual(start % window_s, 0, "epoch-aligned windows")
            for r in e["Records"]:
                self.assertTrue(start <= r["kinesis"]["approximateArrivalTimestamp"] < end)
            by_window.setdefault(e["window"]["start"], []).append(e)
        first_window = sorted(by_window)[0]
        events = by_window[first_window]
        self.assertEqual(events[0]["state"], {}, "a window starts with an empty state")
        running = 0
        for e in events:
            self.assertEqual(e["state"].get("count", 0), running, "the state of the previous response")
            running += len(e["Records"])
        self.assertTrue(events[-1]["isFinalInvokeForWindow"])
        self.assertEqual([e["isFinalInvokeForWindow"] for e in events[:-1]], [False] * (len(events) - 1))
        self.assertLessEqual(max(len(e["Records"]) for e in events), 2)
        wait_until(lambda: sum(len(c.records) for c in self.fn.calls()) >= 5, message="all 5 records")
        self.assertEqual(sorted(self.delivered()), [f"r{i}" for i in range(5)])
        self.wait_result(uuid, "OK")

    def test_a_window_response_without_state_is_retried(self):
        stream, arn = self.make_stream(1)
        answers = iter([Reply(200, '{"batchItemFailures":[]}')])

        def behaviour(event):
            return next(answers, None) or Reply(200, json.dumps({"state": {"n": 1}}))
        self.fn.behave(behaviour)
        self.make_kinesis_mapping(arn, "LATEST", BatchSize=10, TumblingWindowInSeconds=1)
        self.put(stream, ["only"], key="k")
        self.fn.wait_calls(2)
        first, second = self.fn.calls()[:2]
        self.assertEqual([data_of(r) for r in first.records], ["only"])
        self.assertEqual([data_of(r) for r in second.records], ["only"], "the same records again")
        self.assertEqual(second.event["state"], {})

    def test_a_window_whose_state_passes_1_mb_ends_early(self):
        stream, arn = self.make_stream(1)
        big = json.dumps({"state": {"blob": "x" * (1024 * 1024 + 10)}})

        def behaviour(event):
            if event["Records"] and data_of(event["Records"][0]) == "a":
                return Reply(200, big)
            return Reply(200, json.dumps({"state": {}}))
        self.fn.behave(behaviour)
        self.make_kinesis_mapping(arn, "LATEST", BatchSize=10, TumblingWindowInSeconds=300)
        self.put(stream, ["a"], key="k")
        self.fn.wait_calls(2)
        self.put(stream, ["b"], key="k")
        self.fn.wait_calls(3)
        first, second, third = [c.event for c in self.fn.calls()[:3]]
        self.assertFalse(first["isWindowTerminatedEarly"])
        self.assertEqual(second["Records"], [])
        self.assertTrue(second["isFinalInvokeForWindow"])
        self.assertTrue(second["isWindowTerminatedEarly"])
        self.assertEqual(len(second["state"]["blob"]), 1024 * 1024 + 10)
        self.assertEqual([data_of(r) for r in third["Records"]], ["b"])
        self.assertEqual(third["state"], {}, "the records after it start a new window")
        self.assertFalse(third["isFinalInvokeForWindow"])


if __name__ == "__main__":
    unittest.main()
