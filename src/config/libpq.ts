// PostgreSQL connection strings in every form libpq accepts (its "Connection Strings" section):
// postgres:// and postgresql:// URIs, with the host in the authority, percent-encoded
// (%2Fvar%2Frun%2Fpostgresql) or as ?host=, and keyword/value strings (host=/run/postgresql dbname=pxe).
// Pure. The result is a URI the pg client reads the same way libpq would.

/** Debian's libpq looks here when no host is given (a Unix socket, not localhost over TCP). */
export const DEFAULT_SOCKET_DIR = '/var/run/postgresql';

// libpq's connection keywords (PostgreSQL 15/16 documentation, "Parameter Key Words").
const KEYWORDS = new Set([
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'password',
  'passfile',
  'require_auth',
  'channel_binding',
  'connect_timeout',
  'client_encoding',
  'options',
  'application_name',
  'fallback_application_name',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
  'replication',
  'gssencmode',
  'sslmode',
  'requiressl',
  'sslcompression',
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslcertmode',
  'sslrootcert',
  'sslcrl',
  'sslcrldir',
  'sslsni',
  'requirepeer',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
  'krbsrvname',
  'gsslib',
  'gssdelegation',
  'service',
  'target_session_attrs',
  'load_balance_hosts',
]);

export type Conninfo = { ok: true; url: string } | { ok: false; problem: string };

const NO_PASSWORD = 'holds a password: put it in [store] password_file or PGPASSWORD instead';
const URI = /^(postgres(?:ql)?):\/\/([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/;

function decode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** The parameters, checked: known keywords, no password, one host, a port number. */
function checkParams(params: Map<string, string>): string | null {
  for (const [k, v] of params) {
    if (!KEYWORDS.has(k)) return `${k} is not a libpq connection keyword`;
    if (k === 'password' || k === 'sslpassword') return NO_PASSWORD;
    if ((k === 'host' || k === 'hostaddr' || k === 'port') && v.includes(','))
      return 'names several hosts: pxe-pilot connects to one (put a load balancer or a virtual address in front of a cluster)';
    if ((k === 'host' || k === 'hostaddr') && v === '') return `${k} is empty: name a host or a socket folder, or leave ${k} out for the local socket`;
    if (k === 'port' && !(/^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535)) return `port ${v} is not a port number`;
  }
  return null;
}

function parseUri(text: string): Conninfo {
  const m = URI.exec(text);
  if (!m) return { ok: false, problem: 'expected a URL such as postgres://pxe@db.lab.example/pxe_pilot or postgresql:///pxe?host=/var/run/postgresql' };
  const authority = m[2]!;
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : '';
  const hostport = at >= 0 ? authority.slice(at + 1) : authority;
  const colon = userinfo.indexOf(':');
  if (colon >= 0 && userinfo.slice(colon + 1) !== '') return { ok: false, problem: NO_PASSWORD };
  if (decode(userinfo) === null) return { ok: false, problem: 'the user name has a broken %-escape' };
  if (hostport.includes(','))
    return { ok: false, problem: 'names several hosts: pxe-pilot connects to one (put a load balancer or a virtual address in front of a cluster)' };
  const hp = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]*)(?::(\d*))?$/.exec(hostport);
  if (!hp) return { ok: false, problem: `${hostport} is not host[:port]` };
  const host = decode(hp[1]!);
  if (host === null) return { ok: false, problem: 'the host has a broken %-escape' };
  const port = hp[2];
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) return { ok: false, problem: `port ${port} is not a port number` };
  if (m[3] && decode(m[3]) === null) return { ok: false, problem: 'the database name has a broken %-escape' };
  const params = new Map<string, string>();
  for (const pair of (m[4] ?? '').split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq >= 0 ? pair.slice(0, eq) : pair);
    const value = decode(eq >= 0 ? pair.slice(eq + 1).replace(/\+/g, ' ') : '');
    if (key === null || value === null) return { ok: false, problem: `${pair} has a broken %-escape` };
    params.set(key, value);
  }
  const problem = checkParams(params);
  if (problem) return { ok: false, problem };
  // No host anywhere: libpq uses its Unix socket; pg would use localhost over TCP. Say which.
  if (host === '' && !params.has('host') && !params.has('hostaddr')) params.set('host', DEFAULT_SOCKET_DIR);
  if (host !== '') return { ok: true, url: text };
  // Written the one way pg reads an empty authority as libpq does: [user@]/db?host=…
  const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
  if (port && !params.has('port')) params.set('port', port);
  const query = [...params].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return { ok: true, url: `${m[1]}://${user ? `${user}@` : ''}/${(m[3] ?? '/').slice(1)}?${query}` };
}

/** `key = value` pairs; values bare or single-quoted, with \' and \\ escapes. */
function parseKeywords(text: string): Conninfo {
  const params = new Map<string, string>();
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  while (true) {
    ws();
    if (i >= text.length) break;
    const key = /^[A-Za-z_]+/.exec(text.slice(i))?.[0];
    if (!key) return { ok: false, problem: `expected a keyword at "${text.slice(i, i + 20)}"` };
    i += key.length;
    ws();
    if (text[i] !== '=') return { ok: false, problem: `missing "=" after ${key}` };
    i++;
    ws();
    let value = '';
    if (text[i] === "'") {
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text[i]!;
        if (c === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (c === "'") {
          i++;
          closed = true;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) return { ok: false, problem: `unterminated quoted value for ${key}` };
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
    }
    params.set(key, value);
  }
  if (params.size === 0) return { ok: false, problem: 'names nothing to connect to' };
  const problem = checkParams(params);
  if (problem) return { ok: false, problem };
  if (!params.has('host') && !params.has('hostaddr')) params.set('host', DEFAULT_SOCKET_DIR);
  const dbname = params.get('dbname');
  params.delete('dbname');
  const query = [...params].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return { ok: true, url: `postgresql:///${dbname === undefined ? '' : encodeURIComponent(dbname)}?${query}` };
}

/** Checks a connection string as libpq reads it, refusing passwords; returns the URI pxe-pilot connects with. */
export function parseConninfo(text: string): Conninfo {
  const t = text.trim();
  if (/^postgres(ql)?:\/\//.test(t)) return parseUri(t);
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(t) && !/^[A-Za-z_]+\s*=/.test(t)) return { ok: false, problem: 'expected postgres://user@host/db' };
  if (/^[A-Za-z_]+\s*=/.test(t)) return parseKeywords(t);
  return { ok: false, problem: 'expected a URL such as postgres://pxe@db.lab.example/pxe_pilot or postgresql:///pxe?host=/var/run/postgresql' };
}

/** The text with any password hidden, for messages. */
export function hidePassword(text: string): string {
  return text
    .replace(/:[^:@/]*@/, ':(hidden)@')
    .replace(/([?&]password=)[^&]*/g, '$1(hidden)')
    .replace(/(\bpassword\s*=\s*)('(?:\\.|[^'])*'|\S+)/g, '$1(hidden)');
}
