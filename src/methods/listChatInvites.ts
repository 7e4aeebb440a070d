/**
 * chats.listChatInvites{chat_ref} → InviteList: the live invites (not deleted,
 * expired or used up) of a community (named by one of its channels), a group,
 * or the caller, newest first, at most LIST_INVITES_MAX. Only members,
 * participants or the user themselves may list (403 otherwise).
 */
import { chatTarget, onBehalfOf } from './inviteInput.js';
import { invitePreviewView } from './inviteViews.js';
import { sessionOf, type Method } from './types.js';

export const listChatInvites: Method<'chats_list_chat_invites'> = {
  needsSession: true,
  async handle(request, ctx) {
    const { userId } = sessionOf(ctx);
    const ref = chatTarget(request.chat_ref, userId);
    const { target, group } = await ctx.services.invites.authorizedTarget(ref, onBehalfOf(ctx));
    const invites = await ctx.services.invites.list(target);
    return { result: { invite_list: { invites: invites.map((invite) => invitePreviewView(invite, userId, group)) } } };
  },
};
