/**
 * Builds one gateway process from its configuration: stores, services, the
 * method table and the gateway, wired in the one direction the layers allow
 * (gateway → methods → services → stores). `startApp` is what main.ts runs
 * and what the tests start in process.
 */
import { Redis } from 'ioredis';
import type { Config } from './config.js';
import { NO_DEVICE } from './domain/device.js';
import { isSnowflake } from './domain/ids.js';
import { Dispatcher } from './gateway/dispatcher.js';
import { createConsoleRoutes } from './gateway/consoleRoutes.js';
import { Gateway } from './gateway/gateway.js';
import { MetricsListener } from './gateway/metricsListener.js';
import type { Logger } from './logger.js';
import { methods } from './methods/index.js';
import { Metrics } from './metrics.js';
import { AccountEmailService } from './services/accountEmail.js';
import { AccountService } from './services/accounts.js';
import { EmailCodeService } from './services/emailCodes.js';
import { Entrypoints } from './services/entrypoints.js';
import type { Services } from './services/index.js';
import { InviteService } from './services/invites.js';
import { defineLimits } from './services/limits.js';
import { MailService, mailOutboxDir } from './services/mail.js';
import { PasswordHasher } from './services/passwords.js';
import { RateLimitBackend } from './services/rateLimit.js';
import { RevocationBus } from './services/revocationBus.js';
import { SessionService } from './services/sessions.js';
import { SnowflakeGenerator } from './services/snowflake.js';
import { TokenService } from './services/tokens.js';
import { Topic, type Broker } from './store/broker.js';
import { MemoryBroker } from './store/brokerMemory.js';
import { RedisBroker } from './store/brokerRedis.js';
import { ClientAppsRepo } from './store/clientAppsRepo.js';
import { CommunitiesRepo } from './store/communitiesRepo.js';
import { EmailCodesRepo } from './store/emailCodesRepo.js';
import { FriendsRepo } from './store/friendsRepo.js';
import { GroupsRepo } from './store/groupsRepo.js';
import { InvitesRepo } from './store/invitesRepo.js';
import { KeysRepo } from './store/keysRepo.js';
import { liveStateTtls, type LiveState } from './store/liveState.js';
import { MemoryLiveState } from './store/liveStateMemory.js';
import { RedisLiveState } from './store/liveStateRedis.js';
import { createPool, isMigrated, migrate, type Pool } from './store/postgres.js';
import { PostgresListener } from './store/postgresListener.js';
import { SessionsRepo } from './store/sessionsRepo.js';
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

/** Postgres channel on which the removal of a user ends its sessions (migration 0007). */
const SESSIONS_ENDED_CHANNEL = 'osmium_sessions_ended';

/** Key ring re-read period when no broker can announce a rotation (no REDIS_URL). */
const KEY_RELOAD_MS = 60_000;

/** Redis clients fail fast while disconnected so that callers fall back to Postgres. */
function connectRedis(url: string, log: Logger, role: 'commands' | 'subscriber', onError: (role: string) => void): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: role === 'subscriber',
    maxRetriesPerRequest: 1,
    commandTimeout: role === 'subscriber' ? undefined : 1_000,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    enableAutoPipelining: role === 'commands',
  });
  let healthy = true;
  redis.on('error', (err) => {
    onError(role);
    if (healthy) log.warn({ err: err.message, role }, 'redis connection error');
    healthy = false;
  });
  redis.on('ready', () => {
    if (!healthy) log.info({ role }, 'redis connection restored');
    healthy = true;
  });
  redis.connect().catch(() => undefined);
  return redis;
}

