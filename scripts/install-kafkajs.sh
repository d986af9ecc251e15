#!/usr/bin/env bash
# Installs kafkajs (pure JavaScript, no dependencies) from npm into tests/integration/.node
# (gitignored, nothing global) for the Kafka integration tests. Idempotent; a lock keeps two
# tests that call it at once under `ctest -j` from installing over each other.
set -euo pipefail
pkg="${KAFKAJS_PACKAGE:-kafkajs@2.2.4}"
dir="$(cd "$(dirname "$0")/.." && pwd)/tests/integration/.node"
want="${pkg##*@}"
installed() {
  [ -f "$dir/node_modules/kafkajs/package.json" ] &&
    node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
      "$dir/node_modules/kafkajs/package.json" "$want"
}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-kafkajs: node and npm are needed (scripts/install-deps.sh --test installs them)" >&2
  exit 1
fi
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock -w 300 9
if ! installed; then
  echo "install-kafkajs: installing $pkg into ${dir}"
  npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "$pkg" >/dev/null
fi
