/** Helpers for the invite tests: chats and invite targets (the accounts come from accounts.ts). */
import type { OsmiumClient } from '../../src/client/client.js';
import { idFromWire, idToWire } from '../../src/protocol/codec.js';
import { CommunitiesRepo } from '../../src/store/communitiesRepo.js';
import { GroupsRepo } from '../../src/store/groupsRepo.js';
import type { TestGateway } from './stack.js';

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
  user: { client: OsmiumClient },
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

/** Decimal id of a fixed64 field in a result. */
export const id = (value: Parameters<typeof idFromWire>[0]) => idFromWire(value);
