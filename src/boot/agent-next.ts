// What the inspection agent does once it has reported (GET /agent/<mac>/next): power off, reboot
// (its next network boot gets what the policy says), wait and ask again, or first create a BMC
// user for pxe-pilot when its enrolment asks for one. Pure, with the reason.
import type { ClientDescription } from './client.ts';
import { decide, type PolicySettings } from './policy.ts';
import { settingsFor, type IdentityCensus, type SettingsNode } from './settings.ts';

export interface AgentNext {
  next: 'poweroff' | 'reboot' | 'wait' | 'bmc-user';
  reason: string;
  /** Seconds before a waiting agent asks again. */
  pollSeconds: number;
}

export const AGENT_POLL_SECONDS = 5;

/** `[power] create_bmc_user` (absent: false), where the profile has it. */
export interface BmcUserSetting {
  power?: { createBmcUser?: boolean };
}

/** Why the agent should create a BMC user now, or null: the enrolment asks, the profile allows, not done yet. */
export function bmcUserWanted(node: SettingsNode | undefined, profile: BmcUserSetting): string | null {
  const enrolment = node?.enrolment;
  if (!enrolment?.createBmcUser || enrolment.bmcUser) return null;
  if (profile.power?.createBmcUser !== true) return null;
  if (!node?.inventory?.document.bmc) return null;
  return `the enrolment (by ${enrolment.enrolledBy}) asks for a BMC user and [power] create_bmc_user = true: create it and post it to /agent/<mac>/bmc-user`;
}

/** The next step of the agent running on `mac`, from the node as stored (its inventory, enrolment, arm). */
export function agentNext(mac: string, node: SettingsNode | undefined, profile: PolicySettings & BmcUserSetting, census?: IdentityCensus): AgentNext {
  const step = (next: AgentNext['next'], reason: string): AgentNext => ({ next, reason, pollSeconds: AGENT_POLL_SECONDS });
  if (!node?.inventory) return step('wait', `no inventory is stored for ${mac} yet: post it to /inventory/${mac} first`);
  // Before anything that ends this boot: the BMC user needs the agent's in-band interface.
  const bmcUser = bmcUserWanted(node, profile);
  if (bmcUser) return step('bmc-user', bmcUser.replace('<mac>', mac));
  // The policy with the fresh inventory: an armed install (inspect_first, or an arm while waiting) goes on at once.
  const client: ClientDescription = { mac, firmware: 'unknown', isIpxe: true };
  const decision = decide(client, profile, node, census);
  if (decision.action === 'install') return step('reboot', `${decision.reason}: rebooting into the install now, whatever [boot] after_inspect says`);
  if (decision.wipe) return step('reboot', `${decision.reason}: rebooting into the wipe now, whatever [boot] after_inspect says`);
  const after = profile.boot.afterInspect ?? 'poweroff';
  const at = new Date(node.inventory.reportedAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
  switch (after) {
    case 'poweroff':
      return step('poweroff', `inspected at ${at}; [boot] after_inspect = poweroff`);
    case 'local':
      return step('reboot', `inspected at ${at}; [boot] after_inspect = local: its next boot is from its local disk`);
    case 'wait': {
      const settings = decision.settings ?? settingsFor(mac, node, profile, census);
      if (settings.source !== 'none' && settings.action !== 'inspect')
        return step('reboot', `inspected at ${at}; ${settings.reason} gives it settings now (${decision.action}): rebooting into them`);
      return step('wait', `inspected at ${at}; [boot] after_inspect = wait: waiting for an enrolment, a [rule] or an install arm`);
    }
  }
}
