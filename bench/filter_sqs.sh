#!/usr/bin/env bash
# SQS delivery with FilterCriteria: 100,000 messages, 90% filtered out, through a mapping to
# builtin:ok, and the same without a filter for comparison. Builds esmd (Release, build-bench/)
# and runs filter_sqs.py; extra arguments go to it (see --help there). The table is printed and
# written to bench/results/filter_sqs.md. Also builds and runs the matcher's own benchmark,
# filter_bench (matches/s on one core). Takes a few minutes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${ESMD_BENCH_BUILD_DIR:-$root/build-bench}"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DESMD_BUILD_TESTS=OFF -DESMD_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target esmd filter_bench >/dev/null

echo "filter_bench (one core):"
"$build/bench/filter_bench"
echo
esmd="${ESMD_BIN:-$build/esmd}"
exec python3 "$here/filter_sqs.py" --esmd "$esmd" "$@"
