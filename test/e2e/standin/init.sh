#!/bin/busybox sh
# pxe-pilot installer stand-in: /init of a tiny initrd. It does on the network exactly what the
# Proxmox automated installer does (address by DHCP asking for option 250, POST its JSON to the
# answer URL, POST the post-installation webhook) and prints what it got on the serial console.
# Every line it prints starts with "standin:" so the tests can read the serial log.
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t devtmpfs devtmpfs /dev
# The initrd has no /dev/console node; take the console now that devtmpfs provides one.
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

say() { echo "standin: $*"; }
finish() {
  sync
  # A real installer reboots into the installed system; standin.reboot on the kernel line does that
  # (the BMC tests: the machine's next boot is its disk). Without it, it powers off.
  if grep -qw standin.reboot /proc/cmdline && [ "$1" = "installation done" ]; then
    say "rebooting ($1)"
    reboot -f
  fi
  say "powering off ($1)"
  poweroff -f
  sleep 30
}

say "init started, kernel $(uname -r)"
# What pxe-pilot filled in (${mac} and the like): the tests read it back.
say "kernel command line: $(cat /proc/cmdline)"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net; do
  insmod "/lib/modules/$m.ko" || say "insmod $m failed"
done

iface=""
for _ in $(seq 1 100); do
  for d in /sys/class/net/*; do
    n=${d##*/}
    [ "$n" = lo ] && continue
    iface=$n
    break
  done
  [ -n "$iface" ] && break
  sleep 0.1
done
[ -n "$iface" ] || finish "no network interface appeared"
mac=$(cat "/sys/class/net/$iface/address")
ip link set lo up
ip link set "$iface" up
say "interface $iface mac $mac"

udhcpc -i "$iface" -f -q -n -t 6 -T 3 -O 250 -O 251 -s /standin/dhcp-event.sh >/tmp/udhcpc.log 2>&1 || {
  cat /tmp/udhcpc.log
  finish "no DHCP lease"
}
. /tmp/dhcp.env
say "address $ip/$mask from DHCP server $serverid"

# Like the real installer: the ISO it was booted with sits at /proxmox.iso in the initramfs
# (a second initrd); its /auto-installer-mode.toml says where the answer is. A URL there wins;
# then pxe_answer= on the kernel command line (the reference server's shortcut); then option 250.
answer_url=""
answer_token=""
answer_fingerprint=""
pin_source=""
if [ -f /proxmox.iso ]; then
  for m in loop cdrom isofs; do
    insmod "/lib/modules/$m.ko" || say "insmod $m failed"
  done
  mkdir -p /cdrom
  if mount -t iso9660 -o loop,ro /proxmox.iso /cdrom; then
    say "mounted /proxmox.iso ($(wc -c </proxmox.iso) bytes)"
    if [ -f /cdrom/auto-installer-mode.toml ]; then
      toml_value() { sed -n "s/^$1 *= *\"\(.*\)\".*/\1/p" /cdrom/auto-installer-mode.toml | head -n 1; }
      mode=$(toml_value mode)
      say "auto-installer-mode.toml: mode $mode"
      if [ "$mode" = http ]; then
        answer_url=$(toml_value url)
        answer_token=$(toml_value token)
        answer_fingerprint=$(toml_value cert_fingerprint)
        [ -n "$answer_fingerprint" ] && pin_source="/auto-installer-mode.toml"
      fi
    else
      say "no /auto-installer-mode.toml in /proxmox.iso"
    fi
  else
    say "could not mount /proxmox.iso"
  fi
fi
if [ -n "$answer_url" ]; then
  say "answer URL from /auto-installer-mode.toml in /proxmox.iso: $answer_url"
