/** Conversions from records to protocol messages. */
import type { AccountState, TotpState } from '../domain/account.js';
import type { BoundSession } from '../domain/session.js';
import type { UserProfile } from '../domain/user.js';
import type { osmium } from '../gen/osmium.js';
import { idToWire, proto } from '../protocol/codec.js';
import type { ResultBody } from './types.js';

/** A types.User (an instance: cheaper to encode than a plain object, see protocol/codec.ts). */
export function userView(user: UserProfile): osmium.client.types.User {
  return new proto.types.User({ id: idToWire(user.id), name: user.name, bot: user.bot });
}

/** The Authorization result of sign-up, sign-in and authorize. */
export function authorizationView(token: string, user: UserProfile, session: BoundSession): ResultBody {
  return { authorization: new proto.auth.Authorization({ token, user: userView(user), session_id: idToWire(session.sessionId) }) };
}

/** settings.Account; `email` is absent for an account without one. */
export function accountView(account: AccountState): ResultBody {
  return {
    account: {
      ...(account.email !== null ? { email: account.email } : {}),
      confirmed: account.confirmed,
      has_password: account.hasPassword,
      totp_enabled: account.totpEnabled,
      pending_delete: account.pendingDelete,
    },
  };
}

/** settings.Totp. */
export function totpView(state: TotpState): ResultBody {
  return {
    totp: {
      enabled: state.enabled,
      ...(state.url !== undefined ? { url: state.url } : {}),
      backup_codes: state.backupCodes.map((c) => ({ code: c.code, used: c.used })),
    },
  };
}
