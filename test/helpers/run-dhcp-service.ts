// Runs the DHCP server or the ProxyDHCP service alone, for tests that start it inside a network
// namespace (SO_BINDTODEVICE needs the socket made in the namespace, so it is its own process).
// Prints JSON lines: {ready: bindings} once listening, {event} for every event it records when
// asked to (printEvents), or {error} and exit 2 when it cannot start. SIGTERM stops it.
// usage: node --import tsx run-dhcp-service.ts '<json: { service, stateDir, profile: ServiceProfileJson }>'
import { fileURLToPath } from 'node:url';
import { testProfile } from './profile.ts';
import type { HostEntry, Profile } from '../../src/config/profile.ts';
import { DhcpServerService } from '../../src/dhcp/server.ts';
import { silentLogger } from '../../src/log.ts';
import { ProxyDhcpService } from '../../src/proxydhcp/service.ts';
import type { Service } from '../../src/service.ts';
import { Store } from '../../src/store/store.ts';

/** The parts of a profile a namespace test sets; the rest are the defaults. */
export interface ServiceProfileJson {
  server: Partial<Profile['server']>;
  dhcp: Partial<Profile['dhcp']>;
  http?: Partial<Profile['http']>;
  boot?: Partial<Profile['boot']>;
  hosts?: HostEntry[];
}

export interface RunDhcpServiceArgs {
  service: 'dhcp' | 'proxydhcp';
  stateDir: string;
  profile: ServiceProfileJson;
  /** Print every recorded event as an {event} line (off for benchmarks: stdout is not free). */
  printEvents?: boolean;
  /** The DHCP server's other-server probe, shortened for tests. */
  probe?: { listenMs?: number; intervalMs?: number };
}

/** The file to hand to node with the JSON arguments. */
export const runDhcpServicePath = fileURLToPath(import.meta.url);

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function main(arg: string | undefined): Promise<void> {
  if (!arg) throw new Error('run-dhcp-service: pass the JSON configuration as the first argument');
  const config = JSON.parse(arg) as RunDhcpServiceArgs;
  const p = config.profile;
  const profile = testProfile(p);
  const store = Store.open(config.stateDir);
  if (config.printEvents) {
    const record = store.record.bind(store);
    store.record = (event) => {
      emit({ event });
      record(event);
    };
  }
  const deps = { profile, logger: silentLogger(), store, leases: store.leases };
  const service: Service =
    config.service === 'dhcp' ? new DhcpServerService({ ...deps, ...(config.probe ? { probe: config.probe } : {}) }) : new ProxyDhcpService(deps);
  try {
    await service.start();
  } catch (err) {
    emit({ error: { message: (err as Error).message } });
    // The events of the refusal (e.g. another DHCP server) reach the database before the exit.
    store.close();
    process.exit(2);
  }
  emit({ ready: service.bindings() });
  process.once('SIGTERM', () => {
    void service.stop().then(() => {
      store.close();
      process.exit(0);
    });
  });
}

if (process.argv[1] === runDhcpServicePath) await main(process.argv[2]);
