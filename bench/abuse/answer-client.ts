// Machines of the kill -9 storm that install: for each MAC, the boot script (iPXE's request) and,
// when it is the installer, the Proxmox answer request that consumes the one-shot install.
// Prints "INSTALLER <mac>" when a boot script served the installer and "SERVED <mac>" when an
// answer came back 200. Run inside the storm namespace by bench/abuse/kill9-storm.ts.
//   node --import tsx bench/abuse/answer-client.ts <base URL> <mac,mac,...> [concurrency]
const [base = '', list = '', concurrency = '8'] = process.argv.slice(2);
const macs = list.split(',').filter(Boolean);
let next = 0;

async function machine(mac: string): Promise<void> {
  const boot = await fetch(`${base}/boot?mac=${mac}&arch=x86_64&platform=pcbios`);
  const script = await boot.text();
  if (!/\bkernel /.test(script)) return;
  process.stdout.write(`INSTALLER ${mac}\n`);
  const body = { product: { product: 'pve' }, iso: { release: '9.1', isorelease: '1' }, network_interfaces: [{ link: 'eno1', mac }] };
  const r = await fetch(`${base}/answer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await r.text();
  if (r.status === 200) process.stdout.write(`SERVED ${mac}\n`);
}

async function worker(): Promise<void> {
  while (next < macs.length) await machine(macs[next++]!).catch(() => undefined);
}
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
