// [image NAME] sections (issue 27, remote images), [boot] default_install, [answers]
// plain_http_from and [http] also_listen: what a user writes, what check-config prints back, and
// every mistake named by file, section, key and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError, describeProfile, parseProfile, type InterfaceAddress } from '../../src/config/load.ts';
import { imageSectionLines, remoteImageChecks } from '../../src/config/images.ts';
import { remoteFileName } from '../../src/boot/catalogue.ts';
import { defaultInstallProblem, menuDefaultWarning } from '../../src/config/checks.ts';

const ifaces: InterfaceAddress[] = [{ name: 'br0', address: '10.77.0.1', netmask: '255.255.255.0', internal: false }];
const opts = { interfaces: ifaces, interfaceExists: (n: string) => n === 'br0' };
const FILE = '/etc/pxe-pilot/remote.ini';
const SHA_K = 'a'.repeat(64);
const SHA_I1 = 'b'.repeat(64);
const SHA_I2 = 'C'.repeat(64);

const SERVER = '[server]\naddress = 10.77.0.1\ninterface = br0\n';
const UBUNTU = [
  '[image ubuntu/24.04-remote]',
  'kernel = http://images.lab/noble/vmlinuz',
  `kernel_sha256 = ${SHA_K}`,
  'initrd = http://images.lab/noble/initrd',
  'initrd = http://images.lab/noble/firmware.cpio ; a second initrd, same key again',
  `initrd_sha256 = ${SHA_I1}`,
  `initrd_sha256 = ${SHA_I2}`,
  // Quoted: ini ends a value at ; (a comment) otherwise.
  'cmdline = "ip=dhcp autoinstall ds=nocloud-net;s=${answer_server}/nocloud/${mac}/ hostname=${hostname} ${net0/ip}"',
  '',
].join('\n');

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

test('an [image] section is read with a dotted name, repeated initrd lines in order, their pins and the cmdline', () => {
  const p = parseProfile(SERVER + UBUNTU, FILE, opts);
  const image = p.images.get('ubuntu/24.04-remote');
  assert.ok(image, `images read: ${[...p.images.keys()].join(', ')}`);
  assert.deepEqual(image.kernel, { url: 'http://images.lab/noble/vmlinuz', sha256: SHA_K });
  assert.deepEqual(image.initrds, [
    { url: 'http://images.lab/noble/initrd', sha256: SHA_I1 },
    { url: 'http://images.lab/noble/firmware.cpio', sha256: SHA_I2.toLowerCase() },
  ]);
  assert.match(image.cmdline, /\$\{answer_server\}\/nocloud\/\$\{mac\}\/ hostname=\$\{hostname\} \$\{net0\/ip\}$/);
  assert.equal(image.consumedAt, 'script');
});

test('check-config prints the images, and its output reads back as the same profile', () => {
  const p = parseProfile(SERVER + UBUNTU + '[image standin/remote]\nkernel = https://h/k\ninitrd = https://h/i\nconsumed_at = answer\n', FILE, opts);
  const printed = describeProfile(p);
  assert.match(printed, /\[image ubuntu\/24\.04-remote\]\nkernel = http:\/\/images\.lab\/noble\/vmlinuz\n/);
  assert.deepEqual(parseProfile(printed, FILE, opts).images, p.images);
});

test('an unknown placeholder in an [image] cmdline or URL is refused with the section, key, line and column', () => {
  const text =
    SERVER +
    '[image deb/12-remote]\nkernel = http://h/linux\ninitrd = http://h/${hostnmae}/initrd.gz\ncmdline = auto=true url=${answer_url} name=${hostnmae}\n';
  const found = problems(text);
  assert.ok(
    found.some((p) => /^image deb\/12-remote\|cmdline\|.*\|line 7, column 34: unknown placeholder \$\{hostnmae\}: did you mean \$\{hostname\}\?/.test(p)),
    found.join('\n'),
  );
  assert.ok(
    found.some((p) => /^image deb\/12-remote\|initrd\|http:\/\/h\/\$\{hostnmae\}\/initrd\.gz\|line 6, column 10: unknown placeholder/.test(p)),
    found.join('\n'),
  );
  // The message as check-config prints it names the file too.
  assert.throws(
    () => parseProfile(text, FILE, opts),
    (err: Error) => err.message.includes(`${FILE}: [image deb/12-remote] cmdline = `),
  );
});

