// What every HTTP route needs, handed in by the daemon.
import type { Profile } from '../config/profile.ts';
import type { Logger } from '../log.ts';
import type { AgentSessions, ImageCatalogue, LeaseLog, NodeStore, StoreHealth } from '../boot/ports.ts';
import type { Binding } from '../service.ts';
import type { DaemonTelemetry } from '../metrics/telemetry.ts';
import type { PowerControl } from '../power/control.ts';
import type { Reinstalls } from '../power/reinstall.ts';

export interface ServiceStatus {
  name: string;
  enabled: boolean;
  bindings: Binding[];
}

export interface HttpDeps {
  /** The current profile; it changes on SIGHUP, so read it per request. */
  profile: () => Profile;
  /** Nodes, their lifecycle writes and the event log. */
  store: NodeStore;
  /** DHCP leases, read by GET /leases. */
  leases: LeaseLog;
  logger: Logger;
  /** What each service is bound to, for /health. */
  services: () => ServiceStatus[];
  /** The install images under [assets] dir. */
  catalogue: ImageCatalogue;
  startedAt: number;
  version: string;
  /** Whether the store can write (a PostgreSQL store may be degraded); absent: always ok. */
  storeHealth?: () => StoreHealth;
  /** Metrics, the live event hub and transfer table; absent in unit tests (a private one is made). */
  telemetry?: DaemonTelemetry;
  /** BMC power control (src/power); absent: the power routes answer 404. */
  power?: PowerControl;
  /** reinstall --now (src/power/reinstall.ts); absent: those routes answer 404. */
  reinstalls?: Reinstalls;
  /** Per-boot agent sessions: minted when the agent's boot is served, checked by POST /inventory; absent: the agent routes answer 403. */
  agentSessions?: AgentSessions;
}
