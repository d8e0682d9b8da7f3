// Builders for the requests the DHCP tests send: real ROMs' shapes, written out by hand.
import { emptyPacket, type DhcpPacket } from '../../src/dhcp/codec.ts';
import { MessageType } from '../../src/dhcp/options.ts';

export interface RequestShape {
  mac: string;
  type: number;
  xid?: number;
  arch?: number;
  vendorClass?: string;
  ipxe?: boolean;
  requested?: string;
  serverId?: string;
  ciaddr?: string;
  giaddr?: string;
  broadcast?: boolean;
  clientId?: Buffer;
}

export function dhcpRequest(shape: RequestShape): DhcpPacket {
  const p = emptyPacket(1);
  p.xid = shape.xid ?? 0x2a2a0001;
  Buffer.from(shape.mac.replace(/:/g, ''), 'hex').copy(p.chaddr);
  if (shape.broadcast) p.flags = 0x8000;
  if (shape.ciaddr) p.ciaddr = shape.ciaddr;
  if (shape.giaddr) {
    p.giaddr = shape.giaddr;
    p.hops = 1;
  }
  const o = p.options;
  o.write('messageType', shape.type);
  if (shape.clientId) o.write('clientId', shape.clientId);
  if (shape.requested) o.write('requestedIp', shape.requested);
  if (shape.serverId) o.write('serverId', shape.serverId);
  o.write('paramRequestList', [1, 3, 6, 12, 15, 28, 43, 60, 66, 67, 250]);
  if (shape.arch !== undefined) {
    o.write('clientArch', [shape.arch]).write('clientNdi', { type: 1, major: 3, minor: 16 });
    const label = shape.arch >= 15 && shape.arch <= 19 ? 'HTTPClient' : 'PXEClient';
    o.write('vendorClass', shape.vendorClass ?? `${label}:Arch:${String(shape.arch).padStart(5, '0')}:UNDI:003016`);
    o.write('clientUuid', Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0x5a)]));
  } else if (shape.vendorClass) {
    o.write('vendorClass', shape.vendorClass);
  }
  if (shape.ipxe) {
    // iPXE sends its user class as a bare string, not RFC 3004 format.
    o.set(77, Buffer.from('iPXE'));
    o.write('ipxeOptions', new Map([[19, Buffer.from([1])]]));
  }
  return p;
}

export const T = MessageType;
