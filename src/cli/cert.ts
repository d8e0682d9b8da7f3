// pxe-pilot cert: the SHA-256 fingerprint installers pin, in the colon form Proxmox expects
// (prepare-iso --cert-fingerprint, [http] cert_fingerprint in auto-installer-mode.toml).
import { loadCertificate, TlsError } from '../http/tls.ts';
import { CliError, EXIT_USAGE, type CommandContext } from './command.ts';
import { profileFor } from './profile.ts';

/** Prints the fingerprint on stdout (alone, for scripts) and where it came from on stderr. */
export async function certCommand({ values, out, err }: CommandContext<{ config?: string }>): Promise<number> {
  const profile = profileFor(values);
  if (!profile.https.enabled) throw new CliError('[https] enabled = false: there is no certificate to pin; turn HTTPS on first', EXIT_USAGE);
  try {
    const material = loadCertificate(profile);
    const how = { profile: 'from [https] cert', state: 'generated earlier', generated: 'generated now' }[material.source];
    err.write(`${material.certFile} (${how}; ${material.subjectAltName || 'no subjectAltName'})\n`);
    out.write(`${material.fingerprint}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof TlsError)) throw e;
    throw new CliError(e.message, EXIT_USAGE, { cause: e });
  }
}
