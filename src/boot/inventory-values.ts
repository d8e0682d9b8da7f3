// An inventory as template values: every fact by its path in the document (system.vendor,
// disks.0.serial, cpus.threads), plus system.product_short and memory.total_gb. Used by answer
// templates ({{inventory.…}}) and a rule's hostname template. Pure.
import type { Inventory } from '../agent/inventory.ts';
import { memoryGb, productShort } from './rules.ts';

/** Every non-null fact, by path, as text. A null fact is absent (a template using it is refused). */
export function inventoryValues(inventory: Inventory): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (value: unknown, path: string): void => {
    if (value === null || value === undefined) return;
    if (Array.isArray(value)) {
      out.set(`${path}.count`, String(value.length));
      value.forEach((v, i) => walk(v, `${path}.${i}`));
    } else if (typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out.set(path, String(value));
  };
  walk(inventory, '');
  const short = productShort(inventory.system.vendor, inventory.system.product);
  if (short) out.set('system.product_short', short);
  const gb = memoryGb(inventory);
  if (gb !== null) out.set('memory.total_gb', String(gb));
  return out;
}

export type Filled = { ok: true; text: string } | { ok: false; problem: string };

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/**
 * A rule's hostname template filled from the inventory ({{system.serial}}, or {{inventory.system.serial}}),
 * made a host name: lower-case, characters other than a-z 0-9 . - become "-". A fact the inventory
 * lacks is a problem, never a blank.
 */
export function fillHostname(template: string, inventory: Inventory | null): Filled {
  if (!inventory) return { ok: false, problem: `hostname ${template} needs an inventory, and the machine has not been inspected` };
  const values = inventoryValues(inventory);
  let problem: string | null = null;
  const text = template.replace(PLACEHOLDER, (_whole, name: string) => {
    const path = name.startsWith('inventory.') ? name.slice('inventory.'.length) : name;
    const value = values.get(path);
    if (value === undefined) problem ??= `hostname ${template}: the inventory has no ${path}`;
    return value ?? '';
  });
  if (problem) return { ok: false, problem };
  if (text.includes('{{') || text.includes('}}')) return { ok: false, problem: `hostname ${template}: malformed placeholder` };
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  if (name === '' || name.length > 253 || name.split('.').some((label) => label === '' || label.length > 63))
    return { ok: false, problem: `hostname ${template} gives ${JSON.stringify(text)}, not a host name` };
  return { ok: true, text: name };
}
