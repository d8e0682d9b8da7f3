// The node table and install history in SQLite. Writes what src/boot/lifecycle.ts decides;
// last-seen facts go through the write-behind batch.
import { firstSight, type NodeLifecycle, type StateChange } from '../boot/lifecycle.ts';
import type { InstallRecord, NodeDirectory, NodeRecord, NodeWrites, SightingFacts } from '../boot/ports.ts';
import type { WriteBehind } from './batch.ts';
import type { Db } from './database.ts';

interface NodeRow {
  mac: string;
  hostname: string | null;
  state: NodeLifecycle;
  profile: string | null;
  local_boot: string | null;
  armed_at: number | null;
  armed_by: 'profile' | 'admin' | null;
  consumed_at: number | null;
  installed_at: number | null;
  first_seen: number;
  last_seen: number;
  last_ip: string | null;
  arch: number | null;
  firmware: string | null;
  uuid: string | null;
  serial: string | null;
  fqdn: string | null;
  boot_mode: string | null;
  install_report: string | null;
}

interface InstallRow {
  id: number;
  mac: string;
  profile: string | null;
  armed_at: number | null;
  armed_by: string | null;
  consumed_at: number | null;
  installed_at: number | null;
  fqdn: string | null;
}

function toNode(row: NodeRow): NodeRecord {
  return {
    mac: row.mac,
    hostname: row.hostname,
    state: row.state,
    profile: row.profile,
    localBoot: row.local_boot,
    armedAt: row.armed_at,
    armedBy: row.armed_by,
    consumedAt: row.consumed_at,
    installedAt: row.installed_at,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    lastIp: row.last_ip,
    arch: row.arch,
    firmware: row.firmware,
    uuid: row.uuid,
    serial: row.serial,
    fqdn: row.fqdn,
    bootMode: row.boot_mode,
    installReport: row.install_report ? (JSON.parse(row.install_report) as unknown) : null,
  };
}

/** A sighting as written: every fact present, null where not learnt. */
interface Touch {
  mac: string;
  now: number;
  ip: string | null;
  arch: number | null;
  firmware: string | null;
  uuid: string | null;
  serial: string | null;
  hostname: string | null;
}

function toTouch(mac: string, now: number, facts: SightingFacts): Touch {
  return { mac, now, ip: facts.ip ?? null, arch: facts.arch ?? null, firmware: facts.firmware ?? null, uuid: facts.uuid ?? null, serial: facts.serial ?? null, hostname: facts.hostname ?? null };
}

function mergeTouch(a: Touch, b: Touch): Touch {
  return { mac: a.mac, now: b.now, ip: b.ip ?? a.ip, arch: b.arch ?? a.arch, firmware: b.firmware ?? a.firmware, uuid: b.uuid ?? a.uuid, serial: b.serial ?? a.serial, hostname: b.hostname ?? a.hostname };
}

function overlayTouch(row: NodeRow, t: Touch): NodeRow {
  return {
    ...row,
    last_seen: t.now,
    last_ip: t.ip ?? row.last_ip,
    arch: t.arch ?? row.arch,
    firmware: t.firmware ?? row.firmware,
    uuid: t.uuid ?? row.uuid,
    serial: t.serial ?? row.serial,
    hostname: t.hostname ?? row.hostname,
  };
}

export class SqliteNodes implements NodeDirectory, NodeWrites {
  private readonly pendingTouches = new Map<string, Touch>();
  private unknownCount: number | null = null;
  private readonly stmts;

