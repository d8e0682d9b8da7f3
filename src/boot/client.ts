// What a protocol knows about the machine asking, in one shape for the policy.

export type Firmware = 'bios' | 'uefi' | 'uefi-http' | 'unknown';

export interface ClientDescription {
  /** Normalised lower-case colon form. */
  mac: string;
  /** DHCP option 93 value, when sent (first entry of the list). */
  arch?: number;
  firmware: Firmware;
  /** Already running iPXE (option 77 "iPXE" or option 175 present, or an HTTP request from an iPXE script). */
  isIpxe: boolean;
  /** Option 60 as sent, e.g. "PXEClient:Arch:00007:UNDI:003016". */
  vendorClass?: string;
  uuid?: string;
  serial?: string;
  ip?: string;
  /** iPXE ${buildarch} / ${platform}, when the request came from an iPXE script. */
  buildarch?: string;
  platform?: string;
}

export interface ArchInfo {
  code: number;
  name: string;
  firmware: Firmware;
  /** Which [boot] key names its binary, or null for HTTP boot / unsupported. */
  bootKey: 'bios' | 'uefiX64' | 'uefiIa32' | 'uefiArm64' | null;
  /** True for the UEFI HTTP boot codes: reply with an http:// URL and option 60 HTTPClient. */
  http: boolean;
}

// RFC 4578 / IANA processor architecture types; 7 and 9 are both x64 UEFI in the field.
const ARCHES: ArchInfo[] = [
  { code: 0, name: 'x86 BIOS', firmware: 'bios', bootKey: 'bios', http: false },
  { code: 6, name: 'UEFI IA32', firmware: 'uefi', bootKey: 'uefiIa32', http: false },
  { code: 7, name: 'UEFI x64', firmware: 'uefi', bootKey: 'uefiX64', http: false },
  { code: 9, name: 'UEFI x64', firmware: 'uefi', bootKey: 'uefiX64', http: false },
  { code: 10, name: 'UEFI ARM32', firmware: 'uefi', bootKey: null, http: false },
  { code: 11, name: 'UEFI ARM64', firmware: 'uefi', bootKey: 'uefiArm64', http: false },
  { code: 15, name: 'UEFI HTTP IA32', firmware: 'uefi-http', bootKey: 'uefiIa32', http: true },
  { code: 16, name: 'UEFI HTTP x64', firmware: 'uefi-http', bootKey: 'uefiX64', http: true },
  { code: 18, name: 'UEFI HTTP ARM32', firmware: 'uefi-http', bootKey: null, http: true },
  { code: 19, name: 'UEFI HTTP ARM64', firmware: 'uefi-http', bootKey: 'uefiArm64', http: true },
  { code: 25, name: 'UEFI RISC-V 32', firmware: 'uefi', bootKey: null, http: false },
  { code: 27, name: 'UEFI RISC-V 64', firmware: 'uefi', bootKey: null, http: false },
  { code: 41, name: 'ARM rpiboot', firmware: 'unknown', bootKey: null, http: false },
];

export function archInfo(code: number | undefined): ArchInfo | undefined {
  if (code === undefined) return undefined;
  return ARCHES.find((a) => a.code === code);
}

export function archLabel(code: number | undefined): string {
  if (code === undefined) return 'arch unknown';
  const info = archInfo(code);
  return info ? `arch ${code} (${info.name})` : `arch ${code} (unassigned)`;
}

// Raspberry Pi boot ROMs send arch 0 although they are ARM: telling them apart needs the MAC.
const RASPBERRY_PI_OUIS = ['b8:27:eb', 'dc:a6:32', 'e4:5f:01', '28:cd:c1', 'd8:3a:dd', '2c:cf:67'];

export function isRaspberryPi(mac: string): boolean {
  return RASPBERRY_PI_OUIS.includes(mac.slice(0, 8));
}

/** What an iPXE script tells us in its request to /boot (${mac}, ${buildarch}, ${platform}, SMBIOS uuid and serial). */
export interface IpxeRequestFacts {
  mac: string;
  ip: string;
  buildarch?: string;
  platform?: string;
  uuid?: string;
  serial?: string;
}

/** The HTTP counterpart of describeDhcpClient (src/dhcp/client.ts): a request from a running iPXE. */
export function describeIpxeClient(facts: IpxeRequestFacts): ClientDescription {
  const { platform } = facts;
  const description: ClientDescription = {
    mac: facts.mac,
    firmware: platform === 'pcbios' ? 'bios' : platform === 'efi' ? 'uefi' : 'unknown',
    isIpxe: true,
    ip: facts.ip,
  };
  if (facts.buildarch) description.buildarch = facts.buildarch;
  if (platform) description.platform = platform;
  if (facts.uuid) description.uuid = facts.uuid;
  if (facts.serial) description.serial = facts.serial;
  return description;
}
