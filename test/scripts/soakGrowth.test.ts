/**
 * The soak's growth rule (scripts/soak/growth.ts) and the series it judges
 * (scripts/soak/series.ts): a flat series passes, a steadily
 * growing one fails, and growth the churn explains is not taken for a leak.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeGrowth, leastSquares, secondHalf, type Point } from '../../scripts/soak/growth.js';
import { buildSeries, churnFailures, faultCount, type Sample } from '../../scripts/soak/series.js';
import type { FleetCounters } from '../../scripts/soak/fleet.js';

const MiB = 1024 * 1024;
const RULE = { limitPerHour: 0.1, floor: 16 * MiB };

/** 30 minutes of samples every 20 s. */
function series(y: (t: number, i: number) => number): Point[] {
  return Array.from({ length: 91 }, (_, i) => ({ t: i * 20, y: y(i * 20, i) }));
}

describe('soak growth rule', () => {
  it('fits a least-squares line', () => {
    const { slope, intercept } = leastSquares([{ t: 0, y: 1 }, { t: 1, y: 3 }, { t: 2, y: 5 }]);
    assert.equal(slope, 2);
    assert.equal(intercept, 1);
    assert.deepEqual(secondHalf([{ t: 0, y: 0 }, { t: 5, y: 0 }, { t: 10, y: 0 }]).map((p) => p.t), [5, 10]);
  });

  it('passes a flat series, noise and GC sawtooth included', () => {
    const flat = judgeGrowth(series(() => 300 * MiB), RULE);
    assert.equal(flat.ok, true, flat.why);
    assert.equal(flat.slopePerHour, 0);
    // A heap that climbs 40 MiB and drops back at every major GC, every 5 minutes.
    const sawtooth = judgeGrowth(series((t) => 150 * MiB + ((t % 300) / 300) * 40 * MiB), RULE);
    assert.equal(sawtooth.ok, true, sawtooth.why);
  });

  it('fails a series that grows steadily, and says by how much', () => {
    // 1 KiB per churn operation at 20 operations/s: 70 MiB an hour on 300 MiB.
    const leak = judgeGrowth(series((t) => 300 * MiB + t * 20 * 1024), RULE);
    assert.equal(leak.ok, false);
    assert.ok(leak.growthPerHour > 0.2 && leak.growthPerHour < 0.25, `${leak.growthPerHour}`);
    assert.match(leak.why, /projected 2\d\.\d %\/h over 10\.0 %\/h/);
  });

  it('judges the second half only: a warm-up that levels off passes, a leak that starts late fails', () => {
    const warmUp = judgeGrowth(series((t) => 200 * MiB + Math.min(t, 600) * 100 * 1024), RULE);
    assert.equal(warmUp.ok, true, warmUp.why);
    const late = judgeGrowth(series((t) => 200 * MiB + Math.max(0, t - 900) * 100 * 1024), RULE);
    assert.equal(late.ok, false, late.why);
  });

  it('does not take a short run extrapolated over an hour for a leak while the rise is under the floor', () => {
    // 30 s run: 4 MiB of allocator growth is 2 000 %/h projected, but below the 16 MiB floor.
    const short = judgeGrowth(Array.from({ length: 16 }, (_, i) => ({ t: i * 2, y: 180 * MiB + i * 0.27 * MiB })), RULE);
    assert.ok(short.growthPerHour > 1);
    assert.equal(short.ok, true, short.why);
    assert.match(short.why, /within the noise floor/);
  });

  it('fits memory through the lows of each slice: garbage between collections passes, a leak under the sawtooth fails', () => {
    const MEMORY = { ...RULE, lows: true, minSpanS: 300 };
    // 120 MiB of garbage collected every 100 s: a plain fit over 45 samples wobbles by tens of MiB.
    const garbage = (t: number) => ((t % 100) / 100) * 120 * MiB;
    const flat = judgeGrowth(series((t) => 260 * MiB + garbage(t)), MEMORY);
    assert.equal(flat.ok, true, flat.why);
    assert.equal(flat.points, 5, 'one low per slice');
    const leak = judgeGrowth(series((t) => 260 * MiB + garbage(t) + t * 40 * 1024), MEMORY);
    assert.equal(leak.ok, false, leak.why);
    assert.ok(leak.slopePerHour > 130 * MiB && leak.slopePerHour < 150 * MiB, `${leak.slopePerHour / MiB} MiB/h`);
    // Half a minute cannot tell them apart: reported, not judged.
    const short = judgeGrowth(Array.from({ length: 16 }, (_, i) => ({ t: i * 2, y: 40 * MiB + i * 2 * MiB })), MEMORY);
    assert.equal(short.skipped, true);
    assert.equal(short.ok, true);
    assert.match(short.why, /not judged/);
  });

  it('passes a shrinking series and refuses to judge fewer than three samples', () => {
    assert.equal(judgeGrowth(series((t) => 500 - t / 10), { limitPerHour: 0.02, floor: 5 }).ok, true);
    const few = judgeGrowth([{ t: 0, y: 1 }, { t: 10, y: 1 }], RULE);
    assert.equal(few.ok, false);
    assert.match(few.why, /only \d samples/);
  });
});

