/**
 * Builds one gateway process from its configuration, in three steps that
 * each fit on a screen and run in the one direction the layers allow:
 * `buildStores` (Postgres, migrations, Redis or memory, the repositories),
 * `buildServices` (every service with its collaborators, all given at
 * construction), `buildGateway` (the method table behind the dispatcher, the
 * HTTP and WebSocket server). `startApp` runs them, starts what has timers
 * and listens. It is what main.ts runs and what the tests start in process.
 */
import cluster from 'node:cluster';
import type { Config } from './config.js';
import { systemClock, type Clock } from './domain/clock.js';
import { NO_DEVICE } from './domain/device.js';
import { isSnowflake } from './domain/ids.js';
import { ApiListener } from './gateway/apiListener.js';
import { registerEvents } from './gateway/api/events.js';
import { registerIntrospection } from './gateway/api/introspection.js';
import { registerPushRoutes } from './gateway/api/push.js';
import { BackendRoutes } from './gateway/backendRoute.js';
import { createConsoleRoutes } from './gateway/consoleRoutes.js';
import { Dispatcher } from './gateway/dispatcher.js';
import { Gateway } from './gateway/gateway.js';
import { MetricsListener } from './gateway/metricsListener.js';
import { UserSockets } from './gateway/userSockets.js';
import type { Logger } from './logger.js';
import { methods } from './methods/index.js';
import { Metrics } from './metrics.js';
import { AccountDeletionService } from './services/accountDeletion.js';
import { AccountEmailService } from './services/accountEmail.js';
import { AccountService } from './services/accounts.js';
import { AccountSecurityService } from './services/accountSecurity.js';
import { AuditLog } from './services/audit.js';
import { EmailCodeService } from './services/emailCodes.js';
import { EventFeed } from './services/eventFeed.js';
import { Entrypoints } from './services/entrypoints.js';
import type { Services } from './services/index.js';
import { BackendGroupDirectory, LocalGroupDirectory } from './services/groupDirectory.js';
import { InviteService } from './services/invites.js';
import { defineLimits } from './services/limits.js';
import { LiveStateHealth } from './services/liveStateHealth.js';
import { MailService, mailOutboxDir } from './services/mail.js';
import { MailOrigins } from './services/mailOrigin.js';
import { PasswordHasher } from './services/passwords.js';
import { PasswordPolicy } from './services/passwordPolicy.js';
import { RateLimitBackend } from './services/rateLimit.js';
import { RecentSignIn } from './services/recentSignIn.js';
import { RevocationBus } from './services/revocationBus.js';
import { Revocations } from './services/revocations.js';
import { SecretBox } from './services/secretBox.js';
import { SessionActivity } from './services/sessionActivity.js';
import { SessionCache } from './services/sessionCache.js';
import { SessionService } from './services/sessions.js';
import { SnowflakeGenerator } from './services/snowflake.js';
import { TokenService } from './services/tokens.js';
import { TotpService } from './services/totp.js';
import { EventDispatcher } from './services/webhooks.js';
import { AccountDeletionRepo } from './store/accountDeletionRepo.js';
import { AdvisoryLock } from './store/advisoryLock.js';
import { AuditRepo } from './store/auditRepo.js';
import { Topic, type Broker } from './store/broker.js';
import { MemoryBroker } from './store/brokerMemory.js';
import { ClientAppsRepo } from './store/clientAppsRepo.js';
import { CommunitiesRepo } from './store/communitiesRepo.js';
import { EmailCodesRepo } from './store/emailCodesRepo.js';
import { EventsRepo } from './store/eventsRepo.js';
import { FriendsRepo } from './store/friendsRepo.js';
import { GroupsRepo } from './store/groupsRepo.js';
import { InvitesRepo } from './store/invitesRepo.js';
import { KeysRepo } from './store/keysRepo.js';
import { KnownDevicesRepo } from './store/knownDevicesRepo.js';
import { liveStateTtls, type LiveState, type LiveStateTtls } from './store/liveState.js';
import { MemoryLiveState } from './store/liveStateMemory.js';
import { RedisLiveState } from './store/liveStateRedis.js';
import { createPool, isMigrated, migrate, type Pool } from './store/postgres.js';
import { PostgresListener } from './store/postgresListener.js';
import { MemoryPresence, RedisPresence } from './store/presence.js';
import { connectRedis, redisBroker, type RedisClients } from './store/redisClients.js';
import { SessionsRepo } from './store/sessionsRepo.js';
import { loadTotpKeys } from './store/totpKeyFile.js';
import { TotpRepo } from './store/totpRepo.js';
import { UsersRepo } from './store/usersRepo.js';
import { WorkerLease } from './store/workerLease.js';

