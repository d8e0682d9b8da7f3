# Sourced by the benchmarks: the temporary profile of a pxe-pilot that serves HTTP on loopback only
# (DHCP and TFTP off, so nothing it starts can answer on a real network).
#   loopback_profile STATE_DIR PORT ASSETS_DIR ANSWERS_DIR > pxe-pilot.ini
loopback_profile() {
  cat <<INI
[server]
address = 127.0.0.1
state_dir = $1
log_level = warn
[http]
port = $2
bind = 127.0.0.1
[https]
enabled = false
[tftp]
enabled = false
[dhcp]
mode = off
[boot]
unknown = local
[assets]
dir = $3
[answers]
dir = $4
INI
}
