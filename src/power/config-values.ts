// The profile value types of the power keys (src/config/keys.ts rows use them).
import type { ValueType } from '../config/values.ts';
import { formatBmc, parseBmc, parseFingerprint } from './bmc-url.ts';

/** A `bmc` key: written back normalised; a typo is a problem naming what is expected. */
export const bmcUrl: ValueType<string> = {
  parse(v, ctx) {
    if (v === '') return '';
    const parsed = parseBmc(v);
    if (!parsed.ok) return ctx.report(parsed.error);
    return formatBmc(parsed.value);
  },
  format: (value) => value,
};

/** A certificate's SHA-256, as openssl x509 -fingerprint -sha256 prints it (or bare hex). */
export const tlsFingerprint: ValueType<string> = {
  parse(v, ctx) {
    if (v === '') return '';
    return parseFingerprint(v) ?? ctx.report('expected a SHA-256 fingerprint: 32 hex bytes, AB:CD:… (openssl x509 -noout -fingerprint -sha256)');
  },
  format: (value) => value,
};
