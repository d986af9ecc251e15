#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install, build (warnings as errors) and run every
# test — Catch2 unit tests and the integration tests that drive the real esmd binary with the
# AWS CLI and boto3 — through CTest, then the sanitizer builds (scripts/sanitize.sh) and a brief
# run of the fuzzers (bench/fuzz.sh 10).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --test
./scripts/build.sh -DESMD_WERROR=ON -DESMD_BUILD_TESTS=ON
# The integration tests use whatever AWS CLI and boto3 the machine has (Debian 12's are
# aws-cli 2.9 and boto3 1.26); say which, since models and output formats differ by version.
echo "test.sh: $(aws --version 2>&1 | head -n1); boto3 $(python3 -c 'import boto3; print(boto3.__version__)' 2>&1 | tail -n1)"
(cd build && ctest --output-on-failure --timeout 900 -j 2 "$@")
# The same unit tests and a subset of the integration tests again under AddressSanitizer +
# UBSan and under ThreadSanitizer, with the ESM_DCHECK contracts on (ESMD_SKIP_SANITIZERS=1
# skips them, e.g. for a quick local run).
if [ "${ESMD_SKIP_SANITIZERS:-0}" != 1 ]; then
  ./scripts/sanitize.sh
  # Then every libFuzzer harness (fuzz/) for 10 s from its seeds; they need clang's libFuzzer.
  if command -v clang++ >/dev/null 2>&1; then
    ./bench/fuzz.sh 10
  else
    echo "test.sh: clang++ not found: skipping the fuzzing run (bench/fuzz.sh)"
  fi
fi
