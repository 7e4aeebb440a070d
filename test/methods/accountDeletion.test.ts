/**
 * Account deletion over a real socket: the request (other sessions signed
 * out, the owner mailed), signing in and cancelling during the grace period,
 * and the purge (everything of the account gone, the email free again), one
 * transaction per account, resumable, and safe with two instances purging at
 * once. ACCOUNT_DELETE_GRACE_DAYS=0 makes an account due at once; the tests
 * run the purge pass themselves instead of waiting for its timer (which may
 * still run meanwhile: with grace 0 the tests check the outcome, not which
 * pass purged).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { idFromWire } from '../../src/protocol/codec.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { PURGED_NAME } from '../../src/store/accountDeletionRepo.js';
import { type Account, ageSignIns, guest, newTotpKey, person, STRONG_PASSWORD } from '../helpers/accounts.js';
import { assertRpcError } from '../helpers/results.js';
import { channelRef, createCommunity, createGroup, groupRef } from '../helpers/invites.js';
import { codeOf, isEmptyResult, TestSmtp } from '../helpers/smtp.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

describe('account deletion during the grace period', () => {
  let smtp: TestSmtp;
  let gw: TestGateway;
  before(async () => {
    smtp = await TestSmtp.start();
    gw = await startGateway({ SMTP_URL: smtp.url }); // ACCOUNT_DELETE_GRACE_DAYS: the default 14
  });
  after(async () => {
    await gw.close();
    await smtp.close();
  });

  it('marks the account pending, signs out the other sessions, keeps the caller, mails the owner', async () => {
    const { email, client } = await person(gw, { tag: 'del', name: 'Del Ete', verifiedWith: smtp });
    const other = await gw.connect();
    const otherAuth = (await other.call('auth_sign_in', { email, password: STRONG_PASSWORD })).authorization!;
    assert.ok(isEmptyResult(await client.call('settings_delete_account', {})));
    assert.equal((await other.nextUpdate()).session_deleted?.session_id?.toString(), otherAuth.session_id!.toString());
    assert.equal((await other.closed).code, CloseCode.SESSION_REVOKED);
    assert.equal((await client.call('settings_get_account', {})).account!.pending_delete, true);
    const mail = await smtp.next(email);
    assert.match(mail.subject, /will be deleted/);
    const day = new Date(Date.now() + 14 * 86_400_000).toISOString().slice(0, 10);
    assert.match(mail.text, new RegExp(`scheduled for deletion on ${day}`));
    assert.match(mail.text, /cancel the deletion/);
  });

  it('signing in still works during the grace period, and the owner cancels; a second cancel is 409', async () => {
    const { email, client, userId } = await person(gw, { tag: 'delcancel', name: 'Del Ete', verifiedWith: smtp });
    await client.call('settings_delete_account', {});
    await smtp.next(email);
    await client.close();
    const back = await gw.connect();
    await back.call('auth_sign_in', { email, password: STRONG_PASSWORD });
    assert.equal((await back.call('settings_get_account', {})).account!.pending_delete, true);
    assert.ok(isEmptyResult(await back.call('settings_delete_account', { cancel: true })));
    assert.equal((await back.call('settings_get_account', {})).account!.pending_delete, false);
    assert.match((await smtp.next(email)).subject, /will not be deleted/);
    const again = await back.request('settings_delete_account', { cancel: true });
    assertRpcError(again, ErrorCode.CONFLICT, 'no account deletion is pending');
    // Not due (14 days of grace): the purge leaves it alone.
    assert.deepEqual(await gw.app.services.accountDeletion.purgeDue(), []);
    assert.ok((await gw.app.repos.users.byId(userId))!.email);
    const { rows } = await gw.app.db.query(`SELECT kind FROM audit_events WHERE user_id = $1 AND kind LIKE 'deletion_%' ORDER BY at, id`, [userId]);
    assert.deepEqual(rows.map((r) => r.kind), ['deletion_requested', 'deletion_cancelled']);
  });

  it('a cancelled deletion is never purged, a pending one only after its grace period', async () => {
    const { client, userId } = await person(gw, { tag: 'delgrace', name: 'Del Ete', verifiedWith: smtp });
    await client.call('settings_delete_account', {});
    assert.deepEqual(await gw.app.services.accountDeletion.purgeDue(), [], 'grace period not over');
    // The test clock: move the request back past the grace period.
    await gw.app.db.query(`UPDATE users SET delete_requested_at = now() - interval '15 days' WHERE id = $1`, [userId]);
    assert.deepEqual(await gw.app.services.accountDeletion.purgeDue(), [userId]);
  });
});

describe('account purge', () => {
  let smtp: TestSmtp;
  let gw: TestGateway;
  before(async () => {
    smtp = await TestSmtp.start();
    gw = await startGateway({ SMTP_URL: smtp.url, ACCOUNT_DELETE_GRACE_DAYS: '0', TOTP_ENCRYPTION_KEY: newTotpKey() });
  });
  after(async () => {
    await gw.close();
    await smtp.close();
  });

  const count = async (sql: string, params: unknown[]) => (await gw.app.db.query(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0].n as number;

  it("removes the account's sessions, codes, TOTP, invites, memberships and friendships, and frees its email", async () => {
    const target = await person(gw, { tag: 'purge', name: 'Del Ete', verifiedWith: smtp });
    const { userId, email, client } = target;
    // Memberships: a community and a group of someone else, and its own community.
    const owner = await guest(gw, 'Owner');
    const community = await createCommunity(gw, owner.userId, 'Club');
    const groupId = await createGroup(gw, owner.userId, 'Gang');
    const communityCode = (await owner.client.call('chats_create_chat_invite', { chat_ref: channelRef(community) })).created_invite!.code!;
    const groupCode = (await owner.client.call('chats_create_chat_invite', { chat_ref: groupRef(groupId) })).created_invite!.code!;
    const friendCode = (await owner.client.call('chats_create_chat_invite', { chat_ref: { self: {} } })).created_invite!.code!;
    for (const code of [communityCode, groupCode, friendCode]) await client.call('auth_use_invite', { code });
    await createCommunity(gw, userId, 'Own club');
    // Its own invite, a pending reset code, and TOTP.
    const ownInvite = (await client.call('chats_create_chat_invite', { chat_ref: { self: {} } })).created_invite!.code!;
    await (await gw.connect()).call('auth_reset_password', { email });
    await smtp.next(email);
    await client.call('settings_setup_totp', { enabled: true });
    const second = await gw.connect(); // a second socket on the caller's session (it outlives the request)
    await second.call('auth_authorize', { token: target.token });

    assert.equal(await count(`community_members WHERE user_id = $1`, [userId]), 2);
    await client.call('settings_delete_account', {});
    await gw.app.services.accountDeletion.purgeDue();

    // Live sockets of the account are told and closed, its tokens refused.
    assert.equal((await client.closed).code, CloseCode.SESSION_REVOKED);
    assert.equal((await second.closed).code, CloseCode.SESSION_REVOKED);
    const resume = await (await gw.connect()).request('auth_authorize', { token: target.token });
    assertRpcError(resume, ErrorCode.FORBIDDEN);
    for (const table of ['sessions', 'email_codes', 'totp_credentials', 'totp_backup_codes', 'known_devices', 'sign_in_sources', 'community_members', 'group_participants']) {
      assert.equal(await count(`${table} WHERE user_id = $1`, [userId]), 0, table);
    }
    assert.equal(await count(`friendships WHERE user_low = $1 OR user_high = $1`, [userId]), 0, 'friendships');
    assert.equal(await count(`invites WHERE creator_id = $1 AND deleted_at IS NULL`, [userId]), 0, 'invites');
    const lookup = await (await gw.connect()).request('auth_lookup_invite', { code: ownInvite });
    assertRpcError(lookup, ErrorCode.NOT_FOUND, undefined, 'its invite code no longer leads anywhere');
    const user = (await gw.app.repos.users.byId(userId))!;
    assert.deepEqual([user.email, user.passwordHash, user.name, user.deletedAt !== null], [null, null, PURGED_NAME, true]);
    // The owner's community and group keep going without it.
    assert.equal(await count(`community_members WHERE community_id = $1`, [community.communityId]), 1);
    // The email is free again, and signing in with it no longer reaches the old account.
    const newcomer = await gw.connect();
    const fresh = await person(gw, { client: newcomer, email, password: STRONG_PASSWORD, name: 'Newcomer' });
    assert.notEqual(idFromWire(fresh.authorization!.user!.id), userId);
    const { rows } = await gw.app.db.query(`SELECT kind, detail FROM audit_events WHERE user_id = $1 AND kind = 'account_purged'`, [userId]);
    assert.deepEqual(rows, [{ kind: 'account_purged', detail: { sessions: 1, invites: 1, memberships: 3, friendships: 1, bots: 0 } }]);
  });

  it("takes the bot accounts the user owns with it", async () => {
    const { userId, client } = await person(gw, { tag: 'botowner', name: 'Del Ete', verifiedWith: smtp });
    const botId = gw.app.ids.next();
    await gw.app.db.query(`INSERT INTO users (id, name, bot, bot_owner_id) VALUES ($1, 'Helper Bot', true, $2)`, [botId, userId]);
    await gw.app.db.query(`INSERT INTO sessions (id, user_id, last_active) VALUES ($1, $2, $3)`, [gw.app.ids.next(), botId, Date.now()]);
    await client.call('settings_delete_account', {});
    await gw.app.services.accountDeletion.purgeDue();
    const bot = (await gw.app.repos.users.byId(botId))!;
    assert.equal(bot.name, PURGED_NAME);
    assert.equal(await count(`sessions WHERE user_id = $1`, [botId]), 0);
    const { rows } = await gw.app.db.query(`SELECT detail FROM audit_events WHERE user_id = $1 AND kind = 'account_purged'`, [botId]);
    assert.deepEqual(rows, [{ detail: { owner: userId } }]);
  });

  it('is one transaction per account: a purge that fails part way changes nothing, and the next pass finishes it', async () => {
    const { userId, email, client } = await person(gw, { tag: 'resume', name: 'Del Ete', verifiedWith: smtp });
    const friend = await guest(gw, 'Friend');
    const code = (await friend.client.call('chats_create_chat_invite', { chat_ref: { self: {} } })).created_invite!.code!;
    await client.call('auth_use_invite', { code });
    await client.call('settings_delete_account', {});
    // Friendships are deleted late in the purge: make that statement fail once, as a crash there would.
    await gw.app.db.query(`
      CREATE FUNCTION fail_purge() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'simulated crash'; END; $$;
      CREATE TRIGGER fail_purge BEFORE DELETE ON friendships FOR EACH ROW EXECUTE FUNCTION fail_purge();`);
    try {
      await assert.rejects(gw.app.services.accountDeletion.purgeDue(), /simulated crash/);
    } finally {
      await gw.app.db.query(`DROP TRIGGER fail_purge ON friendships; DROP FUNCTION fail_purge();`);
    }
    const untouched = (await gw.app.repos.users.byId(userId))!;
    assert.deepEqual([untouched.email, untouched.deletedAt], [email, null]);
    assert.equal(await count(`sessions WHERE user_id = $1`, [userId]), 1, 'sessions still there');
    assert.equal(await count(`community_members WHERE user_id = $1`, [userId]) + await count(`friendships WHERE user_low = $1 OR user_high = $1`, [userId]), 1);
    assert.ok(client.isOpen, 'nothing was announced');
    await gw.app.services.accountDeletion.purgeDue();
    assert.equal((await gw.app.repos.users.byId(userId))!.email, null);
    assert.equal(await count(`friendships WHERE user_low = $1 OR user_high = $1`, [userId]), 0);
  });

  it('two instances purging at once each take different accounts: every account purged exactly once', async () => {
    const peer = await startGateway({ ACCOUNT_DELETE_GRACE_DAYS: '0' }, { databaseUrl: gw.databaseUrl });
    try {
      const accounts = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
        const client = await gw.connect();
        const auth = (await person(gw, { client, email: uniqueEmail(`many${i}`), password: STRONG_PASSWORD, name: 'Many' })).authorization!;
        await client.call('settings_delete_account', {});
        return idFromWire(auth.user!.id);
      }));
      const [a, b] = await Promise.all([gw.app.services.accountDeletion.purgeDue(), peer.app.services.accountDeletion.purgeDue()]);
      assert.ok(!a.some((id) => b.includes(id)), 'no account purged by both');
      const left = await count(`users WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL`, [accounts]);
      assert.equal(left, 0, 'every account purged');
      const { rows } = await gw.app.db.query(`SELECT user_id::text, count(*)::int AS n FROM audit_events WHERE kind = 'account_purged' AND user_id = ANY($1::bigint[]) GROUP BY user_id`, [accounts]);
      assert.equal(rows.length, accounts.length);
      assert.ok(rows.every((r) => r.n === 1));
    } finally {
      await peer.close();
    }
  });

  it('deletion needs a recent sign-in; a guest (no password to prove) is exempt', async () => {
    const account = await person(gw, { tag: 'delstale', verifiedWith: 'database', totp: true });
    const visitor = await guest(gw, 'Guest');
    ageSignIns(gw, 60);
    const r = await account.client.request('settings_delete_account', {});
    assertRpcError(r, ErrorCode.FORBIDDEN, /^recent sign-in required/);
    assert.ok(isEmptyResult(await visitor.client.call('settings_delete_account', {})));
    gw.clock.reset();
  });
});
