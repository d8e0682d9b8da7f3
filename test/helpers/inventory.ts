// Inventories for tests: a valid schema-1 document (docs/inventory.md) with the facts a test changes.
import type { Disk, Inventory, Nic } from '../../src/agent/inventory.ts';

export function testDisk(name: string, fields: Partial<Disk> = {}): Disk {
  return {
    name,
    sizeBytes: 32 * 1024 ** 3,
    model: 'QEMU HARDDISK',
    serial: `SER-${name}`,
    wwn: null,
    rotational: false,
    transport: 'virtio',
    removable: false,
    ...fields,
  };
}

export function testNic(name: string, mac: string, fields: Partial<Nic> = {}): Nic {
  return { name, mac, driver: 'virtio_net', pciAddress: null, link: 'up', speedMbps: 1000, lldp: null, ...fields };
}

export type InventoryOverrides = Partial<Omit<Inventory, 'system'>> & { system?: Partial<Inventory['system']> };

export function testInventory(overrides: InventoryOverrides = {}): Inventory {
  const { system, ...rest } = overrides;
  return {
    schema: 1,
    agent: { version: 'pxe-pilot test', kernel: '6.1.0-57-amd64' },
    system: {
      vendor: 'Acme',
      product: 'Roadrunner-9',
      serial: 'RR-0042',
      uuid: '12345678-9abc-def0-1122-334455667788',
      sku: null,
      family: null,
      board: { vendor: null, product: null, serial: null },
      bios: { vendor: 'SeaBIOS', version: '1.16', date: null },
      chassis: { type: 23, serial: null },
      ...system,
    },
    boot: { mode: 'uefi', secureBoot: false },
    cpus: { model: 'QEMU Virtual CPU', sockets: 1, cores: 8, threads: 16 },
    memory: { totalBytes: 16 * 1024 ** 3 - 300 * 1024 ** 2, dimms: [] },
    disks: [
      testDisk('vda', { sizeBytes: 64 * 1024 ** 3, serial: 'BIG1' }),
      testDisk('nvme0n1', { sizeBytes: 32 * 1024 ** 3, serial: 'SMALL2', transport: 'nvme', model: 'QEMU NVMe Ctrl' }),
    ],
    nics: [testNic('eth0', '52:54:00:aa:bb:01')],
    bmc: null,
    missing: { drivers: [], firmware: [] },
    ...rest,
  };
}
