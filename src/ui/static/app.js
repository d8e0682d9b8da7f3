// pxe-pilot dashboard: plain JavaScript, no framework, everything from the daemon.
// Reads the admin API with the session cookie; changes carry the session's CSRF token.
'use strict';

const view = document.getElementById('view');
let csrf = '';
let cleanup = [];

/** Element builder: h('td', { class: 'x' }, 'text', child…). Text is never parsed as HTML. */
function h(tag, attrs, ...children) {
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

function problem(message) {
  const p = document.getElementById('problem');
  p.textContent = message;
  p.hidden = !message;
}

async function api(method, path, body) {
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

function ago(iso) {
  if (!iso) return '-';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const a = Math.abs(s);
  const t = a < 60 ? `${a} s` : a < 3600 ? `${Math.floor(a / 60)} min` : a < 86400 ? `${Math.floor(a / 3600)} h` : `${Math.floor(a / 86400)} d`;
  return s >= 0 ? `${t} ago` : `in ${t}`;
}

function size(n) {
  if (n === null || n === undefined) return '?';
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

const stateBadge = (s) => h('span', { class: `state state-${s}` }, s);
const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '-');

function table(headers, rows, onRow) {
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

// ---- pages ----

const STATES = ['seen', 'install-pending', 'installing', 'installed'];
let machineFilter = { text: '', state: '' };

async function machinesPage() {
  const [all, status] = await Promise.all([api('GET', '/nodes?limit=10000'), api('GET', '/status')]);
  const counts = h(
    'div',
    { class: 'counts' },
    STATES.map((s) =>
      h(
        'div',
        {
          class: `count${machineFilter.state === s ? ' selected' : ''}`,
          'data-state': s,
          onclick: () => ((machineFilter.state = machineFilter.state === s ? '' : s), render()),
        },
        h('b', {}, status.nodes[s] ?? 0),
        s,
      ),
    ),
  );
  const search = h('input', { type: 'search', placeholder: 'Search MAC, hostname, IP, profile', value: machineFilter.text, id: 'search', size: 40 });
  const select = h(
    'select',
    { id: 'state-filter' },
    h('option', { value: '' }, 'every state'),
    STATES.map((s) => h('option', { value: s, selected: machineFilter.state === s }, s)),
  );
  const body = h('div');
  const draw = () => {
    const q = machineFilter.text.toLowerCase();
    const rows = all.nodes.filter(
      (n) =>
        (!machineFilter.state || n.state === machineFilter.state) &&
        (!q || [n.mac, n.hostname, n.lastIp, n.profile].some((v) => v && v.toLowerCase().includes(q))),
    );
    body.replaceChildren(
      rows.length === 0
        ? h('p', { class: 'muted' }, all.nodes.length === 0 ? 'No machine has booted from pxe-pilot yet.' : 'No machine matches.')
        : table(
            ['State', 'Hostname', 'MAC', 'Last IP', 'Firmware', 'Profile', 'Last seen'],
            rows.map((n) => ({
              attrs: { class: 'link', 'data-mac': n.mac, onclick: () => (location.hash = `#/machine/${n.mac}`) },
              cells: [
                stateBadge(n.state),
                n.hostname || '-',
                h('span', { class: 'mono' }, n.mac),
                n.lastIp || '-',
                n.firmware || '-',
                n.profile || '-',
                ago(n.lastSeen),
              ],
            })),
            true,
          ),
    );
  };
  search.addEventListener('input', () => ((machineFilter.text = search.value), draw()));
  select.addEventListener('change', () => ((machineFilter.state = select.value), render()));
  draw();
  return [h('h1', {}, `Machines (${all.total})`), counts, h('div', { class: 'toolbar' }, search, select), body];
}

function timeline(events) {
  if (!events.length) return h('p', { class: 'muted' }, 'No events recorded for this machine yet.');
  return h(
    'ol',
    { class: 'timeline' },
    events.map((e) =>
      h(
        'li',
        {},
        h('span', { class: 'muted' }, clock(e.time)),
        h('span', { class: 'proto' }, e.protocol),
        h('span', {}, h('b', {}, e.kind), ' → ', h('span', { class: `d-${e.decision}` }, e.decision), h('div', { class: 'muted' }, e.reason)),
      ),
    ),
  );
}

async function machinePage(mac) {
  const [node, images] = await Promise.all([api('GET', `/nodes/${encodeURIComponent(mac)}`), api('GET', '/images')]);
  const act = async (what, method, path, body) => {
    if (!confirm(`${what} for ${node.hostname || node.mac}?`)) return;
    try {
      await api(method, path, body);
      problem('');
      render();
    } catch (err) {
      problem(err.message);
    }
  };
  const profile = h(
    'select',
    { id: 'rearm-profile' },
    h('option', { value: '' }, node.host && node.host.profile ? `its [host] profile (${node.host.profile})` : 'no profile: the menu'),
    images.images.map((i) => h('option', { value: i.profile, selected: i.profile === node.profile }, i.profile)),
  );
  const script = h('input', { id: 'local-boot-script', placeholder: 'sanboot --no-describe --drive 0x80', value: node.localBoot || '', size: 36 });
  const facts = [
    ['State', stateBadge(node.state)],
    ['MAC', h('span', { class: 'mono' }, node.mac)],
    ['Hostname', node.hostname || '-'],
    ['Last IP', node.lastIp || '-'],
    ['Firmware / arch', `${node.firmware || '-'} / ${node.arch ?? '-'}`],
    ['Profile', node.profile || '-'],
    ['Last seen', ago(node.lastSeen)],
    ['Armed', node.armedAt ? `${ago(node.armedAt)} by ${node.armedBy}` : '-'],
    ['Installed', node.installedAt ? `${ago(node.installedAt)} as ${node.fqdn || '-'}` : '-'],
    ['Local boot', node.localBoot || 'exit (default)'],
  ];
  return [
    h('h1', {}, h('a', { href: '#/machines' }, 'Machines'), ' / ', node.hostname || node.mac),
    h(
      'div',
      { class: 'grid' },
      h(
        'section',
        { class: 'panel' },
        h(
          'dl',
          { class: 'facts' },
          facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
        ),
      ),
      h(
        'section',
        { class: 'panel' },
        h('h2', {}, 'Actions'),
        h(
          'div',
          { class: 'actions' },
          profile,
          h(
            'button',
            {
              class: 'primary',
              id: 'rearm',
              onclick: () =>
                act(
                  `Re-arm an install${profile.value ? ` of ${profile.value}` : ''}`,
                  'POST',
                  `/nodes/${node.mac}/reinstall`,
                  profile.value ? { profile: profile.value } : {},
                ),
            },
            'Re-arm install',
          ),
        ),
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            {
              class: 'danger',
              id: 'cancel',
              disabled: node.state !== 'install-pending',
              onclick: () => act('Cancel the armed install', 'DELETE', `/nodes/${node.mac}/reinstall`),
            },
            'Cancel install',
          ),
        ),
        h(
          'div',
          { class: 'actions' },
          script,
          h(
            'button',
            {
              id: 'set-local-boot',
              onclick: () => act(`Set local boot to "${script.value}"`, 'PUT', `/nodes/${node.mac}/local-boot`, { script: script.value }),
            },
            'Set local boot',
          ),
          h('button', { id: 'clear-local-boot', onclick: () => act('Reset local boot to "exit"', 'DELETE', `/nodes/${node.mac}/local-boot`) }, 'Reset'),
        ),
      ),
    ),
    h('h2', {}, 'Timeline'),
    h('p', { class: 'muted' }, 'DHCP → TFTP → HTTP → answer → webhook, oldest first, each with the reason pxe-pilot gave.'),
    timeline(node.events || []),
    h('h2', {}, 'Install history'),
    node.installs && node.installs.length
      ? table(
          ['Profile', 'Armed', 'By', 'Started', 'Finished', 'FQDN'],
          node.installs.map((i) => ({ cells: [i.profile || '-', ago(i.armedAt), i.armedBy || '-', ago(i.consumedAt), ago(i.installedAt), i.fqdn || '-'] })),
        )
      : h('p', { class: 'muted' }, 'No install yet.'),
  ];
}

async function livePage() {
  const list = h('ol', { class: 'timeline events', id: 'live-events' });
  const transfers = h('div', { id: 'transfers' }, h('p', { class: 'muted' }, 'No transfer in flight.'));
  const stream = new EventSource('/events/stream');
  stream.addEventListener('boot-event', (m) => {
    const e = JSON.parse(m.data);
    list.prepend(
      h(
        'li',
        {},
        h('span', { class: 'muted' }, clock(e.time)),
        h('span', { class: 'proto' }, e.protocol),
        h(
          'span',
          {},
          h('span', { class: 'mono' }, e.mac || ''),
          ' ',
          h('b', {}, e.kind),
          ' → ',
          h('span', { class: `d-${e.decision}` }, e.decision),
          h('div', { class: 'muted' }, e.reason),
        ),
      ),
    );
    while (list.childElementCount > 300) list.lastElementChild.remove();
  });
  const state = h('span', { class: 'muted', id: 'stream-state' }, 'connecting…');
  stream.onopen = () => (state.textContent = 'connected');
  stream.onerror = () => (state.textContent = 'reconnecting…');
  const poll = async () => {
    try {
      const r = await api('GET', '/transfers');
      transfers.replaceChildren(
        r.transfers.length === 0
          ? h('p', { class: 'muted' }, 'No transfer in flight.')
          : table(
              ['Protocol', 'Client', 'File', 'Progress', 'Bytes', 'Rate'],
              r.transfers.map((t) => {
                const pct = t.size ? Math.min(100, Math.floor((100 * t.bytes) / t.size)) : 0;
                return {
                  attrs: { 'data-file': t.file },
                  cells: [
                    t.protocol.toUpperCase(),
                    t.client,
                    h('span', { class: 'mono' }, t.file),
                    h(
                      'span',
                      {},
                      h(
                        'span',
                        { class: 'progress', role: 'progressbar', 'aria-valuenow': pct, 'aria-valuemin': 0, 'aria-valuemax': 100 },
                        h('span', { width: `${pct}%` }),
                      ),
                      ` ${pct}%`,
                    ),
                    `${size(t.bytes)} / ${size(t.size)}`,
                    `${size(t.rate)}/s`,
                  ],
                };
              }),
            ),
      );
    } catch (err) {
      problem(err.message);
    }
  };
  await poll();
  const timer = setInterval(poll, 1000);
  cleanup.push(
    () => stream.close(),
    () => clearInterval(timer),
  );
  return [h('h1', {}, 'Live ', state), h('h2', {}, 'Transfers in flight'), transfers, h('h2', {}, 'Events as they happen'), list];
}

async function imagesPage() {
  const r = await api('GET', '/images');
  return [
    h('h1', {}, 'Images'),
    h('p', { class: 'muted' }, `Under ${r.dir}`),
    r.images.length || r.changed.length || (r.unfetched ?? []).length
      ? table(
          ['Profile', 'Verified', 'Kernel', 'Initrds', 'Used by'],
          [
            ...r.images.map((i) => ({
              cells: [
                h('b', {}, i.profile),
                h(
                  'span',
                  {
                    class: `integrity-${i.integrity}`,
                    title: i.remote
                      ? i.integrity === 'verified'
                        ? 'remote image: every file pinned, fetched and checked'
                        : 'remote image: an unpinned URL is handed to iPXE as it is'
                      : i.integrity === 'verified'
                        ? 'the files match image.json'
                        : 'no image.json: made by hand',
                  },
                  i.integrity === 'verified' ? 'yes' : 'unverified',
                ),
                h('span', { class: 'mono' }, i.kernel),
                i.initrds.length,
                h('td', { class: 'wrap' }, i.hosts.join(', ') || '-'),
              ],
            })),
            // Not offered to machines until checked (pxe-pilot assets verify) or added again.
            ...r.changed.map((c) => ({
              cells: [h('b', {}, c.profile), h('td', { class: 'wrap integrity-changed' }, `CHANGED: ${c.problem}; not offered`), '-', '-', '-'],
            })),
            // Remote images whose pinned files are not fetched and checked yet.
            ...(r.unfetched ?? []).map((c) => ({
              cells: [h('b', {}, c.profile), h('td', { class: 'wrap integrity-changed' }, `NOT FETCHED: ${c.problem}; not offered yet`), '-', '-', '-'],
            })),
          ],
        )
      : h('p', { class: 'muted' }, 'No install image found.'),
  ];
}

async function leasesPage() {
  const r = await api('GET', '/leases');
  return [
    h('h1', {}, 'Leases'),
    r.dhcpMode !== 'server' ? h('p', { class: 'note' }, `[dhcp] mode = ${r.dhcpMode}: pxe-pilot hands out no addresses itself.`) : null,
    r.leases.length
      ? table(
          ['Address', 'MAC', 'Hostname', 'State', 'Expires'],
          r.leases.map((l) => ({
            cells: [l.ip, h('span', { class: 'mono' }, l.mac), l.hostname || '-', l.state, l.expired ? `expired ${ago(l.expires)}` : ago(l.expires)],
          })),
        )
      : h('p', { class: 'muted' }, 'No lease.'),
  ];
}

/** The store's state: a degraded PostgreSQL store keeps boots going but cannot consume installs. */
function storeLine(store) {
  if (!store) return h('p', {}, 'Store: SQLite.');
  const name = store.backend === 'postgresql' ? 'PostgreSQL (shared by the fleet)' : 'SQLite';
  if (store.state === 'ok') return h('p', {}, `Store: ${name}, ok${store.queued ? `, ${store.queued} write(s) queued` : ''}.`);
  return h(
    'p',
    { class: 'error' },
    `Store: ${name}, DEGRADED: ${store.reason || 'unreachable'}. Boots go on from memory; installs that need a consumption wait. ${store.queued ?? 0} write(s) queued${store.dropped ? `, ${store.dropped} event(s) dropped` : ''}; reconnecting by itself.`,
  );
}

async function healthPage() {
  const s = await api('GET', '/status');
  return [
    h('h1', {}, 'Health'),
    h('p', {}, `pxe-pilot ${s.version}, up ${ago(s.startedAt).replace(' ago', '')}, serving as ${s.address || '-'}, DHCP ${s.dhcpMode}, profile ${s.config}.`),
    storeLine(s.store),
    table(
      ['Service', 'State', 'Bound'],
      s.services.map((x) => ({
        cells: [
          x.name,
          x.enabled ? 'running' : 'off',
          x.bindings.map((b) => `${b.protocol} ${b.address}:${b.port}${b.interface ? ` (${b.interface})` : ''}`).join(', ') || '-',
        ],
      })),
    ),
    h('h2', {}, 'Warnings from the profile'),
    s.warnings.length
      ? h(
          'ul',
          {},
          s.warnings.map((w) => h('li', {}, w)),
        )
      : h('p', { class: 'muted' }, 'None.'),
    h(
      'p',
      { class: 'muted' },
      `${s.transfers} transfer(s) in flight, ${s.streamClients} live stream client(s). Metrics at `,
      h('a', { href: '/metrics' }, '/metrics'),
      '.',
    ),
  ];
}

async function render() {
  for (const f of cleanup) f();
  cleanup = [];
  const [, page, arg] = (location.hash || '#/machines').split('/');
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === (page === 'machine' ? 'machines' : page));
  const pages = {
    machines: machinesPage,
    machine: () => machinePage(decodeURIComponent(arg || '')),
    live: livePage,
    images: imagesPage,
    leases: leasesPage,
    health: healthPage,
  };
  try {
    const content = await (pages[page] || machinesPage)();
    view.replaceChildren(...content.filter(Boolean));
    problem('');
  } catch (err) {
    problem(err.message);
  }
}

document.getElementById('logout').addEventListener('click', async () => {
  await api('POST', '/ui/logout').catch(() => undefined);
  location.href = '/ui/login';
});

window.addEventListener('hashchange', render);
api('GET', '/ui/session').then(
  (s) => {
    csrf = s.csrf;
    render();
  },
  (err) => problem(err.message),
);
