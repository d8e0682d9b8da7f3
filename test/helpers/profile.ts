// Profiles and [host] entries for tests, built from the key table's defaults the way the
// loader builds them, so a new profile key needs no change here.
import { defaultProfile } from '../../src/config/defaults.ts';
import { defaultsOf, HOST_KEYS, PROFILE_KEYS, type SectionName } from '../../src/config/keys.ts';
import type { HostEntry, Profile } from '../../src/config/profile.ts';

export type ProfileOverrides = { [S in SectionName]?: Partial<Profile[S]> } & { hosts?: Profile['hosts'] | HostEntry[] };

/** Every key at its default (HTTPS off), server address 127.0.0.1 as if written, sections overridden key by key. */
export function testProfile(overrides: ProfileOverrides = {}): Profile {
  const profile = defaultProfile('(test)');
  profile.server.address = '127.0.0.1';
  profile.server.addressSource = 'profile';
  // Unit tests serve plain HTTP unless they ask for TLS.
  profile.https.enabled = false;
  profile.answers.requireTls = false;
  for (const section of Object.keys(PROFILE_KEYS) as SectionName[]) Object.assign(profile[section], overrides[section]);
  const hosts = overrides.hosts ?? [];
  profile.hosts = hosts instanceof Map ? hosts : new Map(hosts.map((h) => [h.mac, h]));
  return profile;
}

export type HostFields = Partial<Omit<HostEntry, 'mac' | 'vars'>> & { vars?: Record<string, string> };

/** A [host <mac>] entry as if these keys were written: unset keys at their defaults, written ones also in vars. */
export function hostEntry(mac: string, fields: HostFields = {}): HostEntry {
  const { vars = {}, ...written } = fields;
  const entry: HostEntry = { mac, ...defaultsOf(HOST_KEYS), ...written, vars: {} };
  // Parsed values (install_disk's choice) are no template text: as in the profile, they stay out of vars.
  for (const [key, value] of Object.entries(written)) if (value && typeof value !== 'object') entry.vars[key] = String(value);
  Object.assign(entry.vars, vars);
  return entry;
}
