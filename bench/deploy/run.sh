#!/usr/bin/env bash
# bench/deploy: the agent's write throughput (issue 26). The agent's image writer, `deploy_write`
# in agent/deploy, run on the host as the agent runs it (Debian's static busybox as the shell and
# its applets first on PATH, Debian's zstd and openssl, as the agent image carries them), against
# the plain pipeline
#   curl -s URL | zstd -dcq | dd of=TARGET bs=4M iflag=fullblock oflag=direct conv=notrunc,fsync; sync
# (GNU curl, zstd, dd), and that pipeline with the check the agent makes (`tee` to GNU sha256sum
# through a fifo, the digest compared): the same ~1 GiB .raw.zst, the same server (pxe-pilot's own /assets/ route,
# the daemon on a temporary profile bound to 127.0.0.1, DHCP and TFTP off), the same target file on
# a disk-backed filesystem, truncated to the image size before every run. The three writers
# take turns (each round starts with the next one); every run prints its MB/s (uncompressed bytes written per second of wall time, the
# final sync included) and the CPU seconds it used (user+system of the writer's processes, not the
# server's), then the medians, the ratios agent/pipeline and agent/pipe+sha, and agent/pipeline
# round by round (each agent run against the pipeline run next to it). `uptime` before
# and after. The image written is checked (sha256 of the target) after each writer's first run.
#
# Usage: bash bench/deploy/run.sh [RUNS=5] [--keep]
#   RUNS    runs of each writer (1..20).
#   --keep  keep the compressed image in tmp/bench-deploy-image/ and reuse it next time.
# Environment: BENCH_IMAGE_MIB (image size, default 1024, a multiple of 4), BENCH_PORT (default
# 18086), BENCH_DEPLOY_SCRIPT (the writer to measure, default agent/deploy; e.g. an older one from
# `git show REV:agent/deploy > FILE`). Needs /bin/busybox (busybox-static), zstd, openssl (else the
# writer hashes with busybox's sha256sum), curl, GNU dd, node and `npm ci`; uses dist/
# when `npm run build` made it, the sources through tsx otherwise.
# Loopback only; everything it made (work folder under tmp/, the daemon) goes at the end, also on
# failure or Ctrl-C. Writes the image (~1 GiB) 2×RUNS times to the disk under tmp/.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
. bench/lib/loopback-profile.sh
RUNS=5
KEEP=0
for a in "$@"; do
  case "$a" in
    --keep) KEEP=1 ;;
    *[!0-9]* | '') echo "usage: bash bench/deploy/run.sh [RUNS=5] [--keep]" >&2; exit 2 ;;
    *) RUNS=$a ;;
  esac
done
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 20 ] || { echo "RUNS is 1..20" >&2; exit 2; }
MIB=${BENCH_IMAGE_MIB:-1024}
[ $((MIB % 4)) -eq 0 ] && [ "$MIB" -ge 4 ] || { echo "BENCH_IMAGE_MIB is a multiple of 4" >&2; exit 2; }
PORT=${BENCH_PORT:-18086}
for tool in /bin/busybox zstd curl dd node /usr/bin/time; do command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }; done

work=$repo/tmp/bench-deploy
script=$(realpath "${BENCH_DEPLOY_SCRIPT:-agent/deploy}")
# The agent's work folder (/tmp/deploy) is in RAM in the agent (the initramfs): here too.
ram=""
keepdir=$repo/tmp/bench-deploy-image
git check-ignore -q tmp/bench-deploy || { echo "tmp/ is not gitignored here: refusing to write 1 GiB into the tree" >&2; exit 1; }
daemon=""
cleanup() {
  local rc=$?
  if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null; fi
  rm -rf "$work"
  [ -n "$ram" ] && rm -rf "$ram"
  [ "$KEEP" = 1 ] || rm -rf "$keepdir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$work"
mkdir -p "$work/bin" "$work/assets" "$work/state" "$work/answers"
fs=$(stat -f -c %T "$work")
case "$fs" in tmpfs | ramfs | overlay*) echo "$work is on $fs, not a disk: the target must be on a disk-backed filesystem" >&2; exit 1 ;; esac
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then ram=$(mktemp -d /dev/shm/pxp-bench-deploy.XXXXXX); else ram=$(mktemp -d "$work/agent.XXXXXX"); fi
echo "load before: $(uptime)"
echo "writer: $script (work folder $ram)"
echo "target filesystem: $fs ($(df -h --output=source "$work" | tail -1 | tr -d ' '))"

