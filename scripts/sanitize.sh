#!/usr/bin/env bash
# Builds esmd and its tests under the sanitizers and runs the unit tests plus a subset of the
# integration tests (the real binary driven by the AWS CLI and boto3) under each:
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer
#   build-tsan/  ThreadSanitizer
# Both turn the ESM_DCHECK contracts on. Usage: scripts/sanitize.sh [asan|tsan]... (default both).
# Assumes scripts/install-deps.sh --test has run.
set -euo pipefail
cd "$(dirname "$0")/.."

# The integration tests that cover every thread: the HTTP server, the DbWorker, both pollers
# and their invokers, restart and kill -9.
integration='integration\.test_(smoke|sqs_messages|sqs_poller_event|sqs_poller_lifecycle|kinesis_records|kinesis_poller_event|kinesis_poller_lifecycle|persistence|kafka_kcat|kafka_bad_input)$'

run() {
  local name=$1 sanitize=$2
  local dir="build-$name"
  if [ -f "$dir/CMakeCache.txt" ] && ! grep -q "^CMAKE_HOME_DIRECTORY:INTERNAL=$(pwd -P)$" "$dir/CMakeCache.txt"; then
    rm -rf "$dir"
  fi
  local launcher=()
  command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # -O1 keeps the sanitizers' reports exact and the build short on two cores.
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
        -DESMD_SANITIZE="$sanitize" -DESMD_WERROR=ON -DESMD_BUILD_TESTS=ON "${launcher[@]}" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
  echo "sanitize.sh: $name: unit tests and integration subset"
  (cd "$dir" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
      ctest --output-on-failure --timeout 900 -j 2 -E 'integration\.' && \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
      ctest --output-on-failure --timeout 900 -j 2 -R "$integration")
}

targets=("$@")
[ "${#targets[@]}" -eq 0 ] && targets=(asan tsan)
for t in "${targets[@]}"; do
  case "$t" in
    asan) run asan "address,undefined" ;;
    tsan) run tsan "thread" ;;
    *) echo "usage: $0 [asan|tsan]..." >&2; exit 2 ;;
  esac
done
