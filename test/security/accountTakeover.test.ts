/**
 * Taking or locking an account through the account-security methods, tried
 * as an attacker would, on two instances sharing Postgres and Redis (issue
 * 23): a copied token, a squatted address, a pending email change the owner
 * reacts to, the owner's own current-password tries. Each test fails on the
 * code before the fix (the attack worked) and passes after.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { RECENT_SIGN_IN_REQUIRED } from '../../src/services/recentSignIn.js';
import { TOTP_NEEDS_VERIFIED_EMAIL } from '../../src/services/accountSecurity.js';
import { codeAt, newTotpKey, person, signIn, STRONG_PASSWORD, uniqueEmail, type Person } from '../helpers/accounts.js';
import { assertRpcError, count } from '../helpers/results.js';
import { codeOf, isEmptyResult, TestSmtp } from '../helpers/smtp.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

const RECENT = new RegExp(`^${RECENT_SIGN_IN_REQUIRED}`);
const NEW_PASSWORD = 'amber walrus orchestra';
const ATTACKER_PASSWORD = 'crimson tundra mailbox';

describe('account takeover through the account-security features (two instances)', () => {
  let smtp: TestSmtp;
  let gw1: TestGateway;
  let gw2: TestGateway;
  before(async () => {
    smtp = await TestSmtp.start();
    const shared = { SMTP_URL: smtp.url, TOTP_ENCRYPTION_KEY: newTotpKey(), REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:` };
    gw1 = await startGateway({ ...shared, LIMIT_PASSWORD_CHECK_SESSION: '5/900', LIMIT_PASSWORD_CHECK_USER: '5/900' });
    gw2 = await startGateway({ ...shared, LIMIT_PASSWORD_CHECK_SESSION: '5/900', LIMIT_PASSWORD_CHECK_USER: '5/900' }, { databaseUrl: gw1.databaseUrl });
  });
  after(async () => {
    await gw2?.close();
    await gw1?.close();
    await smtp?.close();
  });

  /** A person with a verified address, signed in on instance 1. */
  const owner = (tag: string): Promise<Person> => person(gw1, { tag, verifiedWith: smtp });

  /** The owner's token resumed on a new socket of `gw` (a copy of the token: no password given there). */
  async function copiedToken(gw: TestGateway, victim: Person) {
    const client = await gw.connect();
    await client.call('auth_authorize', { token: victim.token });
    return client;
  }

  async function emailOf(userId: string): Promise<string> {
    const { rows } = await gw1.app.db.query(`SELECT email FROM users WHERE id = $1`, [userId]);
    return rows[0].email as string;
  }

  it('a copied token proves no recent sign-in, on either instance: email change, two-factor and deletion get 403; the owner\'s socket passes', async () => {
    const victim = await owner('copied');
    for (const gw of [gw1, gw2]) {
      const thief = await copiedToken(gw, victim);
      assertRpcError(await thief.request('settings_change_email', { new_email: uniqueEmail('thief') }), ErrorCode.FORBIDDEN, RECENT);
      assertRpcError(await thief.request('settings_setup_totp', { enabled: true }), ErrorCode.FORBIDDEN, RECENT);
      assertRpcError(await thief.request('settings_delete_account', {}), ErrorCode.FORBIDDEN, RECENT);
    }
    // The owner's socket, where the password was given a moment ago, passes; re-authorizing it there ends that.
    assert.ok(isEmptyResult(await victim.client.call('settings_change_email', { new_email: uniqueEmail('owner') })));
    await victim.client.call('auth_authorize', { token: victim.token });
    assertRpcError(await victim.client.request('settings_change_email', { new_email: uniqueEmail('owner') }), ErrorCode.FORBIDDEN, RECENT);
    // A new sign-in on a socket renews its proof.
    const fresh = await signIn(gw2, victim);
    assert.ok(isEmptyResult(await fresh.client.call('settings_change_email', { new_email: uniqueEmail('owner') })));
  });

  it('turning two-factor on needs a recent sign-in on the socket and a verified address', async () => {
    const victim = await owner('totpon');
    const thief = await copiedToken(gw2, victim);
    assertRpcError(await thief.request('settings_setup_totp', { enabled: true }), ErrorCode.FORBIDDEN, RECENT);
    assert.equal((await thief.call('settings_get_account', {})).account!.totp_enabled, false);
    // An address never verified (a squatter's, maybe) cannot get a second factor at all.
    const squatter = await person(gw1, { tag: 'squat' });
    assertRpcError(await squatter.client.request('settings_setup_totp', { enabled: true }), ErrorCode.FORBIDDEN, TOTP_NEEDS_VERIFIED_EMAIL);
    // The owner, signed in on this socket, can.
    const url = (await victim.client.call('settings_setup_totp', { enabled: true })).totp!.url!;
    const on = await victim.client.call('settings_setup_totp', { enabled: true, code: codeAt(url, -1) });
    assert.equal(on.totp!.backup_codes!.length, 10);
  });

  describe('a pending email change', () => {
    /**
     * An attacker who knew the password asked to move the account to their
     * address, on instance 2; the code reached their mailbox.
     */
    async function pendingChange(tag: string) {
      const victim = await owner(tag);
      const attacker = await signIn(gw2, victim);
      const attackerAddress = uniqueEmail(`${tag}.attacker`);
      await attacker.client.call('settings_change_email', { new_email: attackerAddress });
      const code = codeOf(await smtp.next(attackerAddress));
      const notice = await smtp.next(victim.email);
      return { victim, attacker, attackerAddress, code, notice };
    }

    it('is confirmed only from the session that asked for it, not with the code alone', async () => {
      const { victim, attacker, attackerAddress, code, notice } = await pendingChange('confirm');
      assert.match(notice.text, /change your password/);
      assert.match(notice.text, /sign out every other device/);
      assert.match(notice.text, /stops the change/);
      const stranger = await gw1.connect();
      assertRpcError(await stranger.request('auth_verify_email', { email: attackerAddress, code }), ErrorCode.BAD_REQUEST);
      assertRpcError(await victim.client.request('auth_verify_email', { email: attackerAddress, code }), ErrorCode.BAD_REQUEST);
      assert.equal(await emailOf(victim.userId), victim.email);
      assert.ok(isEmptyResult(await attacker.client.call('auth_verify_email', { email: attackerAddress, code })));
      assert.equal(await emailOf(victim.userId), attackerAddress);
    });

    const reactions: Array<[string, (victim: Person) => Promise<void>]> = [
      ['a password change', async (victim) => {
        await victim.client.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD });
      }],
      ['signing out the other sessions', async (victim) => {
        const { sessions } = (await victim.client.call('auth_get_sessions', {})).sessions!;
        const others = sessions!.filter((s) => String(s.id) !== victim.sessionId).map((s) => s.id!);
        await victim.client.call('auth_revoke_sessions', { session_ids: others });
      }],
      ['a password reset', async (victim) => {
        const socket = await gw1.connect();
        await socket.call('auth_reset_password', { email: victim.email });
        const code = codeOf(await smtp.next(victim.email));
        await socket.call('auth_reset_password', { email: victim.email, confirm: { code, new_password: NEW_PASSWORD } });
      }],
      ['turning two-factor on', async (victim) => {
        const url = (await victim.client.call('settings_setup_totp', { enabled: true })).totp!.url!;
        await victim.client.call('settings_setup_totp', { enabled: true, code: codeAt(url, -1) });
      }],
    ];
    for (const [reaction, react] of reactions) {
      it(`is cancelled by the owner's reaction: ${reaction}`, async () => {
        const { victim, attacker, attackerAddress, code } = await pendingChange(`react${reactions.findIndex(([r]) => r === reaction)}`);
        await react(victim);
        // The attacker's socket is closed when the reaction signed it out; a live one still gets nowhere.
        if (attacker.client.isOpen) {
          assertRpcError(await attacker.client.request('auth_verify_email', { email: attackerAddress, code }), ErrorCode.BAD_REQUEST);
        }
        const anywhere = await gw2.connect();
        assertRpcError(await anywhere.request('auth_verify_email', { email: attackerAddress, code }), ErrorCode.BAD_REQUEST);
        assert.equal(await emailOf(victim.userId), victim.email, 'the account keeps its address');
      });
    }
  });

  it('on a two-factor account a password change is not a recent sign-in; a sign-in with the second factor is', async () => {
    const victim = await person(gw1, { tag: 'twofactor', verifiedWith: smtp, totp: true });
    const thief = await copiedToken(gw2, victim);
    // The thief knows the password too, but not the second factor.
    assert.ok(isEmptyResult(await thief.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: ATTACKER_PASSWORD })));
    assertRpcError(await thief.request('settings_change_email', { new_email: uniqueEmail('thief') }), ErrorCode.FORBIDDEN, RECENT);
    assertRpcError(await thief.request('settings_delete_account', {}), ErrorCode.FORBIDDEN, RECENT);
    assertRpcError(await thief.request('settings_setup_totp', { enabled: false, code: victim.backupCodes[0]! }), ErrorCode.FORBIDDEN, RECENT);
    const owner2 = await signIn(gw1, { email: victim.email, password: ATTACKER_PASSWORD, totp: codeAt(victim.url) });
    assert.ok(isEmptyResult(await owner2.client.call('settings_change_email', { new_email: uniqueEmail('owner') })));
  });

  it('a squatter\'s second factor does not survive the address owner\'s reset, and the owner is told', async () => {
    // A squatter set up two-factor on an address they never verified (possible before: made here by hand).
    const squatted = await person(gw1, { tag: 'squatted', verifiedWith: smtp, totp: true });
    await gw1.app.db.query(`UPDATE users SET email_verified = false WHERE id = $1`, [squatted.userId]);
    const socket = await gw2.connect();
    await socket.call('auth_reset_password', { email: squatted.email });
    const code = codeOf(await smtp.next(squatted.email));
    await socket.call('auth_reset_password', { email: squatted.email, confirm: { code, new_password: NEW_PASSWORD } });
    const told = await smtp.next(squatted.email);
    assert.match(told.text, /two-factor authentication was turned off/);
    // The address's owner signs in with the password alone; the squatter's socket was signed out.
    const back = await signIn(gw1, { email: squatted.email, password: NEW_PASSWORD });
    assert.equal((await back.client.call('settings_get_account', {})).account!.totp_enabled, false);
    await squatted.client.closed;
  });

  it('a token holder spends their own current-password tries, never the owner\'s (30 wrong guesses at once: 5 evaluated)', async () => {
    const victim = await owner('pwtries');
    const thieves = await Promise.all([copiedToken(gw1, victim), copiedToken(gw2, victim)]);
    const guesses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => thieves[i % 2]!.request('settings_change_password', { current_password: `guess number ${i}`, new_password: ATTACKER_PASSWORD })),
    );
    assert.equal(count(guesses, ErrorCode.UNAUTHENTICATED), 5, 'evaluated: the session\'s allowance, across both instances');
    assert.equal(count(guesses, ErrorCode.RATE_LIMITED), 25);
    // The owner, on the socket where they signed in, is not locked out by the thief.
    assert.ok(isEmptyResult(await victim.client.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD })));
  });
});
