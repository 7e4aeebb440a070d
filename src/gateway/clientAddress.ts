/** Where a client connects from: its address and geo, from the socket or from headers the operator's proxy sets. */
import type { IncomingMessage } from 'node:http';
import { NO_GEO, type Geo } from '../domain/device.js';

/** Longest geo header value kept. */
const GEO_MAX = 64;

/** The client address: from the operator's proxy header when configured, else the socket. */
export function clientIp(req: IncomingMessage, header: string | undefined): string {
  if (header) {
    const value = req.headers[header.toLowerCase()];
    const first = (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim();
    if (first) return first.slice(0, 64);
  }
  return req.socket.remoteAddress ?? '';
}

/** Geo only from headers the operator named (set by their proxy); never guessed. */
export function clientGeo(req: IncomingMessage, countryHeader: string | undefined, regionHeader: string | undefined): Geo {
  const pick = (name: string | undefined) => {
    if (!name) return undefined;
    const value = req.headers[name.toLowerCase()];
    const first = Array.isArray(value) ? value[0] : value;
    const trimmed = first?.trim().slice(0, GEO_MAX);
    return trimmed ? trimmed : undefined;
  };
  const country = pick(countryHeader);
  const region = pick(regionHeader);
  if (!country && !region) return NO_GEO;
  return { ...(country ? { country } : {}), ...(region ? { region } : {}) };
}
