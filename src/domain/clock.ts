/**
 * The time, as every service reads it: Unix milliseconds. Injected (a
 * service's `clock` dependency) so that what expires (idle sessions, sign-in
 * proofs, TOTP steps, email codes in memory) can be tested in milliseconds
 * with a clock the test moves. Redis and Postgres keep their own time.
 */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
