// check-config's deeper checks: what a valid profile allows but start-up or an install then
// trips over. Errors make check-config exit 2; warnings are printed and it exits 0.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkCmdline, describeCmdlineProblems } from '../boot/cmdline.ts';
import type { Profile } from './profile.ts';

export interface CheckResult {
  errors: string[];
  warnings: string[];
}

/** Typos in image `cmdline` files (with file and line) and in [host] cmdline. */
export function cmdlineErrors(profile: Profile, imageFolders: string[]): string[] {
  const errors: string[] = [];
  for (const folder of imageFolders) {
    const file = join(profile.assets.dir, folder, 'cmdline');
    if (!existsSync(file)) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // unreadable files are reported by the readability check
    }
    errors.push(...describeCmdlineProblems(file, checkCmdline(text)));
  }
  for (const host of profile.hosts.values()) {
    if (!host.cmdline) continue;
    for (const p of checkCmdline(host.cmdline)) errors.push(`${profile.file}: [host ${host.mac}] cmdline = ${JSON.stringify(host.cmdline)}: ${p.message}`);
  }
  return errors;
}

/** Everything check-config checks beyond the profile's own values. */
export async function checkProfile(profile: Profile): Promise<CheckResult> {
  const { scanAssets } = await import('../assets/catalogue-scan.ts');
  const images = existsSync(profile.assets.dir) ? scanAssets(profile.assets.dir) : [];
  const errors = [
    ...cmdlineErrors(
      profile,
      images.map((i) => i.profile),
    ),
  ];
  const warnings: string[] = [];
  return { errors, warnings };
}
