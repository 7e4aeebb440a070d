/** Sign-up, sign-in and authorize over a real socket, against real Postgres and Redis. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Long from 'long';
import pg from 'pg';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { guest, person } from '../helpers/accounts.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError, codes } from '../helpers/results.js';

const PASSWORD = 'correct horse battery';

describe('accounts', () => {
  let gw: TestGateway;
  let db: pg.Pool;
  before(async () => {
    gw = await startGateway();
    db = new pg.Pool({ connectionString: gw.databaseUrl, max: 2 });
  });
  after(async () => {
    await db.end();
    await gw.close();
  });

  describe('auth.signUp', () => {
    it('creates an account and a session, and returns a token, the user and the session id as fixed64', async () => {
      const client = await gw.connect();
      const email = uniqueEmail();
      const r = await client.call('auth_sign_up', { email, password: PASSWORD, name: '  Ada Lovelace  ' });
      const auth = r.authorization!;
      assert.ok(auth.token && auth.token.split('.').length === 3, 'a JWT');
      assert.equal(auth.user?.name, 'Ada Lovelace', 'name is trimmed');
      assert.ok(Long.isLong(auth.session_id) && !(auth.session_id as Long).isZero(), 'session id is a non-zero Long');
      assert.ok(Long.isLong(auth.user?.id) && !(auth.user!.id as Long).isZero());
      const { rows } = await db.query('SELECT id::text, email, password_hash FROM users WHERE id = $1', [auth.user!.id!.toString()]);
      assert.equal(rows[0].email, email);
      assert.match(rows[0].password_hash, /^\$2[aby]\$04\$/, 'bcrypt at the configured cost');
      const sessions = await db.query('SELECT user_id::text FROM sessions WHERE id = $1', [auth.session_id!.toString()]);
      assert.equal(sessions.rows[0].user_id, auth.user!.id!.toString());
    });

    it('makes the socket signed in (methods needing a session work)', async () => {
      const client = await gw.connect();
      await client.call('auth_sign_up', { name: 'Guest' });
      const r = await client.call('auth_get_sessions', {});
      assert.equal(r.sessions?.sessions?.length, 1);
    });

    it('creates a guest account with neither email nor password', async () => {
      const client = await gw.connect();
      const r = await client.call('auth_sign_up', { name: 'Guest' });
      const { rows } = await db.query('SELECT email, password_hash FROM users WHERE id = $1', [r.authorization!.user!.id!.toString()]);
      assert.deepEqual(rows[0], { email: null, password_hash: null });
    });

    it('rejects a taken email with 409, whatever its case', async () => {
      const client = await gw.connect();
      const email = uniqueEmail();
      await client.call('auth_sign_up', { email, password: PASSWORD, name: 'First' });
      const r = await client.request('auth_sign_up', { email: email.toUpperCase(), password: PASSWORD, name: 'Second' });
      assertRpcError(r, ErrorCode.CONFLICT);
    });

    it('lets exactly one of two racing sign-ups for one email win', async () => {
      const email = uniqueEmail('race');
      const clients = await Promise.all([gw.connect(), gw.connect(), gw.connect(), gw.connect()]);
      const results = await Promise.all(clients.map((c, i) => c.request('auth_sign_up', { email, password: PASSWORD, name: `Racer ${i}` })));
      assert.equal(results.filter((r) => r.authorization).length, 1);
      assert.deepEqual(codes(results).filter((c) => c !== 0), [409, 409, 409]);
      const { rows } = await db.query('SELECT count(*)::int AS n FROM users WHERE lower(email) = lower($1)', [email]);
      assert.equal(rows[0].n, 1);
    });

    const invalid: Array<[string, Record<string, string>, RegExp]> = [
      ['missing name', { email: uniqueEmail(), password: PASSWORD, name: '' }, /name/],
      ['blank name', { name: '   \t ' }, /name/],
      ['name over 64 characters', { name: 'x'.repeat(65) }, /name/],
      ['control characters in the name', { name: 'bad\u0000name' }, /name/],
      ['invalid email', { email: 'not-an-email', password: PASSWORD, name: 'A' }, /email/],
      ['email over 254 characters', { email: `${'a'.repeat(250)}@example.test`, password: PASSWORD, name: 'A' }, /email/],
      ['email without password', { email: uniqueEmail(), name: 'A' }, /password/],
      ['password without email', { password: PASSWORD, name: 'A' }, /email/],
      ['password under 8 characters', { email: uniqueEmail(), password: 'short', name: 'A' }, /password/],
      ['password over 128 characters', { email: uniqueEmail(), password: 'p'.repeat(129), name: 'A' }, /password/],
    ];
    for (const [what, payload, field] of invalid) {
      it(`rejects ${what} with 400 naming the field, and writes nothing`, async () => {
        const client = await gw.connect();
        const before = await db.query('SELECT count(*)::int AS n FROM users');
        const r = await client.request('auth_sign_up', payload);
        assertRpcError(r, ErrorCode.BAD_REQUEST);
        assert.match(r.error?.error_message ?? '', field);
        const afterCount = await db.query('SELECT count(*)::int AS n FROM users');
        assert.equal(afterCount.rows[0].n, before.rows[0].n);
      });
    }

    it('counts every character of a long password (no 72-byte truncation)', async () => {
      const client = await gw.connect();
      const email = uniqueEmail();
      const long = `pale quokka ${'a'.repeat(88)}`;
      await client.call('auth_sign_up', { email, password: long, name: 'Long' });
      const wrong = await client.request('auth_sign_in', { email, password: `${long.slice(0, 99)}b` });
      assertRpcError(wrong, ErrorCode.UNAUTHENTICATED);
      const right = await client.request('auth_sign_in', { email, password: long });
      assert.ok(right.authorization);
    });

    it('normalises Unicode passwords (NFKC)', async () => {
      const client = await gw.connect();
      const email = uniqueEmail();
      await client.call('auth_sign_up', { email, password: 'caf\u00e9-quokka-password', name: 'Cafe' });
      const r = await client.request('auth_sign_in', { email, password: 'cafe\u0301-quokka-password' });
      assert.ok(r.authorization, 'decomposed form signs in too');
    });
  });

  describe('auth.signIn', () => {
    let email: string;
    before(async () => {
      email = uniqueEmail('signin');
      const { client } = await person(gw, { email, password: PASSWORD, name: 'Signer' });
    });

    it('signs in with the right password and creates a new session each time', async () => {
      const client = await gw.connect();
      const a = await client.call('auth_sign_in', { email, password: PASSWORD });
      const b = await client.call('auth_sign_in', { email: email.toUpperCase(), password: PASSWORD, totp: '123456' });
      assert.notEqual(a.authorization!.session_id!.toString(), b.authorization!.session_id!.toString());
      assert.equal(a.authorization!.user!.id!.toString(), b.authorization!.user!.id!.toString());
    });

    it('answers an unknown email and a wrong password alike', async () => {
      const client = await gw.connect();
      const unknown = await client.request('auth_sign_in', { email: uniqueEmail('nobody'), password: PASSWORD });
      const wrong = await client.request('auth_sign_in', { email, password: 'wrong password' });
      assertRpcError(unknown, ErrorCode.UNAUTHENTICATED);
      assertRpcError(wrong, ErrorCode.UNAUTHENTICATED);
      assert.equal(unknown.error?.error_message, wrong.error?.error_message);
    });

    it('rejects an empty password with 400 naming the field', async () => {
      const client = await gw.connect();
      const r = await client.request('auth_sign_in', { email, password: '' });
      assertRpcError(r, ErrorCode.BAD_REQUEST);
      assert.match(r.error?.error_message ?? '', /password/);
    });
  });

  describe('auth.authorize', () => {
    let token: string;
    let sessionId: string;
    before(async () => {
      const client = await gw.connect();
      const r = await person(gw, { client, email: uniqueEmail('authz'), password: PASSWORD, name: 'Resumer' });
      token = r.authorization!.token!;
      sessionId = r.authorization!.session_id!.toString();
    });

    it('resumes the same session on a new socket (no new session)', async () => {
      const { rows: before } = await db.query('SELECT count(*)::int AS n FROM sessions');
      const client = await gw.connect();
      const r = await client.call('auth_authorize', { token });
      assert.equal(r.authorization!.session_id!.toString(), sessionId);
      assert.equal(r.authorization!.user!.name, 'Resumer');
      const { rows: afterRows } = await db.query('SELECT count(*)::int AS n FROM sessions');
      assert.equal(afterRows[0].n, before[0].n);
      const sessions = await client.call('auth_get_sessions', {});
      assert.equal(sessions.sessions!.current!.toString(), sessionId);
    });

    it('answers 403 to forged, malformed and empty tokens', async () => {
      const client = await gw.connect();
      const [header, payload] = token.split('.');
      const forged = `${header}.${payload}.${'A'.repeat(43)}`;
      for (const bad of [forged, 'not a token', '', `${header}.e30.`, 'x'.repeat(5000)]) {
        const r = await client.request('auth_authorize', { token: bad });
        assertRpcError(r, ErrorCode.FORBIDDEN, undefined, bad.slice(0, 20));
      }
      const r = await client.request('auth_get_sessions', {});
      assertRpcError(r, ErrorCode.UNAUTHENTICATED, undefined, 'still not signed in');
    });

    it('answers 403 to a token whose session was revoked', async () => {
      const client = await gw.connect();
      const r = await guest(gw, 'Soon gone', { client });
      await client.call('auth_revoke_sessions', { session_ids: [r.authorization!.session_id!] });
      const other = await gw.connect();
      const again = await other.request('auth_authorize', { token: r.authorization!.token! });
      assertRpcError(again, ErrorCode.FORBIDDEN);
    });

    it('is accepted by another gateway instance on the same database', async () => {
      const second = await startGateway({}, { databaseUrl: gw.databaseUrl });
      try {
        const client = await second.connect();
        const r = await client.call('auth_authorize', { token });
        assert.equal(r.authorization!.session_id!.toString(), sessionId);
      } finally {
        await second.close();
      }
    });
  });

  describe('methods needing a session', () => {
    it('answer 401 before sign-in', async () => {
      const client = await gw.connect();
      for (const method of ['auth_get_sessions', 'auth_revoke_sessions'] as const) {
        const r = await client.request(method, {});
        assertRpcError(r, ErrorCode.UNAUTHENTICATED, undefined, method);
      }
    });
  });

  describe('concurrency', () => {
    it('answers an Authorize while 8 sign-ins are still hashing', async () => {
      const slow = await startGateway({ BCRYPT_COST: '12', BCRYPT_CONCURRENCY: '2' });
      try {
        const email = uniqueEmail('slow');
        const setup = await slow.connect();
        const { authorization } = await person(slow, { client: setup, email, password: PASSWORD, name: 'Slow' });
        const hashers = await Promise.all(Array.from({ length: 8 }, () => slow.connect()));
        let signedIn = 0;
        const signIns = hashers.map((c) => c.request('auth_sign_in', { email, password: PASSWORD }).finally(() => signedIn++));
        // Same socket as a pending sign-in: requests are handled concurrently.
        const r = await hashers[0]!.call('auth_authorize', { token: authorization!.token! });
        // Order, not a stopwatch: 8 hashes at cost 12 take four rounds of a pool
        // of two, so an Authorize queued behind the hashes would come after most of them.
        const pendingAtAuthorize = 8 - signedIn;
        const results = await Promise.all(signIns);
        assert.ok(r.authorization);
        assert.ok(results.every((x) => x.authorization));
        assert.ok(pendingAtAuthorize >= 4, `the Authorize did not wait for the hashes: ${pendingAtAuthorize} of 8 sign-ins still pending`);
      } finally {
        await slow.close();
      }
    });
  });
});
