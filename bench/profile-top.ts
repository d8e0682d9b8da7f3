// Summarises a V8 CPU profile (node --cpu-prof): the functions with the most self time, and the
// share of idle, GC and native ("(program)") time. For the "why" of a benchmark row that misses its aim.
//   node --import tsx bench/profile-top.ts FILE.cpuprofile [TOP=15]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg = '15'] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-top.ts FILE.cpuprofile [TOP]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const frame = byId.get(id)?.callFrame;
  if (!frame) return;
  const where = frame.url ? `${relative(process.cwd(), frame.url.replace(/^file:\/\//, ''))}:${frame.lineNumber + 1}` : '';
  const key = `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
  selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
});
const busy = total - (selfUs.get('(idle)') ?? 0);
const pct = (us: number, of: number): string => `${((100 * us) / of).toFixed(1)}%`;
console.log(`profile ${(total / 1e6).toFixed(2)} s, busy ${(busy / 1e6).toFixed(2)} s (${pct(busy, total)}); shares below are of the busy time`);
for (const [key, us] of [...selfUs]
  .filter(([k]) => k !== '(idle)')
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(topArg))) {
  console.log(`${pct(us, busy).padStart(6)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
}
