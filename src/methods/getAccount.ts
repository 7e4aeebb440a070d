/** settings.getAccount{} → Account{email?, confirmed, has_password, totp_enabled, pending_delete}: the caller's account. */
import { sessionOf, type Method } from './types.js';
import { accountView } from './views.js';

export const getAccount: Method<'settings_get_account'> = {
  needsSession: true,
  peopleOnly: true,
  async handle(_request, ctx) {
    return { result: accountView(await ctx.services.accountSecurity.account(sessionOf(ctx).userId)) };
  },
};
