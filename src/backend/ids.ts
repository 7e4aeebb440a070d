/**
 * Ids at the protobuf boundary of the backend helper. Ids are decimal strings
 * in the helper's API (as pg returns bigint columns and as the gateway keeps
 * them): protobufjs reads fixed64 as Long and silently writes 0 for a JS
 * bigint, so every id goes through here on its way in and out.
 */
import Long from 'long';

/** A snowflake or other 64-bit unsigned id, as a decimal string ("0" = none). */
export type Id = string;

/** Converts a decoded fixed64 (Long, or a number when small) to a decimal id. */
export function idFromWire(value: Long | number | null | undefined): Id {
  if (value === null || value === undefined) return '0';
  if (typeof value === 'number') return String(value);
  return Long.fromValue(value).toUnsigned().toString();
}

/** Converts an id (decimal string or bigint) to the Long protobufjs writes; throws on anything else. */
export function idToWire(id: Id | bigint): Long {
  const text = typeof id === 'bigint' ? id.toString() : id;
  if (!/^(0|[1-9][0-9]{0,19})$/.test(text) || BigInt(text) > 0xffff_ffff_ffff_ffffn) throw new TypeError(`not a 64-bit unsigned id: ${JSON.stringify(String(id))}`);
  return Long.fromString(text, true);
}
