#!/usr/bin/env bash
# esmd's Kinesis data plane: records/s delivered through a Kinesis mapping (4 shards, BatchSize
# 100) to the no-op function, and the time bisect takes to isolate one poison record in a batch
# of 1,000. Builds esmd (Release, build-bench/) unless ESMD_BIN names a binary, then runs
# kinesis_delivery.py (extra arguments go to it; see --help there). The table is printed and
# written to bench/results/kinesis_delivery.md. Takes about a minute.
set -euo pipefail

bench_name=kinesis_delivery
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! python3 -c 'import boto3' >/dev/null 2>&1; then
  echo "kinesis_delivery: boto3 is missing (scripts/install-deps.sh installs python3-boto3)" >&2
  exit 1
fi

esmd="$(esmd_binary)"

exec python3 "$here/kinesis_delivery.py" --esmd "$esmd" "$@"
