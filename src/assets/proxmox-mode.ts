// /auto-installer-mode.toml: how the Proxmox automated installer finds its answer (pve-installer
// reads it from the mounted ISO). Pure.
import { badInput } from './errors.ts';

export interface ProxmoxMode {
  url: string;
  certFingerprint?: string | undefined;
  token?: string | undefined;
}

const FINGERPRINT = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}$/;

/** A TOML basic string; control characters are refused before this. */
function tomlString(value: string): string {
  return JSON.stringify(value);
}

export function proxmoxModeToml(mode: ProxmoxMode): string {
  if (!/^https?:\/\/[^\s"\\]+$/i.test(mode.url)) throw badInput(`--answer-url ${JSON.stringify(mode.url)} is not an http:// or https:// URL`);
  if (mode.certFingerprint !== undefined && !FINGERPRINT.test(mode.certFingerprint))
    throw badInput(`--cert-fingerprint must be the SHA-256 of the certificate as 32 colon-separated hex pairs (openssl x509 -noout -fingerprint -sha256)`);
  if (mode.token !== undefined && (/[\x00-\x1f\x7f]/.test(mode.token) || mode.token === '')) throw badInput('--answer-token must be non-empty printable text');
  const lines = ['mode = "http"', '', '[http]', `url = ${tomlString(mode.url)}`];
  if (mode.certFingerprint) lines.push(`cert_fingerprint = ${tomlString(mode.certFingerprint.toUpperCase())}`);
  if (mode.token) lines.push(`token = ${tomlString(mode.token)}`);
  return lines.join('\n') + '\n';
}
