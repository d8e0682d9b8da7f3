// The two JSON documents the Proxmox automated installer sends us: the answer request
// (POST /answer) and the post-installation webhook. Pure: parsed value in, typed value or a
// message naming the problem out.
import { normaliseMac } from '../net/mac.ts';
import { normaliseProduct, normaliseSerial, normaliseUuid } from './names.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export interface AnswerRequest {
  /** Valid MACs, normalised, in the order sent. */
  macs: string[];
  /** MAC strings that are not Ethernet MACs (InfiniBand, garbage): kept out of the selection. */
  ignoredMacs: string[];
  /** DMI system serial as sent (trimmed), when usable. */
  serial: string | null;
  uuid: string | null;
  /** pve, pbs or pmg. */
  product: string | null;
  /** "9.1-1" from iso.release and iso.isorelease, when sent. */
  isoVersion: string | null;
  /** `$schema.version` (8.3 on), null for older installers. */
  schemaVersion: string | null;
}

const MAX_NICS = 256;

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An optional nested object: absent/null → {}; anything else but an object → error. */
function optionalObject(parent: Record<string, unknown>, key: string, path: string): Parsed<Record<string, unknown>> {
  const v = parent[key];
  if (v === undefined || v === null) return { ok: true, value: {} };
  if (!isObject(v)) return { ok: false, error: `${path} is ${kind(v)}, expected an object` };
  return { ok: true, value: v };
}

function optionalString(parent: Record<string, unknown>, key: string, path: string): Parsed<string | null> {
  const v = parent[key];
  if (v === undefined || v === null) return { ok: true, value: null };
  if (typeof v !== 'string') return { ok: false, error: `${path} is ${kind(v)}, expected a string` };
  return { ok: true, value: v };
}

/** Reads `a.b.c` as nested optional objects ending in an optional string. */
function stringAt(root: Record<string, unknown>, path: string[]): Parsed<string | null> {
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    const next = optionalObject(node, path[i]!, path.slice(0, i + 1).join('.'));
    if (!next.ok) return next;
    node = next.value;
  }
  return optionalString(node, path[path.length - 1]!, path.join('.'));
}

/** Several optional strings by path at once; the first malformed one is the error. */
function stringsAt<K extends string>(root: Record<string, unknown>, paths: Record<K, string[]>): Parsed<Record<K, string | null>> {
  const out = {} as Record<K, string | null>;
  for (const key of Object.keys(paths) as K[]) {
    const r = stringAt(root, paths[key]);
    if (!r.ok) return r;
    out[key] = r.value;
  }
  return { ok: true, value: out };
}

/** Accepts `network_interfaces` or `network-interfaces`: the answer request uses one, the webhook the other. */
function interfaceList(
  body: Record<string, unknown>,
  usual: 'network_interfaces' | 'network-interfaces',
  required: boolean,
): Parsed<{ mac: string; management: boolean }[]> {
  const other = usual === 'network_interfaces' ? 'network-interfaces' : 'network_interfaces';
  const key = !(usual in body) && other in body ? other : usual;
  const list = body[key];
  if (list === undefined || list === null) {
    if (!required) return { ok: true, value: [] };
    return { ok: false, error: `${key} is ${list === null ? 'null' : 'missing'}: expected a list of {"mac": "…"} objects` };
  }
  if (!Array.isArray(list)) return { ok: false, error: `${key} is ${kind(list)}: expected a list of {"mac": "…"} objects` };
  if (list.length > MAX_NICS) return { ok: false, error: `${key} lists ${list.length} interfaces, more than ${MAX_NICS}` };
  const out: { mac: string; management: boolean }[] = [];
  for (let i = 0; i < list.length; i++) {
    const nic: unknown = list[i];
    if (!isObject(nic)) return { ok: false, error: `${key}[${i}] is ${kind(nic)}: expected an object with a "mac"` };
    if (typeof nic.mac !== 'string')
      return { ok: false, error: `${key}[${i}].mac is ${nic.mac === undefined ? 'missing' : kind(nic.mac)}: expected a string like "bc:24:11:aa:bb:cc"` };
    out.push({ mac: nic.mac, management: nic['is-management'] === true || nic.is_management === true });
  }
  return { ok: true, value: out };
}

