/** Validation of the invite methods' inputs: codes and chat refs. */
import type { osmium } from '../gen/osmium.js';
import type { Id } from '../domain/ids.js';
import { badRequest } from '../protocol/errorCodes.js';
import { INVITE_CODE_LENGTH, isInviteCode } from '../services/inviteCodes.js';
import type { OnBehalfOf } from '../services/groupDirectory.js';
import type { ChatTarget } from '../services/invites.js';
import { sessionOf, type MethodContext } from './types.js';
import * as v from './validate.js';

/** The signed-in request a chat backend's group hook runs for (its BackendRequest.caller). */
export function onBehalfOf(ctx: MethodContext): OnBehalfOf {
  const { userId, sessionId, bot } = sessionOf(ctx);
  return { userId, sessionId, bot, device: ctx.conn.device, ip: ctx.conn.ip };
}

/** As onBehalfOf, for a method that also serves sockets with no session (undefined then). */
export function onBehalfOfViewer(ctx: MethodContext): OnBehalfOf | undefined {
  return ctx.conn.session ? onBehalfOf(ctx) : undefined;
}

/**
 * An invite code: exactly INVITE_CODE_LENGTH characters of [A-Za-z0-9_-].
 * Anything else is 400 before any database work (it cannot be a code).
 */
export function inviteCode(value: string | null | undefined, field = 'code'): string {
  const code = value ?? '';
  if (!code) throw badRequest(`${field} is required`);
  if (!isInviteCode(code)) throw badRequest(`${field} must be ${INVITE_CODE_LENGTH} characters of A-Z, a-z, 0-9, _ and -`);
  return code;
}

/** What a ChatRef names; `self` and `user` both become a user target (the service checks it is the caller). */
export function chatTarget(ref: osmium.client.refs.ChatRef.$Properties | null | undefined, callerId: Id, field = 'chat_ref'): ChatTarget {
  if (!ref) throw badRequest(`${field} is required`);
  switch (ref.ref) {
    case 'channel':
      return {
        kind: 'channel',
        communityId: v.snowflake(ref.channel?.community_id, `${field}.channel.community_id`),
        channelId: v.snowflake(ref.channel?.channel_id, `${field}.channel.channel_id`),
      };
    case 'group':
      return { kind: 'group', groupId: v.snowflake(ref.group?.group_id, `${field}.group.group_id`) };
    case 'user':
      return { kind: 'user', userId: v.snowflake(ref.user?.user_id, `${field}.user.user_id`) };
    case 'self':
      return { kind: 'user', userId: callerId };
    default:
      throw badRequest(`${field} must name a channel, a group, self or yourself as user`);
  }
}
