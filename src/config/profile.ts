// The typed, validated profile. Everything downstream reads this, never the INI text.

import type { HOST_KEYS, ProfileKeys, SCOPE_KEYS, ValuesOf } from './keys.ts';
import type { RemoteImageEntry } from './images.ts';
import type { IdentityHost } from '../boot/settings.ts';
import type { MenuSpec, RuleSpec } from '../boot/rules.ts';

// The section types follow the key table in keys.ts (state_dir → stateDir); the table's doc
// line says what each field means.
export type ServerSection = ValuesOf<ProfileKeys['server']> & {
  /** Whether `address` was written in the profile or derived from an interface. */
  addressSource: 'profile' | 'interface';
};
export type HttpSection = ValuesOf<ProfileKeys['http']>;
export type HttpsSection = ValuesOf<ProfileKeys['https']> & {
  /** SHA-256 of the certificate in use, colon form; filled by the daemon once it has loaded it. */
  fingerprint: string;
};
export type TftpSection = ValuesOf<ProfileKeys['tftp']>;
export type DhcpSection = ValuesOf<ProfileKeys['dhcp']>;
export type BootSection = ValuesOf<ProfileKeys['boot']>;
export type AnswersSection = ValuesOf<ProfileKeys['answers']>;
export type AssetsSection = ValuesOf<ProfileKeys['assets']>;
export type PowerSection = ValuesOf<ProfileKeys['power']>;

export type DhcpMode = DhcpSection['mode'];
export type DefaultAction = BootSection['defaultAction'];
export type UnknownPolicy = BootSection['unknown'];
export type LogLevel = ServerSection['logLevel'];

type HostValues = ValuesOf<typeof HOST_KEYS>;
/** The power keys (src/power): optional, so hand-made entries need not name them. */
// Optional, so hand-made entries (tests, imports) need not name them.
type HostPowerFields =
  | 'bmc'
  | 'bmcCipherSuite'
  | 'bmcPrivilege'
  | 'bmcSystem'
  | 'bmcTlsFingerprint'
  | 'inspectFirst'
  | 'netAddress'
  | 'netGateway'
  | 'netDns'
  | 'netBond'
  | 'netVlan'
  | 'netMtu'
  | 'installDisk';
export type HostEntry = Omit<HostValues, 'loader' | HostPowerFields> &
  Partial<Pick<HostValues, HostPowerFields>> & {
    /** ipxe | grub | ipxe-shim; empty or absent: [boot] loader. Optional, so hand-made entries need not name it. */
    loader?: HostValues['loader'];
    /** Normalised lower-case colon form. */
    mac: string;
    /** Every key as written, for answer-file templating. */
    vars: Record<string, string>;
  };
export type HostAction = HostEntry['action'];

/** A [scope <name>] section: one relayed subnet's pool (server mode). */
export type ScopeEntry = ValuesOf<typeof SCOPE_KEYS> & {
  name: string;
};

type Sections = { [S in keyof ProfileKeys]: ValuesOf<ProfileKeys[S]> };

export interface Profile extends Sections {
  /** Path of the INI file this profile came from (for messages). */
  file: string;
  /** The drop-in files [server] include added, in the order their sections joined. */
  dropIns?: string[];
  server: ServerSection;
  https: HttpsSection;
  /** Keyed by normalised MAC. */
  hosts: Map<string, HostEntry>;
  /** [scope <name>] sections, by name, in file order. */
  scopes: Map<string, ScopeEntry>;
  /** [image <product>/<version>] sections: remote images, by name, in file order. */
  images: Map<string, RemoteImageEntry>;
  /** [host serial:X] and [host uuid:U] sections, keyed "serial:<lower-case>" and "uuid:<normal form>". */
  identityHosts: Map<string, IdentityHost>;
  /** [rule <name>] sections in profile order (the main file, then included files in name order). */
  rules: RuleSpec[];
  /** [menu <name>] sections, by name. */
  menus: Map<string, MenuSpec>;
}
