#!/usr/bin/env bash
# Installs the JavaScript clients the integration tests drive esmd with, pinned, from npm into
# tests/integration/.node (gitignored, nothing global): kafkajs (pure JavaScript) for the Kafka
# listener and the AWS SDK for JavaScript v3 (client-lambda, client-sqs, client-kinesis) for the
# HTTP APIs. One `npm install` of the whole list, since npm prunes what a later install does
# not name. Idempotent; a lock keeps two tests that call it at once under `ctest -j` from
# installing over each other.
set -euo pipefail
# The SDK's packages are released separately, each at its own version.
pkgs=(kafkajs@2.2.4 @aws-sdk/client-lambda@3.1164.0 @aws-sdk/client-sqs@3.1175.0 @aws-sdk/client-kinesis@3.1143.0)
dir="$(cd "$(dirname "$0")/.." && pwd)/tests/integration/.node"
installed() {
  local p name version
  for p in "${pkgs[@]}"; do
    name="${p%@*}" version="${p##*@}"
    [ -f "$dir/node_modules/$name/package.json" ] || return 1
    node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
      "$dir/node_modules/$name/package.json" "$version" || return 1
  done
}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-node-clients: node and npm are needed (scripts/install-deps.sh --test installs them)" >&2
  exit 1
fi
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock -w 600 9
if ! installed; then
  echo "install-node-clients: installing ${pkgs[*]} into ${dir}"
  npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "${pkgs[@]}" >/dev/null
fi