function splitMacs(nics: { mac: string }[]): { macs: string[]; ignored: string[] } {
  const macs: string[] = [];
  const ignored: string[] = [];
  for (const { mac } of nics) {
    const m = normaliseMac(mac);
    if (m) macs.push(m);
    else ignored.push(mac.slice(0, 64));
  }
  return { macs, ignored };
}

export function parseAnswerRequest(body: unknown): Parsed<AnswerRequest> {
  if (!isObject(body)) return { ok: false, error: `answer request is ${kind(body)}, expected a JSON object` };
  const nics = interfaceList(body, 'network_interfaces', true);
  if (!nics.ok) return nics;
  const s = stringsAt(body, {
    serial: ['dmi', 'system', 'serial'],
    uuid: ['dmi', 'system', 'uuid'],
    product: ['product', 'product'],
    release: ['iso', 'release'],
    isorelease: ['iso', 'isorelease'],
    schema: ['$schema', 'version'],
  });
  if (!s.ok) return s;
  const { serial, uuid, product, release, isorelease, schema } = s.value;
  const { macs, ignored } = splitMacs(nics.value);
  return {
    ok: true,
    value: {
      macs,
      ignoredMacs: ignored,
      serial: normaliseSerial(serial),
      uuid: normaliseUuid(uuid),
      product: normaliseProduct(product),
      isoVersion: release ? (isorelease ? `${release}-${isorelease}` : release) : null,
      schemaVersion: schema,
    },
  };
}

export interface InstallReport {
  /** Valid MACs in the order sent. */
  macs: string[];
  /** The NIC the installer configured for management, when it said. */
  managementMac: string | null;
  fqdn: string | null;
  /** "efi" or "bios". */
  bootMode: string | null;
  secureBoot: boolean | null;
  serial: string | null;
  uuid: string | null;
  product: string | null;
  productVersion: string | null;
}

/** Reads a key in the webhook's kebab-case, falling back to snake_case. */
function either(body: Record<string, unknown>, kebab: string): string {
  return kebab in body ? kebab : kebab.replace(/-/g, '_');
}

export function parseInstallReport(body: unknown): Parsed<InstallReport> {
  if (!isObject(body)) return { ok: false, error: `webhook body is ${kind(body)}, expected a JSON object` };
  const nics = interfaceList(body, 'network-interfaces', false);
  if (!nics.ok) return nics;
  const bootKey = either(body, 'boot-info');
  const s = stringsAt(body, {
    fqdn: ['fqdn'],
    mode: [bootKey, 'mode'],
    serial: ['dmi', 'system', 'serial'],
    uuid: ['dmi', 'system', 'uuid'],
    product: ['product', 'short'],
    version: ['product', 'version'],
  });
  if (!s.ok) return s;
  const { fqdn, mode, serial, uuid, product, version } = s.value;
  const secure = body[bootKey];
  const { macs } = splitMacs(nics.value);
  const management = nics.value.find((n) => n.management);
  const report: InstallReport = {
    macs,
    managementMac: management ? normaliseMac(management.mac) : null,
    fqdn: fqdn && fqdn.length <= 253 ? fqdn : null,
    bootMode: mode,
    // The installer leaves `secureboot` out when it is off.
    secureBoot: isObject(secure) ? secure.secureboot === true : null,
    serial: normaliseSerial(serial),
    uuid: normaliseUuid(uuid),
    product: normaliseProduct(product),
    productVersion: version,
  };
  if (report.macs.length === 0 && !report.serial && !report.uuid) {
    return { ok: false, error: 'webhook names no machine: no valid MAC in network-interfaces and no usable dmi.system serial or uuid' };
  }
  return { ok: true, value: report };
}
