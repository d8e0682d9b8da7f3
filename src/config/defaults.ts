// The profile with every key at its default, from the key table; the shipped
// etc/pxe-pilot.ini shows the same values (test/config/keys.test.ts holds them together).
import { defaultsOf, PROFILE_KEYS, type SectionName } from './keys.ts';
import type { Profile } from './profile.ts';

export function defaultProfile(file = '(defaults)'): Profile {
  const sections = Object.fromEntries(Object.keys(PROFILE_KEYS).map((name) => [name, defaultsOf(PROFILE_KEYS[name as SectionName])])) as Omit<
    Profile,
    'file' | 'hosts' | 'scopes' | 'images' | 'identityHosts' | 'rules' | 'menus'
  >;
  sections.server.addressSource = 'interface';
  sections.https.fingerprint = '';
  return { file, ...sections, hosts: new Map(), scopes: new Map(), images: new Map(), identityHosts: new Map(), rules: [], menus: new Map() };
}
