# The LLDP neighbour in one frame captured by `tcpdump -x` (the LLDPDU in hex, after the Ethernet
# header), as the inventory's JSON object {chassisId, portId, systemName, portDescription}, or
# null when the capture holds no well-formed LLDPDU. Run by busybox awk in the agent image.
# MAC and IPv4 identifiers are printed in their usual forms, the rest as text: printable ASCII
# kept, any other byte shown as "?", at most 255 characters.

function hexval(h,    i, v) {
  v = 0
  for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
  return v
}
function byte(i) { return B[i] }
function text(from, to,    s, i, c) {
  s = ""
  for (i = from; i < to && i - from < 255; i++) {
    c = B[i]
    if (c == 34) s = s "\\\""
    else if (c == 92) s = s "\\\\"
    else if (c >= 32 && c <= 126) s = s sprintf("%c", c)
    else s = s "?"
  }
  gsub(/^ +| +$/, "", s)
  return s
}
function mac(from, to,    s, i) {
  if (to - from != 6) return text(from, to)
  s = ""
  for (i = from; i < to; i++) s = s (i > from ? ":" : "") sprintf("%02x", B[i])
  return s
}
# Network address: one byte of IANA address family (1 = IPv4, 2 = IPv6), then the address.
function address(from, to,    s, i) {
  if (to - from == 5 && B[from] == 1) return B[from + 1] "." B[from + 2] "." B[from + 3] "." B[from + 4]
  if (to - from == 17 && B[from] == 2) {
    s = ""
    for (i = from + 1; i < to; i += 2) s = s (i > from + 1 ? ":" : "") sprintf("%x", B[i] * 256 + B[i + 1])
    return s
  }
  return text(from, to)
}
function json(s) { return s == "" ? "null" : "\"" s "\"" }

/^[ \t]*0x[0-9a-fA-F]+:/ {
  for (f = 2; f <= NF; f++) {
    w = tolower($f)
    if (w !~ /^[0-9a-f]+$/ || length(w) % 2 != 0) break
    hex = hex w
  }
}

END {
  n = length(hex) / 2
  for (i = 0; i < n; i++) B[i] = hexval(substr(hex, 2 * i + 1, 2))
  at = 0; seen = 0
  chassis = ""; port = ""; name = ""; descr = ""
  while (at + 2 <= n) {
    type = int(B[at] / 2); len = (B[at] % 2) * 256 + B[at + 1]
    start = at + 2; end = start + len
    if (end > n) break
    if (type == 0) break
    seen++
    # The first two TLVs of an LLDPDU are the chassis ID and the port ID, each with a subtype byte.
    if (type == 1 && len >= 2) {
      sub_ = B[start]
      chassis = sub_ == 4 ? mac(start + 1, end) : sub_ == 5 ? address(start + 1, end) : text(start + 1, end)
    } else if (type == 2 && len >= 2) {
      sub_ = B[start]
      port = sub_ == 3 ? mac(start + 1, end) : sub_ == 4 ? address(start + 1, end) : text(start + 1, end)
    } else if (type == 4) descr = text(start, end)
    else if (type == 5) name = text(start, end)
    at = end
  }
  if (n < 4 || int(B[0] / 2) != 1 || chassis == "" && port == "") { print "null"; exit }
  printf "{\"chassisId\":%s,\"portId\":%s,\"systemName\":%s,\"portDescription\":%s}\n", json(chassis), json(port), json(name), json(descr)
}
