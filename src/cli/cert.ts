// pxe-pilot cert: the SHA-256 fingerprint installers pin, in the colon form Proxmox expects
// (prepare-iso --cert-fingerprint, [http] cert_fingerprint in auto-installer-mode.toml).
import type { Profile } from '../config/profile.ts';
import { loadCertificate, TlsError } from '../http/tls.ts';

/** Prints the fingerprint on stdout (alone, for scripts) and where it came from on stderr; returns the exit code. */
export function certCommand(profile: Profile, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  if (!profile.https.enabled) {
    err.write('pxe-pilot: [https] enabled = false: there is no certificate to pin; turn HTTPS on first\n');
    return 2;
  }
  try {
    const material = loadCertificate(profile);
    const how = { profile: 'from [https] cert', state: 'generated earlier', generated: 'generated now' }[material.source];
    err.write(`${material.certFile} (${how}; ${material.subjectAltName || 'no subjectAltName'})\n`);
    out.write(`${material.fingerprint}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof TlsError)) throw e;
    err.write(`pxe-pilot: ${e.message}\n`);
    return 2;
  }
}
