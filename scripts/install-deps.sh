#!/usr/bin/env bash
# Installs what esmd needs from Debian 12 packages. With --test, also what the tests and
# benchmarks use (the AWS CLI and boto3 only when the machine has none already).
set -euo pipefail

want_tests=0
for a in "$@"; do
  case "$a" in
    --test) want_tests=1 ;;
    *) echo "usage: $0 [--test]" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

pkgs=(g++ cmake ninja-build pkg-config libboost-dev libsqlite3-dev rapidjson-dev libspdlog-dev catch2 curl ca-certificates python3
      zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev libnghttp2-dev librdkafka-dev)
if [ "$want_tests" = 1 ]; then
  # podman-compose: the Docker test brings docker/compose.yaml up with it (the container
  # engine itself comes from ../shared/tools/container; without one that test is skipped).
  pkgs+=(procps podman-compose)
  # The fuzzers (bench/fuzz.sh, run briefly by scripts/test.sh): clang and its libFuzzer runtime.
  pkgs+=(clang libclang-rt-14-dev)
  # test_browser: headless Chromium calls esmd from a page of another origin.
  pkgs+=(chromium)
  command -v aws >/dev/null 2>&1 || pkgs+=(awscli)
  python3 -c 'import boto3' >/dev/null 2>&1 || pkgs+=(python3-boto3)
  # The Kafka tests' clients (they run under Debian's /usr/bin/python3, where these import):
  # kcat and confluent-kafka on librdkafka 2.0.2, kafka-python 2.0.2 and its optional codec
  # modules (without them it can only gzip),
  # and Node for kafkajs and the AWS SDK for JavaScript v3 (scripts/install-node-clients.sh below).
  pkgs+=(kcat python3-kafka python3-confluent-kafka python3-lz4 python3-snappy python3-zstandard)
  # NodeSource's nodejs ships npm and conflicts with Debian's npm package: ask only when missing.
  { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: no apt-get here; install these Debian 12 packages (or their equivalents) yourself" >&2
    exit 1
  fi
  if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: not root and no sudo; run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  $SUDO apt-get update -q -o Acquire::Retries=3 >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q -o Acquire::Retries=3 --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$want_tests" = 1 ]; then
  "$(dirname "$0")/install-node-clients.sh"
fi
