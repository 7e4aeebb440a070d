/**
 * auth.lookupInvite{code} → InvitePreview, signed in or not. 400 malformed
 * code, 404 unknown or deleted, 410 expired or used up. One indexed query
 * whatever the outcome, so timing tells no more than the answer.
 */
import { inviteCode } from './inviteInput.js';
import { invitePreviewView } from './inviteViews.js';
import type { Method } from './types.js';

export const lookupInvite: Method<'auth_lookup_invite'> = {
  needsSession: false,
  async handle(request, ctx) {
    const code = inviteCode(request.code);
    const { limits } = ctx.services;
    const message = (s: number) => `too many invite lookups; retry after ${s} seconds`;
    await limits.INVITE_LOOKUP_IP.consume(ctx.conn.ip, message);
    if (ctx.conn.session) await limits.INVITE_LOOKUP_USER.consume(ctx.conn.session.userId, message);
    const invite = await ctx.services.invites.preview(code);
    return { invite_preview: invitePreviewView(invite, ctx.conn.session?.userId ?? null) };
  },
};
