/**
 * Sessions: creation, resuming a token (auth.authorize), validity, listing,
 * revocation and last activity.
 *
 * Postgres is the record. The live state (Redis, or memory in the embedded
 * mode) caches what Authorize needs, so a warm Authorize runs no Postgres
 * statement: one Redis round trip after a synchronous token check. Postgres
 * is read on a cache miss (a first Authorize after Redis lost its data, or a
 * session unused for the whole cache TTL) and written only when the device
 * really changed. Revocations are written to Postgres first, then tombstoned
 * in the cache, then announced to every instance (revocationBus.ts). When
 * Redis fails, every read falls back to Postgres.
 *
 * Activity (requests and heartbeats) is batched on its way to the stores:
 * sessionActivity.ts.
 */
import { createHash } from 'node:crypto';
import type { DeviceInfo, Geo } from '../domain/device.js';
import type { Id } from '../domain/ids.js';
import type { BoundSession, SessionRecord } from '../domain/session.js';
import type { UserProfile } from '../domain/user.js';
import type { Logger } from '../logger.js';
import type { ClientAppsRepo } from '../store/clientAppsRepo.js';
import type { CachedSession, LiveState, SessionEntry } from '../store/liveState.js';
import type { Pool, PoolClient } from '../store/postgres.js';
import type { SessionsRepo } from '../store/sessionsRepo.js';
import { RepeatedRefusals } from './repeatedRefusals.js';
import { ACTIVITY_TO_LIVE_MS, SessionActivity } from './sessionActivity.js';
import type { RevocationBus, RevocationListener } from './revocationBus.js';
import type { SnowflakeGenerator } from './snowflake.js';
import type { TokenService } from './tokens.js';

/** How far back, before the broker lost its connection, revocations are re-read when it returns (clock skew, in-flight writes). */
const RECONCILE_MARGIN_MS = 60_000;
/** At most one "live state unavailable" line this often (with the number of failures since the last). */
const LIVE_FAILURE_LOG_MS = 10_000;

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

export interface SessionSettings {
  /** Sessions expire after this long without activity (SESSION_IDLE_DAYS). */
  idleMs: number;
  /** last_active reaches Postgres only when it moved by at least this much (ACTIVITY_PERSIST_GRANULARITY). */
  persistGranularityMs: number;
}

/** True when core.Initialize reported a device worth recording. */
function reportsDevice(device: DeviceInfo): boolean {
  return device.clientId !== 0 || device.deviceType !== '';
}

const fingerprints = new WeakMap<DeviceInfo, string>();

/**
 * A short stand-in for a device's four fields, so the session cache can tell
 * whether the device changed without storing them. Computed once per
 * DeviceInfo object (one per core.Initialize, or per record read).
 */
function deviceFingerprint(device: DeviceInfo): string {
  let fingerprint = fingerprints.get(device);
  if (fingerprint === undefined) {
    fingerprint = createHash('sha256')
      .update(JSON.stringify([device.clientId, device.deviceType, device.deviceVersion, device.appVersion]))
      .digest('base64url')
      .slice(0, 16);
    fingerprints.set(device, fingerprint);
  }
  return fingerprint;
}

export class SessionService {
  private readonly activity: SessionActivity;
  /** Revocations Postgres has but the live state could not be told of yet; retried with the live activity flush. */
  private readonly untombstoned = new Set<Id>();
  private timers: NodeJS.Timeout[] = [];
  private readonly refusals: RepeatedRefusals;
  private liveFailures = 0;
  private liveFailureLoggedAt = 0;
  readonly idleMs: number;

  constructor(
    private readonly repo: SessionsRepo,
    private readonly clientApps: ClientAppsRepo,
    private readonly live: LiveState,
    private readonly bus: RevocationBus,
    private readonly tokens: TokenService,
    private readonly ids: SnowflakeGenerator,
    settings: SessionSettings,
    private readonly log: Logger,
  ) {
    this.idleMs = settings.idleMs;
    this.refusals = new RepeatedRefusals(log);
    // Never coarser than a tenth of the idle window, so expiry from Postgres stays close.
    const persistGranularityMs = Math.min(settings.persistGranularityMs, settings.idleMs / 10);
    this.activity = new SessionActivity(live, repo, persistGranularityMs, log, (err) => this.liveFailed(err));
  }

