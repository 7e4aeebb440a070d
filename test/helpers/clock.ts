/**
 * A clock a test moves: the gateway's services read it (startGateway gives
 * each gateway one), so what expires (sign-in proofs, idle sessions, codes
 * kept in memory) is tested without waiting. Redis and Postgres keep their
 * own time, and so do snowflake ids.
 */
export interface TestClock {
  (): number;
  /** Moves the clock `ms` forward (from then on, every reading is that much later). */
  advance(ms: number): void;
  /** Back to the real time. */
  reset(): void;
}

export function testClock(): TestClock {
  let offset = 0;
  const clock = (() => Date.now() + offset) as TestClock;
  clock.advance = (ms) => {
    offset += ms;
  };
  clock.reset = () => {
    offset = 0;
  };
  return clock;
}
