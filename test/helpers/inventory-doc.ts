// A valid inventory document as the agent posts it (docs/inventory.md), for the store, HTTP and CLI
// tests: two disks with serials, two NICs, with parts to change for a later inspection.
import { parseInventory, type Inventory } from '../../src/agent/inventory.ts';

export interface DocParts {
  serial?: string;
  memoryBytes?: number;
  disks?: { name: string; sizeBytes: number; serial: string | null; model?: string }[];
  nics?: { name: string; mac: string; systemName?: string; portId?: string }[];
}

/** The JSON body (unparsed), as the agent would send it. */
export function inventoryBody(parts: DocParts = {}): Record<string, unknown> {
  const disks = parts.disks ?? [
    { name: 'vda', sizeBytes: 68719476736, serial: 'VIRTSER1', model: null },
    { name: 'nvme0n1', sizeBytes: 34359738368, serial: 'NVMESER2', model: 'QEMU NVMe Ctrl' },
  ];
  const nics = parts.nics ?? [
    { name: 'eth0', mac: '52:54:00:aa:bb:01', systemName: 'leaf-1', portId: 'Ethernet12' },
    { name: 'eth1', mac: '52:54:00:aa:bb:02' },
  ];
  return {
    schema: 1,
    agent: { version: 'pxe-pilot 0.1.0 6.1.0-57-amd64', kernel: '6.1.0-57-amd64' },
    system: {
      vendor: 'Acme',
      product: 'Roadrunner-9',
      serial: parts.serial ?? 'RR-0042',
      uuid: '12345678-9abc-def0-1122-334455667788',
      sku: null,
      family: null,
      board: { vendor: null, product: null, serial: null },
      bios: { vendor: 'SeaBIOS', version: '1.16.2', date: '04/01/2014' },
      chassis: { type: 23, serial: null },
    },
    boot: { mode: 'uefi', secureBoot: false },
    cpus: { model: 'QEMU Virtual CPU', sockets: 2, cores: 8, threads: 16 },
    memory: { totalBytes: parts.memoryBytes ?? 8589934592, dimms: [] },
    disks: disks.map((d) => ({ wwn: null, rotational: false, transport: d.name.startsWith('nvme') ? 'nvme' : 'virtio', removable: false, model: null, ...d })),
    nics: nics.map((n) => ({
      name: n.name,
      mac: n.mac,
      driver: 'virtio_net',
      pciAddress: null,
      link: 'up',
      speedMbps: 10000,
      lldp: n.systemName ? { chassisId: null, portId: n.portId ?? null, systemName: n.systemName, portDescription: null } : null,
    })),
    bmc: null,
    missing: { drivers: [], firmware: [] },
  };
}

/** The parsed document. */
export function inventoryDoc(parts: DocParts = {}): Inventory {
  const parsed = parseInventory(JSON.stringify(inventoryBody(parts)));
  if (!parsed.ok) throw new Error(`test inventory does not parse: ${parsed.field}: ${parsed.reason}`);
  return parsed.inventory;
}
