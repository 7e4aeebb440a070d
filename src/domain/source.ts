/** Where a request comes from: what per-address limits count by, and what the audit trail and notice mails show. */
import type { DeviceInfo, Geo } from './device.js';
import type { Id } from './ids.js';

export interface RequestOrigin {
  /** The client address (from the proxy header when configured), as the audit trail and logs show it. */
  ip: string;
  /**
   * What per-address limits and caps count by: the IPv4 address itself, or
   * the IPv6 network (IPV6_PREFIX_LENGTH bits, /64 by default) around it,
   * since every IPv6 customer is given a whole /64 to pick addresses from.
   */
  network: string;
  /** The signed-in session and its user, or null. */
  sessionId: Id | null;
  userId: Id | null;
  device: DeviceInfo;
  geo: Geo;
}
