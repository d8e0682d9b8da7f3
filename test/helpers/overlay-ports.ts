// A real in-memory Store with inventories and enrolments laid over its nodes, until the store keeps
// them itself: the boot ports a resolution takes, with in-memory agent sessions.
import type { Enrolment, NodeInventory, NodeRecord, BootPorts } from '../../src/boot/ports.ts';
import { Store } from '../../src/store/store.ts';
import { MemoryAgentSessions } from './agent-sessions.ts';

export class OverlayNodes {
  readonly store = Store.open(':memory:');
  readonly sessions = new MemoryAgentSessions();
  readonly inventories = new Map<string, NodeInventory>();
  readonly enrolments = new Map<string, Enrolment>();

  private withOverlay(node: NodeRecord | undefined): NodeRecord | undefined {
    if (!node) return undefined;
    return { ...node, inventory: this.inventories.get(node.mac) ?? null, enrolment: this.enrolments.get(node.mac) ?? null };
  }

  getNode(mac: string): NodeRecord | undefined {
    return this.withOverlay(this.store.getNode(mac));
  }

  ports(replace: Partial<BootPorts> = {}): BootPorts {
    return {
      getNode: (mac) => this.getNode(mac),
      sawNode: (mac, facts, armed) => this.withOverlay(this.store.sawNode(mac, facts, armed))!,
      applyChange: async (mac, change) => this.withOverlay(await this.store.applyChange(mac, change)),
      record: (event) => this.store.record(event),
      listNodes: (limit, offset) => this.store.listNodes(limit, offset).map((n) => this.withOverlay(n)!),
      mint: (mac) => this.sessions.mint(mac),
      check: (mac, token) => this.sessions.check(mac, token),
      ...replace,
    };
  }

  close(): void {
    this.store.close();
  }
}
