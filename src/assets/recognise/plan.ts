// What a recogniser of `pxe-pilot assets add` is given and returns: a look at the source (its
// shape, file list, small text files) and, when the source is of its kind, a plan that builds
// the image folder. One file per kind beside this one; the list is in ./index.ts.
import type { ImageKind } from '../../boot/products.ts';
import { badInput } from '../errors.ts';
import { SAFE_NAME } from '../iso-info.ts';
import type { Progress } from '../progress.ts';

export interface AddRequest {
  /** Local file or folder (downloads are fetched before). */
  source: string;
  assetsDir: string;
  product?: string;
  version?: string;
  /** Written into a Proxmox ISO; null = none known (then --answer-url is required). */
  answerUrl: string | null;
  certFingerprint?: string;
  answerToken?: string;
  force: boolean;
  kernel?: string;
  initrds: string[];
  builtBy: string;
  progress?: Progress;
}

export interface Plan {
  /** The product table's kind (src/boot/products.ts), written to image.json. */
  kind: ImageKind;
  product: string;
  displayName: string;
  version: string;
  /** Writes the files into the staging folder. */
  build: (dir: string) => Promise<void>;
  /** Bytes the image will take, roughly (for the free-space check). */
  estimate: number;
  answerUrl: string | null;
  /** The source's digest when it is not one file's SHA-256 (a folder). */
  sourceDigest?: () => Promise<{ sha256: string; size: number }>;
}

/** The source as recognisers see it; reads are lazy and each text file is read once. */
export interface Source {
  req: AddRequest;
  shape: 'iso' | 'tar' | 'folder';
  /** The file's base name, for messages. */
  name: string;
  /** Paths inside, '/'-rooted: the ISO's (two levels, with sizes) or the tarball's members (size 0); empty for a folder. */
  files: ReadonlyMap<string, number>;
  /** The tarball's members as listed. */
  members: readonly string[];
  /** A small text file inside the ISO or tarball. */
  readText: (path: string) => Promise<string>;
  /** A private folder for intermediate files, removed afterwards. */
  scratch: string;
  progress: Progress;
}

export interface Recogniser {
  /** What it recognises, for the message when nothing does: "a Proxmox VE/BS/MG ISO". */
  describes: string;
  /** A plan when the source is of its kind; null when it is not; throws badInput when it is but cannot be used as it is. */
  recognise(source: Source): Promise<Plan | null>;
}

/** --product and --version become folder names: refused unless safe. */
export function checkName(what: 'product' | 'version', value: string): string {
  if (!SAFE_NAME.test(value) || value.length > 100)
    throw badInput(
      `--${what} ${JSON.stringify(value)} is not a folder name: use letters, digits, '.', '_', '+' and '-', starting with a letter or digit (e.g. --${what} ${what === 'product' ? 'proxmox-ve' : '9.1-1'})`,
    );
  return value;
}

/** --product when given, else what the source says. */
export function productName(req: AddRequest, found: string): string {
  return checkName('product', req.product || found);
}

/** --version when given, else what the source says. */
export function versionName(req: AddRequest, found: string): string {
  return checkName('version', req.version || found);
}
