/**
 * chats.deleteChatInvite{code} → (): the invite's creator or the owner of its
 * target may delete it (403 others); it stops working at once (the next
 * lookup or use is 404). 404 unknown or already deleted.
 */
import { inviteCode, onBehalfOf } from './inviteInput.js';
import { DONE, type Method } from './types.js';

export const deleteChatInvite: Method<'chats_delete_chat_invite'> = {
  needsSession: true,
  async handle(request, ctx) {
    const code = inviteCode(request.code);
    await ctx.services.invites.delete(code, onBehalfOf(ctx));
    return DONE;
  },
};
