/**
 * Every account event type, end to end: each change made over a real socket
 * (or by the admin CLI in its own process, for bots; by the purge pass, for
 * user.deleted), and the receiver (every signature verified with
 * `standardwebhooks`) gets exactly the user's events, in order, each with the
 * documented body: `{"type", "timestamp", "data"}`, `data.event_id` the
 * webhook-id, every id a decimal string. Every session.revoked reason is
 * among them. A failed change leaves no event: not in the outbox, not in the
 * feed, not at the receiver.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Long from 'long';
import { awayFromStepBoundary, codeAt, guest, newTotpKey, person, signIn, STRONG_PASSWORD } from '../helpers/accounts.js';
import { runAdmin } from '../helpers/admin.js';
import { eventually } from '../helpers/eventually.js';
import { channelRef, createCommunity, createGroup, createInvite, groupRef, selfRef } from '../helpers/invites.js';
import { codeOf, TestSmtp, type ReceivedMail } from '../helpers/smtp.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { firstArrivalsByUser, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhookReceiver.js';
import { request } from 'undici';

const NEW_PASSWORD = 'an entirely different passphrase 77';
const API_KEY = 'event-types-key-0123456789';
const NO_DEVICE = { client_id: 0, device_type: '', device_version: '', app_version: '' };
const wire = (id: string) => Long.fromString(id, true);

interface Event {
  type: string;
  data: Record<string, unknown>;
}

/** An expected event: its type and `data` (user_id first, as every event has it). */
const ev = (type: string, userId: string, extra: Record<string, unknown> = {}): Event => ({ type, data: { user_id: userId, ...extra } });
const sessionCreated = (userId: string, sessionId: string, extra: Record<string, unknown> = {}) =>
  ev('session.created', userId, { session_id: sessionId, bot: false, device: NO_DEVICE, country: null, region: null, ...extra });
const revoked = (userId: string, sessionId: string, reason: string) => ev('session.revoked', userId, { session_id: sessionId, reason });

