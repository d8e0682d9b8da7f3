#!/usr/bin/env bash
# Every row of issue 12's table, one after another, each against its peer in the same run, with
# the load average before each. Not a test: prints what each bench prints. As root (namespaces);
# needs `npm run build` (the compiled daemon is what is measured), wrk, curl, nginx, tftpd-hpa,
# dnsmasq, atftp, kea (perfdhcp, kea-dhcp4). About 20 minutes on 2 cores.
#   sudo bash bench/issue-12.sh [ROWS...]   rows: http asset tftp dhcp lean storm (default: all)
# BENCH_BASELINE=DIR: an older checkout (built) measured beside this one for the HTTP state rows.
set -uo pipefail
cd "$(dirname "$0")/.."
rows=("${@:-http asset tftp dhcp lean storm}")
read -r -a rows <<< "${rows[*]}"
[ -f dist/cli.js ] || { echo "run 'npm run build' first"; exit 2; }
say() { printf '\n### %s (%s UTC, load %s)\n\n' "$1" "$(date -u +%H:%M)" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

for row in "${rows[@]}"; do
  case "$row" in
    http)
      say "GET /boot?mac= first-seen and known, POST /answer: bench/http/state.sh, compiled"
      for round in 1 2 3; do
        BENCH_COMPILED=1 bash bench/http/state.sh . first-seen known answer 2>&1 | grep -E '^(RESULT|tree)'
        [ -n "${BENCH_BASELINE:-}" ] && BENCH_COMPILED=1 bash bench/http/state.sh "$BENCH_BASELINE" first-seen known answer 2>&1 | grep -E '^(RESULT|tree)'
      done
      ;;
    asset)
      say "1 GB asset, curl, loopback: bench/http/asset.sh 5 (nginx sendfile beside)"
      bash bench/http/asset.sh 5
      ;;
    tftp)
      say "TFTP lockstep, windowsize 16, 200 concurrent (one address, own addresses): bench/tftp/bench.ts"
      BENCH_COMPILED=1 node --import tsx bench/tftp/bench.ts --runs 5 --concurrent 200
      ;;
    dhcp)
      say "DHCP, perfdhcp at 5,000 offered exchanges/s, 60,000 clients: bench/dhcp/compare.ts"
      BENCH_COMPILED=1 BENCH_ROUNDS=2 node --import tsx bench/dhcp/compare.ts 5000 10
      ;;
    lean)
      say "Idle RSS and start-up: bench/lean/idle-rss.sh"
      bash bench/lean/idle-rss.sh
      ;;
    storm)
      say "Boot storm, 500 machines x 50 MB: bench/storm/run.ts (compiled daemon)"
      PXE_PILOT_COMPILED=1 node --import tsx bench/storm/run.ts --machines 500 --targets pilot-server,pilot-proxy,dnsmasq-nginx
      ;;
    *) echo "unknown row $row (http asset tftp dhcp lean storm)"; exit 2 ;;
  esac
done
