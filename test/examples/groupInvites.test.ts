/**
 * Invites into a chat backend's group (docs/backend.md "Who owns groups"):
 * with the chats package routed to the example backend (its own process),
 * the backend owns groups and their members and the gateway asks it through
 * the group hooks; the gateway keeps the invites and counts their uses.
 *
 * A makes a group through chats.createChat (forwarded) and an invite to it
 * (max_uses 2: a use counted by mistake makes it vanish from
 * listChatInvites); D, outside, gets 403 as for a group that does not exist;
 * B previews and accepts it, learns the group by push and receives A's
 * message; B's second try is 409 and counts nothing; with the backend down a
 * use is 503 and counts nothing; deleting is for the creator and the group's
 * owner (the hook says who that is).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import getPort from 'get-port';
import Long from 'long';
import { InviteTargetType } from '../../src/domain/invite.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { osmium } from '../../examples/chat/src/gen/osmium.js';
import { guest, type Account } from '../helpers/accounts.js';
import { assertRpcError, count, ok } from '../helpers/results.js';
import { createDatabase, startGateway, type TestGateway } from '../helpers/stack.js';
import { startChatBackend, stopChatBackend, updatesUntil } from './chatBackend.js';

const { chats, messages, updates } = osmium.client;
const SECRET = 'group-invites-backend-secret-01';
const API_KEY = 'group-invites-api-key-012345678';
/** Users using one single-use invite at once. */
const RACERS = 20;

const long = (id: string) => Long.fromString(id, true);
const text = (id: Long | number | null | undefined) => (id === null || id === undefined ? '0' : Long.fromValue(id).toUnsigned().toString());

