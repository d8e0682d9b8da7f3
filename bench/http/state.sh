#!/usr/bin/env bash
# The state hot paths over HTTP, one wrk run per case, loopback only, against the pxe-pilot in
# TREE (default: this checkout; give an older checkout to compare in the same session):
#  first-seen  GET /boot?mac= for BENCH_MACS (10,240) machines never seen, fresh state folder
#  known       GET /boot?mac= for BENCH_NODES (10,000) machines already in the table
#  answer      POST /answer for one machine with a hosts/<mac>.toml answer file; its install
#              ([host] action = install) is consumed by the first request, once
# Usage: bench/http/state.sh [TREE] [CASE...]   Needs wrk and curl. Ends only what it started.
# BENCH_COMPILED=1: the compiled daemon (run `npm run build` in TREE first), as production runs it.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
tree=$(cd "${1:-$here}" && pwd)
shift || true
cases=("${@:-first-seen known answer}")
read -r -a cases <<< "${cases[*]}"
NODES=${BENCH_NODES:-10000}
MACS=${BENCH_MACS:-10240}
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-32}
PORT=${BENCH_PORT:-18090}
ANSWER_MAC=94:40:c9:3a:51:10
work=$(mktemp -d /tmp/pxp-bench-state.XXXXXX)
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for tool in wrk curl; do command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install wrk curl)"; exit 1; }; done

mkdir -p "$work/assets/proxmox-ve/9.1-1" "$work/answers/hosts"
echo kernel > "$work/assets/proxmox-ve/9.1-1/vmlinuz"; echo initrd > "$work/assets/proxmox-ve/9.1-1/initrd"
cat > "$work/answers/hosts/${ANSWER_MAC//:/-}.toml" <<TOML
[global]
keyboard = "en-us"
country = "us"
fqdn = "{{hostname}}.rack.example"
mailto = "root@rack.example"
timezone = "UTC"
root-password-hashed = "\$6\$bench\$x"
[network]
source = "from-dhcp"
[disk-setup]
filesystem = "ext4"
disk-list = ["sda"]
TOML
cp "$here/test/fixtures/proxmox/answer-request-9.1.json" "$work/answer-request.json"

# Trees with HTTPS (on by default, answers then refused over plain HTTP): the bench speaks plain HTTP.
https_off=
grep -q '^\[https\]' "$tree/etc/pxe-pilot.ini" && https_off=$'[https]\nenabled = false\n'

start_daemon() { # state folder
  cat > "$work/pxe-pilot.ini" <<INI
[server]
address = 127.0.0.1
state_dir = $1
log_level = warn
[http]
port = $PORT
bind = 127.0.0.1
$https_off[tftp]
enabled = false
[boot]
unknown = local
[assets]
dir = $work/assets
[answers]
dir = $work/answers
[host $ANSWER_MAC]
hostname = pve1
action = install
profile = proxmox-ve/9.1-1
INI
  # BENCH_COMPILED=1 runs the daemon as production does (dist/, built by `npm run build`).
  if [ -n "${BENCH_COMPILED:-}" ]; then
    (cd "$tree" && exec node ${BENCH_NODE_FLAGS:-} bin/pxe-pilot.mjs --config "$work/pxe-pilot.ini") > "$work/daemon.log" 2>&1 &
  else
    (cd "$tree" && exec node ${BENCH_NODE_FLAGS:-} --import tsx src/cli.ts --config "$work/pxe-pilot.ini") > "$work/daemon.log" 2>&1 &
  fi
  daemon=$!
  for _ in $(seq 150); do curl -fs "http://127.0.0.1:$PORT/health" > /dev/null && return; sleep 0.1; done
  echo "daemon did not start:"; cat "$work/daemon.log"; exit 1
}
stop_daemon() {
  kill "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=
}
rate() { awk '/Requests\/sec/ {print $2}' "$1"; }

