#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, -DESMD_FUZZ=ON with clang) into build-fuzz/ and runs
# each for the given time, one after the other, from its seed corpus (fuzz/corpus/<target>/;
# what a run finds is kept in build-fuzz/fuzz/corpus/<target>/, the seeds are not touched).
# Prints a table of executions per target and exits non-zero if any target crashed, leaving
# the crashing input in build-fuzz/fuzz/crashes/ (reproduce: build-fuzz/fuzz/fuzz_<target> <file>).
#
#   bench/fuzz.sh [seconds-per-target] [targets...]     default: 60 s, every target
#   bench/fuzz.sh 10                                    the brief run scripts/test.sh does
#
# ccache is used when present (set CCACHE_DIR to share a cache).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
[ $# -gt 0 ] && shift
all=(http_request sigv4 mapping_codec sqs_input kinesis_input filter classify kafka_request kafka_records)
targets=("$@")
[ "${#targets[@]}" -eq 0 ] && targets=("${all[@]}")

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: clang++ not found (the harnesses need clang's libFuzzer)" >&2
  exit 2
fi

dir=build-fuzz
if [ -f "$dir/CMakeCache.txt" ] && ! grep -q "^CMAKE_HOME_DIRECTORY:INTERNAL=$(pwd -P)$" "$dir/CMakeCache.txt"; then
  rm -rf "$dir"
fi
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$(pwd -P)")}"
fi
# -O1 -g: exact sanitizer reports, a short build on two cores.
cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DESMD_FUZZ=ON -DESMD_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

out="$dir/fuzz"
mkdir -p "$out/crashes" "$out/logs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
failed=()
rows=()
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t"
  log="$out/logs/$t.log"
  echo "fuzz.sh: $t for ${seconds}s"
  rc=0
  "$out/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=2560 \
      -artifact_prefix="$out/crashes/$t-" "$out/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  corpus=$(ls "$out/corpus/$t" | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="CRASH (exit $rc)"
    failed+=("$t")
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
    echo "fuzz.sh: $t crashed; input: ${crash:-see $log}" >&2
    grep -m1 -E "ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error" "$log" >&2 || true
  fi
  rows+=("$(printf '%-15s %6s %12s %10s %8s  %s' "$t" "$seconds" "${execs:-?}" \
            "$([ -n "$execs" ] && echo $((execs / seconds)) || echo ?)" "$corpus" "$result")")
done

printf '\n%-15s %6s %12s %10s %8s  %s\n' target secs executions execs/s corpus result
for r in "${rows[@]}"; do echo "$r"; done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: crashed: ${failed[*]} (inputs in $out/crashes/, logs in $out/logs/)" >&2
  exit 1
fi
