// `explain <mac>`: the timeline a person reads, built from the same event log the services write.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { explainMac } from '../../src/explain.ts';
import { Store } from '../../src/store/store.ts';

const MAC = '52:54:00:12:34:56';
const OTHER = '52:54:00:99:99:99';

function store(): { store: Store; tick: (ms?: number) => void } {
  let now = Date.UTC(2026, 10, 23, 18, 0, 0);
  const s = Store.open(':memory:', { now: () => now });
  return { store: s, tick: (ms = 1000) => (now += ms) };
}

function lines(text: string): string[] {
  return text.split('\n');
}

function indexOf(text: string, needle: string): number {
  const i = lines(text).findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `expected a line with ${JSON.stringify(needle)} in:\n${text}`);
  return i;
}

describe('explain', () => {
  test('one boot, in order: ProxyDHCP offer, 4011 ACK, TFTP matched by address, HTTP decision', async () => {
    const { store: s, tick } = store();
    s.sawNode(MAC, { arch: 7, firmware: 'uefi' }, false);
    await s.applyChange(MAC, { kind: 'arm', profile: 'proxmox-ve/9.1-1', by: 'admin' });
    tick();
    s.record({
      mac: MAC,
      protocol: 'proxydhcp',
      kind: 'DISCOVER on 67',
      decision: 'offer',
      reason: 'offered ipxe.efi (PXEClient): arch 7 (UEFI x64) → ipxe.efi; broadcast',
      detail: { arch: 7, bootFile: 'ipxe.efi', from: '0.0.0.0' },
    });
    tick();
    s.record({
      mac: MAC,
      protocol: 'proxydhcp',
      kind: 'REQUEST on 4011',
      decision: 'ack',
      reason: 'acknowledged ipxe.efi',
      detail: { ip: '10.0.0.57', from: '10.0.0.57', bootFile: 'ipxe.efi' },
    });
    tick();
    s.record({
      mac: null,
      protocol: 'tftp',
      kind: 'RRQ ipxe.efi',
      decision: 'served',
      reason: 'ipxe.efi 1.0 MB in 0.4 s',
      detail: { client: '10.0.0.57', file: 'ipxe.efi' },
    });
    // Another machine's transfer must not show up.
    s.record({ mac: null, protocol: 'tftp', kind: 'RRQ undionly.kpxe', decision: 'served', reason: 'undionly.kpxe 70 kB', detail: { client: '10.0.0.99' } });
    s.record({ mac: OTHER, protocol: 'proxydhcp', kind: 'DISCOVER on 67', decision: 'offer', reason: 'someone else', detail: {} });
    tick();
    s.record({
      mac: MAC,
      protocol: 'http',
      kind: 'GET /boot',
      decision: 'install',
      reason: 'reinstall flag set by admin, profile proxmox-ve/9.1-1',
      detail: { ip: '10.0.0.57' },
    });

    const text = explainMac(s, MAC);
    const offer = indexOf(text, 'ProxyDHCP DISCOVER on 67 → offer: offered ipxe.efi');
    const ack = indexOf(text, 'ProxyDHCP REQUEST on 4011 → ack');
    const tftp = indexOf(text, 'TFTP RRQ ipxe.efi from 10.0.0.57 → served: ipxe.efi 1.0 MB in 0.4 s');
    const http = indexOf(text, 'HTTP GET /boot → install: reinstall flag set by admin');
    assert.ok(offer < ack && ack < tftp && tftp < http);
    assert.ok(!text.includes('undionly.kpxe'));
    assert.ok(!text.includes('someone else'));
    assert.match(text, /State: install pending \(proxmox-ve\/9\.1-1\), armed by admin/);
    assert.match(text, /TFTP matched by address 10\.0\.0\.57/);
    s.close();
  });

  test('a plain lease after a finished boot (the installed OS asking for an address) raises no TFTP question', () => {
    const { store: s, tick } = store();
    s.record({
      mac: MAC,
      protocol: 'dhcp',
      kind: 'DHCPACK',
      decision: 'ack',
      reason: 'boot undionly.kpxe',
      detail: { ip: '10.0.0.57', bootFile: 'undionly.kpxe' },
    });
    tick();
    s.record({ mac: null, protocol: 'tftp', kind: 'RRQ undionly.kpxe', decision: 'served', reason: 'undionly.kpxe 70 kB', detail: { client: '10.0.0.57' } });
    tick();
    s.record({ mac: MAC, protocol: 'http', kind: 'GET /boot', decision: 'local', reason: 'installed', detail: { ip: '10.0.0.57' } });
    tick();
    s.record({
      mac: MAC,
      protocol: 'dhcp',
      kind: 'DHCPACK',
      decision: 'ack',
      reason: 'no boot fields: not a PXE client',
      detail: { ip: '10.0.0.57', bootFile: null },
    });
    const text = explainMac(s, MAC);
    indexOf(text, 'DHCP DHCPACK → ack: no boot fields');
    assert.doesNotMatch(text, /no TFTP request/);
    s.close();
  });

  test('an offer with nothing after it says what to check next', () => {
    const { store: s } = store();
    s.record({
      mac: MAC,
      protocol: 'proxydhcp',
      kind: 'DISCOVER on 67',
      decision: 'offer',
      reason: 'offered undionly.kpxe',
      detail: { bootFile: 'undionly.kpxe' },
    });
    const text = explainMac(s, MAC);
    assert.match(text, /told to load undionly\.kpxe but no TFTP request from its address followed/);
    s.close();
  });

  test('a silence is explained with its reason', () => {
    const { store: s } = store();
    s.record({
      mac: MAC,
      protocol: 'proxydhcp',
      kind: 'DISCOVER on 67',
      decision: 'silence',
      reason: "vendor class 'udhcp 1.35.0': not a PXE client",
      detail: {},
    });
    const text = explainMac(s, MAC);
    assert.match(text, /ProxyDHCP DISCOVER on 67 → silence: vendor class 'udhcp 1\.35\.0': not a PXE client/);
    assert.match(text, /The last ProxyDHCP request got no answer/);
    s.close();
  });

  test('nothing heard at all: points at the interface, the mode and the ports', () => {
    const { store: s } = store();
    const text = explainMac(s, MAC);
    assert.match(text, /Nothing was heard from 52:54:00:12:34:56/);
    assert.match(text, /No DHCP or ProxyDHCP packet from any machine was recorded at all/);
    assert.match(text, /\[server\] interface/);
    assert.match(text, /ss -lunp/);
    s.close();
  });

  test('nothing heard from this MAC while others are heard: points at the machine, not the server', () => {
    const { store: s } = store();
    s.record({ mac: OTHER, protocol: 'proxydhcp', kind: 'DISCOVER on 67', decision: 'offer', reason: 'offered ipxe.efi', detail: {} });
    s.record({
      mac: null,
      protocol: 'daemon',
      kind: 'start',
      decision: 'started',
      reason: 'pxe-pilot 0.1.0 serving as 10.0.0.2: proxydhcp on udp 0.0.0.0:67 (eth0)',
    });
    const text = explainMac(s, MAC);
    assert.match(text, /Other machines are heard \(last: 52:54:00:99:99:99/);
    assert.match(text, /network boot .* is enabled/);
    assert.match(text, /Last start .*proxydhcp on udp 0\.0\.0\.0:67/);
    assert.ok(!text.includes('No DHCP or ProxyDHCP packet'));
    s.close();
  });

  test('packets ignored for arriving on another interface are counted by their reason code, not their wording', () => {
    const { store: s } = store();
    s.record({ mac: OTHER, protocol: 'proxydhcp', kind: 'DISCOVER on 67', decision: 'offer', reason: 'offered ipxe.efi', detail: {} });
    s.record({
      mac: null,
      protocol: 'proxydhcp',
      kind: 'datagram on 67',
      decision: 'silence',
      reason: 'came in elsewhere',
      code: 'wrong-interface',
      detail: { from: '192.168.9.7' },
    });
    s.record({ mac: null, protocol: 'dhcp', kind: 'datagram', decision: 'silence', reason: 'arrived on ifindex 3, not br0', detail: { from: '192.168.9.8' } });
    const text = explainMac(s, MAC);
    assert.match(text, /1 recent packet\(s\) arrived on another interface than \[server\] interface/);
    s.close();
  });

  test('times are printed in UTC, like the log and the admin API', () => {
    const { store: s } = store();
    s.record({ mac: MAC, protocol: 'http', kind: 'GET /boot', decision: 'menu', reason: 'menu', detail: { ip: '10.0.0.57' } });
    // A zone far from UTC, so local time would show as another hour (and here another day).
    const zone = process.env.TZ;
    process.env.TZ = 'Pacific/Kiritimati';
    let text: string;
    try {
      text = explainMac(s, MAC);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
    // The store's clock stands at 2026-11-23 18:00:00 UTC, whatever the machine's time zone.
    assert.match(text, /^-- 2026-11-23$/m);
    assert.match(text, /^18:00:00 HTTP GET \/boot → menu: menu$/m);
    s.close();
  });

  test("admin events show, but the admin's own address does not pull in TFTP transfers", () => {
    const { store: s } = store();
    s.record({ mac: MAC, protocol: 'admin', kind: 'POST /nodes/<mac>/reinstall', decision: 'armed', reason: 'reinstall armed', detail: { ip: '192.168.1.5' } });
    s.record({ mac: null, protocol: 'tftp', kind: 'RRQ undionly.kpxe', decision: 'served', reason: 'from the admin box', detail: { client: '192.168.1.5' } });
    const text = explainMac(s, MAC);
    assert.match(text, /Admin POST \/nodes\/<mac>\/reinstall → armed/);
    assert.ok(!text.includes('from the admin box'));
    s.close();
  });

  test('the limit keeps the newest events', () => {
    const { store: s, tick } = store();
    for (let i = 0; i < 30; i++) {
      s.record({ mac: MAC, protocol: 'proxydhcp', kind: 'DISCOVER on 67', decision: 'offer', reason: `retry ${i}`, detail: {} });
      tick();
    }
    const text = explainMac(s, MAC, { limit: 5 });
    assert.equal(lines(text).filter((l) => l.includes('→ offer')).length, 5);
    assert.ok(text.includes('retry 29') && text.includes('retry 25') && !text.includes('retry 24'));
    s.close();
  });
});
