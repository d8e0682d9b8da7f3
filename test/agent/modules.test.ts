import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { moduleName, parseModulesDep, selectModules, WANTED_MODULES } from '../../src/agent/modules.ts';
import { firstDependency, parseAptRecord } from '../../src/agent/debs.ts';

const DEP = `kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/nvme/host/nvme.ko: kernel/drivers/nvme/host/nvme-core.ko
kernel/drivers/nvme/host/nvme-core.ko:
kernel/drivers/scsi/sd_mod.ko: kernel/drivers/scsi/scsi_common.ko kernel/drivers/scsi/scsi_mod.ko
`;

describe('agent modules', () => {
  test('the wanted drivers and everything they depend on, nothing else', () => {
    const s = selectModules(['virtio_net', 'nvme', 'efivarfs', 'no_such_driver'], parseModulesDep(DEP), ['kernel/fs/efivarfs/efivarfs.ko']);
    assert.deepEqual(s.paths, [
      'kernel/drivers/net/net_failover.ko',
      'kernel/drivers/net/virtio_net.ko',
      'kernel/drivers/nvme/host/nvme-core.ko',
      'kernel/drivers/nvme/host/nvme.ko',
      'kernel/net/core/failover.ko',
    ]);
    assert.deepEqual(s.builtin, ['efivarfs']);
    assert.deepEqual(s.unknown, ['no_such_driver']);
  });

  test("module names as modprobe spells them: '-' is '_', compression suffixes dropped", () => {
    assert.equal(moduleName('kernel/drivers/nvme/host/nvme-core.ko'), 'nvme_core');
    assert.equal(moduleName('kernel/drivers/net/ethernet/intel/ice/ice.ko.xz'), 'ice');
  });

  test('the closure is closed under modules.dep, whatever the graph', () => {
    const graph = fc.dictionary(
      fc.stringMatching(/^[a-z]{1,4}$/).map((n) => `kernel/${n}.ko`),
      fc.array(
        fc.stringMatching(/^[a-z]{1,4}$/).map((n) => `kernel/${n}.ko`),
        { maxLength: 4 },
      ),
    );
    fc.assert(
      fc.property(graph, fc.array(fc.stringMatching(/^[a-z]{1,4}$/), { maxLength: 5 }), (g, wanted) => {
        const deps = parseModulesDep(
          Object.entries(g)
            .map(([k, v]) => `${k}: ${v.join(' ')}`)
            .join('\n'),
        );
        const s = selectModules(wanted, deps);
        const chosen = new Set(s.paths);
        for (const p of s.paths) for (const d of deps.get(p) ?? []) assert.ok(chosen.has(d), `${p} needs ${d}`);
        for (const w of wanted) assert.ok(s.unknown.includes(w) || s.paths.some((p) => moduleName(p) === w));
      }),
    );
  });

  test('the wanted list names the drivers of issue 24', () => {
    for (const m of ['ahci', 'nvme', 'megaraid_sas', 'mpt3sas', 'smartpqi', 'hpsa', 'ice', 'bnxt_en', 'mlx5_core', 'qede', 'ipmi_si', 'ipmi_devintf', 'e1000'])
      assert.ok(WANTED_MODULES.includes(m), m);
  });
});

describe("apt's package records", () => {
  const RECORD = `Package: busybox-static
Version: 1:1.35.0-4+deb12u1+b1
Architecture: amd64
Depends: libc6 (>= 2.34)
Description: Standalone rescue shell
 with tons of builtin utilities
Filename: pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_amd64.deb
Size: 928188
SHA256: 3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744
`;
  test('a record gives the pool file name, size and digest', () => {
    const p = parseAptRecord(RECORD);
    assert.ok(p);
    assert.equal(p.filename, 'busybox-static_1.35.0-4+deb12u1+b1_amd64.deb');
    assert.equal(p.version, '1:1.35.0-4+deb12u1+b1');
    assert.equal(p.size, 928188);
    assert.equal(firstDependency('linux-image-6.1.0-57-amd64 (= 6.1.192-3)'), 'linux-image-6.1.0-57-amd64');
    assert.equal(parseAptRecord(RECORD.replace(/^SHA256.*$/m, '')), null);
  });

  test('Pre-Depends are kept apart from Depends: util-linux names its libraries there', () => {
    const p = parseAptRecord(
      RECORD.replace('Package: busybox-static', 'Package: util-linux').replace(
        /^Depends: .*$/m,
        'Depends: util-linux-extra\nPre-Depends: libblkid1 (>= 2.37.2), libc6 (>= 2.34), libsmartcols1 (>= 2.38)',
      ),
    );
    assert.ok(p);
    assert.equal(p.depends, 'util-linux-extra');
    assert.equal(p.preDepends, 'libblkid1 (>= 2.37.2), libc6 (>= 2.34), libsmartcols1 (>= 2.38)');
    assert.equal(parseAptRecord(RECORD)?.preDepends, undefined);
  });

  test('any text gives a record or null, never a throw', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (t) => void parseAptRecord(t)));
  });
});