describe('invites into a chat backend\'s group: the gateway asks the backend\'s group hooks', () => {
  let gw: TestGateway;
  let backend: ChildProcess | undefined;
  let backendEnv: Record<string, string>;
  let a: Account;
  let b: Account;
  let c: Account;
  let d: Account;
  let groupId: string;
  let groupRef: { group: { group_id: Long } };
  let code: string;

  before(async () => {
    const databaseUrl = await createDatabase();
    const backendPort = await getPort({ host: '127.0.0.1' });
    gw = await startGateway(
      { BACKEND_URL: `http://127.0.0.1:${backendPort}`, BACKEND_SECRET: SECRET, BACKEND_TIMEOUT_MS: '2000', API_PORT: '0', API_KEYS: API_KEY },
      { databaseUrl },
    );
    backendEnv = {
      PORT: String(backendPort), DATABASE_URL: databaseUrl, GATEWAY_API_URL: `http://127.0.0.1:${gw.app.apiPort}`,
      GATEWAY_API_KEY: API_KEY, BACKEND_SECRET: SECRET,
    };
    backend = await startChatBackend(backendEnv);
    [a, b, c, d] = await Promise.all([guest(gw, 'A'), guest(gw, 'B'), guest(gw, 'C'), guest(gw, 'D')]);
  });
  after(async () => {
    await stopChatBackend(backend);
    await gw?.close();
  });

  const send = (who: Account, message: string) =>
    who.client.request('messages_send_message', messages.SendMessage.encode({ chat_ref: groupRef, message }).finish() as never);
  const createInvite = (who: Account, ref: object, maxUses = 0) => who.client.request('chats_create_chat_invite', { chat_ref: ref, max_uses: maxUses });
  const listCodes = async (who: Account) => {
    const result = await who.client.request('chats_list_chat_invites', { chat_ref: groupRef });
    ok(result);
    return result.invite_list!.invites!.map((i) => i.code);
  };
  const useInvite = (who: Account, inviteCode = code) => who.client.request('auth_use_invite', { code: inviteCode });

  it('A creates a group through the backend and invites to it; D, not in it, gets the same 403 as for a group that does not exist', async () => {
    const created = await a.client.request('chats_create_chat', chats.CreateChat.encode({ name: 'Team' }).finish() as never);
    ok(created);
    groupId = text(created.group!.id as Long); // types.Group is an RPCResult member the gateway's codec decodes
    groupRef = { group: { group_id: long(groupId) } };

    const invite = await createInvite(a, groupRef, 2);
    ok(invite);
    code = invite.created_invite!.code!;
    assert.deepEqual(await listCodes(a), [code]);

    const outside = await createInvite(d, groupRef);
    assertRpcError(outside, ErrorCode.FORBIDDEN);
    const nowhere = await createInvite(d, { group: { group_id: long('4242') } });
    assertRpcError(nowhere, ErrorCode.FORBIDDEN);
    assert.equal(outside.error!.error_message, nowhere.error!.error_message, 'no existence oracle');
    assertRpcError(await d.client.request('chats_list_chat_invites', { chat_ref: groupRef }), ErrorCode.FORBIDDEN);
  });

  it('lookupInvite shows the backend\'s group as the viewer sees it, signed in or not; an invite to a group the backend does not know is 404', async () => {
    const forB = await b.client.request('auth_lookup_invite', { code });
    ok(forB);
    const preview = forB.invite_preview!;
    assert.equal(preview.target_type, InviteTargetType.GROUP);
    assert.equal(text(preview.target_id as Long), groupId);
    assert.deepEqual([text(preview.chat!.id as Long), preview.chat!.name, preview.chat!.owner], [groupId, 'Team', false]);
    assert.deepEqual(preview.chat!.participant_ids!.map((id) => text(id as Long)), [a.userId]);
    assert.equal((await a.client.request('auth_lookup_invite', { code })).invite_preview!.chat!.owner, true, 'A owns it');
    const anonymous = await gw.connect();
    try {
      const forNobody = await anonymous.request('auth_lookup_invite', { code });
      ok(forNobody);
      assert.equal(forNobody.invite_preview!.chat!.name, 'Team');
    } finally {
      await anonymous.close();
    }

    // An invite whose group the backend does not have (gone, or never its own): not found for lookup and use.
    await gw.app.repos.invites.insert({ code: 'NoSuchGrp_', creatorId: a.userId, target: { type: InviteTargetType.GROUP, id: '4242' }, expiresAt: null, maxUses: 0 });
    assertRpcError(await b.client.request('auth_lookup_invite', { code: 'NoSuchGrp_' }), ErrorCode.NOT_FOUND);
    assertRpcError(await useInvite(b, 'NoSuchGrp_'), ErrorCode.NOT_FOUND, /that group no longer exists/); // the backend's own error, relayed
  });

  it('B accepts: the backend adds B and pushes the group to B\'s socket, and B then receives the group\'s messages', async () => {
    ok(await useInvite(b));
    const joined = await updatesUntil(b.client, (u) => !!u.group && text(updates.UpdateGroup.decode(u.group as Uint8Array).group!.id as Long) === groupId);
    const group = updates.UpdateGroup.decode(joined.at(-1)!.group as Uint8Array).group!;
    assert.deepEqual((group.participant_ids ?? []).map((id) => text(id as Long)).sort(), [a.userId, b.userId].sort());

    const sent = await send(a, 'welcome B');
    ok(sent);
    const seen = await updatesUntil(b.client, (u) => !!u.message_created);
    const message = updates.UpdateMessageCreated.decode(seen.at(-1)!.message_created as Uint8Array).message!;
    assert.deepEqual([message.message, text(message.author_id as Long)], ['welcome B', a.userId]);
    ok(await send(b, 'thanks'));
    assert.equal((await b.client.request('auth_lookup_invite', { code })).invite_preview!.chat!.participant_ids!.length, 2);
  });

  it('B\'s second useInvite is 409 and counts no use (the max_uses 2 invite is still listed)', async () => {
    assertRpcError(await useInvite(b), ErrorCode.CONFLICT);
    assert.deepEqual(await listCodes(a), [code], 'one use of two: still live');
    // The list's previews carry the backend's group too, as the lister sees it.
    const listed = (await b.client.request('chats_list_chat_invites', { chat_ref: groupRef })).invite_list!.invites![0]!;
    assert.deepEqual([listed.chat!.name, listed.chat!.owner, listed.chat!.participant_ids!.length], ['Team', false, 2]);
  });

  it('with the backend down useInvite is 503 and counts nothing; back up, C joins and the invite is used up', async () => {
    backend!.kill('SIGKILL');
    await once(backend!, 'exit');
    assertRpcError(await useInvite(c), ErrorCode.UNAVAILABLE);
    assertRpcError(await a.client.request('chats_list_chat_invites', { chat_ref: groupRef }), ErrorCode.UNAVAILABLE);
    assert.ok(c.client.isOpen && a.client.isOpen, 'no socket closed');

    backend = await startChatBackend(backendEnv);
    assert.deepEqual(await listCodes(a), [code], 'the failed use was not counted');
    assertRpcError(await c.client.request('messages_get_history', messages.GetHistory.encode({ chat_ref: groupRef }).finish() as never), ErrorCode.FORBIDDEN);
    ok(await useInvite(c));
    const history = await c.client.request('messages_get_history', messages.GetHistory.encode({ chat_ref: groupRef }).finish() as never);
    ok(history);
    assert.deepEqual(messages.Messages.decode(history.messages as Uint8Array).messages.map((m) => m.message), ['welcome B', 'thanks']);
    assert.deepEqual(await listCodes(a), [], 'two uses of two: used up');
    assertRpcError(await useInvite(d), ErrorCode.GONE);
  });

  it(`${RACERS} users racing for a max_uses 1 invite: exactly one joins, the others get 410 and stay outside`, async () => {
    const invite = await createInvite(a, groupRef, 1);
    ok(invite);
    const racers = await Promise.all(Array.from({ length: RACERS }, (_, i) => guest(gw, `Racer ${i}`)));
    const results = await Promise.all(racers.map((who) => useInvite(who, invite.created_invite!.code!)));
    assert.equal(count(results, 0), 1, `exactly one joined: ${JSON.stringify(results.map((r) => r.error?.error_code ?? 0))}`);
    assert.equal(count(results, ErrorCode.GONE), RACERS - 1, 'every other one is told the invite is used up');
    const histories = await Promise.all(
      racers.map((who) => who.client.request('messages_get_history', messages.GetHistory.encode({ chat_ref: groupRef }).finish() as never)),
    );
    assert.deepEqual(
      histories.map((r) => r.error?.error_code ?? 0),
      results.map((r) => (r.error ? ErrorCode.FORBIDDEN : 0)),
      'the one who got () is in the group, the others are not',
    );
  });

  it('deleteChatInvite: the creator or the group\'s owner (as the backend says); another member gets 403', async () => {
    const byB = await createInvite(b, groupRef);
    ok(byB);
    const bCode = byB.created_invite!.code!;
    const byA = await createInvite(a, groupRef);
    ok(byA);
    const aCode = byA.created_invite!.code!;
    assertRpcError(await c.client.request('chats_delete_chat_invite', { code: bCode }), ErrorCode.FORBIDDEN);
    assertRpcError(await b.client.request('chats_delete_chat_invite', { code: aCode }), ErrorCode.FORBIDDEN);
    ok(await a.client.request('chats_delete_chat_invite', { code: bCode })); // the owner, not its creator
    ok(await a.client.request('chats_delete_chat_invite', { code: aCode })); // its creator
    assertRpcError(await b.client.request('auth_lookup_invite', { code: bCode }), ErrorCode.NOT_FOUND);
    assert.deepEqual(await listCodes(b), []);
  });
});
