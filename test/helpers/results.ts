/** Reading answers: an expected RPCError, a required success, what a burst of requests got back. */
import assert from 'node:assert/strict';
import type { RpcResult } from '../../src/client/client.js';

/** The error code of an answer (0 for a success). */
export const code = (result: RpcResult): number => result.error?.error_code ?? 0;

/** The error code of each answer (0 for a success). */
export const codes = (results: RpcResult[]): number[] => results.map(code);

/** How many answers carry `code` (0: how many succeeded). */
export const count = (results: RpcResult[], wanted: number): number => codes(results).filter((c) => c === wanted).length;

/**
 * Asserts that `result` is an RPCError with `expected` code (and, when given,
 * a message equal to or matching `message`); `what` names the case in the
 * failure. Returns the message.
 */
export function assertRpcError(result: RpcResult, expected: number, message?: string | RegExp, what?: string): string {
  const about = what ? `${what}: ` : '';
  assert.ok(result.error, `${about}expected error ${expected}${message ? ` (${String(message)})` : ''}, got a result: ${JSON.stringify(Object.keys(result).filter((k) => k !== 'req_id'))}`);
  assert.equal(result.error.error_code, expected, `${about}error code (message: ${result.error.error_message})`);
  if (typeof message === 'string') assert.equal(result.error.error_message, message, `${about}error message`);
  else if (message) assert.match(result.error.error_message ?? '', message, `${about}error message`);
  return result.error.error_message ?? '';
}

/**
 * The answer of a `request()` that must have succeeded; an RPCError throws
 * with its code and message, so the failure says what the gateway refused.
 */
export function ok(result: RpcResult): RpcResult {
  if (result.error) throw new Error(`expected a result, got error ${result.error.error_code}: ${result.error.error_message}`);
  return result;
}
