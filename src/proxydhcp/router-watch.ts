// Beside a router, pxe-pilot gives boot instructions only; the address must come from the
// router's DHCP server. A PXE client that keeps sending DISCOVERs and never REQUESTs an address
// got no offer from anyone: it will not boot, and the proxy is the one place that can see it.
// Pure: packets and times in, warnings out.
import { clientMac, type DhcpPacket } from '../dhcp/codec.ts';
import { MessageType } from '../dhcp/options.ts';
import type { Listener } from './responder.ts';

export interface NoOfferWarning {
  mac: string;
  discovers: number;
  seconds: number;
  reason: string;
}

interface Waiting {
  first: number;
  discovers: number;
  warned: boolean;
}

/** A client is reported after this long and this many DISCOVERs without a REQUEST. */
export const NO_OFFER_AFTER_MS = 10_000;
export const NO_OFFER_MIN_DISCOVERS = 3;
/** Bounded like the node table: a flood of invented MACs cannot grow memory. */
const MAX_TRACKED = 4096;
/** A client quiet this long has given up or booted elsewhere: forget it. */
const FORGET_AFTER_MS = 120_000;

function isPxeClient(p: DhcpPacket): boolean {
  const vc = p.options.read('vendorClass') ?? '';
  return vc.startsWith('PXEClient') || vc.startsWith('HTTPClient');
}

export class RouterOfferWatch {
  private readonly waiting = new Map<string, Waiting & { last: number }>();

  /** Feeds every decoded request the proxy receives. */
  saw(p: DhcpPacket, listener: Listener, now: number): void {
    const mac = clientMac(p);
    if (!mac || p.op !== 1) return;
    const type = p.options.read('messageType');
    // A REQUEST (to anyone) or anything on 4011 means the client has, or is taking, an address.
    if (type === MessageType.REQUEST || listener === 'proxy' || p.ciaddr !== '0.0.0.0') {
      this.waiting.delete(mac);
      return;
    }
    if (type !== MessageType.DISCOVER || !isPxeClient(p) || p.giaddr !== '0.0.0.0') return;
    const entry = this.waiting.get(mac);
    if (entry) {
      entry.discovers += 1;
      entry.last = now;
      return;
    }
    if (this.waiting.size >= MAX_TRACKED) {
      const oldest = this.waiting.keys().next().value;
      if (oldest !== undefined) this.waiting.delete(oldest);
    }
    this.waiting.set(mac, { first: now, last: now, discovers: 1, warned: false });
  }

  /** Clients to warn about now (each once per episode); forgets quiet ones. */
  due(now: number): NoOfferWarning[] {
    const out: NoOfferWarning[] = [];
    for (const [mac, w] of this.waiting) {
      if (now - w.last > FORGET_AFTER_MS) {
        this.waiting.delete(mac);
        continue;
      }
      if (w.warned || now - w.first < NO_OFFER_AFTER_MS || w.discovers < NO_OFFER_MIN_DISCOVERS) continue;
      w.warned = true;
      const seconds = Math.round((now - w.first) / 1000);
      out.push({
        mac,
        discovers: w.discovers,
        seconds,
        reason: `no router DHCP offer seen: this PXE client sent ${w.discovers} DISCOVERs in ${seconds} s and never a REQUEST, so no DHCP server gave it an address; ProxyDHCP gives boot instructions only, so it will not boot. Check the router's DHCP server: is it on, does its pool have addresses, does it (or a relay) reach this VLAN?`,
      });
    }
    return out;
  }

  get size(): number {
    return this.waiting.size;
  }
}
