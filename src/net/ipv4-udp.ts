// Reading one IPv4 packet that carries a UDP datagram, as a packet socket hands it up (from the
// IP header on). Pure: bytes in, the addresses, ports and payload out, or null for anything that
// is not a whole, unfragmented IPv4 UDP datagram. The UDP checksum is not checked: on veth and
// offloading NICs a received packet may still carry a partial one, and DHCP's own parser
// rejects what does not decode.

export interface Ipv4UdpDatagram {
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  payload: Buffer;
}

const IPV4_MIN_HEADER = 20;
const UDP_HEADER = 8;
const PROTOCOL_UDP = 17;

function dotted(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

/** The IPv4 header checksum holds when the one's-complement sum of the header is 0xffff. */
function headerChecksumHolds(bytes: Uint8Array, length: number): boolean {
  let sum = 0;
  for (let i = 0; i < length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

export function parseIpv4Udp(bytes: Uint8Array): Ipv4UdpDatagram | null {
  if (bytes.length < IPV4_MIN_HEADER) return null;
  const version = bytes[0]! >> 4;
  const headerLength = (bytes[0]! & 0x0f) * 4;
  if (version !== 4 || headerLength < IPV4_MIN_HEADER || headerLength > bytes.length) return null;
  // Total length may be less than what the link delivered (Ethernet pads short frames), never more.
  const totalLength = (bytes[2]! << 8) | bytes[3]!;
  if (totalLength < headerLength + UDP_HEADER || totalLength > bytes.length) return null;
  // More fragments, or not the first: the datagram is not whole here.
  const fragment = (bytes[6]! << 8) | bytes[7]!;
  if (fragment & 0x3fff) return null;
  if (bytes[9] !== PROTOCOL_UDP) return null;
  if (!headerChecksumHolds(bytes, headerLength)) return null;
  const udp = headerLength;
  const udpLength = (bytes[udp + 4]! << 8) | bytes[udp + 5]!;
  if (udpLength < UDP_HEADER || udp + udpLength > totalLength) return null;
  return {
    source: dotted(bytes, 12),
    destination: dotted(bytes, 16),
    sourcePort: (bytes[udp]! << 8) | bytes[udp + 1]!,
    destinationPort: (bytes[udp + 2]! << 8) | bytes[udp + 3]!,
    payload: Buffer.from(bytes.subarray(udp + UDP_HEADER, udp + udpLength)),
  };
}
