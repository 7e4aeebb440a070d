/**
 * Invites: create, preview, use, list and delete invites to communities,
 * groups and users (friendship). Request shape is validated by the methods;
 * this is the business rules and the writes.
 *
 * Using an invite is one transaction holding the invite row's lock
 * (SELECT ... FOR UPDATE): the checks, the membership change and the use
 * count commit together or not at all, so an invite with max_uses = N admits
 * exactly N users however many race for it.
 *
 * Groups are the GroupDirectory's (./groupDirectory.ts): the gateway's own
 * tables, or the chat backend's hooks when the `chats` package is routed to
 * one. A backend's join is its own commit, made while the row lock is held:
 * the use is counted only after it answered "joined", and a join the
 * gateway could not confirm leaves the use uncounted (the user's next try
 * is already_member: never two uses, never two joins).
 */
import type { Id } from '../domain/ids.js';
import type { Clock } from '../domain/clock.js';
import type { RequestOrigin } from '../domain/source.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { CommunitiesRepo } from '../store/communitiesRepo.js';
import type { FriendsRepo } from '../store/friendsRepo.js';
import { InviteTargetType, type InviteDetails, type InviteRecord, type InviteTarget } from '../domain/invite.js';
import { InviteCodeTakenError, type InvitesRepo } from '../store/invitesRepo.js';
import type { Pool } from '../store/postgres.js';
import { addEvents } from '../store/eventsRepo.js';
import { withTransaction } from '../store/transaction.js';
import type { GroupDirectory, GroupPreview, OnBehalfOf } from './groupDirectory.js';
import { generateInviteCode } from './inviteCodes.js';
import type { Limits } from './limits.js';

/** Most invites listChatInvites returns (newest first). */
const LIST_INVITES_MAX = 200;
/** How many codes to draw before giving up on a (practically impossible) collision streak. */
const CODE_ATTEMPTS = 5;

/** What a ChatRef names, once validated (ids are decimal strings). */
export type ChatTarget =
  | { kind: 'channel'; communityId: Id; channelId: Id }
  | { kind: 'group'; groupId: Id }
  | { kind: 'user'; userId: Id };

/** A target a caller may invite to, with the group as they see it when the group directory answered with it. */
export interface AuthorizedTarget {
  target: InviteTarget;
  /** For a backend's group: the group from its membership answer (for list previews); else null. */
  group: GroupPreview | null;
}

/** An invite for a preview, with its group as the viewer sees it (null: none known). */
export interface InvitePreviewData {
  invite: InviteDetails;
  group: GroupPreview | null;
}

const notFound = () => new RpcError(ErrorCode.NOT_FOUND, 'no such invite');
const forbidden = (message: string) => new RpcError(ErrorCode.FORBIDDEN, message);

/** Why an undeleted invite cannot be used at `now`, or null when it can. */
export function unusableReason(invite: InviteRecord, now: number): string | null {
  if (invite.expiresAt !== null && invite.expiresAt <= now) return 'invite has expired';
  if (invite.maxUses > 0 && invite.uses >= invite.maxUses) return 'invite has been used up';
  return null;
}

export interface InviteServiceDeps {
  db: Pool;
  invites: InvitesRepo;
  communities: CommunitiesRepo;
  groups: GroupDirectory;
  friends: FriendsRepo;
  limits: Pick<Limits, 'INVITE_LOOKUP_IP' | 'INVITE_LOOKUP_USER' | 'INVITE_USE_IP' | 'INVITE_USE_USER'>;
  clock: Clock;
}

export class InviteService {
  private readonly db: Pool;
  private readonly invites: InvitesRepo;
  private readonly communities: CommunitiesRepo;
  private readonly groups: GroupDirectory;
  private readonly friends: FriendsRepo;
  private readonly limits: InviteServiceDeps['limits'];
  private readonly now: Clock;

  constructor(deps: InviteServiceDeps) {
    ({ db: this.db, invites: this.invites, communities: this.communities, groups: this.groups, friends: this.friends, limits: this.limits, clock: this.now } = deps);
  }

  /**
   * The invite target a caller may invite to (create) or see the invites of
   * (list): a channel's community they are a member of, a group they take
   * part in, or themselves. 403 otherwise, also for unknown communities and
   * groups (no existence oracle for outsiders).
   */
  async authorizedTarget(ref: ChatTarget, caller: OnBehalfOf): Promise<AuthorizedTarget> {
    const callerId = caller.userId;
    switch (ref.kind) {
      case 'channel': {
        if (!(await this.communities.isMember(ref.communityId, callerId))) throw forbidden('you are not a member of that community');
        if (!(await this.communities.hasChannel(ref.communityId, ref.channelId))) {
          throw new RpcError(ErrorCode.BAD_REQUEST, 'chat_ref.channel.channel_id is not a channel of that community');
        }
        return { target: { type: InviteTargetType.COMMUNITY, id: ref.communityId }, group: null };
      }
      case 'group': {
        const { member, group } = await this.groups.participant(ref.groupId, callerId, caller);
        if (!member) throw forbidden('you are not a participant of that group');
        return { target: { type: InviteTargetType.GROUP, id: ref.groupId }, group };
      }
      case 'user':
        if (ref.userId !== callerId) throw forbidden('a user invite can only be made for yourself');
        return { target: { type: InviteTargetType.USER, id: callerId }, group: null };
    }
  }