/** Postgres channel on which ended sessions are announced: a user removed (migration 0007), any revocation (0010). */
const SESSIONS_ENDED_CHANNEL = 'osmium_sessions_ended';
/** Key ring re-read period when no broker can announce a rotation (no Redis). */
const KEY_RELOAD_MS = 60_000;
/** Advisory lock key of the event dispatcher (one at a time across instances): "osmevent" in ASCII. */
const EVENT_DISPATCHER_LOCK = '8029764030813154932';

/** The repositories of one process (services get them; methods never do; the tests and tools read some). */
export interface Repos {
  users: UsersRepo;
  sessions: SessionsRepo;
  emailCodes: EmailCodesRepo;
  friends: FriendsRepo;
  clientApps: ClientAppsRepo;
  keys: KeysRepo;
  totp: TotpRepo;
  audit: AuditRepo;
  knownDevices: KnownDevicesRepo;
  accountDeletion: AccountDeletionRepo;
  invites: InvitesRepo;
  communities: CommunitiesRepo;
  groups: GroupsRepo;
  events: EventsRepo;
}

export interface Stores {
  pool: Pool;
  /** Postgres for what needs a session of its own (migrations, LISTEN): DATABASE_DIRECT_URL or the pool's URL. */
  listener: PostgresListener;
  /** That URL (the event dispatcher's advisory lock needs a session of its own too). */
  directUrl: string;
  live: LiveState;
  ttls: LiveStateTtls;
  broker: Broker;
  /** The Redis connections, when live state is in Redis (the tests watch the commands). */
  redis: RedisClients | undefined;
  repos: Repos;
}

export interface App {
  port: number;
  /** Port of the /metrics listener; undefined without METRICS_PORT. */
  metricsPort: number | undefined;
  /** Port of the internal API; undefined without API_PORT. */
  apiPort: number | undefined;
  config: Config;
  services: Services;
  gateway: Gateway;
  metrics: Metrics;
  /** The Postgres pool (the tests inspect rows with it). */
  db: Pool;
  redis: RedisClients | undefined;
  ids: SnowflakeGenerator;
  repos: Repos;
  /** The account events' dispatcher (`dispatching` while this instance holds its lock). */
  events: EventDispatcher;
  /** Graceful stop: drain sockets, flush activity, close pools. */
  close(): Promise<void>;
}

export interface AppOptions {
  log: Logger;
  /** Postgres URL to use (the embedded server's in embedded mode). */
  databaseUrl: string;
  /** Default: a new registry of this process (aggregated across cluster workers when in one). */
  metrics?: Metrics;
  /** Default: the system clock (tests move their own). */
  clock?: Clock;
}

/** Step 1: Postgres (migrated), its LISTEN connection (not started yet), the live state and broker, the repositories. */
export async function buildStores(config: Config, options: AppOptions & { metrics: Metrics }): Promise<Stores> {
  const { log, databaseUrl, metrics } = options;
  // Migrations (an advisory lock) and LISTEN need a session of their own: not through a transaction pooler.
  const directUrl = config.DATABASE_DIRECT_URL ?? databaseUrl;
  const pool = createPool(databaseUrl, log, { onError: metrics.postgresError, preparedStatements: config.DATABASE_PREPARED_STATEMENTS === 'on' });
  // Without a pooler in between, the migrations borrow the pool's first connection, which the reads after them reuse.
  await migrate(directUrl === databaseUrl ? pool : directUrl, log).catch(async (err: unknown) => {
    await pool.end().catch(() => undefined);
    throw err;
  });
  const ttls = liveStateTtls(config.SESSION_IDLE_DAYS * 86_400_000);
  const redis = config.redis ? connectRedis(config.redis, log, metrics.redisError) : undefined;
  return {
    pool,
    listener: new PostgresListener(directUrl, log),
    directUrl,
    live: redis ? new RedisLiveState(redis.commands, config.REDIS_PREFIX, ttls) : new MemoryLiveState(ttls),
    ttls,
    broker: redis ? redisBroker(redis, config.REDIS_PREFIX) : new MemoryBroker(),
    redis,
    repos: {
      users: new UsersRepo(pool), sessions: new SessionsRepo(pool), emailCodes: new EmailCodesRepo(pool), friends: new FriendsRepo(pool),
      clientApps: new ClientAppsRepo(pool), keys: new KeysRepo(pool), totp: new TotpRepo(pool), audit: new AuditRepo(pool),
      knownDevices: new KnownDevicesRepo(pool), accountDeletion: new AccountDeletionRepo(pool), invites: new InvitesRepo(pool),
      communities: new CommunitiesRepo(pool), groups: new GroupsRepo(pool), events: new EventsRepo(pool),
    },
  };
}

