/** Shared by the admin commands: argument checks, user lookup, and snowflake ids on a leased worker id. */
import { RpcError } from '../protocol/errorCodes.js';
import { createLogger } from '../logger.js';
import { isSnowflake } from '../domain/ids.js';
import { SnowflakeGenerator } from '../services/snowflake.js';
import { WorkerLease } from '../store/workerLease.js';
import { displayName } from '../methods/validate.js';
import { UsageError, type AdminContext, type ParsedArgs } from './command.js';

/**
 * Runs `work` with a snowflake generator on a worker id leased from Postgres
 * (`worker_leases`, as gateways without WORKER_ID do), released after. Always
 * leased, never WORKER_ID: the CLI reads the gateway's environment, and
 * reusing a running gateway's pinned worker id could repeat its ids.
 */
export async function withIds<T>(ctx: AdminContext, work: (ids: SnowflakeGenerator) => Promise<T>): Promise<T> {
  const log = createLogger({ level: 'warn', pretty: false, destination: process.stderr });
  const lease = await WorkerLease.acquire(ctx.db, log);
  try {
    return await work(new SnowflakeGenerator({ workerId: lease.workerId }));
  } finally {
    await lease.release();
  }
}

/** A decimal snowflake id from the command line (usage error otherwise). */
export function idArg(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`${what} is required`);
  if (!isSnowflake(value)) throw new UsageError(`${what} must be a decimal id, got ${JSON.stringify(value)}`);
  return value;
}

/** An optional id flag. */
export function optionalIdFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags.get(name);
  return value === undefined ? undefined : idArg(value, `--${name}`);
}

/** A display name (same rules as sign-up: 1 to 64 visible characters). */
export function nameArg(value: string, what: string): string {
  try {
    return displayName(value, what);
  } catch (err) {
    if (err instanceof RpcError) throw new UsageError(err.message);
    throw err;
  }
}

/** `--limit N` (1 to 10 000, default 100). */
export function limitFlag(args: ParsedArgs): number {
  const raw = args.flags.get('limit');
  if (raw === undefined) return 100;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit must be 1 to 10000');
  return limit;
}

/** Fails (exit 1) when the user does not exist. */
export async function requireUser(ctx: AdminContext, userId: string): Promise<{ id: string; name: string }> {
  const { rows } = await ctx.db.query<{ id: string; name: string }>(`SELECT id, name FROM users WHERE id = $1`, [userId]);
  if (!rows[0]) throw new Error(`unknown user id ${userId}`);
  return rows[0];
}