# The image: a partition table in the first sector, then per 4 MiB: 1 MiB random (incompressible),
# 1 MiB base64 text of random bytes (~75 %), 2 MiB zeros; about 2.3:1 with zstd -3, roughly a
# filled root filesystem's ratio. Random alone would make zstd's own speed the whole story.
image_bytes=$((MIB * 1048576))
if [ -f "$keepdir/disk.raw.zst" ] && [ "$(cat "$keepdir/raw-bytes" 2>/dev/null)" = "$image_bytes" ]; then
  echo "image: reusing $keepdir/disk.raw.zst"
else
  rm -rf "$keepdir"
  mkdir -p "$keepdir"
  echo "image: making $MIB MiB of raw disk image"
  raw=$work/disk.raw
  {
    for ((i = 0; i < MIB / 4; i++)); do
      head -c 1048576 /dev/urandom
      head -c 786432 /dev/urandom | base64 -w 0 # exactly 1 MiB
      head -c 2097152 /dev/zero
      [ $(((i + 1) % 32)) -eq 0 ] && echo "  $(((i + 1) * 4)) of $MIB MiB" >&2
    done
  } > "$raw"
  printf '\x55\xaa' | dd of="$raw" bs=1 seek=510 conv=notrunc status=none
  sha256sum "$raw" | cut -d' ' -f1 > "$keepdir/raw-sha256"
  echo "image: zstd -T0 (level 3)"
  zstd -T0 -q -f --rm "$raw" -o "$keepdir/disk.raw.zst"
  echo "$image_bytes" > "$keepdir/raw-bytes"
fi
raw_sha=$(cat "$keepdir/raw-sha256")

# The server: pxe-pilot on a temporary profile, loopback only, DHCP and TFTP off.
loopback_profile "$work/state" "$PORT" "$work/assets" "$work/answers" > "$work/pxe-pilot.ini"
echo "server: pxe-pilot assets add … --kind disk-image --product bench --version 1"
npx tsx src/cli.ts assets add "$keepdir/disk.raw.zst" --kind disk-image --product bench --version 1 --config "$work/pxe-pilot.ini" > "$work/assets-add.log" 2>&1 ||
  { cat "$work/assets-add.log" >&2; exit 1; }
manifest=$work/assets/bench/1/image.json
read -r file sha compressed size < <(node -e 'const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(m.disk.file, m.disk.sha256, m.files[0].size, m.disk.sizeBytes)' "$manifest")
[ "$size" = "$image_bytes" ] || { echo "the manifest says $size bytes, the image is $image_bytes" >&2; exit 1; }
if [ -f dist/cli.js ]; then runner=(node bin/pxe-pilot.mjs); else runner=(node --import tsx src/cli.ts); fi
"${runner[@]}" --config "$work/pxe-pilot.ini" > "$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/health" > /dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$PORT/health" > /dev/null || { cat "$work/daemon.log" >&2; exit 1; }
url=http://127.0.0.1:$PORT/assets/bench/1/$file
cat "$work/assets/bench/1/$file" > /dev/null # in the page cache before the first timed run
echo "server: ${runner[*]} on 127.0.0.1:$PORT, $url ($((compressed / 1048576)) MiB compressed, $MIB MiB raw)"

# The agent's writer exactly as /init runs it: busybox sh, busybox's applets first, Debian's zstd
# and openssl.
/bin/busybox --install -s "$work/bin"
target=$work/target.img
fresh_target() {
  rm -f "$target"
  truncate -s "$image_bytes" "$target"
  sync
}
# Runs one writer; prints "MB/s cpu_seconds".
timed() {
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%U %S' -o "$work/cpu" "$@" > "$work/out" 2>&1 || { echo "writer failed:" >&2; cat "$work/out" "$ram/deploy/reason" >&2 2>/dev/null; return 1; }
  t1=$(date +%s%N)
  awk -v b="$image_bytes" -v ns=$((t1 - t0)) '{ printf "%.1f %.2f\n", b / (ns / 1e9) / 1e6, $1 + $2 }' "$work/cpu"
}
agent_cmd=(env -i PATH="$work/bin:/usr/bin:/bin" DEPLOY_SCRIPT="$script" DEPLOY_DIR="$ram/deploy"
  /bin/busybox sh -c '. "$DEPLOY_SCRIPT"; deploy_write "$@"' sh "$url" "$sha" "$compressed" "$image_bytes" zstd "$target")
