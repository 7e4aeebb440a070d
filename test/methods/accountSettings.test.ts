/**
 * Account settings over a real socket, mails read from the real SMTP test
 * server: getAccount, changePassword, changeEmail (confirmed with
 * auth.verifyEmail), the recent sign-in rule against a stolen token, the
 * password strength policy, and the new-device alert.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OsmiumClient } from '../../src/client/client.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { RECENT_SIGN_IN_REQUIRED } from '../../src/services/recentSignIn.js';
import { ageSignIns, guest, newTotpKey, person, STRONG_PASSWORD } from '../helpers/accounts.js';
import { assertRpcError, count } from '../helpers/results.js';
import { eventually } from '../helpers/eventually.js';
import { codeOf, isEmptyResult, TestSmtp } from '../helpers/smtp.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

const NEW_PASSWORD = 'amber walrus orchestra';

/** settings.getAccount as a plain object (decoded messages leave defaults on the prototype). */
async function accountOf(client: OsmiumClient) {
  const a = (await client.call('settings_get_account', {})).account!;
  return { email: a.email ?? null, confirmed: a.confirmed, has_password: a.has_password, totp_enabled: a.totp_enabled, pending_delete: a.pending_delete };
}

describe('account settings', () => {
  let smtp: TestSmtp;
  let gw: TestGateway;
  before(async () => {
    smtp = await TestSmtp.start();
    gw = await startGateway({ SMTP_URL: smtp.url, TOTP_ENCRYPTION_KEY: newTotpKey(), LIMIT_PASSWORD_CHECK_USER: '3/900' });
  });
  after(async () => {
    await gw.close();
    await smtp.close();
  });

  async function signInResult(email: string, password: string) {
    const client = await gw.connect();
    return { client, r: await client.request('auth_sign_in', { email, password }) };
  }

  async function auditKinds(userId: string): Promise<string[]> {
    const { rows } = await gw.app.db.query(`SELECT kind FROM audit_events WHERE user_id = $1 ORDER BY at, id`, [userId]);
    return rows.map((r) => r.kind as string);
  }

  describe('settings.getAccount', () => {
    it('tells email, confirmation, password, TOTP and pending deletion', async () => {
      const client = await gw.connect();
      const email = uniqueEmail('getacct');
      await person(gw, { client, email, password: STRONG_PASSWORD, name: 'Get' });
      assert.deepEqual(await accountOf(client), { email, confirmed: false, has_password: true, totp_enabled: false, pending_delete: false });
      await client.call('auth_verify_email', { email, code: codeOf(await smtp.next(email)) });
      assert.equal((await client.call('settings_get_account', {})).account!.confirmed, true);
      const totp = await person(gw, { tag: 'getaccttotp', verifiedWith: 'database', totp: true });
      assert.equal((await totp.client.call('settings_get_account', {})).account!.totp_enabled, true);
    });

    it('a guest has no email (field absent) and no password', async () => {
      const { client } = await guest(gw, 'Guest');
      const account = (await client.call('settings_get_account', {})).account!;
      assert.equal(account.email ?? null, null);
      assert.deepEqual([account.confirmed, account.has_password, account.totp_enabled, account.pending_delete], [false, false, false, false]);
    });

    it('every settings method needs a signed-in socket (401)', async () => {
      const client = await gw.connect();
      for (const r of [
        await client.request('settings_get_account', {}),
        await client.request('settings_change_password', { current_password: 'x', new_password: NEW_PASSWORD }),
        await client.request('settings_change_email', { new_email: uniqueEmail() }),
        await client.request('settings_setup_totp', { enabled: true }),
        await client.request('settings_delete_account', {}),
      ]) assertRpcError(r, ErrorCode.UNAUTHENTICATED);
    });
  });

  describe('settings.changePassword', () => {
    it('checks the current password (401), then sets the new one, keeps every session, and mails the owner', async () => {
      const { email, client, userId } = await person(gw, { tag: 'chpw', name: 'Set Tings', verifiedWith: smtp });
      const other = await signInResult(email, STRONG_PASSWORD);
      const wrong = await client.request('settings_change_password', { current_password: 'not it at all', new_password: NEW_PASSWORD });
      assertRpcError(wrong, ErrorCode.UNAUTHENTICATED, 'current_password is wrong');
      assert.ok(isEmptyResult(await client.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD })));
      assertRpcError((await signInResult(email, STRONG_PASSWORD)).r, ErrorCode.UNAUTHENTICATED);
      assert.ok((await signInResult(email, NEW_PASSWORD)).r.authorization);
      assert.ok((await other.client.call('auth_get_sessions', {})).sessions, 'other sessions stay without revoke_sessions');
      const mail = await smtp.next(email);
      assert.match(mail.subject, /password was changed/);
      assert.match(mail.text, /When: \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      assert.ok((await auditKinds(userId)).includes('password_changed'));
    });

    it('revoke_sessions signs out every other session (pushed, closed with 4001) and keeps the caller', async () => {
      const { email, client } = await person(gw, { tag: 'chpwrevoke', name: 'Set Tings', verifiedWith: smtp });
      const others = await Promise.all([signInResult(email, STRONG_PASSWORD), signInResult(email, STRONG_PASSWORD)]);
      await client.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD, revoke_sessions: true });
      for (const { client: o, r } of others) {
        const update = await o.nextUpdate();
        assert.equal(update.session_deleted?.session_id?.toString(), r.authorization!.session_id!.toString());
        assert.equal((await o.closed).code, CloseCode.SESSION_REVOKED);
        const resume = await (await gw.connect()).request('auth_authorize', { token: r.authorization!.token! });
        assertRpcError(resume, ErrorCode.FORBIDDEN);
      }
      const sessions = (await client.call('auth_get_sessions', {})).sessions!.sessions!;
      assert.equal(sessions.length, 1, 'only the caller is left');
      assert.match((await smtp.next(email)).text, /Every other device was signed out/);
    });

    it('applies the strength policy to the new password (400 saying why), and the length rule', async () => {
      const { client, email } = await person(gw, { tag: 'chpwweak', name: 'Set Tings', verifiedWith: smtp });
      const common = await client.request('settings_change_password', { current_password: STRONG_PASSWORD, new_password: 'password123' });
      assertRpcError(common, ErrorCode.BAD_REQUEST);
      assert.match(common.error!.error_message!, /^new_password .*(common|similar)/);
      const own = await client.request('settings_change_password', { current_password: STRONG_PASSWORD, new_password: email });
      assertRpcError(own, ErrorCode.BAD_REQUEST);
      assert.match(own.error!.error_message!, /^new_password contains your email address or name/);
      const short = await client.request('settings_change_password', { current_password: STRONG_PASSWORD, new_password: 'short' });
      assert.match(short.error!.error_message!, /^new_password must be 8 to 128 characters/);
      assert.ok((await signInResult(email, STRONG_PASSWORD)).r.authorization, 'password unchanged');
    });

    it('guesses of the current password from a resumed token are limited per account (429), checked before bcrypt; the signed-in socket keeps its own', async () => {
      const { client, token } = await person(gw, { tag: 'chpwguess', name: 'Set Tings', verifiedWith: smtp });
      const resumed = await gw.connect();
      await resumed.call('auth_authorize', { token });
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
        resumed.request('settings_change_password', { current_password: `wrong guess ${i}`, new_password: NEW_PASSWORD })));
      assert.equal(count(results, ErrorCode.UNAUTHENTICATED), 3);
      assert.equal(count(results, ErrorCode.RATE_LIMITED), 5);
      const right = await resumed.request('settings_change_password', { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD });
      assertRpcError(right, ErrorCode.RATE_LIMITED, undefined, 'the right password waits too');
      assert.ok(isEmptyResult(await client.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD })), 'the owner, where they signed in, is not locked out');
    });

    it('a guest sets a first password with current_password empty (and must leave it empty)', async () => {
      const { client } = await guest(gw, 'Guest');
      const given = await client.request('settings_change_password', { current_password: 'anything', new_password: NEW_PASSWORD });
      assertRpcError(given, ErrorCode.BAD_REQUEST);
      await client.call('settings_change_password', { current_password: '', new_password: NEW_PASSWORD });
      assert.equal((await client.call('settings_get_account', {})).account!.has_password, true);
      const again = await client.request('settings_change_password', { current_password: '', new_password: 'another strong passphrase' });
      assertRpcError(again, ErrorCode.BAD_REQUEST, 'current_password is required');
    });
  });

  describe('settings.changeEmail', () => {
    it('mails a code to the new address and a notice to the old; auth.verifyEmail with the new address applies it', async () => {
      const { email, client, userId } = await person(gw, { tag: 'chmail', name: 'Set Tings', verifiedWith: smtp, initialize: { client_id: 7, device_type: 'ios', device_version: '17', app_version: '1.0' } });
      const next = uniqueEmail('chmailnew');
      assert.ok(isEmptyResult(await client.call('settings_change_email', { new_email: next })));
      const notice = await smtp.next(email);
      assert.match(notice.text, new RegExp(`change its email address to ${next.replace(/[.+]/g, '\\$&')}`));
      assert.match(notice.text, /Device: ios 17/);
      assert.match(notice.text, /App: client 7 1\.0/);
      const code = codeOf(await smtp.next(next));
      // Until confirmed, the old address is the account's.
      assert.equal((await client.call('settings_get_account', {})).account!.email, email);
      assert.ok((await signInResult(email, STRONG_PASSWORD)).r.authorization);

      // Only the session that asked confirms it: the code alone, signed out, does not.
      const stranger = await gw.connect();
      assertRpcError((await stranger.request('auth_verify_email', { email: next, code })), ErrorCode.BAD_REQUEST);
      await client.call('auth_verify_email', { email: next, code });
      assert.deepEqual(await accountOf(client), { email: next, confirmed: true, has_password: true, totp_enabled: false, pending_delete: false });
      assertRpcError((await signInResult(email, STRONG_PASSWORD)).r, ErrorCode.UNAUTHENTICATED, undefined, 'old address no longer signs in');
      assert.ok((await signInResult(next, STRONG_PASSWORD)).r.authorization);
      const reuse = await client.request('auth_verify_email', { email: next, code });
      assertRpcError(reuse, ErrorCode.BAD_REQUEST, undefined, 'the code works once');
      const kinds = await auditKinds(userId);
      assert.ok(kinds.includes('email_change_requested') && kinds.includes('email_change_confirmed'));
    });

    it('a wrong code changes nothing (400, the usual message)', async () => {
      const { email, client } = await person(gw, { tag: 'chmailwrong', name: 'Set Tings', verifiedWith: smtp });
      const next = uniqueEmail('chmailwrongnew');
      await client.call('settings_change_email', { new_email: next });
      await smtp.next(email);
      const code = codeOf(await smtp.next(next));
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      const r = await client.request('auth_verify_email', { email: next, code: wrong });
      assertRpcError(r, ErrorCode.BAD_REQUEST);
      assert.equal((await client.call('settings_get_account', {})).account!.email, email);
    });

    it('answers 409 for an address another account has, and 409 at confirmation when one took it meanwhile', async () => {
      const { client } = await person(gw, { tag: 'chmailtaken', name: 'Set Tings', verifiedWith: smtp });
      const taken = (await person(gw, { tag: 'holder', name: 'Set Tings', verifiedWith: smtp })).email;
      const r = await client.request('settings_change_email', { new_email: taken.toUpperCase() });
      assertRpcError(r, ErrorCode.CONFLICT, 'email is already registered');

      const next = uniqueEmail('raced');
      await client.call('settings_change_email', { new_email: next });
      const code = codeOf(await smtp.next(next));
      const { client: squatter } = await person(gw, { email: next, password: STRONG_PASSWORD, name: 'Squatter' });
      const late = await client.request('auth_verify_email', { email: next, code });
      assertRpcError(late, ErrorCode.CONFLICT, 'email is already registered');
    });

    it('validates new_email like sign-up (400 naming the field)', async () => {
      const { client } = await person(gw, { tag: 'chmailbad', name: 'Set Tings', verifiedWith: smtp });
      const r = await client.request('settings_change_email', { new_email: 'not an address' });
      assertRpcError(r, ErrorCode.BAD_REQUEST);
      assert.match(r.error!.error_message!, /^new_email is not a valid email address/);
    });

    it('a guest adds its first email this way', async () => {
      const { client } = await guest(gw, 'Guest');
      const email = uniqueEmail('guestmail');
      await client.call('settings_change_email', { new_email: email });
      await client.call('auth_verify_email', { email, code: codeOf(await smtp.next(email)) });
      const account = (await client.call('settings_get_account', {})).account!;
      assert.deepEqual([account.email, account.confirmed], [email, true]);
    });
  });

  describe('the recent sign-in rule (a stolen token)', () => {
    it('an Authorize of an old token gets 403 at changeEmail, TOTP off and deleteAccount; a fresh sign-in passes', async () => {
      const account = await person(gw, { tag: 'stolen', verifiedWith: 'database', totp: true });
      ageSignIns(gw, 11); // REAUTH_WINDOW_MINUTES is 10
      const tokenOwner = await gw.connect();
      await tokenOwner.call('auth_authorize', { token: account.token }); // the thief resumes the token: that proves nothing
      for (const r of [
        await tokenOwner.request('settings_change_email', { new_email: uniqueEmail('thief') }),
        await tokenOwner.request('settings_setup_totp', { enabled: false, code: account.backupCodes[0] }),
        await tokenOwner.request('settings_delete_account', {}),
      ]) assertRpcError(r, ErrorCode.FORBIDDEN, new RegExp(`^${RECENT_SIGN_IN_REQUIRED}`));
      const still = (await tokenOwner.call('settings_get_account', {})).account!;
      assert.deepEqual([still.totp_enabled, still.pending_delete, still.email], [true, false, account.email]);

      const fresh = await gw.connect();
      await fresh.call('auth_sign_in', { email: account.email, password: account.password, totp: account.backupCodes[1] });
      assert.ok(isEmptyResult(await fresh.call('settings_change_email', { new_email: uniqueEmail('owner') })));

      gw.clock.reset();
    });

    it('a password change proves the password again', async () => {
      const { client, sessionId, email } = await person(gw, { tag: 'reproof', name: 'Set Tings', verifiedWith: smtp });
      ageSignIns(gw, 60);
      const before = await client.request('settings_change_email', { new_email: uniqueEmail('x') });
      assertRpcError(before, ErrorCode.FORBIDDEN);
      await client.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD });
      await smtp.next(email);
      assert.ok(isEmptyResult(await client.call('settings_change_email', { new_email: uniqueEmail('y') })));

      gw.clock.reset();
    });
  });

  describe('password strength at sign-up and reset', () => {
    it('sign-up refuses a common password and one made of the email or name, saying why', async () => {
      const client = await gw.connect();
      const email = uniqueEmail('weak');
      const common = await client.request('auth_sign_up', { email, password: 'iloveyou2', name: 'Weak' });
      assertRpcError(common, ErrorCode.BAD_REQUEST);
      assert.match(common.error!.error_message!, /^password is too common/);
      const named = await client.request('auth_sign_up', { email: uniqueEmail('weak'), password: 'Bartholomew1', name: 'Bartholomew' });
      assert.match(named.error!.error_message!, /^password contains your email address or name/);
      const { rows } = await gw.app.db.query(`SELECT count(*)::int AS n FROM users WHERE email = $1`, [email]);
      assert.equal(rows[0].n, 0, 'no account created');
    });

    it('reset confirm refuses a weak password and leaves the code usable', async () => {
      const { email } = await person(gw, { tag: 'resetweak', name: 'Set Tings', verifiedWith: smtp });
      const client = await gw.connect();
      await client.call('auth_reset_password', { email });
      const code = codeOf(await smtp.next(email));
      const weak = await client.request('auth_reset_password', { email, confirm: { code, new_password: 'password1' } });
      assertRpcError(weak, ErrorCode.BAD_REQUEST);
      assert.match(weak.error!.error_message!, /^confirm\.new_password /);
      await client.call('auth_reset_password', { email, confirm: { code, new_password: NEW_PASSWORD } });
      assert.ok((await signInResult(email, NEW_PASSWORD)).r.authorization);
    });
  });

  describe('new-device alert', () => {
    it('mails the owner on a sign-in from a new device, not from a known one, and never for an Authorize', async () => {
      const phone = { client_id: 3, device_type: 'android' };
      const { email, userId, token } = await person(gw, { tag: 'newdev', name: 'Set Tings', verifiedWith: smtp, initialize: { ...phone, device_version: '17', app_version: '1.0' } });
      // Same device as the sign-up: no mail.
      const same = await gw.connect();
      await same.call('core_initialize', { ...phone, device_version: '14', app_version: '2.0' });
      await same.call('auth_sign_in', { email, password: STRONG_PASSWORD });
      // Authorize of the existing session from yet another device: no mail.
      const resumed = await gw.connect();
      await resumed.call('core_initialize', { client_id: 9, device_type: 'tv', device_version: '1', app_version: '1' });
      await resumed.call('auth_authorize', { token });
      // A new device type: one mail.
      const laptop = await gw.connect();
      await laptop.call('core_initialize', { client_id: 3, device_type: 'linux', device_version: '6.1', app_version: '2.0' });
      await laptop.call('auth_sign_in', { email, password: STRONG_PASSWORD });
      const mail = await smtp.next(email);
      assert.match(mail.subject, /New sign-in/);
      assert.match(mail.text, /Device: linux 6\.1/);
      assert.match(mail.text, /If this was not you, change your password/);
      await laptop.call('auth_sign_in', { email, password: STRONG_PASSWORD }); // known now
      assert.equal(smtp.mailsTo(email).length, 2, 'the verification mail and one alert, nothing else');
      const kinds = await auditKinds(userId);
      assert.equal(kinds.filter((k) => k === 'new_device').length, 1);
      assert.equal(kinds.filter((k) => k === 'sign_in').length, 3);
    });
  });

  it('the audit trail records sessions revoked with auth.revokeSessions', async () => {
    const { email, client, userId } = await person(gw, { tag: 'auditrevoke', name: 'Set Tings', verifiedWith: smtp });
    const other = await signInResult(email, STRONG_PASSWORD);
    const otherId = other.r.authorization!.session_id!.toString();
    await client.call('auth_revoke_sessions', { session_ids: [other.r.authorization!.session_id!] });
    // Written after the answer (a sign-out does not wait for its audit line).
    const rows = await eventually(async () => {
      const { rows } = await gw.app.db.query(`SELECT detail FROM audit_events WHERE user_id = $1 AND kind = 'sessions_revoked'`, [userId]);
      return rows.length ? rows : undefined;
    }, { what: 'the sessions_revoked audit event' });
    assert.deepEqual(rows, [{ detail: { email_change_cancelled: false, sessions: otherId } }]);
  });

  it('the audit trail records failed sign-ins with the address and device they came from', async () => {
    const { email, userId } = await person(gw, { tag: 'auditfail', name: 'Set Tings', verifiedWith: smtp });
    const client = await gw.connect();
    await client.call('core_initialize', { client_id: 5, device_type: 'web', device_version: 'x', app_version: '3' });
    await client.request('auth_sign_in', { email, password: 'definitely wrong password' });
    const rows = await eventually(async () => {
      const { rows } = await gw.app.db.query(
        `SELECT kind, ip, client_id, device_type, detail FROM audit_events WHERE user_id = $1 AND kind = 'sign_in_failed'`,
        [userId],
      );
      return rows.length ? rows : undefined;
    }, { what: 'the sign_in_failed audit event' });
    assert.deepEqual(rows, [{ kind: 'sign_in_failed', ip: '127.0.0.1', client_id: 5, device_type: 'web', detail: { reason: 'password' } }]);
  });
});

