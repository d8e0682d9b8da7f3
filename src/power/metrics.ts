// The power instruments, registered in the daemon's registry (docs/metrics.md):
// pxe_pilot_power_state{state} counts the machines with a bmc in each last known state, and
// pxe_pilot_bmc_errors_total{failure} counts failed BMC calls by class. As for every metric, no
// label carries a MAC or an address (the series count must not grow with the fleet); which
// machine is in which state is GET /nodes/<mac>/power's to say.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PowerControl } from './control.ts';
import type { PowerFailure, PowerState } from './driver.ts';

const STATES: readonly PowerState[] = ['on', 'off', 'unknown'];
const FAILURES: readonly PowerFailure[] = ['wrong-credentials', 'unreachable', 'no-credentials', 'unsupported', 'refused'];

export function registerPowerMetrics(registry: Registry, power: PowerControl): void {
  new Gauge({
    name: 'pxe_pilot_power_state',
    help: 'Machines with a [host] bmc, by power state as last read from their BMC (unknown: not read yet, unreachable, or Wake-on-LAN)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const counts = new Map<PowerState, number>(STATES.map((s) => [s, 0]));
      for (const host of power.hosts()) {
        const state = power.view(host.mac)?.state ?? 'unknown';
        counts.set(state, (counts.get(state) ?? 0) + 1);
      }
      for (const [state, count] of counts) this.set({ state }, count);
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
