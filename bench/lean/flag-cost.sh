#!/usr/bin/env bash
# What a node flag or environment setting costs the HTTP hot path, alternating in one run:
# GET /boot?mac= for 10,000 known MACs (the profile and Lua script of bench/http/state.sh known),
# compiled daemon, wrk -t2 -c32 -d5s after a 2 s warm-up. Prints req/s, the daemon's CPU time per
# request (utime+stime: less sensitive to other load than req/s) and its RSS after the run.
# Usage: bench/lean/flag-cost.sh ROUNDS SETTING...   a SETTING is node flags ("--v8-pool-size=1"),
# "E:NAME=VALUE" for an environment variable, or "none". Run `npm run build` first. Ends only what
# it started.
set -euo pipefail
rounds=${1:?usage: flag-cost.sh ROUNDS SETTING...}
shift
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
for tool in wrk curl; do command -v "$tool" > /dev/null || { echo "needs $tool"; exit 1; }; done
(cd "$here" && node --import tsx bench/http/populate.ts "$work/seed" 10000) > /dev/null
cat > "$work/p.ini" <<INI
[server]
address = 127.0.0.1
state_dir = $work/state
log_level = warn
[http]
port = 18600
bind = 127.0.0.1
[https]
enabled = false
[tftp]
enabled = false
[dhcp]
mode = off
[boot]
unknown = local
INI
tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
for r in $(seq "$rounds"); do
  for setting in "$@"; do
    flags=$setting envs=
    [ "$setting" = none ] && flags=
    case "$setting" in E:*) envs=${setting#E:} flags= ;; esac
    rm -rf "$work/state" && cp -r "$work/seed" "$work/state"
    # shellcheck disable=SC2086 # flags and envs are separate words
    env $envs node $flags "$here/bin/pxe-pilot.mjs" --config "$work/p.ini" > "$work/log" 2>&1 &
    pid=$!
    until curl -sf -o /dev/null http://127.0.0.1:18600/health; do
      kill -0 "$pid" 2> /dev/null || { cat "$work/log"; exit 1; }
      sleep 0.05
    done
    BENCH_NODES=10000 wrk -t2 -c32 -d2s -s "$here/bench/http/boot-macs.lua" http://127.0.0.1:18600 > /dev/null
    c0=$(cpu_ticks)
    BENCH_NODES=10000 wrk -t2 -c32 -d5s -s "$here/bench/http/boot-macs.lua" http://127.0.0.1:18600 > "$work/wrk.txt"
    c1=$(cpu_ticks)
    n=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
    us=$(awk -v c=$((c1 - c0)) -v t="$tck" -v n="$n" 'BEGIN {printf "%.1f", c / t * 1e6 / n}')
    rss=$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
    echo "round $r [$setting] $rps req/s, $us µs CPU/request, RSS after $rss MB, load $(cut -d' ' -f1 /proc/loadavg)"
    kill "$pid"; wait "$pid" 2> /dev/null || true; pid=
  done
done
