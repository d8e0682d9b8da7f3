// A machine's page: its facts and where its settings come from, its enrolment, its power with the
// BMC's actions, the actions on its install, the inventory the agent reported, and its timeline.
import { h, api, page, problem, ago, size, when, stateBadge, clock, table, facts, confirmed, deployTable } from './ui.js';
import { identity, enrolForm, unenrol, switchPortText, reinstallProgress } from './machines.js';

const yesNo = (b) => (b === null || b === undefined ? '-' : b ? 'yes' : 'no');
const joined = (...parts) => parts.filter((p) => p !== null && p !== undefined && p !== '').join(' ') || '-';

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

/** The inventory as the agent reported it: system, boot, CPUs and memory as facts; DIMMs, disks and NICs as tables. */
function inventorySection(inventory) {
  if (!inventory)
    return [
      h('h2', {}, 'Inventory'),
      h('p', { class: 'muted', id: 'no-inventory' }, 'Not inspected yet: action = inspect (or [boot] unknown = inspect) boots the inspection agent.'),
    ];
  const d = inventory.document;
  const s = d.system;
  const missing = [
    ...d.missing.drivers.map((m) => `${m.kind} device ${m.pciAddress} (${m.vendorId || '?'}:${m.deviceId || '?'}): no driver in the agent`),
    ...d.missing.firmware.map((f) => `firmware ${f}: not in the agent`),
  ];
  return [
    h('h2', {}, 'Inventory'),
    h(
      'p',
      { class: 'muted' },
      `Reported ${ago(new Date(inventory.reportedAt).toISOString())} (${when(new Date(inventory.reportedAt).toISOString())}) by ${d.agent.version || 'the agent'}.`,
    ),
    h(
      'div',
      { class: 'grid', id: 'inventory' },
      h(
        'section',
        { class: 'panel', id: 'inventory-system' },
        h('h3', {}, 'System'),
        facts([
          ['Vendor', s.vendor],
          ['Product', s.product],
          ['Serial', s.serial],
          ['UUID', s.uuid && h('span', { class: 'mono' }, s.uuid)],
          ['SKU / family', joined(s.sku, s.family && `/ ${s.family}`)],
          ['Board', joined(s.board.vendor, s.board.product, s.board.serial && `(serial ${s.board.serial})`)],
          ['BIOS', joined(s.bios.vendor, s.bios.version, s.bios.date && `(${s.bios.date})`)],
          ['Chassis', joined(s.chassis.type !== null && `type ${s.chassis.type}`, s.chassis.serial && `serial ${s.chassis.serial}`)],
        ]),
      ),
      h(
        'section',
        { class: 'panel', id: 'inventory-platform' },
        h('h3', {}, 'Boot, CPUs, memory, BMC'),
        facts([
          ['Boot mode', h('span', { id: 'boot-mode' }, d.boot.mode === 'uefi' ? 'UEFI' : 'BIOS')],
          ['Secure Boot', d.boot.secureBoot === null ? 'unknown' : d.boot.secureBoot ? 'on' : 'off'],
          ['CPU', d.cpus.model],
          ['Sockets / cores / threads', `${d.cpus.sockets ?? '?'} / ${d.cpus.cores ?? '?'} / ${d.cpus.threads ?? '?'}`],
          ['Memory', h('span', { id: 'memory-total' }, d.memory.totalBytes === null ? '-' : `${size(d.memory.totalBytes)} (${d.memory.totalBytes} bytes)`)],
          ['BMC', d.bmc ? joined(d.bmc.ip, d.bmc.mac && `(${d.bmc.mac})`) : 'none found'],
        ]),
      ),
    ),
    h('h3', {}, 'Disks'),
    d.disks.length
      ? h(
          'div',
          { id: 'inventory-disks' },
          table(
            ['Name', 'Size', 'Bytes', 'Model', 'Serial', 'WWN', 'Kind', 'Transport', 'Removable'],
            d.disks.map((x) => ({
              attrs: { 'data-disk': x.name },
              cells: [
                h('b', {}, x.name),
                size(x.sizeBytes),
                x.sizeBytes,
                x.model || '-',
                h('span', { class: 'mono' }, x.serial || '-'),
                h('span', { class: 'mono' }, x.wwn || '-'),
                x.rotational === null ? '?' : x.rotational ? 'HDD' : 'SSD',
                x.transport,
                yesNo(x.removable),
              ],
            })),
          ),
        )
      : h('p', { class: 'muted' }, 'No disk.'),
    h('h3', {}, 'Network interfaces'),
    d.nics.length
      ? h(
          'div',
          { id: 'inventory-nics' },
          table(
            ['Name', 'MAC', 'Driver', 'PCI', 'Link', 'Speed', 'Switch', 'Switch port'],
            d.nics.map((n) => ({
              attrs: { 'data-nic': n.mac },
              cells: [
                h('b', {}, n.name),
                h('span', { class: 'mono' }, n.mac),
                n.driver || '-',
                h('span', { class: 'mono' }, n.pciAddress || '-'),
                n.link,
                n.speedMbps === null ? '-' : n.speedMbps >= 1000 ? `${n.speedMbps / 1000} Gb/s` : `${n.speedMbps} Mb/s`,
                n.lldp ? joined(n.lldp.systemName, n.lldp.chassisId && `(${n.lldp.chassisId})`) : '-',
                n.lldp ? joined(n.lldp.portId, n.lldp.portDescription && `(${n.lldp.portDescription})`) : '-',
              ],
            })),
          ),
        )
      : h('p', { class: 'muted' }, 'No network interface.'),
    d.memory.dimms.length
      ? [
          h('h3', {}, 'Memory modules'),
          table(
            ['Slot', 'Size', 'Type', 'Speed', 'Manufacturer', 'Part', 'Serial'],
            d.memory.dimms.map((m) => ({
              cells: [
                m.locator || '-',
                size(m.sizeBytes),
                m.type || '-',
                m.speedMts ? `${m.speedMts} MT/s` : '-',
                m.manufacturer || '-',
                m.partNumber || '-',
                m.serial || '-',
              ],
            })),
          ),
        ]
      : null,
    missing.length
      ? [
          h('h3', {}, 'Missing in the agent'),
          h(
            'ul',
            { class: 'error' },
            missing.map((m) => h('li', {}, m)),
          ),
        ]
      : null,
  ];
}

