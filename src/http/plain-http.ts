// Answers over plain HTTP while [answers] require_tls is on: allowed on purpose by
// [answers] plain_http_from (a subnet, or an installer by the routes it uses), else refused with
// a 403 that names the URL the installer used (the one baked into its ISO or kernel line) and the
// two ways out. Pure apart from reading the request.
import type { Context } from 'koa';
import type { Profile } from '../config/profile.ts';
import { PLAIN_HTTP_INSTALLERS } from '../config/values.ts';
import { httpsBase } from '../boot/urls.ts';
import { normaliseMac } from '../net/mac.ts';
import { addressAllowed } from './answers.ts';

export type PlainHttpInstaller = (typeof PLAIN_HTTP_INSTALLERS)[number];

/** Which installer a route serves: the Proxmox answer and webhook, NoCloud, preseed. */
export function installerOfPath(path: string): PlainHttpInstaller | null {
  if (path === '/answer' || path.startsWith('/webhook/')) return 'proxmox';
  if (path.startsWith('/nocloud/')) return 'nocloud';
  if (path.startsWith('/preseed/')) return 'preseed';
  return null;
}

/** Whether plain_http_from lets this request through: its address is in a listed block, or its installer is named. */
export function plainHttpAllowed(from: readonly string[], path: string, address: string): boolean {
  const installer = installerOfPath(path);
  if (installer && from.some((item) => item.toLowerCase() === installer)) return true;
  const blocks = from.filter((item) => item.includes('/'));
  return blocks.length > 0 && addressAllowed(address, blocks);
}

/** The URL the installer asked, as it wrote it: http://<Host header, else our address and the port it reached>/<path>. */
export function askedUrl(ctx: Pick<Context, 'path' | 'get'>, localPort: number | undefined, profile: Pick<Profile, 'server'>): string {
  const host = ctx.get('host');
  const authority = /^[A-Za-z0-9.:[\]-]+$/.test(host) ? host : `${profile.server.address}${localPort && localPort !== 80 ? `:${localPort}` : ''}`;
  return `http://${authority}${ctx.path}`;
}

/** The MAC a refused request is about, when its path names one (NoCloud, preseed), for the event explain reads. */
export function macOfPath(path: string): string | null {
  const m = /^\/(?:nocloud\/([^/]+)\/|preseed\/([^/]+)\.cfg$)/.exec(path);
  return m ? normaliseMac(decodeURIComponent(m[1] ?? m[2] ?? '')) : null;
}

/** The 403's words: which URL was used, why it is refused, and the two ways out with the command and the key. */
export function plainHttpRefusal(profile: Profile, asked: string, address: string, isoVersion?: string | null): string {
  const installer = installerOfPath(new URL(asked).pathname);
  const https = `${httpsBase(profile)}${new URL(asked).pathname}`;
  const subnet = /^\d+\.\d+\.\d+\.\d+$/.test(address) ? `${address.split('.').slice(0, 3).join('.')}.0/24` : '<its subnet>';
  const allow = `or allow plain HTTP on purpose: [answers] plain_http_from = ${subnet}${installer ? ` (or ${installer}: every ${installer} installer)` : ''}, then pxe-pilot check-config and systemctl reload pxe-pilot`;
  const head = `answers are served over HTTPS only ([answers] require_tls), and this installer asked ${asked}`;
  if (installer === 'proxmox') {
    const iso = isoVersion ? `proxmox-ve_${isoVersion}.iso` : 'proxmox-ve_<version>.iso';
    return (
      `${head}: the answer URL baked into its ISO (an ISO prepared for plain HTTP, such as one built for the earlier WisherOps pxe-pilot on :8080). ` +
      `Two ways out: rebuild the ISO so it asks ${https} and pins this server's certificate: pxe-pilot assets add ${iso} --force (the original Proxmox ISO; it writes the URL and the fingerprint); ` +
      allow
    );
  }
  return (
    `${head}: the URL on its kernel line (the image's cmdline). Two ways out: ask ${https} instead (\${answer_server} in the cmdline; the installer must trust this server's certificate); ` +
    allow
  );
}
