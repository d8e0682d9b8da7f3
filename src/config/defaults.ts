// Defaults for every key; the shipped etc/pxe-pilot.ini documents the same values.
import type { Profile } from './profile.ts';

export function defaultProfile(file = '(defaults)'): Profile {
  return {
    file,
    server: { address: '', addressSource: 'interface', interface: '', stateDir: '/var/lib/pxe-pilot', logLevel: 'info' },
    http: { port: 80, bind: '0.0.0.0', adminToken: '', metricsAllow: [] },
    tftp: {
      enabled: true,
      port: 69,
      bind: '0.0.0.0',
      root: '/usr/lib/ipxe',
      maxBlksize: 1468,
      maxWindowsize: 64,
      maxTransfers: 500,
      maxTransfersPerClient: 8,
      idleTimeout: 30,
      retransmitTimeout: 1,
      retries: 5,
    },
    dhcp: {
      mode: 'off',
      port: 67,
      proxyPort: 4011,
      rangeStart: '',
      rangeEnd: '',
      netmask: '',
      router: '',
      dns: [],
      domain: '',
      leaseTime: 3600,
      offerHold: 30,
      declineQuarantine: 600,
    },
    boot: {
      bios: 'undionly.kpxe',
      uefiX64: 'snponly.efi',
      uefiIa32: 'ipxe-i386.efi',
      uefiArm64: 'ipxe-arm64.efi',
      defaultAction: 'menu',
      unknown: 'menu',
      menuDefault: 'local',
      menuTimeout: 10,
    },
    answers: { dir: '/var/lib/pxe-pilot/answers', token: '', allow: [] },
    assets: { dir: '/var/lib/pxe-pilot/assets', url: '' },
    hosts: new Map(),
  };
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
