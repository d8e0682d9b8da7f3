// The URLs machines are sent to.

/** Where our HTTP service is, as the profile says ([server] address, [http] port). */
export interface ServerAddress {
  server: { address: string };
  http: { port: number };
}

/** Base URL of our HTTP service as clients see it, e.g. http://10.0.0.1:8080 */
export function httpBase(profile: ServerAddress): string {
  const port = profile.http.port === 80 ? '' : `:${profile.http.port}`;
  return `http://${profile.server.address}${port}`;
}
