#!/usr/bin/env bash
# esmd vs moto, control plane: start-up, idle RSS, RSS with 10,000 mappings, Get/Update req/s.
# Builds esmd (Release, build-bench/), installs wrk if missing, then runs control_plane.py.
# Extra arguments go to control_plane.py (see --help there); the table is printed and written to
# bench/results/control_plane.md. Takes about three minutes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${ESMD_BENCH_BUILD_DIR:-$root/build-bench}"

if ! command -v wrk >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  echo "control_plane: installing wrk"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends wrk >/dev/null
fi
if ! python3 -c 'import moto.server' >/dev/null 2>&1; then
  echo "control_plane: moto is not installed (python3 -m moto.server); install it with pip install 'moto[server]'" >&2
  exit 1
fi

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DESMD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" >/dev/null

exec python3 "$here/control_plane.py" --esmd "$build/esmd" "$@"