  constructor(
    private readonly db: Db,
    private readonly batch: WriteBehind,
    private readonly now: () => number,
    /** Never-installed nodes kept; the least recently seen are evicted past this. */
    private readonly maxUnknownNodes: number,
  ) {
    this.stmts = {
      get: db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE mac = ?'),
      insert: db.prepare<[Touch]>(
        `INSERT INTO nodes (mac, hostname, state, first_seen, last_seen, last_ip, arch, firmware, uuid, serial)
         VALUES (@mac, @hostname, 'seen', @now, @now, @ip, @arch, @firmware, @uuid, @serial)`,
      ),
      touch: db.prepare<[Touch]>(
        `UPDATE nodes SET last_seen = @now, last_ip = COALESCE(@ip, last_ip), arch = COALESCE(@arch, arch),
           firmware = COALESCE(@firmware, firmware), uuid = COALESCE(@uuid, uuid), serial = COALESCE(@serial, serial),
           hostname = COALESCE(@hostname, hostname)
         WHERE mac = @mac`,
      ),
      countUnknown: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM nodes WHERE state = 'seen' AND installed_at IS NULL"),
      evictUnknown: db.prepare<[number]>(`DELETE FROM nodes WHERE mac IN (SELECT mac FROM nodes WHERE state = 'seen' AND installed_at IS NULL ORDER BY last_seen LIMIT ?)`),
      list: db.prepare<[number, number], NodeRow>('SELECT * FROM nodes ORDER BY last_seen DESC LIMIT ? OFFSET ?'),
      count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM nodes'),
      listInState: db.prepare<[string, number, number], NodeRow>('SELECT * FROM nodes WHERE state = ? ORDER BY last_seen DESC LIMIT ? OFFSET ?'),
      countInState: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM nodes WHERE state = ?'),
      byUuid: db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE lower(uuid) = lower(?) ORDER BY last_seen DESC LIMIT 1'),
      bySerial: db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE lower(serial) = lower(?) ORDER BY last_seen DESC LIMIT 1'),
      installCounts: db.prepare<[], { consumed: number; completed: number }>('SELECT COUNT(consumed_at) AS consumed, COUNT(installed_at) AS completed FROM installs'),
      history: db.prepare<[string], InstallRow>('SELECT * FROM installs WHERE mac = ? ORDER BY id'),
      setLocalBoot: db.prepare<[string | null, string]>('UPDATE nodes SET local_boot = ? WHERE mac = ?'),
      arm: db.prepare<[string | null, number, string, string]>("UPDATE nodes SET state = 'install-pending', profile = ?, armed_at = ?, armed_by = ?, consumed_at = NULL WHERE mac = ?"),
      armHistory: db.prepare<[string, string | null, number, string]>('INSERT INTO installs (mac, profile, armed_at, armed_by) VALUES (?, ?, ?, ?)'),
      consume: db.prepare<[number, string | null, string]>(
        "UPDATE nodes SET state = 'installing', consumed_at = ?, profile = COALESCE(profile, ?) WHERE mac = ? AND state = 'install-pending'",
      ),
      consumeHistory: db.prepare<[number, string | null, string]>(
        'UPDATE installs SET consumed_at = ?, profile = COALESCE(profile, ?) WHERE id = (SELECT MAX(id) FROM installs WHERE mac = ?) AND consumed_at IS NULL',
      ),
      complete: db.prepare<[number, string | null, string | null, string, string]>(
        "UPDATE nodes SET state = 'installed', installed_at = ?, fqdn = ?, boot_mode = ?, install_report = ? WHERE mac = ?",
      ),
      openInstall: db.prepare<[string], { id: number }>('SELECT id FROM installs WHERE mac = ? AND installed_at IS NULL ORDER BY id DESC LIMIT 1'),
      completeHistory: db.prepare<[number, string | null, number]>('UPDATE installs SET installed_at = ?, fqdn = ? WHERE id = ?'),
      completeUnarmed: db.prepare<[string, number, string | null]>('INSERT INTO installs (mac, installed_at, fqdn) VALUES (?, ?, ?)'),
      disarm: db.prepare<[string, string]>("UPDATE nodes SET state = ?, armed_at = NULL, armed_by = NULL, profile = NULL WHERE mac = ? AND state = 'install-pending'"),
    };
    batch.add({ pending: () => this.pendingTouches.size > 0, write: () => this.writeTouches() });
  }

  private writeTouches(): void {
    const touches = [...this.pendingTouches.values()];
    this.pendingTouches.clear();
    for (const t of touches) this.stmts.touch.run(t);
  }

  getNode(mac: string): NodeRecord | undefined {
    const row = this.stmts.get.get(mac);
    if (!row) return undefined;
    const touch = this.pendingTouches.get(mac);
    return toNode(touch ? overlayTouch(row, touch) : row);
  }

