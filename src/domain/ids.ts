/**
 * Ids inside the gateway. Every 64-bit id (snowflakes, and millisecond
 * timestamps on the wire) is a decimal string: JavaScript numbers lose
 * precision past 2^53, and protobufjs silently writes 0 for a bigint.
 */

/** A snowflake or other 64-bit unsigned value, as a decimal string. */
export type Id = string;

/** Largest snowflake: ids stay positive as a Postgres bigint. */
const MAX_SNOWFLAKE = 0x7fff_ffff_ffff_ffffn;

/** True for a decimal string that can be a snowflake (1 to 2^63-1). */
export function isSnowflake(id: string): boolean {
  if (!/^[1-9][0-9]{0,18}$/.test(id)) return false;
  return BigInt(id) <= MAX_SNOWFLAKE;
}

/** Snowflake worker ids are 10 bits: 0 to MAX_WORKER_ID (layout: services/snowflake.ts). */
export const MAX_WORKER_ID = 1023;
