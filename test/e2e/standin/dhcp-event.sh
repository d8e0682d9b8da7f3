#!/bin/sh
# udhcpc event script of the installer stand-in: configure the lease, remember what DHCP said.
case "$1" in
  bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
    {
      echo "ip='$ip'"
      echo "mask='$mask'"
      echo "router='$router'"
      echo "serverid='$serverid'"
      echo "opt250='$opt250'"
      echo "opt251='$opt251'"
    } >/tmp/dhcp.env
    ;;
esac
exit 0
