// The kinds of value a profile key can hold: how each is read from INI text, what it says when the
// text is wrong, and how it is written back (check-config, the shipped profile's defaults).
import { resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import { hidePassword, parseConninfo } from './libpq.ts';

export interface ParseContext {
  /** Folder of the profile file: relative paths are relative to it. */
  readonly baseDir: string;
  /** Records a problem with this key; `shown` replaces the written value in the message (e.g. a secret). */
  report(message: string, shown?: string): undefined;
}

export interface ValueType<T> {
  /** Reads the trimmed text as written; undefined keeps the key's default (after reporting any problem). */
  parse(text: string, ctx: ParseContext): T | undefined;
  /** The value as INI text. */
  format(value: T): string;
  /** check-config prints "(set)" instead of the value. */
  readonly secret?: boolean;
}

const plain = (value: unknown): string => String(value);
const list = (value: readonly string[]): string => value.join(', ');
const items = (text: string): string[] => text.split(/[\s,]+/).filter(Boolean);

export const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
// One spelling of a profile name for the INI, the admin API and the catalogue.
export { PROFILE_NAME } from '../boot/catalogue.ts';
import { PROFILE_NAME } from '../boot/catalogue.ts';
const BOOT_FILE = /^[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*$/;
const HTTP_URL = /^https?:\/\/[^\s/$.?#][^\s]*$/i;

/** Any text; empty is empty. */
export const text: ValueType<string> = { parse: (v) => v, format: plain };

/** Text that must match `pattern` unless empty. */
export function matching(pattern: RegExp, expected: string): ValueType<string> {
  return {
    parse(v, ctx) {
      if (v !== '' && !pattern.test(v)) return ctx.report(expected);
      return v;
    },
    format: plain,
  };
}

/** A token or password: never printed back; shorter than `minLength` is an error. */
export function secret(minLength = 0): ValueType<string> {
  return {
    secret: true,
    parse(v, ctx) {
      if (v !== '' && v.length < minLength) ctx.report(`too short: use at least ${minLength} characters (e.g. openssl rand -hex 24)`, '(hidden)');
      return v;
    },
    format: plain,
  };
}

/** A whole number from min to max; empty keeps the default. */
export function wholeNumber(min: number, max: number): ValueType<number> {
  return {
    parse(v, ctx) {
      if (v === '') return undefined;
      if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) return ctx.report(`expected a whole number from ${min} to ${max}`);
      return Number(v);
    },
    format: plain,
  };
}

/** true/yes/on/1 or false/no/off/0, any case; empty keeps the default. */
export const flag: ValueType<boolean> = {
  parse(written, ctx) {
    const v = written.toLowerCase();
    if (v === '') return undefined;
    if (['true', 'yes', 'on', '1'].includes(v)) return true;
    if (['false', 'no', 'off', '0'].includes(v)) return false;
    return ctx.report('expected true or false', v);
  },
  format: plain,
};

/** One of a fixed set of words; empty keeps the default. */
export function oneOf<const T extends string>(allowed: readonly T[]): ValueType<T> {
  return {
    parse(v, ctx) {
      if (v === '') return undefined;
      if (!(allowed as readonly string[]).includes(v)) return ctx.report(`expected one of ${allowed.join(', ')}`);
      return v as T;
    },
    format: plain,
  };
}

/** An IPv4 address; empty (or wrong) keeps the default. */
export const ipv4: ValueType<string> = {
  parse(v, ctx) {
    if (v === '') return undefined;
    if (!ipaddr.IPv4.isValidFourPartDecimal(v)) return ctx.report('expected an IPv4 address such as 10.0.0.1');
    return v;
  },
  format: plain,
};

/** A subnet mask with contiguous ones. */
export const netmask: ValueType<string> = {
  parse(v, ctx) {
    const ip = ipv4.parse(v, ctx);
    if (ip && !ipaddr.IPv4.parse(ip).prefixLengthFromSubnetMask()) return ctx.report('not a contiguous netmask such as 255.255.255.0');
    return ip;
  },
  format: plain,
};

/** IPv4 addresses separated by commas or spaces; the good ones are kept. */
export const ipv4List: ValueType<string[]> = {
  parse(v, ctx) {
    const parts = items(v);
    const bad = parts.filter((p) => !ipaddr.IPv4.isValidFourPartDecimal(p));
    if (bad.length) ctx.report(`not IPv4 addresses: ${bad.join(', ')}`);
    return parts.filter((p) => !bad.includes(p));
  },
  format: list,
};

/** CIDR blocks separated by commas or spaces; each bad one is its own problem. */
export const cidrList: ValueType<string[]> = {
  parse(v, ctx) {
    return items(v).filter((cidr) => {
      try {
        ipaddr.parseCIDR(cidr);
        return true;
      } catch {
        ctx.report('expected a CIDR block such as 10.0.0.0/24', cidr);
        return false;
      }
    });
  },
  format: list,
};

/**
 * One IPv4 network in CIDR form, written back as network/prefix. Host bits set (10.78.0.5/24)
 * are a problem: a scope names a network, and a typo there would move the whole pool.
 */
export const ipv4Network: ValueType<string> = {
  parse(v, ctx) {
    if (v === '') return undefined;
    const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(v);
    if (!m || !ipaddr.IPv4.isValidFourPartDecimal(m[1]!) || Number(m[2]) > 32) return ctx.report('expected a network such as 10.78.0.0/24');
    const network = ipaddr.IPv4.networkAddressFromCIDR(v).toString();
    const written = ipaddr.IPv4.parse(m[1]!).toString();
    if (network !== written) return ctx.report(`host bits are set: the network is ${network}/${Number(m[2])}`);
    return `${network}/${Number(m[2])}`;
  },
  format: plain,
};

/** A folder or file, relative to the profile's folder. */
export const path: ValueType<string> = {
  parse: (v, ctx) => (v === '' ? '' : resolve(ctx.baseDir, v)),
  format: plain,
};

/**
 * File patterns separated by commas or spaces, each relative to the profile's folder; wildcards
 * (* ? [..]) in the file name only (src/config/include.ts reads them).
 */
export const pathPatterns: ValueType<string[]> = {
  parse: (v, ctx) => items(v).map((pattern) => resolve(ctx.baseDir, pattern)),
  format: list,
};

/** A file under [tftp] root: no absolute path, no "..". */
export const bootFile: ValueType<string> = {
  parse(v, ctx) {
    if (v !== '' && (!BOOT_FILE.test(v) || v.split('/').includes('..'))) return ctx.report('expected a file name relative to [tftp] root, such as ipxe.efi');
    return v;
  },
  format: plain,
};

/** The menu entry taken by default: local, shell or <product>/<version>. */
export const menuEntry: ValueType<string> = {
  parse(v, ctx) {
    if (!['local', 'shell'].includes(v) && !PROFILE_NAME.test(v)) return ctx.report('expected local, shell, or <product>/<version> such as proxmox-ve/9.1-1');
    return v;
  },
  format: plain,
};

export const httpUrl = matching(HTTP_URL, 'expected an http:// or https:// URL');

/**
 * A PostgreSQL connection string in any form libpq accepts (src/config/libpq.ts), kept as the URI
 * pxe-pilot connects with. A password in it is refused: it belongs in [store] password_file or
 * PGPASSWORD, not in a profile that is copied around and shown.
 */
export const postgresUrl: ValueType<string> = {
  secret: true,
  parse(v, ctx) {
    if (v === '') return v;
    const parsed = parseConninfo(v);
    if (!parsed.ok) return ctx.report(parsed.problem, hidePassword(v));
    return parsed.url;
  },
  format: (value) => String(value),
};

/** The installers `[answers] plain_http_from` can name, by the routes they fetch from. */
export const PLAIN_HTTP_INSTALLERS = ['proxmox', 'nocloud', 'preseed'] as const;

/**
 * CIDR blocks and installer names (proxmox, nocloud, preseed), separated by commas or spaces:
 * who may fetch answers over plain HTTP although [answers] require_tls is on.
 */
export const plainHttpFrom: ValueType<string[]> = {
  parse(v, ctx) {
    return items(v).filter((item) => {
      if ((PLAIN_HTTP_INSTALLERS as readonly string[]).includes(item.toLowerCase())) return true;
      try {
        ipaddr.parseCIDR(item);
        return true;
      } catch {
        ctx.report(`expected a CIDR block such as 10.0.0.0/24, or an installer: ${PLAIN_HTTP_INSTALLERS.join(', ')}`, item);
        return false;
      }
    });
  },
  format: list,
};

/**
 * More plain-HTTP listeners, `[address]:port` separated by commas or spaces (`:8080`: on
 * [http] bind). Kept as written; the port from 1 to 65535.
 */
export const listenList: ValueType<string[]> = {
  parse(v, ctx) {
    return items(v).filter((item) => {
      const m = /^(\d{1,3}(?:\.\d{1,3}){3})?:(\d{1,5})$/.exec(item);
      if (!m || (m[1] !== undefined && !ipaddr.IPv4.isValidFourPartDecimal(m[1])) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
        ctx.report('expected [address]:port such as :8080 or 10.0.0.2:8080', item);
        return false;
      }
      return true;
    });
  },
  format: list,
};

/** An `also_listen` item as address and port; `:8080` takes `bind`. */
export function listenAddress(item: string, bind: string): { address: string; port: number } {
  const colon = item.lastIndexOf(':');
  return { address: item.slice(0, colon) || bind, port: Number(item.slice(colon + 1)) };
}
