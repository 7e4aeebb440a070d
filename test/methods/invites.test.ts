/** Invites over real sockets: create, look up, use, list and delete (issue 5). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { osmium } from '../../src/gen/osmium.js';
import { idToWire } from '../../src/protocol/codec.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { type Account, guest } from '../helpers/accounts.js';
import { channelRef, createCommunity, createGroup, createInvite, groupRef, id, selfRef, userRef } from '../helpers/invites.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

const InviteType = osmium.client.auth.InviteType;
const CODE_RE = /^[A-Za-z0-9_-]{10}$/;

describe('invites', () => {
  let gw: TestGateway;
  let owner: Account;
  let member: Account;
  let outsider: Account;
  let community: { communityId: string; channelId: string };
  let otherCommunity: { communityId: string; channelId: string };
  let groupId: string;

  before(async () => {
    gw = await startGateway();
    [owner, member, outsider] = await Promise.all([
      guest(gw, 'Olivia Owner'), guest(gw, 'Max Member'), guest(gw, 'Otto Outsider'),
    ]);
    community = await createCommunity(gw, owner.userId, 'Rust Fans');
    otherCommunity = await createCommunity(gw, outsider.userId, 'Elsewhere');
    groupId = await createGroup(gw, owner.userId, 'Weekend plans');
    // member joins the community through an invite, so both owner and member are members.
    const code = await createInvite(owner, channelRef(community));
    await member.client.call('auth_use_invite', { code });
  });
  after(() => gw.close());

  describe('createChatInvite', () => {
    it('makes a COMMUNITY invite from a channel for a member, with a 10-character code', async () => {
      const code = await createInvite(member, channelRef(community));
      assert.match(code, CODE_RE);
      const preview = (await outsider.client.call('auth_lookup_invite', { code })).invite_preview!;
      assert.equal(preview.target_type, InviteType.COMMUNITY);
      assert.equal(id(preview.target_id), community.communityId);
      assert.equal(id(preview.creator_id), member.userId);
    });

    it('refuses a non-member (403), also for an unknown community, and a channel of another community (400)', async () => {
      assertRpcError(await outsider.client.request('chats_create_chat_invite', { chat_ref: channelRef(community) }), ErrorCode.FORBIDDEN);
      const unknown = { communityId: gw.app.ids.next(), channelId: community.channelId };
      assertRpcError(await member.client.request('chats_create_chat_invite', { chat_ref: channelRef(unknown) }), ErrorCode.FORBIDDEN);
      const mixed = { communityId: community.communityId, channelId: otherCommunity.channelId };
      assertRpcError(await member.client.request('chats_create_chat_invite', { chat_ref: channelRef(mixed) }), ErrorCode.BAD_REQUEST, /channel_id/);
    });

    it('makes a GROUP invite for a participant and refuses others', async () => {
      const code = await createInvite(owner, groupRef(groupId));
      const preview = (await outsider.client.call('auth_lookup_invite', { code })).invite_preview!;
      assert.equal(preview.target_type, InviteType.GROUP);
      assert.equal(id(preview.target_id), groupId);
      assertRpcError(await member.client.request('chats_create_chat_invite', { chat_ref: groupRef(groupId) }), ErrorCode.FORBIDDEN);
    });

    it('makes a USER invite from self or from the caller as user, and refuses another user', async () => {
      for (const ref of [selfRef(), userRef(member.userId)]) {
        const code = await createInvite(member, ref);
        const preview = (await outsider.client.call('auth_lookup_invite', { code })).invite_preview!;
        assert.equal(preview.target_type, InviteType.USER);
        assert.equal(id(preview.target_id), member.userId);
      }
      assertRpcError(await member.client.request('chats_create_chat_invite', { chat_ref: userRef(owner.userId) }), ErrorCode.FORBIDDEN);
    });

    it('validates the request before any work (400 naming the field)', async () => {
      const c = member.client;
      assertRpcError(await c.request('chats_create_chat_invite', {}), ErrorCode.BAD_REQUEST, /chat_ref/);
      assertRpcError(await c.request('chats_create_chat_invite', { chat_ref: {} }), ErrorCode.BAD_REQUEST, /chat_ref/);
      assertRpcError(await c.request('chats_create_chat_invite', { chat_ref: { group: { group_id: idToWire(0) } } }), ErrorCode.BAD_REQUEST, /group_id/);
      assertRpcError(
        await c.request('chats_create_chat_invite', { chat_ref: selfRef(), expires_at: idToWire(Date.now() - 1000) }),
        ErrorCode.BAD_REQUEST, /expires_at/,
      );
      assertRpcError(await c.request('chats_create_chat_invite', { chat_ref: selfRef(), max_uses: 4_000_000_000 }), ErrorCode.BAD_REQUEST, /max_uses/);
    });

    it('needs a session (401)', async () => {
      const anonymous = await gw.connect();
      assertRpcError(await anonymous.request('chats_create_chat_invite', { chat_ref: selfRef() }), ErrorCode.UNAUTHENTICATED);
    });

    it('hands out a different code every time', async () => {
      const codes: string[] = [];
      for (let i = 0; i < 100; i++) codes.push(await createInvite(owner, selfRef()));
      assert.equal(new Set(codes).size, 100);
      for (const code of codes) assert.match(code, CODE_RE);
    });
  });

  describe('lookupInvite', () => {
    it('previews a community invite without signing in', async () => {
      const expiresAt = Date.now() + 3_600_000;
      const code = await createInvite(member, channelRef(community), { expiresAt, maxUses: 5 });
      const anonymous = await gw.connect();
      const preview = (await anonymous.call('auth_lookup_invite', { code })).invite_preview!;
      assert.equal(preview.code, code);
      assert.equal(id(preview.creator_id), member.userId);
      assert.equal(preview.creator?.name, 'Max Member');
      assert.equal(id(preview.creator?.id), member.userId);
      assert.equal(id(preview.expires_at), String(expiresAt));
      assert.equal(preview.target_info, 'community');
      assert.equal(id(preview.community?.id), community.communityId);
      assert.equal(preview.community?.name, 'Rust Fans');
      assert.equal(preview.community?.owner, false);
    });

    it('sets the community owner flag only for the signed-in owner', async () => {
      const code = await createInvite(member, channelRef(community));
      assert.equal((await owner.client.call('auth_lookup_invite', { code })).invite_preview!.community?.owner, true);
      assert.equal((await member.client.call('auth_lookup_invite', { code })).invite_preview!.community?.owner, false);
      assert.equal((await outsider.client.call('auth_lookup_invite', { code })).invite_preview!.community?.owner, false);
    });

    it('previews a group with its participants and a user invite with the creator; no expires_at when unset', async () => {
      const groupCode = await createInvite(owner, groupRef(groupId));
      const group = (await outsider.client.call('auth_lookup_invite', { code: groupCode })).invite_preview!;
      assert.equal(group.target_info, 'chat');
      assert.equal(group.chat?.name, 'Weekend plans');
      assert.equal(id(group.chat?.id), groupId);
      assert.ok(group.chat?.participant_ids?.map(id).includes(owner.userId));
      assert.equal(group.expires_at, null);

      const userCode = await createInvite(owner, selfRef());
      const user = (await outsider.client.call('auth_lookup_invite', { code: userCode })).invite_preview!;
      assert.equal(user.target_info, 'user');
      assert.equal(id(user.user?.id), owner.userId);
      assert.equal(user.user?.name, 'Olivia Owner');
    });

    it('answers 404 for an unknown code and 400 for a malformed one', async () => {
      const c = outsider.client;
      assertRpcError(await c.request('auth_lookup_invite', { code: 'AAAAAAAAAA' }), ErrorCode.NOT_FOUND);
      for (const code of ['', 'short', 'AAAAAAAAAAA', 'AAAAA AAAA', 'AAAAAAAAA!', 'ÄAAAAAAAAA', 'x'.repeat(5000)]) {
        assertRpcError(await c.request('auth_lookup_invite', { code }), ErrorCode.BAD_REQUEST, /code/);
      }
    });
  });

  describe('useInvite', () => {
    it('needs a session (401)', async () => {
      const code = await createInvite(owner, selfRef());
      const anonymous = await gw.connect();
      assertRpcError(await anonymous.request('auth_use_invite', { code }), ErrorCode.UNAUTHENTICATED);
    });

    it('joins a community; using it again is 409 and counts no use', async () => {
      const a = await guest(gw, 'Ann');
      const b = await guest(gw, 'Bob');
      const c = await guest(gw, 'Cid');
      const code = await createInvite(owner, channelRef(community), { maxUses: 2 });
      assertRpcError(await a.client.request('chats_list_chat_invites', { chat_ref: channelRef(community) }), ErrorCode.FORBIDDEN);
      await a.client.call('auth_use_invite', { code });
      // Now a member: may list and create invites of the community.
      await a.client.call('chats_list_chat_invites', { chat_ref: channelRef(community) });
      assertRpcError(await a.client.request('auth_use_invite', { code }), ErrorCode.CONFLICT);
      // The 409 counted no use: a second person still gets in, a third finds it used up.
      await b.client.call('auth_use_invite', { code });
      assertRpcError(await c.client.request('auth_use_invite', { code }), ErrorCode.GONE);
      assertRpcError(await c.client.request('auth_lookup_invite', { code }), ErrorCode.GONE);
    });

    it('an owner already in the community gets 409', async () => {
      const code = await createInvite(member, channelRef(community));
      assertRpcError(await owner.client.request('auth_use_invite', { code }), ErrorCode.CONFLICT);
    });

    it('adds a group participant, seen in the preview', async () => {
      const g = await guest(gw, 'Gus');
      const code = await createInvite(owner, groupRef(groupId));
      await g.client.call('auth_use_invite', { code });
      const preview = (await g.client.call('auth_lookup_invite', { code })).invite_preview!;
      assert.ok(preview.chat?.participant_ids?.map(id).includes(g.userId));
      assertRpcError(await g.client.request('auth_use_invite', { code }), ErrorCode.CONFLICT);
      // A participant may now invite others to the group.
      await createInvite(g, groupRef(groupId));
    });

    it('makes two users friends; own user invite is 400; friends again is 409 either way', async () => {
      const x = await guest(gw, 'Xena');
      const y = await guest(gw, 'Yuri');
      const xCode = await createInvite(x, selfRef());
      assertRpcError(await x.client.request('auth_use_invite', { code: xCode }), ErrorCode.BAD_REQUEST, /own/);
      await y.client.call('auth_use_invite', { code: xCode });
      assertRpcError(await y.client.request('auth_use_invite', { code: xCode }), ErrorCode.CONFLICT);
      const yCode = await createInvite(y, selfRef());
      assertRpcError(await x.client.request('auth_use_invite', { code: yCode }), ErrorCode.CONFLICT, /friends/);
      assert.equal(await gw.app.repos.friends.areFriends(x.userId, y.userId), true);
    });

    it('answers 404 for an unknown code and 400 for a malformed one', async () => {
      assertRpcError(await member.client.request('auth_use_invite', { code: 'ZZZZZZZZZZ' }), ErrorCode.NOT_FOUND);
      assertRpcError(await member.client.request('auth_use_invite', { code: 'nope' }), ErrorCode.BAD_REQUEST, /code/);
    });
  });

  describe('listChatInvites', () => {
    it('lists the live invites of a community to its members, with previews', async () => {
      const live = await createInvite(member, channelRef(community), { maxUses: 10 });
      const deleted = await createInvite(member, channelRef(community));
      await member.client.call('chats_delete_chat_invite', { code: deleted });
      const usedUp = await createInvite(member, channelRef(community), { maxUses: 1 });
      await (await guest(gw, 'Una')).client.call('auth_use_invite', { code: usedUp });

      for (const viewer of [owner, member]) {
        const list = (await viewer.client.call('chats_list_chat_invites', { chat_ref: channelRef(community) })).invite_list!;
        const codes = list.invites!.map((i) => i.code);
        assert.ok(codes.includes(live), 'live invite listed');
        assert.ok(!codes.includes(deleted), 'deleted invite not listed');
        assert.ok(!codes.includes(usedUp), 'used-up invite not listed');
        const preview = list.invites!.find((i) => i.code === live)!;
        assert.equal(preview.community?.name, 'Rust Fans');
        assert.equal(preview.community?.owner, viewer === owner);
        assert.equal(preview.creator?.name, 'Max Member');
        for (const i of list.invites!) assert.equal(id(i.target_id), community.communityId);
      }
    });

    it('refuses non-members, non-participants and other users (403)', async () => {
      assertRpcError(await outsider.client.request('chats_list_chat_invites', { chat_ref: channelRef(community) }), ErrorCode.FORBIDDEN);
      assertRpcError(await outsider.client.request('chats_list_chat_invites', { chat_ref: groupRef(groupId) }), ErrorCode.FORBIDDEN);
      assertRpcError(await outsider.client.request('chats_list_chat_invites', { chat_ref: userRef(owner.userId) }), ErrorCode.FORBIDDEN);
      assertRpcError(await outsider.client.request('chats_list_chat_invites', {}), ErrorCode.BAD_REQUEST, /chat_ref/);
    });

    it('lists a user their own user invites (self or user ref) and a group its invites', async () => {
      const u = await guest(gw, 'Vera');
      const codes = [await createInvite(u, selfRef()), await createInvite(u, selfRef())];
      for (const ref of [selfRef(), userRef(u.userId)]) {
        const list = (await u.client.call('chats_list_chat_invites', { chat_ref: ref })).invite_list!;
        assert.deepEqual(list.invites!.map((i) => i.code).sort(), [...codes].sort());
        assert.equal(list.invites![0]!.target_info, 'user');
      }
      const groupCode = await createInvite(owner, groupRef(groupId));
      const groupList = (await owner.client.call('chats_list_chat_invites', { chat_ref: groupRef(groupId) })).invite_list!;
      assert.ok(groupList.invites!.some((i) => i.code === groupCode && i.chat?.owner === true));
    });
  });

  describe('deleteChatInvite', () => {
    it('lets the creator delete; the code stops working at once', async () => {
      const code = await createInvite(member, channelRef(community));
      await member.client.call('chats_delete_chat_invite', { code });
      assertRpcError(await outsider.client.request('auth_lookup_invite', { code }), ErrorCode.NOT_FOUND);
      assertRpcError(await outsider.client.request('auth_use_invite', { code }), ErrorCode.NOT_FOUND);
      assertRpcError(await member.client.request('chats_delete_chat_invite', { code }), ErrorCode.NOT_FOUND);
    });

    it('lets the owner of the target delete a member\'s invite, and refuses everyone else (403)', async () => {
      const third = await guest(gw, 'Thea');
      await third.client.call('auth_use_invite', { code: await createInvite(owner, channelRef(community)) });
      const code = await createInvite(member, channelRef(community));
      assertRpcError(await third.client.request('chats_delete_chat_invite', { code }), ErrorCode.FORBIDDEN);
      assertRpcError(await outsider.client.request('chats_delete_chat_invite', { code }), ErrorCode.FORBIDDEN);
      // Refused deletes changed nothing.
      await outsider.client.call('auth_lookup_invite', { code });
      await owner.client.call('chats_delete_chat_invite', { code });
      assertRpcError(await outsider.client.request('auth_lookup_invite', { code }), ErrorCode.NOT_FOUND);
    });

    it('answers 404 for an unknown code, 400 for a malformed one, 401 without a session', async () => {
      assertRpcError(await owner.client.request('chats_delete_chat_invite', { code: 'QQQQQQQQQQ' }), ErrorCode.NOT_FOUND);
      assertRpcError(await owner.client.request('chats_delete_chat_invite', { code: 'Q' }), ErrorCode.BAD_REQUEST, /code/);
      const anonymous = await gw.connect();
      assertRpcError(await anonymous.request('chats_delete_chat_invite', { code: 'QQQQQQQQQQ' }), ErrorCode.UNAUTHENTICATED);
    });
  });
});
