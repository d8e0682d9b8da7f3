// Property tests for the parsers `assets` relies on: .cd-info, .disk/info, version.info,
// the ISO volume descriptor, SHA256SUMS and image.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isoVolumeBytes, parseCdInfo, parseDiskInfo, parseNetbootVersion, proxmoxIdentity } from '../../src/assets/iso-info.ts';
import { formatImageManifest, formatSha256Sums, isManifestPath, parseImageManifest, parseSha256Sums, type ImageManifest } from '../../src/assets/manifest.ts';
import { proxmoxModeToml } from '../../src/assets/proxmox-mode.ts';

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const segment = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+ -]{0,20}$/).filter((s) => s !== '.' && s !== '..');
const relPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((p) => p.join('/'));
const value = fc.string({ maxLength: 40 }).filter((s) => !/['\r\n]/.test(s));

test('parseCdInfo reads back every KEY=value it is given, in any quoting, and never throws', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/), value), fc.constantFrom("'", '"'), (entries, q) => {
      const text = Object.entries(entries)
        .map(([k, v]) => `${k}=${q}${v}${q}`)
        .join('\n');
      const parsed = parseCdInfo(text);
      for (const [k, v] of Object.entries(entries)) assert.equal(parsed[k], v.trim() === v || q ? v : v.trim());
    }),
  );
  fc.assert(fc.property(fc.string(), (s) => void parseCdInfo(s)));
});

test('proxmoxIdentity: folder names and RELEASE-ISORELEASE', () => {
  assert.deepEqual(proxmoxIdentity(parseCdInfo("PRODUCT='pve'\nPRODUCTLONG='Proxmox VE'\nRELEASE='9.1'\nISORELEASE='1'\n")), {
    product: 'proxmox-ve',
    displayName: 'Proxmox VE',
    version: '9.1-1',
  });
  assert.equal((proxmoxIdentity({ PRODUCT: 'pbs', RELEASE: '4.0', ISORELEASE: '2' }) as { product: string }).product, 'proxmox-bs');
  assert.equal((proxmoxIdentity({ PRODUCT: 'pmg', RELEASE: '9.0' }) as { version: string }).version, '9.0');
  assert.match(proxmoxIdentity({ PRODUCT: 'pdm', RELEASE: '1.0' }) as string, /pve, pbs and pmg/);
  fc.assert(fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), (d) => void proxmoxIdentity(d)));
});

test('parseDiskInfo and parseNetbootVersion: real lines, and any text without throwing', () => {
  assert.deepEqual(parseDiskInfo('Ubuntu-Server 24.04.1 LTS "Noble Numbat" - Release amd64 (20240827.1)\n'), { distro: 'Ubuntu-Server', version: '24.04.1' });
  assert.deepEqual(parseDiskInfo('Debian GNU/Linux 12.8.0 "Bookworm" - Official amd64 NETINST with firmware 20241109-11:04'), {
    distro: 'Debian',
    version: '12.8.0',
  });
  assert.equal(parseDiskInfo('no version here'), null);
  assert.equal(parseNetbootVersion('Debian version:  12 (bookworm)\nInstaller build: 20230607+deb12u11\n'), '12');
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z][A-Za-z-]{0,12}$/), fc.stringMatching(/^[0-9]{1,2}\.[0-9]{1,2}(\.[0-9])?$/), (distro, version) => {
      assert.deepEqual(parseDiskInfo(`${distro} ${version} LTS "X" - Release amd64`), { distro, version });
    }),
  );
  fc.assert(fc.property(fc.string(), (s) => void (parseDiskInfo(s), parseNetbootVersion(s))));
});

test('isoVolumeBytes: blocks × block size from a both-endian descriptor; damaged bytes are a reason, not a throw', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(512, 1024, 2048), (blocks, size) => {
      const pvd = new Uint8Array(2048);
      pvd[0] = 1;
      pvd.set(Buffer.from('CD001'), 1);
      const v = new DataView(pvd.buffer);
      v.setUint32(80, blocks, true);
      v.setUint32(84, blocks, false);
      v.setUint16(128, size, true);
      v.setUint16(130, size, false);
      assert.equal(isoVolumeBytes(pvd), blocks * size);
      v.setUint32(84, (blocks + 1) >>> 0, false);
      assert.equal(typeof isoVolumeBytes(pvd), 'string');
    }),
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => void isoVolumeBytes(bytes)));
});

test('SHA256SUMS: what formatSha256Sums writes parses back; binary-mode lines and junk are handled', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ path: relPath, sha256: hex64 }, { noNullPrototype: true }), { maxLength: 8 }), (files) => {
      const { entries, bad } = parseSha256Sums(formatSha256Sums(files));
      assert.equal(bad, 0);
      assert.deepEqual(entries, files);
    }),
  );
  assert.deepEqual(parseSha256Sums(`${'A'.repeat(64)} *x.iso\nnot a line\n`), { entries: [{ sha256: 'a'.repeat(64), path: 'x.iso' }], bad: 1 });
  fc.assert(fc.property(fc.string(), (s) => void parseSha256Sums(s)));
});

const manifest: fc.Arbitrary<ImageManifest> = fc.record(
  {
    schema: fc.constant(1 as const),
    profile: fc.string({ maxLength: 20 }),
    product: fc.string({ maxLength: 20 }),
    displayName: fc.string({ maxLength: 20 }),
    version: fc.string({ maxLength: 20 }),
    kind: fc.constantFrom('proxmox' as const, 'ubuntu-live' as const, 'netboot' as const, 'generic' as const),
    source: fc.record({ name: fc.string({ maxLength: 20 }), sha256: hex64, size: fc.nat() }, { noNullPrototype: true }),
    answerUrl: fc.option(fc.webUrl(), { nil: null }),
    builtAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    builtBy: fc.string({ maxLength: 20 }),
    files: fc.array(
      fc.record({ path: relPath, size: fc.nat(), mtimeMs: fc.double({ min: 0, max: 4e12, noNaN: true }), sha256: hex64 }, { noNullPrototype: true }),
      { maxLength: 5 },
    ),
  },
  { noNullPrototype: true },
);

test('image.json: round-trips; anything else is a reason, never a throw', () => {
  fc.assert(fc.property(manifest, (m) => assert.deepEqual(parseImageManifest(formatImageManifest(m)), m)));
  fc.assert(fc.property(fc.string(), (s) => void parseImageManifest(s)));
  fc.assert(fc.property(fc.jsonValue(), (j) => assert.equal(typeof parseImageManifest(JSON.stringify(j)), 'string')));
  fc.assert(
    fc.property(manifest, fc.constantFrom('../x', '/etc/passwd', 'a/../../b', ''), (m, bad) => {
      const text = formatImageManifest({ ...m, files: [{ path: bad, size: 1, mtimeMs: 1, sha256: 'a'.repeat(64) }] });
      assert.equal(typeof parseImageManifest(text), 'string');
      assert.equal(isManifestPath(bad), false);
    }),
  );
});

test('auto-installer-mode.toml: values are quoted TOML strings, unset keys left out', () => {
  assert.equal(proxmoxModeToml({ url: 'http://10.0.0.1:8080/answer' }), 'mode = "http"\n\n[http]\nurl = "http://10.0.0.1:8080/answer"\n');
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !/[\x00-\x1f\x7f]/.test(s)),
      (token) => {
        const toml = proxmoxModeToml({ url: 'http://a/answer', token });
        const line = toml.split('\n').find((l) => l.startsWith('token = '))!;
        assert.equal(JSON.parse(line.slice('token = '.length)), token);
      },
    ),
  );
});
