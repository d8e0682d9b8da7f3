// Starts the services the profile enables, reloads them on SIGHUP, stops them on SIGTERM.
import { readFileSync } from 'node:fs';
import type { Profile } from './config/profile.ts';
import { ConfigError, loadProfile, profileWarnings } from './config/load.ts';
import type { Logger } from './log.ts';
import type { Service } from './service.ts';
import type { ServiceStatus } from './http/context.ts';
import { openStore, type AppStore } from './store/open.ts';
import { HttpService } from './http/service.ts';
import { AssetCatalogue } from './assets/catalogue-scan.ts';
import { CombinedCatalogue, RemoteImageCache } from './assets/remote-cache.ts';
import { TftpService } from './tftp/server.ts';
import { DhcpServerService } from './dhcp/server.ts';
import { ProxyDhcpService } from './proxydhcp/service.ts';
import { loadCertificate, namesAddress, type TlsMaterial } from './http/tls.ts';
import { DaemonTelemetry } from './metrics/telemetry.ts';
import { scrapeSources } from './metrics/sources.ts';
import { PowerControl } from './power/control.ts';
import { matchRule } from './boot/rules.ts';
import { Reinstalls } from './power/reinstall.ts';
import { registerPowerMetrics } from './power/metrics.ts';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

type ServiceName = 'http' | 'tftp' | 'dhcp' | 'proxydhcp';

/** The part of the profile that needs a service's sockets reopened when it changes. */
function bindingKey(name: ServiceName, p: Profile): string | null {
  switch (name) {
    case 'http':
      return `${p.http.bind}:${p.http.port}:${p.https.enabled ? p.https.port : '-'}:${p.http.alsoListen.join(',')}`;
    case 'tftp':
      return p.tftp.enabled ? `${p.tftp.bind}:${p.tftp.port}` : null;
    case 'dhcp':
      return p.dhcp.mode === 'server' ? `${p.server.interface}:${p.dhcp.port}` : null;
    case 'proxydhcp':
      return p.dhcp.mode === 'proxy' ? `${p.server.interface}:${p.dhcp.port}:${p.dhcp.proxyPort}` : null;
  }
}

const ORDER: ServiceName[] = ['http', 'tftp', 'dhcp', 'proxydhcp'];

export class Daemon {
  private readonly running = new Map<ServiceName, { service: Service; key: string }>();
  /** Pinned files of [image] sections, fetched into <state_dir> in the background. */
  readonly remoteImages: RemoteImageCache;
  private readonly catalogue: CombinedCatalogue;
  private readonly startedAt = Date.now();
  private tls: TlsMaterial | null = null;
  readonly telemetry = new DaemonTelemetry();
  readonly power: PowerControl;
  readonly reinstalls: Reinstalls;

  private constructor(
    private profile: Profile,
    readonly store: AppStore,
    private readonly logger: Logger,
  ) {
    this.power = new PowerControl({ profile: () => this.profile, store, logger: logger.child({ service: 'power' }) });
    this.remoteImages = new RemoteImageCache({ logger: logger.child({ service: 'images' }) });
    this.catalogue = new CombinedCatalogue(new AssetCatalogue(), () => this.remoteImages.images(this.profile.server.stateDir, this.profile.images.values()));
    registerPowerMetrics(this.telemetry.registry, this.power);
    this.reinstalls = new Reinstalls({
      profile: () => this.profile,
      store,
      power: this.power,
      logger: logger.child({ service: 'reinstall' }),
      // `reinstall --all --rule NAME`: the machines whose inventory [rule NAME] matches, as the boot decision reads it.
      rules: (name) => {
        const rule = this.profile.rules.find((r) => r.name === name);
        return rule ? (node) => matchRule(rule, node.inventory?.document ?? null).matched : null;
      },
    });
  }

