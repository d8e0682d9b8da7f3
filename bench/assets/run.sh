#!/usr/bin/env bash
# bench/assets: time and peak RSS of `pxe-pilot assets add` on a 1.5 GB Proxmox-shaped ISO,
# next to xorriso, zstd and gzip doing the same extraction and modification by hand.
# Usage: bench/assets/run.sh [runs=3] [workdir=tmp/bench-assets]. Needs xorriso, zstd, gzip,
# GNU time (/usr/bin/time). Writes about 5 GB in workdir; removes it at the end.
set -euo pipefail
runs=${1:-3}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${2:-$repo/tmp/bench-assets}
rm -rf "$work"; mkdir -p "$work/tree/boot/grub" "$work/tree/efi" "$work/assets"
trap 'rm -rf "$work"' EXIT

# The ISO: the real layout, a 1.4 GiB squashfs stand-in (sparse filler), a 12 MiB kernel and an
# 80 MiB zstd initrd (half random, half zeros, roughly as compressible as the real one).
t=$work/tree
printf "PRODUCT='pve'\nPRODUCTLONG='Proxmox VE'\nRELEASE='9.1'\nISORELEASE='1'\nISONAME='proxmox-ve'\n" > "$t/.cd-info"
: > "$t/auto-installer-capable"
head -c $((12 << 20)) /dev/urandom > "$t/boot/linux26"
{ head -c $((40 << 20)) /dev/urandom; head -c $((40 << 20)) /dev/zero; } | zstd -q -19 -T0 -o "$t/boot/initrd.img"
truncate -s 1400M "$t/pve-base.squashfs"
head -c 2048 /dev/zero > "$t/boot/grub/eltorito.img"
head -c $((2 << 20)) /dev/zero > "$t/efi/efiboot.img"
xorriso -as mkisofs -quiet -o "$work/proxmox-ve_9.1-1.iso" -V PVE -R -J -b boot/grub/eltorito.img -no-emul-boot -boot-load-size 4 -boot-info-table -eltorito-alt-boot -e efi/efiboot.img -no-emul-boot "$t"
rm -rf "$t"
iso=$work/proxmox-ve_9.1-1.iso
printf '[server]\naddress = 10.0.0.1\nstate_dir = %s/state\n[assets]\ndir = %s/assets\n[answers]\ndir = %s/answers\n' "$work" "$work" "$work" > "$work/pxe-pilot.ini"
printf 'mode = "http"\n\n[http]\nurl = "http://10.0.0.1/answer"\n' > "$work/mode.toml"

measure() { # label, command…: prints "label seconds maxrss_kib"
  local label=$1; shift
  /usr/bin/time -v -o "$work/time.txt" "$@" > /dev/null 2>&1
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$work/time.txt" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
  echo "$label $wall $rss"
}

by_hand() {
  local d=$work/hand
  rm -rf "$d"; mkdir -p "$d"
  xorriso -osirrox on -indev "$iso" -extract /boot/linux26 "$d/vmlinuz" -extract /boot/initrd.img "$d/initrd.zst"
  zstd -dcq "$d/initrd.zst" | gzip -c > "$d/initrd"; rm "$d/initrd.zst"
  xorriso -indev "$iso" -outdev "$d/proxmox.iso" -boot_image any replay -map "$work/mode.toml" /auto-installer-mode.toml -rm_r /boot --
}
by_hand_with_sums() { by_hand; (cd "$work/hand" && sha256sum vmlinuz initrd proxmox.iso > SHA256SUMS; sha256sum "$iso" > /dev/null); }
export -f by_hand by_hand_with_sums; export work iso

echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, ISO $(du -h --apparent-size "$iso" | cut -f1)"
for i in $(seq 1 "$runs"); do
  measure pxe-pilot node "$repo/bin/pxe-pilot.mjs" assets add "$iso" --config "$work/pxe-pilot.ini" --force
  measure xorriso-by-hand bash -c by_hand
  measure xorriso-by-hand+sha256 bash -c by_hand_with_sums
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
