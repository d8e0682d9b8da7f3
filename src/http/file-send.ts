// Zero-copy response bodies: the file goes from the page cache to the socket with sendfile(2)
// (native/file_send.c), never through JS buffers. Plain TCP only: TLS encrypts in user space, so
// HTTPS, a socket without an fd, or a missing addon keep the stream path (canSendFile says which).
import type { ServerResponse } from 'node:http';
import type { ReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

type NativeHandle = object & { readonly __fileSend: unique symbol };

/** native/file_send.c */
export interface NativeFileSend {
  /** `done` runs exactly once: errorCode null when every byte went out. */
  start(socketFd: number, fileFd: number, offset: number, length: number, done: (errorCode: string | null, sent: number) => void): NativeHandle;
  sent(handle: NativeHandle): number;
  cancel(handle: NativeHandle): void;
}

let addon: NativeFileSend | null | undefined;
let unavailable = '';

function native(): NativeFileSend | null {
  if (addon !== undefined) return addon;
  try {
    addon = createRequire(import.meta.url)('../../build/Release/file_send.node') as NativeFileSend;
  } catch (err) {
    // Never fatal: every caller has the stream path.
    addon = null;
    unavailable = `the file_send addon is not built (${(err as Error).message.split('\n')[0]})`;
  }
  return addon;
}

/** Why sendfile is off ('' when it is on), for the start-up log. */
export function sendFileUnavailable(): string {
  native();
  return unavailable;
}

/** Tests: pretend the addon is (not) there; undefined loads the real one again. */
export function useFileSendAddon(replacement: NativeFileSend | null | undefined): void {
  addon = replacement;
  unavailable = replacement === null ? 'disabled' : '';
}

function socketFd(res: ServerResponse): number | null {
  const socket: (Socket & { encrypted?: boolean; _handle?: { fd?: unknown } }) | null = res.socket;
  if (!socket || socket.destroyed || socket.encrypted) return null;
  const fd = socket._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/** Whether sendFileBody can serve this response (plain TCP socket with an fd, addon loaded). */
export function canSendFile(res: ServerResponse): boolean {
  return native() !== null && socketFd(res) !== null;
}

export interface FileBodyTransfer {
  /** Body bytes on the wire so far (prefix, file part and suffix). */
  bytes(): number;
  /** true when the whole body was sent and the response ended; false when the connection went. */
  readonly done: Promise<boolean>;
}

const inFlight = new WeakMap<ServerResponse, FileBodyTransfer>();

/** The sendfile transfer answering `res`, for the download table (observe.ts). */
export function fileBodyOf(res: ServerResponse): FileBodyTransfer | undefined {
  return inFlight.get(res);
}

export interface FileBodyPart {
  start: number;
  length: number;
  /** Written before the file part (e.g. a cpio header). */
  prefix?: Buffer;
  /** Written after it (e.g. cpio padding and trailer). */
  suffix?: Buffer;
}

const EMPTY = Buffer.alloc(0);
/** How often (at most) a running transfer re-arms the socket's idle timeout (server.timeout) when bytes moved. */
const TIMEOUT_REFRESH_MS = 1000;

/** sendfile(2) errors that mean "not from this file" (a filesystem without it), not "client gone". */
const UNSUPPORTED = new Set(['EINVAL', 'ENOSYS', 'EOPNOTSUPP']);

/**
 * Sends the body of a response whose head is set (res.writeHead called, Content-Length
 * included) and ends it, so keep-alive goes on. Only after canSendFile(res). Takes `file` and
 * closes it. Returns at once; a failure after the head (client gone, file shrank) destroys the
 * connection, as a broken stream would. Where the file refuses sendfile (EINVAL: a filesystem
 * without it), the rest is streamed from where sendfile stopped.
 */
export function sendFileBody(res: ServerResponse, file: FileHandle, part: FileBodyPart): FileBodyTransfer {
  const fileSend = native();
  const prefix = part.prefix ?? EMPTY;
  let phase: 'head' | 'native' | 'stream' | 'ended' = 'head';
  let handle: NativeHandle | null = null;
  let stream: ReadStream | null = null;
  let fileBytes = 0; // of the file part, counted here once the native send is over
  let headWritten = false;
  let refresh: NodeJS.Timeout | undefined;
  const fileSent = (): number => (phase === 'native' && handle ? fileSend!.sent(handle) : fileBytes);
  const transfer: FileBodyTransfer = {
    bytes: () => (headWritten ? prefix.length : 0) + fileSent() + (phase === 'ended' && fileBytes === part.length ? (part.suffix?.length ?? 0) : 0),
    done: new Promise<boolean>((resolve) => {
      const finish = (ok: boolean): void => {
        if (phase === 'ended') return;
        phase = 'ended';
        clearInterval(refresh);
        res.off('close', onClose);
        stream?.destroy();
        file.close().catch(() => {});
        if (ok) {
          res.end(part.suffix ?? EMPTY);
        } else {
          res.destroy();
        }
        resolve(ok);
      };
      // The connection closed (client gone, idle timeout, shutdown): stop sending now. The
      // native side reports back through its done callback (ECANCELED), which finishes.
      const onClose = (): void => {
        if (phase === 'native' && handle) fileSend!.cancel(handle);
        else finish(false);
      };
      const streamRest = (): void => {
        phase = 'stream';
        stream = file.createReadStream({ start: part.start + fileBytes, end: part.start + part.length - 1, autoClose: false, highWaterMark: 256 * 1024 });
        stream.on('data', (chunk: Buffer | string) => {
          fileBytes += chunk.length;
        });
        stream.once('end', () => finish(fileBytes === part.length));
        stream.once('error', () => finish(false));
        stream.pipe(res, { end: false });
      };
      res.once('close', onClose);
      // Head first, through Node: the callback runs once it (and the prefix) left the socket
      // buffer, so nothing of Node's is queued when the native send starts writing to the fd.
      res.write(prefix, (err) => {
        headWritten = !err;
        if (phase !== 'head') return;
        const fd = socketFd(res);
        if (err || fd === null || !fileSend) return finish(false);
        if (part.length === 0) return finish(true);
        try {
          handle = fileSend.start(fd, file.fd, part.start, part.length, (errorCode, sent) => {
            fileBytes = sent;
            if (errorCode !== null && UNSUPPORTED.has(errorCode) && phase === 'native') streamRest();
            else finish(errorCode === null);
          });
          phase = 'native';
        } catch {
          return finish(false);
        }
        // Node cannot see bytes it did not write: without this, server.timeout would cut a
        // long download as idle. A stalled client still times out (no progress, no re-arm).
        const idleMs = res.socket?.timeout ?? 0;
        if (idleMs > 0) {
          let seen = 0;
          refresh = setInterval(
            () => {
              const now = fileSent();
              if (phase === 'native' && now !== seen) res.socket?.setTimeout(idleMs);
              seen = now;
            },
            Math.min(TIMEOUT_REFRESH_MS, idleMs / 4),
          );
          refresh.unref();
        }
      });
    }),
  };
  inFlight.set(res, transfer);
  return transfer;
}
