// pxe-pilot dashboard: plain JavaScript modules, no framework, everything from the daemon.
// Reads the admin API with the session cookie; changes carry the session's CSRF token (ui.js).
import { h, api, page, problem, setCsrf, ago, size, clock, table, progressBar, deployTable } from './ui.js';
import { machinesPage } from './machines.js';
import { machinePage } from './machine.js';

const view = document.getElementById('view');
let cleanup = [];

async function livePage() {
  const list = h('ol', { class: 'timeline events', id: 'live-events' });
  const transfers = h('div', { id: 'transfers' }, h('p', { class: 'muted' }, 'No transfer in flight.'));
  const deploys = h('div', { id: 'deploys' }, h('p', { class: 'muted' }, 'No deploy under way.'));
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
      const [r, d] = await Promise.all([api('GET', '/transfers'), api('GET', '/deploys')]);
      deploys.replaceChildren(d.deploys.length === 0 ? h('p', { class: 'muted' }, 'No deploy under way.') : deployTable(d.deploys));
      transfers.replaceChildren(
        r.transfers.length === 0
          ? h('p', { class: 'muted' }, 'No transfer in flight.')
          : table(
              ['Protocol', 'Client', 'File', 'Progress', 'Bytes', 'Rate'],
              r.transfers.map((t) => {
                return {
                  attrs: { 'data-file': t.file },
                  cells: [
                    t.protocol.toUpperCase(),
                    t.client,
                    h('span', { class: 'mono' }, t.file),
                    progressBar(t.bytes, t.size),
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
  return [
    h('h1', {}, 'Live ', state),
    h('h2', {}, 'Deploys under way'),
    deploys,
    h('h2', {}, 'Transfers in flight'),
    transfers,
    h('h2', {}, 'Events as they happen'),
    list,
  ];
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
    view.replaceChildren(...content.flat(Infinity).filter(Boolean));
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
page.render = render;
api('GET', '/ui/session').then(
  (s) => {
    setCsrf(s.csrf);
    render();
  },
  (err) => problem(err.message),
);
