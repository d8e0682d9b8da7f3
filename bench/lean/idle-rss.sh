#!/usr/bin/env bash
# Idle RSS of the daemon: compiled JavaScript (bin/pxe-pilot.mjs, as production runs it) vs the
# TypeScript sources through tsx. Each starts on 127.0.0.1 with unprivileged ports (HTTP and
# TFTP, DHCP off) and a fresh state folder, answers GET /health once, then idles for 10 s
# before its VmRSS is read. Run after `npm ci && npm run build`. Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/p.ini" <<INI
[server]
address = 127.0.0.1
state_dir = $work/state
log_level = warn
[http]
port = 18090
bind = 127.0.0.1
[tftp]
port = 18069
bind = 127.0.0.1
root = $work
[dhcp]
mode = off
INI
measure() {
  local label=$1; shift
  rm -rf "$work/state"
  local t0; t0=$(date +%s%N)
  "$@" --config "$work/p.ini" > "$work/out.log" 2>&1 &
  pid=$!
  until curl -sf -o /dev/null http://127.0.0.1:18090/health; do
    kill -0 "$pid" 2> /dev/null || { echo "$label: exited"; cat "$work/out.log"; exit 1; }
    sleep 0.02
  done
  local ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  sleep 10
  echo "$label: idle RSS $(awk '/^VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$pid/status), start to healthy /health ${ready_ms} ms"
  kill "$pid"; wait "$pid" 2> /dev/null || true; pid=
}
measure "compiled (node bin/pxe-pilot.mjs)" node bin/pxe-pilot.mjs
measure "tsx (node --import tsx src/cli.ts)" node --import tsx src/cli.ts
