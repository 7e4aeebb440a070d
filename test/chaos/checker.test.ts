/** The chaos checker (scripts/chaos/checker.ts) on made-up histories: each promise it checks, kept and broken. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkHistory, type History, type Op } from '../../scripts/chaos/checker.js';

const BOUNDS = { resumeMs: 10_000, hangMs: 20_000, recoverMs: 15_000 };
const EPOCH = Date.UTC(2024, 0, 1);
const id = (ms: number, worker: number, seq = 0) => ((BigInt(ms - EPOCH) << 22n) | (BigInt(worker) << 12n) | BigInt(seq)).toString();
const T = Date.UTC(2026, 11, 7, 12);

function clean(): History {
  return {
    ops: [
      { t0: T, t1: T + 5, gw: 'g1', op: 'signup', code: 0, ids: [id(T, 0), id(T, 0, 1)] },
      { t0: T + 10, t1: T + 15, gw: 'g2', op: 'signup', code: 0, ids: [id(T + 10, 1), id(T + 10, 1, 1)] },
      { t0: T + 20, t1: T + 25, gw: 'g2', op: 'revoke', code: 0, session: 's1' },
      { t0: T + 30, t1: T + 35, gw: 'g1', op: 'use_revoked', code: 403, session: 's1' },
      { t0: T + 1_000, t1: T + 1_100, gw: 'g2', op: 'authorize', code: 503 },
      { t0: T + 2_500, t1: T + 2_510, gw: 'g1', op: 'authorize', code: 0 },
      { t0: T + 2_500, t1: T + 2_510, gw: 'g2', op: 'authorize', code: 0 },
      ...Array.from({ length: 5 }, (_, i): Op => ({ t0: T + 40 + i, t1: T + 41 + i, gw: 'g1', op: 'guess', code: 401 })),
      { t0: T + 50, t1: T + 51, gw: 'g2', op: 'guess', code: 429 },
    ],
    faults: [{ name: 'Redis partitioned from g2', gateways: [], start: T + 900, heal: T + 2_000 }],
    incarnations: [
      { gw: 'g1', workerId: 0, startedAt: T - 1_000, endedAt: T + 60_000 },
      { gw: 'g2', workerId: 1, startedAt: T - 1_000, endedAt: T + 60_000 },
    ],
    closes: [],
    revocations: [{ session: 's1', answeredAt: T + 25 }],
    guessLimit: { email: 'target@example.test', allowance: 5 },
    finals: [{ what: 'signup', ok: true, detail: 'signs in' }],
  };
}

const failing = (h: History) => checkHistory(h, BOUNDS).checks.filter((c) => !c.ok).map((c) => c.name);

test('a history where every promise held passes every check', () => {
  const verdict = checkHistory(clean(), BOUNDS);
  assert.deepEqual(verdict.checks.filter((c) => !c.ok), []);
  assert.equal(verdict.ok, true);
});

test('a revoked session served after the answer, on any instance, fails', () => {
  const h = clean();
  h.ops.push({ t0: T + 40, t1: T + 41, gw: 'g1', op: 'use_revoked', code: 0, session: 's1' });
  assert.deepEqual(failing(h), ['no session served after its revocation was answered']);
});

test('one guess evaluated past the allowance fails', () => {
  const h = clean();
  h.ops.push({ t0: T + 60, t1: T + 61, gw: 'g2', op: 'guess', code: 401 });
  assert.deepEqual(failing(h), ['no limit evaluated more guesses than its allowance']);
});

test('a worker id minted by two instances at once fails, even with no equal id yet', () => {
  const h = clean();
  h.ops.push({ t0: T + 3, t1: T + 4, gw: 'g2', op: 'signup', code: 0, ids: [id(T, 0, 7)] });
  assert.deepEqual(failing(h), ['no two snowflake ids equal, no worker id shared at once']);
});

test('a 500, a hang, a socket of a healthy instance dropped, a lost write, no recovery: each fails its own check', () => {
  const h = clean();
  h.ops.push({ t0: T + 1_200, t1: T + 1_201, gw: 'g1', op: 'signin', code: 500 });
  assert.deepEqual(failing(h), ['503, not 500, no hang past the timeouts']);
  const hang = clean();
  hang.ops.push({ t0: T + 1_200, t1: T + 31_200, gw: 'g2', op: 'authorize', code: -2 });
  assert.deepEqual(failing(hang), ['503, not 500, no hang past the timeouts']);
  const dropped = clean();
  dropped.closes.push({ gw: 'g2', at: T + 1_000, code: 1006, resumedAt: T + 1_200 });
  assert.deepEqual(failing(dropped), ['no socket of a healthy instance dropped for a dependency fault']);
  const lost = clean();
  lost.finals.push({ what: 'password', ok: false, detail: 'the reset password is refused' });
  assert.deepEqual(failing(lost), ['answered writes still in effect']);
  const stuck = clean();
  stuck.ops = stuck.ops.filter((o) => !(o.gw === 'g2' && o.t0 >= T + 2_000));
  assert.deepEqual(failing(stuck), ['serving again within 15000 ms of heal, without restart']);
});

test('clients of a killed instance must resume within the bound', () => {
  const h = clean();
  h.faults.push({ name: 'kill -9 of g1', gateways: ['g1'], start: T + 3_000, heal: T + 6_000, processFault: true });
  h.closes.push({ gw: 'g1', at: T + 3_010, code: 1006, resumedAt: T + 3_400 });
  assert.deepEqual(failing(h), []);
  h.closes.push({ gw: 'g1', at: T + 3_020, code: 1006, resumedAt: T + 14_000 });
  assert.deepEqual(failing(h), ['clients of a dead instance resumed within 10000 ms']);
  h.closes.push({ gw: 'g1', at: T + 3_030, code: 1006 });
  assert.match(checkHistory(h, BOUNDS).checks.find((c) => !c.ok)!.failures.join('\n'), /never resumed/);
});