describe('soak series', () => {
  const counters = (revocations: number, guestSignUps: number, signIns: number): FleetCounters => ({
    reconnects: 0, guestSignOuts: guestSignUps, guestSignUps, signIns, revocations, heartbeats: 0, dropped: 0, openSockets: 1000, inFlight: 0,
  });
  /** 30 minutes at 20 revocations a minute, each leaving a tombstone in Redis and a revoked row in Postgres. */
  function samples(extraKeysPerMinute: number): Sample[] {
    return Array.from({ length: 91 }, (_, i) => {
      const minutes = (i * 20) / 60;
      const revocations = Math.round(minutes * 20);
      const guests = Math.round(revocations / 2);
      const signIns = revocations - guests;
      return {
        t: i * 20,
        at: '',
        counters: counters(revocations, guests, signIns),
        reading: {
          rss: 200 * MiB, heapUsed: 80 * MiB, fds: 1030,
          redisKeys: 2000 + revocations + Math.round(minutes * extraKeysPerMinute),
          redisMemory: 2 * MiB,
          liveSessions: 1000,
          rows: { sessions: 1000 + guests + signIns, users: 1000 + guests, session_revocations: revocations, events: 2000 + 3 * revocations },
        },
      };
    });
  }
  const verdict = (all: ReturnType<typeof buildSeries>, name: string) => {
    const s = all.find((x) => x.name === name);
    assert.ok(s?.verdict, `series ${name} is judged`);
    return s.verdict;
  };

  it('explains tombstones, revoked rows and new guests by the churn: every judged series passes', () => {
    const all = buildSeries(samples(0), 1000);
    for (const s of all) if (s.verdict) assert.equal(s.verdict.ok, true, `${s.name}: ${s.verdict.why}`);
    assert.ok(all.some((s) => s.name === 'pg events' && s.rule === null), 'other tables are reported');
  });

  it('fails Redis keys that grow beyond the tombstones', () => {
    const all = buildSeries(samples(5), 1000);
    assert.equal(verdict(all, 'redis keys - tombstones').ok, false);
    assert.equal(verdict(all, 'pg live sessions').ok, true);
  });

  it('tells load errors (503, timeouts, dropped sockets) from faults (403 on a resume, a wrong close code, a 500)', () => {
    const load = { 'email sign-in: auth_sign_in 503': 7, 'reconnect: unexpected: Opening handshake has timed out': 3, 'held socket: closed by the gateway with 1006': 2, 'reconnect: auth_authorize timeout': 1 };
    assert.equal(faultCount(load), 0);
    assert.deepEqual(churnFailures(load, 1000, { rate: 1, minutes: 30 }), []);
    const faults = { ...load, 'reconnect: auth_authorize 403': 1, 'guest sign-out: revoked socket closed with 1000, not 4001': 2, 'email sign-in: auth_sign_in 500': 1 };
    assert.equal(faultCount(faults), 4);
    assert.match(churnFailures(faults, 1000, { rate: 1, minutes: 30 })[0]!, /^churn faults: .*auth_authorize 403 ×1.*not 4001 ×2.*auth_sign_in 500 ×1$/);
    assert.match(churnFailures({}, 100, { rate: 1, minutes: 30 })[0]!, /only 100 churn operations done of 1800 scheduled/);
  });
});
