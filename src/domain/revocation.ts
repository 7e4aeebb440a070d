/**
 * The messages that tell every gateway instance to close the sockets of
 * revoked sessions, and the confirmation each instance sends back. Written
 * and read only here, so the format has one owner:
 * - revocation: JSON `{"ids": [session ids], "at": publish time in Unix ms,
 *   "from": publishing instance, "rid": revocation id}`; earlier releases
 *   published a bare array of ids, or `{ids, at}`: both are still read, so a
 *   rolling upgrade keeps working (such messages are simply not confirmed);
 * - confirmation: the `rid` alone, sent to the publishing instance.
 */
import type { Id } from './ids.js';

export interface Revocation {
  /** Revoked session ids. */
  ids: Id[];
  /** When it was published (Unix ms), for the fan-out latency metric. */
  at?: number;
  /** The publishing instance, which waits for confirmations. */
  from?: string;
  /** This revocation's id, echoed in confirmations. */
  rid?: string;
}

export function encodeRevocation(revocation: Revocation): string {
  return JSON.stringify(revocation);
}

/** The revocation in a payload, or null when the payload is not one. */
export function decodeRevocation(payload: string): Revocation | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return null;
  }
  const raw = Array.isArray(parsed) ? { ids: parsed } : (parsed as Record<string, unknown> | null);
  if (!raw || typeof raw !== 'object' || !Array.isArray(raw.ids)) return null;
  const revocation: Revocation = { ids: raw.ids.filter((id): id is string => typeof id === 'string') };
  if (typeof raw.at === 'number') revocation.at = raw.at;
  if (typeof raw.from === 'string' && typeof raw.rid === 'string') {
    revocation.from = raw.from;
    revocation.rid = raw.rid;
  }
  return revocation;
}
