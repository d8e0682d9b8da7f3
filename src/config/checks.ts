// check-config's deeper checks: what a valid profile allows but start-up or an install then
// trips over. Errors make check-config exit 2; warnings are printed and it exits 0.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkCmdline, describeCmdlineProblems } from '../boot/cmdline.ts';
import type { InstallImage } from '../boot/catalogue.ts';
import type { Profile } from './profile.ts';
import { remoteImageChecks } from './images.ts';

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

/** The placeholders every answer template may use, whatever the machine (src/answers/template.ts). */
const BUILTIN_ANSWER_NAMES = ['mac', 'ip', 'hostname', 'serial', 'uuid', 'product', 'server'];

function isAnswerFile(name: string): boolean {
  return name.endsWith('.toml') || name.endsWith('.cfg') || name === 'user-data' || name === 'meta-data' || name === 'vendor-data';
}

function answerFiles(dir: string, depth = 0): string[] {
  if (depth > 4) return [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) files.push(...answerFiles(path, depth + 1));
    else if (e.isFile() && isAnswerFile(e.name)) files.push(path);
  }
  return files.sort();
}

/**
 * Answer templates that would fail for every installer that fetches them: a syntax error, or a
 * placeholder neither built in nor set by any [host] section. Found now rather than as a 400 mid-install.
 */
export async function answerTemplateErrors(profile: Profile): Promise<string[]> {
  const { scanTemplate, describeTemplateErrors } = await import('../answers/template.ts');
  const known = new Set([...BUILTIN_ANSWER_NAMES, ...[...profile.hosts.values()].flatMap((h) => Object.keys(h.vars))]);
  const errors: string[] = [];
  for (const file of answerFiles(profile.answers.dir)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const { uses, errors: syntax } = scanTemplate(text);
    const unknown = uses
      // {{inventory.…}} and {{install_disk}} depend on the machine: refused per request when it lacks them.
      .filter((u) => !known.has(u.name) && u.name !== 'install_disk' && !u.name.startsWith('inventory.'))
      .map((u) => ({
        line: u.line,
        column: u.column,
        message: `{{${u.name}}} is neither built in (${BUILTIN_ANSWER_NAMES.join(', ')}) nor set by any [host] section: every installer fetching this file would get a 400; set ${u.name} in the [host] sections, or write \\{{ for a literal {{`,
      }));
    const all = [...syntax, ...unknown].sort((a, b) => a.line - b.line || a.column - b.column);
    if (all.length > 0) errors.push(describeTemplateErrors(file, all).replaceAll('; ' + file, '\n' + file));
  }
  return errors;
}

/** [server] state_dir must be a folder (or not exist yet: the daemon makes it). */
export function stateDirError(profile: Profile): string | null {
  const dir = profile.server.stateDir;
  let st;
  try {
    st = statSync(dir);
  } catch {
    return null;
  }
  if (st.isDirectory()) return null;
  return `${profile.file}: [server] state_dir = ${dir}: is a file, not a folder; the store, the certificate and the events live in it: move the file away, or point state_dir at a folder`;
}

/** [boot] menu_default names an image that is not there: the menu then takes local disk. */
export function menuDefaultWarning(profile: Profile, images: InstallImage[], diskImages: readonly string[] = []): string | null {
  const name = profile.boot.menuDefault;
  if (name === 'local' || name === 'shell' || images.some((i) => i.profile === name) || profile.images.has(name)) return null;
  if (diskImages.includes(name)) return null; // refused by menuDefaultDiskImageErrors
  return `[boot] menu_default = ${name}: no such image under ${profile.assets.dir} (pxe-pilot assets ls lists them), so the menu's timeout takes local disk; add the image or name one that is there`;
}

/**
 * A menu default naming a disk image: refused. A deploy erases the disk, and a menu left alone
 * takes its default, so no timeout may reach one (the menu would take local disk instead).
 */
