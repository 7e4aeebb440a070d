/**
 * Builds one gateway process from its configuration: stores, services, the
 * method table and the server. `startApp` is what main.ts runs and what the
 * tests start in process.
 */
import { Redis } from 'ioredis';
import type { Config } from './config.js';
import { Dispatcher } from './gateway/dispatcher.js';
import { Metrics, instrumentPool } from './gateway/metrics.js';
import { Gateway } from './gateway/server.js';
import type { Logger } from './logger.js';
import { methods } from './methods/index.js';
import { AccountService } from './services/accounts.js';
import { InviteService } from './services/invites.js';
import type { Services } from './services/index.js';
import { PasswordHasher } from './services/passwords.js';
import { SessionService } from './services/sessions.js';
import { SnowflakeGenerator } from './services/snowflake.js';
import { TokenService } from './services/tokens.js';
import { Topic, type Broker } from './store/broker.js';
import { MemoryBroker } from './store/broker_memory.js';
import { RedisBroker } from './store/broker_redis.js';
import { ClientAppsRepo } from './store/clientAppsRepo.js';
import { CommunitiesRepo } from './store/communitiesRepo.js';
import { FriendsRepo } from './store/friendsRepo.js';
import { GroupsRepo } from './store/groupsRepo.js';
import { InvitesRepo } from './store/invitesRepo.js';
import { KeysRepo } from './store/keysRepo.js';
import type { LiveState } from './store/liveState.js';
import { MemoryLiveState } from './store/liveState_memory.js';
import { RedisLiveState } from './store/liveState_redis.js';
import { createPool, isMigrated, migrate, type Pool } from './store/postgres.js';
import { SessionsRepo } from './store/sessionsRepo.js';
import { UsersRepo } from './store/usersRepo.js';
import { WorkerLease } from './store/workerLease.js';
import { AccountEmailService } from './services/accountEmail.js';
import { CodeService } from './services/codes.js';
import { MailService, mailOutboxDir } from './services/mail.js';
import { RateLimits } from './services/rateLimits.js';
import { defineAbuseLimits } from './services/abuseLimits.js';
import { EmailCodesRepo } from './store/emailCodesRepo.js';

export interface App {
  port: number;
  services: Services;
  gateway: Gateway;
  metrics: Metrics;
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

/** Key ring re-read period when no broker can announce a rotation (no REDIS_URL). */
const KEY_RELOAD_MS = 60_000;

/** Redis clients fail fast while disconnected so that callers fall back to Postgres. */
function connectRedis(url: string, log: Logger, role: string, metrics: Metrics): Redis {
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
    metrics.redisError(role);
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
  const metrics = options.metrics ?? new Metrics();
  await migrate(databaseUrl, log);
  const pool: Pool = createPool(databaseUrl, log);
  instrumentPool(pool, metrics);

  let live: LiveState;
  let broker: Broker;
  let redis: Redis | undefined;
  if (config.REDIS_URL) {
    redis = connectRedis(config.REDIS_URL, log, 'commands', metrics);
    const subscriber = connectRedis(config.REDIS_URL, log, 'subscriber', metrics);
    live = new RedisLiveState(redis, config.REDIS_PREFIX, config.SESSION_IDLE_DAYS * 86_400_000);
    broker = new RedisBroker(redis, subscriber, config.REDIS_PREFIX);
  } else {
    live = new MemoryLiveState();
    broker = new MemoryBroker();
  }

  const lease = config.WORKER_ID === undefined ? await WorkerLease.acquire(pool, log) : undefined;
  const ids = new SnowflakeGenerator(config.WORKER_ID ?? lease!.workerId);
  const keys = new KeysRepo(pool);
  const tokens = new TokenService(keys, log);
  await tokens.start();
  await broker.subscribe(Topic.KEYS_CHANGED, () => void tokens.reload().catch((err) => log.warn({ err }, 'key reload failed')));
  // Without Redis no rotation is announced by the admin CLI: re-read the key ring now and then.
  const keyReload = config.REDIS_URL ? undefined : setInterval(() => void tokens.reload().catch(() => undefined), KEY_RELOAD_MS);
  keyReload?.unref();
  const passwords = new PasswordHasher(config.BCRYPT_COST, config.BCRYPT_CONCURRENCY);
  metrics.trackHashing(() => passwords.stats);
  const users = new UsersRepo(pool);
  const sessions = new SessionService(new SessionsRepo(pool), live, broker, tokens, ids, config.SESSION_IDLE_DAYS, log);
  sessions.start();
  const rateLimits = new RateLimits({
    redis,
    prefix: config.REDIS_PREFIX,
    enabled: config.RATE_LIMITS === 'on',
    onRefused: (limit) => metrics.rateLimited(limit),
  });
  const limits = defineAbuseLimits(rateLimits, config);
  if (config.RATE_LIMITS === 'off') {
    log.warn('RATE_LIMITS=off: EVERY RATE LIMIT AND PER-IP CAP IS DISABLED. Use this only for load tests on a trusted network.');
  }
  const accounts = new AccountService(users, sessions, passwords, ids, log, limits);
  const mail = new MailService(
    { smtpUrl: config.SMTP_URL, from: config.MAIL_FROM, outboxDir: mailOutboxDir(config) },
    log,
  );
  log.info({ mail: mail.destination }, 'mail destination');
  const emailCodes = new EmailCodesRepo(pool);
  const codes = new CodeService(emailCodes);
  const accountEmail = new AccountEmailService(pool, codes, emailCodes, users, sessions, passwords, mail, rateLimits, log);
  accounts.hooks.onSignedUp = (user) => accountEmail.onSignedUp(user);
  const invites = new InviteService(pool, new InvitesRepo(pool), new CommunitiesRepo(pool), new GroupsRepo(pool), new FriendsRepo(pool));
  const services: Services = {
    config, db: pool, ids, passwords, tokens, keys, users, sessions, accounts, clientApps: new ClientAppsRepo(pool),
    mail, rateLimits, limits, codes, accountEmail, invites,
    metrics,
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
  const gateway = new Gateway(config, services, dispatcher, broker, readiness, log, metrics);
  const port = await gateway.listen();
  log.info({ port, workerId: ids === undefined ? null : config.WORKER_ID ?? lease!.workerId, live: redis ? 'redis' : 'memory' }, 'gateway listening');

  return {
    port,
    services,
    gateway,
    metrics,
    async close() {
      clearInterval(keyReload);
      await gateway.close(config.SHUTDOWN_GRACE_MS);
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
