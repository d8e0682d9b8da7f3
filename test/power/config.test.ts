// The power keys: bmc URLs (parsed, refused with file/section/key/value), credentials files
// (parsed, and refused when others may read them, with the chmod that fixes it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError, parseProfile } from '../../src/config/load.ts';
import { formatBmc, parseBmc, parseFingerprint } from '../../src/power/bmc-url.ts';
import { parseCredentials } from '../../src/power/credentials.ts';
import { cliArgv } from '../helpers/cli.ts';

const opts = { interfaces: [{ name: 'eth0', address: '192.0.2.10', netmask: '255.255.255.0', internal: false }], interfaceExists: () => true };

function problemsOf(text: string): string[] {
  try {
    parseProfile(text, '/etc/pxe-pilot/lab.ini', opts);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.message.split('\n');
  }
}

function withCredentials<T>(files: Record<string, { text: string; mode: number }>, body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'pxe-power-creds-'));
  try {
    for (const [name, { text, mode }] of Object.entries(files)) {
      writeFileSync(join(dir, name), text);
      chmodSync(join(dir, name), mode);
    }
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('bmc URLs of every kind are read, with default ports, and written back normalised', () => {
  assert.deepEqual(parseBmc('ipmi://10.0.1.101'), { ok: true, value: { kind: 'ipmi', host: '10.0.1.101', port: 623, portGiven: false } });
  assert.deepEqual(parseBmc('IPMI://BMC1.lab.example:6230'), { ok: true, value: { kind: 'ipmi', host: 'bmc1.lab.example', port: 6230, portGiven: true } });
  assert.deepEqual(parseBmc('redfish://10.0.1.5'), { ok: true, value: { kind: 'redfish', tls: true, host: '10.0.1.5', port: 443, portGiven: false } });
  assert.deepEqual(parseBmc('redfish+http://127.0.0.1:8000/'), {
    ok: true,
    value: { kind: 'redfish', tls: false, host: '127.0.0.1', port: 8000, portGiven: true },
  });
  assert.deepEqual(parseBmc('WOL'), { ok: true, value: { kind: 'wol' } });
});

test('bmc typos are refused with what is expected', () => {
  for (const typo of [
    'impi://10.0.1.1',
    'ipmi:/10.0.1.1',
    'ipmi://10.0.1.300',
    'ipmi://10.0.1.1:99999',
    'redfish://admin:pw@10.0.1.1',
    'redfish://h/redfish/v1',
    'wol ',
    '',
  ]) {
    if (typo.trim() === 'wol') continue;
    const parsed = parseBmc(typo);
    assert.equal(parsed.ok, false, typo);
  }
  assert.match((parseBmc('redfish://admin:pw@10.0.1.1') as { error: string }).error, /credentials go in \[power\] credentials_dir/);
});

test('property: parseBmc never throws, and what it accepts reads back the same from formatBmc', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 60 }),
        fc
          .tuple(
            fc.constantFrom('ipmi://', 'redfish://', 'redfish+http://', 'IPMI://'),
            fc.oneof(fc.ipV4(), fc.domain()),
            fc.option(fc.integer({ min: 0, max: 99999 })),
          )
          .map(([s, h, p]) => `${s}${h}${p === null ? '' : `:${p}`}`),
      ),
      (text) => {
        const parsed = parseBmc(text);
        if (!parsed.ok) return;
        assert.deepEqual(parseBmc(formatBmc(parsed.value)), parsed);
      },
    ),
  );
});

test('property: credentials files parse any password (spaces, =, #) and never echo it in an error', () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[^\s=#;][^\n\r]{0,30}[^\s]$|^[^\s=#;]$/),
      fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\r\n]/.test(s) && s.trim() === s && s !== ''),
      (user, password) => {
        const parsed = parseCredentials(`# BMC\nusername = ${user}\npassword = ${password}\n`);
        assert.deepEqual(parsed, { ok: true, value: { username: user, password } });
        const broken = parseCredentials(`username = ${user}\nsecret: ${password}\n`);
        assert.equal(broken.ok, false);
        const marked = parseCredentials(`username = ${user}\nsecret: Zq9${password}\n`);
        if (!marked.ok) assert.ok(!marked.error.includes(`Zq9${password}`));
      },
    ),
  );
});

test('fingerprints are read in colon or bare form and normalised', () => {
  const hex = 'ab'.repeat(32);
  assert.equal(parseFingerprint(hex), 'AB:'.repeat(31) + 'AB');
  assert.equal(parseFingerprint('AB:'.repeat(31) + 'AB'), 'AB:'.repeat(31) + 'AB');
  assert.equal(parseFingerprint('ab'.repeat(31)), null);
});

test('check-config refuses a bmc typo, naming file, section, key and value', () => {
  const problems = problemsOf('[host 52:54:00:00:00:01]\nbmc = impi://10.0.1.101\n');
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^\/etc\/pxe-pilot\/lab\.ini: \[host 52:54:00:00:00:01\] bmc = "impi:\/\/10\.0\.1\.101": expected ipmi:\/\/HOST/);
});