export function menuDefaultDiskImageErrors(profile: Profile, diskImages: readonly string[]): string[] {
  const why = (name: string): string =>
    `${name} is a disk image (assets add --kind disk-image): deploying it erases the disk, so a menu's timeout never takes it (the menu would take local disk); name local, shell or an install image, and deploy from the menu by choosing it, or with pxe-pilot nodes reinstall MAC --profile ${name}`;
  const errors: string[] = [];
  if (diskImages.includes(profile.boot.menuDefault))
    errors.push(`${profile.file}: [boot] menu_default = ${profile.boot.menuDefault}: ${why(profile.boot.menuDefault)}`);
  for (const menu of profile.menus.values()) {
    if (diskImages.includes(menu.default))
      errors.push(`${menu.defaultFrom ?? profile.file}: [menu ${menu.name}] default = ${menu.default}: ${why(menu.default)}`);
  }
  return errors;
}

/** [boot] default_install must name an image that is there: a reinstall without a profile would otherwise fail at boot. */
export function defaultInstallProblem(profile: Profile, folderImages: InstallImage[]): string | null {
  const name = profile.boot.defaultInstall;
  if (!name || profile.images.has(name) || folderImages.some((i) => i.profile === name)) return null;
  return `${profile.file}: [boot] default_install = ${name}: no image folder under ${profile.assets.dir} and no [image ${name}] section; a reinstall that names no profile would stop at an error: add the image, or name one that is there (pxe-pilot assets ls)`;
}

/** A URL as shown in messages: scheme, host or socket, database; never a user or a password. */
function shownStoreUrl(url: string): string {
  return url.replace(/\/\/[^@/?]*@/, '//').replace(/([?&])(password|user)=[^&]*&?/g, '$1');
}

/** The PostgreSQL store's schema: connects, reads the version, says when `store migrate` is needed. */
export async function storeSchemaProblem(profile: Profile): Promise<{ error?: string; warning?: string }> {
  if (profile.store.backend !== 'postgresql' || !profile.store.url) return {};
  const { clientConfig, StoreClient } = await import('../store/postgres/connect.ts');
  const { schemaVersion, SCHEMA_VERSION } = await import('../store/postgres/migrations.ts');
  const where = `[store] url = ${shownStoreUrl(profile.store.url)}`;
  const db = new StoreClient(clientConfig(profile.store));
  try {
    await db.connect();
    const version = await schemaVersion(db);
    if (version < SCHEMA_VERSION)
      return {
        error: `${where}: the database schema is at version ${version}, this pxe-pilot needs ${SCHEMA_VERSION}; the daemon refuses to start until it is migrated: run pxe-pilot store migrate --config ${profile.file}`,
      };
    if (version > SCHEMA_VERSION)
      return { error: `${where}: the database schema is version ${version}, newer than this pxe-pilot knows (${SCHEMA_VERSION}): upgrade pxe-pilot` };
    return {};
  } catch (err) {
    return { warning: `${where}: could not read the schema version (${(err as Error).message}); the daemon will need this connection at start` };
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** Everything check-config checks beyond the profile's own values. */
export async function checkProfile(profile: Profile): Promise<CheckResult> {
  const { scanAssetFolders } = await import('../assets/catalogue-scan.ts');
  const scan = existsSync(profile.assets.dir) ? scanAssetFolders(profile.assets.dir) : { images: [], diskImages: [] };
  const images = scan.images;
  const diskImages = scan.diskImages.map((d) => d.profile);
  const errors: string[] = [];
  const warnings: string[] = [];
  const stateDir = stateDirError(profile);
  if (stateDir) errors.push(stateDir);
  errors.push(
    ...cmdlineErrors(
      profile,
      images.map((i) => i.profile),
    ),
  );
  errors.push(...(await answerTemplateErrors(profile)));
  const menu = menuDefaultWarning(profile, images, diskImages);
  if (menu) warnings.push(menu);
  errors.push(...menuDefaultDiskImageErrors(profile, diskImages));
  const remote = remoteImageChecks(
    profile,
    images.map((i) => i.profile),
  );
  errors.push(...remote.errors);
  warnings.push(...remote.warnings);
  const fallback = defaultInstallProblem(profile, images);
  if (fallback) errors.push(fallback);
  const schema = await storeSchemaProblem(profile);
  if (schema.error) errors.push(schema.error);
  if (schema.warning) warnings.push(schema.warning);
  return { errors, warnings };
}
