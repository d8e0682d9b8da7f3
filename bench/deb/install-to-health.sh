#!/usr/bin/env bash
# Installed size of the package, and the time from `apt-get install ./pxe-pilot_*.deb` to a
# healthy GET /health. As root, on a host without pxe-pilot. The service start is blocked by
# policy-rc.d (a daemon on this host's real interfaces is what we must avoid), so the clock
# covers the install (unpack, user, state folder, migrations) and then the installed daemon
# started as the pxe-pilot user on 127.0.0.1 with unprivileged ports, DHCP off, until /health
# answers. Purges the package and removes what it created afterwards.
# usage: bench/deb/install-to-health.sh pxe-pilot_<version>_<arch>.deb
set -euo pipefail
deb=$(realpath "${1:?usage: $0 pxe-pilot_<version>_<arch>.deb}")
if dpkg-query -W pxe-pilot > /dev/null 2>&1 || getent passwd pxe-pilot > /dev/null || [ -e /var/lib/pxe-pilot ]; then
  echo "pxe-pilot (package, user or /var/lib/pxe-pilot) is already on this host: not touching it" >&2
  exit 2
fi
work=$(mktemp -d); chmod 755 "$work"
policy=/usr/sbin/policy-rc.d; created_policy=0
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq pxe-pilot > /dev/null 2>&1 || true
  [ "$created_policy" = 1 ] && rm -f "$policy"
  rm -rf "$work"
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; created_policy=1; fi
cat > "$work/p.ini" <<INI
[server]
address = 127.0.0.1
state_dir = /var/lib/pxe-pilot
log_level = warn
[http]
port = 18091
bind = 127.0.0.1
[tftp]
port = 18070
bind = 127.0.0.1
root = $work
[dhcp]
mode = off
INI
t0=$(date +%s%N)
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" > "$work/apt.log" 2>&1 || { cat "$work/apt.log"; exit 1; }
t1=$(date +%s%N)
setpriv --reuid=pxe-pilot --regid=pxe-pilot --init-groups -- pxe-pilot --config "$work/p.ini" > "$work/daemon.log" 2>&1 &
pid=$!
until curl -sf -o /dev/null http://127.0.0.1:18091/health; do
  kill -0 "$pid" 2> /dev/null || { cat "$work/daemon.log"; exit 1; }
  sleep 0.02
done
t2=$(date +%s%N)
echo "package: $(stat -c %s "$deb") bytes; Installed-Size: $(dpkg-query -W -f='${Installed-Size}' pxe-pilot) KiB; on disk: $(du -sh /usr/lib/pxe-pilot | cut -f1) in /usr/lib/pxe-pilot"
echo "apt-get install: $(( (t1 - t0) / 1000000 )) ms; daemon start to healthy /health: $(( (t2 - t1) / 1000000 )) ms; total $(( (t2 - t0) / 1000000 )) ms"
echo "load average: $(cut -d ' ' -f 1-3 /proc/loadavg)"
