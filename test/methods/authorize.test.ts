/**
 * auth.authorize from the session cache: a warm Authorize (the real client
 * sequence, Initialize then Authorize, unchanged device) needs no Postgres at
 * all; idle expiry and removed users apply to open sockets too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { guest, person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { DATABASE_URL, startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

const DEVICE = { client_id: 9, device_type: 'desktop', device_version: 'Linux 6.9', app_version: '3.0.0' };

/** Runs SQL as the server's superuser, outside the gateway's database. */
async function asAdmin(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

describe('warm Authorize', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ ACTIVITY_PERSIST_GRANULARITY: '3600' });
  });
  after(() => gw.close());

  it('resumes cached sessions with no Postgres at all, device unchanged, as real clients reconnect', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await gw.connect();
      await c.call('core_initialize', DEVICE);
      tokens.push((await guest(gw, `Warm ${i}`, { client: c })).authorization!.token!);
      await c.close();
    }
    const name = new URL(gw.databaseUrl).pathname.slice(1);
    // Postgres refuses the gateway's database from here on: any statement would fail.
    await asAdmin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await asAdmin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
    try {
      for (const token of tokens) {
        const c = await gw.connect();
        await c.call('core_initialize', DEVICE);
        const r = await c.call('auth_authorize', { token });
        assert.equal(r.authorization!.token, token);
        await c.close();
      }
      // A changed device cannot be recorded now; the Authorize still succeeds.
      const changed = await gw.connect();
      await changed.call('core_initialize', { ...DEVICE, app_version: '3.0.1' });
      assert.ok((await changed.call('auth_authorize', { token: tokens[0]! })).authorization);
    } finally {
      await asAdmin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    }
    const again = await gw.connect();
    await again.call('core_initialize', { ...DEVICE, app_version: '3.0.1' });
    await again.call('auth_authorize', { token: tokens[0]! });
    const listed = (await again.call('auth_get_sessions', {})).sessions!.sessions!;
    assert.equal(listed[0]!.app_version, '3.0.1', 'the device is recorded once Postgres is back');
  });
});

describe('idle expiry on open sockets', () => {
  let gw: TestGateway;
  before(async () => {
    // 0.00003 days = 2.6 s
    gw = await startGateway({ SESSION_IDLE_DAYS: '0.00003' });
  });
  after(() => gw.close());

  /** A user with a quiet socket on one session and a busy second device. */
  async function quietAndBusy() {
    const email = uniqueEmail('quiet');
    const quiet = await gw.connect();
    const quietAuth = (await person(gw, { client: quiet, email, password: 'quiet sockets', name: 'Quiet' })).authorization!;
    const busy = await gw.connect();
    await busy.call('auth_sign_in', { email, password: 'quiet sockets' });
    // Wait for the quiet session to idle out, asking from the other device (which keeps only itself alive).
    await eventually(
      async () => !(await busy.call('auth_get_sessions', {})).sessions!.sessions!.some((s) => s.id!.toString() === quietAuth.session_id!.toString()),
      { what: 'the quiet session idled out', timeoutMs: 15_000, intervalMs: 200 },
    );
    return { quiet, quietAuth };
  }

  it('a request on a socket quiet past the idle window does not revive its session: the socket is closed as revoked', async () => {
    const { quiet, quietAuth } = await quietAndBusy();
    const r = await quiet.request('auth_get_sessions', {});
    assertRpcError(r, ErrorCode.UNAUTHENTICATED);
    assert.equal((await quiet.nextUpdate()).session_deleted?.session_id?.toString(), quietAuth.session_id!.toString());
    assert.equal((await quiet.closed).code, CloseCode.SESSION_REVOKED);
    const other = await gw.connect();
    assertRpcError((await other.request('auth_authorize', { token: quietAuth.token! })), ErrorCode.FORBIDDEN);
  });

  it('nor do a heartbeat and requests sent together: none counts as activity while the check runs', async () => {
    const { quiet, quietAuth } = await quietAndBusy();
    quiet.heartbeat();
    const answers = await Promise.all([quiet.request('auth_get_sessions', {}), quiet.request('auth_get_sessions', {})].map((r) => r.catch(() => null)));
    assert.deepEqual(answers.map((r) => r?.sessions ?? null), [null, null], 'neither request was served');
    assert.equal((await quiet.nextUpdate()).session_deleted?.session_id?.toString(), quietAuth.session_id!.toString());
    assert.equal((await quiet.closed).code, CloseCode.SESSION_REVOKED);
    const other = await gw.connect();
    assertRpcError((await other.request('auth_authorize', { token: quietAuth.token! })), ErrorCode.FORBIDDEN);
  });

  it('nor does a heartbeat', async () => {
    const { quiet, quietAuth } = await quietAndBusy();
    quiet.heartbeat();
    assert.equal((await quiet.nextUpdate()).session_deleted?.session_id?.toString(), quietAuth.session_id!.toString());
    assert.equal((await quiet.closed).code, CloseCode.SESSION_REVOKED);
    const other = await gw.connect();
    assertRpcError((await other.request('auth_authorize', { token: quietAuth.token! })), ErrorCode.FORBIDDEN);
  });
});

describe('a user removed from Postgres', () => {
  it('closes every socket of theirs on every instance as revoked, and their tokens stop working', async () => {
    const one = await startGateway({ REDIS_PREFIX: `rm${randomBytes(4).toString('hex')}:` });
    const two = await startGateway({ REDIS_PREFIX: one.app.config.REDIS_PREFIX }, { databaseUrl: one.databaseUrl });
    try {
      const email = uniqueEmail('removed');
      const a = await one.connect();
      const first = (await person(one, { client: a, email, password: 'removed walrus lantern', name: 'Removed' })).authorization!;
      const b = await two.connect();
      const second = (await b.call('auth_sign_in', { email, password: 'removed walrus lantern' })).authorization!;
      await one.app.db.query(`DELETE FROM users WHERE id = $1`, [first.user!.id!.toString()]);
      for (const [client, auth] of [[a, first], [b, second]] as const) {
        assert.equal((await client.nextUpdate()).session_deleted?.session_id?.toString(), auth.session_id!.toString());
        assert.equal((await client.closed).code, CloseCode.SESSION_REVOKED);
      }
      for (const gw of [one, two]) {
        const c = await gw.connect();
        assertRpcError((await c.request('auth_authorize', { token: first.token! })), ErrorCode.FORBIDDEN);
      }
    } finally {
      await two.close();
      await one.close();
    }
  });
});