  /** Starts the activity flushes and listens for other instances' revocations. */
  async start(): Promise<void> {
    this.timers.push(
      setInterval(() => void this.flushToLive(), ACTIVITY_TO_LIVE_MS),
      setInterval(() => void this.activity.flushToPostgres(), Math.max(1_000, this.activity.persistGranularityMs)),
    );
    for (const t of this.timers) t.unref();
    await this.bus.start((lostAt) => this.reconcileRevocations(lostAt));
  }

  /** Stops the timers and writes every pending activity, exactly (what this process alone knew would be lost). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.flushToLive();
    await this.activity.flushToPostgres(0);
  }

  /** Creates a session for a user and signs its token. */
  async create(user: UserProfile, device: DeviceInfo, geo: Geo, db?: Pool | PoolClient): Promise<{ session: SessionRecord; token: string }> {
    const now = Date.now();
    const tokenKid = this.tokens.signingKid();
    const session = await this.repo.insert({ id: this.ids.next(), userId: user.id, device, geo, lastActive: now, tokenKid }, db);
    const token = await this.tokens.sign({ userId: user.id, sessionId: session.id }, tokenKid);
    await this.live.cacheSession(session.id, this.entryOf(user, device)).catch((err) => this.liveFailed(err));
    return { session, token };
  }

  /**
   * auth.authorize: checks a token and its session, and records the device
   * the client reported when it changed. Null when the token is forged,
   * malformed, revoked or idle-expired, or its user is gone. Warm (cached),
   * this is a synchronous HMAC and one live-state round trip (which records
   * the activity too).
   */
  async authorize(token: string, device: DeviceInfo): Promise<Authorized | null> {
    const checked = this.tokens.check(token);
    const claims = checked === undefined ? await this.tokens.verify(token) : checked;
    if (!claims) return null;
    const { sessionId, userId } = claims;
    if (this.untombstoned.has(sessionId)) return null;
    let cached: CachedSession = { state: 'unknown' };
    const now = Date.now();
    try {
      // The read records this Authorize's activity too when the entry is valid.
      cached = await this.live.readSession(sessionId, now);
    } catch (err) {
      this.liveFailed(err);
    }
    if (cached.state === 'revoked') {
      this.refusals.note(sessionId);
      return null;
    }
    let entry: SessionEntry | null = cached.state === 'valid' && cached.entry.userId === userId ? cached.entry : null;
    if (entry) {
      this.activity.noteRecorded(sessionId, now);
    } else {
      entry = await this.entryFromPostgres(sessionId, userId);
      if (!entry) {
        this.refusals.note(sessionId);
        return null;
      }
      this.activity.note(sessionId, now);
    }
    if (reportsDevice(device) && deviceFingerprint(device) !== entry.device) await this.recordDevice(sessionId, entry, device);
    return { session: { sessionId, userId, bot: entry.bot }, user: { id: userId, name: entry.name, bot: entry.bot } };
  }

