#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install, build, and start esmd on its embedded
# SQLite default (./.esmd). Arguments go to esmd, e.g. --port 9070 --function fn=builtin:ok.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh -DESMD_BUILD_TESTS=OFF
exec ./build/esmd "$@"
