// What the inspection agent does once it has reported (GET /agent/<mac>/next): power off, reboot
// (its next network boot gets what the policy says) or wait and ask again. Pure, with the reason.
import type { ClientDescription } from './client.ts';
import { decide, type PolicySettings } from './policy.ts';
import { settingsFor, type IdentityCensus, type SettingsNode } from './settings.ts';

export interface AgentNext {
  next: 'poweroff' | 'reboot' | 'wait';
  reason: string;
  /** Seconds before a waiting agent asks again. */
  pollSeconds: number;
}

export const AGENT_POLL_SECONDS = 5;

/** The next step of the agent running on `mac`, from the node as stored (its inventory, enrolment, arm). */
export function agentNext(mac: string, node: SettingsNode | undefined, profile: PolicySettings, census?: IdentityCensus): AgentNext {
  const step = (next: AgentNext['next'], reason: string): AgentNext => ({ next, reason, pollSeconds: AGENT_POLL_SECONDS });
  if (!node?.inventory) return step('wait', `no inventory is stored for ${mac} yet: post it to /inventory/${mac} first`);
  // The policy with the fresh inventory: an armed install (inspect_first, or an arm while waiting) goes on at once.
  const client: ClientDescription = { mac, firmware: 'unknown', isIpxe: true };
  const decision = decide(client, profile, node, census);
  if (decision.action === 'install') return step('reboot', `${decision.reason}: rebooting into the install now, whatever [boot] after_inspect says`);
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