test('an [image] section with mistakes: each named, nothing half-read', () => {
  hasProblem(SERVER + '[image remote]\nkernel = http://h/k\n', /^image remote\|\|\|line 4: "remote" is not an image name: write <product>\/<version>/);
  hasProblem(SERVER + '[image a/b]\ninitrd = http://h/i\n', /^image a\/b\|kernel\|\|line 4: an \[image\] needs kernel = <URL>/);
  hasProblem(SERVER + '[image a/b]\nkernel = ftp://h/k\n', /^image a\/b\|kernel\|ftp:\/\/h\/k\|line 5: expected an http:\/\/ or https:\/\/ URL/);
  hasProblem(SERVER + '[image a/b]\nkernel = http://h/k\nkernel_sha256 = 12ab\n', /kernel_sha256\|12ab\|line 6: expected a SHA-256: 64 hex digits/);
  hasProblem(
    SERVER + `[image a/b]\nkernel = http://h/\${mac}/k\nkernel_sha256 = ${SHA_K}\n`,
    /kernel\|.*\|line 5: a pinned URL names one file, so it cannot hold \$\{…\} placeholders/,
  );
  hasProblem(
    SERVER + `[image a/b]\nkernel = http://h/k\ninitrd = http://h/1\ninitrd = http://h/2\ninitrd_sha256 = ${SHA_I1}\n`,
    /initrd_sha256\|.*\|line 8: 1 initrd_sha256 line for 2 initrd lines: write one per initrd, in the same order/,
  );
  hasProblem(
    SERVER + '[image a/b]\nkernel = http://h/k\ninitrd_url = http://h/i\n',
    /^image a\/b\|initrd_url\|.*\|line 6: unknown key; \[image …\] takes kernel, kernel_sha256, initrd/,
  );
  hasProblem(SERVER + '[image a/b]\nkernel = http://h/k\ncmdline = a\ncmdline = b\n', /cmdline\|b\|line 7: written twice \(also line 6\)/);
  hasProblem(SERVER + '[image a/b]\nkernel = http://h/k\n[image a/b]\nkernel = http://h/k\n', /^image a\/b\|\|\|line 6: a second section for image a\/b/);
  hasProblem(SERVER + '[image a/b]\nkernel = http://h/k\nconsumed_at = report\n', /consumed_at\|report\|line 6: expected script or answer/);
});

test('[boot] default_install, [answers] plain_http_from and [http] also_listen are read and checked', () => {
  const p = parseProfile(
    SERVER + '[boot]\ndefault_install = ubuntu/24.04\n[answers]\nplain_http_from = 10.20.0.0/24, proxmox\n[http]\nalso_listen = :8080, 127.0.0.1:8081\n',
    FILE,
    opts,
  );
  assert.equal(p.boot.defaultInstall, 'ubuntu/24.04');
  assert.deepEqual(p.answers.plainHttpFrom, ['10.20.0.0/24', 'proxmox']);
  assert.deepEqual(p.http.alsoListen, [':8080', '127.0.0.1:8081']);
  hasProblem(SERVER + '[boot]\ndefault_install = ubuntu\n', /^boot\|default_install\|ubuntu\|expected <product>\/<version>/);
  hasProblem(
    SERVER + '[answers]\nplain_http_from = 10.20.0.0/24, wisherops\n',
    /^answers\|plain_http_from\|wisherops\|expected a CIDR block .* or an installer: proxmox, nocloud, preseed/,
  );
  hasProblem(SERVER + '[http]\nalso_listen = 8080\n', /^http\|also_listen\|8080\|expected \[address\]:port such as :8080/);
  hasProblem(SERVER + '[http]\nport = 8080\nalso_listen = :8080\n', /^http\|also_listen\|:8080\|0\.0\.0\.0:8080 is already \[http\] port's/);
  hasProblem(SERVER + '[http]\nalso_listen = :443\n', /^http\|also_listen\|:443\|0\.0\.0\.0:443 is already \[https\] port's/);
});

test('check-config: an image folder of the same name, and GRUB machines that cannot be served an unpinned file', () => {
  const p = parseProfile(
    SERVER +
      '[boot]\nloader = grub\n[image a/b]\nkernel = http://h/k\n[host 52:54:00:00:00:01]\naction = install\nprofile = a/b\n[image c/d]\nkernel = http://h/k2\n',
    FILE,
    opts,
  );
  const checked = remoteImageChecks(p, ['c/d']);
  assert.ok(
    checked.errors.some((e) =>
      /\[image a\/b\]: http:\/\/h\/k is not pinned, so GRUB .* cannot be served it: add kernel_sha256 .* \(used by \[host 52:54:00:00:00:01\] with loader = grub\)/.test(
        e,
      ),
    ),
    checked.errors.join('\n'),
  );
  assert.ok(
    checked.errors.some((e) => /\[image c\/d\]: .*\/c\/d is an image folder of the same name/.test(e)),
    checked.errors.join('\n'),
  );
  assert.ok(
    checked.warnings.some((w) => /\[image c\/d\]: machines with loader = grub cannot install it/.test(w)),
    checked.warnings.join('\n'),
  );
});

test('property: the section reader never throws, and every key line it returns was in the text', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string(), fc.constantFrom('[image a/b]', '[image x.y/z.w]', 'initrd = "q;x"', 'kernel=', '[host 1]')), { maxLength: 20 }),
      (lines) => {
        const text = lines.join('\n');
        for (const section of imageSectionLines(text)) for (const k of section.keys) assert.ok(k.line >= 1 && k.line <= text.split(/\r?\n/).length);
      },
    ),
  );
});

