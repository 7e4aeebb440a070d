/**
 * The revocation message that tells every gateway instance to close the
 * sockets of revoked sessions. Written and read only here, so the format has
 * one owner: JSON `{"ids": [session ids], "at": publish time in Unix ms}`.
 * Earlier releases published a bare array of ids; it is still read, so a
 * rolling upgrade keeps working.
 */
import type { Id } from './ids.js';

export interface Revocation {
  /** Revoked session ids. */
  ids: Id[];
  /** When it was published (Unix ms), for the fan-out latency metric; absent in the old format. */
  at?: number;
}

export function encodeRevocation(ids: readonly Id[], at: number = Date.now()): string {
  return JSON.stringify({ ids, at });
}

/** The revocation in a payload, or null when the payload is not one. */
export function decodeRevocation(payload: string): Revocation | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return null;
  }
  const raw = Array.isArray(parsed) ? { ids: parsed } : (parsed as { ids?: unknown; at?: unknown } | null);
  if (!raw || !Array.isArray(raw.ids)) return null;
  const ids = raw.ids.filter((id): id is string => typeof id === 'string');
  return typeof raw.at === 'number' ? { ids, at: raw.at } : { ids };
}
