// The lab's own pure pieces: how a machine is started, how its serial log is read, how a
// profile is written. No root, no QEMU: these run everywhere, fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ini from 'ini';
import { qemuArgs, type MachineSpec } from '../helpers/qemu.ts';
import { answerFromSerial, standinSays } from '../helpers/standin.ts';
import { renderIni } from '../helpers/daemon.ts';
import { preseedFor } from '../helpers/debian-installer.ts';
import { tomlStatements } from './expect.ts';

const spec = (firmware: 'bios' | 'uefi'): MachineSpec => ({ name: 'm', firmware, mac: '52:54:00:aa:bb:cc', tap: 'tap1', ns: 'lan', workDir: '/tmp/x' });

test("a UEFI machine boots with the NIC option ROM removed, so OVMF's own PXE client runs; a BIOS machine keeps iPXE", () => {
  const uefi = qemuArgs(spec('uefi'), '/tmp/x/m.log', '/tmp/x/vars.fd');
  const bios = qemuArgs(spec('bios'), '/tmp/x/m.log', '/tmp/x/vars.fd');
  const nic = (args: string[]) => args[args.indexOf('-device') + 1] ?? '';
  assert.match(nic(uefi), /(^|,)romfile=(,|$)/);
  assert.doesNotMatch(nic(bios), /romfile/);
  assert.ok(
    uefi.some((a) => a.includes('OVMF_CODE')),
    'UEFI machine uses OVMF',
  );
  assert.ok(!bios.some((a) => a.includes('OVMF')), 'BIOS machine uses SeaBIOS');
  for (const args of [uefi, bios]) {
    assert.ok(args.includes('-no-reboot'), 'a machine that powers off or reboots ends QEMU');
    assert.ok(args.includes('tap,id=n0,ifname=tap1,script=no,downscript=no'), 'only the lab tap, no host networking');
  }
});

test('the answer is read back from a serial log whatever surrounds it', () => {
  const line = fc.stringMatching(/^[ -~]{0,60}$/).filter((l) => !l.includes('standin:'));
  fc.assert(
    fc.property(
      fc.array(line, { maxLength: 5 }),
      fc.array(line, { minLength: 1, maxLength: 8 }),
      fc.array(line, { maxLength: 5 }),
      (before, answer, afterLines) => {
        const serial = [...before, standinSays.answerBegin, ...answer, standinSays.answerEnd, ...afterLines].join('\r\n');
        assert.equal(answerFromSerial(serial), answer.join('\n').trim());
      },
    ),
  );
  assert.equal(answerFromSerial(`x\n${standinSays.answerBegin}\nhalf an answer`), null, 'a log cut before the end marker has no answer');
  assert.equal(answerFromSerial('nothing here'), null);
});

test('a written profile reads back, section by section, as the values given', () => {
  const key = fc.stringMatching(/^[a-z][a-z_]{0,11}$/);
  const value = fc.oneof(fc.stringMatching(/^[A-Za-z0-9./:_-]{1,20}$/), fc.integer({ min: 0, max: 65535 }));
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom('server', 'http', 'dhcp', 'boot'), fc.dictionary(key, value, { maxKeys: 5 })), (sections) => {
      const parsed = ini.parse(renderIni({ sections, hosts: [{ mac: '52:54:00:12:34:56', hostname: 'n1', action: 'install', profile: 'p/1' }] }));
      for (const [name, keys] of Object.entries(sections)) {
        for (const [k, v] of Object.entries(keys)) assert.equal(parsed[name]?.[k], String(v));
      }
      assert.deepEqual({ ...parsed['host 52:54:00:12:34:56'] }, { hostname: 'n1', action: 'install', profile: 'p/1' });
    }),
  );
});

test('answers compare by their statements, not by comments or blank lines', () => {
  assert.deepEqual(tomlStatements('# served for x\n[global]\n\nfqdn = "a"\n'), ['[global]', 'fqdn = "a"']);
  assert.notDeepEqual(tomlStatements('[global]\nfqdn = "a"'), tomlStatements('[global]\nfqdn = "b"'));
});

test("a Debian host's preseed reports the boot mode it boots in: bios through iPXE, efi through GRUB or when named", () => {
  const mode = (host: Parameters<typeof preseedFor>[0]): string => {
    const report = /--post-data '([^']*)'/.exec(preseedFor(host))?.[1];
    assert.ok(report, 'the early_command posts a report');
    return (JSON.parse(report) as { 'boot-info': { mode: string } })['boot-info'].mode;
  };
  const host = { mac: '52:54:00:aa:bb:cc', hostname: 'n1' };
  assert.equal(mode(host), 'bios');
  assert.equal(mode({ ...host, loader: 'grub' }), 'efi');
  assert.equal(mode({ ...host, bootMode: 'efi' }), 'efi', 'iPXE under OVMF');
  assert.equal(mode({ ...host, loader: 'grub', bootMode: 'bios' }), 'bios', 'the named mode wins');
});
