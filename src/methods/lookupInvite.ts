/**
 * auth.lookupInvite{code} → InvitePreview, signed in or not. 400 malformed
 * code, 404 unknown or deleted (or, for a chat backend's group, the group
 * gone), 410 expired or used up. One indexed query
 * whatever the outcome, so timing tells no more than the answer.
 */
import { inviteCode, onBehalfOfViewer } from './inviteInput.js';
import { invitePreviewView } from './inviteViews.js';
import { originOf, type Method } from './types.js';

export const lookupInvite: Method<'auth_lookup_invite'> = {
  needsSession: false,
  async handle(request, ctx) {
    const code = inviteCode(request.code);
    const { invite, group } = await ctx.services.invites.preview(code, originOf(ctx), onBehalfOfViewer(ctx));
    return { result: { invite_preview: invitePreviewView(invite, ctx.conn.session?.userId ?? null, group) } };
  },
};