/** Where the machine's settings come from, as GET /nodes/<mac> says. */
function settingsText(from) {
  if (!from) return '-';
  const source =
    { host: 'its [host] section', enrolment: 'its enrolment', rule: `rule ${from.rule || '?'}`, none: 'nothing (defaults)' }[from.source] || from.source;
  return h('span', { id: 'settings-from', 'data-source': from.source }, h('b', {}, source), from.reason ? h('div', { class: 'muted' }, from.reason) : null);
}

/** Power: the known state at once; status asks the BMC now (no confirmation), every change asks first. */
function powerPanel(mac, label, known) {
  const state = h('span', { id: 'power-state' });
  const detail = h('div', { id: 'power-detail', class: 'muted' });
  const message = h('div', { id: 'power-message' });
  const show = (v) => {
    state.replaceChildren(h('span', { class: `state power-${v.error ? 'error' : v.state}` }, v.state));
    detail.replaceChildren(
      h('span', {}, `BMC ${v.bmc}; `, v.checkedAt ? `read ${ago(v.checkedAt)}` : 'not read yet'),
      h('div', { class: 'error', id: 'power-error', hidden: !v.error }, v.error ? v.error.message : ''),
    );
  };
  if (!known)
    return h(
      'section',
      { class: 'panel', id: 'power' },
      h('h2', {}, 'Power'),
      h('p', { class: 'muted' }, 'No BMC: name one with bmc = ipmi://… | redfish://… | wol in its [host] section or its enrolment.'),
    );
  show(known);
  const run = async (action) => {
    const ask = () => (action === 'status' ? api('GET', `/nodes/${mac}/power`) : api('POST', `/nodes/${mac}/power`, { action }));
    const result = action === 'status' ? await ask().catch((err) => (problem(err.message), null)) : await confirmed(`Power ${action} ${label}?`, ask);
    if (!result) return;
    show(result);
    message.textContent = result.message;
    message.className = result.ok ? '' : 'error';
  };
  const button = (action, cls) => h('button', { type: 'button', id: `power-${action}`, class: cls, onclick: () => run(action) }, action);
  if (!known.checkedAt) void run('status');
  return h(
    'section',
    { class: 'panel', id: 'power' },
    h('h2', {}, 'Power'),
    h('p', {}, 'State: ', state),
    detail,
    h('div', { class: 'actions' }, button('status'), button('on'), button('off', 'danger'), button('cycle', 'danger'), button('reset', 'danger')),
    message,
  );
}

function enrolmentPanel(node, images) {
  const e = node.enrolment;
  const label = node.hostname || (node.enrolment && node.enrolment.hostname) || node.mac;
  return h(
    'section',
    { class: 'panel', id: 'enrolment' },
    h('h2', {}, 'Enrolment'),
    e
      ? [
          facts([
            ['Hostname', e.hostname],
            ['Profile', e.profile],
            ['Action', e.action],
            ['BMC', e.bmc],
            ['Enrolled', `${ago(new Date(e.enrolledAt).toISOString())} by ${e.enrolledBy}`],
          ]),
          h(
            'div',
            { class: 'actions' },
            h('button', { type: 'button', class: 'danger', id: 'unenrol', onclick: async () => (await unenrol(node.mac, label)) && page.render() }, 'Unenrol'),
          ),
          h('h3', {}, 'Change it'),
        ]
      : h('p', { class: 'muted', id: 'not-enrolled' }, 'Not enrolled.'),
    enrolForm(node.mac, images, e ? { ...e } : { hostname: node.hostname }, () => page.render()),
  );
}