  /**
   * The device a session is used from changed: Postgres, then the cache. The
   * device is what GetSessions shows, not a credential: when Postgres cannot
   * take it, Authorize still succeeds, and the next Authorize tries again.
   */
  private async recordDevice(sessionId: Id, entry: SessionEntry, device: DeviceInfo): Promise<void> {
    try {
      await this.repo.updateDevice(sessionId, device);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, sessionId }, 'could not record the device of a session; will retry at its next Authorize');
      return;
    }
    await this.live.cacheSession(sessionId, { ...entry, device: deviceFingerprint(device) }).catch((err) => this.liveFailed(err));
  }

  /**
   * A cache miss: the session from Postgres, cached when valid. Null (and a
   * tombstone, so the next try is refused from the cache) when it is revoked,
   * unknown, not the user's, or idle-expired.
   */
  private async entryFromPostgres(sessionId: Id, userId: Id): Promise<SessionEntry | null> {
    const found = await this.repo.forAuthorize(sessionId);
    if (!found || found.session.userId !== userId) {
      if (!found || found.session.revokedAt) await this.live.markRevoked([sessionId]).catch((err) => this.liveFailed(err));
      return null;
    }
    const { session, user } = found;
    if (session.revokedAt || (await this.idledOut(session, user))) {
      await this.live.markRevoked([sessionId]).catch((err) => this.liveFailed(err));
      return null;
    }
    const entry = this.entryOf(user, session);
    // Not awaited: the answer does not depend on it, and the write cannot revive a session (it is refused
    // over a tombstone); while Redis fails over it would hold the answer until the command gives up.
    void this.live.cacheSession(sessionId, entry).catch((err) => this.liveFailed(err));
    return entry;
  }

  /** The newest activity of a session known anywhere: Postgres, the live state, this instance. */
  private async lastActive(session: SessionRecord): Promise<number> {
    let cached = 0;
    try {
      cached = (await this.live.lastActive([session.id])).get(session.id) ?? 0;
    } catch (err) {
      this.liveFailed(err);
    }
    return Math.max(session.lastActive, cached, this.activity.pending(session.id));
  }

  private entryOf(user: UserProfile, device: DeviceInfo): SessionEntry {
    return { userId: user.id, name: user.name, bot: user.bot, device: deviceFingerprint(device) };
  }

  /**
   * Whether a bound session is still valid (unrevoked, not idle-expired, its
   * user still there): asked for a socket that was quiet for longer than the
   * idle window, before its next frame revives anything.
   */
  async stillValid(session: BoundSession): Promise<boolean> {
    const found = await this.repo.forAuthorize(session.sessionId);
    if (!found || found.session.userId !== session.userId || found.session.revokedAt) return false;
    return !(await this.idledOut(found.session, found.user));
  }

  /** True when a session went unused for the whole idle window. Bot sessions never idle out. */
  private async idledOut(session: SessionRecord, user: UserProfile): Promise<boolean> {
    return !user.bot && (await this.lastActive(session)) <= Date.now() - this.idleMs;
  }

  /**
   * The caller's live sessions, newest activity first, with activity merged
   * from the live state and this instance. A bot's sessions never idle out.
   */
  async list(caller: BoundSession): Promise<ListedSession[]> {
    const now = Date.now();
    const idleSince = caller.bot ? 0 : now - this.idleMs;
    // Read further back than the idle limit: the live state may know newer activity than Postgres.
    const records = await this.repo.liveByUser(caller.userId, caller.bot ? 0 : Math.floor(idleSince - this.activity.persistGranularityMs * 3));
    let cachedActivity = new Map<Id, number>();
    try {
      cachedActivity = await this.live.lastActive(records.map((r) => r.id));
    } catch (err) {
      this.liveFailed(err);
    }
    const merged = records.map((r) => ({
      ...r,
      lastActive: Math.max(r.lastActive, cachedActivity.get(r.id) ?? 0, this.activity.pending(r.id)),
    }));
    const live = merged
      .filter((r) => r.lastActive > idleSince)
      .sort((a, b) => b.lastActive - a.lastActive || (BigInt(b.id) > BigInt(a.id) ? 1 : -1));
    const appNames = await this.clientApps.names(live.map((r) => r.clientId));
    return live.map((r) => ({ ...r, appName: appNames.get(r.clientId) ?? '' }));
  }

  /** Revokes the caller's listed sessions (others' ids are ignored); returns those revoked, once every instance closed their sockets. */
  async revoke(userId: Id, sessionIds: readonly Id[]): Promise<Id[]> {
    const revoked = await this.repo.revoke(userId, sessionIds);
    await this.announceRevoked(revoked);
    return revoked;
  }

  /** Revokes every session of a user, inside the caller's transaction (password reset); call announceRevoked after COMMIT. */
  async revokeAll(userId: Id, db?: Pool | PoolClient): Promise<Id[]> {
    return this.repo.revokeAll(userId, db);
  }

  /**
   * Revokes every session of a user except `keepSessionId` (a password change
   * or deletion request keeps the caller signed in), in the caller's
   * transaction when `db` is one; returns those revoked. Like revokeAll, the
   * caller announces them (announceRevoked) once that transaction committed.
   */
  async revokeAllExcept(userId: Id, keepSessionId: Id, db?: Pool | PoolClient): Promise<Id[]> {
    return this.repo.revokeAllExcept(userId, keepSessionId, db);
  }

  /**
   * When the session last proved the password (its sign-in or sign-up, or a
   * password change on it), for the recent sign-in rule; an Authorize of its
   * token never counts. Null for an unknown or revoked session.
   */
  async authenticatedAt(sessionId: Id): Promise<Date | null> {
    return this.repo.authenticatedAt(sessionId);
  }

  /** The session just proved (or set) the password. */
  async markAuthenticated(sessionId: Id, db?: Pool | PoolClient): Promise<void> {
    await this.repo.markAuthenticated(sessionId, db);
  }

  /**
   * Tells `listener` of every revocation: this instance's at once (even when
   * the broker is down), other instances' through the broker, and those the
   * broker lost, after it reconnects.
   */
  onRevoked(listener: RevocationListener): void {
    this.bus.onRevoked(listener);
  }

  /**
   * After Postgres recorded revocations: tombstones them in the live state
   * (before anyone is told, so a racing Authorize anywhere is refused), then
   * tells every instance and waits for them to close their sockets.
   */
  async announceRevoked(sessionIds: readonly Id[]): Promise<void> {
    if (!sessionIds.length) return;
    this.activity.forget(sessionIds);
    try {
      await this.live.markRevoked(sessionIds);
    } catch (err) {
      // Postgres already says revoked. Until the live state takes the
      // tombstones, this instance refuses the sessions itself and keeps
      // retrying; other instances reconcile when their broker reconnects.
      for (const id of sessionIds) this.untombstoned.add(id);
      this.liveFailed(err);
    }
    await this.bus.announce(sessionIds);
  }

  /**
   * Sessions that ended in Postgres without a revocation here (their user was
   * removed: every instance hears it from Postgres itself): tombstoned, and
   * this instance's sockets of them closed.
   */
  async ended(sessionIds: readonly Id[]): Promise<void> {
    this.activity.forget(sessionIds);
    await this.live.markRevoked(sessionIds).catch((err) => this.liveFailed(err));
    this.bus.tell(sessionIds);
  }

  /** Of these sessions, those Postgres no longer has as valid (removed or revoked), checked in batches. */
  async endedAmong(sessionIds: readonly Id[]): Promise<Id[]> {
    const ended: Id[] = [];
    for (let i = 0; i < sessionIds.length; i += 10_000) {
      const batch = sessionIds.slice(i, i + 10_000);
      const valid = await this.repo.unrevoked(batch);
      for (const id of batch) if (!valid.has(id)) ended.push(id);
    }
    return ended;
  }

  /**
   * After the broker lost messages (Redis reconnected): tombstones again the
   * sessions revoked since the connection was lost, so a cache entry that
   * survived the outage cannot call them valid; returns them, so their
   * sockets here are closed.
   */
  private async reconcileRevocations(lostAt: number): Promise<Id[]> {
    const ids = await this.repo.revokedSince(new Date(lostAt - RECONCILE_MARGIN_MS));
    await this.live.markRevoked(ids).catch((err) => this.liveFailed(err));
    this.log.info({ revoked: ids.length }, 'reconciled revocations after live-state reconnect');
    return ids;
  }

  /** core.Initialize on a signed-in socket: writes the session's device info (the next Authorize re-reads it). */
  async updateDevice(sessionId: Id, device: DeviceInfo): Promise<void> {
    await this.repo.updateDevice(sessionId, device);
    // The next Authorize reads the new device from Postgres once.
    await this.live.forget([sessionId]).catch((err) => this.liveFailed(err));
  }

  /** Records activity of a session: memory only; flushed in batches. */
  noteActivity(sessionId: Id): void {
    this.activity.note(sessionId);
  }

  /** Retries the tombstones the live state could not take, then pushes activity to it. */
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
    await this.activity.flushToLive();
  }

  /**
   * A live-state command failed and Postgres answers instead. Logged at most
   * every LIVE_FAILURE_LOG_MS with the count since, not once per request: an
   * outage fails every request.
   */
  private liveFailed(err: unknown): void {
    this.liveFailures++;
    const now = Date.now();
    if (now - this.liveFailureLoggedAt < LIVE_FAILURE_LOG_MS) return;
    this.log.warn({ err: (err as Error).message, failures: this.liveFailures }, 'live state unavailable; using Postgres');
    this.liveFailures = 0;
    this.liveFailureLoggedAt = now;
  }
}
