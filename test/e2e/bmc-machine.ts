// A QEMU machine behind a BMC, for the reinstall --now tests: a script (machine.sh) powers it on
// with the boot order it was given (the network once after `bootdev pxe`, else its disk), off,
// and says whether it runs. OpenIPMI's ipmi_sim, run in the lab namespace, calls it as its
// chassis_control program and startcmd; QEMU gets the in-band interface too (ipmi-bmc-extern +
// isa-ipmi-kcs on ipmi_sim's VM port). The script runs in the namespace, so QEMU does; its pid is
// in a file, and stop() ends it by that pid.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { collectOutput, waitFor, type NetLab } from '../helpers/netns.ts';
import { qemuArgs, qemuBinary, tail } from '../helpers/qemu.ts';
import { lan, lanNs } from './lab.ts';

export interface BmcMachine {
  dir: string;
  serialLog: string;
  /** Lines "<unix time> start <boot order>" and "<unix time> stop", one per power change. */
  powerLog: () => string;
  serial: () => string;
  running: () => boolean;
  waitForSerial: (what: string, pattern: RegExp | string, timeoutMs: number, since?: number) => Promise<void>;
  /** Ends QEMU by the pid machine.sh wrote. */
  stop: () => Promise<void>;
}

const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * The script behind the BMC. `bootdev pxe` is remembered in a file and taken by the next start
 * (`-boot once=n,order=c`: the network once, then the disk, as a one-time BMC override does);
 * a start without it boots the disk. No -no-reboot: the installer's reboot boots the disk.
 */
function machineScript(dir: string, args: string[]): string {
  return `#!/bin/sh
# ipmi_sim's chassis_control: "<mc> get PARM…" prints PARM:VALUE; "<mc> set PARM VALUE…" acts.
# Also "start" (ipmi_sim's startcmd), "stop" and "status" for the Redfish double.
here=${quote(dir)}
pidfile="$here/qemu.pid"
running() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
start() {
  running && return 0
  boot=order=c
  if [ "$(cat "$here/bootdev" 2>/dev/null)" = pxe ]; then boot=once=n,order=c; rm -f "$here/bootdev"; fi
  echo "$(date +%s.%N) start $boot" >> "$here/power.log"
  ${quote(qemuBinary)} ${args.map(quote).join(' ')} -boot "$boot" </dev/null >>"$here/qemu.out" 2>&1 &
  echo $! > "$pidfile"
}
stop() {
  running || return 0
  kill "$(cat "$pidfile")"
  for _ in $(seq 100); do running || break; sleep 0.1; done
  echo "$(date +%s.%N) stop" >> "$here/power.log"
}
echo "$*" >> "$here/calls"
case "$1" in
  start) start; exit 0 ;;
  stop) stop; exit 0 ;;
  status) if running; then echo 1; else echo 0; fi; exit 0 ;;
  bootdev) echo "$2" > "$here/bootdev"; exit 0 ;;
esac
while [ $# -gt 0 ] && [ "$1" != get ] && [ "$1" != set ]; do shift; done
op=$1; shift
if [ "$op" = get ]; then
  for p in "$@"; do
    case $p in
      power) if running; then echo power:1; else echo power:0; fi ;;
      boot) echo "boot:$(cat "$here/bootdev" 2>/dev/null || echo default)" ;;
      *) echo "$p:0" ;;
    esac
  done
else
  while [ $# -gt 1 ]; do
    case $1 in
      power) if [ "$2" = 1 ]; then start; else stop; fi ;;
      boot) echo "$2" > "$here/bootdev" ;;
      reset) stop; start ;;
    esac
    shift 2
  done
fi
`;
}

export interface BmcMachineSpec {
  name: string;
  mac: string;
  tap: string;
  workDir: string;
  /** Extra QEMU arguments (the IPMI device's). */
  extraArgs?: string[];
}

