"""Dead and hostile functions (issue 13): connection refused, a hang past the timeout, a 5xx, a
10 MB response, a connection closed mid-response and a slow drip are each classified as Lambda
reports them, esmd keeps serving, and its RSS and open descriptors stay flat. A few hundred
invocations here; bench/hostile_functions.py runs 10,000."""
import unittest

from esmd_harness import Esmd
from hostile_support import run


class HostileFunctionsTest(unittest.TestCase):
    def test_each_failure_is_classified_and_nothing_leaks(self):
        with Esmd(in_memory=True, transition_delay_ms=0) as esmd:
            report = run(esmd, {"refused": 150, "hang": 50, "status5xx": 150, "huge": 30, "cut": 150, "drip": 50})
            self.assertEqual(report["wrong"], [], report)
            # Flat: descriptors back to the warmed-up baseline (pooled connections to the
            # targets that keep them open included), RSS within 32 MiB of it.
            self.assertLessEqual(report["end_fds"], report["base_fds"] + 8, report)
            self.assertLess(report["end_rss_kib"] - report["base_rss_kib"], 32 * 1024, report)
            self.assertEqual(esmd.http("GET", "/_esmd/health")[0], 200)


if __name__ == "__main__":
    unittest.main()
