// The Machines page: every machine with its hardware in a line (GET /machines), the discovered
// ones (GET /nodes says which), power, enrol and unenrol, and "reinstall now" for a selection.
import { h, api, page, ago, size, stateBadge, table, confirmed } from './ui.js';

// Every node state (src/boot/lifecycle.ts NODE_LIFECYCLES), in the order a machine goes through them.
const STATES = ['seen', 'install-pending', 'installing', 'installed', 'deploy-failed', 'wipe-pending', 'wiping'];
const ACTIONS = ['install', 'deploy', 'local', 'menu', 'inspect', 'wipe'];
let machineFilter = { text: '', state: '' };
const selected = new Set();

/** A UUID or serial, flagged when the server says it cannot select the machine. */
export function identity(fact) {
  if (!fact || fact.value === null) return '-';
  return h(
    'span',
    { class: 'identity' },
    h('span', { class: 'mono' }, fact.value),
    fact.flag ? h('span', { class: `flag flag-${fact.flag}`, title: fact.reason, 'data-flag': fact.flag }, fact.flag) : null,
  );
}

/** The power state as known (never asked here); the BMC's failure in its own words. */
export function powerCell(power) {
  if (!power) return h('span', { class: 'muted', title: 'no bmc named for this machine' }, 'no BMC');
  if (power.error)
    return h('span', { class: 'power power-error', title: power.error.message }, power.error.failure === 'unreachable' ? 'unreachable' : power.error.failure);
  return h('span', { class: `power power-${power.state}`, title: power.checkedAt ? `read ${ago(power.checkedAt)}` : 'not read yet' }, power.state);
}

const cpuText = (cpu) => (cpu && cpu.threads ? `${cpu.threads} threads` : cpu ? '?' : '-');
const diskText = (disks) => (disks.length ? `${disks.length}, ${size(disks.reduce((sum, d) => sum + d.sizeBytes, 0))}` : '-');
export const switchPortText = (p) => (p ? `${p.systemName || p.chassisId || '?'} ${p.portId || p.portDescription || '?'}` : '-');

/**
 * The enrolment form: hostname, profile (from /images), action, BMC and "install now". It asks
 * before it sends PUT /nodes/<mac>/enrolment; `done` runs after the store took it.
 */
export function enrolForm(mac, images, current, done) {
  const hostname = h('input', { id: 'enrol-hostname', name: 'hostname', value: current.hostname || '', placeholder: 'rack1-node7', size: 24, required: true });
  const profile = h(
    'select',
    { id: 'enrol-profile', name: 'profile' },
    h('option', { value: '' }, 'no profile'),
    images.images.map((i) => h('option', { value: i.profile, selected: i.profile === current.profile }, i.profile)),
  );
  const action = h(
    'select',
    { id: 'enrol-action', name: 'action' },
    ACTIONS.map((a) => h('option', { value: a, selected: a === (current.action || 'install') }, a)),
  );
  const bmc = h('input', { id: 'enrol-bmc', name: 'bmc', value: current.bmc || '', placeholder: 'ipmi://10.0.1.101, redfish://…, wol', size: 28 });
  const install = h('input', { id: 'enrol-install', name: 'install', type: 'checkbox' });
  const form = h(
    'form',
    { id: 'enrol-form', class: 'enrol' },
    h('label', {}, 'Hostname', hostname),
    h('label', {}, 'Profile', profile),
    h('label', {}, 'Action', action),
    h('label', {}, 'BMC (optional)', bmc),
    h('label', { class: 'check' }, install, 'Install now (arms the install)'),
    h('div', { class: 'actions' }, h('button', { class: 'primary', id: 'enrol-submit', type: 'submit' }, 'Enrol')),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { hostname: hostname.value.trim(), profile: profile.value, action: action.value };
    if (bmc.value.trim()) body.bmc = bmc.value.trim();
    if (install.checked) body.install = true;
    const what = `Enrol ${mac} as ${body.hostname || '(no hostname)'}: ${body.action}${body.profile ? ` of ${body.profile}` : ''}${body.install ? ', and arm its install now' : ''}?`;
    const node = await confirmed(what, () => api('PUT', `/nodes/${mac}/enrolment`, body));
    if (node) await done(node);
  });
  return form;
}

export function unenrol(mac, label) {
  return confirmed(`Unenrol ${label}? Its settings then come from a [host] section or a rule, if any.`, () => api('DELETE', `/nodes/${mac}/enrolment`));
}

/**
 * The steps of a "reinstall now" as they happen (its `progress` URL: armed → next boot from the
 * network → power), read every second until the power steps are over or the page changes;
 * `changed` gets each newer reading.
 */