  static async start(profile: Profile, logger: Logger): Promise<Daemon> {
    for (const warning of profileWarnings(profile)) logger.warn(warning);
    const store = await openStore(profile, logger);
    const daemon = new Daemon(profile, store, logger);
    store.observe(daemon.telemetry);
    daemon.telemetry.setSources(scrapeSources(store, store.leases, () => daemon.profile));
    try {
      daemon.tls = daemon.loadTls(profile);
      for (const name of ORDER) await daemon.ensure(name);
      daemon.power.schedule();
      // After the caller has switched to [server] user, so the cache belongs to the account that serves it.
      setImmediate(() => daemon.remoteImages.sync(daemon.profile.server.stateDir, daemon.profile.images.values()));
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    store.record({ mac: null, protocol: 'daemon', kind: 'start', decision: 'started', reason: daemon.summary() });
    logger.info({ services: daemon.status() }, daemon.summary());
    return daemon;
  }

  private create(name: ServiceName): Service {
    const deps = { profile: this.profile, logger: this.logger.child({ service: name }), store: this.store };
    switch (name) {
      case 'http':
        return new HttpService({
          ...deps,
          leases: this.store.leases,
          catalogue: this.catalogue,
          services: () => this.status(),
          startedAt: this.startedAt,
          version: VERSION,
          tls: () => this.tls,
          storeHealth: () => this.store.health?.() ?? { backend: 'sqlite', state: 'ok' },
          telemetry: this.telemetry,
          power: this.power,
          reinstalls: this.reinstalls,
          agentSessions: this.store.agentSessions,
        });
      case 'tftp':
        return new TftpService({
          ...deps,
          events: this.store,
          nodes: this.store,
          catalogue: this.catalogue,
          telemetry: this.telemetry,
          agentSessions: this.store.agentSessions,
        });
      case 'dhcp':
        return new DhcpServerService({ ...deps, leases: this.store.leases });
      case 'proxydhcp':
        return new ProxyDhcpService(deps);
    }
  }

  /**
   * The certificate for [https], loaded (or made, the first time) before anything binds; its
   * fingerprint goes into the profile for DHCP option 251. Throws TlsError naming the file.
   */
  private loadTls(profile: Profile): TlsMaterial | null {
    if (!profile.https.enabled) return null;
    const material = loadCertificate(profile);
    profile.https.fingerprint = material.fingerprint;
    if (material.source === 'generated') {
      this.logger.warn(
        { cert: material.certFile, fingerprint: material.fingerprint },
        `generated a self-signed certificate ${material.certFile}; installers pin it by fingerprint ${material.fingerprint} (pxe-pilot cert prints it)`,
      );
      this.store.record({
        mac: null,
        protocol: 'daemon',
        kind: 'certificate',
        decision: 'generated',
        reason: `self-signed certificate ${material.certFile}, SHA-256 ${material.fingerprint}`,
      });
    } else if (material.source === 'state' && !namesAddress(material, profile.server.address)) {
      this.logger.warn(
        `${material.certFile} does not name ${profile.server.address} (${material.subjectAltName}); it is kept, since installers pin its fingerprint, not its names`,
      );
    }
    return material;
  }

  /** Starts, stops, restarts or reloads one service so it matches the current profile. */
  private async ensure(name: ServiceName): Promise<void> {
    const key = bindingKey(name, this.profile);
    const current = this.running.get(name);
    if (current && current.key === key) {
      current.service.reload(this.profile);
      return;
    }
    if (current) {
      this.logger.info({ service: name }, `${name}: its sockets change with the new profile; restarting it`);
      await current.service.stop();
      this.running.delete(name);
    }
    if (key === null) return;
    const service = this.create(name);
    await service.start();
    this.running.set(name, { service, key });
  }

  status(): ServiceStatus[] {
    return ORDER.map((name) => {
      const r = this.running.get(name);
      return { name, enabled: r !== undefined, bindings: r ? r.service.bindings() : [] };
    });
  }

  summary(): string {
    const on = this.status()
      .filter((s) => s.enabled)
      .map((s) => `${s.name} on ${s.bindings.map((b) => `${b.protocol} ${b.address}:${b.port}${b.interface ? ` (${b.interface})` : ''}`).join(', ')}`);
    return `pxe-pilot ${VERSION} serving as ${this.profile.server.address}: ${on.join('; ')}`;
  }

  /** SIGHUP: an invalid new profile keeps the old one running and says why. */
  async reload(file: string, overrides: readonly string[] = []): Promise<boolean> {
    let next: Profile;
    try {
      next = loadProfile(file, { overrides });
    } catch (err) {
      if (err instanceof ConfigError) {
        this.logger.error({ problems: err.problems }, `reload refused, the running profile stays: ${err.message}`);
        this.store.record({ mac: null, protocol: 'daemon', kind: 'reload', decision: 'refused', reason: err.message });
        return false;
      }
      throw err;
    }
    let tls: TlsMaterial | null;
    try {
      tls = this.loadTls(next);
    } catch (err) {
      this.logger.error(`reload refused, the running profile stays: ${(err as Error).message}`);
      this.store.record({ mac: null, protocol: 'daemon', kind: 'reload', decision: 'refused', reason: (err as Error).message });
      return false;
    }
    const previous = this.profile;
    const previousTls = this.tls;
    this.profile = next;
    this.tls = tls;
    this.catalogue.invalidate();
    try {
      for (const name of ORDER) await this.ensure(name);
    } catch (err) {
      this.logger.error({ err }, `reload: ${(err as Error).message}; going back to the previous profile`);
      this.profile = previous;
      this.tls = previousTls;
      for (const name of ORDER) await this.ensure(name).catch(() => undefined);
      return false;
    }
    this.power.schedule();
    this.remoteImages.sync(next.server.stateDir, next.images.values());
    for (const warning of profileWarnings(next)) this.logger.warn(warning);
    this.store.record({ mac: null, protocol: 'daemon', kind: 'reload', decision: 'reloaded', reason: this.summary() });
    this.logger.info(`reloaded ${file}: ${this.summary()}`);
    return true;
  }

  async stop(): Promise<void> {
    this.power.stop();
    for (const name of [...ORDER].reverse()) {
      const r = this.running.get(name);
      if (!r) continue;
      await r.service.stop().catch((err: unknown) => this.logger.error({ err }, `${name}: stop failed`));
      this.running.delete(name);
    }
    await this.store.close();
  }
}
