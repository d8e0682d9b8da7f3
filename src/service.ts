// The one shape every protocol service has, so the daemon can hold a list and nothing else.
import type { Profile } from './config/profile.ts';

export interface Binding {
  protocol: 'udp' | 'tcp';
  address: string;
  port: number;
  /** Interface the socket is tied to (SO_BINDTODEVICE), when it is. */
  interface?: string;
}

export interface Service {
  readonly name: string;
  /** Binds its sockets; rejects with a BindError that says what to do when it cannot. */
  start(): Promise<void>;
  /** Graceful: finishes or aborts in-flight work within a bound, then closes its sockets. */
  stop(): Promise<void>;
  /** Takes a new, already validated profile without dropping work in flight. */
  reload(profile: Profile): void;
  bindings(): Binding[];
}

/** A failure to bind, with the advice a user needs (run as root, grant a capability, or change the port). */
export class BindError extends Error {
  constructor(
    readonly service: string,
    readonly protocol: 'udp' | 'tcp',
    readonly address: string,
    readonly port: number,
    readonly code: string,
    readonly configKey: string,
  ) {
    super(BindError.explain(service, protocol, address, port, code, configKey));
    this.name = 'BindError';
  }

  static explain(service: string, protocol: string, address: string, port: number, code: string, configKey: string): string {
    const where = `${service}: cannot bind ${protocol} ${address}:${port} (${code})`;
    if (code === 'EACCES' || code === 'EPERM') {
      return `${where}: ports below 1024 need root or CAP_NET_BIND_SERVICE; run as root, use the systemd unit (it grants the capability), or set ${configKey} to a port above 1023`;
    }
    if (code === 'EADDRINUSE') {
      return `${where}: another program already listens there (find it with 'ss -lunp' / 'ss -ltnp'); stop it or set ${configKey} to another port`;
    }
    if (code === 'EADDRNOTAVAIL') {
      return `${where}: this host has no such address; fix the address in the profile`;
    }
    if (code === 'ENODEV') {
      return `${where}: no such network interface; fix [server] interface`;
    }
    return where;
  }
}
