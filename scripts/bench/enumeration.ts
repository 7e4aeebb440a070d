/**
 * Figure 8, enumeration timing: answers that must not reveal whether an
 * account exists must also take about the same time. Three pairs, each timed
 * alternately on one socket (the order flips every try, so drift hits both
 * sides alike): sign-in with an unknown email vs a wrong password, password
 * reset request for an unknown vs a known email, verification resend for an
 * unknown vs a known unverified email. Compared by their medians; the answers
 * must be identical (code and message).
 *
 * bcrypt cost 8: at the default cost the hash hides everything else, a
 * cheaper hash shows differences around it (test/security/enumeration.test.ts
 * times the same pairs at the test gateways' cost 4).
 * Rate limits are off so hundreds of failures in a row are not refused.
 */
import { randomBytes } from 'node:crypto';
import type { osmium } from '../../src/gen/osmium.js';
import { percentile } from '../load/stats.js';
import { BENCH_DEVICE, BenchSocket } from './driver.js';
import { spawnGateway } from './processes.js';
import type { BenchSettings, Row } from './figures.js';

export const ENUMERATION_BCRYPT_COST = 8;
const PASSWORD = 'the real password 1';

type Body = Omit<osmium.client.core.ClientMessage.$Properties, 'id'>;

export interface ParityMeasurement {
  medianA: number;
  medianB: number;
  /** slower median / faster median. */
  ratio: number;
  sameAnswer: boolean;
  answer: string;
}

/** Interleaved timing of two kinds of request; flips the order every try. */
export async function measureParity(socket: BenchSocket, tries: number, a: () => Body, b: () => Body): Promise<ParityMeasurement> {
  const times: [number[], number[]] = [[], []];
  const answers: [Set<string>, Set<string>] = [new Set(), new Set()];
  for (let i = 0; i < tries; i++) {
    for (const side of i % 2 ? [1, 0] : [0, 1]) {
      const body = side === 0 ? a() : b();
      const started = performance.now();
      const result = await socket.request(body);
      times[side]!.push(performance.now() - started);
      answers[side]!.add(result.error ? `${result.error.error_code} ${result.error.error_message}` : 'success');
    }
  }
  const medianA = percentile(times[0], 50);
  const medianB = percentile(times[1], 50);
  const all = new Set([...answers[0], ...answers[1]]);
  return {
    medianA,
    medianB,
    ratio: Math.max(medianA, medianB) / Math.min(medianA, medianB),
    sameAnswer: all.size === 1,
    answer: [...all].join(' | '),
  };
}

const unknownEmail = () => `nobody.${randomBytes(6).toString('hex')}@bench.test`;

export async function figureEnumeration(s: BenchSettings, env: Record<string, string>, tries: number): Promise<Row[]> {
  const gateway = await spawnGateway({ ...env, BCRYPT_COST: String(ENUMERATION_BCRYPT_COST), RATE_LIMITS: 'off' });
  const socket = await BenchSocket.open(gateway.url);
  try {
    await socket.request({ core_initialize: BENCH_DEVICE });
    const known = `known.${randomBytes(4).toString('hex')}@bench.test`;
    const signedUp = await socket.request({ auth_sign_up: { name: 'Known', email: known, password: PASSWORD } });
    if (!signedUp.authorization) throw new Error(`sign-up failed: ${signedUp.error?.error_code} ${signedUp.error?.error_message}`);
    const pairs: Array<{ key: string; label: string; a: () => Body; b: () => Body; names: [string, string] }> = [
      {
        key: 'parity_sign_in',
        label: 'sign-in: unknown email vs wrong password',
        a: () => ({ auth_sign_in: { email: unknownEmail(), password: 'a wrong password' } }),
        b: () => ({ auth_sign_in: { email: known, password: 'a wrong password' } }),
        names: ['unknown email', 'wrong password'],
      },
      {
        key: 'parity_reset',
        label: 'reset request: unknown vs known email',
        a: () => ({ auth_reset_password: { email: unknownEmail() } }),
        b: () => ({ auth_reset_password: { email: known } }),
        names: ['unknown', 'known'],
      },
      {
        key: 'parity_resend',
        label: 'verification resend: unknown vs known email',
        a: () => ({ auth_resend_email_verification: { email: unknownEmail() } }),
        b: () => ({ auth_resend_email_verification: { email: known } }),
        names: ['unknown', 'known'],
      },
    ];
    const rows: Row[] = [];
    for (const pair of pairs) {
      s.log(`  ${pair.label}: ${tries} tries each, interleaved`);
      const m = await measureParity(socket, tries, pair.a, pair.b);
      const apart = (m.ratio - 1) * 100;
      rows.push({
        figure: '8',
        key: pair.key,
        metric: `${pair.label} (median ms)`,
        unit: 'ms',
        gateway: m.medianA,
        ceiling: m.medianB,
        ratio: m.ratio,
        goal: '<= 1.2x (20 % apart)',
        met: m.ratio <= 1.2 && m.sameAnswer,
        note: `${pair.names[0]} ${m.medianA.toFixed(2)} ms vs ${pair.names[1]} ${m.medianB.toFixed(2)} ms: ${apart.toFixed(1)} % apart over ${tries} interleaved tries each; answers ${m.sameAnswer ? 'identical' : 'DIFFER'}: ${m.answer}; bcrypt cost ${ENUMERATION_BCRYPT_COST}, rate limits off`,
      });
    }
    return rows;
  } finally {
    socket.terminate();
    await gateway.stop();
  }
}
