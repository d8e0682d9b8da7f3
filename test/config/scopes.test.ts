// [scope <name>] sections (issue 13, machines behind a DHCP relay): what a user writes, what
// check-config prints back, and every mistake named by file, section, key and value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ConfigError, describeProfile, parseProfile, type InterfaceAddress } from '../../src/config/load.ts';
import { SCOPE_KEYS } from '../../src/config/keys.ts';
import { ipv4Network } from '../../src/config/values.ts';

const ifaces: InterfaceAddress[] = [{ name: 'br0', address: '10.77.0.1', netmask: '255.255.255.0', internal: false }];
const opts = { interfaces: ifaces, interfaceExists: (n: string) => n === 'br0' };
const FILE = '/etc/pxe-pilot/relay.ini';

const SERVER =
  '[server]\naddress = 10.77.0.1\ninterface = br0\n[dhcp]\nmode = server\nrange_start = 10.77.0.100\nrange_end = 10.77.0.199\nnetmask = 255.255.255.0\ndns = 10.77.0.53\n';
const FAR = '[scope far-lan]\nsubnet = 10.78.0.0/24\nrange_start = 10.78.0.100\nrange_end = 10.78.0.199\nrouter = 10.78.0.1\n';

function problems(text: string): string[] {
  try {
    parseProfile(text, FILE, opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    for (const p of err.problems) assert.equal(p.file, FILE);
    return err.problems.map((p) => `${p.section}|${p.key}|${p.value}|${p.message}`);
  }
  return [];
}

function hasProblem(text: string, pattern: RegExp): void {
  const found = problems(text);
  assert.ok(
    found.some((p) => pattern.test(p)),
    `expected a problem matching ${pattern}; got:\n${found.join('\n') || '(none)'}`,
  );
}

test('a scope is read with its subnet, range, router; DNS and domain fall back to [dhcp] only when the pool is built', () => {
  const p = parseProfile(
    SERVER + FAR + '[scope lab2]\nsubnet = 10.79.0.0/16\nrange_start = 10.79.1.10\nrange_end = 10.79.1.20\ndns = 1.1.1.1, 9.9.9.9\n',
    FILE,
    opts,
  );
  assert.deepEqual([...p.scopes.keys()], ['far-lan', 'lab2']);
  assert.deepEqual(p.scopes.get('far-lan'), {
    name: 'far-lan',
    subnet: '10.78.0.0/24',
    rangeStart: '10.78.0.100',
    rangeEnd: '10.78.0.199',
    router: '10.78.0.1',
    dns: [],
    domain: '',
  });
  assert.deepEqual(p.scopes.get('lab2')?.dns, ['1.1.1.1', '9.9.9.9']);
});

test('check-config prints each scope, and its output reads back as the same profile', () => {
  const p = parseProfile(SERVER + FAR + '[host 52:54:00:00:78:01]\nip = 10.78.0.50\naction = local\n', FILE, opts);
  const printed = describeProfile(p);
  assert.match(
    printed,
    /\[scope far-lan\]\nsubnet = 10\.78\.0\.0\/24\nrange_start = 10\.78\.0\.100\nrange_end = 10\.78\.0\.199\nrouter = 10\.78\.0\.1\ndns = \ndomain = \n/,
  );
  assert.deepEqual(parseProfile(printed, FILE, opts), p);
});

test('a scope without subnet cannot be chosen by any relay (giaddr): an error, as are a missing range and an unknown key', () => {
  hasProblem(SERVER + '[scope x]\nrange_start = 10.78.0.10\nrange_end = 10.78.0.20\n', /^scope x\|subnet\|\|a scope needs subnet = .*giaddr/);
  hasProblem(SERVER + '[scope x]\nsubnet = 10.78.0.0/24\nrange_end = 10.78.0.20\n', /^scope x\|range_start\|\|a scope needs range_start/);
  hasProblem(SERVER + FAR.replace('router', 'gateway'), /^scope far-lan\|gateway\|10\.78\.0\.1\|unknown key; \[scope …\] takes subnet, range_start/);
});

test('a range or router outside the scope subnet, a reversed range, host bits and a too-narrow subnet are errors naming the key and value', () => {
  hasProblem(
    SERVER + FAR.replace('range_end = 10.78.0.199', 'range_end = 10.78.1.10'),
    /^scope far-lan\|range_end\|10\.78\.1\.10\|outside the scope's subnet 10\.78\.0\.0\/24/,
  );
  hasProblem(
    SERVER + FAR.replace('range_start = 10.78.0.100', 'range_start = 10.77.0.5'),
    /^scope far-lan\|range_start\|10\.77\.0\.5\|outside the scope's subnet/,
  );
  hasProblem(SERVER + FAR.replace('router = 10.78.0.1', 'router = 10.77.0.254'), /^scope far-lan\|router\|10\.77\.0\.254\|outside the scope's subnet/);
  hasProblem(
    SERVER + FAR.replace('range_start = 10.78.0.100', 'range_start = 10.78.0.250'),
    /^scope far-lan\|range_end\|10\.78\.0\.199\|comes before range_start 10\.78\.0\.250/,
  );
  hasProblem(
    SERVER + FAR.replace('10.78.0.0/24', '10.78.0.5/24'),
    /^scope far-lan\|subnet\|10\.78\.0\.5\/24\|host bits are set: the network is 10\.78\.0\.0\/24/,
  );
  hasProblem(
    SERVER + '[scope tiny]\nsubnet = 10.78.0.0/31\nrange_start = 10.78.0.0\nrange_end = 10.78.0.1\n',
    /^scope tiny\|subnet\|10\.78\.0\.0\/31\|holds no client address/,
  );
  hasProblem(
    SERVER + '[scope edge]\nsubnet = 10.78.0.0/30\nrange_start = 10.78.0.3\nrange_end = 10.78.0.3\n',
    /^scope edge\|range_end\|10\.78\.0\.3\|the range .* holds no usable address/,
  );
});

test('overlapping scopes, and a scope over the local LAN, are errors: a giaddr must select exactly one pool', () => {
  hasProblem(
    SERVER + FAR + '[scope wide]\nsubnet = 10.78.0.0/16\nrange_start = 10.78.5.1\nrange_end = 10.78.5.9\n',
    /^scope wide\|subnet\|10\.78\.0\.0\/16\|overlaps \[scope far-lan\] subnet 10\.78\.0\.0\/24/,
  );
  hasProblem(
    SERVER + '[scope here]\nsubnet = 10.77.0.0/24\nrange_start = 10.77.0.10\nrange_end = 10.77.0.20\n',
    /^scope here\|subnet\|10\.77\.0\.0\/24\|overlaps this LAN 10\.77\.0\.0\/24/,
  );
});

test('scope names: letters, digits, - and _; one section per name', () => {
  hasProblem(SERVER + '[scope bad name!]\nsubnet = 10.78.0.0/24\n', /^scope bad name!\|\|\|"bad name!" is not a scope name/);
  hasProblem(SERVER + '[scope far.lan]\nsubnet = 10.78.0.0/24\n', /is not a scope name/);
});

test('a [host] reservation may sit in a scope subnet; outside every served subnet it is an error', () => {
  const p = parseProfile(SERVER + FAR + '[host 52:54:00:00:78:01]\nip = 10.78.0.50\n', FILE, opts);
  assert.equal(p.hosts.get('52:54:00:00:78:01')?.ip, '10.78.0.50');
  hasProblem(
    SERVER + FAR + '[host 52:54:00:00:78:01]\nip = 10.80.0.50\n',
    /^host 52:54:00:00:78:01\|ip\|10\.80\.0\.50\|outside the subnets served: 10\.77\.0\.0\/24, 10\.78\.0\.0\/24/,
  );
});

test('the shipped profile documents every scope key, in table order, with its doc line', () => {
  const text = readFileSync('etc/pxe-pilot.ini', 'utf8');
  const example = text.slice(text.indexOf('; [scope '));
  const written: [string, string][] = [];
  for (const line of example.split('\n')) {
    const m = /^; ([a-z0-9_]+) = .*?\s; (.*)$/.exec(line);
    if (m) written.push([m[1]!, m[2]!]);
  }
  assert.deepEqual(
    written,
    Object.entries(SCOPE_KEYS).map(([name, spec]) => [name, spec.doc]),
  );
  // The example itself is a valid scope for the example server.
  const section = example
    .split('\n')
    .map((l) => l.replace(/^; ?/, '').replace(/\s+;.*$/, ''))
    .join('\n');
  const p = parseProfile(SERVER + section, FILE, opts);
  assert.equal(p.scopes.get('far-lan')?.subnet, '10.78.0.0/24');
});

// ipv4Network, the parser of `subnet`.
function parseNetwork(text: string): { value: string | undefined; problems: string[] } {
  const problems: string[] = [];
  const value = ipv4Network.parse(text, { baseDir: '/', report: (m) => void problems.push(m) });
  return { value, problems };
}

const octets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const toNumber = (o: number[]): number => ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
const toIp = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
const mask = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

test('property: a network written with its host bits clear is accepted as written and prints back the same', () => {
  fc.assert(
    fc.property(octets, fc.integer({ min: 0, max: 32 }), (o, prefix) => {
      const cidr = `${toIp((toNumber(o) & mask(prefix)) >>> 0)}/${prefix}`;
      const r = parseNetwork(cidr);
      assert.deepEqual(r, { value: cidr, problems: [] });
      assert.equal(ipv4Network.format(r.value), cidr);
    }),
  );
});

test('property: host bits set are refused with the network the user meant', () => {
  fc.assert(
    fc.property(octets, fc.integer({ min: 0, max: 31 }), (o, prefix) => {
      const n = toNumber(o);
      fc.pre((n & ~mask(prefix)) >>> 0 !== 0);
      const r = parseNetwork(`${toIp(n)}/${prefix}`);
      assert.equal(r.value, undefined);
      assert.deepEqual(r.problems, [`host bits are set: the network is ${toIp((n & mask(prefix)) >>> 0)}/${prefix}`]);
    }),
  );
});

test('property: any text either parses to a canonical network or gives one problem, never throws', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[0-9./]{1,20}$/)), (text) => {
      const r = parseNetwork(text.trim());
      if (text.trim() === '') return assert.deepEqual(r, { value: undefined, problems: [] });
      if (r.value !== undefined) {
        assert.equal(r.problems.length, 0);
        assert.deepEqual(parseNetwork(r.value), { value: r.value, problems: [] });
      } else assert.equal(r.problems.length, 1);
    }),
  );
});

