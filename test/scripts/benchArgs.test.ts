import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema, loadConfig } from '../../src/config.js';
import { FIGURES, benchCommand, figureOrder } from '../../scripts/bench/args.js';
import { gatewayEnv, type BenchSettings } from '../../scripts/bench/figures.js';
import { idleTiming } from '../../scripts/bench/idleState.js';
import { UsageError } from '../../scripts/commandLine.mjs';

describe('bench arguments', () => {
  it('runs every figure by default, with full-size figure 7, into bench/results', () => {
    const o = benchCommand.parse([]);
    assert.deepEqual([...o.figures], [...FIGURES]);
    assert.equal(o.quick, false);
    assert.equal(o.bcryptCost, 12);
    assert.equal(o.bcryptConcurrency, null);
    assert.equal(o.idleSockets, 10_000);
    assert.equal(o.idleWindowS, 60);
    assert.equal(o.idleTimeScale, 10);
    assert.match(o.out, /\/bench\/results$/);
    assert.deepEqual(o.gatewayEnv, {});
  });

  it('--quick halves figure 7 unless its sizes are given', () => {
    assert.equal(benchCommand.parse(['--quick']).idleSockets, 5_000);
    assert.equal(benchCommand.parse(['--quick']).idleWindowS, 30);
    const o = benchCommand.parse(['--quick', '--idle-sockets', '2000', '--idle-window', '90', '--idle-time-scale', '1']);
    assert.equal(o.idleSockets, 2_000);
    assert.equal(o.idleWindowS, 90);
    assert.equal(o.idleTimeScale, 1);
  });

  it('takes figure ids with letters, in any case, and repeated --gateway-env settings', () => {
    const o = benchCommand.parse(['--figures', '1A,1b,6', '--gateway-env', 'ACTIVITY_PERSIST_GRANULARITY=10', '--gateway-env=LOG_LEVEL=error', '--out', 'x']);
    assert.deepEqual([...o.figures], ['1a', '1b', '6']);
    assert.deepEqual(o.gatewayEnv, { ACTIVITY_PERSIST_GRANULARITY: '10', LOG_LEVEL: 'error' });
    assert.equal(o.out, 'x');
    assert.deepEqual(benchCommand.parse(['--gateway-env', 'UV_THREADPOOL_SIZE=16']).gatewayEnv, { UV_THREADPOOL_SIZE: '16' });
  });

  it('refuses a --gateway-env setting the gateway does not have (it would be ignored without a word)', () => {
    assert.throws(() => benchCommand.parse(['--gateway-env', 'ACTIVITY_PERSIST_GRANULARITY_MS=10000']), /ACTIVITY_PERSIST_GRANULARITY_MS: the gateway has no such setting/);
  });

  it('refuses --out without a value instead of taking the next option as one', () => {
    assert.throws(() => benchCommand.parse(['--out', '--quick']), /--out needs a value/);
    assert.equal(benchCommand.parse(['--out=--quick']).out, '--quick', 'written with =, a value may start with --');
  });

  it('refuses unknown figures, options, missing values and out-of-range numbers', () => {
    for (const argv of [
      ['--figures', '12'], ['--figures', ''], ['--figures', '1c'], ['--nope'], ['--bcrypt-cost'], ['--bcrypt-cost', '3'], ['--idle-window', '1'], ['--idle-time-scale', '0'],
      ['--gateway-env', 'lower=1'], ['--gateway-env', 'NOEQUALS'], ['--quick=yes'], ['--quick', '--quick'], ['results'],
    ]) {
      assert.throws(() => benchCommand.parse(argv), UsageError, argv.join(' '));
    }
  });

  it('gives its gateways only settings src/config.ts reads, with values it accepts', () => {
    const settings = { bcryptCost: 10, bcryptConcurrency: 2, databaseUrl: 'postgres://127.0.0.1/bench', redisUrl: 'redis://127.0.0.1:6379', outboxDir: '/tmp/outbox', extraEnv: {} };
    const env = { ...gatewayEnv(settings as unknown as BenchSettings, settings.databaseUrl), ...idleTiming(10).env };
    assert.deepEqual(Object.keys(env).filter((name) => !(name in configSchema.shape)), []);
    assert.doesNotThrow(() => loadConfig(env));
  });

  it('orders rows 1, 1a, 1b, 2 ... 11, unknown ids last', () => {
    const ids = ['8', '11', '1b', '2', 'x', '10', '1', '9', '1a'];
    assert.deepEqual([...ids].sort((a, b) => figureOrder(a) - figureOrder(b)), ['1', '1a', '1b', '2', '8', '9', '10', '11', 'x']);
  });

  it('takes the forwarding, push and introspection figures (9, 10, 11) alone', () => {
    assert.deepEqual([...benchCommand.parse(['--quick', '--figures', '9,10,11']).figures], ['9', '10', '11']);
  });
});