/** What step 2 builds besides the method-facing services: what has a life cycle of its own. */
export interface ServiceParts {
  services: Services;
  tokens: TokenService;
  ids: SnowflakeGenerator;
  lease: WorkerLease | undefined;
  policy: PasswordPolicy;
  mail: MailService;
  /** Numbers, delivers and prunes account events, while this instance holds the dispatcher lock. */
  events: EventDispatcher;
  feed: EventFeed;
  /** The chat backend's routes (null: none, unserved methods answer 501); the dispatcher forwards to them, the group directory calls their hooks. */
  backends: BackendRoutes | null;
}

/** Step 2: every service, each given its collaborators at construction. Reads the worker id, the key ring and the common hash cost. */
export async function buildServices(config: Config, stores: Stores, options: { log: Logger; metrics: Metrics; clock: Clock }): Promise<ServiceParts> {
  const { log, metrics, clock } = options;
  const { pool: db, repos, live, broker } = stores;
  // One after another on one open connection (each needs a millisecond; at once they opened a connection each).
  const lease = config.WORKER_ID === undefined ? await WorkerLease.acquire(db, log, config.WORKER_LEASE_MS) : undefined;
  const tokens = new TokenService({ repo: repos.keys, log });
  await tokens.start();
  const commonCost = await repos.users.commonPasswordCost();
  const ids = new SnowflakeGenerator({ workerId: config.WORKER_ID ?? lease!.workerId, lease });
  const totpKeys = await loadTotpKeys(config);
  if (totpKeys) log.info({ keys: totpKeys.keys.length, from: totpKeys.source }, 'TOTP secrets encrypted at rest');
  else log.warn('TOTP_ENCRYPTION_KEY is not set: two-factor authentication is unavailable (settings.setupTotp answers 503)');

  const limits = defineLimits(new RateLimitBackend({ redis: stores.redis?.commands, prefix: config.REDIS_PREFIX, enabled: config.RATE_LIMITS === 'on', onRefused: metrics.rateLimited }), config);
  if (config.RATE_LIMITS === 'off') log.warn('RATE_LIMITS=off: EVERY RATE LIMIT AND PER-IP CAP IS DISABLED. Use this only for load tests on a trusted network.');
  const passwords = new PasswordHasher({
    cost: config.BCRYPT_COST, concurrency: config.BCRYPT_CONCURRENCY, maxQueued: config.BCRYPT_MAX_QUEUED,
    // Per client network: an abuse bound like the rate limits (lifted with them); the total bound always holds.
    maxQueuedPerSource: config.RATE_LIMITS === 'on' ? config.BCRYPT_MAX_QUEUED_PER_IP : undefined,
  });
  // Unknown emails are compared against a hash of the cost most accounts have (not necessarily BCRYPT_COST).
  passwords.useDummyCost(commonCost ?? config.BCRYPT_COST);
  log.info({ dummyHashCost: passwords.dummyCost, bcryptCost: config.BCRYPT_COST }, 'password hashing ready');
  metrics.trackHashing(() => passwords.stats);
  const policy = new PasswordPolicy({ minScore: config.PASSWORD_MIN_SCORE });
  const mail = new MailService({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM, outboxDir: mailOutboxDir(config), log });
  log.info({ mail: mail.destination }, 'mail destination');
  const mailOrigins = new MailOrigins({ clientApps: repos.clientApps });
  const audit = new AuditLog({ repo: repos.audit, ids, retentionDays: config.AUDIT_RETENTION_DAYS, clock, log });
  const codes = new EmailCodeService({ repo: repos.emailCodes, clock });
  // Methods the table does not serve go to the chat backend's routes (none: 501).
  const backends = config.backendRoutes.length
    ? new BackendRoutes({
      routes: config.backendRoutes, secret: config.BACKEND_SECRET!, timeoutMs: config.BACKEND_TIMEOUT_MS, maxInFlight: config.BACKEND_MAX_IN_FLIGHT,
      log, observer: metrics,
    })
    : null;
  // Who owns groups: the backend the chats package is routed to, else the gateway's own tables (docs/backend.md).
  const groupHooks = backends?.groupHooks() ?? null;
  const groups = groupHooks ? new BackendGroupDirectory(groupHooks) : new LocalGroupDirectory(repos.groups);

  const idleMs = config.SESSION_IDLE_DAYS * 86_400_000;
  const health = new LiveStateHealth(log);
  // Never coarser than a tenth of the idle window, so expiry read from Postgres stays close.
  const persistGranularityMs = Math.min(config.ACTIVITY_PERSIST_GRANULARITY * 1000, idleMs / 10);
  const activity = new SessionActivity({ live, repo: repos.sessions, health, persistGranularityMs, log });
  const revocations = new Revocations({
    repo: repos.sessions, live, health, bus: new RevocationBus({ broker, log }), activity, entryTtlMs: stores.ttls.entryMs, log,
  });
  const sessionCache = new SessionCache({ repo: repos.sessions, live, health, tokens, activity, revocations, idleMs, clock, log });
  const sessions = new SessionService({ repo: repos.sessions, clientApps: repos.clientApps, live, health, activity, tokens, ids, idleMs, clock });
  const totp = new TotpService({
    db, repo: repos.totp, box: totpKeys ? new SecretBox(totpKeys.keys) : null, issuer: config.TOTP_ISSUER, limits, audit, clock, log,
  });
  const recentSignIn = new RecentSignIn({ totp, windowMinutes: config.REAUTH_WINDOW_MINUTES, clock });
  const accountSecurity = new AccountSecurityService({
    db, users: repos.users, revocations, passwords, policy, totp, recentSignIn, codes, knownDevices: repos.knownDevices,
    audit, mail, mailOrigins, limits, clock, log,
  });
  const accountEmail = new AccountEmailService({
    db, codes, users: repos.users, revocations, sessions, totp, passwords, policy, mail, mailOrigins, audit, limits, log,
  });
  const services: Services = {
    accounts: new AccountService({
      db, users: repos.users, sessions, passwords, policy, security: accountSecurity, verification: accountEmail, ids, limits, clock, log,
    }),
    sessions, sessionCache, revocations, accountEmail, accountSecurity,
    invites: new InviteService({
      db, invites: repos.invites, communities: repos.communities, groups, friends: repos.friends, limits, clock,
    }),
    entrypoints: new Entrypoints({ configured: config.entrypoints, port: config.PORT }),
    accountDeletion: new AccountDeletionService({
      db, repo: repos.accountDeletion, users: repos.users, revocations, recentSignIn, audit, mail, mailOrigins,
      graceDays: config.ACCOUNT_DELETE_GRACE_DAYS, clock, log,
    }),
    clock,
  };
  const events = new EventDispatcher({
    repo: repos.events,
    lock: new AdvisoryLock(stores.directUrl, EVENT_DISPATCHER_LOCK, log),
    webhook: config.WEBHOOK_URL
      ? {
          url: config.WEBHOOK_URL, secret: config.WEBHOOK_SECRET!, timeoutMs: config.WEBHOOK_TIMEOUT_MS, concurrency: config.WEBHOOK_CONCURRENCY,
          retryHours: config.WEBHOOK_RETRY_HOURS, firstRetryMs: config.WEBHOOK_RETRY_FIRST_SECONDS * 1000, maxRetryMs: config.WEBHOOK_RETRY_MAX_SECONDS * 1000,
        }
      : null,
    retentionDays: config.EVENT_RETENTION_DAYS,
    instance: `worker ${ids.workerId}`,
    log,
    observer: metrics,
    clock,
  });
  return { services, tokens, ids, lease, policy, mail, events, feed: new EventFeed({ repo: repos.events }), backends };
}

