// OpenIPMI's ipmi_sim as a BMC on 127.0.0.1 and a free UDP port, its state in a temp folder. Its
// chassis_control program is a shell script written here that keeps the power state and the boot
// device in files instead of starting a machine, so power and bootdev can be read back.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectOutput, waitFor } from './netns.ts';

export interface IpmiSim {
  port: number;
  dir: string;
  user: string;
  password: string;
  /** TCP port on 127.0.0.1 where ipmi_sim waits for a QEMU machine's ipmi-bmc-extern (its in-band interface). */
  vmPort: number;
  /** What chassis_control was last told: power "0" | "1", boot device such as "pxe". */
  power(): string;
  boot(): string;
  /** Every call chassis_control received, one per line. */
  calls(): string;
  stop(): Promise<void>;
}

export async function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

const CHASSIS_CONTROL = `#!/bin/sh
# ipmi_sim's chassis_control: "<mc> get PARM…" prints PARM:VALUE lines; "<mc> set PARM VALUE…" stores them.
state="$(dirname "$0")/chassis"
echo "$*" >> "$state/calls"
while [ $# -gt 0 ] && [ "$1" != get ] && [ "$1" != set ]; do shift; done
op=$1; shift
if [ "$op" = get ]; then
  for p in "$@"; do
    case $p in
      power) echo "power:$(cat "$state/power" 2>/dev/null || echo 0)" ;;
      boot) echo "boot:$(cat "$state/boot" 2>/dev/null || echo default)" ;;
      *) echo "$p:0" ;;
    esac
  done
else
  while [ $# -gt 1 ]; do
    case $1 in
      power) echo "$2" > "$state/power" ;;
      boot) echo "$2" > "$state/boot" ;;
      reset) echo reset >> "$state/resets" ;;
    esac
    shift 2
  done
fi
`;

/** Waits until an IPMI client gets an answer from the BMC on 127.0.0.1:port; `alive` throws when its process died. */
export async function waitForIpmi(port: number, user: string, password: string, alive: () => void): Promise<void> {
  await waitFor(
    'the BMC to answer ipmitool',
    () => {
      alive();
      return new Promise<boolean>((resolve) => {
        const c = spawn(
          'ipmitool',
          ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', user, '-E', '-C', '3', '-N', '1', '-R', '1', 'chassis', 'power', 'status'],
          {
            env: { ...process.env, IPMI_PASSWORD: password },
            stdio: 'ignore',
          },
        );
        c.on('close', (code) => resolve(code === 0));
      });
    },
    15_000,
    200,
  );
}

export async function startIpmiSim(options: { user?: string; password?: string } = {}): Promise<IpmiSim> {
  const dir = mkdtempSync(join(tmpdir(), 'pxe-ipmi-sim-'));
  const user = options.user ?? 'admin';
  const password = options.password ?? 'ipmi-Sim-pw-7c1e';
  const port = await freeUdpPort();
  const serialPort = await freeUdpPort();
  mkdirSync(join(dir, 'chassis'));
  mkdirSync(join(dir, 'state'));
  const script = join(dir, 'chassis_control');
  writeFileSync(script, CHASSIS_CONTROL);
  chmodSync(script, 0o755);
  writeFileSync(
    join(dir, 'lan.conf'),
    [
      'name "pxe-test"',
      'set_working_mc 0x20',
      'startlan 1',
      `  addr 127.0.0.1 ${port}`,
      '  priv_limit admin',
      // RMCP+ (lanplus) sessions need the BMC to have a GUID.
      '  guid a123456789abcdefa123456789abcdef',
      'endlan',
      `chassis_control "${script}"`,
      `user 2 true "${user}" "${password}" admin 10 md5`,
      // Power commands answer "Invalid data field" without a serial VM line (docs: pxe-facts.md).
      `serial 15 127.0.0.1 ${serialPort} codec VM`,
      'startnow false',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'bmc.emu'),
    ['mc_setbmc 0x20', 'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr', 'mc_enable 0x20', ''].join('\n'),
  );
  const child: ChildProcess = spawn('ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'bmc.emu'), '-s', join(dir, 'state'), '-n'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = collectOutput(child);
  const read = (name: string): string => {
    const file = join(dir, 'chassis', name);
    return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForIpmi(port, user, password, () => {
      if (child.exitCode !== null) throw new Error(`ipmi_sim exited with ${child.exitCode}: ${out.text()}`);
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, dir, user, password, vmPort: serialPort, power: () => read('power'), boot: () => read('boot'), calls: () => read('calls'), stop };
}
