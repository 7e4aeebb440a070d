/**
 * Who owns groups (docs/backend.md "Who owns groups"): the invite rules ask a
 * GroupDirectory whether a user takes part in a group, owns it, what it looks
 * like, and to add them. Two implementations, chosen once in app.ts:
 *
 * - LocalGroupDirectory: the gateway's own `groups` tables (no backend route
 *   for the `chats` package; groups made with the admin CLI).
 * - BackendGroupDirectory: the chat backend's group hooks
 *   (proto/osmium/gateway/v1/backend.proto GroupMembershipQuery, GroupJoin),
 *   when `chats` is routed to a backend: the backend owns groups and their
 *   members, the gateway owns users, sessions and invites.
 *
 * The hook transport is given as a GroupHooks (src/gateway/backendRoute.ts
 * implements it over the route's pool, timeout and circuit breaker), so this
 * layer never knows HTTP or the gateway.
 */
import type { DeviceInfo } from '../domain/device.js';
import type { Id } from '../domain/ids.js';
import type { InviteDetails } from '../domain/invite.js';
import type { osmium } from '../gen/osmium.js';
import type { GroupsRepo } from '../store/groupsRepo.js';
import type { PoolClient } from '../store/postgres.js';

/** The signed-in request a hook runs on behalf of (BackendRequest.caller). */
export interface OnBehalfOf {
  userId: Id;
  sessionId: Id;
  bot: boolean;
  device: DeviceInfo;
  ip: string;
}

/** A group as one viewer sees it, for InvitePreview.chat (types.Group). */
export interface GroupPreview {
  id: Id;
  name: string;
  /** The viewer owns the group. */
  owner: boolean;
  participantIds: Id[];
  photo: osmium.client.types.ChatPhoto.$Properties | null;
}

/** GroupMembership, decoded. */
export interface HookMembership {
  found: boolean;
  member: boolean;
  owner: boolean;
  /** The group as the asked user sees it; null when the backend sent none. */
  group: GroupPreview | null;
}

export interface GroupJoinRequest {
  groupId: Id;
  userId: Id;
  inviteCode: string;
  inviteCreatorId: Id;
}

/**
 * The two group hooks of a backend route. Both throw RpcError for every
 * failure: the backend's own `error` answer as given, or the hop's failure
 * (503 down or circuit open, 504 timeout, 502 bad answer).
 */
export interface GroupHooks {
  /** userId null: nobody signed in, only the group is wanted (user_id 0). */
  membership(query: { groupId: Id; userId: Id | null }, caller: OnBehalfOf | undefined): Promise<HookMembership>;
  join(join: GroupJoinRequest, caller: OnBehalfOf): Promise<{ alreadyMember: boolean }>;
}

export interface GroupDirectory {
  /** 'backend' when the chat backend owns groups (its hooks answer), 'local' for the gateway's tables. */
  readonly owner: 'local' | 'backend';
  /**
   * Whether `userId` takes part in the group (false for an unknown group:
   * no existence oracle), and the group as they see it when the answer
   * carried it (null: previews use the invite's own record).
   */
  participant(groupId: Id, userId: Id, caller: OnBehalfOf): Promise<{ member: boolean; group: GroupPreview | null }>;
  /** Whether `userId` owns the invite's group. */
  isOwner(invite: InviteDetails, userId: Id, caller: OnBehalfOf): Promise<boolean>;
  /** The invite's group as `viewerId` (null: not signed in) sees it; found false: the group is gone (404). */
  preview(invite: InviteDetails, viewerId: Id | null, caller: OnBehalfOf | undefined): Promise<{ found: boolean; group: GroupPreview | null }>;
  /**
   * Adds the user who accepted `join.inviteCode`; false when they already
   * were a participant (nothing changed). Runs inside the use's transaction
   * (`client`, holding the invite row's lock): the local tables write
   * through it; a backend commits on its own side.
   */
  join(join: GroupJoinRequest, caller: OnBehalfOf, client: PoolClient): Promise<boolean>;
}

/** The gateway's own `groups` and `group_participants` tables. */
export class LocalGroupDirectory implements GroupDirectory {
  readonly owner = 'local';

  constructor(private readonly groups: GroupsRepo) {}

  async participant(groupId: Id, userId: Id): Promise<{ member: boolean; group: null }> {
    return { member: await this.groups.isParticipant(groupId, userId), group: null };
  }

  async isOwner(invite: InviteDetails, userId: Id): Promise<boolean> {
    return invite.group?.ownerId === userId;
  }

  async preview(invite: InviteDetails, viewerId: Id | null): Promise<{ found: boolean; group: GroupPreview | null }> {
    const g = invite.group;
    // As before the hooks: an invite whose group row is missing still previews, without a group.
    if (!g) return { found: true, group: null };
    return { found: true, group: { id: g.id, name: g.name, owner: viewerId !== null && viewerId === g.ownerId, participantIds: g.participantIds, photo: null } };
  }

  join(join: GroupJoinRequest, _caller: OnBehalfOf, client: PoolClient): Promise<boolean> {
    return this.groups.addParticipant(join.groupId, join.userId, client);
  }
}

/** The chat backend's group hooks: it owns the groups; nothing is read from the local tables. */
export class BackendGroupDirectory implements GroupDirectory {
  readonly owner = 'backend';

  constructor(private readonly hooks: GroupHooks) {}

  async participant(groupId: Id, userId: Id, caller: OnBehalfOf): Promise<{ member: boolean; group: GroupPreview | null }> {
    const answer = await this.hooks.membership({ groupId, userId }, caller);
    // found: false is answered like "not a member": outsiders learn nothing.
    return answer.found && answer.member ? { member: true, group: answer.group } : { member: false, group: null };
  }

  async isOwner(invite: InviteDetails, userId: Id, caller: OnBehalfOf): Promise<boolean> {
    const answer = await this.hooks.membership({ groupId: invite.target.id, userId }, caller);
    return answer.found && answer.owner;
  }

  async preview(invite: InviteDetails, viewerId: Id | null, caller: OnBehalfOf | undefined): Promise<{ found: boolean; group: GroupPreview | null }> {
    const answer = await this.hooks.membership({ groupId: invite.target.id, userId: viewerId }, caller);
    return answer.found ? { found: true, group: answer.group } : { found: false, group: null };
  }

  async join(join: GroupJoinRequest, caller: OnBehalfOf): Promise<boolean> {
    const { alreadyMember } = await this.hooks.join(join, caller);
    return !alreadyMember;
  }
}
