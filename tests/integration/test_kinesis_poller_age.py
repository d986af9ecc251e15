"""The Kinesis poller and MaximumRecordAgeInSeconds (data-plane.md §3.3, §3.6c). AWS's smallest
limit is 60 s. Instead of waiting a minute, the test moves esmd's clock forward through its
test-only hook (ESMD_TEST_CLOCK_FILE + SIGUSR1, server/app.cc): each retry's backoff passes at
once, and the records age as they would. The same schedule is proven with fake time in
tests/pollers/kinesis_poller_test.cc."""
import os
import signal
import tempfile
import time
import unittest

from esmd_harness import Esmd, wait_until
from kinesis_poller_support import KinesisTestCase, data_of, fail_if_data_contains

# The stuck record's backoffs after each failed try (0.5 s doubling, stream_policy.h), then the
# 30 s cap that takes the eighth try past the 60 s limit.
BACKOFFS_MS = [500, 1000, 2000, 4000, 8000, 16000]
CAP_MS = 30000


class KinesisRecordAgeTest(KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        fd, cls.clock_file = tempfile.mkstemp(prefix="esmd-clock-")
        os.close(fd)
        cls.offset_ms = 0
        cls.esmd = Esmd(*cls.esmd_args, in_memory=cls.in_memory, transition_delay_ms=cls.transition_delay_ms,
                        env={"ESMD_TEST_CLOCK_FILE": cls.clock_file}).start()
        cls.sqs = cls.esmd.client("sqs")
        cls.lam = cls.esmd.client("lambda")
        cls.kin = cls.esmd.client("kinesis")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        os.unlink(cls.clock_file)

    def full_log(self):
        with open(self.esmd.log_path) as f:
            return f.read()

    def move_clock(self, ms):
        """Moves esmd's clock forward by ms; returns once esmd logged the new offset."""
        type(self).offset_ms += ms
        with open(self.clock_file, "w") as f:
            f.write(str(self.offset_ms))
        os.kill(self.esmd.proc.pid, signal.SIGUSR1)
        wait_until(lambda: f"test clock: offset {self.offset_ms} ms" in self.full_log(), timeout=10,
                   message=f"esmd took the clock offset {self.offset_ms}")

    def test_records_past_the_age_limit_are_dropped_one_by_one_and_reported(self):
        # Two cases at once: a record that expires while its batch keeps failing, and a record
        # that is already too old when the mapping starts, followed by young ones.
        old_stream, old_arn = self.make_stream(1)
        stuck_stream, stuck_arn = self.make_stream(1)
        url, dlq = self.dlq()
        destination = {"OnFailure": {"Destination": dlq}}
        self.fn.behave(fail_if_data_contains("stuck"))
        old = self.put(old_stream, ["old"], key="k")
        stuck = self.put(stuck_stream, ["stuck"], key="k")
        self.make_kinesis_mapping(stuck_arn, MaximumRecordAgeInSeconds=60, MaximumRetryAttempts=-1,
                                  DestinationConfig=destination)

        def tries():
            return [c for c in self.fn.calls() if [data_of(r) for r in c.records] == ["stuck"]]

        # After each failed try, its backoff passes at once. The pause lets esmd take the failed
        # answer before the clock moves; a late one only costs real time (the backoff then runs
        # on the real clock), with 28 s of margin on the schedule below.
        for n, backoff in enumerate(BACKOFFS_MS, start=1):
            wait_until(lambda: len(tries()) >= n, timeout=30, message=f"try {n} of the stuck record")
            time.sleep(0.2)
            self.move_clock(backoff)
        wait_until(lambda: len(tries()) >= 7, timeout=30, message="try 7 of the stuck record")
        time.sleep(0.2)
        self.move_clock(CAP_MS)

        young = [f"young-{i}" for i in range(5)]
        self.put(old_stream, young, key="k")
        self.make_kinesis_mapping(old_arn, MaximumRecordAgeInSeconds=60, DestinationConfig=destination)
        records = self.receive_all(url, 2, timeout=40)
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
        # Tries at about 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s; the next one, at 61.5 s, is past 60 s.
        self.assertEqual(len(tries()), 7)
        self.assertEqual(expired_retrying["requestContext"]["approximateInvokeCount"], len(tries()))


if __name__ == "__main__":
    unittest.main()
