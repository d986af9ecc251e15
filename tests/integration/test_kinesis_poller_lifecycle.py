"""The Kinesis poller across restarts, kill -9, Disable/Enable, several mappings on one stream,
and deletion (data-plane.md §3.1: checkpoints per mapping and shard survive restarts)."""
import json
import time
import unittest

from esmd_harness import wait_until
from kinesis_poller_support import KinesisTestCase, Reply, data_of
from sqs_poller_support import SqsFunction, slow, succeed, unique


class KinesisLifecycleTest(KinesisTestCase):
    in_memory = False

    def restart_and_wait(self, uuid, kill=False):
        self.esmd.restart(kill=kill)
        self.wait_state(uuid, "Enabled")

    def test_a_restart_resumes_after_the_last_successful_batch(self):
        stream, arn = self.make_stream(2)
        uuid = self.make_kinesis_mapping(arn, BatchSize=10)
        first = [f"a{i}" for i in range(30)]
        self.put(stream, first)
        self.wait_delivered(set(first))
        wait_until(lambda: self.mapping(uuid)["LastProcessingResult"] == "OK", message="OK")
        self.restart_and_wait(uuid)
        second = [f"b{i}" for i in range(10)]
        self.put(stream, second)
        self.wait_delivered(set(second))
        time.sleep(0.3)  # a redelivery of the first records would show up by now
        self.assertEqual(sorted(self.delivered()), sorted(first + second), "nothing again, nothing skipped")

    def test_kill_9_in_the_middle_resumes_without_skipping_a_record(self):
        stream, arn = self.make_stream(2)

        def behaviour(event):
            time.sleep(0.02)
            return Reply(200, "")
        self.fn.behave(behaviour)
        datas = [f"r{i}" for i in range(300)]
        keys = [f"k{i % 7}" for i in range(300)]
        sent = self.put(stream, datas, keys=keys)
        uuid = self.make_kinesis_mapping(arn, BatchSize=5)
        wait_until(lambda: len(self.delivered()) >= 60, message="some batches delivered")
        self.restart_and_wait(uuid, kill=True)
        self.wait_delivered(set(datas), timeout=30)
        # At least once and in order per shard: within each shard, the delivered sequence
        # numbers never go back except to repeat a batch the kill interrupted.
        shard_of = {d: s for d, (s, _) in zip(datas, sent)}
        seq_of = {d: int(q) for d, (_, q) in zip(datas, sent)}
        for shard in set(shard_of.values()):
            seen = [seq_of[d] for d in self.delivered() if shard_of[d] == shard]
            firsts = []
            for s in seen:
                if s not in firsts:
                    firsts.append(s)
            self.assertEqual(firsts, sorted(firsts), f"first deliveries of {shard} in order")
        duplicates = len(self.delivered()) - len(datas)
        self.assertLessEqual(duplicates, 2 * 5 * 2, "only batches in flight at the kill come again")

    def test_disable_and_enable_resume_from_the_checkpoint(self):
        stream, arn = self.make_stream(1)
        uuid = self.make_kinesis_mapping(arn, BatchSize=10)
        self.put(stream, ["a1", "a2"])
        self.wait_delivered({"a1", "a2"})
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
        self.wait_state(uuid, "Disabled")
        self.put(stream, ["b1", "b2"])
        time.sleep(0.5)
        self.assertEqual(self.delivered(), ["a1", "a2"], "a disabled mapping invokes nothing")
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        self.wait_state(uuid, "Enabled")
        self.wait_delivered({"b1", "b2"})
        self.assertEqual(self.delivered(), ["a1", "a2", "b1", "b2"])

    def test_a_stream_deleted_and_recreated_under_the_same_name_is_read_from_its_start(self):
        stream, arn = self.make_stream(1)
        uuid = self.make_kinesis_mapping(arn, BatchSize=10)
        old = [f"old{i}" for i in range(25)]
        self.put(stream, old)
        self.wait_delivered(set(old))
        self.wait_result(uuid, "OK")
        self.kin.delete_stream(StreamName=stream)
        self.make_stream(1, name=stream)
        # The old checkpoint is at index 25: resumed on the new stream, it would skip these.
        new = [f"new{i}" for i in range(30)]
        self.put(stream, new)
        self.wait_delivered(set(new), timeout=15)
        time.sleep(0.3)  # a late redelivery would show up by now
        self.assertEqual(sorted(self.delivered()), sorted(old + new), "every record once, none skipped")

    def test_a_batch_in_flight_when_the_mapping_is_disabled_finishes_and_is_not_sent_again(self):
        stream, arn = self.make_stream(1)
        self.fn.behave(slow(1.0))
        uuid = self.make_kinesis_mapping(arn, "LATEST", BatchSize=10)
        self.put(stream, ["in-flight"])
        wait_until(lambda: len(self.fn.calls()) == 1, message="the batch is in flight")
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
        self.wait_state(uuid, "Disabled")
        self.fn.wait_calls(1)
        self.fn.behave(succeed())
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        self.wait_state(uuid, "Enabled")
        self.put(stream, ["after"])
        self.wait_delivered({"after"})
        self.assertEqual(self.delivered(), ["in-flight", "after"])

    def test_an_update_applies_from_the_next_batch_without_sending_anything_twice(self):
        stream, arn = self.make_stream(1)
        uuid = self.make_kinesis_mapping(arn, BatchSize=2)
        self.put(stream, [f"a{i}" for i in range(4)], key="k")
        self.wait_delivered({f"a{i}" for i in range(4)})
        self.update_mapping(uuid, BatchSize=5)
        self.wait_state(uuid, "Enabled")
        self.put(stream, [f"b{i}" for i in range(5)], key="k")
        self.wait_delivered({f"b{i}" for i in range(5)})
        self.assertEqual([len(c.records) for c in self.fn.calls()][-1], 5)
        self.assertEqual(len(self.delivered()), 9)

    def test_several_mappings_on_one_stream_each_see_every_record(self):
        stream, arn = self.make_stream(2)
        other = self.fn.register(self.esmd, unique("fn"), concurrency=50)
        self.make_kinesis_mapping(arn, BatchSize=7)
        self.make_kinesis_mapping(arn, function=other, BatchSize=3)
        datas = [f"r{i}" for i in range(40)]
        self.put(stream, datas)
        self.wait_delivered(set(datas), function=self.function)
        self.wait_delivered(set(datas), function=other)
        self.assertEqual(sorted(self.delivered(self.function)), sorted(datas))
        self.assertEqual(sorted(self.delivered(other)), sorted(datas))

    def test_a_deleted_mapping_stops_and_a_new_one_starts_from_its_own_position(self):
        stream, arn = self.make_stream(1)
        uuid = self.make_kinesis_mapping(arn, BatchSize=10)
        self.put(stream, ["a"])
        self.wait_delivered({"a"})
        self.lam.delete_event_source_mapping(UUID=uuid)
        self.wait_gone(uuid)
        self.put(stream, ["b"])
        time.sleep(0.3)
        self.assertEqual(self.delivered(), ["a"])
        fresh = SqsFunction()
        self.addCleanup(fresh.close)
        name = fresh.register(self.esmd, unique("fn"))
        self.make_kinesis_mapping(arn, "TRIM_HORIZON", function=name)
        wait_until(lambda: [data_of(r) for r in fresh.records()] == ["a", "b"], message="the new mapping reads all")

    def test_records_that_match_no_filter_are_skipped_and_checkpointed(self):
        stream, arn = self.make_stream(1)
        uuid = self.make_kinesis_mapping(
            arn, BatchSize=10, FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"kind": ["order"]}})}]})
        skipped = [json.dumps({"kind": "click", "n": i}) for i in range(3)] + ["not json"]
        wanted = [json.dumps({"kind": "order", "n": 1}), json.dumps({"kind": "order", "n": 2})]
        self.put(stream, skipped[:2] + [wanted[0]] + skipped[2:] + [wanted[1]], key="k")
        self.wait_delivered(set(wanted))
        self.assertEqual(self.delivered(), wanted, "a batch holds only matching records")
        # A batch made only of skipped records invokes nothing, yet the checkpoint moves past it.
        self.put(stream, skipped, key="k")
        time.sleep(0.3)
        self.restart_and_wait(uuid)
        self.put(stream, [json.dumps({"kind": "order", "n": 3})], key="k")
        self.wait_delivered({json.dumps({"kind": "order", "n": 3})})
        self.assertEqual(len(self.delivered()), 3, "nothing delivered again after the restart")
        self.wait_result(uuid, "OK")


if __name__ == "__main__":
    unittest.main()
