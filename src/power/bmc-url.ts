// What a [host] `bmc` key names: an IPMI or Redfish BMC, or Wake-on-LAN. Pure: text in, a target
// or the reason it is refused out (check-config shows the reason beside file, section and key).

export const IPMI_PRIVILEGES = ['USER', 'OPERATOR', 'ADMINISTRATOR'] as const;
export type IpmiPrivilege = (typeof IPMI_PRIVILEGES)[number];

export interface IpmiTarget {
  kind: 'ipmi';
  host: string;
  port: number;
  /** The URL wrote a port: the credentials file is then named host:port. */
  portGiven: boolean;
}

export interface RedfishTarget {
  kind: 'redfish';
  /** redfish:// is HTTPS; redfish+http:// is plain HTTP (a lab, or a BMC behind a TLS proxy). */
  tls: boolean;
  host: string;
  port: number;
  portGiven: boolean;
}

export interface WolTarget {
  kind: 'wol';
}

export type BmcTarget = IpmiTarget | RedfishTarget | WolTarget;
export type BmcKind = BmcTarget['kind'];

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const SCHEMES = { 'ipmi://': 'ipmi', 'redfish://': 'redfish', 'redfish+http://': 'redfish+http' } as const;
const EXPECTED = 'expected ipmi://HOST[:PORT], redfish://HOST[:PORT], redfish+http://HOST[:PORT] or wol';

/** A host name or IPv4 address, as a credentials file may be named after it. */
export function isBmcHost(host: string): boolean {
  return IPV4.test(host) || (HOST_NAME.test(host) && !/^[\d.]+$/.test(host));
}

export function parseBmc(text: string): Parsed<BmcTarget> {
  const written = text.trim();
  if (written.toLowerCase() === 'wol') return { ok: true, value: { kind: 'wol' } };
  const prefix = (Object.keys(SCHEMES) as (keyof typeof SCHEMES)[]).find((s) => written.toLowerCase().startsWith(s));
  if (!prefix) return { ok: false, error: EXPECTED };
  const scheme = SCHEMES[prefix];
  const rest = written.slice(prefix.length).replace(/\/$/, '');
  const m = /^([^:/?#@\s]+)(?::(\d{1,5}))?$/.exec(rest);
  if (!m) {
    if (/[/?#]/.test(rest)) return { ok: false, error: `${EXPECTED}: no path or query (use bmc_system, bmc_cipher_suite… keys)` };
    if (rest.includes('@')) return { ok: false, error: `${EXPECTED}: no user in the URL (credentials go in [power] credentials_dir)` };
    return { ok: false, error: EXPECTED };
  }
  const host = m[1]!.toLowerCase();
  if (!isBmcHost(host)) return { ok: false, error: `${JSON.stringify(m[1])} is neither an IPv4 address nor a host name` };
  const portGiven = m[2] !== undefined;
  const port = portGiven ? Number(m[2]) : scheme === 'ipmi' ? 623 : scheme === 'redfish' ? 443 : 80;
  if (port < 1 || port > 65535) return { ok: false, error: `port ${m[2]} is not from 1 to 65535` };
  if (scheme === 'ipmi') return { ok: true, value: { kind: 'ipmi', host, port, portGiven } };
  return { ok: true, value: { kind: 'redfish', tls: scheme === 'redfish', host, port, portGiven } };
}

/** The URL as check-config writes it back (scheme and host lower case, default port left out). */
export function formatBmc(target: BmcTarget): string {
  if (target.kind === 'wol') return 'wol';
  const scheme = target.kind === 'ipmi' ? 'ipmi' : target.tls ? 'redfish' : 'redfish+http';
  return `${scheme}://${target.host}${target.portGiven ? `:${target.port}` : ''}`;
}

/** The name of the credentials file for this BMC: host, or host:port when the URL gives a port. */
export function credentialsName(target: IpmiTarget | RedfishTarget): string {
  return target.portGiven ? `${target.host}:${target.port}` : target.host;
}

/** A Redfish system path such as /redfish/v1/Systems/1. */
export const REDFISH_SYSTEM = /^\/redfish\/v1\/Systems\/[A-Za-z0-9._~%-]+$/;

/** A SHA-256 fingerprint, colon form or bare hex, any case, normalised to upper-case colon form. */
export function parseFingerprint(text: string): string | null {
  const hex = text.replace(/:/g, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex) || (text.includes(':') && !/^([0-9a-fA-F]{2}:){31}[0-9a-fA-F]{2}$/.test(text))) return null;
  return hex.toUpperCase().match(/../g)!.join(':');
}
