import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { capacityCommand, loadResults, renderReport } from '../../scripts/capacity/cli.js';
import { UsageError } from '../../scripts/commandLine.mjs';
import { DEFAULT_ASSUMPTIONS, MissingInput, computeModel, formatValue, readInputs } from '../../scripts/capacity/model.js';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const files = () => [...loadResults(`${FIXTURES}/bench-results.json`), ...loadResults(`${FIXTURES}/bench-results-older.json`)];

describe('capacity model', () => {
  it('takes each input from the newest results file that measured it, figure 2 at its largest socket count', () => {
    const inputs = readInputs(files());
    assert.equal(inputs.redisBytesPerSession.value, 300, 'not the older 999');
    assert.match(inputs.redisBytesPerSession.from, /redis_bytes_per_session \(.*bench-results\.json, 2026-01-02T03:04\)/);
    assert.equal(inputs.rssPerSocket.value, 6 * 1024, 'the 19 800-socket point');
    assert.equal(inputs.baseRss?.value, 94_371_840);
    assert.equal(inputs.idleCpu.gateway.value, 4);
    assert.equal(inputs.idleBytes?.value, 4);
    assert.equal(inputs.reconnectCpu.postgres.value, 450);
    assert.equal(inputs.reconnectPostgresStatements?.value, 3);
    assert.equal(inputs.reconnectClientBytes?.value, 1000);
    assert.equal(inputs.accountExtraBytes?.value, 120);
  });

  it('computes the fleet for a million sockets with the default assumptions', () => {
    const model = computeModel(readInputs(files()), DEFAULT_ASSUMPTIONS);
    const v = (name: string) => {
      const o = model.outputs.find((x) => x.name === name);
      assert.ok(o, `output ${name}`);
      assert.ok(o.formula.length > 10, `${name} shows its formula`);
      return o.value;
    };
    assert.equal(v('cores for idle sockets (steady state)'), 8); // 1e6 × 4 µs / 1e6 / 0.5
    assert.equal(v('gateway processes (one per core)'), 10); // 100 000 sockets per process at most
    assert.equal(v('machines'), 1);
    assert.equal(v('sockets per process'), 100_000);
    assert.equal(v('memory per process'), 94_371_840 + 100_000 * 6 * 1024);
    assert.equal(v('commands/s (steady state)'), 35_000);
    assert.equal(v('memory for connected sessions'), 300e6);
    assert.equal(v('row writes/s (steady state)'), 33_300);
    assert.equal(v('storage per million users'), 1e6 * (100 + 120 + 2 * 500));
    assert.equal(v('gateway bytes/s (steady state)'), 4e6);
    assert.ok(Math.abs(v('gateway cores to absorb it in the target time') - 1000 / 60) < 1e-9);
    assert.equal(v('duration on 10 gateway cores'), 100);
    assert.equal(v('Postgres CPU in the target time'), 7.5);
    assert.equal(v('Redis commands/s'), 100_000);
    assert.equal(v('Postgres statements/s'), 50_000);
  });

  it('names what breaks first: here the steady-state Postgres row writes', () => {
    const model = computeModel(readInputs(files()), DEFAULT_ASSUMPTIONS);
    assert.equal(model.bottlenecks[0]!.tier, 'Postgres primary, steady-state row writes');
    assert.ok(Math.abs(model.bottlenecks[0]!.share - 33_300 / 20_000) < 1e-9);
    const tenMillion = computeModel(readInputs(files()), { ...DEFAULT_ASSUMPTIONS, sockets: 10_000_000, stormGatewayCores: 100 });
    assert.equal(tenMillion.outputs.find((o) => o.name === 'duration on 100 gateway cores')!.value, 100);
    assert.ok(tenMillion.bottlenecks.every((b, i, all) => i === 0 || all[i - 1]!.share >= b.share), 'sorted by share');
  });

  it('says which figure to run when an input is missing', () => {
    assert.throws(() => readInputs(loadResults(`${FIXTURES}/bench-results-older.json`)), (err: Error) => err instanceof MissingInput && /--figures 2/.test(err.message));
  });

  it('parses its options and refuses bad ones', () => {
    const o = capacityCommand.parse(['--sockets', '10_000_000', '--reconnect-storm-seconds', '30', '--storm-cores', '64', '--target-utilization', '0.6', '--markdown', '--results', 'x']);
    assert.equal(o.assumptions.sockets, 10_000_000);
    assert.equal(o.assumptions.reconnectStormSeconds, 30);
    assert.equal(o.assumptions.stormGatewayCores, 64);
    assert.equal(o.assumptions.targetUtilization, 0.6);
    assert.equal(o.markdown, true);
    assert.equal(o.results, 'x');
    assert.match(capacityCommand.parse([]).results, /\/bench\/results$/);
    assert.deepEqual(capacityCommand.parse([]).assumptions, DEFAULT_ASSUMPTIONS);
    for (const argv of [['--sockets', '0'], ['--sockets', '1.5'], ['--target-utilization', '2'], ['--what'], ['--sockets'], ['--sockets', '--markdown']]) {
      assert.throws(() => capacityCommand.parse(argv), UsageError, argv.join(' '));
    }
  });

  it('renders every output with its formula, and human units', () => {
    const inputs = readInputs(files());
    const text = renderReport(inputs, computeModel(inputs, DEFAULT_ASSUMPTIONS), DEFAULT_ASSUMPTIONS, true);
    assert.match(text, /\| gateway \| gateway processes \(one per core\) \| 10 processes \|/);
    assert.match(text, /BREAKS/);
    assert.equal(formatValue(1536, 'bytes'), '1.5 KiB');
    assert.equal(formatValue(33_300, '/s'), '33.3 k/s');
    assert.equal(formatValue(50, '/s'), '50 /s');
    assert.equal(formatValue(2.5e6, ''), '2.50 M');
  });

  it('runs as `npm run capacity` on a results file', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/capacity.ts', '--results', `${FIXTURES}/bench-results.json`, '--sockets', '2000000'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Fleet for 2,000,000 sockets/);
    const missing = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/capacity.ts', '--results', `${FIXTURES}/bench-results-older.json`], { encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /npm run bench -- --figures/);
  });
});
