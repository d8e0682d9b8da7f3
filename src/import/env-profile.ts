// An earlier pxe-pilot's environment variables as a pxe-pilot profile: each variable becomes the
// key that does its job here, or a line saying why it is not carried over. Pure: the caller reads
// the source (env-source.ts) and prints or writes the text.
import { isIP } from 'node:net';
import type { EnvSource } from './env-source.ts';

export interface ProfileKey {
  section: string;
  key: string;
  value: string;
  /** Why this key: "from PXE_PILOT_PORT=8080" and anything the reader should know. */
  comment: string;
}

export interface EnvProfile {
  keys: ProfileKey[];
  /** Variable: why it is not carried over. */
  notCarried: string[];
  /** Which earlier project the variables are from. */
  projects: ('wisherops' | 'aayusharyan')[];
}

/** The image an aayusharyan reinstall installs, named as [image] sections are: <product>/<version>. */
export const IMPORTED_IMAGE = 'ubuntu/from-pxe-env';

const LOG_LEVELS: Record<string, string> = { debug: 'debug', info: 'info', warn: 'warn', warning: 'warn', error: 'error', critical: 'fatal' };

function shown(name: string, value: string): string {
  return /KEY|TOKEN|SECRET|PASSWORD/.test(name) ? `${name}=<hidden>` : `${name}=${value}`;
}

/** A mounted container path as the host path, when a compose file's volumes say where it is. */
function hostPath(path: string, mounts: ReadonlyMap<string, string>): { path: string; via: string } {
  for (const [inside, outside] of mounts) {
    if (path === inside || path.startsWith(`${inside.replace(/\/$/, '')}/`))
      return { path: outside + path.slice(inside.length), via: ` (mounted from ${outside})` };
  }
  return { path, via: '' };
}

function portOf(value: string): number | null {
  return /^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65535 ? Number(value) : null;
}

