/**
 * The services a method handler may call, built once per process by app.ts.
 * Services only: handlers never see a pool, a repository or a socket.
 */
import type { Clock } from '../domain/clock.js';
import type { AccountDeletionService } from './accountDeletion.js';
import type { AccountEmailService } from './accountEmail.js';
import type { AccountService } from './accounts.js';
import type { AccountSecurityService } from './accountSecurity.js';
import type { Entrypoints } from './entrypoints.js';
import type { InviteService } from './invites.js';
import type { Revocations } from './revocations.js';
import type { SessionCache } from './sessionCache.js';
import type { SessionService } from './sessions.js';

export interface Services {
  accounts: AccountService;
  sessions: SessionService;
  sessionCache: SessionCache;
  revocations: Revocations;
  accountEmail: AccountEmailService;
  invites: InviteService;
  entrypoints: Entrypoints;
  accountSecurity: AccountSecurityService;
  accountDeletion: AccountDeletionService;
  /** The time as every service reads it (a method checking a request's timestamps uses the same). */
  clock: Clock;
}