test('property: a written image reads back as written (names, URLs, pins, cmdline)', () => {
  const seg = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,8}$/);
  const url = fc.tuple(fc.constantFrom('http', 'https'), seg, fc.array(seg, { minLength: 1, maxLength: 3 })).map(([s, h, p]) => `${s}://${h}/${p.join('/')}`);
  const sha = fc.stringMatching(/^[0-9a-f]{64}$/);
  fc.assert(
    fc.property(
      seg,
      seg,
      url,
      fc.option(sha, { nil: null }),
      fc.array(url, { maxLength: 3 }),
      fc.boolean(),
      (product, version, kernel, kernelSha, initrds, pinInitrds) => {
        const pins = initrds.map((_, i) => (pinInitrds ? `${i}`.padStart(64, 'e') : null));
        const lines = [
          `[image ${product}/${version}]`,
          `kernel = ${kernel}`,
          ...(kernelSha ? [`kernel_sha256 = ${kernelSha}`] : []),
          ...initrds.map((u) => `initrd = ${u}`),
        ];
        if (pinInitrds) lines.push(...pins.map((s) => `initrd_sha256 = ${s}`));
        lines.push('cmdline = console=ttyS0 m=${mac}');
        const p = parseProfile(SERVER + lines.join('\n') + '\n', FILE, opts);
        const image = p.images.get(`${product}/${version}`);
        assert.ok(image);
        assert.deepEqual(image.kernel, { url: kernel, sha256: kernelSha });
        assert.deepEqual(
          image.initrds,
          initrds.map((u, i) => ({ url: u, sha256: pins[i] })),
        );
        assert.deepEqual(parseProfile(describeProfile(p), FILE, opts).images, p.images);
      },
    ),
    { numRuns: 200 },
  );
});

test('property: the cache file name of any URL is one safe path segment', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.webUrl({ withQueryParameters: true, withFragments: true })), (u) => {
      const name = remoteFileName(u);
      assert.match(name, /^[A-Za-z0-9+-][A-Za-z0-9._+-]*$/);
      assert.notEqual(name, '..');
    }),
  );
});

test('check-config: default_install must name an image folder or an [image] section; menu_default may name an [image]', () => {
  const p = parseProfile(SERVER + UBUNTU + '[boot]\ndefault_install = debian/13\nmenu_default = ubuntu/24.04-remote\n', FILE, opts);
  assert.match(
    defaultInstallProblem(p, []) ?? '',
    /\[boot\] default_install = debian\/13: no image folder under .* and no \[image debian\/13\] section; a reinstall that names no profile would stop at an error/,
  );
  assert.equal(menuDefaultWarning(p, []), null);
  p.boot.defaultInstall = 'ubuntu/24.04-remote';
  assert.equal(defaultInstallProblem(p, []), null);
});
