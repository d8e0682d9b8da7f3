// explain's hints for the Secure Boot chain: an unsigned iPXE refused, GRUB asking the router
// instead of us (proxy mode), and a kernel refused by shim; built from the events the services write.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainMac } from '../../src/explain.ts';
import { Store } from '../../src/store/store.ts';

const MAC = '52:54:00:5b:20:01';
const IP = '10.0.0.57';

function lab(): { store: Store; tftp: (file: string) => void; dhcp: (bootFile: string) => void; other: (e: Parameters<Store['record']>[0]) => void } {
  let now = Date.UTC(2026, 11, 2, 8, 0, 0);
  const store = Store.open(':memory:', { now: () => (now += 1000) });
  store.sawNode(MAC, { arch: 7, firmware: 'uefi' }, false);
  return {
    store,
    dhcp: (bootFile) =>
      store.record({ mac: MAC, protocol: 'dhcp', kind: 'REQUEST', decision: 'ack', reason: `acknowledged ${bootFile}`, detail: { ip: IP, arch: 7, bootFile } }),
    tftp: (file) =>
      store.record({ mac: null, protocol: 'tftp', kind: `RRQ ${file}`, decision: 'served', reason: `${file} served`, detail: { client: IP, file } }),
    other: (e) => store.record(e),
  };
}

const secureBootHint = 'Secure Boot? use loader = grub (or ipxe-shim) for this host';

test('a UEFI machine that fetched snponly.efi and never came back over HTTP: use loader = grub', () => {
  const { store, dhcp, tftp } = lab();
  dhcp('snponly.efi');
  tftp('snponly.efi');
  assert.ok(explainMac(store, MAC).includes(secureBootHint));
});

test('no Secure Boot hint once iPXE came back over HTTP', () => {
  const { store, dhcp, tftp, other } = lab();
  dhcp('snponly.efi');
  tftp('snponly.efi');
  other({ mac: MAC, protocol: 'http', kind: 'GET /boot', decision: 'menu', reason: 'menu', detail: { ip: IP } });
  assert.ok(!explainMac(store, MAC).includes(secureBootHint));
});

test('shim and grubx64.efi fetched, then silence: GRUB asked the router; set next-server / option 66', () => {
  const { store, dhcp, tftp } = lab();
  dhcp('debian-installer/amd64/bootnetx64.efi');
  tftp('debian-installer/amd64/bootnetx64.efi');
  tftp('/debian-installer/amd64/grubx64.efi');
  const text = explainMac(store, MAC);
  assert.match(text, /shim and debian-installer\/amd64\/grubx64\.efi were fetched, then silence/);
  assert.match(text, /reads only the DHCP server's ACK, never a ProxyDHCP offer/);
  assert.match(text, /option 66/);
});

test('GRUB fetched its configuration and a kernel, then nothing: explain names the kernel shim refused', () => {
  const { store, dhcp, tftp, other } = lab();
  dhcp('debian-installer/amd64/bootnetx64.efi');
  tftp('/debian-installer/amd64/bootnetx64.efi');
  tftp('/debian-installer/amd64/grubx64.efi');
  tftp('/debian-installer/amd64/grub/grub.cfg');
  other({
    mac: MAC,
    protocol: 'tftp',
    kind: 'GRUB config',
    decision: 'install',
    code: 'grub-config',
    reason: 'host has action=install',
    detail: { client: IP },
  });
  tftp(`/debian-installer/amd64/grub/pxe-pilot/${MAC}.cfg`);
  tftp('/assets/debian/12/vmlinuz');
  // The firmware moves on and asks DHCP again (its HTTP boot entry): still the kernel's fault.
  dhcp('http://10.0.0.1/ipxe/snponly.efi');
  const text = explainMac(store, MAC);
  assert.match(text, /GRUB loaded assets\/debian\/12\/vmlinuz over TFTP at 08:00:\d\d and nothing followed/);
  assert.match(text, /bad shim signature/);
});

test('a GRUB install that went on to the installer gets no refusal hint', () => {
  const { store, dhcp, tftp, other } = lab();
  dhcp('debian-installer/amd64/bootnetx64.efi');
  tftp('/debian-installer/amd64/grubx64.efi');
  other({ mac: MAC, protocol: 'tftp', kind: 'GRUB config', decision: 'install', code: 'grub-config', reason: 'install', detail: { client: IP } });
  tftp('/assets/debian/12/vmlinuz');
  tftp('/assets/debian/12/initrd');
  other({ mac: MAC, protocol: 'answer', kind: 'POST /answer', decision: 'served', reason: 'answer', detail: { ip: IP } });
  const text = explainMac(store, MAC);
  assert.doesNotMatch(text, /bad shim signature|then silence|Secure Boot\?/);
});
