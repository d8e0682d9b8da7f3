// What GET /nodes/<mac> adds about a machine's settings: where they come from (host section,
// enrolment or rule, src/boot/settings.ts) and whether it is a discovered machine to enrol.
import type { NodeDirectory } from '../boot/ports.ts';
import { censusOf, isDiscovered, settingsFor, settingsFromView, type SettingsProfile } from '../boot/settings.ts';

export function nodeSettingsView(profile: SettingsProfile, store: Pick<NodeDirectory, 'getNode' | 'listNodes'>, mac: string) {
  const node = store.getNode(mac);
  const settings = settingsFor(
    mac,
    node,
    profile,
    censusOf(() => store.listNodes(Number.MAX_SAFE_INTEGER)),
  );
  return { settingsFrom: settingsFromView(settings), discovered: isDiscovered(node, settings) };
}
