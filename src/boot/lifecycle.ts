// The install lifecycle, in one place. Pure: (what happened, the node as it is) → the state
// change to write and its reason. Transports call it and hand the change to the store
// (NodeWrites.applyChange); none of them decides on its own when an install starts or ends.
//
//   seen ──armed (profile at first sight, or later while never armed; or admin)──▶ install-pending
//     (sighted: a [host] action=install arms only a machine never armed nor installed)
//   install-pending ──answer fetched, or script served to an installer that fetches none──▶ installing
//   any ──installer reports success (webhook)──▶ installed
//   install-pending ──cancelled by admin──▶ installed (when it was before) or seen
//   install-pending ──deploy: the agent fetched its plan──▶ installing
//   installing (or install-pending: refused before writing) ──deploy failed──▶ deploy-failed
//   deploy-failed ──armed by admin──▶ install-pending (never by itself: no loop)
//   any ──wipe armed by admin (nodes release --wipe)──▶ wipe-pending
//   wipe-pending (or seen, when its settings have action = wipe) ──agent served in wipe mode──▶ wiping
//   wiping ──the agent reported its wipe──▶ seen (install state and enrolment cleared, inventory kept)
//   any ──released by admin (nodes release)──▶ seen (the same, nothing wiped)
import { PRODUCT_ROWS, productRow, type ProductRow } from './products.ts';

/** Every state a node can be in, in lifecycle order (admin filters, metrics, the CLI). */
export const NODE_LIFECYCLES = ['seen', 'install-pending', 'installing', 'installed', 'deploy-failed', 'wipe-pending', 'wiping'] as const;
export type NodeLifecycle = (typeof NODE_LIFECYCLES)[number];

/** What the store knows of a machine, as the policy and the lifecycle need it. */
export interface NodeState {
  mac: string;
  state: NodeLifecycle;
  /** Profile chosen by an admin reinstall; overrides the [host] profile. */
  profile: string | null;
  /** Whitelisted iPXE local-boot script set by an admin; null = `exit`. */
  localBoot: string | null;
  /** When and by whom install was armed (ms since epoch; 'profile' or 'admin'). */
  armedAt: number | null;
  armedBy: 'profile' | 'admin' | null;
  /** When the one-shot install was consumed (answer fetched or script served). */
  consumedAt: number | null;
  installedAt: number | null;
}

/** What happened to a machine that may move its install lifecycle. */
export type LifecycleEvent =
  /** An install script was served for `profile`; `fetchesAnswer` says whether its installer asks for an answer later. */
  | { kind: 'script-served'; profile: string; fetchesAnswer: boolean }
  /** An installer fetched its answer for this NIC; `hostProfile` is the [host] profile, kept when none was armed. */
  | { kind: 'answer-fetched'; hostProfile: string | null }
  /** The installer reported success (post-installation webhook). */
  | { kind: 'install-reported'; fqdn: string | null; bootMode: string | null; report: unknown }
  /** An admin armed a (re)install, with a profile or none (then the [host] profile or the menu). */
  | { kind: 'reinstall-armed'; profile: string | null }
  /** An admin cancelled a pending install. */
  | { kind: 'reinstall-cancelled' }
  /** The agent fetched the plan of a disk image deploy: the one-shot install is spent now. */
  | { kind: 'deploy-plan-fetched'; profile: string }
  /** The agent reported the deploy's end (or the plan was refused before anything was written). */
  | { kind: 'deploy-reported'; ok: boolean; reason: string; report: unknown }
  /** An admin armed a wipe (nodes release --wipe). */
  | { kind: 'wipe-armed' }
  /** An admin released the machine: unenrolled, its install state cleared, nothing wiped. */
  | { kind: 'released' }
  /** The agent was served in wipe mode: the wipe is spent now (`by`: who asked for it). */
  | { kind: 'wipe-served'; by: 'profile' | 'admin'; since: number | null }
  /** The agent reported its wipe; `ok`: every disk cleared; `reason`: what failed, or a summary. */
  | { kind: 'wipe-reported'; ok: boolean; reason: string; report: unknown };

