// A small Redfish service for tests: the service root, one ComputerSystem with ETags,
// ComputerSystem.Reset and the boot override (PATCH with If-Match enforced: 428 without it, 412
// on a stale one). Over HTTPS with a self-signed certificate made here (redfishtool sends
// credentials over HTTPS only), Basic authentication. It keeps a log of what it was asked.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedfishSystemState {
  power: 'On' | 'Off';
  boot: { enabled: string; target: string; mode: string };
  resets: string[];
  etag: number;
}

export interface RedfishDouble {
  port: number;
  user: string;
  password: string;
  /** SHA-256 of its certificate, colon form (bmc_tls_fingerprint). */
  fingerprint: string;
  state: RedfishSystemState;
  /** "METHOD path status" per request, and the If-Match of each PATCH. */
  log: string[];
  stop: () => Promise<void>;
}

const SYSTEM = '/redfish/v1/Systems/1';
const RESET = `${SYSTEM}/Actions/ComputerSystem.Reset`;
const RESET_TYPES = ['On', 'ForceOn', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'PowerCycle'];
const TARGETS = ['None', 'Pxe', 'Hdd', 'Cd', 'Usb', 'BiosSetup'];
const MODES = ['Legacy', 'UEFI'];

/**
 * A real machine behind the double (test/e2e/redfish-machine.ts drives QEMU through QMP): its
 * power is read from it, and Reset and the boot override act on it.
 */
export interface RedfishMachine {
  power(): Promise<'On' | 'Off'>;
  /** ResetType as the double accepted it; `bootOnce`: the override to honour at this start (Once + Pxe). */
  reset(type: string, bootOnce: 'Pxe' | null): Promise<void>;
}

