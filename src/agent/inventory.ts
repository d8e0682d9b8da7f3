// The inventory the agent posts (docs/inventory.md), parsed: a typed Inventory, or the first field
// that is wrong and why. Pure, and total: whatever the bytes, it returns, never throws. Sizes are
// bytes; absent facts are null, never "" or 0. Unknown keys are ignored, so a newer agent's
// extra facts do not make an older server refuse the rest.
import { isPlaceholderSerial, isPlaceholderUuid, uuidNormalForm } from './identity.ts';

/** The largest document accepted (the endpoint answers 413 above it). */
export const MAX_INVENTORY_BYTES = 1024 * 1024;
const MAX_STRING = 512;
const MAX_LIST = 4096;

export const DISK_TRANSPORTS = ['nvme', 'sata', 'sas', 'scsi', 'virtio', 'usb', 'unknown'] as const;
export type DiskTransport = (typeof DISK_TRANSPORTS)[number];
export const LINK_STATES = ['up', 'down', 'unknown'] as const;
export type LinkState = (typeof LINK_STATES)[number];

export interface SystemFacts {
  vendor: string | null;
  product: string | null;
  serial: string | null;
  /** Normal form (identity.ts): lower-case, first three fields as SMBIOS ≥ 2.6 means them. */
  uuid: string | null;
  sku: string | null;
  family: string | null;
  board: { vendor: string | null; product: string | null; serial: string | null };
  bios: { vendor: string | null; version: string | null; date: string | null };
  /** SMBIOS chassis type number (3 desktop, 17 main server chassis, 23 rack mount, 1 other…). */
  chassis: { type: number | null; serial: string | null };
}

export interface Dimm {
  locator: string | null;
  sizeBytes: number;
  type: string | null;
  speedMts: number | null;
  manufacturer: string | null;
  serial: string | null;
  partNumber: string | null;
}

export interface Disk {
  name: string;
  sizeBytes: number;
  model: string | null;
  serial: string | null;
  wwn: string | null;
  rotational: boolean | null;
  transport: DiskTransport;
  removable: boolean | null;
}

export interface LldpNeighbour {
  chassisId: string | null;
  portId: string | null;
  systemName: string | null;
  portDescription: string | null;
}

export interface Nic {
  name: string;
  /** Lower-case, colon-separated. */
  mac: string;
  driver: string | null;
  pciAddress: string | null;
  link: LinkState;
  speedMbps: number | null;
  lldp: LldpNeighbour | null;
}

export interface MissingDriver {
  pciAddress: string;
  kind: 'network' | 'storage';
  vendorId: string | null;
  deviceId: string | null;
  modalias: string | null;
}

export interface Inventory {
  schema: 1;
  agent: { version: string | null; kernel: string | null };
  system: SystemFacts;
  boot: { mode: 'bios' | 'uefi'; secureBoot: boolean | null };
  cpus: { model: string | null; sockets: number | null; cores: number | null; threads: number | null };
  memory: { totalBytes: number | null; dimms: Dimm[] };
  disks: Disk[];
  nics: Nic[];
  bmc: { ip: string | null; mac: string | null } | null;
  /** PCI network and storage functions no driver took, and firmware files the kernel could not load. */
  missing: { drivers: MissingDriver[]; firmware: string[] };
}

export type InventoryResult = { ok: true; inventory: Inventory } | { ok: false; field: string; reason: string };

class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

type Obj = Record<string, unknown>;

function object(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FieldError(field, 'must be an object');
  return v as Obj;
}

function list(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw new FieldError(field, 'must be a list');
  if (v.length > MAX_LIST) throw new FieldError(field, `has ${v.length} entries, at most ${MAX_LIST}`);
  return v;
}

function optString(o: Obj, key: string, field: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new FieldError(`${field}.${key}`, 'must be a string or null');
  if (v.length > MAX_STRING) throw new FieldError(`${field}.${key}`, `is ${v.length} characters long, at most ${MAX_STRING}`);
  // Control characters would corrupt tables and logs; the agent strips them, so they mean a bad sender.
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new FieldError(`${field}.${key}`, 'holds control characters');
  const t = v.trim();
  return t === '' ? null : t;
}

function reqString(o: Obj, key: string, field: string): string {
  const v = optString(o, key, field);
  if (v === null) throw new FieldError(`${field}.${key}`, 'is required');
  return v;
}

