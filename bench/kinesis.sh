#!/usr/bin/env bash
# Kinesis data plane: PutRecord req/s and GetRecords records/s of esmd vs kinesalite vs moto, in
# one run. Builds esmd (Release, build-bench/), installs wrk if missing and kinesalite into
# bench/.node (npm, local, gitignored), then runs kinesis.py. Extra arguments go to kinesis.py
# (see --help there); the table is printed and written to bench/results/kinesis.md. Takes about
# two minutes.
set -euo pipefail

bench_name=kinesis
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
node_dir="$here/.node"
kinesalite_pkg="${KINESALITE_PACKAGE:-kinesalite@3.3.3}"

need_wrk
need_moto
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "kinesis: installing Node and npm"
  apt_install nodejs npm
fi
if [ ! -f "$node_dir/node_modules/kinesalite/package.json" ]; then
  echo "kinesis: installing $kinesalite_pkg into ${node_dir#"$root"/}"
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error "$kinesalite_pkg" >/dev/null
fi

# ESMD_BIN=/path/to/esmd measures that binary instead of building one.
esmd="$(esmd_binary)"

exec python3 "$here/kinesis.py" --esmd "$esmd" --node "$(command -v node)" "$@"
