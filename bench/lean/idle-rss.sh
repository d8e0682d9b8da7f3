#!/usr/bin/env bash
# Idle RSS of the daemon: compiled JavaScript as the systemd unit runs it (its node flags, read
# from systemd/pxe-pilot.service), the same without those flags (`node bin/pxe-pilot.mjs`, as
# `npm start` runs it), and the TypeScript sources through tsx. Each starts on 127.0.0.1 with
# unprivileged ports (HTTP, HTTPS and TFTP, DHCP off) and a fresh state folder, answers
# GET /health once, then idles: VmRSS is read after 10 s and, for the compiled runs, again at
# 40 s, once V8's memory reducer has given back what start-up left (it runs ~25 s after start).
# Run after `npm ci && npm run build`. Stops what it started.
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
[https]
port = 18443
[tftp]
port = 18069
bind = 127.0.0.1
root = $work
[dhcp]
mode = off
INI
# The flags between /usr/bin/node and the script in the unit's ExecStart line.
unit_flags=$(sed -n 's|^ExecStart=/usr/bin/node \(.*[^ ]\) */opt/pxe-pilot/bin/pxe-pilot.mjs .*|\1|p' systemd/pxe-pilot.service)
rss() { awk '/^VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status"; }
measure() { # label settle-seconds command...
  local label=$1 settle=$2; shift 2
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
  local line="$label: idle RSS $(rss) at 10 s"
  if [ "$settle" -gt 10 ]; then
    sleep $((settle - 10))
    line="$line, $(rss) at ${settle} s"
  fi
  echo "$line; start to healthy /health ${ready_ms} ms"
  kill "$pid"; wait "$pid" 2> /dev/null || true; pid=
}
# shellcheck disable=SC2086 # the unit's flags are separate words
measure "compiled, as the unit runs it (node ${unit_flags:+$unit_flags }bin/pxe-pilot.mjs)" 40 node $unit_flags bin/pxe-pilot.mjs
measure "compiled (node bin/pxe-pilot.mjs)" 40 node bin/pxe-pilot.mjs
measure "tsx (node --import tsx src/cli.ts)" 10 node --import tsx src/cli.ts
