#!/usr/bin/env bash
# The Kafka poller: records/s through MSK mappings on esmd's own broker to the no-op function
# (BatchSize 100 and 10,000), produce → invoke latency (window 0), and a plain confluent-kafka
# consumer group on the same broker as the peer, in one run. Builds esmd (Release, build-bench/)
# unless ESMD_BIN names a binary, installs python3-confluent-kafka if missing, then runs
# kafka_delivery.py under Debian's /usr/bin/python3 (where confluent-kafka imports). Extra
# arguments go to kafka_delivery.py (see --help there); the table is printed and written to
# bench/results/kafka_delivery.md. Takes about a minute.
set -euo pipefail

bench_name=kafka_delivery
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! dpkg-query -W -f='${Status}' python3-confluent-kafka 2>/dev/null | grep -q "install ok installed"; then
  echo "kafka_delivery: installing python3-confluent-kafka"
  apt_install python3-confluent-kafka
fi

# ESMD_BIN=/path/to/esmd measures that binary instead of building one.
esmd="$(esmd_binary)"

exec /usr/bin/python3 "$here/kafka_delivery.py" --esmd "$esmd" "$@"
