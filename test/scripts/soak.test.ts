/**
 * `npm run soak` in its small form: its own Postgres and Redis, one gateway
 * process, 500 authorized sockets churned for half a minute. It must end by
 * itself, report every series it judges (with a verdict) and the rows of the
 * gateway's tables, write its results, and pass: nothing grows, and every
 * revoked socket was closed with 4001.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SoakResult } from '../../scripts/soak/run.js';

const JUDGED = [
  'gateway RSS', 'gateway heap used', 'gateway open fds', 'redis keys - tombstones', 'redis bytes per key',
  'pg live sessions', 'pg sessions - new sessions', 'pg users - guest sign-ups', 'pg session_revocations - revocations',
];

test('soak, small form: 500 sockets for half a minute end by themselves, every series reported, exit 0', { timeout: 360_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'soak-test-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/soak.ts', '--minutes', '0.5', '--sockets', '500', '--heartbeat', '5', '--out', out, '--quiet'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c));
    child.stderr.on('data', (c: Buffer) => (output += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, output.slice(-6000));
    assert.match(output, /soak: PASS, no series grows without bound/);

    const files = readdirSync(out);
    const json = files.find((f) => /^soak-.*\.json$/.test(f));
    assert.ok(json, `a JSON result in ${files.join(', ')}`);
    assert.ok(files.some((f) => /^soak-.*\.svg$/.test(f)) && files.some((f) => /^soak-.*\.md$/.test(f)), 'the curve and the markdown report');
    const result = JSON.parse(readFileSync(join(out, json), 'utf8')) as SoakResult;
    assert.equal(result.ok, true, result.failures.join('\n'));
    // Samples every 2 s over 30 s of churn, each reading every source.
    assert.ok(result.samples.length >= 10, `${result.samples.length} samples`);
    for (const s of result.samples) {
      assert.ok(s.reading.rss! > 0 && s.reading.heapUsed! > 0 && s.reading.fds! >= 500, `gateway readings at t=${s.t}: ${JSON.stringify(s.reading)}`);
      assert.ok(s.reading.redisKeys >= 500 && s.reading.redisMemory > 0 && s.reading.liveSessions >= 450, `store readings at t=${s.t}`);
    }
    const names = result.series.map((s) => s.name);
    for (const name of JUDGED) {
      const series = result.series.find((s) => s.name === name);
      assert.ok(series?.verdict, `${name} judged (series: ${names.join(', ')})`);
      assert.equal(series.verdict.ok, true, `${name}: ${series.verdict.why}`);
      assert.match(output, new RegExp(`^${name}\\s`, 'm'), `${name} in the printed table`);
    }
    // Half a minute cannot tell garbage from retention: memory is reported, not judged (a run of 10 minutes or more is).
    for (const name of ['gateway RSS', 'gateway heap used']) assert.equal(result.series.find((s) => s.name === name)!.verdict!.skipped, true, name);
    for (const table of ['sessions', 'users', 'events', 'audit_events']) assert.ok(names.includes(`pg ${table}`), `rows of ${table} reported`);
    // The churn ran every kind of operation, and every revocation ended its socket with 4001.
    for (const op of ['reconnect', 'guest sign-out', 'email sign-in']) assert.ok((result.done[op] ?? 0) > 0, `${op} ran: ${JSON.stringify(result.done)}`);
    assert.equal(result.faults, 0);
    const last = result.samples.at(-1)!;
    assert.ok(last.counters.revocations > 0 && last.reading.rows.session_revocations! >= last.counters.revocations, 'revocations reached Postgres');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
