/**
 * Sessions: opening one (sign-up, sign-in), listing a user's, recording the
 * device and the activity they are used with. Resuming a token is the
 * session cache's (sessionCache.ts), ending sessions the revocations'
 * (revocations.ts).
 *
 * Postgres is the record; activity (requests and heartbeats) is batched on
 * its way to the stores (sessionActivity.ts).
 */
import type { Clock } from '../domain/clock.js';
import type { DeviceInfo, Geo } from '../domain/device.js';
import type { Id } from '../domain/ids.js';
import type { BoundSession, SessionRecord } from '../domain/session.js';
import type { UserProfile } from '../domain/user.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { ClientAppsRepo } from '../store/clientAppsRepo.js';
import type { LiveState } from '../store/liveState.js';
import type { SessionsRepo } from '../store/sessionsRepo.js';
import type { Db } from '../store/transaction.js';
import type { LiveStateHealth } from './liveStateHealth.js';
import { cacheEntryOf } from './sessionCache.js';
import { ACTIVITY_TO_LIVE_MS, type SessionActivity } from './sessionActivity.js';
import type { SnowflakeGenerator } from './snowflake.js';
import type { TokenService } from './tokens.js';

/** A session as auth.getSessions lists it. */
export interface ListedSession extends SessionRecord {
  /** Name of the client app from the registry; empty when unknown. */
  appName: string;
}

export interface SessionServiceDeps {
  repo: SessionsRepo;
  clientApps: ClientAppsRepo;
  live: LiveState;
  health: LiveStateHealth;
  activity: SessionActivity;
  tokens: TokenService;
  ids: SnowflakeGenerator;
  /** Sessions expire after this long without activity (SESSION_IDLE_DAYS). */
  idleMs: number;
  clock: Clock;
}

export class SessionService {
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly deps: SessionServiceDeps) {}

  get idleMs(): number {
    return this.deps.idleMs;
  }

  /** Starts the activity flushes. */
  start(): void {
    const { activity } = this.deps;
    this.timers.push(
      setInterval(() => void activity.flushToLive(), ACTIVITY_TO_LIVE_MS),
      setInterval(() => void activity.flushToPostgres(), Math.max(1_000, activity.persistGranularityMs)),
    );
    for (const t of this.timers) t.unref();
  }

  /** Stops the timers and writes every pending activity, exactly (what this process alone knew would be lost). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.deps.activity.flushToLive();
    await this.deps.activity.flushToPostgres(0);
  }

  /**
   * Opens a session for a user and signs its token; 401 when the account was
   * purged meanwhile (the purge and a new session exclude each other:
   * SessionsRepo.insert).
   */
  async create(user: UserProfile & { emailVerified?: boolean }, device: DeviceInfo, geo: Geo, db?: Db): Promise<{ session: SessionRecord; token: string }> {
    const { repo, tokens, ids, live, health } = this.deps;
    const tokenKid = tokens.signingKid();
    const session = await repo.insert({ id: ids.next(), userId: user.id, device, geo, lastActive: this.deps.clock(), tokenKid }, db);
    if (!session) throw new RpcError(ErrorCode.UNAUTHENTICATED, 'this account no longer exists');
    const token = await tokens.sign({ userId: user.id, sessionId: session.id }, tokenKid);
    await live.cacheSession(session.id, cacheEntryOf(user, device)).catch((err) => health.failed(err));
    return { session, token };
  }

  /**
   * The caller's live sessions, newest activity first, with activity merged
   * from the live state and this instance. A bot's sessions never idle out.
   */
  async list(caller: BoundSession): Promise<ListedSession[]> {
    const { repo, live, health, activity, clientApps } = this.deps;
    const idleSince = caller.bot ? 0 : this.deps.clock() - this.deps.idleMs;
    // Read further back than the idle limit: the live state may know newer activity than Postgres.
    const records = await repo.liveByUser(caller.userId, caller.bot ? 0 : Math.floor(idleSince - activity.persistGranularityMs * 3));
    let cachedActivity = new Map<Id, number>();
    try {
      cachedActivity = await live.lastActive(records.map((r) => r.id));
    } catch (err) {
      health.failed(err);
    }
    const merged = records.map((r) => ({
      ...r,
      lastActive: Math.max(r.lastActive, cachedActivity.get(r.id) ?? 0, activity.pending(r.id)),
    }));
    const listed = merged
      .filter((r) => r.lastActive > idleSince)
      .sort((a, b) => b.lastActive - a.lastActive || (BigInt(b.id) > BigInt(a.id) ? 1 : -1));
    const appNames = await clientApps.names(listed.map((r) => r.clientId));
    return listed.map((r) => ({ ...r, appName: appNames.get(r.clientId) ?? '' }));
  }

  /** core.Initialize on a signed-in socket: writes the session's device info (the next Authorize re-reads it). */
  async updateDevice(sessionId: Id, device: DeviceInfo): Promise<void> {
    await this.deps.repo.updateDevice(sessionId, device);
    // The next Authorize reads the new device from Postgres once.
    await this.deps.live.forget([sessionId]).catch((err) => this.deps.health.failed(err));
  }

  /**
   * Drops the cache entries of a user's live sessions (their address was
   * verified or changed: what introspection answers); the next Authorize
   * reads Postgres once.
   */
  async forgetCachedOf(userId: Id): Promise<void> {
    const ids = (await this.deps.repo.liveByUser(userId, 0)).map((s) => s.id);
    if (ids.length) await this.deps.live.forget(ids).catch((err) => this.deps.health.failed(err));
  }

  /** Records activity of a session: memory only; flushed in batches. */
  noteActivity(sessionId: Id): void {
    this.deps.activity.note(sessionId, this.deps.clock());
  }
}