function optCount(o: Obj, key: string, field: string): number | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new FieldError(`${field}.${key}`, 'must be a whole number ≥ 0 or null');
  return v;
}

function reqCount(o: Obj, key: string, field: string): number {
  const v = optCount(o, key, field);
  if (v === null) throw new FieldError(`${field}.${key}`, 'is required (a whole number ≥ 0)');
  return v;
}

function optBool(o: Obj, key: string, field: string): boolean | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'boolean') throw new FieldError(`${field}.${key}`, 'must be true, false or null');
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, field: string, allowed: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new FieldError(`${field}.${key}`, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const PCI_ADDRESS = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

function mac(o: Obj, key: string, field: string, required: boolean): string | null {
  const v = optString(o, key, field);
  if (v === null) {
    if (required) throw new FieldError(`${field}.${key}`, 'is required');
    return null;
  }
  const m = v.toLowerCase().replace(/-/g, ':');
  if (!MAC.test(m)) throw new FieldError(`${field}.${key}`, `${JSON.stringify(v)} is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return m;
}

function pciAddress(o: Obj, key: string, field: string): string | null {
  const v = optString(o, key, field);
  if (v === null) return null;
  const p = v.toLowerCase();
  if (!PCI_ADDRESS.test(p)) throw new FieldError(`${field}.${key}`, `${JSON.stringify(v)} is not a PCI address (0000:3b:00.0)`);
  return p;
}

function system(v: unknown): SystemFacts {
  const o = object(v, 'system');
  const uuidText = optString(o, 'uuid', 'system');
  const uuid = uuidText === null ? null : uuidNormalForm(uuidText);
  if (uuidText !== null && uuid === null) throw new FieldError('system.uuid', `${JSON.stringify(uuidText)} is not a UUID`);
  const board = object(o.board, 'system.board');
  const bios = object(o.bios, 'system.bios');
  const chassis = object(o.chassis, 'system.chassis');
  return {
    vendor: optString(o, 'vendor', 'system'),
    product: optString(o, 'product', 'system'),
    serial: optString(o, 'serial', 'system'),
    uuid,
    sku: optString(o, 'sku', 'system'),
    family: optString(o, 'family', 'system'),
    board: {
      vendor: optString(board, 'vendor', 'system.board'),
      product: optString(board, 'product', 'system.board'),
      serial: optString(board, 'serial', 'system.board'),
    },
    bios: {
      vendor: optString(bios, 'vendor', 'system.bios'),
      version: optString(bios, 'version', 'system.bios'),
      date: optString(bios, 'date', 'system.bios'),
    },
    chassis: { type: optCount(chassis, 'type', 'system.chassis'), serial: optString(chassis, 'serial', 'system.chassis') },
  };
}

function dimm(v: unknown, field: string): Dimm {
  const o = object(v, field);
  return {
    locator: optString(o, 'locator', field),
    sizeBytes: reqCount(o, 'sizeBytes', field),
    type: optString(o, 'type', field),
    speedMts: optCount(o, 'speedMts', field),
    manufacturer: optString(o, 'manufacturer', field),
    serial: optString(o, 'serial', field),
    partNumber: optString(o, 'partNumber', field),
  };
}

function disk(v: unknown, field: string): Disk {
  const o = object(v, field);
  return {
    name: reqString(o, 'name', field),
    sizeBytes: reqCount(o, 'sizeBytes', field),
    model: optString(o, 'model', field),
    serial: optString(o, 'serial', field),
    wwn: optString(o, 'wwn', field),
    rotational: optBool(o, 'rotational', field),
    transport: oneOf(o, 'transport', field, DISK_TRANSPORTS),
    removable: optBool(o, 'removable', field),
  };
}

function lldp(v: unknown, field: string): LldpNeighbour | null {
  if (v === undefined || v === null) return null;
  const o = object(v, field);
  return {
    chassisId: optString(o, 'chassisId', field),
    portId: optString(o, 'portId', field),
    systemName: optString(o, 'systemName', field),
    portDescription: optString(o, 'portDescription', field),
  };
}

function nic(v: unknown, field: string): Nic {
  const o = object(v, field);
  return {
    name: reqString(o, 'name', field),
    mac: mac(o, 'mac', field, true)!,
    driver: optString(o, 'driver', field),
    pciAddress: pciAddress(o, 'pciAddress', field),
    link: oneOf(o, 'link', field, LINK_STATES),
    speedMbps: optCount(o, 'speedMbps', field),
    lldp: lldp(o.lldp, `${field}.lldp`),
  };
}

function missingDriver(v: unknown, field: string): MissingDriver {
  const o = object(v, field);
  const address = pciAddress(o, 'pciAddress', field);
  if (address === null) throw new FieldError(`${field}.pciAddress`, 'is required');
  return {
    pciAddress: address,
    kind: oneOf(o, 'kind', field, ['network', 'storage'] as const),
    vendorId: optString(o, 'vendorId', field),
    deviceId: optString(o, 'deviceId', field),
    modalias: optString(o, 'modalias', field),
  };
}

function inventory(v: unknown): Inventory {
  const o = object(v, 'document');
  if (o.schema !== 1) throw new FieldError('schema', `must be 1 (this server reads schema 1), not ${JSON.stringify(o.schema) ?? 'absent'}`);
  const agent = object(o.agent, 'agent');
  const boot = object(o.boot, 'boot');
  const cpus = object(o.cpus, 'cpus');
  const memory = object(o.memory, 'memory');
  const missing = object(o.missing, 'missing');
  const firmware = list(missing.firmware, 'missing.firmware').map((f, i) => {
    const name = optString({ f }, 'f', `missing.firmware[${i}]`);
    if (name === null) throw new FieldError(`missing.firmware[${i}]`, 'must be a file name');
    return name;
  });
  let bmc: Inventory['bmc'] = null;
  if (o.bmc !== undefined && o.bmc !== null) {
    const b = object(o.bmc, 'bmc');
    bmc = { ip: optString(b, 'ip', 'bmc'), mac: mac(b, 'mac', 'bmc', false) };
  }
  return {
    schema: 1,
    agent: { version: optString(agent, 'version', 'agent'), kernel: optString(agent, 'kernel', 'agent') },
    system: system(o.system),
    boot: { mode: oneOf(boot, 'mode', 'boot', ['bios', 'uefi'] as const), secureBoot: optBool(boot, 'secureBoot', 'boot') },
    cpus: {
      model: optString(cpus, 'model', 'cpus'),
      sockets: optCount(cpus, 'sockets', 'cpus'),
      cores: optCount(cpus, 'cores', 'cpus'),
      threads: optCount(cpus, 'threads', 'cpus'),
    },
    memory: {
      totalBytes: optCount(memory, 'totalBytes', 'memory'),
      dimms: list(memory.dimms ?? [], 'memory.dimms').map((d, i) => dimm(d, `memory.dimms[${i}]`)),
    },
    disks: list(o.disks, 'disks').map((d, i) => disk(d, `disks[${i}]`)),
    nics: list(o.nics, 'nics').map((n, i) => nic(n, `nics[${i}]`)),
    bmc,
    missing: { drivers: list(missing.drivers, 'missing.drivers').map((d, i) => missingDriver(d, `missing.drivers[${i}]`)), firmware },
  };
}

/** Parses a posted document (text or the raw body). Never throws. */
export function parseInventory(body: string | Uint8Array): InventoryResult {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > MAX_INVENTORY_BYTES) return { ok: false, field: 'document', reason: `is ${size} bytes, at most ${MAX_INVENTORY_BYTES}` };
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
  } catch (err) {
    return { ok: false, field: 'document', reason: `is not JSON (${(err as Error).message})` };
  }
  try {
    return { ok: true, inventory: inventory(value) };
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, field: err.field, reason: err.reason };
    // Deeply nested input can exhaust the stack in JSON.parse's callers; still an answer, not a throw.
    return { ok: false, field: 'document', reason: `cannot be read (${(err as Error).message})` };
  }
}

/** The identity facts that may select a machine: placeholders dropped (docs/inventory.md). */
export function usableIdentity(inv: Inventory): { uuid: string | null; serial: string | null } {
  const uuid = inv.system.uuid !== null && !isPlaceholderUuid(inv.system.uuid) ? inv.system.uuid : null;
  const serial = inv.system.serial !== null && !isPlaceholderSerial(inv.system.serial) ? inv.system.serial : null;
  return { uuid, serial };
}
