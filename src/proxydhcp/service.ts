// ProxyDHCP: boot instructions for PXE clients beside the router's DHCP server, on port 67
// (shared with other listeners) and on the proxy port 4011, on [server] interface only.
// A thin transport: receive → check interface → decode → ask the responder → send → record.
import type { Profile } from '../config/profile.ts';
import type { DhcpPacket } from '../dhcp/codec.ts';
import { DhcpSocket } from '../dhcp/socket.ts';
import type { Logger } from '../log.ts';
import type { ReceivedDatagram } from '../net/udp-device.ts';
import type { Binding, Service } from '../service.ts';
import type { EventSink } from '../boot/events.ts';
import type { NodeLookup, NodeWrites } from '../boot/ports.ts';
import { handleProxyRequest, type Listener, type ProxyHandled } from './responder.ts';
import { RouterOfferWatch } from './router-watch.ts';

export interface ProxyDhcpDeps {
  profile: Profile;
  logger: Logger;
  /** Node lookup for the policy, sightings, and the event log. */
  store: ProxyDhcpState;
}

export type ProxyDhcpState = NodeLookup & Pick<NodeWrites, 'sawNode'> & EventSink;

interface OpenListener {
  listener: Listener;
  socket: DhcpSocket;
}

export class ProxyDhcpService implements Service {
  readonly name = 'proxydhcp';
  private profile: Profile;
  private readonly logger: Logger;
  private readonly store: ProxyDhcpState;
  private listeners: OpenListener[] = [];
  private readonly routerWatch = new RouterOfferWatch();
  private routerTimer: NodeJS.Timeout | null = null;

  constructor(deps: ProxyDhcpDeps) {
    this.profile = deps.profile;
    this.logger = deps.logger; // the daemon's child logger already says service: proxydhcp
    this.store = deps.store;
  }

  async start(): Promise<void> {
    const profile = this.profile;
    if (profile.dhcp.mode !== 'proxy') {
      this.logger.info(`[dhcp] mode = ${profile.dhcp.mode}: ProxyDHCP stays off`);
      return;
    }
    const iface = profile.server.interface;
    // Answering on every interface would tell machines on other LANs to boot from us.
    if (!iface)
      throw new Error(
        'proxydhcp: [dhcp] mode = proxy needs [server] interface, the LAN whose PXE clients to answer; pxe-pilot will not answer on every interface',
      );
    try {
      // Port 67 is shared: the router's DHCP server or a local dnsmasq may listen there too.
      await this.listen('dhcp', profile.dhcp.port, iface, true, '[dhcp] port');
      // 4011 carries unicasts meant for us alone; sharing it would let another program steal them.
      await this.listen('proxy', profile.dhcp.proxyPort, iface, false, '[dhcp] proxy_port');
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.routerTimer = setInterval(() => this.warnNoRouterOffer(), 2000);
    this.routerTimer.unref();
    this.logger.info(`ProxyDHCP on ${iface} ports ${profile.dhcp.port} and ${profile.dhcp.proxyPort}, boot server ${profile.server.address}`);
  }

  private async listen(listener: Listener, port: number, iface: string, reuseAddr: boolean, portKey: string): Promise<void> {
    let open: OpenListener | null = null;
    const socket = await DhcpSocket.open(
      { service: 'proxydhcp', port, interface: iface, reuseAddr, portKey },
      {
        request: (packet, d) => open && this.receive(open, packet, d),
        dropped: (drop) => this.store.record({ mac: null, protocol: 'proxydhcp', decision: 'silence', ...drop, kind: `${drop.kind} on ${port}` }),
        failed: (err, d) => this.logger.error({ err, from: d.address, port }, 'proxydhcp: packet handler failed'),
      },
    );
    open = { listener, socket };
    this.listeners.push(open);
  }

  private receive(open: OpenListener, request: DhcpPacket, d: ReceivedDatagram): void {
    const { socket, listener } = open;
    const profile = this.profile;
    if (profile.dhcp.mode !== 'proxy') return;
    this.routerWatch.saw(request, listener, Date.now());
    const handled = handleProxyRequest(
      request,
      { address: d.address, port: d.port },
      {
        profile,
        // The address clients reach us at on this link; the profile's wins when it names one.
        serverAddress: profile.server.address || d.localAddress,
        listener,
        port: socket.port,
        relayPort: profile.dhcp.port,
      },
      this.store,
    );
    this.deliver(socket, handled);
  }

  private deliver(socket: DhcpSocket, h: ProxyHandled): void {
    if (h.sighting) this.store.sawNode(h.sighting.mac, h.sighting.facts, h.sighting.armed);
    if (h.reply) {
      socket.send(h.reply, (reason) =>
        this.store.record({ ...h.event, protocol: 'proxydhcp', decision: 'error', reason: `${reason}; was: ${h.event.reason}` }),
      );
    }
    this.logger.debug({ mac: h.event.mac, kind: h.event.kind, decision: h.event.decision }, h.event.reason);
    this.store.record({ ...h.event, protocol: 'proxydhcp' });
  }

  /** PXE clients that got no address from the router: an event on the machine (explain shows it). */
  private warnNoRouterOffer(): void {
    for (const w of this.routerWatch.due(Date.now())) {
      this.logger.warn({ mac: w.mac }, w.reason);
      this.store.record({
        mac: w.mac,
        protocol: 'proxydhcp',
        kind: 'no-router-offer',
        decision: 'warning',
        reason: w.reason,
        detail: { discovers: w.discovers, seconds: w.seconds },
      });
    }
  }

  async stop(): Promise<void> {
    if (this.routerTimer) clearInterval(this.routerTimer);
    this.routerTimer = null;
    const open = this.listeners;
    this.listeners = [];
    await Promise.all(open.map((l) => l.socket.close()));
  }

  /** Same sockets, new boot files and hosts: the daemon restarts us when ports or interface change. */
  reload(profile: Profile): void {
    this.profile = profile;
  }

  bindings(): Binding[] {
    return this.listeners.map((l) => ({ protocol: 'udp', address: '0.0.0.0', port: l.socket.port, interface: this.profile.server.interface }));
  }
}
