// Answers over HTTPS, pinned by fingerprint as the Proxmox installer pins them; plain HTTP refused.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeAnswerTree, type AnswerTree } from '../helpers/answer-tree.ts';
import { pinnedRequest, startHttps, type RunningHttps } from '../helpers/tls.ts';
import { generatedPaths, loadCertificate, TlsError } from '../../src/http/tls.ts';
import { testProfile } from '../helpers/profile.ts';
import { repoRoot } from '../helpers/standin.ts';

const MAC = '52:54:00:aa:00:01';
const ANSWER_REQUEST = JSON.stringify({
  product: { fullname: 'Proxmox VE', product: 'pve', enable_btrfs: true },
  iso: { release: '9.1', isorelease: '1' },
  dmi: { system: { serial: 'S1', uuid: '11111111-2222-3333-4444-555555555555', sku: '', name: 'x' } },
  network_interfaces: [{ link: 'eno1', mac: MAC }],
});
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

/** The fingerprint as openssl computes it, independently of our code. */
function opensslFingerprint(certFile: string): string {
  const out = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
  return out.trim().replace(/^.*Fingerprint=/i, '');
}

describe('HTTPS with a generated certificate', () => {
  let tree: AnswerTree;
  let state: string;
  let h: RunningHttps;

  before(async () => {
    tree = makeAnswerTree({ 'hosts/52-54-00-aa-00-01.toml': '[global]\nfqdn = "pve1.rack.example"\n# webhook {{server}}/webhook/proxmox\n' });
    state = mkdtempSync(join(tmpdir(), 'pxp-tls-'));
    h = await startHttps({ answers: { dir: tree.answers } }, state);
  });
  after(async () => {
    await h.stop();
    tree.remove();
    rmSync(state, { recursive: true, force: true });
  });

  test('the fingerprint is the certificate SHA-256 in colon form, as openssl prints it', () => {
    assert.match(h.material.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(h.material.fingerprint, opensslFingerprint(generatedPaths(h.profile).cert));
    assert.match(h.material.subjectAltName, /IP Address:127\.0\.0\.1/);
  });

  test('the key file is readable by its owner only', () => {
    const mode = spawnSync('stat', ['-c', '%a', generatedPaths(h.profile).key], { encoding: 'utf8' }).stdout.trim();
    assert.equal(mode, '600');
  });

  test('a client pinned to the fingerprint gets its answer, pointing back at HTTPS', async () => {
    const r = await pinnedRequest(`${h.https}/answer`, h.material.fingerprint, { method: 'POST', body: ANSWER_REQUEST, headers: JSON_HEADERS });
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /fqdn = "pve1.rack.example"/);
    assert.match(r.body, new RegExp(`webhook ${h.https.replace(/\./g, '\\.')}/webhook/proxmox`));
  });

  test('a client pinned to another fingerprint refuses the server', async () => {
    const wrong = h.material.fingerprint.replace(/^../, h.material.fingerprint.startsWith('00') ? '01' : '00');
    await assert.rejects(pinnedRequest(`${h.https}/answer`, wrong, { method: 'POST', body: ANSWER_REQUEST, headers: JSON_HEADERS }), /not the pinned/);
  });

  // curl runs asynchronously: the server lives in this process.
  const curl = (args: string[]): Promise<{ code: number; stdout: string }> =>
    promisify(execFile)('curl', args, { encoding: 'utf8' }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (err: { code?: number; stdout?: string }) => ({ code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '' }),
    );

  test('curl pinned to the public key succeeds, and with another key fails', async () => {
    const spki = execFileSync(
      'sh',
      ['-c', `openssl x509 -in '${generatedPaths(h.profile).cert}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`],
      { encoding: 'utf8' },
    ).trim();
    const ok = await curl(['-s', '-k', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', '--pinnedpubkey', `sha256//${spki}`, `${h.https}/health`]);
    assert.equal(ok.stdout, '200');
    const bad = await curl([
      '-s',
      '-k',
      '--max-time',
      '5',
      '-o',
      '/dev/null',
      '--pinnedpubkey',
      `sha256//${Buffer.alloc(32).toString('base64')}`,
      `${h.https}/health`,
    ]);
    assert.equal(bad.code, 90, 'curl exit 90: SSL public key does not match pinned public key');
  });

  test('plain HTTP to /answer, NoCloud and preseed is refused with 403 naming the HTTPS URL', async () => {
    const answer = await fetch(`${h.http}/answer`, { method: 'POST', body: ANSWER_REQUEST, headers: JSON_HEADERS });
    assert.equal(answer.status, 403);
    const text = await answer.text();
    assert.match(text, /HTTPS/);
    assert.ok(text.includes(`${h.https}/answer`), text);
    for (const path of [`/nocloud/${MAC}/user-data`, `/preseed/${MAC}.cfg`]) {
      const r = await fetch(`${h.http}${path}`);
      assert.equal(r.status, 403, path);
      assert.match(await r.text(), /HTTPS/);
    }
    const webhook = await fetch(`${h.http}/webhook/proxmox`, { method: 'POST', body: '{}', headers: JSON_HEADERS });
    assert.equal(webhook.status, 403);
  });

  test('boot scripts stay on plain HTTP (firmware iPXE cannot check a self-signed certificate)', async () => {
    const r = await fetch(`${h.http}/boot.ipxe`);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /^#!ipxe/);
  });

  test('the same routes answer over HTTPS', async () => {
    const r = await pinnedRequest(`${h.https}/boot.ipxe`, h.material.fingerprint);
    assert.equal(r.status, 200);
    assert.match(r.body, /^#!ipxe/);
  });

  test('the certificate survives a restart unchanged', async () => {
    const before = readFileSync(generatedPaths(h.profile).cert);
    const again = await startHttps({ answers: { dir: tree.answers } }, state);
    try {
      assert.equal(again.material.fingerprint, h.material.fingerprint);
      assert.deepEqual(readFileSync(generatedPaths(again.profile).cert), before);
      const r = await pinnedRequest(`${again.https}/health`, h.material.fingerprint);
      assert.equal(r.status, 200);
    } finally {
      await again.stop();
    }
  });
});

describe('certificate loading refuses what it cannot use', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pxp-tls-bad-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('half a generated pair is an error, never a silent new certificate', () => {
    const profile = testProfile({ server: { stateDir: join(dir, 'half') }, https: { enabled: true } });
    const first = loadCertificate(profile);
    rmSync(first.keyFile);
    assert.throws(
      () => loadCertificate(profile),
      (err: unknown) => err instanceof TlsError && err.message.includes(first.keyFile) && /missing/.test(err.message),
    );
    assert.deepEqual(readFileSync(first.certFile).toString(), readFileSync(first.certFile).toString());
  });

  test('a key that belongs to another certificate names the key file', () => {
    const a = loadCertificate(testProfile({ server: { stateDir: join(dir, 'a') }, https: { enabled: true } }));
    const b = loadCertificate(testProfile({ server: { stateDir: join(dir, 'b') }, https: { enabled: true } }));
    const profile = testProfile({ https: { enabled: true, cert: a.certFile, key: b.keyFile } });
    assert.throws(
      () => loadCertificate(profile),
      (err: unknown) => err instanceof TlsError && err.message.includes(b.keyFile) && /not the private key/.test(err.message),
    );
  });

  test('a broken key file stops start-up with exit 2 and a message naming the file', () => {
    const good = loadCertificate(testProfile({ server: { stateDir: join(dir, 'c') }, https: { enabled: true } }));
    const brokenKey = join(dir, 'broken-key.pem');
    writeFileSync(brokenKey, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
    const ini = join(dir, 'broken.ini');
    writeFileSync(
      ini,
      [
        '[server]',
        'address = 127.0.0.1',
        `state_dir = ${join(dir, 'state')}`,
        'log_level = silent',
        '[http]',
        'bind = 127.0.0.1',
        'port = 0',
        '[https]',
        'port = 0',
        `cert = ${good.certFile}`,
        `key = ${brokenKey}`,
        '[tftp]',
        'enabled = false',
        '',
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--config', ini], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 2, run.stderr);
    assert.ok(run.stderr.includes(brokenKey), run.stderr);
    assert.match(run.stderr, /not a readable PEM private key/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });

  test('pxe-pilot cert prints the fingerprint openssl computes, and the same one again', () => {
    const ini = join(dir, 'cert.ini');
    writeFileSync(ini, ['[server]', 'address = 127.0.0.1', `state_dir = ${join(dir, 'cert-state')}`, '[tftp]', 'enabled = false', ''].join('\n'));
    const first = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'cert', '--config', ini], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout.trim(), opensslFingerprint(join(dir, 'cert-state', 'tls', 'cert.pem')));
    const second = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'cert', '--config', ini], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(second.stdout, first.stdout);
  });
});