  sawNode(mac: string, facts: SightingFacts, armedByProfile: boolean): NodeRecord {
    const touch = toTouch(mac, this.now(), facts);
    const existing = this.stmts.get.get(mac);
    if (existing) {
      // Last-seen facts are batched with the events: a boot request must not wait for an fsync.
      const queued = this.pendingTouches.get(mac);
      const merged = queued ? mergeTouch(queued, touch) : touch;
      this.pendingTouches.set(mac, merged);
      this.batch.schedule();
      return toNode(overlayTouch(existing, merged));
    }
    const first = firstSight(armedByProfile);
    this.db.transaction(() => {
      this.stmts.insert.run(touch);
      if (first.change) this.write(mac, first.change, touch.now);
      else this.capStrangers();
    })();
    return this.getNode(mac)!;
  }

  /**
   * Strangers must not grow the table without bound; the count is kept in memory (an
   * over-estimate at worst, corrected by a real count before anything is evicted).
   */
  private capStrangers(): void {
    this.unknownCount = (this.unknownCount ?? this.stmts.countUnknown.get()!.n - 1) + 1;
    if (this.unknownCount > this.maxUnknownNodes) {
      const { n } = this.stmts.countUnknown.get()!;
      if (n > this.maxUnknownNodes) this.stmts.evictUnknown.run(n - this.maxUnknownNodes);
      this.unknownCount = Math.min(n, this.maxUnknownNodes);
    }
  }

  ensureNode(mac: string): NodeRecord {
    if (!this.stmts.get.get(mac)) this.stmts.insert.run(toTouch(mac, this.now(), {}));
    return this.getNode(mac)!;
  }

  applyChange(mac: string, change: StateChange): NodeRecord | undefined {
    const now = this.now();
    this.db.transaction(() => {
      // A disarm or consume of a node never recorded changes nothing; arm and complete create it.
      if (change.kind === 'arm' || change.kind === 'complete') this.ensureNode(mac);
      this.write(mac, change, now);
    })();
    return this.getNode(mac);
  }

  /** The SQL of one change; the install-pending guards keep a stale read from undoing a newer state. */
  private write(mac: string, change: StateChange, now: number): void {
    switch (change.kind) {
      case 'arm':
        this.stmts.arm.run(change.profile, now, change.by, mac);
        this.stmts.armHistory.run(mac, change.profile, now, change.by);
        return;
      case 'consume':
        this.stmts.consume.run(now, change.profile, mac);
        this.stmts.consumeHistory.run(now, change.profile, mac);
        return;
      case 'complete': {
        this.stmts.complete.run(now, change.fqdn, change.bootMode, JSON.stringify(change.report ?? null), mac);
        const open = this.stmts.openInstall.get(mac);
        if (open) this.stmts.completeHistory.run(now, change.fqdn, open.id);
        else this.stmts.completeUnarmed.run(mac, now, change.fqdn);
        return;
      }
      case 'disarm':
        this.stmts.disarm.run(change.to, mac);
        return;
    }
  }

  setLocalBoot(mac: string, script: string | null): NodeRecord | undefined {
    this.stmts.setLocalBoot.run(script, mac);
    return this.getNode(mac);
  }

  listNodes(limit = 1000, offset = 0): NodeRecord[] {
    this.batch.flush();
    return this.stmts.list.all(limit, offset).map(toNode);
  }

  countNodes(): number {
    return this.stmts.count.get()!.n;
  }

  findNodeByHardware(serial: string | null, uuid: string | null): NodeRecord | undefined {
    this.batch.flush();
    const row = (uuid ? this.stmts.byUuid.get(uuid) : undefined) ?? (serial ? this.stmts.bySerial.get(serial) : undefined);
    return row ? toNode(row) : undefined;
  }

  listNodesInState(state: NodeLifecycle, limit = 1000, offset = 0): NodeRecord[] {
    this.batch.flush();
    return this.stmts.listInState.all(state, limit, offset).map(toNode);
  }

  countNodesInState(state: NodeLifecycle): number {
    return this.stmts.countInState.get(state)!.n;
  }

  installHistory(mac: string): InstallRecord[] {
    return this.stmts.history
      .all(mac)
      .map((r) => ({ id: r.id, mac: r.mac, profile: r.profile, armedAt: r.armed_at, armedBy: r.armed_by, consumedAt: r.consumed_at, installedAt: r.installed_at, fqdn: r.fqdn }));
  }

  installCounts(): { consumed: number; completed: number } {
    return this.stmts.installCounts.get() ?? { consumed: 0, completed: 0 };
  }
}