describe('every account event type, end to end', () => {
  let receiver: WebhookReceiver;
  let smtp: TestSmtp;
  let gw: TestGateway;
  before(async () => {
    receiver = await startWebhookReceiver();
    smtp = await TestSmtp.start();
    gw = await startGateway({
      WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: receiver.secret, WEBHOOK_RETRY_FIRST_SECONDS: '0.05', WEBHOOK_RETRY_MAX_SECONDS: '0.5',
      SMTP_URL: smtp.url, TOTP_ENCRYPTION_KEY: newTotpKey(), API_PORT: '0', API_KEYS: API_KEY,
      // A deletion request is due for the purge at once (the test runs the pass itself).
      ACCOUNT_DELETE_GRACE_DAYS: '0',
    });
  });
  after(async () => {
    await gw.close();
    await smtp.close();
    await receiver.close();
    assert.equal(receiver.refused, 0, 'every delivery verified');
  });

  /** The next mail to `address` whose subject matches (notices may come before a code). */
  async function mail(address: string, subject: RegExp): Promise<ReceivedMail> {
    for (;;) {
      const next = await smtp.next(address);
      if (subject.test(next.subject)) return next;
    }
  }

  /** The numbered outbox rows of a user, by id (after every committed event got its id). */
  async function outboxOf(userId: string): Promise<string[]> {
    await eventually(async () => (await gw.app.db.query(`SELECT 1 FROM events WHERE id IS NULL LIMIT 1`)).rowCount === 0, { what: 'every event numbered' });
    const { rows } = await gw.app.db.query<{ id: string }>(`SELECT id::text FROM events WHERE user_id = $1 ORDER BY events.id`, [userId]);
    return rows.map((r) => r.id);
  }

  /**
   * What the receiver got for a user once every outbox event of theirs
   * arrived: checked to be all of them, in order, each body exactly
   * `{type, timestamp, data}` with `data.event_id` the webhook-id; returned
   * without event_id for comparing with the expected events.
   */
  async function deliveredTo(userId: string): Promise<Event[]> {
    const ids = await outboxOf(userId);
    await eventually(() => {
      const got = new Set(receiver.deliveries.map((d) => d.id));
      return ids.every((id) => got.has(id));
    }, { what: `the ${ids.length} events of user ${userId} at the receiver` });
    assert.deepEqual(firstArrivalsByUser(receiver.deliveries).get(userId), ids, `user ${userId}: every event of the outbox, in order`);
    return ids.map((id) => {
      const raw = receiver.deliveries.find((d) => d.id === id)!.raw;
      const body = JSON.parse(raw) as { type: string; timestamp: string; data: Record<string, unknown> };
      assert.deepEqual(Object.keys(body), ['type', 'timestamp', 'data']);
      assert.equal(new Date(body.timestamp).toISOString(), body.timestamp, 'an ISO 8601 timestamp');
      assert.match(id, /^[1-9]\d*$/, 'event ids are decimal strings');
      const { event_id: eventId, ...data } = body.data;
      assert.equal(eventId, id, 'data.event_id is the webhook-id');
      return { type: body.type, data };
    });
  }

  /** The feed's events after `after`, all pages. */
  async function feedAfter(after: string): Promise<Array<{ id: string; type: string; data: Record<string, unknown> }>> {
    const events: Array<{ id: string; type: string; data: Record<string, unknown> }> = [];
    for (let cursor = after; ; ) {
      const res = await request(`http://127.0.0.1:${gw.app.apiPort}/v1/events?after=${cursor}&limit=1000`, { headers: { authorization: `Bearer ${API_KEY}` } });
      assert.equal(res.statusCode, 200);
      const page = (await res.body.json()) as { events: typeof events; next_after: string };
      if (!page.events.length) return events;
      events.push(...page.events);
      cursor = page.next_after;
    }
  }

  it('a person: sign-up, verification, sign-out, revoke, password change, email change, two-factor on and off, password reset', async () => {
    const alice = await person(gw, { tag: 'types', verifiedWith: smtp, name: 'Alice Types' });
    // A phone that says what it is, then signs itself out.
    const phone = await gw.connect();
    const device = { client_id: 7, device_type: 'mobile', device_version: 'Android 15', app_version: '1.0.3' };
    await phone.call('core_initialize', device);
    const phoneSession = (await phone.call('auth_sign_in', { email: alice.email, password: STRONG_PASSWORD })).authorization!.session_id!.toString();
    await phone.call('auth_revoke_sessions', { session_ids: [wire(phoneSession)] });
    // A laptop revoked from the first session; a tablet signed out by a password change.
    const laptop = await signIn(gw, alice);
    await alice.client.call('auth_revoke_sessions', { session_ids: [wire(laptop.sessionId)] });
    const tablet = await signIn(gw, alice);
    await alice.client.call('settings_change_password', { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD, revoke_sessions: true });
    // A new address, confirmed from the session that asked.
    const next = uniqueEmail('types.next');
    await alice.client.call('settings_change_email', { new_email: next });
    await alice.client.call('auth_verify_email', { email: next, code: codeOf(await mail(next, /email change code/)) });
    // Two-factor on, then off with a backup code.
    const url = (await alice.client.call('settings_setup_totp', { enabled: true })).totp!.url!;
    await awayFromStepBoundary();
    const backup = (await alice.client.call('settings_setup_totp', { enabled: true, code: codeAt(url, -1) })).totp!.backup_codes![0]!.code!;
    await alice.client.call('settings_setup_totp', { enabled: false, code: backup });
    // A password reset from a signed-out socket ends the one session left.
    const resetter = await gw.connect();
    await resetter.call('auth_reset_password', { email: next });
    const code = codeOf(await mail(next, /password reset code/));
    await resetter.call('auth_reset_password', { email: next, confirm: { code, new_password: 'a third passphrase for alice 3' } });

    const id = alice.userId;
    assert.deepEqual(await deliveredTo(id), [
      ev('user.created', id, { name: 'Alice Types', email: alice.email, email_verified: false, guest: false, bot: false }),
      sessionCreated(id, alice.sessionId),
      ev('user.updated', id, { changed: ['email_verified'], email: alice.email, email_verified: true }),
      sessionCreated(id, phoneSession, { device }),
      revoked(id, phoneSession, 'sign_out'),
      sessionCreated(id, laptop.sessionId),
      revoked(id, laptop.sessionId, 'revoke'),
      sessionCreated(id, tablet.sessionId),
      revoked(id, tablet.sessionId, 'password_change'),
      ev('password.changed', id, { reason: 'change', revoked_sessions: 1 }),
      ev('user.updated', id, { changed: ['email'], email: next, email_verified: true }),
      ev('totp.enabled', id),
      ev('totp.disabled', id, { reason: 'owner' }),
      revoked(id, alice.sessionId, 'password_reset'),
      ev('password.changed', id, { reason: 'reset', revoked_sessions: 1 }),
    ]);
  });

  it('a guest: a first password, a first address (email and email_verified changed)', async () => {
    const gus = await guest(gw, 'Gus Guest');
    await gus.client.call('settings_change_password', { current_password: '', new_password: NEW_PASSWORD });
    const email = uniqueEmail('types.guest');
    await gus.client.call('settings_change_email', { new_email: email });
    await gus.client.call('auth_verify_email', { email, code: codeOf(await mail(email, /email change code/)) });
    const id = gus.userId;
    assert.deepEqual(await deliveredTo(id), [
      ev('user.created', id, { name: 'Gus Guest', email: null, email_verified: false, guest: true, bot: false }),
      sessionCreated(id, gus.sessionId),
      ev('password.changed', id, { reason: 'first_password', revoked_sessions: 0 }),
      ev('user.updated', id, { changed: ['email', 'email_verified'], email, email_verified: true }),
    ]);
  });

  it('a reset of an address never verified drops two-factor: password.changed, user.updated, totp.disabled', async () => {
    const tess = await person(gw, { tag: 'types.totp', verifiedWith: smtp, totp: true, name: 'Tess Types' });
    // An account from before two-factor needed a verified address: on, with the address unverified.
    await gw.app.db.query(`UPDATE users SET email_verified = false WHERE id = $1`, [tess.userId]);
    const resetter = await gw.connect();
    await resetter.call('auth_reset_password', { email: tess.email });
    const code = codeOf(await mail(tess.email, /password reset code/));
    await resetter.call('auth_reset_password', { email: tess.email, confirm: { code, new_password: NEW_PASSWORD } });
    const id = tess.userId;
    assert.deepEqual(await deliveredTo(id), [
      ev('user.created', id, { name: 'Tess Types', email: tess.email, email_verified: false, guest: false, bot: false }),
      sessionCreated(id, tess.sessionId),
      ev('user.updated', id, { changed: ['email_verified'], email: tess.email, email_verified: true }),
      ev('totp.enabled', id),
      revoked(id, tess.sessionId, 'password_reset'),
      ev('password.changed', id, { reason: 'reset', revoked_sessions: 1 }),
      ev('user.updated', id, { changed: ['email_verified'], email: tess.email, email_verified: true }),
      ev('totp.disabled', id, { reason: 'password_reset' }),
    ]);
  });

  it('invites used: membership.created for a community, a group and a friend; a second use (409) writes none', async () => {
    const owner = await guest(gw, 'Olga Owner');
    const community = await createCommunity(gw, owner.userId, 'Types Community');
    const groupId = await createGroup(gw, owner.userId, 'Types Group');
    const codes = [await createInvite(owner, channelRef(community)), await createInvite(owner, groupRef(groupId)), await createInvite(owner, selfRef())];
    const joiner = await guest(gw, 'Jo Joiner');
    for (const code of codes) await joiner.client.call('auth_use_invite', { code });
    const again = await joiner.client.request('auth_use_invite', { code: codes[0] });
    assert.ok(again.error, 'already a member');
    const joinerEvents = await deliveredTo(joiner.userId);
    assert.deepEqual(joinerEvents.slice(2), [
      ev('membership.created', joiner.userId, { kind: 'community', target_id: community.communityId, invite_creator_id: owner.userId }),
      ev('membership.created', joiner.userId, { kind: 'group', target_id: groupId, invite_creator_id: owner.userId }),
      ev('membership.created', joiner.userId, { kind: 'friend', target_id: owner.userId, invite_creator_id: owner.userId }),
    ]);
    assert.deepEqual(joinerEvents.slice(0, 2).map((e) => e.type), ['user.created', 'session.created']);
    assert.deepEqual((await deliveredTo(owner.userId)).map((e) => e.type), ['user.created', 'session.created'], 'making invites is no event');
  });

  it("bots: bot.created with its session, a token reset (bot_token_reset), bot.deleted with its session's end", async () => {
    const owner = await guest(gw, 'Bot Owner');
    const admin = async (...args: string[]) => {
      const run = await runAdmin(['bot', ...args], { DATABASE_URL: gw.databaseUrl, REDIS_URL: '', REDIS_CLUSTER_NODES: '' });
      assert.equal(run.code, 0, run.stderr);
      return run.lines[0]!;
    };
    const botId = (await admin('create', '--owner', owner.userId, '--name', 'Types Bot')).bot_id as string;
    await admin('reset-token', botId);
    await admin('delete', botId);
    const events = await deliveredTo(botId);
    const first = events[1]?.data.session_id as string;
    const second = events[3]?.data.session_id as string;
    assert.match(first, /^\d+$/);
    assert.notEqual(first, second, 'the reset opened a new session');
    assert.deepEqual(events, [
      ev('bot.created', botId, { name: 'Types Bot', owner_id: owner.userId }),
      sessionCreated(botId, first, { bot: true }),
      revoked(botId, first, 'bot_token_reset'),
      sessionCreated(botId, second, { bot: true }),
      revoked(botId, second, 'deletion'),
      ev('bot.deleted', botId, { owner_id: owner.userId, reason: 'deleted' }),
    ]);
  });

  it('deletion: requested (other sessions end), then purged: user.deleted, and the bots it owned bot.deleted (owner_deleted)', async () => {
    const dana = await person(gw, { tag: 'types.del', name: 'Dana Deleted' });
    const other = await signIn(gw, dana);
    const run = await runAdmin(['bot', 'create', '--owner', dana.userId, '--name', 'Orphan Bot'], { DATABASE_URL: gw.databaseUrl, REDIS_URL: '', REDIS_CLUSTER_NODES: '' });
    assert.equal(run.code, 0, run.stderr);
    const botId = run.lines[0]!.bot_id as string;
    await dana.client.call('settings_delete_account', {});
    // Grace 0: due at once; this pass or the gateway's own purges it.
    await gw.app.services.accountDeletion.purgeDue();
    await eventually(async () => (await gw.app.repos.users.byId(dana.userId))?.deletedAt, { what: 'the account purged' });

    const id = dana.userId;
    const events = await deliveredTo(id);
    const purgeAt = events.find((e) => e.type === 'user.deletion_requested')?.data.purge_at as string;
    assert.ok(Math.abs(Date.parse(purgeAt) - Date.now()) < 120_000, `purge_at ${purgeAt}: now, with no grace period`);
    assert.deepEqual(events, [
      ev('user.created', id, { name: 'Dana Deleted', email: dana.email, email_verified: false, guest: false, bot: false }),
      sessionCreated(id, dana.sessionId),
      sessionCreated(id, other.sessionId),
      revoked(id, other.sessionId, 'deletion'),
      ev('user.deletion_requested', id, { purge_at: purgeAt }),
      revoked(id, dana.sessionId, 'deletion'),
      ev('user.deleted', id),
    ]);
    const botEvents = await deliveredTo(botId);
    const botSession = botEvents[1]?.data.session_id as string;
    assert.deepEqual(botEvents, [
      ev('bot.created', botId, { name: 'Orphan Bot', owner_id: id }),
      sessionCreated(botId, botSession, { bot: true }),
      revoked(botId, botSession, 'deletion'),
      ev('bot.deleted', botId, { owner_id: id, reason: 'owner_deleted' }),
    ]);
  });

  it('a failed change leaves no event: not in the outbox, not in the feed, not at the receiver', async () => {
    const pat = await person(gw, { tag: 'types.fail', verifiedWith: smtp, name: 'Pat Fails' });
    await deliveredTo(pat.userId);
    const lastBefore = (await gw.app.db.query<{ last: string }>(`SELECT coalesce(max(id), 0)::text AS last FROM events`)).rows[0]!.last;
    const rowsBefore = (await gw.app.db.query<{ n: string }>(`SELECT max(n)::text AS n FROM events`)).rows[0]!.n;

    const setup = (await pat.client.call('settings_setup_totp', { enabled: true })).totp!.url!;
    const wrongTotp = String((Number(codeAt(setup)) + 500_000) % 1_000_000).padStart(6, '0');
    const failures: Array<[string, Promise<{ error?: unknown }>]> = [
      ['a sign-up with a taken address', (async () => (await gw.connect()).request('auth_sign_up', { email: pat.email, password: STRONG_PASSWORD, name: 'Copycat' }))()],
      ['a wrong current password', pat.client.request('settings_change_password', { current_password: 'not the password at all', new_password: NEW_PASSWORD })],
      ['a weak new password', pat.client.request('settings_change_password', { current_password: STRONG_PASSWORD, new_password: 'short' })],
      ['a wrong reset code', (async () => (await gw.connect()).request('auth_reset_password', { email: pat.email, confirm: { code: '000000', new_password: NEW_PASSWORD } }))()],
      ['a wrong code turning two-factor on', pat.client.request('settings_setup_totp', { enabled: true, code: wrongTotp })],
      ['cancelling a deletion never requested', pat.client.request('settings_delete_account', { cancel: true })],
      ['an unknown invite', pat.client.request('auth_use_invite', { code: 'AAAAAAAAAA' })],
    ];
    for (const [what, result] of failures) assert.ok((await result).error, `${what} is refused`);

    // A change that works, as a marker: once its events are numbered and delivered, any event of the failures would be too.
    const marker = await guest(gw, 'Marker');
    await deliveredTo(marker.userId);
    const { rows } = await gw.app.db.query<{ user_id: string; type: string }>(
      `SELECT user_id::text, type FROM events WHERE n > $1 ORDER BY events.id`, [rowsBefore],
    );
    assert.deepEqual(rows, [{ user_id: marker.userId, type: 'user.created' }, { user_id: marker.userId, type: 'session.created' }], 'the outbox has only the marker');
    assert.deepEqual((await feedAfter(lastBefore)).map((e) => [e.data.user_id, e.type]), [[marker.userId, 'user.created'], [marker.userId, 'session.created']], 'so has the feed');
    assert.deepEqual((await deliveredTo(pat.userId)).map((e) => e.type), ['user.created', 'session.created', 'user.updated'], 'the receiver got nothing more');
  });
});
