// The Redfish double as the BMC of a lab QEMU machine, run as its own process inside the lab
// namespace (where pxe-pilot and redfishtool reach it). Argument: JSON {address, port, user,
// password, script, qmp}. Prints one JSON line {port, fingerprint} once it listens; ends on SIGTERM.
import { startRedfishDouble } from '../helpers/redfish-double.ts';
import { qmpMachine } from './redfish-machine.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as { address: string; port: number; user: string; password: string; script: string; qmp: string };
const double = await startRedfishDouble({
  address: config.address,
  port: config.port,
  user: config.user,
  password: config.password,
  machine: qmpMachine(config.script, config.qmp),
});
process.stdout.write(JSON.stringify({ port: double.port, fingerprint: double.fingerprint }) + '\n');
process.on('SIGTERM', () => {
  void double.stop().then(() => process.exit(0));
});
