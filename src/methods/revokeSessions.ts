/**
 * auth.revokeSessions{session_ids} → (): ends the listed sessions of the caller.
 * Ids that are not the caller's are ignored without a word (no existence
 * oracle). The caller's own session may be listed: that is signing out.
 */
import { callerOf, DONE, originOf, type Method } from './types.js';
import * as v from './validate.js';

const REVOKE_MAX_IDS = 100;

export const revokeSessions: Method<'auth_revoke_sessions'> = {
  needsSession: true,
  async handle(request, ctx) {
    const ids = v.list(request.session_ids, 'session_ids', 1, REVOKE_MAX_IDS).map((id, i) => v.snowflake(id, `session_ids[${i}]`));
    await ctx.services.accountSecurity.revokeSessions(callerOf(ctx), [...new Set(ids)], originOf(ctx));
    return DONE;
  },
};
