#!/usr/bin/env bash
# Kinesis data plane: PutRecord req/s and GetRecords records/s of esmd vs kinesalite vs moto, in
# one run. Builds esmd (Release, build-bench/), installs wrk if missing and kinesalite into
# bench/.node (npm, local, gitignored), then runs kinesis.py. Extra arguments go to kinesis.py
# (see --help there); the table is printed and written to bench/results/kinesis.md. Takes about
# two minutes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${ESMD_BENCH_BUILD_DIR:-$root/build-bench}"
node_dir="$here/.node"
kinesalite_pkg="${KINESALITE_PACKAGE:-kinesalite@3.3.3}"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
apt_install() {
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
if ! command -v wrk >/dev/null 2>&1; then
  echo "kinesis: installing wrk"
  apt_install wrk
fi
if ! python3 -c 'import moto.server' >/dev/null 2>&1; then
  echo "kinesis: moto is not installed (python3 -m moto.server); install it with pip install 'moto[server]'" >&2
  exit 1
fi
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
esmd="${ESMD_BIN:-}"
if [ -z "$esmd" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DESMD_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" >/dev/null
  esmd="$build/esmd"
fi

exec python3 "$here/kinesis.py" --esmd "$esmd" --node "$(command -v node)" "$@"
