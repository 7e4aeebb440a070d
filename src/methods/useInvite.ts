/**
 * auth.useInvite{code} → (): joins the community or group, or befriends the
 * creator. 400 malformed code or own user invite, 404 unknown or deleted,
 * 409 already a member / friends (no use counted), 410 expired or used up.
 * A chat backend's group (docs/backend.md) is joined through its group_join
 * hook: its error is relayed, and 503/504 when it is down or slow, with no
 * use counted.
 */
import { inviteCode, onBehalfOf } from './inviteInput.js';
import { DONE, originOf, type Method } from './types.js';

export const useInvite: Method<'auth_use_invite'> = {
  needsSession: true,
  async handle(request, ctx) {
    const code = inviteCode(request.code);
    await ctx.services.invites.use(code, onBehalfOf(ctx), originOf(ctx));
    return DONE;
  },
};
