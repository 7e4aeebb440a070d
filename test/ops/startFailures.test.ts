/**
 * A start that cannot succeed ends at once with a non-zero exit code and one
 * line on stderr that says what failed and what to do, never a stack trace:
 * the person reading it is setting the gateway up.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import getPort from 'get-port';
import { createDatabase, DATABASE_URL, REDIS_URL } from '../helpers/stack.js';
import { runGatewayToExit, type Finished } from '../helpers/process.js';

/** The one line: exactly one line on stderr, and nothing on stdout that looks like a stack trace. */
function assertOneLine(run: Finished, expected: RegExp, code = 1): void {
  assert.equal(run.code, code, `exit code; stderr:\n${run.stderr}\nstdout:\n${run.stdout}`);
  const lines = run.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line on stderr, got:\n${run.stderr}`);
  assert.match(lines[0]!, /^cannot start: /);
  assert.match(lines[0]!, expected);
  assert.doesNotMatch(run.stdout + run.stderr, /^\s+at /m, 'no stack trace');
}

describe('a start that cannot succeed says why in one line', () => {
  let scratch: string;
  let occupied: Server;
  let occupiedPort: number;
  before(async () => {
    scratch = mkdtempSync(join(process.env.TEST_STACK_DIR ?? tmpdir(), 'start-failures-'));
    occupied = createServer().listen(0, '127.0.0.1');
    await once(occupied, 'listening');
    occupiedPort = (occupied.address() as { port: number }).port;
  });
  after(() => {
    occupied.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('port in use: names the port and PORT', async () => {
    const run = await runGatewayToExit({ DATABASE_URL: await createDatabase(), REDIS_URL, PORT: String(occupiedPort) });
    assertOneLine(run, new RegExp(`port ${occupiedPort} is in use \\(set PORT to another port`));
  });

  it('port in use with two cluster workers: said once, by the primary, which exits at once', async () => {
    const run = await runGatewayToExit({ DATABASE_URL: await createDatabase(), REDIS_URL, PORT: String(occupiedPort), WORKERS: '2' });
    assertOneLine(run, new RegExp(`port ${occupiedPort} is in use`));
    assert.equal(run.stdout.match(/"msg":"worker died/g), null, 'no worker was respawned');
  });

  it('metrics port in use: names METRICS_PORT, not PORT', async () => {
    const run = await runGatewayToExit({ DATABASE_URL: await createDatabase(), REDIS_URL, PORT: '0', METRICS_PORT: String(occupiedPort) });
    assertOneLine(run, new RegExp(`port ${occupiedPort} \\(metrics\\) is in use \\(set METRICS_PORT to another port`));
  });

  it('Postgres refusing connections: names DATABASE_URL and its address', async () => {
    const closedPort = await getPort({ host: '127.0.0.1' });
    const run = await runGatewayToExit({ DATABASE_URL: `postgres://osmium@127.0.0.1:${closedPort}/osmium`, REDIS_URL: '', PORT: '0' });
    assertOneLine(run, new RegExp(`Postgres at DATABASE_URL \\(127\\.0\\.0\\.1:${closedPort}\\) refused the connection .*check DATABASE_URL`));
  });

  it('behind a pooler, a direct Postgres refusing connections: names DATABASE_DIRECT_URL, which the start reaches first', async () => {
    const closedPort = await getPort({ host: '127.0.0.1' });
    const run = await runGatewayToExit({ DATABASE_URL, DATABASE_DIRECT_URL: `postgres://osmium@127.0.0.1:${closedPort}/osmium`, REDIS_URL: '', PORT: '0' });
    assertOneLine(run, new RegExp(`Postgres at DATABASE_DIRECT_URL \\(127\\.0\\.0\\.1:${closedPort}\\) refused the connection .*check DATABASE_DIRECT_URL`));
  });

  it('a database that does not exist: names it and DATABASE_URL', async () => {
    const url = new URL(DATABASE_URL);
    url.pathname = '/no_such_database';
    const run = await runGatewayToExit({ DATABASE_URL: url.toString(), REDIS_URL: '', PORT: '0' });
    assertOneLine(run, /has no database "no_such_database" \(create it, or fix the database name in DATABASE_URL\)/);
  });

  it('DATA_DIR that cannot be a folder (embedded mode): names DATA_DIR', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, '');
    const run = await runGatewayToExit({ DATABASE_URL: '', REDIS_URL: '', PORT: '0', DATA_DIR: join(file, 'data') });
    assertOneLine(run, new RegExp(`DATA_DIR ${join(file, 'data')} is not writable \\(a part of the path is a file\\): set DATA_DIR`));
  });

  it('invalid settings: every bad variable in the one line, exit code 2', async () => {
    const run = await runGatewayToExit({ PORT: 'abc', WORKERS: '0' });
    assertOneLine(run, /invalid configuration: PORT="abc": .*; WORKERS="0": /, 2);
  });
});
