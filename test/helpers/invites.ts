/** Helpers for the invite tests: signed-in users and invite targets. */
import assert from 'node:assert/strict';
import type { OsmiumClient, RpcResult } from '../../src/client/client.js';
import { idFromWire, idToWire } from '../../src/protocol/codec.js';
import { CommunitiesRepo } from '../../src/store/communitiesRepo.js';
import { GroupsRepo } from '../../src/store/groupsRepo.js';
import type { TestGateway } from './stack.js';

export interface SignedInUser {
  client: OsmiumClient;
  id: string;
  name: string;
}

/** Signs up a guest account on a fresh socket. */
export async function signedInUser(gw: TestGateway, name: string): Promise<SignedInUser> {
  const client = await gw.connect();
  const r = await client.call('auth_sign_up', { name });
  return { client, id: idFromWire(r.authorization!.user!.id), name };
}

/** A community (with one channel, the owner a member) made the way the admin CLI makes it. */
export async function createCommunity(gw: TestGateway, ownerId: string, name: string): Promise<{ communityId: string; channelId: string }> {
  const { ids, db } = gw.app;
  const communityId = ids.next();
  const channelId = ids.next();
  await new CommunitiesRepo(db).create({ id: communityId, channelId, channelName: 'general', name, ownerId });
  return { communityId, channelId };
}

/** A group (the owner its first participant) made the way the admin CLI makes it. */
export async function createGroup(gw: TestGateway, ownerId: string, name: string): Promise<string> {
  const { ids, db } = gw.app;
  const group = await new GroupsRepo(db).create({ id: ids.next(), name, ownerId });
  return group.id;
}

export const channelRef = (c: { communityId: string; channelId: string }) => ({
  channel: { community_id: idToWire(c.communityId), channel_id: idToWire(c.channelId) },
});
export const groupRef = (groupId: string) => ({ group: { group_id: idToWire(groupId) } });
export const userRef = (userId: string) => ({ user: { user_id: idToWire(userId) } });
export const selfRef = () => ({ self: {} });

/** Creates an invite and returns its code. */
export async function createInvite(
  user: SignedInUser,
  chatRef: object,
  options: { expiresAt?: number; maxUses?: number } = {},
): Promise<string> {
  const r = await user.client.call('chats_create_chat_invite', {
    chat_ref: chatRef,
    ...(options.expiresAt !== undefined ? { expires_at: idToWire(options.expiresAt) } : {}),
    ...(options.maxUses !== undefined ? { max_uses: options.maxUses } : {}),
  });
  return r.created_invite!.code!;
}

/** Asserts an RPC result is an error with this code and returns its message. */
export function assertError(result: RpcResult, code: number, pattern?: RegExp): string {
  assert.ok(result.error, `expected error ${code}, got a result: ${JSON.stringify(Object.keys(result))}`);
  assert.equal(result.error.error_code, code, `expected ${code}, got ${result.error.error_code}: ${result.error.error_message}`);
  if (pattern) assert.match(result.error.error_message ?? '', pattern);
  return result.error.error_message ?? '';
}

/** Decimal id of a fixed64 field in a result. */
export const id = (value: Parameters<typeof idFromWire>[0]) => idFromWire(value);
