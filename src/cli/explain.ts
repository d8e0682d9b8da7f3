// pxe-pilot explain <mac>: read from where the state lives. SQLite: the appliance's own file (all
// of its log). PostgreSQL: the fleet's shared tables, so the story includes what every appliance
// recorded (a machine installed through A and booting through B is one timeline).
import pg from 'pg';
import type { Profile } from '../config/profile.ts';
import { dhcpFacts, explainMac, type ExplainOptions } from '../explain.ts';
import { clientConfig, shownUrl } from '../store/postgres/connect.ts';
import { readHistory } from '../store/postgres/history.ts';
import { Store } from '../store/store.ts';
import { macArgument, wholeNumber } from './arguments.ts';
import { CliError, EXIT_FAILED, type CommandContext } from './command.ts';
import { profileFor } from './profile.ts';

export async function explainCommand({ values, operands, out }: CommandContext<{ config?: string; limit?: string }>): Promise<number> {
  const mac = macArgument(operands[0]!);
  const limit = wholeNumber('--limit', values.limit, 1, 1000, undefined);
  // Only the state folder matters here: do not insist that [server] interface exists.
  const profile = profileFor(values, { offline: true });
  const dhcp = dhcpFacts(profile);
  out.write(await explainFromProfile(profile, mac, limit === undefined ? { dhcp, settings: profile } : { limit, dhcp, settings: profile }));
  return 0;
}

export async function explainFromProfile(profile: Profile, mac: string, options: ExplainOptions = {}): Promise<string> {
  if (profile.store.backend === 'sqlite') {
    let store: Store;
    try {
      store = Store.open(profile.server.stateDir);
    } catch (err) {
      // "cannot read and write … as <account> (EACCES): …" from the store, or SQLite's own reason.
      throw new CliError((err as Error).message, EXIT_FAILED, { cause: err });
    }
    try {
      return explainMac(store, mac, options);
    } finally {
      store.close();
    }
  }
  const db = new pg.Client(clientConfig(profile.store));
  try {
    await db.connect();
    return explainMac(await readHistory(db, mac), mac, options);
  } catch (err) {
    throw new CliError(`PostgreSQL at ${shownUrl(profile.store.url)}: ${(err as Error).message}`, EXIT_FAILED, { cause: err });
  } finally {
    await db.end().catch(() => undefined);
  }
}
