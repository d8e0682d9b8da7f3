// npm run demo: see pxe-pilot work without touching any real network. Builds the installer
// stand-in, starts a dnsmasq "router" and pxe-pilot in ProxyDHCP mode inside network
// namespaces, boots a BIOS and a UEFI QEMU machine that install themselves, boots them again
// (local disk this time), prints each machine's timeline with `pxe-pilot explain`, keeps the
// daemon and its dashboard up until Enter (or the end of stdin), and cleans up.
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import { BootLab, adminToken, lan, lanNs, pilotBase, pilotHttpPort, type InstallHost } from './lab.ts';
import { startDashboardBridge, type DashboardBridge } from './dashboard-bridge.ts';
import { createInterface } from 'node:readline';
import { bootAndInstall, bootToLocalDisk } from './scenarios.ts';

const machines: (InstallHost & { firmware: 'bios' | 'uefi'; what: string })[] = [
  { mac: '52:54:00:de:00:01', hostname: 'demo-bios', firmware: 'bios', what: 'SeaBIOS + iPXE option ROM' },
  { mac: '52:54:00:de:00:02', hostname: 'demo-uefi', firmware: 'uefi', what: "OVMF's own PXE client, then snponly.efi over TFTP" },
];

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

/**
 * Lines typed on stdin, read from the start so none is lost when a script types ahead.
 * next() resolves with the next line, or null once stdin has ended (e.g. < /dev/null).
 */
function stdinLines(): { next: () => Promise<string | null>; forget: () => void; close: () => void } {
  const rl = createInterface({ input: process.stdin });
  const lines: string[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  rl.on('line', (line) => {
    lines.push(line);
    wake?.();
  });
  rl.on('close', () => {
    ended = true;
    wake?.();
  });
  return {
    next: async () => {
      while (lines.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
      return lines.shift() ?? null;
    },
    /** Drops lines typed so far (an Enter pressed while the machines booted). */
    forget: () => {
      lines.length = 0;
    },
    close: () => rl.close(),
  };
}

async function main(): Promise<number> {
  const missing = skipUnless(['root', qemuBinary, 'dnsmasq', 'curl', ...standinTools, ...firmwareFiles.bios, ...firmwareFiles.uefi]);
  if (missing) {
    say(`demo: ${missing}`);
    return 1;
  }
  say('pxe-pilot demo: everything below happens inside network namespaces created for it.');
  say('1. Building the installer stand-in (Debian cloud kernel + busybox initrd; cached after the first run)…');
  const standin = await buildStandin();
  say(`   kernel ${standin.kernelVersion}`);

  const input = stdinLines();
  const lab = await BootLab.create('demo');
  let dashboard: DashboardBridge | undefined;
  try {
    say(`2. Starting a dnsmasq router at ${lan.router} (IPv4 addresses, IPv6 router advertisements) and pxe-pilot in ProxyDHCP mode at ${pilotBase}…`);
    await lab.startRouter({ kind: 'addresses' });
    const pilot = await lab.startPxePilot({ mode: 'proxy', standin, installHosts: machines, uefiLoader: 'snponly.efi' });
    dashboard = await startDashboardBridge(lab.net, lanNs, lan.server, pilotHttpPort, lab.workDir);
    say(`   Dashboard: ${dashboard.url}  (on this machine only; log in with the admin token ${adminToken})`);
    say('   Its Live page shows every DHCP, TFTP and HTTP step and each download in flight; Machines shows the install states.');
    if (process.stdin.isTTY) {
      say('   Open it now, then press Enter to power on the machines.');
      await input.next();
    }

    say('3. Powering on two machines that have action=install (QEMU without KVM: a minute or two each, more on a busy machine)…');
    const installs = await Promise.all(
      machines.map(async (m) => {
        const run = await bootAndInstall(
          lab,
          { name: `${m.hostname}-install`, firmware: m.firmware, mac: m.mac, serial: `DEMO-${m.firmware.toUpperCase()}` },
          240_000,
        );
        const fqdn = /fqdn = "([^"]*)"/.exec(run.answer ?? '')?.[1] ?? '(no answer)';
        say(
          `   ${m.hostname} (${m.firmware}, ${m.what}): installed as ${fqdn} in ${run.seconds.toFixed(0)} s; pxe-pilot says: ${await pilot.nodeState(m.mac)}`,
        );
        return run;
      }),
    );

    say('4. Powering them on again: pxe-pilot now sends them to their local disk…');
    await Promise.all(
      machines.map(async (m) => {
        const run = await bootToLocalDisk(lab, { name: `${m.hostname}-again`, firmware: m.firmware, mac: m.mac }, 150_000);
        say(`   ${m.hostname}: the firmware left the network and tried its next boot device after ${run.seconds.toFixed(0)} s`);
      }),
    );

    say('5. What pxe-pilot recorded, per machine (pxe-pilot explain <mac>):');
    for (const m of machines) {
      say('');
      say((await pilot.explain(m.mac)).trimEnd());
    }
    say('');
    say(`Serial logs of the ${installs.length * 2} boots are in ${lab.workDir} (removed at the end; PXP_E2E_KEEP=1 keeps them).`);
    say(`The daemon stays up: look around at ${dashboard.url}. Press Enter to stop the demo and clean up.`);
    // A person's Enter pressed during the boots must not end the demo before they looked around.
    if (process.stdin.isTTY) input.forget();
    await input.next();
    return 0;
  } finally {
    input.close();
    await dashboard?.close();
    await lab.destroy();
    say('Cleaned up: QEMU, dnsmasq and pxe-pilot stopped by pid, namespaces deleted.');
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
