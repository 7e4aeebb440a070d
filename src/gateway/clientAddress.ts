/** Where a client connects from: its address and geo, from the socket or from headers the operator's proxy sets. */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import { parseTrustedProxies } from '../config.js';
import { NO_GEO, type Geo } from '../domain/device.js';

/** Longest geo header value kept. */
const GEO_MAX = 64;

/** Reads the client address of an upgrade request. */
export type ClientIpReader = (req: IncomingMessage) => string;

/**
 * The client address. Without `header`: the socket's peer. With it: the
 * header is a list each proxy appends the address it saw to (X-Forwarded-For
 * syntax), and only the entries our own proxies wrote are believed. Walking
 * from the socket towards the client, every hop that is a trusted proxy
 * (`trusted`: the count of proxies in front of the gateway, or their
 * addresses) is skipped; the first address that is not is the client, exactly
 * as Express' `trust proxy` does (proxy-addr). Entries further left were
 * written by the client and are never read, so it cannot choose its address.
 * An entry that is not an IP address (only possible when more hops are
 * trusted than exist) gives the socket's peer instead.
 */
export function clientIpReader(header: string | undefined, trusted: string): ClientIpReader {
  if (!header) return (req) => plainAddress(req.socket.remoteAddress ?? '');
  const name = header.toLowerCase();
  const setting = parseTrustedProxies(trusted);
  if (setting === null) throw new Error(`TRUSTED_PROXIES is malformed: ${trusted}`); // validated by loadConfig
  const trust = typeof setting === 'number' ? (_addr: string, hop: number) => hop < setting : proxyaddr.compile(setting);
  return (req) => {
    const socketAddress = req.socket.remoteAddress ?? '';
    const value = req.headers[name];
    const list = Array.isArray(value) ? value.join(',') : (value ?? '');
    // proxy-addr reads X-Forwarded-For; give it the configured header under that name.
    const found = proxyaddr({ headers: { 'x-forwarded-for': list }, socket: { remoteAddress: socketAddress } } as unknown as IncomingMessage, trust);
    return plainAddress(isIP(found) ? found : socketAddress);
  };
}

/** One spelling per address: an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, from dual-stack sockets) is the IPv4 address. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
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