test('a bmc_* key that does not fit its bmc is refused', () => {
  const problems = problemsOf('[host 52:54:00:00:00:01]\nbmc = wol\nbmc_cipher_suite = 17\n[host 52:54:00:00:00:02]\nbmc_system = /redfish/v1/Systems/1\n');
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(problems[0]!, /\[host 52:54:00:00:00:01\] bmc_cipher_suite = "17": applies to bmc = ipmi:\/\/…, not to bmc = wol/);
  assert.match(problems[1]!, /\[host 52:54:00:00:00:02\] bmc_system = .*needs a bmc = redfish/);
  assert.match(
    problemsOf('[host 52:54:00:00:00:01]\nbmc = wol\nbmc_privilege = ROOT\n')[0]!,
    /bmc_privilege = "ROOT": expected one of USER, OPERATOR, ADMINISTRATOR/,
  );
});

test('credentials: the host:port file, then default, are used; a missing one is named', () => {
  const good = { text: 'username = admin\npassword = s3cret-BMC-pw\n', mode: 0o600 };
  withCredentials({ '10.0.1.101:6230': good }, (dir) => {
    const profile = parseProfile(`[power]\ncredentials_dir = ${dir}\n[host 52:54:00:00:00:01]\nbmc = ipmi://10.0.1.101:6230\n`, '/x/lab.ini', opts);
    assert.equal(profile.hosts.get('52:54:00:00:00:01')!.bmc, 'ipmi://10.0.1.101:6230');
    assert.equal(profile.hosts.get('52:54:00:00:00:01')!.bmcCipherSuite, 3);
    assert.equal(profile.hosts.get('52:54:00:00:00:01')!.bmcPrivilege, 'OPERATOR');
    const missing = problemsOf(`[power]\ncredentials_dir = ${dir}\n[host 52:54:00:00:00:01]\nbmc = redfish://10.0.1.101\n`);
    assert.equal(missing.length, 1);
    assert.ok(missing[0]!.includes(`no credentials: write ${dir}/10.0.1.101 (or ${dir}/default)`), missing[0]);
  });
  withCredentials({ default: good }, (dir) => {
    assert.doesNotThrow(() => parseProfile(`[power]\ncredentials_dir = ${dir}\n[host 52:54:00:00:00:01]\nbmc = redfish://10.0.1.101\n`, '/x/lab.ini', opts));
  });
});

test('credentials: a file others may read is refused with the chmod that fixes it, and the password is never shown', () => {
  withCredentials({ default: { text: 'username = admin\npassword = s3cret-BMC-pw\n', mode: 0o644 } }, (dir) => {
    const problems = problemsOf(`[power]\ncredentials_dir = ${dir}\n[host 52:54:00:00:00:01]\nbmc = ipmi://10.0.1.101\n`);
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.ok(problems[0]!.includes(`${dir}/default is readable by other users (mode 644)`), problems[0]);
    assert.ok(problems[0]!.includes(`chmod 600 ${dir}/default`), problems[0]);
    assert.ok(!problems.join('\n').includes('s3cret-BMC-pw'));
  });
  withCredentials({ default: { text: 'user admin\npassword = s3cret-BMC-pw\n', mode: 0o600 } }, (dir) => {
    const problems = problemsOf(`[power]\ncredentials_dir = ${dir}\n[host 52:54:00:00:00:01]\nbmc = ipmi://10.0.1.101\n`);
    assert.match(problems[0]!, /default: line 1: expected "username = …"/);
    assert.ok(!problems.join('\n').includes('s3cret-BMC-pw'));
  });
});

test('pxe-pilot check-config: a credentials file others may read, and a bmc typo, exit 2 naming what fixes them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxe-power-check-'));
  try {
    mkdirSync(join(dir, 'bmc'), { mode: 0o700 });
    const creds = join(dir, 'bmc', '10.0.1.101');
    writeFileSync(creds, 'username = admin\npassword = check-Config-pw-61\n');
    chmodSync(creds, 0o640);
    const profile = join(dir, 'lab.ini');
    const base = `[server]\naddress = 127.0.0.1\n[power]\ncredentials_dir = ${join(dir, 'bmc')}\n[host 52:54:00:00:00:01]\nbmc = ipmi://10.0.1.101\n`;
    writeFileSync(profile, base);
    const run = (): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const [node, ...args] = cliArgv(['check-config', '--config', profile]);
        execFile(node!, args, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
      });
    const unsafe = await run();
    assert.equal(unsafe.code, 2, unsafe.stderr);
    assert.ok(unsafe.stderr.includes(`[power] credentials_dir = "${join(dir, 'bmc')}": ${creds} is readable by other users (mode 640)`), unsafe.stderr);
    assert.ok(unsafe.stderr.includes(`chmod 600 ${creds}`), unsafe.stderr);
    chmodSync(creds, 0o600);
    const fixed = await run();
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stdout, /^\[power\]\ncredentials_dir = /m);
    writeFileSync(profile, base.replace('ipmi://10.0.1.101', 'ipmi//10.0.1.101'));
    const typo = await run();
    assert.equal(typo.code, 2);
    assert.ok(typo.stderr.includes(`${profile}: [host 52:54:00:00:00:01] bmc = "ipmi//10.0.1.101": expected ipmi://HOST[:PORT]`), typo.stderr);
    for (const out of [unsafe, fixed, typo]) assert.ok(!(out.stdout + out.stderr).includes('check-Config-pw-61'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