/** A state change for the store to write, stamped with its own clock. */
export type StateChange =
  | { kind: 'arm'; profile: string | null; by: 'profile' | 'admin' }
  | { kind: 'consume'; profile: string | null }
  | { kind: 'complete'; fqdn: string | null; bootMode: string | null; report: unknown }
  | { kind: 'disarm'; to: 'seen' | 'installed' }
  /** A deploy failed: the node waits in deploy-failed, with the reason kept in its report, until re-armed. */
  | { kind: 'fail'; reason: string; report: unknown }
  /** A wipe armed by an admin: the next network boot gets the agent in wipe mode. */
  | { kind: 'arm-wipe' }
  /**
   * The wipe is spent: from wipe-pending, or from seen when the machine's settings ask for a wipe
   * (`by` 'profile'; armedAt is stamped then, so the same settings never wipe it again): only a
   * node never armed, or armed before `since` (an enrolment's time), is consumed so.
   */
  | { kind: 'consume-wipe'; by: 'profile' | 'admin'; since: number | null }
  /**
   * Back to seen: profile, consumption, installation and enrolment cleared, inventory and armedAt
   * kept (so a [host] action does not arm it again); `report` is kept as the install report.
   * `wiped`: only a node in wiping is released (the agent's result).
   */
  | { kind: 'release'; wiped: boolean; report: unknown };

export interface Transition {
  /** null: nothing to write. */
  change: StateChange | null;
  /** The state after the change (or the unchanged state; 'unknown' for a node never recorded). */
  to: NodeLifecycle | 'unknown';
  reason: string;
}

/**
 * Whether the one-shot install outlives its script: consumed later, when the installer fetches its
 * answer (or the booted system reports), as the product table says; else when the script is served.
 */
export function fetchesAnswer(product: string, rows: readonly ProductRow[] = PRODUCT_ROWS): boolean {
  return productRow(product, rows).consumedAt !== 'script';
}

/** Whether the profile arms a first install for this host (a node never installed yet). */
export function profileArmsInstall(host: { action: string } | undefined): boolean {
  return host?.action === 'install' || host?.action === 'deploy';
}

function unchanged(node: NodeState | undefined, reason: string): Transition {
  return { change: null, to: node?.state ?? 'unknown', reason };
}

// What a sighting can say, made once: a sighting is the hot path (every DHCP packet and /boot).
const PROFILE_ARM: StateChange = Object.freeze({ kind: 'arm', profile: null, by: 'profile' });
const sighting = (change: StateChange | null, to: NodeLifecycle, reason: string): Transition => Object.freeze({ change, to, reason });
const FIRST_SIGHT = sighting(null, 'seen', 'first heard from, no install armed');
const FIRST_SIGHT_ARMS = sighting(PROFILE_ARM, 'install-pending', 'its [host] section has action=install: the first network boot installs');
const HOST_GAINED_INSTALL = sighting(PROFILE_ARM, 'install-pending', 'its [host] section now has action=install: the next network boot installs, once');
const ARMED_BEFORE = sighting(null, 'seen', 'was armed or installed before: the [host] action=install does not arm it again');
const SEEN_AGAIN = new Map(NODE_LIFECYCLES.map((state) => [state, sighting(null, state, `is ${state}`)]));

/**
 * A machine heard from (`node` undefined: for the first time; it is recorded as seen). Its [host]
 * section arms an install (action=install) only for a machine never armed nor installed: at first
 * sight, or later when the section gained action=install. One armed before (a cancelled install
 * keeps armedAt) or installed is left as it is, so a cancel sticks and nothing installs twice.
 */
export function sighted(node: NodeState | undefined, armedByProfile: boolean): Transition {
  if (!node) return armedByProfile ? FIRST_SIGHT_ARMS : FIRST_SIGHT;
  if (!armedByProfile || node.state !== 'seen') return SEEN_AGAIN.get(node.state)!;
  if (node.armedAt !== null || node.installedAt !== null) return ARMED_BEFORE;
  return HOST_GAINED_INSTALL;
}

/**
 * What `event` does to `node` (undefined: the store has no record of it yet). A reason for no
 * change starts with "is …": the caller puts the machine's name in front.
 */
