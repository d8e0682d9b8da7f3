// When pxe-pilot recorded a machine installed (its webhook event), for the reinstall timings.
import type { PxePilot } from '../helpers/daemon.ts';
import { eventTime } from './expect.ts';

export async function installedAt(pilot: PxePilot, mac: string): Promise<number> {
  const webhook = (await pilot.events(mac)).filter((e) => e.protocol === 'webhook').at(-1);
  if (!webhook) throw new Error(`no webhook event for ${mac}`);
  return eventTime(webhook);
}
