/**
 * The short form of `npm run chaos` (scripts/chaos): two gateway processes in
 * a network namespace of their own, a client fleet, and three faults (kill -9
 * of a gateway, Redis partitioned from the other, kill -9 of Postgres). The
 * assertion is the checker's verdict over the recorded history, check by check.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

interface RunVerdict {
  chaos: 'pass' | 'fail';
  rounds: Array<{ round: string; ok: boolean; checks: Array<{ name: string; ok: boolean; detail: string; failures: string[] }> }>;
}

test('chaos, short form: every check of the checker holds under the faults', { timeout: 240_000 }, async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'chaos-test-')), 'history.json');
  const child = spawn(process.execPath, ['scripts/chaos/main.mjs', '--short', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const last = output.trim().split('\n').at(-1) ?? '';
  let verdict: RunVerdict;
  try {
    verdict = JSON.parse(last) as RunVerdict;
  } catch {
    assert.fail(`no verdict from the chaos run (exit ${code}):\n${output.slice(-4000)}`);
  }
  const [round] = verdict.rounds;
  assert.ok(round, 'one round ran');
  for (const check of round.checks) assert.ok(check.ok, `${check.name}: ${check.detail}\n${check.failures.join('\n')}`);
  assert.equal(round.checks.length, 8, 'every check ran');
  assert.equal(verdict.chaos, 'pass');
  assert.equal(code, 0);
  // The history it judged was recorded and has the faults in it.
  const { histories } = JSON.parse(readFileSync(out, 'utf8')) as { histories: Record<string, { faults: Array<{ name: string }>; ops: unknown[] }> };
  assert.deepEqual(histories.short!.faults.map((f) => f.name.replace(/ of short\.g\d/, '').replace(/ from short\.g\d/, '')), [
    'kill -9', 'Redis partitioned', 'kill -9 of Postgres, restart (crash recovery)',
  ]);
  assert.ok(histories.short!.ops.length > 100, 'the fleet did real work');
});
