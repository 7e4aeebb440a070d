import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSnowflake } from '../../src/domain/ids.js';
import { SnowflakeGenerator, snowflakeTime, SNOWFLAKE_EPOCH_MS } from '../../src/services/snowflake.js';

describe('snowflake ids', () => {
  it('are unique and strictly increasing, even past 4096 ids in one millisecond', () => {
    const gen = new SnowflakeGenerator({ workerId: 5 });
    let previous = 0n;
    const seen = new Set<string>();
    for (let i = 0; i < 50_000; i++) {
      const id = gen.next();
      const value = BigInt(id);
      assert.ok(value > previous, `id ${i} not increasing`);
      previous = value;
      seen.add(id);
    }
    assert.equal(seen.size, 50_000);
  });

  it('never repeat when the clock steps back', () => {
    const t = SNOWFLAKE_EPOCH_MS + 10_000;
    // The clock reads t, then steps back 5 ms for a few reads, then moves on.
    const readings = [t, t - 5, t - 5, t - 5, t + 1];
    let i = 0;
    const gen = new SnowflakeGenerator({ workerId: 1, clock: () => readings[Math.min(i++, readings.length - 1)]! });
    const a = BigInt(gen.next());
    const b = BigInt(gen.next());
    assert.ok(b > a, 'waited for the clock instead of reusing a past millisecond');
    assert.equal(snowflakeTime(b.toString()), t + 1);
  });

  it('encode the time and the worker id', () => {
    const at = Date.UTC(2026, 10, 25, 12, 0, 0);
    const gen = new SnowflakeGenerator({ workerId: 1023, clock: () => at });
    const id = gen.next();
    assert.equal(snowflakeTime(id), at);
    assert.equal(Number((BigInt(id) >> 12n) & 1023n), 1023);
    assert.ok(isSnowflake(id));
  });

  it('differ between workers in the same millisecond', () => {
    const at = Date.now();
    const a = new SnowflakeGenerator({ workerId: 1, clock: () => at }).next();
    const b = new SnowflakeGenerator({ workerId: 2, clock: () => at }).next();
    assert.notEqual(a, b);
  });

  it('reject worker ids outside 0-1023', () => {
    assert.throws(() => new SnowflakeGenerator({ workerId: 1024 }));
    assert.throws(() => new SnowflakeGenerator({ workerId: -1 }));
  });

  it('validate decimal snowflakes', () => {
    assert.ok(isSnowflake('9223372036854775807'));
    for (const bad of ['0', '-1', '01', '9223372036854775808', '1e5', '', ' 1']) assert.equal(isSnowflake(bad), false, bad);
  });
});
