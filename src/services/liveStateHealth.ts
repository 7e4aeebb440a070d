/**
 * Whether this instance may believe what the live state (Redis) says, and
 * the one log line for its failures.
 *
 * A tombstone is always believed (refusing is safe). A valid entry is
 * believed only while the live state is known to be caught up with Postgres:
 * after its connection was lost, Redis may come back from an older snapshot
 * holding entries of sessions revoked since, so every valid entry is doubted
 * (Authorize reads Postgres) until revocations.ts has re-applied the
 * revocations the store may have lost. A read that began before a loss is
 * doubted too: `generation` tells.
 */
import type { Logger } from '../logger.js';

/** At most one "live state unavailable" line this often (with the number of failures since the last). */
const FAILURE_LOG_MS = 10_000;

export class LiveStateHealth {
  private failures = 0;
  private failureLoggedAt = 0;
  private caughtUp = false;
  /** Bumped at every loss of the connection: a read that began under an older generation is doubted. */
  private generationNow = 0;

  constructor(private readonly log: Logger) {}

  /** The generation a read begins under (pass it to `believes` when it ends). */
  get generation(): number {
    return this.generationNow;
  }

  /** True when a valid entry read under `generation` may be believed. */
  believes(generation: number): boolean {
    return this.caughtUp && generation === this.generationNow;
  }

  /** The connection was lost: doubt every valid entry until `caughtUpAt` says otherwise. */
  lost(): void {
    this.caughtUp = false;
    this.generationNow++;
  }

  /** The live state holds every revocation Postgres had when `generation` began (no loss since). */
  caughtUpAt(generation: number): void {
    if (generation === this.generationNow) this.caughtUp = true;
  }

  /**
   * A live-state command failed and Postgres answers instead. Logged at most
   * every FAILURE_LOG_MS with the count since, not once per request: an
   * outage fails every request.
   */
  failed(err: unknown): void {
    this.failures++;
    const now = Date.now();
    if (now - this.failureLoggedAt < FAILURE_LOG_MS) return;
    this.log.warn({ err: (err as Error)?.message, failures: this.failures }, 'live state unavailable; using Postgres');
    this.failures = 0;
    this.failureLoggedAt = now;
  }
}
