/** Invites under races and time: max_uses admits exactly N, expiry takes effect on time (issue 5). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RpcResult } from '../../src/client/client.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { type Account, guest } from '../helpers/accounts.js';
import { channelRef, createCommunity, createGroup, createInvite, groupRef, selfRef } from '../helpers/invites.js';
import { eventually } from '../helpers/eventually.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';
import { assertRpcError, codes } from '../helpers/results.js';

describe('invites under races', () => {
  let gw: TestGateway;
  let owner: Account;

  before(async () => {
    gw = await startGateway();
    owner = await guest(gw, 'Owner');
  });
  after(() => gw.close());

  const users = (n: number, tag: string) => Promise.all(Array.from({ length: n }, (_, i) => guest(gw, `${tag} ${i}`)));
  const uses = async (code: string) =>
    (await gw.app.db.query<{ uses: number }>(`SELECT uses FROM invites WHERE code = $1`, [code])).rows[0]!.uses;

  /** Fires every user's useInvite at once (each on its own socket) and splits the outcomes. */
  async function race(racers: Account[], code: string) {
    const results: RpcResult[] = await Promise.all(racers.map((u) => u.client.request('auth_use_invite', { code })));
    const winners = racers.filter((_, i) => !results[i]!.error);
    return { winners, codes: codes(results).filter((c) => c !== 0) };
  }

  it('20 users racing for a single-use group invite: exactly one gets in, the others 410', async () => {
    const groupId = await createGroup(gw, owner.userId, 'One seat');
    const code = await createInvite(owner, groupRef(groupId), { maxUses: 1 });
    const racers = await users(20, 'Racer');
    const { winners, codes } = await race(racers, code);
    assert.equal(winners.length, 1);
    assert.deepEqual(codes, Array(19).fill(ErrorCode.GONE));
    const { rows } = await gw.app.db.query<{ user_id: string }>(`SELECT user_id FROM group_participants WHERE group_id = $1`, [groupId]);
    assert.deepEqual(rows.map((r) => r.user_id).sort(), [owner.userId, winners[0]!.userId].sort());
    assert.equal(await uses(code), 1);
    assertRpcError(await racers[0]!.client.request('auth_lookup_invite', { code }), ErrorCode.GONE, /used up/);
  });

  it('15 users racing for a 3-use community invite: exactly three get in', async () => {
    const community = await createCommunity(gw, owner.userId, 'Three seats');
    const code = await createInvite(owner, channelRef(community), { maxUses: 3 });
    const { winners, codes } = await race(await users(15, 'Crowd'), code);
    assert.equal(winners.length, 3);
    assert.deepEqual(codes, Array(12).fill(ErrorCode.GONE));
    const { rows } = await gw.app.db.query(`SELECT 1 FROM community_members WHERE community_id = $1`, [community.communityId]);
    assert.equal(rows.length, 4);
    assert.equal(await uses(code), 3);
  });

  it('racers split over two gateway instances on one database: still exactly one', async () => {
    const second = await startGateway({}, { databaseUrl: gw.databaseUrl });
    try {
      const groupId = await createGroup(gw, owner.userId, 'Shared seat');
      const code = await createInvite(owner, groupRef(groupId), { maxUses: 1 });
      const racers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => guest(i % 2 ? second : gw, `Split ${i}`)),
      );
      const { winners, codes } = await race(racers, code);
      assert.equal(winners.length, 1);
      assert.deepEqual(codes, Array(19).fill(ErrorCode.GONE));
      assert.equal(await uses(code), 1);
    } finally {
      await second.close();
    }
  });

  it('one user using an unlimited invite from two sockets at once joins once and counts one use', async () => {
    const groupId = await createGroup(gw, owner.userId, 'Twice');
    const code = await createInvite(owner, groupRef(groupId));
    const user = await guest(gw, 'Double');
    // A second session of the same user (as signing in on another device would make), on its own socket.
    const { token } = await gw.app.services.sessions.create({ id: user.userId, name: user.name, bot: false }, { clientId: 0, deviceType: '', deviceVersion: '', appVersion: '' }, {});
    const second = await gw.connect();
    await second.call('auth_authorize', { token });
    const results = await Promise.all([user.client.request('auth_use_invite', { code }), second.request('auth_use_invite', { code })]);
    assert.deepEqual(codes(results).sort(), [0, ErrorCode.CONFLICT]);
    assert.equal(await uses(code), 1);
  });

  it('two users accepting each other\'s friend invites at once become friends once', async () => {
    const [a, b] = await users(2, 'Mutual');
    const [aCode, bCode] = await Promise.all([createInvite(a!, selfRef()), createInvite(b!, selfRef())]);
    const results = await Promise.all([b!.client.request('auth_use_invite', { code: aCode }), a!.client.request('auth_use_invite', { code: bCode })]);
    assert.deepEqual(codes(results).sort(), [0, ErrorCode.CONFLICT]);
    assert.equal((await uses(aCode)) + (await uses(bCode)), 1);
  });
});

describe('invite expiry', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.close());

  it('an invite that expires during the test stops previewing, working and being listed', async () => {
    const owner = await guest(gw, 'Owner');
    const [early, late] = await Promise.all([guest(gw, 'Early'), guest(gw, 'Late')]);
    const community = await createCommunity(gw, owner.userId, 'Ephemeral');
    const expiresAt = Date.now() + 2_000;
    const code = await createInvite(owner, channelRef(community), { expiresAt });

    const anonymous = await gw.connect();
    const preview = (await anonymous.call('auth_lookup_invite', { code })).invite_preview!;
    assert.equal(String(preview.expires_at), String(expiresAt));
    await early.client.call('auth_use_invite', { code });
    const listed = (await owner.client.call('chats_list_chat_invites', { chat_ref: channelRef(community) })).invite_list!;
    assert.ok(listed.invites!.some((i) => i.code === code));

    // The expiry itself is what is tested: wait for the clock to pass it.
    await eventually(async () => assertRpcError(await anonymous.request('auth_lookup_invite', { code }), ErrorCode.GONE) !== undefined, {
      what: 'the invite to expire (410)',
    });
    assertRpcError(await anonymous.request('auth_lookup_invite', { code }), ErrorCode.GONE, /expired/);
    assertRpcError(await late.client.request('auth_use_invite', { code }), ErrorCode.GONE, /expired/);
    const after = (await owner.client.call('chats_list_chat_invites', { chat_ref: channelRef(community) })).invite_list!;
    assert.ok(!after.invites!.some((i) => i.code === code));
  });
});
