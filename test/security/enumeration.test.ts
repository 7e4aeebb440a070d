/**
 * Enumeration parity: answers that must not reveal whether an account exists
 * have the same code and the same message, every time. (How close their
 * timings are is a benchmark figure, not a test: `npm run bench`.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OsmiumClient } from '../../src/client/client.js';
import type { MethodName } from '../../src/protocol/codec.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

const TRIES = 10;

/** Sends both kinds of request alternately; every answer, of either kind, must be the same. */
async function assertSameAnswers<K extends MethodName>(
  client: OsmiumClient,
  method: K,
  a: () => Parameters<OsmiumClient['request']>[1],
  b: () => Parameters<OsmiumClient['request']>[1],
  label: string,
): Promise<void> {
  const answers: [string[], string[]] = [[], []];
  for (let i = 0; i < TRIES; i++) {
    for (const side of i % 2 ? [1, 0] : [0, 1]) {
      const r = await client.request(method, (side === 0 ? a() : b()) as never);
      answers[side]!.push(`${r.error?.error_code ?? 0} ${r.error?.error_message ?? ''}`);
    }
  }
  assert.equal(new Set(answers[0]).size, 1, `${label}: one answer for the first kind, got ${[...new Set(answers[0])].join(' | ')}`);
  assert.deepEqual(answers[1], answers[0], `${label}: same code and message`);
}

describe('enumeration parity', () => {
  let gw: TestGateway;
  let client: OsmiumClient;
  let known: string;
  before(async () => {
    // Rate limits off so twenty failures in a row are not refused.
    gw = await startGateway({ RATE_LIMITS: 'off', LOG_LEVEL: 'warn' });
    client = await gw.connect();
    known = uniqueEmail('known');
    await client.call('auth_sign_up', { email: known, password: 'the real password', name: 'Known' });
  });
  after(() => gw.close());

  it('sign-in: unknown email vs wrong password', async () => {
    await assertSameAnswers(
      client,
      'auth_sign_in',
      () => ({ email: uniqueEmail('unknown'), password: 'a wrong password' }),
      () => ({ email: known, password: 'a wrong password' }),
      'sign-in unknown-email/wrong-password',
    );
  });

  it('password reset request: unknown vs known email', async () => {
    await assertSameAnswers(client, 'auth_reset_password', () => ({ email: uniqueEmail('unknown') }), () => ({ email: known }), 'reset unknown/known');
  });

  it('verification resend: unknown vs known unverified email', async () => {
    await assertSameAnswers(
      client,
      'auth_resend_email_verification',
      () => ({ email: uniqueEmail('unknown') }),
      () => ({ email: known }),
      'resend unknown/known',
    );
  });
});
