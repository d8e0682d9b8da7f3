// The shipped etc/pxe-pilot.ini, the key table, the defaults and check-config must tell the
// user the same thing: every key documented with its doc line and default, and no other keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultProfile } from '../../src/config/defaults.ts';
import { HOST_KEYS, MENU_KEYS, PROFILE_KEYS, RULE_KEYS, sectionKeys, type SectionName } from '../../src/config/keys.ts';
import { describeProfile, parseProfile } from '../../src/config/load.ts';
import { IMAGE_KEYS } from '../../src/config/images.ts';

const SHIPPED = 'etc/pxe-pilot.ini';
const text = readFileSync(SHIPPED, 'utf8');
const opts = { interfaces: [{ name: 'eth0', address: '192.0.2.10', netmask: '255.255.255.0', internal: false }], interfaceExists: () => true };

interface ShippedKey {
  section: string;
  name: string;
  value: string;
  /** The comment lines directly above the key, without their "; ". */
  comments: string[];
}

/** The keys written in the INI text, each with the comment block right above it. */
function shippedKeys(ini: string): ShippedKey[] {
  const out: ShippedKey[] = [];
  let section = '';
  let comments: string[] = [];
  for (const line of ini.split('\n').map((l) => l.trim())) {
    const header = /^\[(.+)\]$/.exec(line);
    const assignment = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (header) section = header[1]!;
    else if (line.startsWith(';')) {
      comments.push(line.replace(/^;\s?/, ''));
      continue;
    } else if (assignment) out.push({ section, name: assignment[1]!, value: assignment[2]!, comments });
    comments = [];
  }
  return out;
}

const tableKeys = (Object.keys(PROFILE_KEYS) as SectionName[]).flatMap((section) => sectionKeys(section).map(([name, spec]) => ({ section, name, spec })));

test('the shipped profile writes every key of the table, and no other', () => {
  const written = shippedKeys(text).map((k) => `[${k.section}] ${k.name}`);
  assert.deepEqual(
    written,
    tableKeys.map((k) => `[${k.section}] ${k.name}`),
  );
});

test('each key of the shipped profile shows its default, with its doc line in the comment above it', () => {
  const written = new Map(shippedKeys(text).map((k) => [`${k.section}.${k.name}`, k]));
  for (const { section, name, spec } of tableKeys) {
    const key = written.get(`${section}.${name}`);
    assert.ok(key, `[${section}] ${name} is missing from ${SHIPPED}`);
    assert.equal(key.value, spec.type.format(spec.default), `[${section}] ${name}: ${SHIPPED} shows another default than src/config/keys.ts`);
    assert.ok(key.comments.includes(spec.doc), `[${section}] ${name}: the comment above it in ${SHIPPED} should include "; ${spec.doc}"`);
  }
});

/** The `; key = value ; doc` lines of the commented example starting at `header`, up to the blank line ending it. */
function exampleDocs(header: string): Map<string, string> {
  const start = text.indexOf(header);
  assert.ok(start >= 0, `${SHIPPED} has no commented ${header}`);
  const block = text.slice(start).split('\n\n')[0]!;
  const example = new Map<string, string>();
  for (const line of block.split('\n')) {
    const m = /^; ([a-z0-9_]+) = .*?\s; (.*)$/.exec(line);
    if (m) example.set(m[1]!, m[2]!);
  }
  return example;
}

test('the commented [host] example documents every host key with its doc line', () => {
  const example = exampleDocs('; [host 52:');
  for (const [name, spec] of Object.entries(HOST_KEYS)) assert.equal(example.get(name), spec.doc, `[host …] ${name} in ${SHIPPED}`);
});

test('the commented [image] example documents every image key with its doc line', () => {
  const example = exampleDocs('; [image ');
  for (const [name, doc] of Object.entries(IMAGE_KEYS)) assert.equal(example.get(name), doc, `[image …] ${name} in ${SHIPPED}`);
});

test('the commented [rule] and [menu] examples document every key with its doc line, and parse', () => {
  const rule = exampleDocs('; [rule ');
  for (const [name, spec] of Object.entries(RULE_KEYS)) assert.equal(rule.get(name), spec.doc, `[rule …] ${name} in ${SHIPPED}`);
  const menu = exampleDocs('; [menu ');
  for (const [name, spec] of Object.entries(MENU_KEYS)) assert.equal(menu.get(name), spec.doc, `[menu …] ${name} in ${SHIPPED}`);
  // The examples, uncommented (their trailing docs dropped), are a valid profile.
  const start = text.indexOf('; A machine can also be named');
  const examples = text
    .slice(start, text.indexOf('; One section per subnet'))
    .split('\n')
    .filter((l) => /^; (\[|[a-z_]+ =)/.test(l))
    .map((l) =>
      l
        .slice(2)
        .replace(/\s+;\s.*$/, '')
        .replace(/^serial =\s*$/, ''),
    )
    .join('\n');
  const parsed = parseProfile(examples, SHIPPED, opts);
  assert.equal(parsed.rules.length, 1);
  assert.equal(parsed.menus.get('gpu')?.entries.length, 2);
  assert.equal(parsed.identityHosts.size, 2);
});

test('parsing the shipped profile gives the default profile (apart from the address found on the host)', () => {
  const shipped = parseProfile(text, SHIPPED, opts);
  const defaults = defaultProfile(SHIPPED);
  assert.deepEqual({ ...shipped, server: { ...shipped.server, address: '', addressSource: 'interface' } }, defaults);
});

test('check-config prints every key of the table, and its output reads back as the same profile', () => {
  const profile = parseProfile(
    '[server]\naddress = 10.0.0.1\ninterface = eth0\n[dhcp]\nmode = server\nrange_start = 10.0.0.100\nrange_end = 10.0.0.200\nnetmask = 255.255.255.0\ndns = 10.0.0.1, 10.0.0.2\n[answers]\nallow = 10.0.0.0/24\n[host 52:54:00:00:00:01]\nhostname = pve1\naction = install\nprofile = proxmox-ve/9.1-1\nx_disk = /dev/sda\n',
    '/etc/pxe-pilot/lab.ini',
    opts,
  );
  const printed = describeProfile(profile);
  const printedKeys = shippedKeys(printed).filter((k) => !k.section.startsWith('host '));
  assert.deepEqual(
    printedKeys.map((k) => `[${k.section}] ${k.name}`),
    tableKeys.map((k) => `[${k.section}] ${k.name}`),
  );
  assert.deepEqual(parseProfile(printed, '/etc/pxe-pilot/lab.ini', opts), profile);
});