export function reinstallProgress(job, changed = () => undefined) {
  const list = h('ul', { class: 'reinstall-progress', id: 'reinstall-progress-list' });
  const draw = (j) =>
    list.replaceChildren(
      ...j.machines.map((m) =>
        h(
          'li',
          { 'data-mac': m.mac, 'data-state': m.state },
          h('span', { class: 'mono' }, m.mac),
          ` ${m.state}: `,
          m.steps.length
            ? m.steps.map((st) => h('span', { class: st.ok ? '' : 'error' }, st.message)).flatMap((x, i) => (i ? [' → ', x] : [x]))
            : 'waiting its turn',
        ),
      ),
      ...(j.skipped || []).map((sk) =>
        h('li', { 'data-mac': sk.mac, 'data-state': 'skipped' }, h('span', { class: 'mono' }, sk.mac), ` skipped: ${sk.reason}`),
      ),
    );
  draw(job);
  if (!job.finished && job.progress) {
    const timer = setInterval(async () => {
      if (!list.isConnected) return clearInterval(timer);
      try {
        // GET /reinstalls?id=… answers {"reinstalls": [the job]}.
        const read = await api('GET', job.progress);
        const now = Array.isArray(read.reinstalls) ? read.reinstalls[0] : read;
        if (!now) throw new Error(`reinstall ${job.id} is no longer known (the daemon restarted?)`);
        draw(now);
        if (now.finished) clearInterval(timer);
        changed({ ...now, progress: job.progress, skipped: job.skipped });
      } catch (err) {
        clearInterval(timer);
        list.append(h('li', { class: 'error' }, err.message));
      }
    }, 1000);
  }
  return list;
}

/** The last "reinstall now" of a selection, shown above the list until hidden. */
let lastJob = null;

/** The many-machine "reinstall now": one confirmation that says how many machines. */
async function reinstallSelected(nodesByMac) {
  const macs = [...selected];
  const names = macs.map((m) => nodesByMac.get(m)?.hostname || m);
  const question = `Reinstall ${macs.length} machine${macs.length === 1 ? '' : 's'} now (${names.join(', ')})? Each is armed, set to boot from the network once, and power-cycled.`;
  const job = await confirmed(question, () => api('POST', '/nodes/reinstall', { macs, now: true }));
  if (!job) return;
  selected.clear();
  lastJob = job;
  await page.render();
}

/** The last reinstall's steps; once its power steps are over the list is drawn again (states changed). */
function lastJobView() {
  if (!lastJob) return null;
  const n = lastJob.machines.length;
  return [
    h(
      'h2',
      {},
      `Reinstall now: ${n} machine${n === 1 ? '' : 's'} `,
      h('button', { type: 'button', id: 'reinstall-hide', onclick: () => ((lastJob = null), page.render()) }, 'Hide'),
    ),
    reinstallProgress(lastJob, (now) => {
      lastJob = now;
      if (now.finished) void page.render();
    }),
  ];
}

