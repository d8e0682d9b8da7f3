#!/usr/bin/env bash
# 1 GB asset over HTTP on loopback: pxe-pilot (compiled, as production runs it) vs nginx (sendfile),
# alternating, ROUNDS rounds, curl to /dev/null. Prints every run with the load average, then the
# medians and their ratio, and the CPU time the daemon spent per download (user and system, from
# /proc: a figure the other load on a shared machine hardly moves). BENCH_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") go to node.
#   bash bench/http/asset.sh [ROUNDS=5]
# Needs curl, nginx (apt-get install curl nginx-light) and `npm run build`. Loopback only; ends what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
PORT=18082
NGINX_PORT=18083
work=$(mktemp -d /tmp/pxp-bench-asset.XXXXXX)
daemon=""
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for tool in curl nginx; do command -v "$tool" >/dev/null || { echo "needs $tool"; exit 1; }; done
[ -f dist/cli.js ] || { echo "run 'npm run build' first"; exit 1; }

mkdir -p "$work/assets/bench/1" "$work/state" "$work/www"
chmod 755 "$work" "$work/www"
head -c 1073741824 /dev/urandom > "$work/assets/bench/1/big.img"
echo kernel > "$work/assets/bench/1/vmlinuz"; echo initrd > "$work/assets/bench/1/initrd"
ln "$work/assets/bench/1/big.img" "$work/www/big.img"   # one file, one page cache for both servers
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
# shellcheck disable=SC2086
node ${BENCH_NODE_FLAGS:-} bin/pxe-pilot.mjs --config "$work/pxe-pilot.ini" > "$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; server { listen 127.0.0.1:$NGINX_PORT; root $work/www; } }
NGINX
nginx -c "$work/nginx.conf" -p "$work"
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$NGINX_PORT/big.img" -r 0-0 && break; sleep 0.1; done
cat "$work/www/big.img" > /dev/null   # in the page cache before the first timed run

# utime + stime of the daemon, in clock ticks (fields 14 and 15 of /proc/PID/stat; the name in
# field 2 has no spaces here).
cpu_ticks() { awk '{print $14, $15}' "/proc/$daemon/stat"; }
read -r user0 sys0 < <(cpu_ticks)
ours=(); theirs=()
for round in $(seq "$ROUNDS"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  a=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$PORT/assets/bench/1/big.img")
  b=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$NGINX_PORT/big.img")
  ours+=("$a"); theirs+=("$b")
  echo "round $round (load $load): pxe-pilot $((${a%.*} / 1000000)) MB/s, nginx $((${b%.*} / 1000000)) MB/s"
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mo=$(med "${ours[@]}"); mt=$(med "${theirs[@]}")
awk -v o="$mo" -v t="$mt" 'BEGIN { printf "median pxe-pilot %.0f MB/s, nginx %.0f MB/s, ratio %.2f\n", o/1e6, t/1e6, o/t }'
read -r user1 sys1 < <(cpu_ticks)
hz=$(getconf CLK_TCK)
awk -v u=$((user1 - user0)) -v s=$((sys1 - sys0)) -v hz="$hz" -v n="$ROUNDS" \
  'BEGIN { printf "daemon CPU per 1 GiB download: %.2f s user, %.2f s system\n", u/hz/n, s/hz/n }'
echo "daemon RSS after the runs: $(ps -o rss= -p "$daemon" | awk '{printf "%.0f MB", $1/1024}')"
