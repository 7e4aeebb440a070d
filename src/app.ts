/**
 * Builds one gateway process from its configuration: stores, services, the
 * method table and the gateway, wired in the one direction the layers allow
 * (gateway → methods → services → stores). `startApp` is what main.ts runs
 * and what the tests start in process.
 */
import type { Config } from './config.js';
import type { AuditOrigin } from './domain/audit.js';
import { NO_DEVICE, type DeviceInfo, type Geo } from './domain/device.js';
import { isSnowflake } from './domain/ids.js';
import { Dispatcher } from './gateway/dispatcher.js';
import { createConsoleRoutes } from './gateway/consoleRoutes.js';
import { Gateway } from './gateway/gateway.js';
import { MetricsListener } from './gateway/metricsListener.js';
import type { Logger } from './logger.js';
import { methods } from './methods/index.js';
import { Metrics } from './metrics.js';
import { AccountDeletionService } from './services/accountDeletion.js';
import { AccountEmailService } from './services/accountEmail.js';
import { AccountService } from './services/accounts.js';
import { AccountSecurityService } from './services/accountSecurity.js';
import { AuditLog } from './services/audit.js';
import { EmailCodeService } from './services/emailCodes.js';
import { Entrypoints } from './services/entrypoints.js';
import type { Services } from './services/index.js';
import { InviteService } from './services/invites.js';
import { defineLimits } from './services/limits.js';
import { MailService, mailOutboxDir } from './services/mail.js';
import { MailOrigins } from './services/mailOrigin.js';
import { PasswordHasher } from './services/passwords.js';
import { PasswordPolicy } from './services/passwordPolicy.js';
import { RateLimitBackend } from './services/rateLimit.js';
import { RecentSignIn } from './services/recentSignIn.js';
import { RevocationBus } from './services/revocationBus.js';
import { SecretBox } from './services/secretBox.js';
import { SessionService } from './services/sessions.js';
import { SnowflakeGenerator } from './services/snowflake.js';
import { TokenService } from './services/tokens.js';
import { TotpService } from './services/totp.js';
import { AccountDeletionRepo } from './store/accountDeletionRepo.js';
import { AuditRepo } from './store/auditRepo.js';
import { Topic, type Broker } from './store/broker.js';
import { MemoryBroker } from './store/brokerMemory.js';
import { ClientAppsRepo } from './store/clientAppsRepo.js';
import { CommunitiesRepo } from './store/communitiesRepo.js';
import { EmailCodesRepo } from './store/emailCodesRepo.js';
import { FriendsRepo } from './store/friendsRepo.js';
import { GroupsRepo } from './store/groupsRepo.js';
import { InvitesRepo } from './store/invitesRepo.js';
import { KeysRepo } from './store/keysRepo.js';
import { KnownDevicesRepo } from './store/knownDevicesRepo.js';
import { liveStateTtls, type LiveState } from './store/liveState.js';
import { MemoryLiveState } from './store/liveStateMemory.js';
import { RedisLiveState } from './store/liveStateRedis.js';
import { createPool, isMigrated, migrate, type Pool } from './store/postgres.js';
import { PostgresListener } from './store/postgresListener.js';
import { connectRedis, redisBroker, type RedisClients } from './store/redisClients.js';
import { SessionsRepo } from './store/sessionsRepo.js';
import { loadTotpKeys } from './store/totpKeyFile.js';
import { TotpRepo } from './store/totpRepo.js';
import { UsersRepo } from './store/usersRepo.js';
import { WorkerLease } from './store/workerLease.js';

/** The repositories of one process, for the operator's tools and the tests (methods never see them). */
export interface Repos {
  users: UsersRepo;
  sessions: SessionsRepo;
  emailCodes: EmailCodesRepo;
  friends: FriendsRepo;
}

export interface App {
  port: number;
  /** Port of the /metrics listener; undefined without METRICS_PORT. */
  metricsPort: number | undefined;
  config: Config;
  services: Services;
  gateway: Gateway;
  metrics: Metrics;
  /** The Postgres pool (the tests inspect rows with it). */
  db: Pool;
  /** The Redis connections, when live state is in Redis (the tests watch the commands). */
  redis: RedisClients | undefined;
  ids: SnowflakeGenerator;
  repos: Repos;
  /** Graceful stop: drain sockets, flush activity, close pools. */
  close(): Promise<void>;
}

export interface AppOptions {
  log: Logger;
  /** Postgres URL to use (the embedded server's in embedded mode). */
  databaseUrl: string;
  /** Default: a new registry of this process (aggregated across cluster workers when in one). */
  metrics?: Metrics;
}

/** Postgres channel on which ended sessions are announced: a user removed (migration 0007), any revocation (0010). */
const SESSIONS_ENDED_CHANNEL = 'osmium_sessions_ended';

/** Key ring re-read period when no broker can announce a rotation (no Redis). */
const KEY_RELOAD_MS = 60_000;

