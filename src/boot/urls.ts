// The URLs machines are sent to.
import type { Profile } from '../config/profile.ts';

/** Base URL of our HTTP service as clients see it, e.g. http://10.0.0.1:8080 */
export function httpBase(profile: Pick<Profile, 'server' | 'http'>): string {
  const port = profile.http.port === 80 ? '' : `:${profile.http.port}`;
  return `http://${profile.server.address}${port}`;
}
