#!/usr/bin/env bash
# Configures and builds esmd into build/ (Release). Extra arguments go to the configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
# A build/ copied from another checkout or machine (e.g. `cp -a` of a working tree into a
# container) holds a CMake cache for a different source path or generator, which CMake
# refuses to reuse: start that build directory afresh.
if [ -f build/CMakeCache.txt ]; then
  cached_src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' build/CMakeCache.txt)
  cached_gen=$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' build/CMakeCache.txt)
  if [ -z "$cached_src" ] || [ "$(realpath -m "$cached_src")" != "$(pwd -P)" ] || [ "$cached_gen" != "Ninja" ]; then
    echo "build.sh: build/ was configured for ${cached_src:-?} (${cached_gen:-?}); starting it afresh" >&2
    rm -rf build
  fi
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$(nproc)"
