// The dashboard's machines read-out, GET /machines: per node, what the Machines list shows beside
// GET /nodes. The hardware in a line (from the stored inventory), the identity facts that cannot
// tell machines apart (placeholders, and values two machines share), and the last known power
// state. Served from memory: no BMC is asked (GET /nodes/<mac>/power asks one).
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { NodeRecord } from '../../boot/ports.ts';
import type { LldpNeighbour } from '../../agent/inventory.ts';
import { isPlaceholderSerial, isPlaceholderUuid } from '../../agent/identity.ts';
import { nodeIdentity } from '../../boot/settings.ts';
import type { PowerView } from '../../power/control.ts';
import type { HttpDeps } from '../context.ts';
import { macQuery } from '../request.ts';

const MAX_MACHINES = 10_000;

export interface IdentityFact {
  value: string | null;
  /** Why this value must not select the machine; null when it may. */
  flag: 'placeholder' | 'shared' | null;
  reason: string | null;
}

export interface MachineLine {
  mac: string;
  inspected: boolean;
  /** When the inventory was reported (ISO), or null. */
  reportedAt: string | null;
  vendor: string | null;
  product: string | null;
  serial: IdentityFact;
  uuid: IdentityFact;
  cpu: { model: string | null; sockets: number | null; cores: number | null; threads: number | null } | null;
  memoryBytes: number | null;
  disks: { name: string; sizeBytes: number; model: string | null; transport: string }[];
  /** The LLDP neighbour of the first NIC that has one (a link that is up first). */
  switchPort: (LldpNeighbour & { nic: string }) | null;
  enrolment: { hostname: string | null; profile: string | null; action: string } | null;
  /** The last known power state; null: the machine names no BMC. Never its credentials. */
  power: { bmc: string; state: PowerView['state']; checkedAt: string | null; error: PowerView['error'] } | null;
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/**
 * The UUID and serial a machine is known by, as the boot decision reads them (nodeIdentity of
 * src/boot/settings.ts: the inventory's first, a sighted UUID brought to the normal form).
 */
function identityOf(node: NodeRecord): { uuid: string | null; serial: string | null } {
  const id = nodeIdentity(node);
  return { uuid: id.uuids[0] ?? null, serial: id.serials[0] ?? null };
}

const serialKey = (s: string): string => s.trim().toLowerCase();

/**
 * Which machines report each UUID and serial. As the selection counts them (censusOf of
 * src/boot/settings.ts), a second NIC of the same machine (its inventory names this MAC) is not
 * another machine. One pass over the nodes, so a large fleet's list stays linear.
 */
function sharedWith(nodes: readonly NodeRecord[]): (kind: 'uuid' | 'serial', value: string, mac: string) => number {
  const holders = { uuid: new Map<string, NodeRecord[]>(), serial: new Map<string, NodeRecord[]>() };
  const add = (map: Map<string, NodeRecord[]>, key: string, node: NodeRecord): void => {
    const list = map.get(key);
    if (list) {
      if (!list.includes(node)) list.push(node);
    } else map.set(key, [node]);
  };
  for (const n of nodes) {
    const id = nodeIdentity(n);
    for (const u of id.uuids) add(holders.uuid, u, n);
    for (const s of id.serials) add(holders.serial, serialKey(s), n);
  }
  return (kind, value, mac) =>
    (holders[kind].get(kind === 'uuid' ? value : serialKey(value)) ?? []).filter(
      (n) => n.mac !== mac && !n.inventory?.document.nics.some((nic) => nic.mac === mac),
    ).length;
}

const usable = (value: string | null): IdentityFact => ({ value, flag: null, reason: null });

function uuidFact(uuid: string | null, others: number): IdentityFact {
  if (uuid === null) return usable(null);
  if (isPlaceholderUuid(uuid)) return { value: uuid, flag: 'placeholder', reason: 'a placeholder UUID that boards ship with: it selects nothing' };
  if (others > 0) return { value: uuid, flag: 'shared', reason: `${others + 1} machines report this UUID: it selects nothing` };
  return usable(uuid);
}

function serialFact(serial: string | null, others: number): IdentityFact {
  if (serial === null) return usable(null);
  if (isPlaceholderSerial(serial))
    return { value: serial, flag: 'placeholder', reason: 'a placeholder serial that vendors leave in the firmware: it selects nothing' };
  if (others > 0) return { value: serial, flag: 'shared', reason: `${others + 1} machines report this serial: it selects nothing` };
  return usable(serial);
}

function switchPortOf(node: NodeRecord): MachineLine['switchPort'] {
  const nics = node.inventory?.document.nics ?? [];
  const withNeighbour = nics.filter((n) => n.lldp !== null);
  const nic = withNeighbour.find((n) => n.link === 'up') ?? withNeighbour[0];
  return nic?.lldp ? { nic: nic.name, ...nic.lldp } : null;
}

/** One line per node, in the order given. Pure but for `power`, which reads what is known. */
export function machineLines(nodes: readonly NodeRecord[], power: (mac: string) => PowerView | null): MachineLine[] {
  const others = sharedWith(nodes);
  return nodes.map((node) => {
    const doc = node.inventory?.document ?? null;
    const identity = identityOf(node);
    const view = power(node.mac);
    return {
      mac: node.mac,
      inspected: doc !== null,
      reportedAt: iso(node.inventory?.reportedAt),
      vendor: doc?.system.vendor ?? null,
      product: doc?.system.product ?? null,
      serial: serialFact(identity.serial, identity.serial === null ? 0 : others('serial', identity.serial, node.mac)),
      uuid: uuidFact(identity.uuid, identity.uuid === null ? 0 : others('uuid', identity.uuid, node.mac)),
      cpu: doc ? { ...doc.cpus } : null,
      memoryBytes: doc?.memory.totalBytes ?? null,
      disks: (doc?.disks ?? []).map((d) => ({ name: d.name, sizeBytes: d.sizeBytes, model: d.model, transport: d.transport })),
      switchPort: switchPortOf(node),
      enrolment: node.enrolment ? { hostname: node.enrolment.hostname, profile: node.enrolment.profile, action: node.enrolment.action } : null,
      power: view ? { bmc: view.bmc, state: view.state, checkedAt: view.checkedAt, error: view.error } : null,
    };
  });
}

export function machinesRoutes(router: Router, deps: HttpDeps, admin: Middleware): void {
  // ?mac=X: that machine's line only (shared values are still counted over every machine).
  router.get('/machines', admin, (ctx) => {
    const mac = macQuery(ctx, false);
    const lines = machineLines(deps.store.listNodes(MAX_MACHINES, 0), (m) => deps.power?.view(m) ?? null);
    ctx.body = { machines: mac ? lines.filter((l) => l.mac === mac) : lines };
  });
}
