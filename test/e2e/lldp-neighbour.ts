// A real LLDP neighbour for the firmware lab: Debian's lldpd in a namespace "switch", wired into the
// lab's bridge, sending an LLDP frame every second with a known system name and port. The bridge
// forwards LLDP (01:80:c2:00:00:0e) only with bit 14 of its group_fwd_mask set. lldpd runs only in
// that namespace, is ended by its pid with the lab, and the chroot folder it makes (/run/lldpd) is
// removed afterwards when it was not there before.
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { collectOutput, waitFor } from '../helpers/netns.ts';
import { lan, lanNs, type BootLab } from './lab.ts';

export const switchNs = 'switch';

/** What the neighbour says about itself; what the agent must report. */
export const neighbour = {
  systemName: 'lab-switch-1',
  /** lldpd sends the interface name as port id (portidsubtype ifname). */
  portId: 'swp12',
  portDescription: 'rack 7 port 12',
} as const;

export interface LldpNeighbour {
  lldpd: ChildProcess;
  log: () => string;
  /** Removes what lldpd left outside the namespace; call after the lab is destroyed. */
  cleanUp: () => Promise<void>;
}

export async function startLldpNeighbour(lab: BootLab): Promise<LldpNeighbour> {
  const chrootExisted = existsSync('/run/lldpd');
  const cleanUp = async (): Promise<void> => {
    if (!chrootExisted) await rm('/run/lldpd', { recursive: true, force: true });
  };
  await lab.net.addNamespace(switchNs);
  await lab.net.attachToBridge(lanNs, lan.bridge, 'sw-port', switchNs, neighbour.portId, null);
  await lab.net.exec(lanNs, ['ip', 'link', 'set', 'dev', lan.bridge, 'type', 'bridge', 'group_fwd_mask', String(0x4000)]);
  // lldpd's configuring lldpcli runs as _lldpd: its socket and configuration are in a folder that
  // account can reach (the lab's own folder is private: traverse only is opened).
  await chmod(lab.workDir, 0o711);
  await mkdir(lab.path('lldpd'), { mode: 0o755 });
  const config = lab.path('lldpd', 'lldpd.conf');
  await writeFile(
    config,
    [
      `configure system hostname ${neighbour.systemName}`,
      'configure lldp tx-interval 1',
      'configure lldp portidsubtype ifname',
      `configure ports ${neighbour.portId} lldp portdescription "${neighbour.portDescription}"`,
      '',
    ].join('\n'),
  );
  const socket = lab.path('lldpd', 'lldpd.socket');
  const lldpd = lab.net.spawn(switchNs, ['lldpd', '-d', '-I', neighbour.portId, '-u', socket, '-O', config]);
  const out = collectOutput(lldpd);
  let shown = '';
  try {
    await waitFor(
      'lldpd to send on the switch port',
      async () => {
        if (lldpd.exitCode !== null) throw new Error(`lldpd exited: ${out.text()}`);
        const r = await lab.net.exec(switchNs, ['lldpcli', '-u', socket, 'show', 'interfaces'], { allowFail: true });
        shown = r.stdout + r.stderr;
        return r.stdout.includes(neighbour.portDescription);
      },
      30_000,
    );
  } catch (err) {
    await lab.net.stop(lldpd);
    await cleanUp();
    throw new Error(`${(err as Error).message}\nlldpcli: ${shown}\nlldpd: ${out.text().slice(-2000)}`);
  }
  return { lldpd, log: out.text, cleanUp };
}