export async function startApp(config: Config, options: AppOptions): Promise<App> {
  const { log, databaseUrl } = options;
  // Migrations (an advisory lock) and LISTEN need a session of their own: not through a transaction pooler.
  const directUrl = config.DATABASE_DIRECT_URL ?? databaseUrl;
  const metrics = options.metrics ?? new Metrics();
  const pool = createPool(databaseUrl, log, { onError: metrics.postgresError, preparedStatements: config.DATABASE_PREPARED_STATEMENTS === 'on' });
  // Without a pooler in between, the migrations borrow the pool's first connection, which the reads below then reuse.
  await migrate(directUrl === databaseUrl ? pool : directUrl, log).catch(async (err: unknown) => {
    await pool.end().catch(() => undefined);
    throw err;
  });
  // Sessions Postgres says ended (a user removed by the purge or by hand, any revocation) end on every instance.
  // LISTEN opens its connection while the reads below run. Until the sessions and the gateway exist, a
  // notification does nothing: no socket is bound here yet, and the running instances mark those sessions ended.
  const listener = new PostgresListener(directUrl, log);
  let endSessions = (_ids: string[]): void => undefined;
  let recheckSockets = (): void => undefined;
  listener.on(SESSIONS_ENDED_CHANNEL, (payload) => endSessions(payload.split(',').filter(isSnowflake)));
  listener.onReconnect(() => recheckSockets());
  const listening = listener.start();
  listening.catch(() => undefined); // awaited before the gateway listens: a failure fails the start there

  const idleMs = config.SESSION_IDLE_DAYS * 86_400_000;
  let live: LiveState;
  let broker: Broker;
  let redis: RedisClients | undefined;
  if (config.redis) {
    redis = connectRedis(config.redis, log, metrics.redisError);
    live = new RedisLiveState(redis.commands, config.REDIS_PREFIX, liveStateTtls(idleMs));
    broker = redisBroker(redis, config.REDIS_PREFIX);
  } else {
    live = new MemoryLiveState(liveStateTtls(idleMs));
    broker = new MemoryBroker();
  }

  const tokens = new TokenService(new KeysRepo(pool), log);
  const repos: Repos = {
    users: new UsersRepo(pool),
    sessions: new SessionsRepo(pool),
    emailCodes: new EmailCodesRepo(pool),
    friends: new FriendsRepo(pool),
  };
  // The worker id, the key ring, the cost most stored password hashes have: one after another, on one open
  // connection (each needs a millisecond; reading them at once opened a connection each, ~10 ms of a start).
  const lease = config.WORKER_ID === undefined ? await WorkerLease.acquire(pool, log) : undefined;
  await tokens.start();
  const commonCost = await repos.users.commonPasswordCost();
  const workerId = config.WORKER_ID ?? lease!.workerId;
  const ids = new SnowflakeGenerator(workerId);
  await broker.subscribe(Topic.KEYS_CHANGED, () => void tokens.reload().catch((err) => log.warn({ err }, 'key reload failed')));
  // Without Redis no rotation is announced by the admin CLI: re-read the key ring now and then.
  const keyReload = config.redis ? undefined : setInterval(() => void tokens.reload().catch(() => undefined), KEY_RELOAD_MS);
  keyReload?.unref();

  const passwords = new PasswordHasher(config.BCRYPT_COST, config.BCRYPT_CONCURRENCY, {
    maxQueued: config.BCRYPT_MAX_QUEUED,
    // Per client IP: an abuse bound like the rate limits (lifted with them); the total bound always holds.
    maxQueuedPerSource: config.RATE_LIMITS === 'on' ? config.BCRYPT_MAX_QUEUED_PER_IP : undefined,
  });
  // Unknown emails are compared against a hash of the cost most accounts have (not necessarily BCRYPT_COST).
  passwords.useDummyCost(commonCost ?? config.BCRYPT_COST);
  log.info({ dummyHashCost: passwords.dummyCost, bcryptCost: config.BCRYPT_COST }, 'password hashing ready');
  metrics.trackHashing(() => passwords.stats);
  // One registry (and one cache of it) for sessions' app names and mail origins.
  const clientApps = new ClientAppsRepo(pool);
  const sessions = new SessionService(
    repos.sessions, clientApps, live, new RevocationBus(broker, log), tokens, ids,
    { idleMs, persistGranularityMs: config.ACTIVITY_PERSIST_GRANULARITY * 1000 }, log,
  );
  await sessions.start();
  const limits = defineLimits(new RateLimitBackend({ redis: redis?.commands, prefix: config.REDIS_PREFIX, enabled: config.RATE_LIMITS === 'on', onRefused: metrics.rateLimited }), config);
  if (config.RATE_LIMITS === 'off') {
    log.warn('RATE_LIMITS=off: EVERY RATE LIMIT AND PER-IP CAP IS DISABLED. Use this only for load tests on a trusted network.');
  }
  const accounts = new AccountService(pool, repos.users, sessions, passwords, ids, log, limits);
  const mail = new MailService({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM, outboxDir: mailOutboxDir(config) }, log);
  log.info({ mail: mail.destination }, 'mail destination');
  const audit = new AuditLog(new AuditRepo(pool), ids, config.AUDIT_RETENTION_DAYS, log);
  const policy = new PasswordPolicy(config.PASSWORD_MIN_SCORE);
  const emailCodes = new EmailCodeService(repos.emailCodes);
  const accountEmail = new AccountEmailService(pool, emailCodes, repos.users, sessions, passwords, mail, limits, log, policy, audit);

  // Account security (issue 14): TOTP, password and email changes, deletion, alerts, audit.
  const totpKeys = await loadTotpKeys(config);
  if (totpKeys) log.info({ keys: totpKeys.keys.length, from: totpKeys.source }, 'TOTP secrets encrypted at rest');
  else log.warn('TOTP_ENCRYPTION_KEY is not set: two-factor authentication is unavailable (settings.setupTotp answers 503)');
  const totp = new TotpService(
    pool, new TotpRepo(pool), totpKeys ? new SecretBox(totpKeys.keys) : null, config.TOTP_ISSUER, limits, audit, log,
  );
  const recentSignIn = new RecentSignIn(sessions, config.REAUTH_WINDOW_MINUTES);
  const mailOrigins = new MailOrigins(clientApps);
  const accountSecurity = new AccountSecurityService({
    db: pool, users: repos.users, sessions, passwords, policy, totp, recentSignIn, codes: emailCodes,
    knownDevices: new KnownDevicesRepo(pool), audit, mail, mailOrigins, limits, log,
  });
  const accountDeletion = new AccountDeletionService({
    db: pool, repo: new AccountDeletionRepo(pool), users: repos.users, sessions, recentSignIn, audit, mail, mailOrigins,
    graceDays: config.ACCOUNT_DELETE_GRACE_DAYS, log,
  });
  accountDeletion.start();
  const originOf = (from: { device: DeviceInfo; geo: Geo; ip: string }, sessionId: string | null = null): AuditOrigin => ({
    sessionId, ip: from.ip, device: from.device, geo: from.geo,
  });
  accounts.hooks.onSignedUp = async (user, session) => {
    await accountEmail.onSignedUp(user);
    await accountSecurity.signedUp(user, session);
  };
  accounts.hooks.checkNewPassword = (password, owner) => policy.check(password, owner, 'password');
  accounts.hooks.checkSecondFactor = (user, code, from) => accountSecurity.checkSecondFactor(user, code, from.ip, originOf(from));
  accounts.hooks.onSignInFailed = (user, from) => accountSecurity.signInFailed(user, originOf(from));
  accounts.hooks.onSignedIn = (user, session, from) => accountSecurity.signedIn(user, session, originOf(from, session.id));
  const invites = new InviteService(
    pool, new InvitesRepo(pool), new CommunitiesRepo(pool), new GroupsRepo(pool), repos.friends, limits,
  );
  const services: Services = {
    accounts, sessions, accountEmail, invites, entrypoints: new Entrypoints(config.entrypoints, config.PORT), accountSecurity, accountDeletion,
  };

  const readiness = {
    async check() {
      try {
        await live.ping();
        return await isMigrated(pool);
      } catch {
        return false;
      }
    },
  };
  const dispatcher = new Dispatcher(methods, services, log, metrics.observeRequest);
  // The console's outbox mail view: the email of a live token's user (single-instance development only).
  const consoleAccounts = {
    async emailOfToken(token: string) {
      const authorized = await sessions.authorize(token, NO_DEVICE);
      return authorized ? ((await repos.users.byId(authorized.session.userId))?.email ?? null) : null;
    },
  };
  const gateway = new Gateway(config, sessions, dispatcher, readiness, log, metrics, createConsoleRoutes(config, consoleAccounts, log));
  endSessions = (ids) => {
    sessions.ended(ids).catch((err) => log.warn({ err }, 'could not end the sessions of a removed user'));
  };
  recheckSockets = () => void gateway.recheckBoundSessions();
  await listening;
  const metricsListener = config.METRICS_PORT === undefined ? undefined : new MetricsListener(metrics.render, log);
  const metricsPort = await metricsListener?.listen(config.METRICS_PORT!, config.METRICS_HOST);
  const port = await gateway.listen();
  log.info({ port, metricsPort, workerId, live: redis ? `redis ${redis.kind}` : 'memory' }, 'gateway listening');
  // The password checker's thread builds its dictionaries now, beside the event loop, not at the first sign-up.
  policy.start();

  return {
    port,
    metricsPort,
    config,
    services,
    gateway,
    metrics,
    db: pool,
    redis,
    ids,
    repos,
    async close() {
      clearInterval(keyReload);
      await gateway.close(config.SHUTDOWN_GRACE_MS);
      await accountDeletion.stop();
      await listener.close();
      await metricsListener?.close();
      await sessions.stop();
      await accountEmail.drain();
      await mail.close();
      await lease?.release();
      await broker.close();
      await live.close();
      await pool.end();
    },
  };
}