/** Step 3: the method table behind the dispatcher, the console's routes, the HTTP and WebSocket server, the metrics listener. */
export function buildGateway(config: Config, stores: Stores, parts: ServiceParts, options: { log: Logger; metrics: Metrics }) {
  const { log, metrics } = options;
  const { services } = parts;
  const readiness = {
    async check() {
      await stores.live.ping();
      return isMigrated(stores.pool);
    },
  };
  // The console's outbox mail view: the email of a live token's user (single-instance development only).
  const consoleAccounts = {
    async emailOfToken(token: string) {
      const authorized = await services.sessionCache.authorize(token, NO_DEVICE);
      return authorized ? ((await stores.repos.users.byId(authorized.session.userId))?.email ?? null) : null;
    },
  };
  const { backends } = parts;
  // Pushes to sockets (a user topic per user held here, presence entries): with a backend or an internal API.
  const presence = stores.redis ? new RedisPresence(stores.redis.commands, config.REDIS_PREFIX) : new MemoryPresence();
  const userSockets = config.backendRoutes.length || config.API_PORT !== undefined
    ? new UserSockets({ broker: stores.broker, presence, refreshMs: config.PRESENCE_REFRESH_MS, log, delivered: metrics.pushDelivered })
    : null;
  const gateway = new Gateway({
    config, sessions: services.sessions, sessionCache: services.sessionCache, revocations: services.revocations,
    dispatcher: new Dispatcher(methods, services, log, metrics.observeRequest, backends), readiness,
    consoleRoutes: createConsoleRoutes(config, consoleAccounts, log), observer: metrics, userSockets, clock: services.clock, log,
  });
  const metricsListener = config.METRICS_PORT === undefined ? undefined : new MetricsListener(metrics.render, log);
  const apiListener = config.API_PORT === undefined ? undefined : new ApiListener(config.apiKeys, log);
  if (apiListener) {
    if (userSockets) registerPushRoutes(apiListener, { userSockets, presence, usersOfSessions: (ids) => stores.repos.sessions.usersOf(ids), log });
    registerIntrospection(apiListener, services.sessionCache);
    registerEvents(apiListener, parts.feed);
  }
  return { gateway, metricsListener, apiListener, backends };
}

