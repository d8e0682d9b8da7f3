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
import { connectionsOver } from '../helpers/stream-cut.ts';

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

test('the stream cutter picks, from `ss -tinH`, only the connections that delivered more than the cut point', () => {
  // Two sockets as iproute2's ss prints them (state filtered: no State column), counters on the next line.
  const listed = [
    '0      3933416 10.77.0.1:8080 10.77.0.101:34752',
    '\t bbr wscale:10,10 rto:232 mss:1448 bytes_sent:27851542 bytes_acked:27851542 bytes_received:80 segs_out:19287',
    '0      0 10.77.0.1:8080 10.77.0.101:34760',
    '\t cubic wscale:7,7 rto:204 mss:1448 bytes_sent:512 bytes_acked:512 bytes_received:230',
    '',
  ].join('\n');
  assert.deepEqual(connectionsOver(listed, 10_000_000), [{ peer: '10.77.0.101:34752', delivered: 27851542 }]);
  assert.deepEqual(connectionsOver(listed, 30_000_000), []);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(65535), fc.nat(2 ** 40)), { maxLength: 8 }), fc.nat(2 ** 40), (sockets, cutAt) => {
      const text = sockets.map(([port, acked]) => `0 0 10.77.0.1:8080 10.77.0.9:${port}\n\t cubic bytes_acked:${acked} bytes_received:9`).join('\n');
      const over = connectionsOver(text, cutAt);
      assert.deepEqual(
        over,
        sockets.filter(([, acked]) => acked > cutAt).map(([port, acked]) => ({ peer: `10.77.0.9:${port}`, delivered: acked })),
      );
    }),
  );
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
