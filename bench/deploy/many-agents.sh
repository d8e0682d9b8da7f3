#!/usr/bin/env bash
# bench/deploy/many-agents.sh: many deploy agents at once (issue 26). CLIENTS simulated agents
# (curl processes, one connection each, to /dev/null) fetch the same ~1 GiB disk image at the same
# moment, from pxe-pilot's /assets/ route (the URL the deploy plan gives the agent; the image added
# with `pxe-pilot assets add --kind disk-image`, the daemon on a temporary profile bound to
# 127.0.0.1, DHCP and TFTP off) and from nginx (sendfile, 2 workers, its own temporary config on
# 127.0.0.1) serving the same file (one inode, so one page cache). The two take turns, each round
# starting with the other one, ROUNDS rounds each. Per run: aggregate MB/s (all bytes / wall time
# from the first request to the last byte), the median and slowest client's time, whole downloads,
# the server's peak RSS (VmRSS of its processes summed, sampled every 100 ms) and the CPU seconds it
# used; then the medians and the ratios pxe-pilot / nginx. `uptime` before and after.
#
# Usage: bash bench/deploy/many-agents.sh [ROUNDS=3] [CLIENTS=50] [--keep]
#   ROUNDS   runs of each server (1..10); CLIENTS agents at once (1..200).
#   --keep   keep the image in tmp/bench-many-agents-image/ and reuse it next time (else removed).
# Environment: BENCH_IMAGE_MIB (default 1024), BENCH_PORT (default 18087; nginx the next port),
# BENCH_MAX_TIME (seconds any one download may take, default 300). Needs curl, nginx, zstd, node,
# `npm ci`; uses dist/ when `npm run build` made it (as production runs), the sources through tsx
# otherwise. Loopback only. Everything it started (daemon, nginx, curls) is ended by pid and its
# work folder removed at the end, also on failure or Ctrl-C. Watch `df -h` for the image (~1 GiB).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
. bench/lib/loopback-profile.sh
ROUNDS=3
CLIENTS=50
KEEP=0
positional=()
for a in "$@"; do
  case "$a" in
    --keep) KEEP=1 ;;
    *[!0-9]* | '') echo "usage: bash bench/deploy/many-agents.sh [ROUNDS=3] [CLIENTS=50] [--keep]" >&2; exit 2 ;;
    *) positional+=("$a") ;;
  esac
done
[ "${#positional[@]}" -ge 1 ] && ROUNDS=${positional[0]}
[ "${#positional[@]}" -ge 2 ] && CLIENTS=${positional[1]}
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 10 ] || { echo "ROUNDS is 1..10" >&2; exit 2; }
[ "$CLIENTS" -ge 1 ] && [ "$CLIENTS" -le 200 ] || { echo "CLIENTS is 1..200" >&2; exit 2; }
MIB=${BENCH_IMAGE_MIB:-1024}
[ "$MIB" -ge 1 ] 2>/dev/null || { echo "BENCH_IMAGE_MIB is a whole number of MiB" >&2; exit 2; }
PORT=${BENCH_PORT:-18087}
NGINX_PORT=$((PORT + 1))
MAX_TIME=${BENCH_MAX_TIME:-300}
for tool in curl nginx zstd node; do command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }; done

work=$repo/tmp/bench-many-agents
keepdir=$repo/tmp/bench-many-agents-image
git check-ignore -q tmp/bench-many-agents || { echo "tmp/ is not gitignored here: refusing to write 1 GiB into the tree" >&2; exit 1; }
daemon=""
curls=()
cleanup() {
  local rc=$?
  for p in "${curls[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true; fi
  if [ -f "$work/nginx/nginx.pid" ]; then kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true; fi
  # nginx's master removes its pid file when it has stopped: wait for that (bounded) before rm.
  for _ in $(seq 50); do [ -f "$work/nginx/nginx.pid" ] || break; sleep 0.1; done
  rm -rf "$work"
  [ "$KEEP" = 1 ] || rm -rf "$keepdir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$work"
mkdir -p "$work/state" "$work/answers" "$work/out" "$work/nginx/tmp"
fs=$(stat -f -c %T "$repo/tmp")
case "$fs" in tmpfs | ramfs) echo "tmp/ is on $fs: the image must be on a disk" >&2; exit 1 ;; esac
echo "load before: $(uptime)"
echo "disk: $(df -h --output=source,avail "$repo/tmp" | tail -1)"

