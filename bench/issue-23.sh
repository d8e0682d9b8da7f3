#!/usr/bin/env bash
# Issue 23's hot paths, this checkout against an older one (the tree before the change) in the
# same run, alternating: GET /boot?mac= for first-seen and known machines and POST /answer
# (bench/http/state.sh, wrk), and GRUB's configuration over TFTP (bench/tftp/grub-config.ts,
# tftpd-hpa serving the same bytes beside). Prints every run, then per case the medians and the
# ratio this/baseline (requests or configurations a second: above 1 is faster; the issue asks
# for no case below 0.95). Not a test. As root (the TFTP client binds to lo); needs wrk, curl and
# tftpd-hpa. Loopback only; ends only what it started.
#   sudo bash bench/issue-23.sh BASELINE_DIR [CASE...]   cases: first-seen known answer grub-config (default: all)
# BASELINE_DIR: a checkout of the tree before the change, with node_modules and build/ (the native
# addons) in place. BENCH_ROUNDS (default 3) rounds, BENCH_DURATION (default 10s) per wrk run and
# per TFTP round; BENCH_NODES (10000) known machines; BENCH_COMPILED=1 measures both trees' dist/ (run `npm run build` in each first).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ] || [ ! -d "$1/src" ]; then
  echo "usage: bash bench/issue-23.sh BASELINE_DIR [first-seen known answer grub-config]"
  exit 2
fi
baseline=$(cd "$1" && pwd)
shift
cases=("${@:-first-seen known answer grub-config}")
read -r -a cases <<< "${cases[*]}"
rounds=${BENCH_ROUNDS:-3}
duration=${BENCH_DURATION:-10s}
results=$(mktemp /tmp/pxp-issue23.XXXXXX)
trap 'rm -f "$results"' EXIT

http_cases=()
grub=
for c in "${cases[@]}"; do
  case "$c" in
    first-seen | known | answer) http_cases+=("$c") ;;
    grub-config) grub=1 ;;
    *) echo "unknown case $c (first-seen known answer grub-config)"; exit 2 ;;
  esac
done

echo "this: $here ($(git -C "$here" rev-parse --short HEAD)), baseline: $baseline ($(git -C "$baseline" rev-parse --short HEAD)), $rounds rounds of $duration${BENCH_COMPILED:+, compiled}"
if [ ${#http_cases[@]} -gt 0 ]; then
  for round in $(seq "$rounds"); do
    # Alternate which tree goes first, so drift in the machine's load favours neither.
    if [ $((round % 2)) -eq 1 ]; then order=("this:$here" "baseline:$baseline"); else order=("baseline:$baseline" "this:$here"); fi
    for entry in "${order[@]}"; do
      label=${entry%%:*}
      tree=${entry#*:}
      echo "-- round $round, $label"
      BENCH_DURATION=$duration bash "$here/bench/http/state.sh" "$tree" "${http_cases[@]}" 2>&1 | while read -r line; do
        echo "   $line"
        case "$line" in RESULT*) echo "$label ${line#RESULT }" >> "$results" ;; esac
      done
    done
  done
fi
if [ -n "$grub" ]; then
  echo "-- GRUB configuration over TFTP"
  (cd "$here" && node --import tsx bench/tftp/grub-config.ts --baseline "$baseline" --rounds "$rounds" --seconds "${duration%s}" --nodes "${BENCH_NODES:-10000}") 2>&1 | while read -r line; do
    echo "   $line"
    case "$line" in
      'RESULT grub-config pxe-pilot '*) echo "this grub-config ${line##* }" >> "$results" ;;
      'RESULT grub-config pxe-pilot-baseline '*) echo "baseline grub-config ${line##* }" >> "$results" ;;
    esac
  done
fi

echo
node -e '
const lines = require("node:fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean);
const runs = new Map();
for (const line of lines) {
  const [label, name, value] = line.split(" ");
  const key = `${name}\t${label}`;
  if (!runs.has(key)) runs.set(key, []);
  runs.get(key).push(Number(value));
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
console.log("| case | this (median, per s) | baseline (median, per s) | this/baseline | runs this / baseline |");
console.log("|---|---|---|---|---|");
for (const name of process.argv.slice(2)) {
  const ours = runs.get(`${name}\tthis`) ?? [];
  const theirs = runs.get(`${name}\tbaseline`) ?? [];
  if (!ours.length || !theirs.length) { console.log(`| ${name} | no result | | | |`); continue; }
  const ratio = median(ours) / median(theirs);
  console.log(`| ${name} | ${median(ours).toFixed(0)} | ${median(theirs).toFixed(0)} | ${ratio.toFixed(2)}${ratio < 0.95 ? " (below 0.95)" : ""} | ${ours.map(Math.round).join(" ")} / ${theirs.map(Math.round).join(" ")} |`);
}' "$results" "${http_cases[@]}" ${grub:+grub-config}
