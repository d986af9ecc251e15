#!/usr/bin/env bash
# Docker HEALTHCHECK for esmd: exits 0 when GET /_esmd/health answers 200 within 2 s (the
# image's HEALTHCHECK timeout is 3 s). Needs only bash and coreutils (no curl in the image). The
# port and host are the running esmd's own: its --port / --host flags, else its ESMD_PORT /
# ESMD_HOST environment (both read from /proc), else 9070 on loopback.
set -u
port=${ESMD_PORT:-9070}
host=${ESMD_HOST:-127.0.0.1}

# Find esmd: PID 1 normally, or a child of an init (docker run --init).
pid=""
for f in /proc/1/cmdline /proc/[0-9]*/cmdline; do
  mapfile -d '' -t argv 2>/dev/null < "$f" || continue
  for x in "${argv[@]}"; do
    if [ "${x##*/}" = esmd ]; then pid=${f#/proc/}; pid=${pid%/cmdline}; break 2; fi
  done
done
if [ -n "$pid" ]; then
  if mapfile -d '' -t envp 2>/dev/null < "/proc/$pid/environ"; then
    for e in "${envp[@]}"; do
      case "$e" in
        ESMD_PORT=?*) port=${e#ESMD_PORT=} ;;
        ESMD_HOST=?*) host=${e#ESMD_HOST=} ;;
      esac
    done
  fi
  for ((i = 0; i < ${#argv[@]}; i++)); do
    case "${argv[i]}" in
      --port) port=${argv[i+1]:-$port} ;;
      --port=*) port=${argv[i]#--port=} ;;
      --host) host=${argv[i+1]:-$host} ;;
      --host=*) host=${argv[i]#--host=} ;;
    esac
  done
fi
host=${host#[}; host=${host%]}
case "$host" in 0.0.0.0|::|'') host=127.0.0.1 ;; esac

exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /_esmd/health HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$host" "$port" >&3
IFS= read -r -t 2 status <&3 || { echo "esmd health: no answer on $host:$port" >&2; exit 1; }
case "$status" in
  "HTTP/1."?" 200 "*) exit 0 ;;
  *) echo "esmd health: ${status%$'\r'}" >&2; exit 1 ;;
esac
