/**
 * Zero-config mode as a newcomer runs it: `node src/main.ts` with no
 * DATABASE_URL / REDIS_URL starts an embedded Postgres under DATA_DIR, says
 * so in one line followed by the WebSocket URL and a command to try it, keeps
 * accounts across a restart, keeps tokens valid across a key rotation done
 * with the admin CLI beside the running gateway, and refuses a second gateway
 * on the same DATA_DIR in one line.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OsmiumClient } from '../../src/client/client.js';
import { person } from '../helpers/accounts.js';
import { runAdmin } from '../helpers/admin.js';
import { spawnGateway, uniqueEmail } from '../helpers/stack.js';
import { waitForOutput } from './output.js';
import { runGatewayToExit } from '../helpers/process.js';

const PASSWORD = 'embedded mode password';
/** No servers: the zero-config mode. */
const EMBEDDED_ENV = { DATABASE_URL: '', REDIS_URL: '' };

describe('embedded single-instance mode', () => {
  let root: string;
  let dataDir: string;
  before(() => {
    root = mkdtempSync(join(process.env.TEST_STACK_DIR ?? tmpdir(), 'ops-embedded-'));
    chmodSync(root, 0o755); // as root, Postgres runs as the user postgres, who must enter it
    dataDir = join(root, 'data');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('starts from an empty DATA_DIR, keeps accounts and tokens across a restart and a key rotation', async () => {
    assert.equal(existsSync(dataDir), false);
    const first = await spawnGateway({ ...EMBEDDED_ENV, DATA_DIR: dataDir });
    const email = uniqueEmail('embedded');
    let token: string;
    try {
      await waitForOutput(first, /single-instance mode/);
      const modeLines = first.output.filter((l) => l.includes('single-instance mode'));
      assert.equal(modeLines.length, 1, first.output.join('\n'));
      assert.match(modeLines[0]!, /embedded Postgres/);
      assert.match(modeLines[0]!, /set DATABASE_URL and REDIS_URL/);
      assert.ok(existsSync(join(dataDir, 'postgres', 'PG_VERSION')), 'the cluster lives under DATA_DIR/postgres');
      // The first minute: after the ready line, where to connect and one command that talks to it.
      const modeAt = first.output.indexOf(modeLines[0]!);
      const [urlLine] = await waitForOutput(first, /WebSocket URL: /);
      const [tryLine] = await waitForOutput(first, /try it: /);
      assert.ok(first.output.indexOf(urlLine!) > modeAt && first.output.indexOf(tryLine!) > modeAt, 'both after the ready line');
      assert.match(urlLine!, new RegExp(`WebSocket URL: ${first.url}"`));
      assert.match(tryLine!, new RegExp(`npm run loadtest -- --url ${first.url} --scenario authorize`));
      assert.match((await waitForOutput(first, /web console: /))[0]!, new RegExp(`web console: ${first.url.replace('ws:', 'http:')}/console`));

      const client = await OsmiumClient.connect(first.url);
      // The production build's password checker (a thread beside the bundle, scripts/build.mjs) refuses a common password.
      const weak = await client.request('auth_sign_up', { email, password: 'iloveyou2', name: 'Embedded User' });
      assert.match(weak.error?.error_message ?? '', /^password is too common/);
      const signedUp = await person(first, { client, email, password: PASSWORD, name: 'Embedded User' });
      token = signedUp.authorization!.token!;
      await client.close();

      // Rotation beside the running gateway: the admin CLI finds its Postgres in DATA_DIR.
      const rotated = await runAdmin(['keys', 'rotate'], { ...EMBEDDED_ENV, DATA_DIR: dataDir });
      assert.equal(rotated.code, 0, rotated.stderr);
      const listed = await runAdmin(['keys', 'list'], { ...EMBEDDED_ENV, DATA_DIR: dataDir });
      assert.equal(listed.lines.length, 2);
      assert.equal(listed.lines[0]!.kid, rotated.lines[0]!.kid, 'the new key is listed first');

      // A second gateway on the same DATA_DIR refuses to start, in one line naming the first, and leaves it alone.
      const firstPid = first.process.pid!;
      const refused = await runGatewayToExit({ ...EMBEDDED_ENV, DATA_DIR: dataDir, PORT: '0' });
      assert.equal(refused.code, 1);
      assert.equal(
        refused.stderr,
        `cannot start: DATA_DIR ${dataDir} is in use by another process (pid ${firstPid}, a gateway or the admin CLI): stop it or set another DATA_DIR\n`,
      );

      const resumed = await OsmiumClient.connect(first.url);
      assert.ok((await resumed.call('auth_authorize', { token })).authorization, 'a token signed before the rotation still works');
      await resumed.close();
    } finally {
      assert.equal(await first.stop('SIGTERM'), 0);
    }

    const second = await spawnGateway({ ...EMBEDDED_ENV, DATA_DIR: dataDir });
    try {
      const client = await OsmiumClient.connect(second.url);
      const signedIn = await client.call('auth_sign_in', { email, password: PASSWORD });
      assert.ok(signedIn.authorization?.token, 'the account survived the restart');
      const other = await OsmiumClient.connect(second.url);
      assert.ok((await other.call('auth_authorize', { token })).authorization, 'and so did the session and its signing key');
      await Promise.all([client.close(), other.close()]);

      const retired = await runAdmin(['keys', 'retire'], { ...EMBEDDED_ENV, DATA_DIR: dataDir });
      assert.equal(retired.code, 0, retired.stderr);
      assert.equal((retired.lines[0]!.retired as string[]).length, 1);
    } finally {
      assert.equal(await second.stop('SIGINT'), 0, 'Ctrl+C stops it cleanly too');
    }
    assert.equal(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), false, 'the embedded Postgres stopped with the gateway');
  });
});
