/**
 * Snowflake ids: 64-bit, time-ordered, unique across instances.
 *
 * Layout (most significant first):
 *   1 bit  always 0 (ids stay positive as Postgres bigint)
 *  41 bits milliseconds since EPOCH (2024-01-01T00:00:00Z; lasts until 2093)
 *  10 bits worker id (0-1023): WORKER_ID, or leased from Postgres
 *  12 bits sequence within the millisecond (4096 ids/ms per worker)
 *
 * When a millisecond's sequence is used up, or the clock steps back, the
 * generator waits for the next millisecond instead of repeating an id.
 */
import { MAX_WORKER_ID, type Id } from '../domain/ids.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';

/** A leased worker id (store/workerLease.ts): the id may change; `holds()` is false while it may be another's. */
export interface WorkerIdSource {
  readonly workerId: number;
  holds(): boolean;
}

export const SNOWFLAKE_EPOCH_MS = Date.UTC(2024, 0, 1);
const WORKER_BITS = 10n;
const SEQUENCE_BITS = 12n;
const MAX_SEQUENCE = (1 << Number(SEQUENCE_BITS)) - 1;

export class SnowflakeGenerator {
  private lastMs = -1;
  private sequence = 0;

  private readonly fixedWorkerId: number;
  private readonly lease: WorkerIdSource | undefined;
  private readonly now: () => number;

  constructor(deps: { workerId: number; clock?: () => number; lease?: WorkerIdSource }) {
    this.fixedWorkerId = deps.workerId;
    this.lease = deps.lease;
    this.now = deps.clock ?? Date.now;
    const workerId = this.fixedWorkerId;
    if (!Number.isInteger(workerId) || workerId < 0 || workerId > MAX_WORKER_ID) {
      throw new RangeError(`worker id must be 0-${MAX_WORKER_ID}, got ${workerId}`);
    }
  }

  get workerId(): number {
    return this.lease?.workerId ?? this.fixedWorkerId;
  }

  next(): Id {
    // A lease that may have run out (this process was paused) could be another instance's now: no id from it.
    if (this.lease && !this.lease.holds()) throw new RpcError(ErrorCode.UNAVAILABLE, 'no snowflake worker id held at the moment; retry later');
    let ms = this.now();
    if (ms < this.lastMs) ms = this.waitUntil(this.lastMs);
    if (ms === this.lastMs) {
      this.sequence = (this.sequence + 1) & MAX_SEQUENCE;
      if (this.sequence === 0) ms = this.waitUntil(this.lastMs + 1);
    } else {
      this.sequence = 0;
    }
    this.lastMs = ms;
    const id =
      (BigInt(ms - SNOWFLAKE_EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS)) |
      (BigInt(this.workerId) << SEQUENCE_BITS) |
      BigInt(this.sequence);
    return id.toString();
  }

  /** Busy-waits (at most a millisecond or a clock step) for the clock to reach `ms`. */
  private waitUntil(ms: number): number {
    let now = this.now();
    while (now < ms) now = this.now();
    return now;
  }
}

/** Unix ms at which a snowflake was made. */
export function snowflakeTime(id: Id): number {
  return Number(BigInt(id) >> (WORKER_BITS + SEQUENCE_BITS)) + SNOWFLAKE_EPOCH_MS;
}
