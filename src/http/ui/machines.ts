// The dashboard's machines read-out, GET /machines: per node, what the Machines list shows beside
// GET /nodes. The hardware in a line (from the stored inventory), the identity facts that cannot
// tell machines apart (placeholders, and values two machines share), and the last known power
// state. Served from memory: no BMC is asked (GET /nodes/<mac>/power asks one).
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { NodeRecord } from '../../boot/ports.ts';
import type { LldpNeighbour } from '../../agent/inventory.ts';
import { isPlaceholderSerial, isPlaceholderUuid, uuidNormalForm } from '../../agent/identity.ts';
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

/** The UUID and serial a machine reports: the inventory's when it has one, else what DHCP or iPXE said. */
function identityOf(node: NodeRecord): { uuid: string | null; serial: string | null } {
  const system = node.inventory?.document.system;
  return { uuid: system ? system.uuid : node.uuid, serial: system ? system.serial : node.serial };
}

const serialKey = (s: string): string => s.trim().toLowerCase();

/** Counts of each UUID (normal form) and serial over all machines: a value two share is no identity. */
function sharedCounts(nodes: readonly NodeRecord[]): { uuids: Map<string, number>; serials: Map<string, number> } {
  const uuids = new Map<string, number>();
  const serials = new Map<string, number>();
  for (const n of nodes) {
    const { uuid, serial } = identityOf(n);
    const u = uuid === null ? null : uuidNormalForm(uuid);
    if (u !== null) uuids.set(u, (uuids.get(u) ?? 0) + 1);
    if (serial !== null && serial.trim() !== '') serials.set(serialKey(serial), (serials.get(serialKey(serial)) ?? 0) + 1);
  }
  return { uuids, serials };
}

const usable = (value: string | null): IdentityFact => ({ value, flag: null, reason: null });

function uuidFact(uuid: string | null, counts: Map<string, number>): IdentityFact {
  if (uuid === null) return usable(null);
  if (isPlaceholderUuid(uuid)) return { value: uuid, flag: 'placeholder', reason: 'a placeholder UUID that boards ship with: it selects nothing' };
  const shared = counts.get(uuidNormalForm(uuid)!) ?? 1;
  if (shared > 1) return { value: uuid, flag: 'shared', reason: `${shared} machines report this UUID: it selects nothing` };
  return usable(uuid);
}

function serialFact(serial: string | null, counts: Map<string, number>): IdentityFact {
  if (serial === null) return usable(null);
  if (isPlaceholderSerial(serial))
    return { value: serial, flag: 'placeholder', reason: 'a placeholder serial that vendors leave in the firmware: it selects nothing' };
  const shared = counts.get(serialKey(serial)) ?? 1;
  if (shared > 1) return { value: serial, flag: 'shared', reason: `${shared} machines report this serial: it selects nothing` };
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
  const counts = sharedCounts(nodes);
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
      serial: serialFact(identity.serial, counts.serials),
      uuid: uuidFact(identity.uuid, counts.uuids),
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