  /** Creates an invite to `target` (already authorized) and returns its code. */
  async create(creatorId: Id, target: InviteTarget, expiresAt: number | null, maxUses: number): Promise<string> {
    if (expiresAt !== null && expiresAt <= this.now()) throw new RpcError(ErrorCode.BAD_REQUEST, 'expires_at must be in the future');
    for (let attempt = 1; ; attempt++) {
      const code = generateInviteCode();
      try {
        await this.invites.insert({ code, creatorId, target, expiresAt, maxUses });
        return code;
      } catch (err) {
        if (!(err instanceof InviteCodeTakenError) || attempt >= CODE_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * The invite behind a code for a preview: 404 unknown or deleted (or its
   * group gone), 410 expired or used up. `caller`: the signed-in viewer.
   */
  async preview(code: string, origin: RequestOrigin, caller: OnBehalfOf | undefined): Promise<InvitePreviewData> {
    await this.limits.INVITE_LOOKUP_IP.consume(origin.network);
    if (origin.userId !== null) await this.limits.INVITE_LOOKUP_USER.consume(origin.userId);
    const invite = await this.invites.details(code);
    if (!invite || invite.deletedAt) throw notFound();
    const reason = unusableReason(invite, this.now());
    if (reason) throw new RpcError(ErrorCode.GONE, reason);
    if (invite.target.type !== InviteTargetType.GROUP) return { invite, group: null };
    const { found, group } = await this.groups.preview(invite, caller?.userId ?? null, caller);
    if (!found) throw notFound();
    return { invite, group };
  }

  /**
   * Uses an invite: joins the community or group, or befriends the creator.
   * 404 unknown or deleted; 400 own user invite; 410 expired or used up; 409
   * already a member or friends (no use counted).
   */
  async use(code: string, caller: OnBehalfOf, origin: RequestOrigin): Promise<InviteTarget> {
    const { userId } = caller;
    await this.limits.INVITE_USE_IP.consume(origin.network);
    await this.limits.INVITE_USE_USER.consume(userId);
    return withTransaction(this.db, async ({ db: client }) => {
      const invite = await this.invites.lockForUse(code, client);
      if (!invite || invite.deletedAt) throw notFound();
      const { target } = invite;
      if (target.type === InviteTargetType.USER && target.id === userId) {
        throw new RpcError(ErrorCode.BAD_REQUEST, 'you cannot use your own user invite');
      }
      const reason = unusableReason(invite, this.now());
      if (reason) throw new RpcError(ErrorCode.GONE, reason);
      let added: boolean;
      let already: string;
      switch (target.type) {
        case InviteTargetType.COMMUNITY:
          added = await this.communities.addMember(target.id, userId, client);
          already = 'you are already a member of that community';
          break;
        case InviteTargetType.GROUP:
          // A backend's error or failure (503 down, 504 timeout) throws here: rolled back, no use counted.
          added = await this.groups.join({ groupId: target.id, userId, inviteCode: code, inviteCreatorId: invite.creatorId }, caller, client);
          already = 'you are already a participant of that group';
          break;
        case InviteTargetType.USER:
          added = await this.friends.add(target.id, userId, client);
          already = 'you are already friends';
          break;
      }
      // Throwing rolls the transaction back: nothing changed, no use counted.
      if (!added) throw new RpcError(ErrorCode.CONFLICT, already);
      await this.invites.countUse(code, client);
      const kind = target.type === InviteTargetType.COMMUNITY ? 'community' : target.type === InviteTargetType.GROUP ? 'group' : 'friend';
      await addEvents(client, [{ type: 'membership.created', userId, data: {
        user_id: userId, kind, target_id: target.id, invite_creator_id: invite.creatorId,
      } }]);
      return target;
    });
  }

  /** The live invites of an (already authorized) target, newest first. */
  async list(target: InviteTarget): Promise<InviteDetails[]> {
    return this.invites.liveDetailsByTarget(target, this.now(), LIST_INVITES_MAX);
  }

  /**
   * Deletes an invite: allowed to its creator and to the owner of its target
   * (for a user invite, that user; for a group, its owner as the group
   * directory says). 404 unknown or already deleted, 403 others.
   */
  async delete(code: string, caller: OnBehalfOf): Promise<void> {
    const callerId = caller.userId;
    const invite = await this.invites.details(code);
    if (!invite || invite.deletedAt) throw notFound();
    // The creator needs no other check (nor a backend that is up).
    const allowed =
      callerId === invite.creatorId ||
      (invite.target.type === InviteTargetType.GROUP
        ? await this.groups.isOwner(invite, callerId, caller)
        : callerId === (invite.community?.ownerId ?? (invite.target.type === InviteTargetType.USER ? invite.target.id : null)));
    if (!allowed) throw forbidden('only the creator of the invite or the owner of its target may delete it');
    if (!(await this.invites.markDeleted(code))) throw notFound();
  }
}
