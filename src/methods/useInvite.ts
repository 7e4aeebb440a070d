/**
 * auth.useInvite{code} → (): joins the community or group, or befriends the
 * creator. 400 malformed code or own user invite, 404 unknown or deleted,
 * 409 already a member / friends (no use counted), 410 expired or used up.
 */
import { inviteCode } from './inviteInput.js';
import { DONE, originOf, sessionOf, type Method } from './types.js';

export const useInvite: Method<'auth_use_invite'> = {
  needsSession: true,
  async handle(request, ctx) {
    const code = inviteCode(request.code);
    const { userId } = sessionOf(ctx);
    await ctx.services.invites.use(code, userId, originOf(ctx));
    return DONE;
  },
};
