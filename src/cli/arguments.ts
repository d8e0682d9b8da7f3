// Checks of flag and operand values that several commands share; each refusal says what to give.
import { normaliseMac } from '../net/mac.ts';
import { UsageError } from './command.ts';

/** The MAC in its canonical spelling; `label` names the flag it came from, if any. */
export function macArgument(raw: string, label?: string): string {
  const mac = normaliseMac(raw);
  if (!mac) throw new UsageError(`${label ? `${label} ` : ''}${JSON.stringify(raw)} is not a MAC address (e.g. 52:54:00:12:34:56)`);
  return mac;
}

/** A flag's whole number within [min, max], or `fallback` when the flag is absent. */
export function wholeNumber<F extends number | undefined>(flag: string, raw: string | undefined, min: number, max: number, fallback: F): number | F {
  if (raw === undefined) return fallback;
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${flag} ${JSON.stringify(raw)}: give a whole number from ${min} to ${max}`);
  return n;
}
