// Deploys under way, for the dashboard's Live and machine pages: read from the events the agent's
// progress posts leave (POST /agent/<mac>/progress), so every appliance of a fleet shows the same.
// Pure: a node and its agent events in, the progress or null out.
import type { NodeRecord, StoredEvent } from '../boot/ports.ts';
import { detailOf } from '../boot/events.ts';

export interface DeployProgress {
  mac: string;
  /** The disk image, as the plan named it. */
  profile: string | null;
  device: string | null;
  phase: string;
  bytes: number;
  total: number;
  mbps: number;
  /** When the agent last said it (ms since the epoch). */
  at: number;
}

/** Without a word from the agent for this long, the deploy is not shown as moving. */
export const DEPLOY_QUIET_MS = 10 * 60_000;

/**
 * The newest progress of this node's deploy, when it is under way: the node is installing, the plan
 * was fetched, and a progress event came after that plan and within DEPLOY_QUIET_MS of `now`.
 * `events`: the node's agent events, newest last.
 */
export function deployProgress(node: Pick<NodeRecord, 'mac' | 'state'>, events: readonly StoredEvent[], now: number): DeployProgress | null {
  if (node.state !== 'installing') return null;
  let plan: StoredEvent | undefined;
  let progress: StoredEvent | undefined;
  for (const e of events) {
    if (e.protocol !== 'agent' || e.mac !== node.mac) continue;
    if (e.kind === 'GET /agent/deploy' && e.decision === 'deploy') {
      plan = e;
      progress = undefined;
    } else if (e.kind === 'deploy-result') {
      plan = undefined;
      progress = undefined;
    } else if (e.kind === 'deploy-progress' && plan) progress = e;
  }
  if (!plan || !progress || now - progress.time > DEPLOY_QUIET_MS) return null;
  const d = detailOf(progress, 'agent') ?? {};
  const p = detailOf(plan, 'agent') ?? {};
  return {
    mac: node.mac,
    profile: p.profile ?? null,
    device: p.device ?? null,
    phase: d.phase ?? progress.decision,
    bytes: d.bytes ?? 0,
    total: d.total ?? 0,
    mbps: d.mbps ?? 0,
    at: progress.time,
  };
}
