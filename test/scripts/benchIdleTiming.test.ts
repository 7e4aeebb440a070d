import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { idleTiming } from '../../scripts/bench/idleState.js';

describe('figure 7 time scale', () => {
  it('runs the production timing k times faster: heartbeat, pings and activity persistence alike', () => {
    const defaults = loadConfig({});
    const real = idleTiming(1);
    assert.deepEqual(real, {
      env: { PING_INTERVAL_MS: String(defaults.PING_INTERVAL_MS), ACTIVITY_PERSIST_GRANULARITY: String(defaults.ACTIVITY_PERSIST_GRANULARITY) },
      heartbeatS: 30,
      flushS: defaults.ACTIVITY_PERSIST_GRANULARITY,
    });
    const fast = idleTiming(10);
    assert.equal(fast.heartbeatS, 3);
    assert.equal(Number(fast.env.PING_INTERVAL_MS), defaults.PING_INTERVAL_MS / 10);
    assert.equal(fast.flushS, Math.round(defaults.ACTIVITY_PERSIST_GRANULARITY / 10));
    assert.equal(idleTiming(100_000).flushS, 1, 'never below the gateway minimum of 1 s');
  });
});
