/**
 * Sessions: creation, resuming a token (auth.authorize), validity, listing,
 * revocation and last activity.
 *
 * Postgres is the record. Redis (LiveState) caches validity and holds recent
 * activity so that a reconnect storm does not hit Postgres, and the Broker
 * fans revocations out to every instance. When Redis fails, every read falls
 * back to Postgres and revocations are still written to Postgres first.
 */
import type { DeviceInfo, Geo } from '../domain/device.js';
import type { Id } from '../domain/ids.js';
import { decodeRevocation, encodeRevocation } from '../domain/revocation.js';
import type { BoundSession, SessionRecord } from '../domain/session.js';
import type { UserProfile } from '../domain/user.js';
import type { Logger } from '../logger.js';
import { Topic, type Broker } from '../store/broker.js';
import type { ClientAppsRepo } from '../store/clientAppsRepo.js';
import { REVOKED_TOMBSTONE_TTL_MS, type CachedSession, type LiveState } from '../store/liveState.js';
import type { Pool, PoolClient } from '../store/postgres.js';
import type { SessionsRepo } from '../store/sessionsRepo.js';
import type { UsersRepo } from '../store/usersRepo.js';
import type { SnowflakeGenerator } from './snowflake.js';
import type { TokenService } from './tokens.js';

/** Activity is pushed to Redis this often (and read back by GetSessions on any instance). */
const ACTIVITY_TO_LIVE_MS = 2_000;
/** ... and to Postgres in one batch this often, and at shutdown. */
const ACTIVITY_TO_POSTGRES_MS = 30_000;

/** A session resumed by its token: what auth.authorize answers with. */
export interface Authorized {
  session: BoundSession;
  user: UserProfile;
}

/** A session as auth.getSessions lists it. */
export interface ListedSession extends SessionRecord {
  /** Name of the client app from the registry; empty when unknown. */
  appName: string;
}

/**
 * Told of revoked sessions, whichever instance revoked them: at once for this
 * instance's own revocations, through the broker for the others'.
 * `publishedAt` (Unix ms) is set for revocations heard from the broker.
 */
export type RevocationListener = (sessionIds: readonly Id[], publishedAt?: number) => void;

export class SessionService {
  /** Activity not yet in Redis / not yet in Postgres (session id -> Unix ms). */
  private toLive = new Map<Id, number>();
  private toPostgres = new Map<Id, number>();
  /** Revocations Postgres has but Redis could not be told of yet; retried with the activity flush. */
  private untombstoned = new Set<Id>();
  private timers: NodeJS.Timeout[] = [];
  private readonly revokedListeners: RevocationListener[] = [];
  readonly idleMs: number;

  constructor(
    private readonly repo: SessionsRepo,
    private readonly users: UsersRepo,
    private readonly clientApps: ClientAppsRepo,
    private readonly live: LiveState,
    private readonly broker: Broker,
    private readonly tokens: TokenService,
    private readonly ids: SnowflakeGenerator,
    idleDays: number,
    private readonly log: Logger,
  ) {
    this.idleMs = idleDays * 86_400_000;
  }

  /** Starts the activity flushes and listens for other instances' revocations. */
  async start(): Promise<void> {
    this.timers.push(
      setInterval(() => void this.flushToLive(), ACTIVITY_TO_LIVE_MS),
      setInterval(() => void this.flushToPostgres(), ACTIVITY_TO_POSTGRES_MS),
    );
    for (const t of this.timers) t.unref();
    await this.broker.subscribe(Topic.SESSIONS_REVOKED, (payload) => {
      const revocation = decodeRevocation(payload);
      if (revocation) this.tellRevoked(revocation.ids, revocation.at);
    });
    // Whatever the broker lost while disconnected is still in Postgres.
    this.broker.onResync(() => void this.reconcileRevocations());
  }