export async function machinesPage() {
  const [all, status, readout, images] = await Promise.all([
    api('GET', '/nodes?limit=10000'),
    api('GET', '/status'),
    api('GET', '/machines'),
    api('GET', '/images'),
  ]);
  const lines = new Map(readout.machines.map((m) => [m.mac, m]));
  // Inspected, and nothing gives it settings yet: the server says so per node.
  const isDiscovered = new Set(all.nodes.filter((n) => n.discovered === true).map((n) => n.mac));
  const nodesByMac = new Map(all.nodes.map((n) => [n.mac, n]));
  for (const mac of selected) if (!nodesByMac.has(mac)) selected.delete(mac);

  const countCard = (key, n, title) =>
    h(
      'div',
      {
        class: `count${machineFilter.state === key ? ' selected' : ''}`,
        'data-state': key,
        title,
        onclick: () => ((machineFilter.state = machineFilter.state === key ? '' : key), page.render()),
      },
      h('b', {}, n ?? '?'),
      key,
    );
  const counts = h('div', { class: 'counts' }, [
    ...STATES.map((s) => countCard(s, status.nodes[s] ?? 0)),
    countCard('discovered', isDiscovered.size, 'inspected, and nothing gives them settings yet'),
  ]);
  const search = h('input', {
    type: 'search',
    placeholder: 'Search MAC, hostname, IP, profile, vendor, serial',
    value: machineFilter.text,
    id: 'search',
    size: 40,
  });
  const select = h(
    'select',
    { id: 'state-filter' },
    h('option', { value: '' }, 'every state'),
    [...STATES, 'discovered'].map((s) => h('option', { value: s, selected: machineFilter.state === s }, s)),
  );
  const reinstall = h('button', { id: 'reinstall-selected', class: 'danger', type: 'button' });
  const notice = h('div', { id: 'reinstall-result' }, lastJobView());
  const dialog = h('dialog', { id: 'enrol-dialog' });
  const body = h('div', { class: 'scroll machines' });
  const drawSelection = () => {
    reinstall.textContent = `Reinstall now (${selected.size})`;
    reinstall.disabled = selected.size === 0;
  };
  reinstall.addEventListener('click', () => reinstallSelected(nodesByMac));

  const openEnrol = (n, line) => {
    dialog.replaceChildren(
      h('h2', {}, `Enrol ${n.hostname || n.mac}`),
      enrolForm(n.mac, images, { hostname: n.hostname }, async () => {
        dialog.close();
        await page.render();
      }),
      h('div', { class: 'actions' }, h('button', { type: 'button', id: 'enrol-cancel', onclick: () => dialog.close() }, 'Cancel')),
    );
    if (line && line.inspected) dialog.prepend(h('p', { class: 'muted' }, `${line.vendor || '?'} ${line.product || ''}, serial ${line.serial.value || '-'}`));
    dialog.showModal();
  };

  const draw = () => {
    const q = machineFilter.text.toLowerCase();
    const rows = all.nodes.filter((n) => {
      const line = lines.get(n.mac);
      if (machineFilter.state === 'discovered' ? !isDiscovered.has(n.mac) : machineFilter.state && n.state !== machineFilter.state) return false;
      const words = [n.mac, n.hostname, n.lastIp, n.profile, line?.vendor, line?.product, line?.serial.value];
      return !q || words.some((v) => v && v.toLowerCase().includes(q));
    });
    body.replaceChildren(
      rows.length === 0
        ? h('p', { class: 'muted' }, all.nodes.length === 0 ? 'No machine has booted from pxe-pilot yet.' : 'No machine matches.')
        : table(
            ['', '', 'State', 'Hostname', 'MAC', 'Power', 'Vendor', 'Model', 'Serial', 'CPU', 'Memory', 'Disks', 'Switch port', 'Profile', 'Last seen'],
            rows.map((n) => {
              const line = lines.get(n.mac) || { serial: null, disks: [], power: null };
              const stop = (ev) => ev.stopPropagation();
              const pick = h('input', { type: 'checkbox', class: 'pick', 'aria-label': `select ${n.mac}`, checked: selected.has(n.mac), onclick: stop });
              pick.addEventListener('change', () => (pick.checked ? selected.add(n.mac) : selected.delete(n.mac), drawSelection()));
              const action = line.enrolment
                ? h(
                    'button',
                    { type: 'button', class: 'unenrol', onclick: async (ev) => (stop(ev), (await unenrol(n.mac, n.hostname || n.mac)) && page.render()) },
                    'Unenrol',
                  )
                : h('button', { type: 'button', class: 'enrol', onclick: (ev) => (stop(ev), openEnrol(n, line)) }, 'Enrol');
              return {
                attrs: { class: 'link', 'data-mac': n.mac, onclick: () => (location.hash = `#/machine/${n.mac}`) },
                cells: [
                  h('td', { onclick: stop }, pick),
                  h('td', { onclick: stop }, action),
                  h('span', {}, stateBadge(n.state), isDiscovered.has(n.mac) ? [' ', stateBadge('discovered')] : null),
                  n.hostname || '-',
                  h('span', { class: 'mono' }, n.mac),
                  h('td', { class: 'power-cell' }, powerCell(line.power)),
                  line.vendor || '-',
                  line.product || '-',
                  h('td', { class: 'serial' }, identity(line.serial)),
                  h('td', { title: (line.cpu && line.cpu.model) || '' }, cpuText(line.cpu)),
                  line.memoryBytes === null || line.memoryBytes === undefined ? '-' : size(line.memoryBytes),
                  h('td', { title: line.disks.map((d) => `${d.name} ${size(d.sizeBytes)}${d.model ? ` ${d.model}` : ''}`).join(', ') }, diskText(line.disks)),
                  h('td', { class: 'switch-port' }, switchPortText(line.switchPort)),
                  n.profile || '-',
                  ago(n.lastSeen),
                ],
              };
            }),
            true,
          ),
    );
  };
  search.addEventListener('input', () => ((machineFilter.text = search.value), draw()));
  select.addEventListener('change', () => ((machineFilter.state = select.value), page.render()));
  draw();
  drawSelection();
  return [h('h1', {}, `Machines (${all.total})`), counts, h('div', { class: 'toolbar' }, search, select, reinstall), notice, body, dialog];
}
