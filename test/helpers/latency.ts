/**
 * Bounds on "answers at once" that hold on a loaded machine: a test that wants
 * a refusal within 100 ms compares it with a request the gateway refuses by
 * itself, measured on the same socket at the same moment, so that time the
 * machine takes to schedule the processes is not counted against the code.
 */
import type { OsmiumClient } from '../../src/client/client.js';

/**
 * The slowest of `rounds` round trips of a request the gateway refuses before
 * any work (a malformed invite code: 400 from validation, no Redis, no
 * Postgres, no backend), in milliseconds.
 */
export async function localRoundTripMs(client: OsmiumClient, rounds = 3): Promise<number> {
  let slowest = 0;
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    const result = await client.request('auth_lookup_invite', { code: '!' });
    if (result.error?.error_code !== 400) throw new Error(`expected the malformed invite code to be refused with 400: ${JSON.stringify(result.error)}`);
    slowest = Math.max(slowest, performance.now() - started);
  }
  return slowest;
}

/** `goalMs` on a quiet machine, plus what the machine adds to a local round trip right now (three times its slowest of three). */
export async function atOnceBoundMs(client: OsmiumClient, goalMs = 100): Promise<number> {
  return goalMs + 3 * (await localRoundTripMs(client));
}
