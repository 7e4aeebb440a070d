import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BenchArgError, FIGURES, figureOrder, parseBenchArgs } from '../../scripts/bench/args.js';

describe('bench arguments', () => {
  it('runs every figure by default, with full-size figure 7', () => {
    const o = parseBenchArgs([], '/out');
    assert.deepEqual([...o.figures], [...FIGURES]);
    assert.equal(o.quick, false);
    assert.equal(o.bcryptCost, 12);
    assert.equal(o.bcryptConcurrency, null);
    assert.equal(o.idleSockets, 10_000);
    assert.equal(o.idleWindowS, 60);
    assert.equal(o.idleTimeScale, 10);
    assert.equal(o.out, '/out');
    assert.deepEqual(o.gatewayEnv, {});
  });

  it('--quick halves figure 7 unless its sizes are given', () => {
    assert.equal(parseBenchArgs(['--quick'], '/out').idleSockets, 5_000);
    assert.equal(parseBenchArgs(['--quick'], '/out').idleWindowS, 30);
    const o = parseBenchArgs(['--quick', '--idle-sockets', '2000', '--idle-window', '90', '--idle-time-scale', '1'], '/out');
    assert.equal(o.idleSockets, 2_000);
    assert.equal(o.idleWindowS, 90);
    assert.equal(o.idleTimeScale, 1);
  });

  it('takes figure ids with letters, in any case, and repeated --gateway-env settings', () => {
    const o = parseBenchArgs(['--figures', '1A,1b,6', '--gateway-env', 'ACTIVITY_PERSIST_GRANULARITY_MS=10000', '--gateway-env', 'LOG_LEVEL=error', '--out', 'x'], '/out');
    assert.deepEqual([...o.figures], ['1a', '1b', '6']);
    assert.deepEqual(o.gatewayEnv, { ACTIVITY_PERSIST_GRANULARITY_MS: '10000', LOG_LEVEL: 'error' });
    assert.equal(o.out, 'x');
  });

  it('refuses unknown figures, options, missing values and out-of-range numbers', () => {
    for (const argv of [['--figures', '9'], ['--figures', ''], ['--nope'], ['--bcrypt-cost'], ['--bcrypt-cost', '3'], ['--idle-window', '1'], ['--idle-time-scale', '0'], ['--gateway-env', 'lower=1'], ['--gateway-env', 'NOEQUALS']]) {
      assert.throws(() => parseBenchArgs(argv, '/out'), BenchArgError, argv.join(' '));
    }
  });

  it('orders rows 1, 1a, 1b, 2 ... 8, unknown ids last', () => {
    const ids = ['8', '1b', '2', 'x', '1', '1a'];
    assert.deepEqual([...ids].sort((a, b) => figureOrder(a) - figureOrder(b)), ['1', '1a', '1b', '2', '8', 'x']);
  });
});
