// explain says where a machine's settings come from: which rule matched, and why each earlier one did not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainMac } from '../../src/explain.ts';
import { parseProfile } from '../../src/config/load.ts';
import { OverlayNodes } from '../helpers/overlay-ports.ts';
import { testInventory } from '../helpers/inventory.ts';

const MAC = '52:54:00:e0:00:01';

test('explain names the matching rule and why each earlier rule did not match', () => {
  const profile = parseProfile(
    '[server]\naddress = 10.0.0.1\n[rule tiny]\ncpu_threads = < 4\naction = local\n[rule dell]\nvendor = Dell*\naction = menu\n[rule acme]\nvendor = Acme\naction = install\nprofile = debian/12\n',
    '/etc/pxe-pilot/lab.ini',
    { offline: true },
  );
  const nodes = new OverlayNodes();
  nodes.store.sawNode(MAC, {}, false);
  const source = { getNode: (mac: string) => nodes.getNode(mac), events: nodes.store.events.bind(nodes.store), record: nodes.store.record.bind(nodes.store) };
  const before = explainMac(source, MAC, { settings: profile });
  assert.match(before, /Settings: none: no \[host\] section, no enrolment, and no \[rule\] matches\./);
  assert.match(before, /Not inspected: no \[rule\] can match it until it is/);

  nodes.inventories.set(MAC, { document: testInventory(), reportedAt: Date.parse('2026-12-07T05:00:00Z'), session: 's' });
  const text = explainMac(source, MAC, { settings: profile });
  assert.match(text, /Settings: from \[rule acme\]: \[rule acme\] matches: vendor "Acme" matches Acme \(\/etc\/pxe-pilot\/lab\.ini\)\./);
  assert.match(text, /\n {2}not \[rule tiny\]: cpu_threads 16 is not < 4\n {2}not \[rule dell\]: vendor: "Acme" does not match Dell\*\n/);
  assert.match(text, /Inspected at 2026-12-07 05:00:00/);
  nodes.close();
});
