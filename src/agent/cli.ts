// `pxe-pilot agent build`: the inspection agent's image into [assets] dir (or --assets DIR).
// Exit codes as `pxe-pilot assets`: 0 built, 2 the input or the machine needs fixing (the message
// says how), 1 anything else.
import { VERSION } from '../daemon.ts';
import { AssetError } from '../assets/errors.ts';
import { removePendingSync } from '../assets/layout.ts';
import { formatBytes, Progress } from '../assets/progress.ts';
import { stopRunningTools } from '../assets/tools.ts';
import { CliError, EXIT_FAILED, EXIT_USAGE, UsageError, type CommandContext } from '../cli/command.ts';
import { profileFor } from '../cli/profile.ts';
import { stopAptTools } from './debs.ts';
import { AGENT_ARCHES, buildAgent, IMAGE_LIMIT, INITRD_LIMIT, type AgentArch } from './build.ts';

export interface AgentBuildValues {
  readonly config?: string | undefined;
  readonly arch?: string | undefined;
  readonly assets?: string | undefined;
  readonly force: boolean;
}

export async function agentBuild({ values: v, out }: CommandContext<AgentBuildValues>): Promise<number> {
  const arch = v.arch ?? 'amd64';
  if (!(AGENT_ARCHES as readonly string[]).includes(arch)) throw new UsageError(`--arch ${arch}: give ${AGENT_ARCHES.join(' or ')}`);
  const assetsDir = v.assets ?? profileFor(v, { offline: true }).assets.dir;
  const interrupted = (signal: string): void => {
    stopRunningTools();
    stopAptTools();
    removePendingSync();
    process.stderr.write(`\npxe-pilot agent build: ${signal}: stopped; nothing was added\n`);
    process.exit(130);
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  try {
    const started = Date.now();
    const r = await buildAgent({ assetsDir, arch: arch as AgentArch, force: v.force, builtBy: `pxe-pilot ${VERSION}`, progress: new Progress() });
    const { kernel, initrd, uncompressed } = r.contents.sizes;
    const missingFirmware = r.contents.firmware.filter((f) => !f.present);
    out.write(
      `built ${r.profile} in ${r.folder} (${((Date.now() - started) / 1000).toFixed(1)} s)\n` +
        `kernel ${formatBytes(kernel)}, initramfs ${formatBytes(initrd)} (${r.contents.compression}; ${formatBytes(uncompressed)} unpacked), ` +
        `whole ${formatBytes(kernel + initrd)} (aims: initramfs under ${INITRD_LIMIT / 1e6} MB, whole under ${IMAGE_LIMIT / 1e6} MB)\n` +
        `modules: ${r.contents.modules.length} (${r.contents.builtin.length} wanted ones built in)\n` +
        `programs: ${r.contents.programs.map((p) => p.path.split('/').at(-1)).join(', ')}, with the ${r.contents.libraries.length} libraries they load\n` +
        `firmware: ${r.contents.firmware.length - missingFirmware.length} files carried, ${missingFirmware.length} missing ` +
        `(for ${[...new Set(missingFirmware.map((f) => f.module))].join(', ') || 'none'}; the inventory names such devices)\n` +
        `contents: ${r.folder}/agent.json; check by hand: cd ${r.folder} && sha256sum -c SHA256SUMS\n`,
    );
    return 0;
  } catch (err) {
    removePendingSync();
    if (err instanceof CliError) throw err;
    if (err instanceof AssetError) throw new CliError(err.message, err.exitCode, { cause: err });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM')
      throw new CliError(`${(err as Error).message}: run as the user that owns the assets folder`, EXIT_USAGE, { cause: err });
    throw new CliError((err as Error).message, EXIT_FAILED, { cause: err });
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}
