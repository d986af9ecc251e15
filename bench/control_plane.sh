#!/usr/bin/env bash
# esmd vs moto, control plane: start-up, idle RSS, RSS with 10,000 mappings, Get/Update req/s.
# Builds esmd (Release, build-bench/), installs wrk if missing, then runs control_plane.py.
# Extra arguments go to control_plane.py (see --help there); the table is printed and written to
# bench/results/control_plane.md. Takes about three minutes.
set -euo pipefail

bench_name=control_plane
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_wrk
need_moto

# ESMD_BIN=/path/to/esmd measures that binary instead of building one.
esmd="$(esmd_binary)"

exec python3 "$here/control_plane.py" --esmd "$esmd" "$@"
