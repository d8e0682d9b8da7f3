// Answer-file templating: {{name}} placeholders, filled completely or not at all.
// An unknown or valueless placeholder is an error with its line, never a half-filled answer.
import type { HostEntry } from '../config/profile.ts';
import type { Inventory } from '../agent/inventory.ts';
import { inventoryValues } from '../boot/inventory-values.ts';

export interface TemplateError {
  line: number;
  column: number;
  message: string;
}

export type RenderResult = { ok: true; text: string } | { ok: false; errors: TemplateError[] };

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
// `\{{` is a literal `{{` (cloud-init Jinja user-data needs them); `{{…}}` on one line is a placeholder.
const TOKEN = /\\\{\{|\{\{([^{}\n]*)\}\}|\{\{/g;
const MAX_ERRORS = 20;

function position(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: index - lineStart + 1 };
}

/**
 * Fills `{{name}}` from `values`. `missing` names placeholders that exist but have no value for
 * this request, with the reason, so the error tells the operator what to fix.
 */
export function renderTemplate(text: string, values: Readonly<Record<string, string>>, missing: Readonly<Record<string, string>> = {}): RenderResult {
  const errors: TemplateError[] = [];
  const fail = (index: number, message: string): string => {
    if (errors.length < MAX_ERRORS) errors.push({ ...position(text, index), message });
    return '';
  };
  const out = text.replace(TOKEN, (whole: string, inner: string | undefined, index: number) => {
    if (whole === '\\{{') return '{{';
    if (inner === undefined) return fail(index, 'unclosed {{ (placeholders are {{name}} on one line; write \\{{ for a literal {{)');
    const name = inner.trim();
    if (!NAME.test(name)) return fail(index, `malformed placeholder ${whole}`);
    if (Object.hasOwn(values, name)) return values[name]!;
    if (Object.hasOwn(missing, name)) return fail(index, `{{${name}}} has no value here: ${missing[name]}`);
    const known = Object.keys(values).sort().join(', ');
    return fail(index, `unknown placeholder {{${name}}} (known here: ${known || 'none'})`);
  });
  return errors.length ? { ok: false, errors } : { ok: true, text: out };
}

/** A placeholder as written, where it is. */
export interface TemplateUse extends Omit<TemplateError, 'message'> {
  name: string;
}

/** The placeholders a template uses, and its syntax errors (unclosed or malformed), without any values. */
export function scanTemplate(text: string): { uses: TemplateUse[]; errors: TemplateError[] } {
  const uses: TemplateUse[] = [];
  const errors: TemplateError[] = [];
  for (const m of text.matchAll(TOKEN)) {
    const [whole, inner] = m;
    if (whole === '\\{{') continue;
    const at = position(text, m.index);
    if (inner === undefined) errors.push({ ...at, message: 'unclosed {{ (placeholders are {{name}} on one line; write \\{{ for a literal {{)' });
    else if (!NAME.test(inner.trim())) errors.push({ ...at, message: `malformed placeholder ${whole}` });
    else uses.push({ ...at, name: inner.trim() });
  }
  return { uses, errors };
}

/** One line per error: `<file> line 7, column 12: unknown placeholder {{rack}} …`. */
export function describeTemplateErrors(file: string, errors: TemplateError[]): string {
  return errors.map((e) => `${file} line ${e.line}, column ${e.column}: ${e.message}`).join('; ');
}

export interface RequestFacts {
  mac: string | null;
  ip: string | null;
  /** Hostname known otherwise (the node table), used when the [host] section names none. */
  hostname: string | null;
  serial: string | null;
  uuid: string | null;
  product: string | null;
  /** Our HTTP base URL, e.g. http://10.0.0.1:8080 */
  server: string;
}

/**
 * The placeholder table: every key of the machine's [host] section as written, then the built-ins
 * (mac, ip, hostname, serial, uuid, product, server), which win when they have a value. [host] hostname and ip,
 * when set, win over what the request showed: they are what the operator wants the machine to become.
 */
export function templateValues(facts: RequestFacts, host: HostEntry | undefined): { values: Record<string, string>; missing: Record<string, string> } {
  const values: Record<string, string> = {};
  const missing: Record<string, string> = {};
  // {{install_disk}} is the device chosen from the inventory (inventoryTemplateValues), never the choice as written.
  for (const [k, v] of Object.entries(host?.vars ?? {})) if (NAME.test(k) && k !== 'install_disk') values[k] = v;
  const builtins: [string, string | null | undefined, string][] = [
    ['mac', facts.mac, 'no NIC of this machine could be identified'],
    ['ip', host?.ip || facts.ip, 'the request came from no IPv4 address and [host] sets no ip'],
    ['hostname', host?.hostname || facts.hostname, host ? `[host ${host.mac}] sets no hostname` : 'the machine has no [host] section with a hostname'],
    ['serial', facts.serial, 'the machine reported no usable DMI serial'],
    ['uuid', facts.uuid, 'the machine reported no usable DMI UUID'],
    ['product', facts.product, 'the request names no product'],
    ['server', facts.server, 'no server address'],
  ];
  for (const [name, value, why] of builtins) {
    if (value) values[name] = value;
    else if (!values[name]) {
      delete values[name];
      missing[name] = why;
    }
  }
  return { values, missing };
}

/** What an answer may know of the machine's inspection: its inventory, and the install disk chosen from it. */
export interface InventoryFacts {
  inventory: Inventory | null;
  /** The install_disk of its settings: the device path, why none fits, or null when no install_disk is set. */
  installDisk: { path: string } | { problem: string } | null;
}

/**
 * The {{inventory.<path>}} and {{install_disk}} values a template uses. A fact the machine does not
 * have (not inspected, a null fact, no disk fits) is missing with the reason, so the answer is
 * refused rather than rendered with a blank.
 */
export function inventoryTemplateValues(text: string, facts: InventoryFacts): { values: Record<string, string>; missing: Record<string, string> } {
  const values: Record<string, string> = {};
  const missing: Record<string, string> = {};
  const known = facts.inventory ? inventoryValues(facts.inventory) : null;
  for (const { name } of scanTemplate(text).uses) {
    if (name === 'install_disk') {
      const disk = facts.installDisk;
      if (!facts.inventory) missing[name] = 'the machine has not been inspected yet (boot it with action = inspect, or inspect_first = true)';
      else if (disk === null)
        missing[name] = 'no install_disk is set for this machine: set install_disk in its [host <mac>] section, its enrolment or the [rule] that matches it';
      else if ('problem' in disk) missing[name] = disk.problem;
      else values[name] = disk.path;
    } else if (name.startsWith('inventory.')) {
      const path = name.slice('inventory.'.length);
      if (!known) missing[name] = 'the machine has not been inspected yet (boot it with action = inspect, or inspect_first = true)';
      else if (known.has(path)) values[name] = known.get(path)!;
      else missing[name] = `the inventory has no ${path} (a fact the machine did not give, or a path the schema does not have; docs/inventory.md)`;
    }
  }
  return { values, missing };
}
