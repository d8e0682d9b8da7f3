// Redfish over HTTPS (or plain HTTP for redfish+http://) with Node's own HTTP client. A pinned
// certificate (bmc_tls_fingerprint) is checked on the TLS socket before the request, and so
// before the Authorization header, is written: BMCs mostly carry self-signed certificates.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { RedfishTarget } from './bmc-url.ts';
import type { Credentials } from './credentials.ts';
import { PowerError, type BootFirmware, type PowerChange, type PowerDriver, type PowerState } from './driver.ts';

export interface RedfishOptions {
  target: RedfishTarget;
  /** A system path; empty: the only (or first) member of /redfish/v1/Systems. */
  system: string;
  /** Upper-case colon SHA-256 of the BMC's certificate; empty: the system CAs decide. */
  tlsFingerprint: string;
  credentials: () => Credentials;
}

interface Reply {
  status: number;
  etag: string | null;
  body: Record<string, unknown>;
}

const RESET_TYPE: Record<PowerChange, string> = { on: 'On', off: 'ForceOff', cycle: 'PowerCycle', reset: 'ForceRestart' };
/** When a BMC lists its allowed ResetTypes without ours: the closest one it may have. */
const RESET_FALLBACK: Partial<Record<PowerChange, string>> = { cycle: 'ForceRestart', off: 'GracefulShutdown' };
const MAX_BODY = 1 << 20;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class RedfishDriver implements PowerDriver {
  readonly describe: string;
  private systemPath: string | null;

  constructor(private readonly options: RedfishOptions) {
    const { target } = options;
    this.describe = `${target.tls ? 'redfish' : 'redfish+http'}://${target.host}${target.portGiven ? `:${target.port}` : ''}`;
    this.systemPath = options.system || null;
  }

  private request(method: string, path: string, signal: AbortSignal, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const { target, tlsFingerprint } = this.options;
    const { username, password } = this.options.credentials();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const requestOptions: https.RequestOptions = {
      method,
      host: target.host,
      port: target.port,
      path,
      signal,
      headers: {
        Accept: 'application/json',
        Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
        ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
        ...headers,
      },
    };
    if (target.tls && tlsFingerprint) {
      // Our own connection: the request is written only once the certificate matched.
      requestOptions.createConnection = (_opts, done) => {
        const socket = tls.connect({
          host: target.host,
          port: target.port,
          servername: /^[\d.]+$/.test(target.host) ? undefined : target.host,
          rejectUnauthorized: false,
        });
        socket.once('secureConnect', () => {
          const seen = socket.getPeerCertificate().fingerprint256;
          if (seen !== tlsFingerprint) {
            socket.destroy();
            done(new PowerError('refused', `the BMC's certificate is not the one pinned in bmc_tls_fingerprint (it is ${seen})`), socket);
          } else done(null, socket);
        });
        socket.once('error', (err: Error) => done(err, socket));
        return undefined;
      };
    }
    const client = target.tls ? https : http;
    return new Promise<Reply>((resolve, reject) => {
      const req = client.request(requestOptions, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY) req.destroy(new PowerError('refused', 'the BMC sent more than 1 MiB'));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 401) return reject(new PowerError('wrong-credentials', 'wrong credentials: the BMC answered 401 Unauthorized'));
          let parsed: unknown = {};
          const text = Buffer.concat(chunks).toString('utf8');
          if (text.trim()) {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = {};
            }
          }
          const data = isObject(parsed) ? parsed : {};
          const etagHeader = res.headers.etag;
          const etag = typeof etagHeader === 'string' ? etagHeader : typeof data['@odata.etag'] === 'string' ? data['@odata.etag'] : null;
          resolve({ status, etag, body: data });
        });
        res.on('error', reject);
      });
      req.on('error', (err) => {
        if (err instanceof PowerError) return reject(err);
        if (signal.aborted) return reject(new PowerError('unreachable', 'the BMC does not answer'));
        const code = (err as NodeJS.ErrnoException).code;
        const tlsProblem = code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code);
        reject(
          new PowerError(
            tlsProblem ? 'refused' : 'unreachable',
            tlsProblem ? `TLS: ${err.message} (pin the certificate with bmc_tls_fingerprint)` : `the BMC does not answer (${code ?? err.message})`,
          ),
        );
      });
      req.end(payload);
    });
  }

  private static failed(what: string, reply: Reply): PowerError {
    const error = reply.body.error;
    const message = isObject(error) && typeof error.message === 'string' ? `: ${error.message}` : '';
    return new PowerError('refused', `${what}: the BMC answered ${reply.status}${message}`);
  }

  /** The system's path, found once from the Systems collection when not configured. */
  private async system(signal: AbortSignal): Promise<string> {
    if (this.systemPath) return this.systemPath;
    const reply = await this.request('GET', '/redfish/v1/Systems', signal);
    const members = reply.status === 200 && Array.isArray(reply.body.Members) ? reply.body.Members : [];
    const first: unknown = members[0];
    const id = isObject(first) && typeof first['@odata.id'] === 'string' ? first['@odata.id'] : '/redfish/v1/Systems/1';
    this.systemPath = id;
    return id;
  }

  private async readSystem(signal: AbortSignal): Promise<{ path: string; reply: Reply }> {
    const path = await this.system(signal);
    const reply = await this.request('GET', path, signal);
    if (reply.status !== 200) throw RedfishDriver.failed(`reading ${path}`, reply);
    return { path, reply };
  }

  async status(signal: AbortSignal): Promise<PowerState> {
    const { reply } = await this.readSystem(signal);
    const state = reply.body.PowerState;
    if (state === 'On' || state === 'PoweringOff') return 'on';
    if (state === 'Off' || state === 'PoweringOn') return 'off';
    return 'unknown';
  }

  async change(action: PowerChange, signal: AbortSignal): Promise<void> {
    const { path, reply } = await this.readSystem(signal);
    const actions = isObject(reply.body.Actions) ? reply.body.Actions : {};
    const reset = isObject(actions['#ComputerSystem.Reset']) ? actions['#ComputerSystem.Reset'] : {};
    const target = typeof reset.target === 'string' ? reset.target : `${path}/Actions/ComputerSystem.Reset`;
    const allowed = Array.isArray(reset['ResetType@Redfish.AllowableValues']) ? (reset['ResetType@Redfish.AllowableValues'] as unknown[]) : null;
    let resetType = RESET_TYPE[action];
    const fallback = RESET_FALLBACK[action];
    if (allowed && !allowed.includes(resetType) && fallback && allowed.includes(fallback)) resetType = fallback;
    const done = await this.request('POST', target, signal, { ResetType: resetType });
    if (done.status < 200 || done.status > 299) throw RedfishDriver.failed(`ResetType ${resetType}`, done);
  }

  async bootFromNetwork(firmware: BootFirmware, signal: AbortSignal): Promise<string> {
    // One retry: another client may change the system between our read and our PATCH (412).
    // Some BMCs (iLO) show BootSourceOverrideMode but refuse a PATCH naming it (400): then once
    // more without it, leaving the mode to the machine's own setting.
    let withMode = true;
    for (let attempt = 0; ; attempt++) {
      const { path, reply } = await this.readSystem(signal);
      const boot = isObject(reply.body.Boot) ? reply.body.Boot : {};
      const override: Record<string, string> = { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe' };
      const modes = boot['BootSourceOverrideMode@Redfish.AllowableValues'];
      const mode = firmware === 'uefi' ? 'UEFI' : firmware === 'bios' ? 'Legacy' : null;
      // The mode is sent only where the BMC shows it has one, and allows ours.
      if (withMode && mode && 'BootSourceOverrideMode' in boot && (!Array.isArray(modes) || modes.includes(mode))) override.BootSourceOverrideMode = mode;
      const patched = await this.request('PATCH', path, signal, { Boot: override }, reply.etag ? { 'If-Match': reply.etag } : {});
      if (patched.status === 412 && attempt === 0) continue;
      if (patched.status === 400 && override.BootSourceOverrideMode && attempt < 2) {
        withMode = false;
        continue;
      }
      if (patched.status < 200 || patched.status > 299) throw RedfishDriver.failed('setting the boot override', patched);
      if (!withMode && mode) return `next boot from the network, once (the BMC refused BootSourceOverrideMode ${mode}: the machine's own mode)`;
      return `next boot from the network, once${override.BootSourceOverrideMode ? ` (${override.BootSourceOverrideMode})` : ''}`;
    }
  }
}
