// The dashboard's shared pieces: the element builder, the API client (session cookie, and the
// session's CSRF token on changes), and the few formatters every page uses.

let csrf = '';
export function setCsrf(token) {
  csrf = token;
}

/** Set by app.js: draws the current page again (after a change). */
export const page = { render: async () => undefined };

/** Element builder: h('td', { class: 'x' }, 'text', child…). Text is never parsed as HTML. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'width')
      el.style.width = v; // CSSOM: allowed by the page's CSP, unlike style=
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function problem(message) {
  const p = document.getElementById('problem');
  p.textContent = message;
  p.hidden = !message;
}

export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      ...(method === 'GET' ? {} : { 'x-csrf-token': csrf }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status === 401) {
    location.href = '/ui/login';
    throw new Error('session ended');
  }
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

export function ago(iso) {
  if (!iso) return '-';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const a = Math.abs(s);
  const t = a < 60 ? `${a} s` : a < 3600 ? `${Math.floor(a / 60)} min` : a < 86400 ? `${Math.floor(a / 3600)} h` : `${Math.floor(a / 86400)} d`;
  return s >= 0 ? `${t} ago` : `in ${t}`;
}

export function size(n) {
  if (n === null || n === undefined) return '?';
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  if (n < 1099511627776) return `${(n / 1073741824).toFixed(2)} GiB`;
  return `${(n / 1099511627776).toFixed(2)} TiB`;
}

export const stateBadge = (s) => h('span', { class: `state state-${s}` }, s);
export const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '-');
/** A date and time in the viewer's locale, to the second. */
export const when = (iso) => (iso ? new Date(iso).toLocaleString([], { hour12: false }) : '-');

export function table(headers, rows, onRow) {
  return h(
    'table',
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((x) => h('th', {}, x)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          'tr',
          r.attrs || (onRow ? { class: 'link' } : {}),
          r.cells.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c))),
        ),
      ),
    ),
  );
}

/** A definition list of [label, value] pairs. */
export const facts = (pairs) =>
  h(
    'dl',
    { class: 'facts' },
    pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === null || v === undefined || v === '' ? '-' : v)]),
  );

/**
 * Asks first (a browser confirmation naming what will happen), then runs the change; the page is
 * drawn again after it, and a refusal is shown. Returns what the change answered, or null.
 */
export async function confirmed(question, change) {
  if (!confirm(question)) return null;
  try {
    const result = await change();
    problem('');
    return result;
  } catch (err) {
    problem(err.message);
    return null;
  }
}

/** A progress bar with its percentage, as the Live page draws transfers. */
export function progressBar(done, total) {
  const pct = total ? Math.min(100, Math.floor((100 * done) / total)) : 0;
  return h(
    'span',
    {},
    h('span', { class: 'progress', role: 'progressbar', 'aria-valuenow': pct, 'aria-valuemin': 0, 'aria-valuemax': 100 }, h('span', { width: `${pct}%` })),
    ` ${pct}%`,
  );
}

/** Deploys under way (GET /deploys): the machine, the image, the phase, the bytes and the rate the agent reported. */
export function deployTable(deploys) {
  return table(
    ['Machine', 'Image', 'Disk', 'Phase', 'Progress', 'Bytes', 'Rate', 'Said'],
    deploys.map((d) => ({
      attrs: { 'data-mac': d.mac },
      cells: [
        h('a', { href: `#/machine/${encodeURIComponent(d.mac)}`, class: 'mono' }, d.mac),
        d.profile || '-',
        d.device || '-',
        h('span', { class: 'phase' }, d.phase),
        progressBar(d.bytes, d.total),
        `${size(d.bytes)} / ${size(d.total)}`,
        `${d.mbps.toFixed(1)} MB/s`,
        ago(d.at),
      ],
    })),
  );
}
