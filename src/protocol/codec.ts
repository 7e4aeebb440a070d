/**
 * Frame codec: bytes to ClientMessage and ServerMessage to bytes, plus the id
 * conversions at the protobuf boundary. Inside the gateway every 64-bit id is a
 * decimal string; protobufjs reads fixed64 as Long and silently writes 0 for a
 * JS bigint, so ids must never reach encode() as bigint.
 */
import Long from 'long';
import type { Id } from '../domain/ids.js';
import { osmium } from '../gen/osmium.js';

export const proto = osmium.client;
export type ClientMessage = osmium.client.core.ClientMessage;
export type ServerMessageInit = osmium.client.core.ServerMessage.$Properties;
export type RpcResultInit = osmium.client.core.RPCResult.$Properties;
/** Name of the `ClientMessage.message` oneof member, e.g. `auth_sign_in`. */
export type MethodName = NonNullable<ClientMessage['message']>;

/** Decodes one client frame; throws on bytes that are not a ClientMessage. */
export function decodeClientMessage(frame: Uint8Array): ClientMessage {
  return proto.core.ClientMessage.decode(frame);
}

export function encodeServerMessage(message: ServerMessageInit): Uint8Array {
  return proto.core.ServerMessage.encode(message).finish();
}

/** Converts a decoded fixed64 (Long, or a number when small) to a decimal id string. */
export function idFromWire(value: Long | number | string | null | undefined): Id {
  if (value === null || value === undefined) return '0';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return value;
  return Long.fromValue(value).toUnsigned().toString();
}

/** Converts a decimal id (or millisecond timestamp) to the Long protobufjs writes as fixed64. */
export function idToWire(value: Id | number): Long {
  return typeof value === 'number' ? Long.fromNumber(value, true) : Long.fromString(value, true);
}
