"""The Kinesis poller and MaximumRecordAgeInSeconds (data-plane.md §3.3, §3.6c). AWS's smallest
limit is 60 s, so this file waits about a minute (alone in its file, so that CTest runs it in
parallel with the others)."""
import time
import unittest

from kinesis_poller_support import KinesisTestCase, data_of, fail_if_data_contains


class KinesisRecordAgeTest(KinesisTestCase):
    def test_records_past_the_age_limit_are_dropped_one_by_one_and_reported(self):
        # Two cases at once: a record that expires while its batch keeps failing, and a record
        # that is already too old when the mapping starts, followed by young ones.
        old_stream, old_arn = self.make_stream(1)
        stuck_stream, stuck_arn = self.make_stream(1)
        url, dlq = self.dlq()
        destination = {"OnFailure": {"Destination": dlq}}
        self.fn.behave(fail_if_data_contains("stuck"))
        old = self.put(old_stream, ["old"], key="k")
        started = time.monotonic()
        stuck = self.put(stuck_stream, ["stuck"], key="k")
        self.make_kinesis_mapping(stuck_arn, MaximumRecordAgeInSeconds=60, MaximumRetryAttempts=-1,
                                  DestinationConfig=destination)
        time.sleep(max(0.0, 61.5 - (time.monotonic() - started)))
        young = [f"young-{i}" for i in range(5)]
        self.put(old_stream, young, key="k")
        self.make_kinesis_mapping(old_arn, MaximumRecordAgeInSeconds=60, DestinationConfig=destination)
        records = self.receive_all(url, 2, timeout=20)
        by_seq = {r["KinesisBatchInfo"]["startSequenceNumber"]: r for r in records}

        expired_early = by_seq[old[0][1]]
        self.assertNotIn("responseContext", expired_early)
        self.assertEqual(expired_early["requestContext"]["condition"], "RecordAgeExceeded")
        self.assertEqual(expired_early["requestContext"]["approximateInvokeCount"], 1)
        self.assertEqual(expired_early["KinesisBatchInfo"]["batchSize"], 1)
        self.assertEqual(expired_early["KinesisBatchInfo"]["endSequenceNumber"], old[0][1])
        self.wait_delivered(set(young))
        self.assertNotIn("old", self.delivered())

        expired_retrying = by_seq[stuck[0][1]]
        self.assertNotIn("responseContext", expired_retrying)
        self.assertEqual(expired_retrying["requestContext"]["condition"], "RecordAgeExceeded")
        tries = [c for c in self.fn.calls() if [data_of(r) for r in c.records] == ["stuck"]]
        # Tries at about 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s; the next one, at 61.5 s, is past 60 s.
        self.assertEqual(len(tries), 7)
        self.assertEqual(expired_retrying["requestContext"]["approximateInvokeCount"], len(tries))


if __name__ == "__main__":
    unittest.main()
