// The power instruments, registered in the daemon's registry (docs/metrics.md):
// pxe_pilot_power_state{mac,state} is 1 for each machine's last known state, and
// pxe_pilot_bmc_errors_total{failure} counts failed BMC calls by class. No label carries a
// BMC's address or credentials: the MAC says which machine.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PowerControl } from './control.ts';
import type { PowerFailure, PowerState } from './driver.ts';

const STATES: readonly PowerState[] = ['on', 'off', 'unknown'];
const FAILURES: readonly PowerFailure[] = ['wrong-credentials', 'unreachable', 'no-credentials', 'unsupported', 'refused'];

export function registerPowerMetrics(registry: Registry, power: PowerControl): void {
  new Gauge({
    name: 'pxe_pilot_power_state',
    help: 'Power state of each machine with a [host] bmc, as last read from its BMC: 1 for the state it is in (on, off, unknown)',
    labelNames: ['mac', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const host of power.hosts()) {
        const view = power.view(host.mac);
        for (const state of STATES) this.set({ mac: host.mac, state }, view?.state === state ? 1 : 0);
      }
    },
  });
  const errors = new Counter({
    name: 'pxe_pilot_bmc_errors_total',
    help: 'BMC calls that failed, by class (wrong-credentials, unreachable, no-credentials, unsupported, refused)',
    labelNames: ['failure'] as const,
    registers: [registry],
  });
  for (const failure of FAILURES) errors.inc({ failure }, 0);
  power.onFailure((failure) => errors.inc({ failure }));
}
