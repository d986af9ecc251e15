#!/usr/bin/env python3
"""Dead and hostile functions at volume (issue 13): 10,000 invocations (by default) of functions
that refuse the connection, hang past the timeout, answer 500, answer 10 MB, close mid-response
or drip a byte every 100 ms, through the real esmd binary (build/esmd, or $ESMD_BIN). Prints
each behaviour's outcomes and esmd's RSS and open descriptors after warm-up, at the end and at
their peak. Bounded: every server and esmd bind 127.0.0.1 and stop at the end.

    bench/hostile_functions.py [TOTAL]
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("ESMD_BIN", os.path.join(HERE, "..", "build", "esmd"))

from esmd_harness import Esmd  # noqa: E402
from hostile_support import BEHAVIOURS, run  # noqa: E402


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    # The two that last the timeout plus esmd's 5 s grace get a smaller share.
    weights = {"refused": 6, "hang": 1, "status5xx": 6, "huge": 2, "cut": 6, "drip": 1}
    unit = total / sum(weights.values())
    counts = {b: max(1, round(weights[b] * unit)) for b in BEHAVIOURS}
    with Esmd(in_memory=True, transition_delay_ms=0) as esmd:
        report = run(esmd, counts, workers=50)
    print(f"{'behaviour':<10} {'count':>6} {'seconds':>8}  outcomes")
    for b, r in report["by_behaviour"].items():
        print(f"{b:<10} {r['count']:>6} {r['seconds']:>8}  {json.dumps(r['outcomes'])}")
    print(f"invocations {report['invocations']}, misclassified {len(report['wrong'])}")
    print(f"RSS KiB: after warm-up {report['base_rss_kib']}, end {report['end_rss_kib']}, peak {report['peak_rss_kib']}")
    print(f"open fds: after warm-up {report['base_fds']}, end {report['end_fds']}, peak {report['peak_fds']}")
    for w in report["wrong"]:
        print("WRONG:", w)
    return 1 if report["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
