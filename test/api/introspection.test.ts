/**
 * POST /v1/sessions/introspect on two instances sharing Postgres and Redis:
 * a valid token's session, a revocation on one instance refused by the other
 * the moment auth.revokeSessions answered, forged, malformed and idle-expired
 * tokens, and the API key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Long from 'long';
import { request } from 'undici';
import { guest, person, signIn } from '../helpers/accounts.js';
import { codeOf, TestSmtp } from '../helpers/smtp.js';
import { eventually } from '../helpers/eventually.js';
import { createDatabase, startGateway, type TestGateway } from '../helpers/stack.js';

const KEY = 'introspection-test-key-0123456789';
const API = { API_PORT: '0', API_KEYS: KEY };

async function introspect(gw: TestGateway, token: unknown, key: string | null = KEY) {
  const res = await request(`http://127.0.0.1:${gw.app.apiPort}/v1/sessions/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
    body: JSON.stringify({ token }),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe('token introspection on two instances', () => {
  let one: TestGateway;
  let two: TestGateway;
  let smtp: TestSmtp;
  before(async () => {
    smtp = await TestSmtp.start();
    const databaseUrl = await createDatabase();
    // One deployment: the same Postgres and the same Redis namespace.
    const shared = { ...API, REDIS_PREFIX: `i${randomBytes(4).toString('hex')}:` };
    one = await startGateway({ ...shared, SMTP_URL: smtp.url }, { databaseUrl });
    two = await startGateway(shared, { databaseUrl });
  });
  after(async () => {
    await one.close();
    await two.close();
    await smtp.close();
  });

  it('runs no Postgres statement for a warm session (the token check and one Redis read)', async () => {
    const account = await guest(one, 'Warm');
    assert.equal((await introspect(two, account.token)).body.active, true, 'warms the entry on the other instance');
    const pool = two.app.db;
    let statements = 0;
    const query = pool.query.bind(pool);
    const connect = pool.connect.bind(pool);
    pool.query = ((...args: Parameters<typeof query>) => {
      statements++;
      return query(...args);
    }) as typeof pool.query;
    pool.connect = ((...args: Parameters<typeof connect>) => {
      statements++;
      return connect(...args);
    }) as typeof pool.connect;
    try {
      for (let i = 0; i < 20; i++) assert.equal((await introspect(two, account.token)).body.active, true);
    } finally {
      pool.query = query;
      pool.connect = connect;
    }
    assert.equal(statements, 0);
  });

  it('shows an address verified the moment it was verified', async () => {
    const { client, email, token } = await person(one, { tag: 'verified', name: 'Verifies' });
    assert.equal((await introspect(two, token)).body.email_verified, false);
    await client.call('auth_verify_email', { email, code: codeOf(await smtp.next(email)) });
    assert.equal((await introspect(two, token)).body.email_verified, true);
    assert.equal((await introspect(one, token)).body.email_verified, true);
  });

  it('answers who a valid token is, on any instance', async () => {
    const signedUp = await person(one, {
      tag: 'inspected', name: 'Inspected',
      initialize: { client_id: 7, device_type: 'mobile', device_version: 'Android 15', app_version: '1.0.3' },
    });
    const r = await introspect(two, signedUp.token);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      active: true,
      user_id: signedUp.userId,
      session_id: signedUp.sessionId,
      bot: false,
      name: 'Inspected',
      email_verified: false,
      device: { client_id: 7, device_type: 'mobile', device_version: 'Android 15', app_version: '1.0.3' },
    });
  });

  it('refuses a token revoked on the other instance the moment the revocation answered', async () => {
    const alice = await person(one, { tag: 'introspect' });
    const phone = await guest(one); // a second account, so the revoke below targets only alice's other session
    assert.equal((await introspect(two, phone.token)).body.active, true);
    const other = await one.connect();
    const second = (await other.call('auth_sign_in', { email: alice.email, password: alice.password })).authorization!;
    assert.equal((await introspect(two, second.token)).body.active, true, 'warm on the other instance first');
    await alice.client.call('auth_revoke_sessions', { session_ids: [Long.fromString(second.session_id!.toString(), true)] });
    // No wait: the answer came after every instance confirmed.
    assert.deepEqual((await introspect(two, second.token)).body, { active: false });
    assert.deepEqual((await introspect(one, second.token)).body, { active: false });
    assert.equal((await introspect(two, alice.token)).body.active, true, 'the session that revoked is still valid');
  });

  it('says only active: false of forged, tampered and malformed tokens', async () => {
    const account = await guest(one);
    const [head, payload, signature] = account.token.split('.');
    const flipped = signature!.slice(0, -2) + (signature!.endsWith('AA') ? 'BB' : 'AA');
    for (const token of [`${head}.${payload}.${flipped}`, 'not a token', '', 'a.b.c', `${head}.${payload}`]) {
      const r = await introspect(two, token);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { active: false }, token);
    }
    assert.equal((await introspect(two, 42)).status, 400, 'a token that is not a string');
  });

  it('refuses a missing or wrong API key with 401', async () => {
    const account = await guest(one);
    assert.equal((await introspect(two, account.token, null)).status, 401);
    assert.equal((await introspect(two, account.token, 'wrong-key-but-long-enough-000')).status, 401);
  });
});

describe('introspection of an idle-expired token', () => {
  it('is active: false once the session idled out', async () => {
    // 0.00002 days = 1.7 s without activity.
    const gw = await startGateway({ ...API, SESSION_IDLE_DAYS: '0.00002' });
    try {
      const idle = await person(gw, { tag: 'idle' });
      assert.equal((await introspect(gw, idle.token)).body.active, true);
      await idle.client.close();
      const fresh = await signIn(gw, idle);
      // Waiting through the other session's list (an introspection is the session's use, as an Authorize is: polling it would keep it alive).
      await eventually(
        async () => (await fresh.client.call('auth_get_sessions', {})).sessions!.sessions!.length === 1,
        { what: 'the idle session to drop out of the list' },
      );
      assert.deepEqual((await introspect(gw, idle.token)).body, { active: false });
    } finally {
      await gw.close();
    }
  });
});
