// The bytes a read request gets: follows planSource (sources.ts) to a file below its folder, a
// generated file or GRUB's per-machine configuration, and converts to netascii when asked. Which
// bytes only; how they are sent is server.ts and transfer.ts's job.
import type { Profile } from '../config/profile.ts';
import { FileProvider, MemorySource, type FileSource } from './files.ts';
import { machineGrubConfig } from './grub-config.ts';
import { composeBootPorts } from '../boot/boot-ports.ts';
import type { AgentSessions, BootPorts, ImageCatalogue } from '../boot/ports.ts';
import { toNetascii } from './netascii.ts';
import { ErrorCode, type RequestPacket } from './packet.ts';
import { planSource } from './sources.ts';

/** Netascii is converted in memory; past this a client must ask for octet. */
const NETASCII_MAX_BYTES = 64 << 20;

/** The bytes to send, or the ERROR to answer with (`quiet`: no warning or event, as for shim's probes). */
export type OpenOutcome = { ok: true; source: FileSource } | { ok: false; code: number; message: string; reason: string; quiet?: boolean };

export interface SourceOpenerDeps {
  /** [tftp] root at start. */
  root: string;
  /** Nodes and the install lifecycle, for GRUB's per-machine configuration; without: not found. */
  nodes?: BootPorts | undefined;
  /** The install images GRUB's configuration loads. */
  catalogue?: ImageCatalogue | undefined;
  /** Per-boot agent sessions, minted when GRUB's configuration boots the inspection agent. */
  agentSessions?: AgentSessions | undefined;
}

export class SourceOpener {
  /** [tftp] root's provider, kept across requests so its memory cache serves hot files. */
  private files: FileProvider;
  /** Providers for the other folders TFTP reads ([assets] dir, the signed chains' folders), by root. */
  private readonly otherFiles = new Map<string, FileProvider>();

  constructor(private readonly deps: SourceOpenerDeps) {
    this.files = new FileProvider({ root: deps.root });
  }

  /** After a reload: a new [tftp] root gets a fresh provider; other folders are looked up afresh. */
  reload(profile: Profile): void {
    if (profile.tftp.root !== this.files.root) this.files = new FileProvider({ root: profile.tftp.root });
    this.otherFiles.clear();
  }

  /** Opens what `request` names for the client at `clientAddress` (GRUB's configuration is per machine). */
  async open(request: Pick<RequestPacket, 'filename' | 'mode'>, clientAddress: string, profile: Profile): Promise<OpenOutcome> {
    const opened = await this.openOctets(request.filename, clientAddress, profile);
    if (!opened.ok || request.mode !== 'netascii') return opened;
    const source = opened.source;
    if (source.size > NETASCII_MAX_BYTES) {
      source.close();
      return { ok: false, code: ErrorCode.NOT_DEFINED, message: 'file too large for netascii; use octet', reason: 'netascii asked for a file over 64 MiB' };
    }
    const whole = await source.read(0, source.size);
    source.close();
    return { ok: true, source: new MemorySource(toNetascii(whole)) };
  }

  private async openOctets(filename: string, clientAddress: string, profile: Profile): Promise<OpenOutcome> {
    const plan = planSource(filename, profile);
    switch (plan.kind) {
      case 'refused':
        return plan.notFound
          ? { ok: false, code: ErrorCode.FILE_NOT_FOUND, message: 'file not found', reason: plan.reason, quiet: plan.quiet }
          : { ok: false, code: ErrorCode.ACCESS_VIOLATION, message: 'access violation', reason: plan.reason };
      case 'virtual':
        return { ok: true, source: new MemorySource(plan.bytes) };
      case 'grub-machine': {
        const { nodes, catalogue } = this.deps;
        if (!nodes || !catalogue)
          return { ok: false, code: ErrorCode.FILE_NOT_FOUND, message: 'file not found', reason: 'no node store for GRUB configurations' };
        const ports = composeBootPorts(nodes, this.deps.agentSessions);
        const text = await machineGrubConfig({ mac: plan.mac, ip: clientAddress, file: filename, chain: plan.chain }, profile, ports, catalogue);
        return { ok: true, source: new MemorySource(Buffer.from(text, 'utf8')) };
      }
      case 'file': {
        const opened = await this.provider(plan.root).open(plan.segments);
        if (!opened.ok) {
          const message = opened.code === ErrorCode.FILE_NOT_FOUND ? 'file not found' : 'access violation';
          return { ok: false, code: opened.code, message, reason: opened.reason };
        }
        return { ok: true, source: opened.source };
      }
    }
  }

  private provider(root: string): FileProvider {
    if (root === this.files.root) return this.files;
    let provider = this.otherFiles.get(root);
    if (!provider) {
      provider = new FileProvider({ root });
      this.otherFiles.set(root, provider);
    }
    return provider;
  }
}
