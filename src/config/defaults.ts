// The profile with every key at its default, from the key table; the shipped
// etc/pxe-pilot.ini shows the same values (test/config/keys.test.ts holds them together).
import { defaultsOf, PROFILE_KEYS, type SectionName } from './keys.ts';
import type { Profile } from './profile.ts';

export function defaultProfile(file = '(defaults)'): Profile {
  const sections = Object.fromEntries(Object.keys(PROFILE_KEYS).map((name) => [name, defaultsOf(PROFILE_KEYS[name as SectionName])])) as Omit<Profile, 'file' | 'hosts'>;
  sections.server.addressSource = 'interface';
  return { file, ...sections, hosts: new Map() };
}

/** A complete profile for tests: defaults, with sections overridden shallowly. */
export function testProfile(overrides: {
  [K in keyof Omit<Profile, 'file' | 'hosts'>]?: Partial<Profile[K]>;
} & { hosts?: Profile['hosts'] } = {}): Profile {
  const base = defaultProfile('(test)');
  base.server.address = '127.0.0.1';
  base.server.addressSource = 'profile';
  return {
    file: base.file,
    server: { ...base.server, ...overrides.server },
    http: { ...base.http, ...overrides.http },
    tftp: { ...base.tftp, ...overrides.tftp },
    dhcp: { ...base.dhcp, ...overrides.dhcp },
    boot: { ...base.boot, ...overrides.boot },
    answers: { ...base.answers, ...overrides.answers },
    assets: { ...base.assets, ...overrides.assets },
    hosts: overrides.hosts ?? base.hosts,
  };
}
