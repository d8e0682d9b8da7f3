#!/bin/busybox sh
# POST over HTTPS to a server trusted only by its certificate's SHA-256 fingerprint, as the
# Proxmox installer does with cert_fingerprint / DHCP option 251 (no CA). One `openssl s_client`
# session: the handshake runs first, the certificate the server presented in THAT session is
# fingerprinted, and the request is written into the same session only when it matches; on a
# mismatch nothing is sent. Prints the response body on stdout.
#   pinned-post.sh URL FINGERPRINT BODY_FILE [HEADER]...
# Exit: 0 a 2xx answer; 3 fingerprint mismatch (nothing sent); 4 a non-2xx status; 5 no TLS session.
url=$1
want=$(echo "$2" | tr a-f A-F)
body_file=$3
shift 3
rest=${url#https://}
hostport=${rest%%/*}
path=/${rest#*/}
[ "$rest" = "$hostport" ] && path=/
host=${hostport%:*}
port=${hostport##*:}
[ "$port" = "$hostport" ] && port=443

work=$(mktemp -d /tmp/pinned.XXXXXX)
mkfifo "$work/in"
OPENSSL_CONF=/dev/null openssl s_client -connect "$host:$port" -showcerts -ign_eof <"$work/in" >"$work/session" 2>"$work/err" &
client=$!
# Opening the fifo for writing waits for s_client to open it for reading.
exec 3>"$work/in"

stop_client() {
  exec 3>&-
  kill "$client" 2>/dev/null
  wait "$client" 2>/dev/null
  rm -rf "$work"
}

tries=0
until grep -q '^SSL handshake has read' "$work/session"; do
  tries=$((tries + 1))
  if ! kill -0 "$client" 2>/dev/null || [ "$tries" -gt 1200 ]; then
    stop_client
    echo "no TLS session with $host:$port: $(tail -n 3 "$work/err" | tr '\n' ' ')" >&2
    exit 5
  fi
  sleep 0.1
done

# The first certificate of the chain s_client printed is the server's own (depth 0).
sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/{p;/-----END CERTIFICATE-----/q}' "$work/session" >"$work/peer.pem"
got=$(OPENSSL_CONF=/dev/null openssl x509 -noout -fingerprint -sha256 -in "$work/peer.pem" 2>/dev/null)
got=$(echo "${got#*=}" | tr a-f A-F)
if [ -z "$got" ] || [ "$got" != "$want" ]; then
  stop_client
  echo "certificate SHA-256 ${got:-unreadable} is not the pinned $want: refused, nothing sent" >&2
  exit 3
fi
echo "certificate SHA-256 $got matches the pinned fingerprint" >&2

{
  printf 'POST %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\nContent-Length: %s\r\n' "$path" "$hostport" "$(wc -c <"$body_file")"
  for header in "$@"; do printf '%s\r\n' "$header"; done
  printf '\r\n'
  cat "$body_file"
} >&3
exec 3>&-
# HTTP/1.0 + Connection: close: the server closes after the answer and s_client then exits.
tries=0
while kill -0 "$client" 2>/dev/null; do
  tries=$((tries + 1))
  [ "$tries" -gt 600 ] && kill "$client" 2>/dev/null
  sleep 0.1
done

awk 'state == 0 && /^HTTP\/1\.[01] / { state = 1 } state == 1 { print; if ($0 == "\r" || $0 == "") state = 2 }' "$work/session" >"$work/head"
status=$(head -n 1 "$work/head" | cut -d ' ' -f 2)
length=$(sed -n 's/^[Cc]ontent-[Ll]ength: *\([0-9]*\).*/\1/p' "$work/head" | head -n 1)
# The body is what follows the head, cut at Content-Length: s_client prints session tickets and
# "closed" after it. Without a length, it ends where s_client's own "---" or "closed" lines start.
awk 'state == 0 && /^HTTP\/1\.[01] / { state = 1; next } state == 1 { if ($0 == "\r" || $0 == "") state = 2; next } state == 2 { print }' "$work/session" >"$work/body"
if [ -z "$length" ]; then
  awk '$0 == "---" || $0 == "closed" || $0 == "read R BLOCK" { exit } { print }' "$work/body" >"$work/body.cut"
  mv "$work/body.cut" "$work/body"
fi
if [ -n "$length" ]; then head -c "$length" "$work/body"; else cat "$work/body"; fi
rm -rf "$work"
case "$status" in
  2??) exit 0 ;;
  "")
    echo "no HTTP answer in the TLS session" >&2
    exit 5
    ;;
  *)
    echo "HTTP status $status" >&2
    exit 4
    ;;
esac
