/**
 * Which web pages may open a socket: the `Origin` check at upgrade
 * (ALLOWED_ORIGINS, parsed in config.ts). Browsers always send `Origin` on a
 * WebSocket upgrade and page scripts cannot change it, so this stops a page on
 * another site from using a visitor's browser against the gateway (cross-site
 * WebSocket hijacking). Native and server clients send no `Origin` and are not
 * browsers: they are let through, as the check cannot bind them anyway.
 */
import type { OriginPolicy } from '../config.js';

/**
 * True when a socket may open: no `Origin` (not a browser), the gateway's own
 * origin (its console: the page was served by the host it connects to), or an
 * allowed one.
 */
export function originAllowed(policy: OriginPolicy, origin: string | undefined, host: string | undefined): boolean {
  if (policy.any || origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // `null` (sandboxed or file: pages) and garbage
  }
  if (host !== undefined && url.host === host.toLowerCase()) return true;
  return policy.allowed.has(url.origin);
}

/** One line for the start log. */
export function describeOriginPolicy(policy: OriginPolicy, setting: string | undefined): string {
  if (policy.any) {
    return setting === undefined
      ? 'ALLOWED_ORIGINS is not set: web pages of any origin may open sockets; set it to the origins of your web app'
      : 'ALLOWED_ORIGINS=*: web pages of any origin may open sockets';
  }
  return `web pages may open sockets from: ${[...policy.allowed].join(', ')} (and the gateway's own origin)`;
}
