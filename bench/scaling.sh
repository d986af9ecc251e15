#!/usr/bin/env bash
# How esmd's cost grows with the work: 1 / 100 / 10,000 queues and mappings, 0 / 100,000 /
# 1,000,000 messages queued, 1 / 64 / 500 shards; RSS, CPU at rest and throughput at each step.
# Builds esmd (Release, build-bench/) unless --esmd PATH (or ESMD_BIN) names a binary, then runs
# scaling.py (extra arguments go to it; see --help there). The tables are printed and written to
# bench/results/scaling.md. Takes about ten minutes; --quick, about two.
set -euo pipefail

bench_name=scaling
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for arg in "$@"; do
  case "$arg" in
    --esmd | --esmd=* | -h | --help) exec python3 "$here/scaling.py" "$@" ;;
  esac
done

esmd="$(esmd_binary)"

exec python3 "$here/scaling.py" --esmd "$esmd" "$@"
