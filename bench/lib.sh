# Shared by the bench/*.sh scripts: sourced after `set -euo pipefail`, with `bench_name` set to
# the script's name for its messages. Defines here, root and build (ESMD_BENCH_BUILD_DIR, else
# build-bench/), and:
#   apt_install PKG...   Debian packages, through sudo when not root
#   need_wrk             installs Debian's wrk if it is missing
#   need_moto            fails unless `python3 -m moto.server` can run
#   esmd_binary          prints $ESMD_BIN, or builds esmd in Release into $build and prints its path

here="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
root="$(dirname "$here")"
build="${ESMD_BENCH_BUILD_DIR:-$root/build-bench}"

apt_install() {
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

need_wrk() {
  if ! command -v wrk >/dev/null 2>&1; then
    echo "$bench_name: installing wrk"
    apt_install wrk
  fi
}

need_moto() {
  if ! python3 -c 'import moto.server' >/dev/null 2>&1; then
    echo "$bench_name: moto is not installed (python3 -m moto.server); install it with pip install 'moto[server]'" >&2
    exit 1
  fi
}

esmd_binary() {
  if [ -n "${ESMD_BIN:-}" ]; then
    echo "$ESMD_BIN"
    return
  fi
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DESMD_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" >/dev/null
  echo "$build/esmd"
}