loopback_profile "$work/state" "$PORT" "$keepdir/assets" "$work/answers" > "$work/pxe-pilot.ini"

# The image: a partition table's signature and random bytes through zstd (incompressible, so the .zst is the size asked for), added
# as the deploy agent's image is. Made once; --keep keeps it with its manifest for the next run.
image_bytes=$((MIB * 1048576))
if [ -f "$keepdir/assets/bench/1/image.json" ] && [ "$(cat "$keepdir/raw-bytes" 2>/dev/null)" = "$image_bytes" ]; then
  echo "image: reusing $keepdir"
else
  rm -rf "$keepdir"
  mkdir -p "$keepdir/assets"
  echo "image: an MBR signature, then $MIB MiB of random bytes, zstd -1"
  { head -c 510 /dev/zero; printf '\x55\xaa'; head -c $((image_bytes - 512)) /dev/urandom; } | zstd -1 -T0 -q -o "$keepdir/disk.raw.zst"
  echo "image: pxe-pilot assets add … --kind disk-image --product bench --version 1"
  npx tsx src/cli.ts assets add "$keepdir/disk.raw.zst" --kind disk-image --product bench --version 1 --config "$work/pxe-pilot.ini" > "$work/assets-add.log" 2>&1 ||
    { cat "$work/assets-add.log" >&2; exit 1; }
  rm -f "$keepdir/disk.raw.zst"
  echo "$image_bytes" > "$keepdir/raw-bytes"
fi
file=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).disk.file)' "$keepdir/assets/bench/1/image.json")
size=$(stat -c %s "$keepdir/assets/bench/1/$file")
echo "image: /assets/bench/1/$file, $size bytes on $fs"

if [ -f dist/cli.js ]; then runner=(node bin/pxe-pilot.mjs); else runner=(node --import tsx src/cli.ts); fi
"${runner[@]}" --config "$work/pxe-pilot.ini" > "$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/health" > /dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$PORT/health" > /dev/null || { cat "$work/daemon.log" >&2; exit 1; }

# nginx as root must be told to keep root for its workers (the image is under a root-owned tree).
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
cat > "$work/nginx/nginx.conf" <<NGINX
$user_line
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp;
  scgi_temp_path $work/nginx/tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location /assets/ { alias $keepdir/assets/; }
  }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx"
path=/assets/bench/1/$file
for _ in $(seq 50); do curl -fs -o /dev/null -r 0-0 "http://127.0.0.1:$NGINX_PORT$path" && break; sleep 0.1; done
curl -fs -o /dev/null -r 0-0 "http://127.0.0.1:$NGINX_PORT$path" || { cat "$work/nginx/error.log" >&2; exit 1; }
nginx_master=$(cat "$work/nginx/nginx.pid")
cat "$keepdir/assets/bench/1/$file" > /dev/null # in the page cache before the first timed run
echo "servers: ${runner[*]} (pid $daemon) on 127.0.0.1:$PORT, nginx (master $nginx_master, 2 workers) on 127.0.0.1:$NGINX_PORT; $CLIENTS clients per run"

