/** Counting what a burst of requests got back. */
import assert from 'node:assert/strict';
import type { RpcResult } from '../../src/client/client.js';

/** The error code of each answer (0 for a success). */
export const codes = (results: RpcResult[]): number[] => results.map((r) => r.error?.error_code ?? 0);

/** How many answers carry `code` (0: how many succeeded). */
export const count = (results: RpcResult[], code: number): number => codes(results).filter((c) => c === code).length;

/**
 * Asserts that `result` is an RPCError with `code` (and, when given, a message
 * equal to or matching `message`).
 */
export function assertRpcError(result: RpcResult, code: number, message?: string | RegExp): void {
  assert.ok(result.error, `expected error ${code}${message ? ` (${String(message)})` : ''}, got a result: ${JSON.stringify(Object.keys(result).filter((k) => k !== 'req_id'))}`);
  assert.equal(result.error.error_code, code, `error code (message: ${result.error.error_message})`);
  if (typeof message === 'string') assert.equal(result.error.error_message, message);
  else if (message) assert.match(result.error.error_message ?? '', message);
}