echo "tree: $tree ($(git -C "$tree" rev-parse --short HEAD))"
for c in "${cases[@]}"; do
  state="$work/state-$c"
  case "$c" in
    first-seen)
      start_daemon "$state"
      echo "== $c: GET /boot?mac=, $MACS first-seen MACs, wrk -t2 -c$CONNS, load: $(uptime | sed 's/.*load average: //')"
      # wrk's threads stop after their share, but wrk waits out -d: its rate would be diluted. The
      # rate is the node table's: first sights over the time from the first to the last.
      BENCH_MACS=$MACS BENCH_THREADS=2 wrk -t2 -c"$CONNS" -d300s -s "$here/bench/http/first-seen-macs.lua" "http://127.0.0.1:$PORT" > "$work/wrk.txt" &
      wrk_pid=$!
      # (A request wrk gave up on may never reach the table: 99% of the MACs end the wait.)
      until [ "$(curl -fs "http://127.0.0.1:$PORT/nodes?limit=1" | grep -o '"total":[0-9]*' | cut -d: -f2)" -ge $((MACS * 99 / 100)) ] 2> /dev/null; do
        kill -0 "$wrk_pid" 2> /dev/null || break
        sleep 0.2
      done
      sleep 1
      kill "$wrk_pid" 2> /dev/null || true
      wait "$wrk_pid" 2> /dev/null || true
      stop_daemon
      (cd "$tree" && node -e '
        const db = require("better-sqlite3")(process.argv[1], { readonly: true });
        const r = db.prepare("SELECT COUNT(*) AS n, MIN(first_seen) AS a, MAX(first_seen) AS b FROM nodes").get();
        console.log(`${r.n} first sights in ${r.b - r.a} ms`);
        console.log(`RESULT first-seen ${Math.round(r.n / ((r.b - r.a) / 1000))}`);' "$state/pxe-pilot.sqlite")
      continue
      ;;
    known)
      (cd "$tree" && node --import tsx "$here/bench/http/populate.ts" "$state" "$NODES" "$tree") > /dev/null
      start_daemon "$state"
      BENCH_NODES=$NODES wrk -t2 -c"$CONNS" -d2s -s "$here/bench/http/boot-macs.lua" "http://127.0.0.1:$PORT" > /dev/null
      echo "== $c: GET /boot?mac=, $NODES known MACs, wrk -t2 -c$CONNS -d$DURATION, load: $(uptime | sed 's/.*load average: //')"
      BENCH_NODES=$NODES wrk -t2 -c"$CONNS" -d"$DURATION" -s "$here/bench/http/boot-macs.lua" "http://127.0.0.1:$PORT" > "$work/wrk.txt"
      ;;
    answer)
      start_daemon "$state"
      # The first fetch consumes the install; every later one is served without consuming again.
      curl -fs -o /dev/null -X POST -H 'Content-Type: application/json' --data @"$work/answer-request.json" "http://127.0.0.1:$PORT/answer"
      echo "== $c: POST /answer, one machine, hosts/ file, install consumed once, wrk -t2 -c$CONNS -d$DURATION, load: $(uptime | sed 's/.*load average: //')"
      BENCH_ANSWER_BODY="$work/answer-request.json" wrk -t2 -c"$CONNS" -d"$DURATION" -s "$here/bench/http/answer.lua" "http://127.0.0.1:$PORT/answer" > "$work/wrk.txt"
      state_now=$(curl -fs "http://127.0.0.1:$PORT/nodes/$ANSWER_MAC" | grep -o '"state":"[a-z-]*"' | head -1 || true)
      echo "node after the run: $state_now"
      ;;
    *) echo "unknown case $c (first-seen, known, answer)"; exit 2 ;;
  esac
  grep -E "Requests/sec|requests in|Non-2xx|Socket errors|Latency" "$work/wrk.txt"
  echo "RESULT $c $(rate "$work/wrk.txt")"
  stop_daemon
done
