/**
 * The method table: ClientMessage oneof member → handler. A request whose
 * member is not listed here is answered 501 by the dispatcher.
 */
import type { MethodName } from '../protocol/codec.js';
import { authorize } from './authorize.js';
import { changeEmail } from './changeEmail.js';
import { changePassword } from './changePassword.js';
import { createChatInvite } from './createChatInvite.js';
import { deleteAccount } from './deleteAccount.js';
import { deleteChatInvite } from './deleteChatInvite.js';
import { getAccount } from './getAccount.js';
import { getSessions } from './getSessions.js';
import { initialize } from './initialize.js';
import { listChatInvites } from './listChatInvites.js';
import { lookupInvite } from './lookupInvite.js';
import { revokeSessions } from './revokeSessions.js';
import { setupTotp } from './setupTotp.js';
import { signIn } from './signIn.js';
import { signUp } from './signUp.js';
import { resendEmailVerification } from './resendEmailVerification.js';
import { resetPassword } from './resetPassword.js';
import { verifyEmail } from './verifyEmail.js';
import type { Method } from './types.js';
import { useInvite } from './useInvite.js';

export type MethodTable = { [K in MethodName]?: Method<K> };

export const methods: MethodTable = {
  core_initialize: initialize,
  auth_sign_up: signUp,
  auth_sign_in: signIn,
  auth_authorize: authorize,
  auth_get_sessions: getSessions,
  auth_revoke_sessions: revokeSessions,
  auth_verify_email: verifyEmail,
  auth_resend_email_verification: resendEmailVerification,
  auth_reset_password: resetPassword,
  chats_create_chat_invite: createChatInvite,
  auth_lookup_invite: lookupInvite,
  auth_use_invite: useInvite,
  chats_list_chat_invites: listChatInvites,
  chats_delete_chat_invite: deleteChatInvite,
  settings_get_account: getAccount,
  settings_change_password: changePassword,
  settings_change_email: changeEmail,
  settings_setup_totp: setupTotp,
  settings_delete_account: deleteAccount,
};