  /** Stops the timers and writes every pending activity to Postgres. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.flushToLive();
    await this.flushToPostgres();
  }

  /** Creates a session for a user and signs its token. */
  async create(userId: Id, device: DeviceInfo, geo: Geo, db?: Pool | PoolClient): Promise<{ session: SessionRecord; token: string }> {
    const now = Date.now();
    const session = await this.repo.insert({ id: this.ids.next(), userId, device, geo, lastActive: now }, db);
    const token = await this.tokens.sign({ userId, sessionId: session.id });
    await this.live.cacheSession(session.id, userId, now).catch((err) => this.liveFailed(err));
    return { session, token };
  }

  /**
   * auth.authorize: checks a token and its session, and records the device the
   * client reported when it changed. Null when the token is forged, malformed,
   * revoked or expired, or its user is gone.
   */
  async authorize(token: string, device: DeviceInfo): Promise<Authorized | null> {
    const claims = await this.tokens.verify(token);
    if (!claims) return null;
    const valid = await this.isValid(claims.sessionId, claims.userId);
    if (!valid) return null;
    const user = await this.users.profile(claims.userId);
    if (!user) return null;
    this.noteActivity(claims.sessionId);
    if (device.clientId || device.deviceType) await this.repo.updateDevice(claims.sessionId, device);
    return { session: claims, user };
  }

  /** True when the session exists, belongs to the user, is unrevoked and not idle-expired. */
  private async isValid(sessionId: Id, userId: Id): Promise<boolean> {
    const now = Date.now();
    let cached: CachedSession = { state: 'unknown' };
    try {
      cached = await this.live.getSession(sessionId);
    } catch (err) {
      this.liveFailed(err);
    }
    if (cached.state === 'revoked' || this.untombstoned.has(sessionId)) return false;
    const pending = this.toLive.get(sessionId) ?? this.toPostgres.get(sessionId) ?? 0;
    if (cached.state === 'valid' && cached.userId === userId && cached.lastActive !== null) {
      return Math.max(cached.lastActive, pending) > now - this.idleMs;
    }
    const record = await this.repo.byId(sessionId);
    if (!record || record.userId !== userId || record.revokedAt) return false;
    const lastActive = Math.max(record.lastActive, pending, cached.state === 'valid' ? cached.lastActive ?? 0 : 0);
    if (lastActive <= now - this.idleMs) return false;
    await this.live.cacheSession(sessionId, userId, lastActive).catch((err) => this.liveFailed(err));
    return true;
  }

  /** The user's live sessions, newest activity first, with activity merged from Redis and this instance. */
  async list(userId: Id): Promise<ListedSession[]> {
    const now = Date.now();
    // Read a little further back than the idle limit: Redis may know newer activity.
    const records = await this.repo.liveByUser(userId, now - this.idleMs - ACTIVITY_TO_POSTGRES_MS * 2);
    let cachedActivity = new Map<Id, number>();
    try {
      cachedActivity = await this.live.lastActive(records.map((r) => r.id));
    } catch (err) {
      this.liveFailed(err);
    }
    const merged = records.map((r) => ({
      ...r,
      lastActive: Math.max(r.lastActive, cachedActivity.get(r.id) ?? 0, this.toLive.get(r.id) ?? 0, this.toPostgres.get(r.id) ?? 0),
    }));
    const live = merged
      .filter((r) => r.lastActive > now - this.idleMs)
      .sort((a, b) => b.lastActive - a.lastActive || (BigInt(b.id) > BigInt(a.id) ? 1 : -1));
    const appNames = await this.clientApps.names(live.map((r) => r.clientId));
    return live.map((r) => ({ ...r, appName: appNames.get(r.clientId) ?? '' }));
  }

  /** Revokes the caller's listed sessions (others' ids are ignored); returns those revoked. */
  async revoke(userId: Id, sessionIds: readonly Id[]): Promise<Id[]> {
    const revoked = await this.repo.revoke(userId, sessionIds);
    await this.announceRevoked(revoked);
    return revoked;
  }