# shellcheck disable=SC2016
pipeline_cmd=(bash -c 'set -o pipefail; curl -sf "$1" | zstd -dcq | dd of="$2" bs=4M iflag=fullblock oflag=direct conv=notrunc,fsync status=none && sync'
  sh "$url" "$target")
# The same with the check the agent makes: the compressed bytes through GNU sha256sum on the way.
# shellcheck disable=SC2016
hashed_cmd=(bash -c 'set -o pipefail; rm -f "$3.fifo"; mkfifo "$3.fifo"; sha256sum < "$3.fifo" > "$3" & h=$!
  curl -sf "$1" | tee "$3.fifo" | zstd -dcq | dd of="$2" bs=4M iflag=fullblock oflag=direct conv=notrunc,fsync status=none && wait $h && sync &&
  rm -f "$3.fifo" && [ "$(cut -d" " -f1 "$3")" = "$4" ]' sh "$url" "$target" "$work/hashed.sum" "$sha")
check_target() {
  [ "$(sha256sum "$target" | cut -d' ' -f1)" = "$raw_sha" ] || { echo "$1 wrote a different image" >&2; exit 1; }
}

writers=(agent pipeline pipe+sha)
declare -A mbs_of cpu_of
for round in $(seq "$RUNS"); do
  # Each round starts with the next writer: each goes first, second and third as often.
  k=$(((round - 1) % 3))
  for w in "${writers[@]:k}" "${writers[@]:0:k}"; do
    fresh_target
    load=$(cut -d' ' -f1 /proc/loadavg)
    case "$w" in
      agent) timed "${agent_cmd[@]}" > "$work/run" ;;
      pipeline) timed "${pipeline_cmd[@]}" > "$work/run" ;;
      *) timed "${hashed_cmd[@]}" > "$work/run" ;;
    esac
    read -r mbs cpu < "$work/run"
    [ "$round" = 1 ] && check_target "$w"
    mbs_of[$w]+="$mbs " cpu_of[$w]+="$cpu "
    printf 'round %d/%d  %-8s %7s MB/s  %6s s CPU  (load %s)\n' "$round" "$RUNS" "$w" "$mbs" "$cpu" "$load"
  done
done
rm -f "$target"

# shellcheck disable=SC2086
med() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for w in "${writers[@]}"; do printf '%-8s runs: %sMB/s; CPU s: %s\n' "$w" "${mbs_of[$w]}" "${cpu_of[$w]}"; done
ma=$(med "${mbs_of[agent]}") mp=$(med "${mbs_of[pipeline]}") mh=$(med "${mbs_of[pipe+sha]}")
ca=$(med "${cpu_of[agent]}") cp=$(med "${cpu_of[pipeline]}") ch=$(med "${cpu_of[pipe+sha]}")
awk -v a="$ma" -v p="$mp" -v h="$mh" -v ca="$ca" -v cp="$cp" -v ch="$ch" 'BEGIN {
  printf "median MB/s: agent %.0f, pipeline %.0f, pipe+sha %.0f; ratio agent/pipeline %.2f, agent/pipe+sha %.2f\n", a, p, h, a / p, a / h
  printf "median CPU s per image: agent %.2f, pipeline %.2f, pipe+sha %.2f\n", ca, cp, ch }'
# Each agent run against the pipeline run of its own round: steadier than the ratio of the
# medians when the machine's load moves during the runs.
# shellcheck disable=SC2086
paired=$(paste -d' ' <(printf '%s\n' ${mbs_of[agent]}) <(printf '%s\n' ${mbs_of[pipeline]}) | awk '{ printf "%.2f\n", $1 / $2 }')
echo "agent/pipeline in the same round: ${paired//$'\n'/ }; median $(med "$paired")"
echo "load after: $(uptime)"