fi
if [ -z "$answer_url" ]; then
  for word in $(cat /proc/cmdline); do
    case "$word" in pxe_answer=*) answer_url=${word#pxe_answer=} ;; esac
  done
  [ -n "$answer_url" ] && say "answer URL from kernel command line: $answer_url"
fi
if [ -n "$answer_url" ]; then
  :
elif [ -n "$opt250" ]; then
  answer_url=$(echo "$opt250" | xxd -r -p)
  say "answer URL from DHCP option 250: $answer_url"
else
  finish "no answer URL: not in /proxmox.iso, no pxe_answer= on the kernel command line, no DHCP option 250"
fi

# The certificate to pin: the ISO's wins, else DHCP option 251 (as the real installer does).
if [ -z "$answer_fingerprint" ] && [ -n "$opt251" ]; then
  answer_fingerprint=$(echo "$opt251" | xxd -r -p)
  pin_source="DHCP option 251"
fi
[ -n "$answer_fingerprint" ] && say "certificate fingerprint from $pin_source: $answer_fingerprint"
# openssl (for HTTPS) is linked against the libraries copied beside it.
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu

dmi() { [ -r "/sys/class/dmi/id/$1" ] && tr -d '"\\\n' <"/sys/class/dmi/id/$1"; }
boot_mode=bios
[ -d /sys/firmware/efi ] && boot_mode=efi

request='{"$schema":{"version":"1.0"},"product":{"fullname":"Proxmox VE","product":"pve","enable_btrfs":true},"iso":{"release":"9.1","isorelease":"1"},'
request=$request'"dmi":{"system":{"serial":"'$(dmi product_serial)'","sku":"'$(dmi product_sku)'","uuid":"'$(dmi product_uuid)'","name":"'$(dmi product_name)'"},'
request=$request'"baseboard":{"asset_tag":"'$(dmi board_asset_tag)'","serial":"'$(dmi board_serial)'","name":"'$(dmi board_name)'"},'
request=$request'"chassis":{"serial":"'$(dmi chassis_serial)'","sku":"","asset_tag":"'$(dmi chassis_asset_tag)'"}},'
request=$request'"network_interfaces":[{"link":"'$iface'","mac":"'$mac'"}]}'

auth_header="X-No-Token: 1"
[ -n "$answer_token" ] && auth_header="Authorization: Bearer $answer_token"
if [ "${answer_url#https://}" != "$answer_url" ]; then
  # Without a fingerprint there is nothing to trust a self-signed certificate by: refuse.
  [ -n "$answer_fingerprint" ] || finish "no answer: $answer_url is HTTPS but no certificate fingerprint was given (ISO or DHCP option 251)"
  echo "$request" >/tmp/request.json
  /standin/pinned-post.sh "$answer_url" "$answer_fingerprint" /tmp/request.json "$auth_header" \
    'Content-Type: application/json; charset=utf-8' 'Accept: application/json, application/toml;q=0.5' >/tmp/answer.toml 2>/tmp/pin.err
  pinned=$?
  if [ "$pinned" = 3 ]; then
    say "answer refused: $(grep 'not the pinned' /tmp/pin.err)"
    finish "no answer"
  elif [ "$pinned" != 0 ]; then
    say "answer request failed: $(tr '\n' ' ' </tmp/pin.err)"
    finish "no answer"
  fi
  say "answer fetched over HTTPS: $(grep 'matches the pinned' /tmp/pin.err)"
elif ! wget -q -O /tmp/answer.toml \
  --header "$auth_header" \
  --header 'Content-Type: application/json; charset=utf-8' \
  --header 'Accept: application/json, application/toml;q=0.5' \
  --post-data "$request" "$answer_url" 2>/tmp/wget.err; then
  say "answer request failed: $(cat /tmp/wget.err)"
  finish "no answer"
fi
say "answer begin"
cat /tmp/answer.toml
echo
say "answer end"

# The installer posts to the webhook the answer names; without one we use the answer server's own.
webhook_url=$(sed -n '/^\[post-installation-webhook\]/,/^\[/ s/^url *= *"\(.*\)".*/\1/p' /tmp/answer.toml | head -n 1)
if [ -z "$webhook_url" ]; then
  origin=$(echo "$answer_url" | sed 's#^\(https\{0,1\}://[^/]*\).*#\1#')
  webhook_url=$origin/webhook/proxmox
fi
webhook_fingerprint=$(sed -n '/^\[post-installation-webhook\]/,/^\[/ s/^cert[-_]fingerprint *= *"\(.*\)".*/\1/p' /tmp/answer.toml | head -n 1)
fqdn=$(sed -n 's/^fqdn *= *"\(.*\)".*/\1/p' /tmp/answer.toml | head -n 1)
hook='{"fqdn":"'$fqdn'","product":{"fullname":"Proxmox VE","short":"pve","version":"9.1"},'
hook=$hook'"boot-info":{"mode":"'$boot_mode'","secureboot":false},'
hook=$hook'"dmi":{"system":{"serial":"'$(dmi product_serial)'","uuid":"'$(dmi product_uuid)'","name":"'$(dmi product_name)'"}},'
hook=$hook'"network-interfaces":[{"name":"'$iface'","mac":"'$mac'","is-management":true}]}'
case "$webhook_url" in
  https://*)
    # The installer pins the webhook by the answer's cert-fingerprint.
    echo "$hook" >/tmp/hook.json
    if [ -z "$webhook_fingerprint" ]; then
      echo "no cert-fingerprint for it in [post-installation-webhook]" >/tmp/wget.err
      false
    else
      /standin/pinned-post.sh "$webhook_url" "$webhook_fingerprint" /tmp/hook.json 'Content-Type: application/json; charset=utf-8' >/tmp/webhook.out 2>/tmp/wget.err
    fi
    ;;
  *) wget -q -O /tmp/webhook.out --header 'Content-Type: application/json; charset=utf-8' --post-data "$hook" "$webhook_url" 2>/tmp/wget.err ;;
esac
if [ $? = 0 ]; then
  say "webhook delivered to $webhook_url (boot mode $boot_mode)"
else
  say "webhook to $webhook_url failed: $(cat /tmp/wget.err)"
fi
finish "installation done"
