/**
 * Plain objects for application code: 64-bit ids (and millisecond times) as
 * decimal strings instead of protobufjs `Long`s, in both directions.
 * protobufjs would write 0 for a JS bigint and a JS number loses precision
 * past 2^53, so strings are the one safe representation in JavaScript.
 */
import type Long from 'long';
import { osmium } from '../gen/osmium.js';
import type { MethodName } from '../protocol/codec.js';

/** `T` with every Long replaced by a decimal string, recursively. */
export type Plain<T> = T extends Long
  ? string
  : T extends Uint8Array
    ? Uint8Array
    : T extends ReadonlyArray<infer U>
      ? Array<Plain<U>>
      : T extends object
        ? { [K in keyof T]: Plain<T[K]> }
        : T;

type ClientMessageInit = osmium.client.core.ClientMessage.$Properties;
/** A request payload with ids as decimal strings, e.g. `{ session_ids: ['1234'] }`. */
export type PlainRequest<K extends MethodName> = Plain<NonNullable<ClientMessageInit[K]>>;
/** Name of the member set in `RPCResult.result`, e.g. `authorization`. */
export type ResultName = NonNullable<osmium.client.core.RPCResult['result']>;
/** An RPCResult with ids as strings and `result` naming the member that is set (absent for `()`). */
export type PlainResult = Plain<osmium.client.core.RPCResult.$Properties> & { result?: ResultName };
export type PlainUpdate = Plain<osmium.client.updates.Update.$Properties> & { update?: NonNullable<osmium.client.updates.Update['update']> };
export type PlainAuthorization = Plain<osmium.client.auth.Authorization.$Properties>;

/** Conversion used for results: ids as strings, enums as their numbers, oneof names set. */
const RESULT_OPTIONS = { longs: String, oneofs: true } as const;
/** Conversion used for display (the console's log): also enum names and bytes as base64. */
export const DISPLAY_OPTIONS = { longs: String, enums: String, bytes: String, oneofs: true } as const;

/** Builds a ClientMessage from a plain object (decimal-string ids are converted to Long). */
export function clientMessageFrom(object: Record<string, unknown>): osmium.client.core.ClientMessage {
  return osmium.client.core.ClientMessage.fromObject(object);
}

export function plainResult(result: osmium.client.core.RPCResult.$Properties): PlainResult {
  return osmium.client.core.RPCResult.toObject(result as osmium.client.core.RPCResult, RESULT_OPTIONS) as PlainResult;
}

export function plainUpdate(update: osmium.client.updates.Update.$Properties): PlainUpdate {
  return osmium.client.updates.Update.toObject(update as osmium.client.updates.Update, RESULT_OPTIONS) as PlainUpdate;
}
