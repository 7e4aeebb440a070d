/**
 * Which web pages may open a socket: the `Origin` check at upgrade
 * (ALLOWED_ORIGINS, parsed in config.ts). Browsers always send `Origin` on a
 * WebSocket upgrade and page scripts cannot change it, so this stops a page on
 * another site from using a visitor's browser against the gateway (cross-site
 * WebSocket hijacking). Native and server clients send no `Origin` and are not
 * browsers: they are let through, as the check cannot bind them anyway.
 *
 * The `Host` header is never taken for the gateway's own origin: a page of a
 * DNS-rebinding attacker reaches the gateway under the attacker's own name,
 * so Host and Origin agree for it. Only configured origins pass, and the
 * console's own page on loopback (`http://localhost:<PORT>` and the loopback
 * addresses), which no other site can be.
 */
import type { OriginPolicy } from '../config.js';

/** True when a socket may open: no `Origin` (not a browser), an allowed origin, or one of `own`. */
export function originAllowed(policy: OriginPolicy, origin: string | undefined, own: ReadonlySet<string>): boolean {
  if (policy.any || origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // `null` (sandboxed or file: pages) and garbage
  }
  return policy.allowed.has(url.origin) || own.has(url.origin);
}

/** The origins of the gateway's own console when it is served on loopback: what a browser on this machine sends. */
export function loopbackConsoleOrigins(port: number): Set<string> {
  return new Set(['localhost', '127.0.0.1', '[::1]'].map((host) => `http://${host}:${port}`));
}

/** One line for the start log. */
export function describeOriginPolicy(policy: OriginPolicy, setting: string | undefined): string {
  if (policy.any) {
    return setting === undefined
      ? 'ALLOWED_ORIGINS is not set: web pages of any origin may open sockets (tokens travel inside the socket, never as cookies, so a page learns nothing it was not given); set it to the origins of your web app'
      : 'ALLOWED_ORIGINS=*: web pages of any origin may open sockets';
  }
  return `web pages may open sockets from: ${[...policy.allowed].join(', ')} (and the console's own page on loopback, when the console is on)`;
}
