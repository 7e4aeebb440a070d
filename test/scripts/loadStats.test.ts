import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { goalScore } from '../../scripts/bench/chart.js';
import type { Row } from '../../scripts/bench/figures.js';
import { split } from '../../scripts/load/run.js';
import { Recorder, percentile } from '../../scripts/load/stats.js';

/** HDR keeps 3 significant digits: a value is reported within 0.1 %. */
function near(actual: number, expected: number) {
  assert.ok(Math.abs(actual - expected) <= expected * 0.001 + 0.001, `${actual} is not within 0.1 % of ${expected}`);
}

describe('load-test summary maths', () => {
  it('nearest-rank percentiles of known data', () => {
    const data = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    assert.equal(percentile(data, 50), 50);
    assert.equal(percentile(data, 90), 90);
    assert.equal(percentile(data, 99), 99);
    assert.equal(percentile(data, 100), 100);
    assert.equal(percentile(data, 0), 1);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.throws(() => percentile(data, 101), RangeError);
  });

  it('the HDR summary of 1..1000 ms gives its percentiles, max, mean and throughput', () => {
    const r = new Recorder();
    for (let ms = 1; ms <= 1000; ms++) r.ok('auth_authorize', ms);
    r.error('auth_authorize', '403');
    r.error('auth_authorize', '403');
    r.error('auth_authorize', 'timeout');
    const s = r.summary('auth_authorize', 4);
    assert.equal(s.count, 1000);
    assert.equal(s.throughput, 250);
    near(s.p50, 500);
    near(s.p90, 900);
    near(s.p99, 990);
    near(s.max, 1000);
    near(s.mean, 500.5);
    assert.equal(s.errors, 3);
    assert.deepEqual(s.errorsByCode, { '403': 2, timeout: 1 });
  });

  it('keeps sub-millisecond latencies (microsecond resolution)', () => {
    const r = new Recorder();
    for (let i = 0; i < 100; i++) r.ok('heartbeat', 0.25);
    near(r.summary('heartbeat', 1).p99, 0.25);
  });

  it('expected error codes are counted and timed, not counted as errors', () => {
    const r = new Recorder();
    r.expected('auth_lookup_invite', '404', 2);
    r.expected('auth_lookup_invite', '404', 4);
    const s = r.summary('auth_lookup_invite', 1);
    assert.equal(s.count, 2);
    assert.equal(s.errors, 0);
    assert.deepEqual(s.expectedByCode, { '404': 2 });
  });

  it('recorders of several workers merge into the same summary as one recorder', () => {
    const whole = new Recorder();
    const parts = [new Recorder(), new Recorder(), new Recorder()];
    for (let i = 1; i <= 3000; i++) {
      const ms = (i * 7919) % 5000 / 10 + 0.5;
      whole.ok('auth_sign_in', ms);
      parts[i % 3]!.ok('auth_sign_in', ms);
    }
    parts[1]!.error('auth_sign_in', '500');
    whole.error('auth_sign_in', '500');
    const merged = new Recorder();
    for (const p of parts) merged.merge(JSON.parse(JSON.stringify(p.serialize())));
    const { max: mergedMax, ...mergedRest } = merged.summary('auth_sign_in', 2);
    const { max: wholeMax, ...wholeRest } = whole.summary('auth_sign_in', 2);
    assert.deepEqual(mergedRest, wholeRest);
    near(mergedMax, wholeMax); // a decoded histogram knows the max only to its precision
    assert.equal(merged.totalOk, 3000);
    assert.equal(merged.totalErrors, 1);
  });

  it('splits a budget over workers without losing any', () => {
    assert.deepEqual(split(10, 3), [4, 3, 3]);
    assert.deepEqual(split(2, 4), [1, 1, 0, 0]);
  });

  it('scores each benchmark row against its goal (>= 1 means met)', () => {
    const row = (goal: string, gateway: number, ratio: number | null): Row => ({ figure: '1', metric: 'm', unit: '', gateway, ceiling: null, ratio, goal, met: null });
    near(goalScore(row('>= 40 % of ceiling', 500, 0.6))!, 1.5);
    assert.equal(goalScore(row('<= 1.5x bare', 9, 3)), 0.5);
    assert.equal(goalScore(row('< 20 ms', 10, null)), 2);
    assert.equal(goalScore(row('p99 < 50 ms', 100, null)), 0.5);
    assert.equal(goalScore(row('reported', 100, 2)), null);
    // The goals of figures 1a-8.
    near(goalScore(row('>= 40 % (bare/gateway CPU)', 800, 0.04))!, 0.1);
    assert.equal(goalScore(row('<= 2x ceiling', 4000, 8)), 0.25);
    assert.equal(goalScore(row('<= 2x idle', 300, 1.5))!.toFixed(3), '1.333');
    assert.equal(goalScore(row('<= 1.2x (20 % apart)', 1.3, 1.2)), 1);
    assert.equal(goalScore(row('0 (< 0.01: timers)', 3, null)), null, 'a count goal has no bar');
  });
});
