#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install, build (warnings as errors) and run every
# test — Catch2 unit tests and the integration tests that drive the real esmd binary with the
# AWS CLI and boto3 — through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --test
./scripts/build.sh -DESMD_WERROR=ON -DESMD_BUILD_TESTS=ON
cd build
ctest --output-on-failure --timeout 900 -j 2 "$@"
