// What the TFTP tests share: a root with known files, a running TftpService on 127.0.0.1 with
// an ephemeral port and its events, and a raw UDP client that speaks the codec directly.
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BootEvent, EventSink } from '../../src/boot/events.ts';
import type { Profile } from '../../src/config/profile.ts';
import { testProfile } from '../helpers/profile.ts';
import { silentLogger } from '../../src/log.ts';
import { TftpService } from '../../src/tftp/server.ts';
import { encodeAck, encodeError, encodeRequest, parsePacket, type RequestOption, type TftpPacket } from '../../src/tftp/packet.ts';

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface RootFixture {
  dir: string;
  /** Outside the root: what a symlink or ../ would leak. */
  outside: string;
  files: Record<string, Buffer>;
  remove(): void;
}

/** Sizes chosen for what they exercise: one block, an exact multiple of 512 (empty last block), a cached binary. */
export function makeRoot(extra: Record<string, Buffer> = {}): RootFixture {
  const base = mkdtempSync(join(tmpdir(), 'pxp-tftp-'));
  const dir = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(join(dir, 'efi', 'x64'), { recursive: true });
  mkdirSync(outside);
  const files: Record<string, Buffer> = {
    'ipxe.efi': randomBytes(1_000_000),
    'undionly.kpxe': randomBytes(74_213),
    'exact.bin': randomBytes(1024),
    'empty.bin': Buffer.alloc(0),
    'efi/x64/snponly.efi': randomBytes(173_792),
    'notes.txt': Buffer.from('first line\nsecond line\r\nlone CR\rend\n'),
    ...extra,
  };
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  writeFileSync(join(outside, 'secret.txt'), 'root password: hunter2\n');
  symlinkSync(join(outside, 'secret.txt'), join(dir, 'escape.txt'));
  symlinkSync(outside, join(dir, 'escape-dir'));
  symlinkSync('ipxe.efi', join(dir, 'alias.efi'));
  return { dir, outside, files, remove: () => rmSync(base, { recursive: true, force: true }) };
}

export interface RunningTftp {
  service: TftpService;
  port: number;
  events: BootEvent[];
  stop(): Promise<void>;
}

export async function startTftp(root: string, tftp: Partial<Profile['tftp']> = {}): Promise<RunningTftp> {
  const events: BootEvent[] = [];
  const sink: EventSink = { record: (event) => events.push({ time: Date.now(), ...event }) };
  const profile = testProfile({ http: { port: 8080 }, tftp: { root, port: 0, bind: '127.0.0.1', ...tftp } });
  const service = new TftpService({ profile, logger: silentLogger(), events: sink, stopGraceMs: 200 });
  await service.start();
  return { service, port: service.port, events, stop: () => service.stop() };
}

export interface Received {
  packet: TftpPacket;
  from: RemoteInfo;
}

/** A UDP client that sends raw TFTP datagrams and reads back decoded packets. */
export class RawClient {
  private readonly inbox: Received[] = [];
  private waiter: (() => void) | null = null;
  /** Transfer ports that answered us: told on close() that we are gone, so no transfer lingers. */
  private readonly tids = new Set<number>();
  private sending = 0;

  private constructor(readonly socket: Socket) {
    socket.on('message', (msg, from) => {
      this.tids.add(from.port);
      const parsed = parsePacket(msg);
      if (parsed.ok) this.inbox.push({ packet: parsed.packet, from });
      this.waiter?.();
    });
  }

  static async open(): Promise<RawClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RawClient(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(bytes: Buffer, port: number): void {
    this.sending += 1;
    this.socket.send(bytes, port, '127.0.0.1', () => (this.sending -= 1));
  }

  request(port: number, filename: string, options: RequestOption[] = [], mode: 'octet' | 'netascii' = 'octet'): void {
    this.send(encodeRequest({ filename, mode, options }), port);
  }

  ack(block: number, port: number): void {
    this.send(encodeAck(block), port);
  }

  /** The next packet, or null when none comes within `ms`. */
  async next(ms = 3000): Promise<Received | null> {
    const deadline = Date.now() + ms;
    while (this.inbox.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
    return this.inbox.shift() ?? null;
  }

  /** Everything that arrives within `ms`. */
  async drain(ms: number): Promise<Received[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.inbox.splice(0);
  }

  /** Ends our side of any transfer still open (ERROR 0), then closes once every datagram has left. */
  close(): void {
    for (const tid of this.tids) this.send(encodeError(0, 'client closed'), tid);
    const closeWhenSent = (): void => {
      if (this.sending > 0) setImmediate(closeWhenSent);
      else this.socket.close();
    };
    closeWhenSent();
  }
}

/**
 * A whole download as an RFC 7440 client does it: ACK 0 after an OACK, ACK each window's end.
 * `drop(block)` makes it ignore a block the first time it arrives (a lost datagram).
 */
export async function download(
  port: number,
  filename: string,
  options: { blksize?: number; windowsize?: number; drop?: (block: number) => boolean } = {},
): Promise<{ bytes: Buffer; serverPort: number }> {
  const client = await RawClient.open();
  try {
    const requested: RequestOption[] = [];
    if (options.blksize) requested.push({ name: 'blksize', value: String(options.blksize) });
    if (options.windowsize) requested.push({ name: 'windowsize', value: String(options.windowsize) });
    client.request(port, filename, requested);
    let blksize = 512;
    let windowsize = 1;
    const chunks: Buffer[] = [];
    let expected = 1;
    let sinceAck = 0;
    let serverPort = 0;
    const dropped = new Set<number>();
    for (;;) {
      const got = await client.next(5000);
      if (!got) throw new Error(`no packet after block ${expected - 1}`);
      serverPort = got.from.port;
      const packet = got.packet;
      if (packet.opcode === 6) {
        for (const o of packet.options) {
          if (o.name === 'blksize') blksize = Number(o.value);
          if (o.name === 'windowsize') windowsize = Number(o.value);
        }
        client.ack(0, serverPort);
        continue;
      }
      if (packet.opcode === 5) throw new Error(`ERROR ${packet.code}: ${packet.message}`);
      if (packet.opcode !== 3) continue;
      const absolute = expected + ((packet.block - (expected % 65536) + 65536) % 65536);
      if (absolute !== expected) {
        if (absolute > expected && absolute - expected < windowsize) {
          client.ack((expected - 1) % 65536, serverPort); // a gap: restart after the last good block
          sinceAck = 0;
        }
        continue;
      }
      if (options.drop?.(absolute) && !dropped.has(absolute)) {
        dropped.add(absolute);
        continue;
      }
      chunks.push(packet.data);
      expected += 1;
      sinceAck += 1;
      const last = packet.data.length < blksize;
      if (last || sinceAck === windowsize) {
        client.ack(packet.block, serverPort);
        sinceAck = 0;
      }
      if (last) return { bytes: Buffer.concat(chunks), serverPort };
    }
  } finally {
    client.close();
  }
}
