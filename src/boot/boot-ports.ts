// The ports the boot resolution takes, composed from the node store and the agent sessions: one
// place for HTTP (/boot) and TFTP (GRUB's configuration), so both can boot the inspection agent.
import type { AgentSessions, BootPorts } from './ports.ts';

export function composeBootPorts(store: BootPorts, sessions: AgentSessions | undefined): BootPorts {
  return {
    getNode: (mac) => store.getNode(mac),
    sawNode: (mac, facts, armed) => store.sawNode(mac, facts, armed),
    applyChange: (mac, change) => store.applyChange(mac, change),
    ...(store.reread ? { reread: (mac: string) => store.reread!(mac) } : {}),
    record: (event) => store.record(event),
    ...(store.listNodes ? { listNodes: (limit?: number, offset?: number) => store.listNodes!(limit, offset) } : {}),
    ...(sessions ? { mint: (mac: string) => sessions.mint(mac), check: (mac: string, token: string) => sessions.check(mac, token) } : {}),
  };
}
