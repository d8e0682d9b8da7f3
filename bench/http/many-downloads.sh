#!/usr/bin/env bash
# A boot storm's asset downloads on loopback: CLIENTS concurrent curls of one 20 MB asset from
# pxe-pilot (compiled, as production runs it), sampling the daemon's VmRSS every 50 ms. Prints the
# RSS before, the peak during, how many downloads came back whole, and the load average.
#   bash bench/http/many-downloads.sh [CLIENTS=150] [RATE]
# RATE (curl --limit-rate, e.g. 20M) makes each client slower than loopback, as machines on a
# real network are: that is when a server buffers. Needs curl and `npm run build`. Loopback
# only; every curl has a time bound, and the script ends what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIENTS=${1:-150}
RATE=${2:-}
PORT=18086
work=$(mktemp -d /tmp/pxp-bench-many.XXXXXX)
daemon=""
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
command -v curl >/dev/null || { echo "needs curl"; exit 1; }
[ -f dist/cli.js ] || { echo "run 'npm run build' first"; exit 1; }
[ "$CLIENTS" -ge 1 ] && [ "$CLIENTS" -le 1000 ] || { echo "CLIENTS must be 1-1000"; exit 1; }

mkdir -p "$work/assets/bench/1" "$work/state" "$work/out"
head -c 20971520 /dev/urandom > "$work/assets/bench/1/initrd"
echo kernel > "$work/assets/bench/1/vmlinuz"
cat > "$work/pxe-pilot.ini" <<INI
[server]
address = 127.0.0.1
state_dir = $work/state
log_level = warn
[http]
port = $PORT
bind = 127.0.0.1
[https]
enabled = false
[tftp]
enabled = false
[boot]
unknown = local
[assets]
dir = $work/assets
[answers]
dir = $work/answers
INI
node bin/pxe-pilot.mjs --config "$work/pxe-pilot.ini" > "$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$PORT/assets/bench/1/initrd"
curl -fs -o /dev/null "$url"   # the file in the page cache, the route warmed once
rss() { awk '/^VmRSS/ {print $2}' "/proc/$daemon/status"; }
before=$(rss)
load=$(cut -d' ' -f1-3 /proc/loadavg)

started=$(date +%s.%N)
for i in $(seq "$CLIENTS"); do
  curl -s -o /dev/null --max-time 120 ${RATE:+--limit-rate "$RATE"} -w '%{http_code} %{size_download}\n' "$url" > "$work/out/$i" &
  pids+=($!)
done
peak=$before
while :; do
  now=$(rss)
  [ "$now" -gt "$peak" ] && peak=$now
  running=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
  [ "$running" -eq 0 ] && break
  sleep 0.05
done
seconds=$(printf "%.1f" "$(echo "$(date +%s.%N) - $started" | bc)")
whole=$(cat "$work/out/"* | grep -c '^200 20971520$' || true)
pids=()
echo "load $load; $CLIENTS clients${RATE:+ at $RATE/s each}: $whole whole downloads in ${seconds}s"
awk -v b="$before" -v p="$peak" 'BEGIN { printf "daemon VmRSS before %.0f MB, peak %.0f MB\n", b/1024, p/1024 }'
