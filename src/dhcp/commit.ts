// The group commit of the DHCP server: one transaction (one fsync at most) for every request
// read in one turn of the event loop. Shared by the server and bench/dhcp/hot-path.ts.
import type { LeaseLog, NodeWrites } from '../boot/ports.ts';
import type { Handled } from './responder.ts';

/**
 * Commits the batch's lease writes and node sightings; throws when the commit fails (then no reply
 * may leave). The replies may leave once the promise resolves: the leases are on disk.
 */
export function commitBatch(batch: readonly Handled[], leases: LeaseLog, nodes: Pick<NodeWrites, 'sawNode'>): Promise<void> {
  // A batch of OFFERs writes only node sightings (offers live in memory): a power cut may
  // lose them, and the client's next DISCOVER writes them again, so no fsync is waited for.
  // Any lease write (ACK, release, decline) makes the whole batch wait for the disk.
  const durable = batch.some((h) => h.writes.length > 0);
  return leases.commit(
    () => {
      for (const h of batch) {
        for (const w of h.writes) {
          if ('put' in w) leases.put(w.put);
          else leases.delete(w.delete);
        }
        if (h.sighting) nodes.sawNode(h.sighting.mac, h.sighting.facts, h.sighting.armed);
      }
    },
    { durable },
  );
}