export function profileFromEnvironment(source: EnvSource): EnvProfile {
  const vars = source.vars;
  const keys: ProfileKey[] = [];
  const notCarried: string[] = [];
  const used = new Set<string>();
  const get = (name: string): string | undefined => {
    const v = vars.get(name)?.trim();
    if (v === undefined || used.has(name)) return v || undefined;
    used.add(name);
    if (v === '') notCarried.push(`${name} is empty: that project then used its default, and so does this profile`);
    return v || undefined;
  };
  const set = (section: string, key: string, value: string, comment: string): void => {
    // Both projects' TFTP switches, say: the later one wins, and says what it replaced.
    const before = keys.findIndex((k) => k.section === section && k.key === key);
    if (before >= 0) comment += `; replaces ${keys.splice(before, 1)[0]!.comment.split(';')[0]}`;
    keys.push({ section, key, value, comment });
  };
  const skip = (name: string, why: string): void => {
    used.add(name);
    if (vars.has(name)) notCarried.push(`${shown(name, vars.get(name)!)}: ${why}`);
  };
  const wisherops = [...vars.keys()].some((k) => k.startsWith('PXE_PILOT_'));
  const aayusharyan = [...vars.keys()].some((k) => /^PXE_(?!PILOT_)/.test(k) || k === 'ADMIN_API_KEY');
  const projects: EnvProfile['projects'] = [...(wisherops ? ['wisherops' as const] : []), ...(aayusharyan ? ['aayusharyan' as const] : [])];

  // ---- WisherOps: PXE_PILOT_* ----
  if (wisherops) {
    const answers = hostPath(get('PXE_PILOT_ANSWERS_DIR') ?? '/answers', source.mounts);
    if (vars.get('PXE_PILOT_ANSWERS_DIR') || answers.via)
      set(
        'answers',
        'dir',
        answers.path,
        `from PXE_PILOT_ANSWERS_DIR=${vars.get('PXE_PILOT_ANSWERS_DIR') || '/answers (its default)'}${answers.via}; check it with pxe-pilot import --from-answers`,
      );
    const assets = hostPath(get('PXE_PILOT_ASSETS_DIR') ?? '/assets', source.mounts);
    if (vars.get('PXE_PILOT_ASSETS_DIR') || assets.via)
      set(
        'assets',
        'dir',
        assets.path,
        `from PXE_PILOT_ASSETS_DIR=${vars.get('PXE_PILOT_ASSETS_DIR') || '/assets (its default)'}${assets.via}; same layout, <product>/<version>/`,
      );
    const port = get('PXE_PILOT_PORT') ?? '8080';
    if (portOf(port) === null) skip('PXE_PILOT_PORT', 'not a port number');
    else
      set(
        'http',
        'also_listen',
        `:${port}`,
        `from PXE_PILOT_PORT=${vars.get('PXE_PILOT_PORT') || '8080 (its default)'}: ISOs built for the earlier server post to http://<host>:${port}/answer; ` +
          'answers over plain HTTP also need [answers] plain_http_from (see docs/migrating.md), or rebuild those ISOs with pxe-pilot assets add',
      );
    const level = get('PXE_PILOT_LOG_LEVEL');
    if (level !== undefined) {
      const mapped = LOG_LEVELS[level.toLowerCase()];
      if (mapped) set('server', 'log_level', mapped, `from PXE_PILOT_LOG_LEVEL=${level}`);
      else skip('PXE_PILOT_LOG_LEVEL', `not a level pxe-pilot knows (${Object.keys(LOG_LEVELS).join(', ')})`);
    }
    const boot = get('PXE_PILOT_BOOT_ENABLED');
    // That project turned TFTP on for exactly "true"; pxe-pilot serves it by default.
    const tftpOn = boot?.toLowerCase() === 'true';
    set(
      'tftp',
      'enabled',
      tftpOn ? 'true' : 'false',
      `from PXE_PILOT_BOOT_ENABLED=${boot ?? 'false (its default)'}; iPXE binaries from Debian's ipxe package ([tftp] root)`,
    );
    const tftpPort = get('PXE_PILOT_TFTP_PORT');
    if (tftpPort !== undefined) {
      if (portOf(tftpPort) === null) skip('PXE_PILOT_TFTP_PORT', 'not a port number');
      else set('tftp', 'port', tftpPort, `from PXE_PILOT_TFTP_PORT=${tftpPort}`);
    }
    skip(
      'PXE_PILOT_ASSET_URL',
      "URLs are built from [server] address and the ports, not from the request's Host header; [assets] url is only for another server holding the same tree",
    );
    skip('PXE_PILOT_TRUSTED_PROXIES', "pxe-pilot is not meant to sit behind a reverse proxy; it uses the peer's own address");
  }

  // ---- aayusharyan: PXE_*, ADMIN_API_KEY … ----
  if (aayusharyan) {
    set('http', 'legacy_api', 'aayusharyan', 'its /nodes, /health and /chain, in its shapes, for the scripts that call them (docs/migrating.md)');
    const base = get('PXE_BASE_URL');
    let portFromBase = false;
    if (base !== undefined) {
      let url: URL | null;
      try {
        url = new URL(base);
      } catch {
        url = null;
      }
      if (!url || !/^https?:$/.test(url.protocol)) skip('PXE_BASE_URL', 'not an http:// URL');
      else {
        const host = url.hostname;
        if (isIP(host) === 4) set('server', 'address', host, `from PXE_BASE_URL=${base}`);
        else
          notCarried.push(
            `PXE_BASE_URL=${base}: ${JSON.stringify(host)} is not an IPv4 address; set [server] address to the address machines reach this host on`,
          );
        if (url.port) {
          set('http', 'port', url.port, `from PXE_BASE_URL=${base}`);
          portFromBase = true;
        }
      }
    }
    const port = get('PORT');
    if (port !== undefined) {
      if (portFromBase) notCarried.push(`PORT=${port}: the port of PXE_BASE_URL was taken, it is what machines used`);
      else if (portOf(port) === null) skip('PORT', 'not a port number');
      else set('http', 'port', port, `from PORT=${port}`);
    }
    const key = get('ADMIN_API_KEY');
    if (key !== undefined) {
      if (key.length >= 16 && !/\s/.test(key))
        set('http', 'admin_token', key, 'from ADMIN_API_KEY: the same Bearer token works for the admin API and the legacy routes');
      else skip('ADMIN_API_KEY', 'shorter than the 16 characters [http] admin_token needs: make one (openssl rand -hex 24) and give it to the scripts');
    }
    const tftp = get('PXE_TFTP_ENABLED');
    if (tftp !== undefined) set('tftp', 'enabled', /^(1|true|yes)$/i.test(tftp) ? 'true' : 'false', `from PXE_TFTP_ENABLED=${tftp}`);
    const kernel = get('PXE_UBUNTU_KERNEL_URL');
    const initrd = get('PXE_UBUNTU_INITRD_URL');
    const autoinstall = get('PXE_AUTOINSTALL_URL');
    const iso = get('PXE_UBUNTU_ISO_URL');
    if (kernel && initrd) {
      const section = `image ${IMPORTED_IMAGE}`;
      set(section, 'kernel', kernel, 'from PXE_UBUNTU_KERNEL_URL: a remote image; ${mac} and ${ip} are filled in as before');
      set(section, 'initrd', initrd, 'from PXE_UBUNTU_INITRD_URL');
      const seed = autoinstall ? `${autoinstall.replace(/\/?$/, '/')}` : null;
      const words = [...(iso ? [`url=${iso}`] : []), 'ip=dhcp', 'cloud-config-url=/dev/null', ...(seed ? ['autoinstall', `ds=nocloud-net;s=${seed}`] : [])];
      set(
        section,
        'cmdline',
        `"${words.join(' ')}"`,
        `from ${['PXE_UBUNTU_ISO_URL', 'PXE_AUTOINSTALL_URL'].filter((v) => vars.has(v)).join(' and ') || 'the installer defaults'}`,
      );
      set('boot', 'default_install', IMPORTED_IMAGE, 'a reinstall that names no image (the only kind that project had) installs it');
    } else {
      for (const v of ['PXE_UBUNTU_KERNEL_URL', 'PXE_UBUNTU_INITRD_URL', 'PXE_AUTOINSTALL_URL', 'PXE_UBUNTU_ISO_URL'])
        skip(v, 'a remote image needs both PXE_UBUNTU_KERNEL_URL and PXE_UBUNTU_INITRD_URL');
    }
    set('boot', 'unknown', 'local', 'that project sent a machine it had no reinstall for to its disk, never to a menu');
    skip('PXE_UKI_URL', 'pxe-pilot boots the kernel and initrd itself, not a Unified Kernel Image; the [image] section above replaces it');
    skip('DATABASE_PATH', 'not a setting here: bring its nodes in with pxe-pilot import --from-db <that file>');
    skip('SEED_FILE', 'not a setting here: bring its nodes in with pxe-pilot import --from-seed <that file>');
    skip('TIMEZONE', 'every time is UTC here, in the log, the API and explain');
  }
  for (const name of vars.keys()) if (!used.has(name)) notCarried.push(`${shown(name, vars.get(name)!)}: not a variable either earlier pxe-pilot read`);
  return { keys, notCarried, projects };
}

/** The profile as INI text: sections in a stable order, each key under its reason. */
export function renderEnvProfile(profile: EnvProfile, sourceName: string): string {
  const order = ['server', 'http', 'tftp', 'answers', 'assets', 'boot'];
  const sections = [...new Set(profile.keys.map((k) => k.section))].sort((a, b) => rank(a) - rank(b));
  function rank(s: string): number {
    const i = order.indexOf(s);
    return i < 0 ? order.length : i;
  }
  const lines = [
    `; pxe-pilot profile made by pxe-pilot import --from-env from ${sourceName}.`,
    '; Keys not named here keep their defaults (pxe-pilot check-config prints them all).',
  ];
  for (const section of sections) {
    lines.push('', `[${section}]`);
    for (const k of profile.keys.filter((x) => x.section === section)) lines.push(`; ${k.comment}`, `${k.key} = ${k.value}`);
  }
  if (profile.notCarried.length) lines.push('', '; Not carried over:', ...profile.notCarried.map((n) => `;   ${n}`));
  return lines.join('\n') + '\n';
}
