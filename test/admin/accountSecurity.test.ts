/**
 * The operator's side of account security, run as operators run it (the
 * admin CLI in its own process): the audit trail as JSON lines, its
 * retention prune, and rotating the key that encrypts TOTP secrets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { awayFromStepBoundary, codeAt, newTotpKey, person, STRONG_PASSWORD } from '../helpers/accounts.js';
import { runAdmin } from '../helpers/admin.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

describe('audit trail (admin user events)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ AUDIT_RETENTION_DAYS: '30' });
  });
  after(() => gw.close());

  it('prints the user\'s security events newest first as JSON lines, with session, IP and device; --limit bounds them', async () => {
    const email = uniqueEmail('events');
    const client = await gw.connect();
    await client.call('core_initialize', { client_id: 4, device_type: 'ios', device_version: '17', app_version: '5.1' });
    const auth = (await person(gw, { client, email, password: STRONG_PASSWORD, name: 'Eve Ents' })).authorization!;
    const userId = auth.user!.id!.toString();
    await client.call('auth_sign_in', { email, password: STRONG_PASSWORD });
    await client.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: 'amber walrus orchestra' });

    const all = await runAdmin(['user', 'events', userId], { DATABASE_URL: gw.databaseUrl });
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(all.lines.map((l) => l.kind), ['password_changed', 'sign_in']);
    const [changed, signIn] = all.lines as Array<Record<string, unknown>>;
    assert.equal(changed!.user_id, userId);
    assert.match(String(changed!.at), /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual([changed!.ip, changed!.client_id, changed!.device_type, changed!.device_version, changed!.app_version], ['127.0.0.1', 4, 'ios', '17', '5.1']);
    assert.deepEqual(changed!.detail, { first_password: false, revoked_sessions: 0, email_change_cancelled: false });
    assert.match(String(signIn!.session_id), /^\d+$/);
    assert.notEqual(signIn!.session_id, auth.session_id!.toString(), 'the sign-in\'s own session');
    const text = all.stdout;
    assert.ok(!text.includes(STRONG_PASSWORD) && !text.includes('amber walrus'), 'no secret in the trail');

    const one = await runAdmin(['user', 'events', userId, '--limit', '1'], { DATABASE_URL: gw.databaseUrl });
    assert.deepEqual(one.lines.map((l) => l.kind), ['password_changed']);
    const bad = await runAdmin(['user', 'events', 'nope'], { DATABASE_URL: gw.databaseUrl });
    assert.equal(bad.code, 2);
  });

  it('is append-only, and the prune removes only events older than AUDIT_RETENTION_DAYS', async () => {
    const client = await gw.connect();
    const email = uniqueEmail('prune');
    const userId = (await person(gw, { client, email, password: STRONG_PASSWORD, name: 'Pru Ne' })).authorization!.user!.id!.toString();
    await client.call('auth_sign_in', { email, password: STRONG_PASSWORD });
    await client.call('auth_sign_in', { email, password: STRONG_PASSWORD });
    await assert.rejects(gw.app.db.query(`UPDATE audit_events SET kind = 'x' WHERE user_id = $1`, [userId]), /append-only/);
    // Age one event past the retention the way time would (the table refuses UPDATE: re-insert it older).
    await gw.app.db.query(`
      WITH old AS (DELETE FROM audit_events WHERE id = (SELECT min(id) FROM audit_events WHERE user_id = $1) RETURNING *)
      INSERT INTO audit_events SELECT id, user_id, now() - interval '31 days', kind, session_id, ip, client_id, device_type, device_version, app_version, country, region, detail FROM old`, [userId]);
    const pruned = await gw.app.services.accountDeletion.pruneAudit();
    assert.ok(pruned >= 1);
    const { rows } = await gw.app.db.query(`SELECT count(*)::int AS n FROM audit_events WHERE user_id = $1`, [userId]);
    assert.equal(rows[0].n, 1, 'the recent event stays');
  });
});

describe('TOTP encryption key rotation (admin totp reencrypt)', () => {
  it('re-seals every secret with the new key, after which the old key can go', async () => {
    const oldKey = newTotpKey();
    const newKey = newTotpKey();
    const first = await startGateway({ TOTP_ENCRYPTION_KEY: oldKey });
    const account = await person(first, { tag: 'rotate', verifiedWith: 'database', totp: true });
    await first.close();

    // Step 1: the new key first, the old one after it.
    const both = await startGateway({ TOTP_ENCRYPTION_KEY: `${newKey},${oldKey}` }, { databaseUrl: first.databaseUrl });
    try {
      await awayFromStepBoundary();
      const c = await both.connect();
      await c.call('auth_sign_in', { email: account.email, password: account.password, totp: codeAt(account.url) });
    } finally {
      await both.close();
    }
    // Step 2: re-seal.
    const r = await runAdmin(['totp', 'reencrypt'], { DATABASE_URL: first.databaseUrl, TOTP_ENCRYPTION_KEY: `${newKey},${oldKey}` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0]!.resealed, 1);
    const again = await runAdmin(['totp', 'reencrypt'], { DATABASE_URL: first.databaseUrl, TOTP_ENCRYPTION_KEY: `${newKey},${oldKey}` });
    assert.equal(again.lines[0]!.resealed, 0, 'nothing left under the old key');
    // Step 3: the old key is gone; the authenticator keeps working.
    const onlyNew = await startGateway({ TOTP_ENCRYPTION_KEY: newKey }, { databaseUrl: first.databaseUrl });
    try {
      const c = await onlyNew.connect();
      const signedIn = await c.request('auth_sign_in', { email: account.email, password: account.password, totp: codeAt(account.url, 1) });
      assert.ok(signedIn.authorization, JSON.stringify(signedIn.error));
    } finally {
      await onlyNew.close();
    }
  });
});