/** Writes machine.sh for a BIOS machine with a small blank disk; nothing runs yet. */
export async function prepareBmcMachine(lab: NetLab, spec: BmcMachineSpec): Promise<BmcMachine & { script: string }> {
  const dir = spec.workDir;
  const serialLog = join(dir, `${spec.name}.serial.log`);
  const disk = join(dir, `${spec.name}.disk.img`);
  execFileSync('truncate', ['-s', '8M', disk]);
  const base = qemuArgs({ name: spec.name, firmware: 'bios', mac: spec.mac, tap: spec.tap, ns: lanNs, workDir: dir }, serialLog, join(dir, 'unused-vars.fd'));
  // The boot order is the script's to give (-boot), so the NIC has no bootindex; the serial log is
  // appended to across power-ons; the installer's reboot must reboot, not end QEMU.
  const args: string[] = [];
  for (let i = 0; i < base.length; i++) {
    const a = base[i]!;
    if (a === '-no-reboot') continue;
    if (a === '-boot') {
      i++;
      continue;
    }
    if (a === '-serial') {
      args.push('-chardev', `file,id=console0,path=${serialLog},append=on`, '-serial', 'chardev:console0');
      i++;
      continue;
    }
    if (a === '-machine') {
      args.push(a, base[++i]!);
      continue;
    }
    args.push(a.replace(',bootindex=1', ''));
  }
  args.push('-drive', `file=${disk},format=raw,if=virtio`, ...(spec.extraArgs ?? []));
  const script = join(dir, 'machine.sh');
  await writeFile(script, machineScript(dir, args));
  await chmod(script, 0o755);
  const read = (name: string): string => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
  const pid = (): number | null => {
    const text = read('qemu.pid').trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  };
  const running = (): boolean => {
    const p = pid();
    if (p === null) return false;
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  };
  const serial = (): string => read(`${spec.name}.serial.log`).replace(/\r/g, '');
  return {
    dir,
    script,
    serialLog,
    powerLog: () => read('power.log'),
    serial,
    running,
    async waitForSerial(what, pattern, timeoutMs, since = 0) {
      const matches = (text: string): boolean => {
        const part = text.slice(since);
        return typeof pattern === 'string' ? part.includes(pattern) : pattern.test(part);
      };
      try {
        await waitFor(what, () => matches(serial()), timeoutMs, 500);
      } catch (err) {
        throw new Error(`${(err as Error).message}; ${spec.name}'s serial log ends with:\n${tail(serial(), 25)}\npower log:\n${read('power.log')}`);
      }
    },
    async stop() {
      const p = pid();
      if (p === null || !running()) return;
      process.kill(p, 'SIGTERM');
      await waitFor(`QEMU ${p} to end`, () => !running(), 10_000, 100).catch(() => process.kill(p, 'SIGKILL'));
    },
  };
}

export interface LabIpmiSim {
  child: ChildProcess;
  port: number;
  user: string;
  password: string;
  output: () => string;
}

/** ipmi_sim on the lab's server address, the machine's BMC; QEMU connects to its VM port. */
export async function startLabIpmiSim(lab: NetLab, machine: { dir: string; script: string }, user: string, password: string): Promise<LabIpmiSim> {
  const port = 623;
  const confFile = join(machine.dir, 'lan.conf');
  await writeFile(
    confFile,
    [
      'name "pxe-e2e"',
      'set_working_mc 0x20',
      'startlan 1',
      `  addr ${lan.server} ${port}`,
      '  priv_limit admin',
      '  guid a123456789abcdefa123456789abcdef',
      'endlan',
      `chassis_control "${machine.script}"`,
      `user 2 true "${user}" "${password}" admin 10 md5`,
      `serial 15 ${lan.server} ${ipmiVmPort} codec VM`,
      `startcmd "${machine.script} start"`,
      'startnow false',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(machine.dir, 'bmc.emu'),
    ['mc_setbmc 0x20', 'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr', 'mc_enable 0x20', ''].join('\n'),
  );
  const child = lab.spawn(lanNs, ['ipmi_sim', '-c', confFile, '-f', join(machine.dir, 'bmc.emu'), '-s', machine.dir, '-n']);
  const out = collectOutput(child);
  await waitFor(
    'ipmi_sim to answer in the lab namespace',
    async () => {
      if (child.exitCode !== null) throw new Error(`ipmi_sim exited: ${out.text()}`);
      const r = await lab.exec(
        lanNs,
        ['sh', '-c', 'IPMI_PASSWORD="$0" exec ipmitool -I lanplus -H "$1" -U "$2" -E -C 3 -N 1 -R 1 chassis power status', password, lan.server, user],
        { allowFail: true },
      );
      return r.code === 0;
    },
    20_000,
    300,
  );
  return { child, port, user, password, output: out.text };
}

/** Where QEMU's ipmi-bmc-extern reaches ipmi_sim (its `serial … codec VM` line). */
export const ipmiVmPort = 9002;

/** QEMU's in-band IPMI: a KCS interface backed by the external BMC (ipmi_sim). */
export const ipmiDeviceArgs = [
  '-chardev',
  `socket,id=ipmi0,host=${lan.server},port=${ipmiVmPort},reconnect=10`,
  '-device',
  'ipmi-bmc-extern,id=bmc0,chardev=ipmi0',
  '-device',
  'isa-ipmi-kcs,bmc=bmc0',
];
