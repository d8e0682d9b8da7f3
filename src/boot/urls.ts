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

/** Where our HTTPS listener is, as the profile says. */
export interface TlsAddress extends ServerAddress {
  https: { enabled: boolean; port: number };
}

/** Base URL of our HTTPS listener, e.g. https://10.0.0.1 */
export function httpsBase(profile: TlsAddress): string {
  const port = profile.https.port === 443 ? '' : `:${profile.https.port}`;
  return `https://${profile.server.address}${port}`;
}

/** Base URL for what carries secrets (answers, the webhook, NoCloud, preseed): HTTPS whenever it runs. */
export function answerBase(profile: TlsAddress): string {
  return profile.https.enabled ? httpsBase(profile) : httpBase(profile);
}
