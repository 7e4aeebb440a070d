/**
 * Waiting for an event that has no callback to await (a log line, a key in
 * Redis, a socket closed by another process): poll a condition until it holds,
 * or fail with a message naming what never happened. Tests use this instead of
 * sleeping for a guessed time.
 */

export interface EventuallyOptions {
  /** What is awaited, for the failure message ("the tombstone in Redis"). */
  what: string;
  /** Give up after this long; generous, since a loaded machine is slow but a broken one never gets there. Default 10 s. */
  timeoutMs?: number;
  /** Pause between polls. Default 25 ms. */
  intervalMs?: number;
}

/**
 * Resolves with the first truthy value `condition` returns. A falsy value or
 * a thrown error (an assertion, a refused connection) means "not yet"; after
 * `timeoutMs` it rejects with `what`, the last value and the last error.
 */
export async function eventually<T>(condition: () => T | Promise<T>, options: EventuallyOptions): Promise<NonNullable<T>> {
  const { what, timeoutMs = 10_000, intervalMs = 25 } = options;
  const deadline = Date.now() + timeoutMs;
  let last: { value?: unknown; error?: unknown } = {};
  for (let polls = 1; ; polls++) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) {
      const detail = 'error' in last ? `last error: ${(last.error as Error)?.message ?? String(last.error)}` : `last value: ${JSON.stringify(last.value)}`;
      throw new Error(`timed out after ${timeoutMs} ms (${polls} polls) waiting for ${what}; ${detail}`, { cause: last.error });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves once the wall clock has moved past `ms` (so two events get distinct millisecond timestamps). */
export async function clockPast(ms: number): Promise<void> {
  await eventually(() => Date.now() > ms, { what: `the clock to pass ${ms}`, intervalMs: 1 });
}
