// The certificate installers pin: the operator's ([https] cert/key), or a self-signed pair made
// once in [server] state_dir/tls with Debian's openssl and kept from then on. Installers check it
// by its SHA-256 fingerprint (Proxmox: ISO or DHCP option 251), so no CA is involved.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Profile } from '../config/profile.ts';
import { cannotRead } from '../net/readable-as.ts';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** SHA-256 of the DER certificate, upper-case hex pairs joined by colons (what Proxmox expects). */
  fingerprint: string;
  certFile: string;
  keyFile: string;
  source: 'profile' | 'generated' | 'state';
  /** Names in the certificate's subjectAltName, as openssl lists them (e.g. "IP Address:10.0.0.1"). */
  subjectAltName: string;
}

/** A certificate or key that cannot be used; the message names the file and what to do. */
export class TlsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsError';
  }
}

/** Where the generated pair lives. */
export function generatedPaths(profile: Profile): { dir: string; cert: string; key: string } {
  const dir = join(profile.server.stateDir, 'tls');
  return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

function readPem(file: string, what: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const denied = cannotRead(file, err);
    if (denied) throw new TlsError(`the ${what}: ${denied}`);
    throw new TlsError(
      `cannot read the ${what} ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); fix [https] ${key}, or remove both cert and key to use a generated certificate`,
    );
  }
}

/** Reads and checks a pair: both parse and the key belongs to the certificate. */
export function readPair(certFile: string, keyFile: string, source: TlsMaterial['source']): TlsMaterial {
  const cert = readPem(certFile, 'certificate', 'cert');
  const key = readPem(keyFile, 'private key', 'key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new TlsError(`${certFile} is not a PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new TlsError(`${keyFile} is not a readable PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1 expected)`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new TlsError(`${keyFile} is not the private key of ${certFile}`);
  return { cert, key, fingerprint: x509.fingerprint256, certFile, keyFile, source, subjectAltName: x509.subjectAltName ?? '' };
}

/** Subject names for a generated certificate: the server address and this host's name. */
export function subjectNames(address: string, host: string = hostname()): string {
  const names = [`IP:${address}`];
  if (/^[A-Za-z0-9.-]{1,253}$/.test(host)) names.push(`DNS:${host}`);
  return names.join(',');
}

/**
 * Makes an ECDSA P-256 self-signed certificate with Debian's openssl. Written under temporary
 * names and renamed, key first: a crash leaves either no pair or a whole one.
 */
function generate(profile: Profile): TlsMaterial {
  const paths = generatedPaths(profile);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const tmpKey = `${paths.key}.${process.pid}.tmp`;
  const tmpCert = `${paths.cert}.${process.pid}.tmp`;
  const cn = /^[A-Za-z0-9.-]{1,64}$/.test(hostname()) ? hostname() : profile.server.address;
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '3650',
        '-sha256',
        '-subj',
        `/CN=${cn}/O=pxe-pilot`,
        '-addext',
        `subjectAltName=${subjectNames(profile.server.address)}`,
        '-addext',
        'basicConstraints=critical,CA:FALSE',
        '-addext',
        'extendedKeyUsage=serverAuth',
        '-keyout',
        tmpKey,
        '-out',
        tmpCert,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000, env: { ...process.env, OPENSSL_CONF: '/dev/null' } },
    );
  } catch (err) {
    rmSync(tmpKey, { force: true });
    rmSync(tmpCert, { force: true });
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT')
      throw new TlsError(`cannot generate a certificate: the openssl command is missing (apt install openssl), or set [https] cert and key`);
    throw new TlsError(`cannot generate a certificate in ${paths.dir}: ${e.stderr?.toString().trim() || e.message}`);
  }
  renameSync(tmpKey, paths.key);
  renameSync(tmpCert, paths.cert);
  return readPair(paths.cert, paths.key, 'generated');
}

/** Whether the file is there; one the account may not even look at is an error, never "missing". */
function present(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch (err) {
    const denied = cannotRead(file, err);
    if (denied) throw new TlsError(`the generated certificate: ${denied}`);
    return false;
  }
}

/**
 * The certificate to serve: the operator's, else the one in the state folder, else a new one.
 * A state folder holding only half a pair is an error, never a silent new certificate: the
 * fingerprint is baked into ISOs, and changing it would stop every one of them.
 */
export function loadCertificate(profile: Profile, options: { generate: boolean } = { generate: true }): TlsMaterial {
  if (profile.https.cert) return readPair(profile.https.cert, profile.https.key, 'profile');
  const paths = generatedPaths(profile);
  const haveCert = present(paths.cert);
  const haveKey = present(paths.key);
  if (haveCert && haveKey) return readPair(paths.cert, paths.key, 'state');
  if (haveCert || haveKey) {
    const missing = haveCert ? paths.key : paths.cert;
    throw new TlsError(
      `${missing} is missing but ${haveCert ? paths.cert : paths.key} exists: restore it from a backup, or delete ${paths.dir} to generate a new certificate (its fingerprint changes: re-prepare ISOs that pin the old one)`,
    );
  }
  if (!options.generate) throw new TlsError(`no certificate yet: pxe-pilot makes one in ${paths.dir} when it starts, or set [https] cert and key`);
  return generate(profile);
}

/** Whether a generated certificate still names the server address (it is never regenerated for that). */
export function namesAddress(material: TlsMaterial, address: string): boolean {
  return material.subjectAltName.split(/,\s*/).includes(`IP Address:${address}`);
}
