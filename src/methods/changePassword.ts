/**
 * settings.changePassword{current_password, new_password, revoke_sessions} → ().
 * The current password is checked (401 when wrong, at most 5 tries per 15
 * minutes per account); an account without one (a guest) sets its first
 * with `current_password` empty. The new password must pass the length rule
 * and the strength policy (400 saying why). `revoke_sessions` signs out every
 * other session (their sockets get session_deleted and 4001); the caller's
 * stays. The owner's verified address is mailed.
 */
import { checkNewPassword, PASSWORD_MAX_CHARS } from '../services/passwords.js';
import { callerOf, originOf, type Method } from './types.js';
import * as v from './validate.js';

export const changePassword: Method<'settings_change_password'> = {
  needsSession: true,
  peopleOnly: true,
  async handle(request, ctx) {
    const currentPassword = v.boundedString(request.current_password, 'current_password', PASSWORD_MAX_CHARS * 4);
    const newPassword = checkNewPassword(v.boundedString(request.new_password, 'new_password', PASSWORD_MAX_CHARS * 4), 'new_password');
    const revokeSessions = request.revoke_sessions === true;
    const { proof } = await ctx.services.accountSecurity.changePassword(callerOf(ctx), { currentPassword, newPassword, revokeSessions }, originOf(ctx));
    return proof ? { change: { proof } } : {};
  },
};
