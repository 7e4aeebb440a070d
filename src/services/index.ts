/** The services a method handler may call, built once per process by app.ts. */
import type { Config } from '../config.js';
import type { Metrics } from '../gateway/metrics.js';
import type { ClientAppsRepo } from '../store/clientAppsRepo.js';
import type { KeysRepo } from '../store/keysRepo.js';
import type { Pool } from '../store/postgres.js';
import type { UsersRepo } from '../store/usersRepo.js';
import type { AccountService } from './accounts.js';
import type { InviteService } from './invites.js';
import type { PasswordHasher } from './passwords.js';
import type { SessionService } from './sessions.js';
import type { SnowflakeGenerator } from './snowflake.js';
import type { TokenService } from './tokens.js';
import type { AccountEmailService } from './accountEmail.js';
import type { CodeService } from './codes.js';
import type { MailService } from './mail.js';
import type { RateLimits } from './rateLimits.js';
import type { AbuseLimits } from './abuseLimits.js';

export interface Services {
  config: Config;
  db: Pool;
  ids: SnowflakeGenerator;
  passwords: PasswordHasher;
  tokens: TokenService;
  keys: KeysRepo;
  users: UsersRepo;
  sessions: SessionService;
  accounts: AccountService;
  clientApps: ClientAppsRepo;
  mail: MailService;
  rateLimits: RateLimits;
  /** The abuse limits catalogue (abuseLimits.ts). */
  limits: AbuseLimits;
  codes: CodeService;
  accountEmail: AccountEmailService;
  invites: InviteService;
  /** Process metrics; e.g. `metrics.rateLimited(name)` when a limit refuses a request. */
  metrics: Metrics;
}