export async function startRedfishDouble(
  options: {
    user?: string;
    password?: string;
    address?: string;
    port?: number;
    machine?: RedfishMachine;
    /** Shows BootSourceOverrideMode but answers 400 to a PATCH naming it, as some iLOs do. */
    modeReadOnly?: boolean;
  } = {},
): Promise<RedfishDouble> {
  const dir = mkdtempSync(join(tmpdir(), 'pxe-redfish-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=bmc.test',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const cert = readFileSync(join(dir, 'cert.pem'));
  const key = readFileSync(join(dir, 'key.pem'));
  rmSync(dir, { recursive: true, force: true });
  const user = options.user ?? 'root';
  const password = options.password ?? 'redfish-Double-pw-41ab';
  const state: RedfishSystemState = { power: 'Off', boot: { enabled: 'Disabled', target: 'None', mode: 'UEFI' }, resets: [], etag: 1 };
  const log: string[] = [];
  const etag = (): string => `W/"${state.etag}"`;

  const system = () => ({
    '@odata.id': SYSTEM,
    '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
    '@odata.etag': etag(),
    Id: '1',
    Name: 'Test machine',
    SystemType: 'Physical',
    PowerState: state.power,
    Boot: {
      BootSourceOverrideEnabled: state.boot.enabled,
      BootSourceOverrideTarget: state.boot.target,
      BootSourceOverrideMode: state.boot.mode,
      'BootSourceOverrideTarget@Redfish.AllowableValues': TARGETS,
      'BootSourceOverrideMode@Redfish.AllowableValues': MODES,
    },
    Actions: { '#ComputerSystem.Reset': { target: RESET, 'ResetType@Redfish.AllowableValues': RESET_TYPES } },
  });

  const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'OData-Version': '4.0',
      ...headers,
      ...(text ? { 'Content-Length': String(Buffer.byteLength(text)) } : {}),
    });
    res.end(text);
  };
  const error = (res: ServerResponse, status: number, message: string): void => send(res, status, { error: { code: 'Base.1.8.GeneralError', message } });

  const authorised = (req: IncomingMessage): boolean => req.headers.authorization === `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  const handle = async (req: IncomingMessage, res: ServerResponse, body: string): Promise<void> => {
    if (options.machine) state.power = await options.machine.power();
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (method === 'GET' && path === '/redfish') return send(res, 200, { v1: '/redfish/v1/' });
    if (method === 'GET' && path === '/redfish/v1')
      return send(res, 200, {
        '@odata.id': '/redfish/v1/',
        '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot',
        Id: 'RootService',
        Name: 'Root Service',
        RedfishVersion: '1.8.0',
        Systems: { '@odata.id': '/redfish/v1/Systems' },
      });
    if (!authorised(req)) return send(res, 401, { error: { message: 'authentication required' } }, { 'WWW-Authenticate': 'Basic realm="bmc"' });
    if (method === 'GET' && path === '/redfish/v1/Systems')
      return send(res, 200, {
        '@odata.id': '/redfish/v1/Systems',
        '@odata.type': '#ComputerSystemCollection.ComputerSystemCollection',
        Name: 'Computer System Collection',
        Members: [{ '@odata.id': SYSTEM }],
        'Members@odata.count': 1,
      });
    if (method === 'GET' && path === SYSTEM) return send(res, 200, system(), { ETag: etag() });
    let data: Record<string, unknown>;
    try {
      data = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    } catch {
      return error(res, 400, 'body is not JSON');
    }
    if (method === 'PATCH' && path === SYSTEM) {
      const match = req.headers['if-match'];
      log.push(`If-Match ${match ?? '(none)'}`);
      if (match === undefined) return error(res, 428, 'If-Match is required');
      if (match !== etag() && match !== '*') return error(res, 412, `stale ETag ${match}; now ${etag()}`);
      const boot = data.Boot as Record<string, unknown> | undefined;
      if (!boot || typeof boot !== 'object' || Object.keys(data).length !== 1) return error(res, 400, 'only Boot may be patched here');
      const text = (value: unknown): string | null | undefined => (value === undefined ? undefined : typeof value === 'string' ? value : null);
      const enabled = text(boot.BootSourceOverrideEnabled);
      const target = text(boot.BootSourceOverrideTarget);
      const mode = text(boot.BootSourceOverrideMode);
      if (enabled === null || (enabled !== undefined && !['Disabled', 'Once', 'Continuous'].includes(enabled)))
        return error(res, 400, 'bad BootSourceOverrideEnabled');
      if (target === null || (target !== undefined && !TARGETS.includes(target))) return error(res, 400, 'bad BootSourceOverrideTarget');
      if (mode === null || (mode !== undefined && !MODES.includes(mode))) return error(res, 400, 'bad BootSourceOverrideMode');
      if (mode !== undefined && options.modeReadOnly) return error(res, 400, 'BootSourceOverrideMode is read-only');
      if (enabled !== undefined) state.boot.enabled = enabled;
      if (target !== undefined) state.boot.target = target;
      if (mode !== undefined) state.boot.mode = mode;
      state.etag++;
      return send(res, 200, system(), { ETag: etag() });
    }
    if (method === 'POST' && path === RESET) {
      const type = String(data.ResetType);
      if (!RESET_TYPES.includes(type)) return error(res, 400, `ResetType ${type} is not allowed`);
      state.resets.push(type);
      if (options.machine) {
        // A Once override is taken by the next boot this reset starts, then falls back to Disabled.
        const once = state.boot.enabled === 'Once' && state.boot.target === 'Pxe' && type !== 'ForceOff' && type !== 'GracefulShutdown';
        await options.machine.reset(type, once ? 'Pxe' : null);
        if (once) state.boot = { ...state.boot, enabled: 'Disabled', target: 'None' };
        state.power = await options.machine.power();
      } else if (type === 'ForceOff' || type === 'GracefulShutdown') state.power = 'Off';
      else state.power = 'On';
      state.etag++;
      return send(res, 204);
    }
    return error(res, 404, `no resource ${path}`);
  };

  const server = createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).then(
        () => log.push(`${req.method} ${req.url} ${res.statusCode}`),
        (err: unknown) => {
          error(res, 500, `the machine behind the double failed: ${(err as Error).message}`);
          log.push(`${req.method} ${req.url} 500`);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.address ?? '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    user,
    password,
    fingerprint: new X509Certificate(cert).fingerprint256,
    state,
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