export function nextState(event: LifecycleEvent, node: NodeState | undefined): Transition {
  switch (event.kind) {
    case 'script-served':
      if (node?.state !== 'install-pending') return unchanged(node, `is ${node ? node.state : 'not known'}, not install-pending: nothing to consume`);
      if (event.fetchesAnswer) return unchanged(node, 'install stays pending until the installer fetches its answer');
      return { change: { kind: 'consume', profile: event.profile }, to: 'installing', reason: 'install consumed now (this installer fetches no answer)' };
    case 'answer-fetched': {
      if (node?.state !== 'install-pending') {
        return unchanged(
          node,
          `is ${node ? node.state : 'not known'}, not install-pending: the installer was started by hand (ISO or menu), nothing to consume`,
        );
      }
      const profile = node.profile ?? event.hostProfile;
      return {
        change: { kind: 'consume', profile: event.hostProfile },
        to: 'installing',
        reason: `install consumed for ${node.mac} (armed by ${node.armedBy ?? 'profile'}${profile ? `, profile ${profile}` : ''}): its next network boot goes to local disk`,
      };
    }
    case 'install-reported':
      return {
        change: { kind: 'complete', fqdn: event.fqdn, bootMode: event.bootMode, report: event.report },
        to: 'installed',
        reason: 'next network boot goes to local disk',
      };
    case 'reinstall-armed':
      return { change: { kind: 'arm', profile: event.profile, by: 'admin' }, to: 'install-pending', reason: 'the next network boot installs, once' };
    case 'reinstall-cancelled': {
      if (node?.state !== 'install-pending') {
        return unchanged(node, `is ${node ? node.state : 'not known'}, not install-pending: nothing to cancel`);
      }
      const to = node.installedAt !== null ? 'installed' : 'seen';
      return { change: { kind: 'disarm', to }, to, reason: `back to ${to}` };
    }
    case 'deploy-plan-fetched':
      if (node?.state !== 'install-pending') return unchanged(node, `is ${node ? node.state : 'not known'}, not install-pending: no deploy is armed`);
      return {
        change: { kind: 'consume', profile: event.profile },
        to: 'installing',
        reason: `deploy of ${event.profile} consumed: the agent fetched its plan; its next network boot goes to local disk`,
      };
    case 'deploy-reported':
      if (node?.state !== 'installing' && node?.state !== 'install-pending')
        return unchanged(node, `is ${node ? node.state : 'not known'}, not deploying: the report changes nothing`);
      if (event.ok) {
        return {
          change: { kind: 'complete', fqdn: null, bootMode: null, report: event.report },
          to: 'installed',
          reason: `deployed (${event.reason}): next network boot goes to local disk`,
        };
      }
      return {
        change: { kind: 'fail', reason: event.reason, report: event.report },
        to: 'deploy-failed',
        reason: `deploy failed: ${event.reason}; next network boot goes to local disk, reinstall through the admin API to try again`,
      };
    case 'wipe-armed':
      return { change: { kind: 'arm-wipe' }, to: 'wipe-pending', reason: 'wipe armed: the next network boot wipes its disks, once' };
    case 'released':
      return {
        change: { kind: 'release', wiped: false, report: null },
        to: 'seen',
        reason: `released${node ? ` from ${node.state}` : ''}: unenrolled, install state cleared, inventory kept`,
      };
    case 'wipe-served':
      if (node?.state !== 'wipe-pending' && !(event.by === 'profile' && (node === undefined || node.state === 'seen')))
        return unchanged(node, `is ${node ? node.state : 'not known'}, not wipe-pending: no wipe is armed`);
      return {
        change: { kind: 'consume-wipe', by: event.by, since: event.since },
        to: 'wiping',
        reason: 'wipe consumed: the agent wipes the disks, then powers off',
      };
    case 'wipe-reported':
      if (node?.state !== 'wiping') return unchanged(node, `is ${node ? node.state : 'not known'}, not wiping: no wipe is armed, the result changes nothing`);
      return {
        change: { kind: 'release', wiped: true, report: event.report },
        to: 'seen',
        reason: event.ok
          ? `wiped (${event.reason}): released, unenrolled, inventory kept`
          : `wipe failed: ${event.reason}; released all the same (not armed again), inventory kept`,
      };
  }
}