export async function startApp(config: Config, options: AppOptions): Promise<App> {
  const { log } = options;
  const metrics = options.metrics ?? new Metrics();
  const clock = options.clock ?? systemClock;
  const stores = await buildStores(config, { ...options, metrics });
  const { listener, broker, live, pool } = stores;
  const parts = await buildServices(config, stores, { log, metrics, clock });
  const { services, tokens, lease, policy, mail } = parts;
  // Sessions Postgres says ended (a user removed by the purge or by hand, any revocation) end on every instance.
  listener.on(SESSIONS_ENDED_CHANNEL, (payload) => {
    services.revocations.heardFromPostgres(payload.split(',').filter(isSnowflake)).catch((err) => log.warn({ err }, 'could not end sessions Postgres announced'));
  });
  // LISTEN opens its connection while the services start below; nothing is bound before the gateway listens.
  const listening = listener.start();
  listening.catch(() => undefined); // awaited before the gateway listens: a failure fails the start there
  await broker.subscribe(Topic.KEYS_CHANGED, () => void tokens.reload().catch((err) => log.warn({ err }, 'key reload failed')));
  // Without Redis no rotation is announced by the admin CLI: re-read the key ring now and then.
  const keyReload = config.redis ? undefined : setInterval(() => void tokens.reload().catch(() => undefined), KEY_RELOAD_MS);
  keyReload?.unref();
  services.sessions.start();
  await services.revocations.start();
  services.accountDeletion.start();
  parts.events.start();

  const { gateway, metricsListener, apiListener, backends } = buildGateway(config, stores, parts, { log, metrics });
  listener.onReconnect(() => void gateway.recheckBoundSessions());
  await listening;
  const metricsPort = await metricsListener?.listen(config.METRICS_PORT!, config.METRICS_HOST);
  const apiPort = await apiListener?.listen(config.API_PORT!, config.API_HOST);
  // A cluster worker accepts its own connections: the primary stays off the path (its PORT is never 0, src/cluster/primary.ts).
  const reusePort = cluster.isWorker;
  const port = await gateway.listen({ reusePort });
  log.info({ port, reusePort, metricsPort, apiPort, workerId: parts.ids.workerId, live: stores.redis ? `redis ${stores.redis.kind}` : 'memory' }, 'gateway listening');
  // The password checker's thread builds its dictionaries now, beside the event loop, not at the first sign-up.
  policy.start();

  return {
    port, metricsPort, apiPort, config, services, gateway, metrics, db: pool, redis: stores.redis, ids: parts.ids, repos: stores.repos, events: parts.events,
    async close() {
      clearInterval(keyReload);
      await gateway.close(config.SHUTDOWN_GRACE_MS);
      await backends?.close();
      await services.accountDeletion.stop();
      await parts.events.stop();
      services.revocations.stop();
      await listener.close();
      await metricsListener?.close();
      await apiListener?.close();
      await services.sessions.stop();
      await services.accountEmail.drain();
      await mail.close();
      await lease?.release();
      await broker.close();
      await live.close();
      await pool.end();
    },
  };
}
