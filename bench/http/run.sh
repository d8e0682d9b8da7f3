#!/usr/bin/env bash
# HTTP benchmark: pxe-pilot vs nginx, same machine, same client (wrk), one run, loopback only.
#  1. GET /boot?mac= for 10,000 known machines (pxe-pilot runs the policy and renders a script;
#     nginx serves a static script of the same size: the ceiling for "answer a small GET").
#  2. a 1 GB asset downloaded with curl (pxe-pilot streams it from [assets] dir; nginx sendfile).
# Needs: wrk, curl, nginx (apt-get install wrk curl nginx-light). Stops by itself; ends only what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
NODES=${BENCH_NODES:-10000}
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
PORT=18080
NGINX_PORT=18081
work=$(mktemp -d /tmp/pxp-bench-http.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for tool in wrk curl nginx; do command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install wrk curl nginx-light)"; exit 1; }; done

mkdir -p "$work/assets/bench/1" "$work/state" "$work/www"
# mktemp makes the folder 0700; nginx workers (run as nobody) must read the files.
chmod 755 "$work" "$work/www"
head -c 1073741824 /dev/zero > "$work/assets/bench/1/big.img"
echo kernel > "$work/assets/bench/1/vmlinuz"; echo initrd > "$work/assets/bench/1/initrd"
cp "$work/assets/bench/1/big.img" "$work/www/big.img"
node --import tsx bench/http/populate.ts "$work/state" "$NODES"

cat > "$work/pxe-pilot.ini" <<INI
[server]
address = 127.0.0.1
state_dir = $work/state
log_level = warn
[http]
port = $PORT
bind = 127.0.0.1
[tftp]
enabled = false
[boot]
unknown = local
[assets]
dir = $work/assets
[answers]
dir = $work/answers
INI
node --import tsx src/cli.ts --config "$work/pxe-pilot.ini" > "$work/daemon.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
# What nginx serves is what /boot answers for a known machine, so both send the same bytes.
curl -fs "http://127.0.0.1:$PORT/boot?mac=52-54-00-00-00-01" > "$work/www/boot"

cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  server { listen 127.0.0.1:$NGINX_PORT; root $work/www; location / { default_type text/plain; } }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$NGINX_PORT/boot" >/dev/null && break; sleep 0.1; done

# A short unmeasured run first, for both servers: the JIT and the page cache warm up.
BENCH_NODES=$NODES wrk -t2 -c"$CONNS" -d2s -s bench/http/boot-macs.lua "http://127.0.0.1:$PORT" > /dev/null
wrk -t2 -c"$CONNS" -d2s "http://127.0.0.1:$NGINX_PORT/boot" > /dev/null
echo "== GET /boot?mac= ($NODES nodes, wrk -t2 -c$CONNS -d$DURATION)"
BENCH_NODES=$NODES wrk -t2 -c"$CONNS" -d"$DURATION" -s bench/http/boot-macs.lua "http://127.0.0.1:$PORT" | tee "$work/wrk-pxe.txt"
echo "== nginx static script of the same size"
wrk -t2 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$NGINX_PORT/boot" | tee "$work/wrk-nginx.txt"

echo "== 1 GB asset, curl, 3 runs each"
for name in pxe-pilot nginx; do
  url="http://127.0.0.1:$PORT/assets/bench/1/big.img"; [ "$name" = nginx ] && url="http://127.0.0.1:$NGINX_PORT/big.img"
  for run in 1 2 3; do
    curl -s -o /dev/null -w "$name run $run: %{time_total} s, %{speed_download} B/s\n" "$url"
  done
done
echo "== daemon RSS after the runs: $(ps -o rss= -p "${pids[0]}" | awk '{printf "%.0f MB", $1/1024}')"
