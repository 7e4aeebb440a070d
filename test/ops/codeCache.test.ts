/**
 * The production start, `node dist/main.js`: the gateway's CommonJS bundle
 * loads with the V8 code cache the build wrote beside it, and says so in its
 * ready line; a cache V8 refuses (other V8 flags here, as another node
 * version would) still starts, with one warning that says what to do.
 * Runs the build of this test run (TEST_DIST_DIR), else builds dist/ first.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import getPort from 'get-port';
import { OsmiumClient } from '../../src/client/client.js';
import { guest } from '../helpers/accounts.js';
import { createDatabase, LIFTED_LIMITS, REDIS_ENV } from '../helpers/stack.js';
import { readyz, startProcess } from '../helpers/process.js';

const REPO = join(import.meta.dirname, '..', '..');

describe('node dist/main.js and its code cache', () => {
  let dist: string;
  before(() => {
    dist = process.env.TEST_DIST_DIR ?? join(REPO, 'dist');
    if (!process.env.TEST_DIST_DIR) execFileSync(process.execPath, [join(REPO, 'scripts', 'build.mjs'), '--if-stale'], { stdio: 'ignore' });
  });

  /** Starts the compiled gateway with `nodeOptions`, waits for /readyz, and returns its ready line, its warnings and a client. */
  async function start(nodeOptions: string) {
    const port = await getPort();
    const running = startProcess(process.execPath, [join(dist, 'main.js')], {
      env: {
        ...process.env, NODE_OPTIONS: nodeOptions, NODE_ENV: 'production', LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: String(port),
        WORKERS: '1', BCRYPT_COST: '4', DATABASE_URL: await createDatabase(), ...REDIS_ENV, ...LIFTED_LIMITS,
      },
    });
    try {
      await readyz(port, running);
      const ready = JSON.parse(await running.line(/"msg":"ready"/)) as { codeCache?: string };
      const warnings = running.lines.filter((l) => l.includes('code cache'));
      // It serves: a guest signs up over the socket.
      const client = await OsmiumClient.connect(`ws://127.0.0.1:${port}`);
      try {
        assert.ok((await guest({ url: `ws://127.0.0.1:${port}` }, 'Guest', { client })).authorization?.token, 'a guest token');
      } finally {
        await client.close();
      }
      return { ready, warnings };
    } finally {
      await running.stop();
    }
  }

  it('starts with the code cache the build wrote, and says so in its ready line', async () => {
    const { ready, warnings } = await start('');
    assert.equal(ready.codeCache, 'used');
    assert.deepEqual(warnings, []);
  });

  it('a cache V8 refuses (other V8 flags): still serves, and warns once that the start is slower and how to mend it', async () => {
    const { ready, warnings } = await start('--stack-trace-limit=20');
    assert.equal(ready.codeCache, 'rejected');
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /refused by V8.*run npm run build with this node/);
  });
});