test('property: two scopes are refused exactly when their subnets overlap', () => {
  const scope = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 16, max: 28 }));
  fc.assert(
    fc.property(scope, scope, ([a, pa], [b, pb]) => {
      // Both inside 10.80.0.0/12, never over the local 10.77.0.0/24.
      const netA = (toNumber([10, 80, a, 0]) & mask(pa)) >>> 0;
      const netB = (toNumber([10, 96, b, 0]) & mask(pb)) >>> 0;
      const shiftB = pb <= 16 ? (netA & mask(pb)) >>> 0 : netB; // sometimes around the very same place
      const section = (name: string, net: number, prefix: number): string =>
        `[scope ${name}]\nsubnet = ${toIp(net)}/${prefix}\nrange_start = ${toIp(net + 1)}\nrange_end = ${toIp(net + 2)}\n`;
      const found = problems(SERVER + section('a', netA, pa) + section('b', shiftB, pb));
      const spanA = [netA, netA + 2 ** (32 - pa) - 1];
      const spanB = [shiftB, shiftB + 2 ** (32 - pb) - 1];
      const overlaps = spanA[0]! <= spanB[1]! && spanB[0]! <= spanA[1]!;
      assert.equal(
        found.some((p) => /^scope b\|subnet\|.*overlaps \[scope a\]/.test(p)),
        overlaps,
        found.join('\n'),
      );
    }),
    { numRuns: 200 },
  );
});