  /** Revokes every session of a user (password reset); returns those revoked. */
  async revokeAll(userId: Id, db?: Pool | PoolClient): Promise<Id[]> {
    return this.repo.revokeAll(userId, db);
  }

  /**
   * Tells `listener` of every revocation: this instance's at once (even when
   * the broker is down), other instances' through the broker, and those the
   * broker lost, after it reconnects.
   */
  onRevoked(listener: RevocationListener): void {
    this.revokedListeners.push(listener);
  }

  private tellRevoked(sessionIds: readonly Id[], publishedAt?: number): void {
    for (const listener of this.revokedListeners) listener(sessionIds, publishedAt);
  }

  /** After Postgres recorded revocations: tombstone them in Redis and tell every instance. */
  async announceRevoked(sessionIds: readonly Id[]): Promise<void> {
    if (!sessionIds.length) return;
    this.tellRevoked(sessionIds);
    for (const id of sessionIds) {
      this.toLive.delete(id);
      this.toPostgres.delete(id);
    }
    try {
      await this.live.markRevoked(sessionIds);
    } catch (err) {
      // Postgres already says revoked. Until Redis takes the tombstones, this
      // instance refuses the sessions itself and keeps retrying; other
      // instances reconcile when their broker reconnects (recentlyRevoked).
      for (const id of sessionIds) this.untombstoned.add(id);
      this.liveFailed(err);
    }
    await this.broker.publish(Topic.SESSIONS_REVOKED, encodeRevocation(sessionIds)).catch((err) => this.liveFailed(err));
  }

  /**
   * After the broker lost messages (Redis reconnected): tombstones again the
   * sessions revoked recently enough that a stale cache entry could still call
   * them valid, and tells the listeners, so sockets of sessions revoked
   * meanwhile are closed.
   */
  private async reconcileRevocations(): Promise<void> {
    try {
      const ids = await this.repo.revokedSince(new Date(Date.now() - REVOKED_TOMBSTONE_TTL_MS));
      await this.live.markRevoked(ids).catch((err) => this.liveFailed(err));
      this.tellRevoked(ids);
      this.log.info({ revoked: ids.length }, 'reconciled revocations after live-state reconnect');
    } catch (err) {
      this.log.warn({ err }, 'could not reconcile revocations');
    }
  }

  /** core.Initialize on a signed-in socket: the session's device info, when it changed. */
  async updateDevice(sessionId: Id, device: DeviceInfo): Promise<void> {
    await this.repo.updateDevice(sessionId, device);
  }

  /** Records activity of a session: memory only; flushed in batches. */
  noteActivity(sessionId: Id): void {
    const now = Date.now();
    this.toLive.set(sessionId, now);
    this.toPostgres.set(sessionId, now);
  }

  private async flushToLive(): Promise<void> {
    if (this.untombstoned.size) {
      const ids = [...this.untombstoned];
      try {
        await this.live.markRevoked(ids);
        for (const id of ids) this.untombstoned.delete(id);
      } catch (err) {
        this.liveFailed(err);
      }
    }
    if (!this.toLive.size) return;
    const batch = this.toLive;
    this.toLive = new Map();
    try {
      await this.live.touch(batch);
    } catch (err) {
      this.liveFailed(err); // Postgres still gets it
    }
  }

  private async flushToPostgres(): Promise<void> {
    if (!this.toPostgres.size) return;
    const batch = this.toPostgres;
    this.toPostgres = new Map();
    try {
      await this.repo.recordActivity(batch);
    } catch (err) {
      this.log.warn({ err, sessions: batch.size }, 'could not write session activity; will retry');
      for (const [id, at] of batch) if (!this.toPostgres.has(id)) this.toPostgres.set(id, at);
    }
  }

  private liveFailed(err: unknown): void {
    this.log.warn({ err: (err as Error).message }, 'live state unavailable; using Postgres');
  }
}
