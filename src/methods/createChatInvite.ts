/**
 * chats.createChatInvite{chat_ref, expires_at?, max_uses?} → CreatedInvite{code}.
 * channel → COMMUNITY invite (caller a member, channel of that community);
 * group → GROUP invite (caller a participant: the chat backend's group hook
 * says so when it owns groups, docs/backend.md); self, or user = caller → USER
 * invite (to befriend the caller). expires_at (Unix ms) must be in the future,
 * 0 or absent = never; max_uses 0 or absent = unlimited.
 */
import { idFromWire } from '../protocol/codec.js';
import { badRequest } from '../protocol/errorCodes.js';
import { chatTarget, onBehalfOf } from './inviteInput.js';
import { sessionOf, type Method } from './types.js';

/** Largest max_uses accepted (fits the integer column with room; larger is as good as unlimited). */
const MAX_USES_LIMIT = 1_000_000;
/** Furthest expiry accepted: ten years ahead. */
const MAX_EXPIRY_AHEAD_MS = 10 * 365 * 86_400_000;

export const createChatInvite: Method<'chats_create_chat_invite'> = {
  needsSession: true,
  async handle(request, ctx) {
    const { userId } = sessionOf(ctx);
    const ref = chatTarget(request.chat_ref, userId);
    const maxUses = request.max_uses ?? 0;
    if (maxUses > MAX_USES_LIMIT) throw badRequest(`max_uses must be at most ${MAX_USES_LIMIT} (0 = unlimited)`);
    const expiresRaw = BigInt(idFromWire(request.expires_at));
    let expiresAt: number | null = null;
    if (expiresRaw !== 0n) {
      const now = ctx.services.clock();
      if (expiresRaw <= BigInt(now)) throw badRequest('expires_at must be in the future (Unix ms)');
      if (expiresRaw > BigInt(now + MAX_EXPIRY_AHEAD_MS)) throw badRequest('expires_at must be at most ten years ahead');
      expiresAt = Number(expiresRaw);
    }
    const { target } = await ctx.services.invites.authorizedTarget(ref, onBehalfOf(ctx));
    const code = await ctx.services.invites.create(userId, target, expiresAt, maxUses);
    return { result: { created_invite: { code } } };
  },
};
