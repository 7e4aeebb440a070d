/** Counting what a burst of requests got back. */
import type { RpcResult } from '../../src/client/client.js';

/** The error code of each answer (0 for a success). */
export const codes = (results: RpcResult[]): number[] => results.map((r) => r.error?.error_code ?? 0);

/** How many answers carry `code` (0: how many succeeded). */
export const count = (results: RpcResult[], code: number): number => codes(results).filter((c) => c === code).length;
