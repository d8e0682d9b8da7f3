// Runs DhcpServerService alone, for tests that start it inside a network namespace
// (SO_BINDTODEVICE needs the socket made in the namespace, so the server is its own process).
// usage: node --import tsx run-server.ts '<json: { stateDir, profile: ServerProfileJson }>'
import { testProfile } from '../../../src/config/defaults.ts';
import type { HostEntry, Profile } from '../../../src/config/profile.ts';
import { DhcpServerService } from '../../../src/dhcp/server.ts';
import { silentLogger } from '../../../src/log.ts';
import { Store } from '../../../src/store/store.ts';

export interface ServerProfileJson {
  server: Partial<Profile['server']>;
  dhcp: Partial<Profile['dhcp']>;
  http?: Partial<Profile['http']>;
  boot?: Partial<Profile['boot']>;
  hosts?: HostEntry[];
}

const arg = process.argv[2];
if (!arg) throw new Error('run-server: pass the JSON configuration as the first argument');
const config = JSON.parse(arg) as { stateDir: string; profile: ServerProfileJson; probe?: { listenMs?: number; intervalMs?: number } };
const p = config.profile;
const profile = testProfile({ server: p.server, dhcp: p.dhcp, http: p.http ?? {}, boot: p.boot ?? {}, hosts: new Map((p.hosts ?? []).map((h) => [h.mac, h])) });
const store = Store.open(config.stateDir);
const service = new DhcpServerService({ profile, logger: silentLogger(), store, ...(config.probe ? { probe: config.probe } : {}) });
try {
  await service.start();
} catch (err) {
  // What the daemon would print; the test reads it.
  process.stdout.write(`failed: ${(err as Error).message}\n`);
  store.close();
  process.exit(1);
}
process.stdout.write(`ready ${JSON.stringify(service.bindings())}\n`);
process.once('SIGTERM', () => {
  void service.stop().then(() => {
    store.close();
    process.exit(0);
  });
});
