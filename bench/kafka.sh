#!/usr/bin/env bash
# Kafka: kcat produce and consume of 1,000,000 small records, produce latency, start-up and idle
# RSS of esmd's broker vs librdkafka's in-memory mock cluster, in one run. Builds esmd (Release,
# build-bench/) and bench/kafka_mock.c (cc … -lrdkafka, into build-bench/), installs kcat,
# librdkafka-dev and python3-confluent-kafka if missing, then runs kafka.py under Debian's
# /usr/bin/python3 (where confluent-kafka imports). Extra arguments go to kafka.py (see --help
# there); the table is printed and written to bench/results/kafka.md. Takes about a minute.
set -euo pipefail

bench_name=kafka
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing=()
for p in kcat librdkafka-dev python3-confluent-kafka; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "kafka: installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

# ESMD_BIN=/path/to/esmd measures that binary instead of building one.
esmd="$(esmd_binary)"
mkdir -p "$build"
cc -O2 -Wall -o "$build/kafka_mock" "$here/kafka_mock.c" -lrdkafka

exec /usr/bin/python3 "$here/kafka.py" --esmd "$esmd" --mock "$build/kafka_mock" "$@"
