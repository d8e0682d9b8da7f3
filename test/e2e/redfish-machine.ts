// The machine behind the Redfish double in the reinstall --now test: a QEMU machine started by
// machine.sh (bmc-machine.ts), driven through its QMP socket. Power state is QMP's query-status
// (no socket to connect to: off); ForceOff is QMP `quit`; a restart is QMP `system_reset`, except
// when a Once/Pxe boot override is pending: QEMU takes its boot order only at start, so the
// machine is ended through QMP and started again with the network once (as a BMC's override is
// honoured at the next POST).
import { execFile } from 'node:child_process';
import { createConnection } from 'node:net';
import { promisify } from 'node:util';
import type { RedfishMachine } from '../helpers/redfish-double.ts';

const run = promisify(execFile);

/** One QMP command on a fresh connection: greeting, qmp_capabilities, the command. null: nothing listens. */
export function qmp(socketPath: string, command: string, timeoutMs = 5000): Promise<Record<string, unknown> | null> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffered = '';
    let stage = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`QMP ${command}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (value: Record<string, unknown> | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(null);
      else reject(err);
    });
    // `quit` closes the connection instead of answering at times: that is its answer.
    socket.on('close', () => (stage === 2 && command === 'quit' ? finish({ return: {} }) : undefined));
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        const message = JSON.parse(line) as Record<string, unknown>;
        if ('event' in message) continue;
        if (stage === 0 && 'QMP' in message) {
          stage = 1;
          socket.write('{"execute":"qmp_capabilities"}\n');
        } else if (stage === 1 && 'return' in message) {
          stage = 2;
          socket.write(JSON.stringify({ execute: command }) + '\n');
        } else if (stage === 2) {
          if ('error' in message) reject(new Error(`QMP ${command}: ${JSON.stringify(message.error)}`));
          finish(message);
        }
      }
    });
  });
}

export function qmpMachine(script: string, qmpSocket: string): RedfishMachine {
  const machine = (verb: string, ...args: string[]) => run(script, [verb, ...args]);
  const power = async (): Promise<'On' | 'Off'> => {
    const status = await qmp(qmpSocket, 'query-status').catch(() => null);
    return status && (status.return as { running?: boolean } | undefined)?.running ? 'On' : 'Off';
  };
  const waitOff = async (): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      if ((await machine('status')).stdout.trim() === '0') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    await machine('stop');
  };
  const start = async (bootOnce: 'Pxe' | null): Promise<void> => {
    if (bootOnce) await machine('bootdev', 'pxe');
    await machine('start');
    // Powered on once QEMU answers on its QMP socket (it takes a moment to create it).
    for (let i = 0; i < 100 && (await power()) === 'Off'; i++) await new Promise((r) => setTimeout(r, 100));
  };
  return {
    power,
    async reset(type, bootOnce) {
      const on = (await power()) === 'On';
      if (type === 'ForceOff' || type === 'GracefulShutdown') {
        if (on) await qmp(qmpSocket, 'quit');
        await waitOff();
      } else if (!on) {
        await start(bootOnce);
      } else if (type === 'On' || type === 'ForceOn') {
        // Already on: nothing to do, as on a real BMC.
      } else if (bootOnce) {
        await qmp(qmpSocket, 'quit');
        await waitOff();
        await start(bootOnce);
      } else {
        await qmp(qmpSocket, 'system_reset');
      }
    },
  };
}
