/**
 * settings.deleteAccount{cancel?} → ().
 * - {}: marks the account pending deletion (needs a recent sign-in: 403
 *   `recent sign-in required`), signs out every other session and mails the
 *   owner; the account is purged after ACCOUNT_DELETE_GRACE_DAYS. Asking again
 *   keeps the first date.
 * - {cancel: true}: cancels a pending deletion (409 when none is pending).
 */
import { callerOf, DONE, originOf, type Method } from './types.js';

export const deleteAccount: Method<'settings_delete_account'> = {
  needsSession: true,
  peopleOnly: true,
  async handle(request, ctx) {
    if (request.cancel === true) await ctx.services.accountDeletion.cancel(callerOf(ctx), originOf(ctx));
    else await ctx.services.accountDeletion.request(callerOf(ctx), originOf(ctx));
    return DONE;
  },
};
