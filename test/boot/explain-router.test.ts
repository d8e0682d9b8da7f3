// `explain <mac>` with [dhcp] mode = off: the router's DHCP server is what sends machines here,
// so the hints say what it must send and what its answers led to, not "change [dhcp] mode".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dhcpFacts, explainMac } from '../../src/explain.ts';
import { Store } from '../../src/store/store.ts';
import { testProfile } from '../helpers/profile.ts';

const MAC = '52:54:00:12:34:56';
const facts = dhcpFacts(testProfile({ server: { address: '10.0.0.2' }, dhcp: { mode: 'off' } }));

function store(): { store: Store; tick: (ms?: number) => void; now: () => number } {
  let now = Date.UTC(2026, 10, 23, 18, 0, 0);
  const s = Store.open(':memory:', { now: () => now });
  return { store: s, tick: (ms = 1000) => (now += ms), now: () => now };
}

test('mode off, nothing heard: what the router must send, and that no machine was sent here yet', () => {
  const { store: s, now } = store();
  const text = explainMac(s, MAC, { dhcp: facts, now: now() });
  assert.doesNotMatch(text, /\[dhcp\] mode is proxy/);
  assert.match(text, /\[dhcp\] mode = off: pxe-pilot answers no DHCP, so the router's DHCP server sends machines here/);
  assert.match(text, /next-server 10\.0\.0\.2 and file undionly\.kpxe \(BIOS\) or snponly\.efi \(UEFI x64\)/);
  assert.match(text, /user-class "iPXE"\): file http:\/\/10\.0\.0\.2\/boot\.ipxe/);
  assert.match(text, /Seen: no machine has loaded undionly\.kpxe or snponly\.efi/);
  // In the other modes the old advice stays.
  assert.match(explainMac(s, MAC, { dhcp: { ...facts, mode: 'proxy' }, now: now() }), /\[dhcp\] mode is proxy \(beside a router\) or server, not off/);
});

test('mode off, a machine loading the firmware file again and again: the reload loop is named with its address', () => {
  const { store: s, tick, now } = store();
  for (let i = 0; i < 3; i++) {
    tick(5000);
    s.record({
      mac: null,
      protocol: 'tftp',
      kind: 'RRQ undionly.kpxe',
      decision: 'served',
      reason: 'undionly.kpxe 70 kB',
      detail: { client: '10.0.0.57', file: 'undionly.kpxe' },
    });
  }
  const text = explainMac(s, MAC, { dhcp: facts, now: now() });
  assert.match(
    text,
    /Seen: 10\.0\.0\.57 loaded undionly\.kpxe 3 times \(last 0 s ago\) and never asked for its script over HTTP: the router hands iPXE the firmware file again\. Make it answer user-class "iPXE" with http:\/\/10\.0\.0\.2\/boot\.ipxe/,
  );
});

test('mode off, a machine whose iPXE asked for its script: no router advice for it', () => {
  const { store: s, tick, now } = store();
  s.sawNode(MAC, { arch: 0, firmware: 'bios' }, false);
  tick();
  s.record({ mac: MAC, protocol: 'http', kind: 'GET /boot', decision: 'menu', reason: 'no [host] section: the menu', detail: { ip: '10.0.0.57' } });
  const text = explainMac(s, MAC, { dhcp: facts, now: now() });
  assert.match(text, /GET \/boot → menu/);
  assert.doesNotMatch(text, /router/);
});