/** This page's last "reinstall now": its steps as they happen, then the page drawn again (the state changed). */
let lastJob = null;
function lastJobView(mac) {
  if (!lastJob || !lastJob.machines.some((m) => m.mac === mac)) return null;
  return reinstallProgress(lastJob, (now) => {
    lastJob = now;
    if (now.finished) void page.render();
  });
}

/** This machine's deploy while it is under way, asked again every 2 s until the page is left. */
function deploySection(mac) {
  const body = h('div', { id: 'deploy-progress' });
  const section = h('section', { id: 'deploy', hidden: true }, h('h2', {}, 'Deploy under way'), body);
  const poll = async () => {
    if (!section.isConnected && section.dataset.polled) return;
    section.dataset.polled = '1';
    try {
      const r = await api('GET', `/deploys?mac=${encodeURIComponent(mac)}`);
      section.hidden = r.deploys.length === 0;
      body.replaceChildren(r.deploys.length ? deployTable(r.deploys) : '');
    } catch {
      // The Timeline below still shows the progress events.
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 0);
  return section;
}

export async function machinePage(mac) {
  const [node, images, readout] = await Promise.all([
    api('GET', `/nodes/${encodeURIComponent(mac)}`),
    api('GET', '/images'),
    api('GET', `/machines?mac=${encodeURIComponent(mac)}`),
  ]);
  const line = readout.machines[0] || null;
  const label = node.hostname || (node.enrolment && node.enrolment.hostname) || node.mac;
  const act = (what, method, path, body) => confirmed(`${what} for ${label}?`, () => api(method, path, body)).then((r) => r && page.render());
  const profile = h(
    'select',
    { id: 'rearm-profile' },
    h('option', { value: '' }, node.host && node.host.profile ? `its [host] profile (${node.host.profile})` : 'no profile: the menu'),
    images.images.map((i) => h('option', { value: i.profile, selected: i.profile === node.profile }, i.profile)),
  );
  const script = h('input', { id: 'local-boot-script', placeholder: 'sanboot --no-describe --drive 0x80', value: node.localBoot || '', size: 36 });
  const withProfile = (body) => (profile.value ? { ...body, profile: profile.value } : body);
  return [
    h('h1', {}, h('a', { href: '#/machines' }, 'Machines'), ' / ', label),
    h(
      'div',
      { class: 'grid' },
      h(
        'section',
        { class: 'panel' },
        facts([
          ['State', h('span', {}, stateBadge(node.state), node.discovered ? [' ', stateBadge('discovered')] : null)],
          ['MAC', h('span', { class: 'mono' }, node.mac)],
          ['Hostname', node.hostname || '-'],
          ['Settings from', settingsText(node.settingsFrom)],
          ['Last IP', node.lastIp || '-'],
          ['Firmware / arch', `${node.firmware || '-'} / ${node.arch ?? '-'}`],
          ['Serial', h('span', { id: 'identity-serial' }, identity(line && line.serial))],
          ['UUID', h('span', { id: 'identity-uuid' }, identity(line && line.uuid))],
          ['Switch port', line ? switchPortText(line.switchPort) : '-'],
          ['Profile', node.profile || '-'],
          ['Last seen', ago(node.lastSeen)],
          ['Armed', node.armedAt ? `${ago(node.armedAt)} by ${node.armedBy}` : '-'],
          ['Installed', node.installedAt ? `${ago(node.installedAt)} as ${node.fqdn || '-'}` : '-'],
          ['Local boot', node.localBoot || 'exit (default)'],
        ]),
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
              onclick: () => act(`Re-arm an install${profile.value ? ` of ${profile.value}` : ''}`, 'POST', `/nodes/${node.mac}/reinstall`, withProfile({})),
            },
            'Re-arm install',
          ),
          h(
            'button',
            {
              class: 'danger',
              id: 'reinstall-now',
              disabled: !(line && line.power),
              title: line && line.power ? 'arm, set the next boot to the network, power-cycle' : 'needs a BMC',
              onclick: async () => {
                const question = `Reinstall ${label} now${profile.value ? ` with ${profile.value}` : ''}? It is armed, set to boot from the network once, and power-cycled.`;
                const job = await confirmed(question, () => api('POST', `/nodes/${node.mac}/reinstall`, withProfile({ now: true })));
                if (!job) return;
                lastJob = job;
                await page.render();
              },
            },
            'Reinstall now',
          ),
        ),
        h('div', { id: 'reinstall-progress' }, lastJobView(node.mac)),
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
      powerPanel(node.mac, label, line && line.power),
      enrolmentPanel(node, images),
    ),
    deploySection(node.mac),
    inventorySection(node.inventory || null),
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
