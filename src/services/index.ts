/**
 * The services a method handler may call, built once per process by app.ts.
 * Services only: handlers never see a pool, a repository or a socket.
 */
import type { AccountEmailService } from './accountEmail.js';
import type { AccountService } from './accounts.js';
import type { Entrypoints } from './entrypoints.js';
import type { InviteService } from './invites.js';
import type { SessionService } from './sessions.js';

export interface Services {
  accounts: AccountService;
  sessions: SessionService;
  accountEmail: AccountEmailService;
  invites: InviteService;
  entrypoints: Entrypoints;
}