export async function startApp(config: Config, options: AppOptions): Promise<App> {
  const { log, databaseUrl } = options;
  // Migrations (an advisory lock) and LISTEN need a session of their own: not through a transaction pooler.
  const directUrl = config.DATABASE_DIRECT_URL ?? databaseUrl;
  const metrics = options.metrics ?? new Metrics();
  await migrate(directUrl, log);
  const pool = createPool(databaseUrl, log, { onError: metrics.postgresError, preparedStatements: config.DATABASE_PREPARED_STATEMENTS === 'on' });

  const idleMs = config.SESSION_IDLE_DAYS * 86_400_000;
  let live: LiveState;
  let broker: Broker;
  let redis: Redis | undefined;
  if (config.REDIS_URL) {
    redis = connectRedis(config.REDIS_URL, log, 'commands', metrics.redisError);
    const subscriber = connectRedis(config.REDIS_URL, log, 'subscriber', metrics.redisError);
    live = new RedisLiveState(redis, config.REDIS_PREFIX, liveStateTtls(idleMs));
    broker = new RedisBroker(redis, subscriber, config.REDIS_PREFIX);
  } else {
    live = new MemoryLiveState(liveStateTtls(idleMs));
    broker = new MemoryBroker();
  }

  const lease = config.WORKER_ID === undefined ? await WorkerLease.acquire(pool, log) : undefined;
  const workerId = config.WORKER_ID ?? lease!.workerId;
  const ids = new SnowflakeGenerator(workerId);
  const tokens = new TokenService(new KeysRepo(pool), log);
  await tokens.start();
  await broker.subscribe(Topic.KEYS_CHANGED, () => void tokens.reload().catch((err) => log.warn({ err }, 'key reload failed')));
  // Without Redis no rotation is announced by the admin CLI: re-read the key ring now and then.
  const keyReload = config.REDIS_URL ? undefined : setInterval(() => void tokens.reload().catch(() => undefined), KEY_RELOAD_MS);
  keyReload?.unref();

  const repos: Repos = {
    users: new UsersRepo(pool),
    sessions: new SessionsRepo(pool),
    emailCodes: new EmailCodesRepo(pool),
    friends: new FriendsRepo(pool),
  };
  const passwords = new PasswordHasher(config.BCRYPT_COST, config.BCRYPT_CONCURRENCY, {
    maxQueued: config.BCRYPT_MAX_QUEUED,
    // Per client IP: an abuse bound like the rate limits (lifted with them); the total bound always holds.
    maxQueuedPerSource: config.RATE_LIMITS === 'on' ? config.BCRYPT_MAX_QUEUED_PER_IP : undefined,
  });
  // Unknown emails are compared against a hash of the cost most accounts have (not necessarily BCRYPT_COST).
  await passwords.useDummyCost((await repos.users.commonPasswordCost()) ?? config.BCRYPT_COST);
  log.info({ dummyHashCost: passwords.dummyCost, bcryptCost: config.BCRYPT_COST }, 'password hashing ready');
  metrics.trackHashing(() => passwords.stats);
  const sessions = new SessionService(
    repos.sessions, new ClientAppsRepo(pool), live, new RevocationBus(broker, log), tokens, ids,
    { idleMs, persistGranularityMs: config.ACTIVITY_PERSIST_GRANULARITY * 1000 }, log,
  );
  await sessions.start();
  const limits = defineLimits(new RateLimitBackend({ redis, prefix: config.REDIS_PREFIX, enabled: config.RATE_LIMITS === 'on', onRefused: metrics.rateLimited }), config);
  if (config.RATE_LIMITS === 'off') {
    log.warn('RATE_LIMITS=off: EVERY RATE LIMIT AND PER-IP CAP IS DISABLED. Use this only for load tests on a trusted network.');
  }
  const accounts = new AccountService(pool, repos.users, sessions, passwords, ids, log, limits);
  const mail = new MailService({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM, outboxDir: mailOutboxDir(config) }, log);
  log.info({ mail: mail.destination }, 'mail destination');
  const accountEmail = new AccountEmailService(pool, new EmailCodeService(repos.emailCodes), repos.users, sessions, passwords, mail, limits, log);
  accounts.hooks.onSignedUp = (user) => accountEmail.onSignedUp(user);
  const invites = new InviteService(
    pool, new InvitesRepo(pool), new CommunitiesRepo(pool), new GroupsRepo(pool), repos.friends, limits,
  );
  const services: Services = { accounts, sessions, accountEmail, invites, entrypoints: new Entrypoints(config.entrypoints, config.PORT) };

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
  // Users removed from Postgres (purge, or by hand) end their sessions on every instance.
  const listener = new PostgresListener(directUrl, log);
  listener.on(SESSIONS_ENDED_CHANNEL, (payload) => {
    sessions.ended(payload.split(',').filter(isSnowflake)).catch((err) => log.warn({ err }, 'could not end the sessions of a removed user'));
  });
  listener.onReconnect(() => void gateway.recheckBoundSessions());
  await listener.start();
  const metricsListener = config.METRICS_PORT === undefined ? undefined : new MetricsListener(metrics.render, log);
  const metricsPort = await metricsListener?.listen(config.METRICS_PORT!, config.METRICS_HOST);
  const port = await gateway.listen();
  log.info({ port, metricsPort, workerId, live: redis ? 'redis' : 'memory' }, 'gateway listening');

  return {
    port,
    metricsPort,
    config,
    services,
    gateway,
    metrics,
    db: pool,
    ids,
    repos,
    async close() {
      clearInterval(keyReload);
      await gateway.close(config.SHUTDOWN_GRACE_MS);
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