# The pids of a server: the daemon; nginx's master and its workers.
server_pids() {
  if [ "$1" = pxe-pilot ]; then echo "$daemon"; else echo "$nginx_master $(cat "/proc/$nginx_master/task/$nginx_master/children" 2>/dev/null)"; fi
}
rss_kb() { local sum=0 p v; for p in "$@"; do v=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0); sum=$((sum + ${v:-0})); done; echo "$sum"; }
cpu_ticks() { local sum=0 p; for p in "$@"; do sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$sum"; }
hz=$(getconf CLK_TCK)

# One run: CLIENTS curls at once; prints "MB/s median_s slowest_s whole peak_rss_mb cpu_s".
run_once() {
  local server=$1 port url pids t0 t1 peak now running ticks0 ticks1
  if [ "$server" = pxe-pilot ]; then port=$PORT; else port=$NGINX_PORT; fi
  url="http://127.0.0.1:$port$path"
  read -ra pids <<< "$(server_pids "$server")"
  rm -f "$work/out/"*
  ticks0=$(cpu_ticks "${pids[@]}")
  peak=$(rss_kb "${pids[@]}")
  t0=$(date +%s%N)
  curls=()
  for i in $(seq "$CLIENTS"); do
    curl -s -o /dev/null --max-time "$MAX_TIME" -w '%{http_code} %{size_download} %{time_total}\n' "$url" > "$work/out/$i" &
    curls+=($!)
  done
  while :; do
    now=$(rss_kb "${pids[@]}")
    [ "$now" -gt "$peak" ] && peak=$now
    running=0
    for p in "${curls[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
    [ "$running" -eq 0 ] && break
    sleep 0.1
  done
  t1=$(date +%s%N)
  for p in "${curls[@]}"; do wait "$p" || true; done
  curls=()
  ticks1=$(cpu_ticks "${pids[@]}")
  local bytes whole med slow
  read -r bytes whole < <(cat "$work/out/"* | awk -v size="$size" '{ b += $2; if ($1 == 200 && $2 == size) w++ } END { printf "%.0f %d\n", b, w }')
  read -r med slow < <(cat "$work/out/"* | awk '{ print $3 }' | sort -n | awk '{ t[NR] = $1 } END { printf "%.2f %.2f\n", (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2, t[NR] }')
  awk -v b="$bytes" -v ns=$((t1 - t0)) -v med="$med" -v slow="$slow" -v whole="$whole" -v peak="$peak" -v cpu=$((ticks1 - ticks0)) -v hz="$hz" \
    'BEGIN { printf "%.0f %s %s %d %.0f %.2f\n", b / (ns / 1e9) / 1e6, med, slow, whole, peak / 1024, cpu / hz }'
}

servers=(pxe-pilot nginx)
declare -A mbs_of med_of slow_of rss_of cpu_of
all_whole=1
for round in $(seq "$ROUNDS"); do
  k=$(((round - 1) % 2))
  for s in "${servers[@]:k}" "${servers[@]:0:k}"; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    # Not in a subshell: the curls' pids stay known to cleanup.
    run_once "$s" > "$work/run"
    read -r mbs med slow whole rss cpu < "$work/run"
    [ "$whole" = "$CLIENTS" ] || all_whole=0
    mbs_of[$s]+="$mbs " med_of[$s]+="$med " slow_of[$s]+="$slow " rss_of[$s]+="$rss " cpu_of[$s]+="$cpu "
    printf 'round %d/%d  %-9s %6s MB/s  client median %6s s, slowest %6s s  %d/%d whole  peak RSS %4s MB  CPU %6s s  (load %s)\n' \
      "$round" "$ROUNDS" "$s" "$mbs" "$med" "$slow" "$whole" "$CLIENTS" "$rss" "$cpu" "$load"
  done
done

# shellcheck disable=SC2086
med() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# shellcheck disable=SC2086
max() { printf '%s\n' $1 | sort -n | tail -1; }
awk -v pm="$(med "${mbs_of[pxe-pilot]}")" -v nm="$(med "${mbs_of[nginx]}")" \
  -v pt="$(med "${med_of[pxe-pilot]}")" -v nt="$(med "${med_of[nginx]}")" \
  -v ps="$(med "${slow_of[pxe-pilot]}")" -v ns="$(med "${slow_of[nginx]}")" \
  -v pr="$(max "${rss_of[pxe-pilot]}")" -v nr="$(max "${rss_of[nginx]}")" \
  -v pc="$(med "${cpu_of[pxe-pilot]}")" -v nc="$(med "${cpu_of[nginx]}")" -v n="$CLIENTS" -v r="$ROUNDS" 'BEGIN {
  printf "medians of %d runs, %d clients each:\n", r, n
  printf "  aggregate: pxe-pilot %.0f MB/s, nginx %.0f MB/s, ratio %.2f\n", pm, nm, pm / nm
  printf "  client time (median of the runs'\'' medians): pxe-pilot %.2f s, nginx %.2f s, ratio %.2f; slowest client %.2f s, %.2f s\n", pt, nt, pt / nt, ps, ns
  printf "  peak RSS (highest of the runs): pxe-pilot %.0f MB, nginx %.0f MB (master + workers)\n", pr, nr
  printf "  server CPU per run: pxe-pilot %.2f s, nginx %.2f s\n", pc, nc }'
echo "load after: $(uptime)"
[ "$all_whole" = 1 ] || { echo "some downloads were not whole (see the rounds above)" >&2; exit 1; }
