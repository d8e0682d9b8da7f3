// Plain HTTP on purpose: [http] also_listen (more plain listeners, for ISOs with
// http://host:8080/answer baked in) checked against the other listeners before anything binds.
import { listenAddress } from './values.ts';
import type { Profile } from './profile.ts';

export interface PlainHttpProblemSink {
  problem(section: string, key: string, value: unknown, message: string): void;
}

/** Two listeners on one address and port cannot both bind: each also_listen item must be free of the others. */
export function checkAlsoListen(p: Profile, v: PlainHttpProblemSink): void {
  const taken = new Map<string, string>();
  const clash = (a: { address: string; port: number }, b: { address: string; port: number }): boolean =>
    a.port === b.port && (a.address === b.address || a.address === '0.0.0.0' || b.address === '0.0.0.0');
  const listeners: [string, { address: string; port: number }][] = [['[http] port', { address: p.http.bind, port: p.http.port }]];
  if (p.https.enabled) listeners.push(['[https] port', { address: p.http.bind, port: p.https.port }]);
  for (const item of p.http.alsoListen) {
    const at = listenAddress(item, p.http.bind);
    const other = listeners.find(([, l]) => clash(l, at));
    if (other) v.problem('http', 'also_listen', item, `${at.address}:${at.port} is already ${other[0]}'s; pick another port`);
    else if (taken.has(`${at.address}:${at.port}`)) v.problem('http', 'also_listen', item, 'written twice');
    taken.set(`${at.address}:${at.port}`, item);
    listeners.push([`also_listen ${item}`, at]);
  }
}
