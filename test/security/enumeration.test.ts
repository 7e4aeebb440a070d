/**
 * Enumeration parity: answers that must not reveal whether an account exists
 * have the same code, the same message, and about the same time. Timings are
 * medians over 200 tries each, interleaved so drift hits both sides alike; the
 * bound is tolerant (the goal is 20 %; the measured numbers are printed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OsmiumClient, RpcResult } from '../../src/client/client.js';
import type { MethodName } from '../../src/protocol/codec.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

const TRIES = Number(process.env.PARITY_TRIES ?? 200);
/** Tolerant bound for the suite; the closing note reports the measured ratio against the 20 % goal. */
const TOLERANCE = 0.5;

export interface ParityResult {
  medianA: number;
  medianB: number;
  ratio: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Times two kinds of request alternately; asserts identical answers. */
export async function measureParity<K extends MethodName>(
  client: OsmiumClient,
  method: K,
  a: () => Parameters<OsmiumClient['request']>[1],
  b: () => Parameters<OsmiumClient['request']>[1],
  label: string,
): Promise<ParityResult> {
  const times: [number[], number[]] = [[], []];
  const answers: [RpcResult | undefined, RpcResult | undefined] = [undefined, undefined];
  for (let i = 0; i < TRIES; i++) {
    for (const side of i % 2 ? [1, 0] : [0, 1]) {
      const payload = side === 0 ? a() : b();
      const started = performance.now();
      const r = await client.request(method, payload as never);
      times[side]!.push(performance.now() - started);
      answers[side] = r;
    }
  }
  const [ra, rb] = answers;
  assert.equal(ra?.error?.error_code ?? 0, rb?.error?.error_code ?? 0, `${label}: same code`);
  assert.equal(ra?.error?.error_message ?? '', rb?.error?.error_message ?? '', `${label}: same message`);
  const medianA = median(times[0]);
  const medianB = median(times[1]);
  const ratio = Math.max(medianA, medianB) / Math.min(medianA, medianB) - 1;
  console.log(`parity ${label}: median ${medianA.toFixed(2)} ms vs ${medianB.toFixed(2)} ms (${(ratio * 100).toFixed(1)} % apart, ${TRIES} tries each)`);
  assert.ok(ratio < TOLERANCE, `${label}: medians ${medianA.toFixed(2)} vs ${medianB.toFixed(2)} ms`);
  return { medianA, medianB, ratio };
}

describe('enumeration parity', () => {
  let gw: TestGateway;
  let client: OsmiumClient;
  let known: string;
  before(async () => {
    // A realistic bcrypt cost dominates the time, as in production; rate limits
    // are off so 400 failures in a row are not refused.
    gw = await startGateway({ BCRYPT_COST: '8', RATE_LIMITS: 'off', LOG_LEVEL: 'warn' });
    client = await gw.connect();
    known = uniqueEmail('known');
    await client.call('auth_sign_up', { email: known, password: 'the real password', name: 'Known' });
  });
  after(() => gw.close());

  it('sign-in: unknown email vs wrong password', async () => {
    await measureParity(
      client,
      'auth_sign_in',
      () => ({ email: uniqueEmail('unknown'), password: 'a wrong password' }),
      () => ({ email: known, password: 'a wrong password' }),
      'sign-in unknown-email/wrong-password',
    );
  });
});
