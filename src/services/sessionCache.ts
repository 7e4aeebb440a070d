/**
 * Resuming a token (auth.authorize) through the session cache.
 *
 * The live state (Redis, or memory in the embedded mode) caches what
 * Authorize needs of each session, so a warm Authorize runs no Postgres
 * statement: a synchronous token check and one Redis round trip, which
 * records the activity too. Postgres is read on a miss (a session unused for
 * the whole cache TTL, Redis lost its data, or the cache is doubted while it
 * catches up: liveStateHealth.ts) and written only when the device really
 * changed. A tombstone is always believed; when Redis fails, Postgres answers.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import { NO_DEVICE, type DeviceInfo } from '../domain/device.js';
import type { Id } from '../domain/ids.js';
import type { BoundSession, SessionRecord } from '../domain/session.js';
import type { UserProfile } from '../domain/user.js';
import type { Logger } from '../logger.js';
import type { CachedSession, LiveState, SessionEntry } from '../store/liveState.js';
import type { SessionsRepo } from '../store/sessionsRepo.js';
import type { LiveStateHealth } from './liveStateHealth.js';
import { RepeatedRefusals } from './repeatedRefusals.js';
import type { Revocations } from './revocations.js';
import type { SessionActivity } from './sessionActivity.js';
import type { TokenService } from './tokens.js';

/** A session resumed by its token: what auth.authorize answers with. */
export interface Authorized {
  session: BoundSession;
  user: UserProfile;
}

/** What introspection answers of a valid token. */
export interface Introspected extends Authorized {
  emailVerified: boolean;
  device: DeviceInfo;
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

/** What the cache keeps of a valid session. */
export function cacheEntryOf(user: UserProfile & { emailVerified?: boolean }, device: DeviceInfo): SessionEntry {
  const entry: SessionEntry = { userId: user.id, name: user.name, bot: user.bot, device: deviceFingerprint(device) };
  if (user.emailVerified !== undefined) {
    entry.emailVerified = user.emailVerified;
    entry.deviceInfo = { clientId: device.clientId, deviceType: device.deviceType, deviceVersion: device.deviceVersion, appVersion: device.appVersion };
  }
  return entry;
}

export interface SessionCacheDeps {
  repo: SessionsRepo;
  live: LiveState;
  health: LiveStateHealth;
  tokens: TokenService;
  activity: SessionActivity;
  /** Sessions Postgres revoked whose tombstone the live state has not taken yet. */
  revocations: Pick<Revocations, 'awaitingTombstone'>;
  /** SESSION_IDLE_DAYS in ms. */
  idleMs: number;
  clock: Clock;
  log: Logger;
}

export class SessionCache {
  private readonly refusals: RepeatedRefusals;

  constructor(private readonly deps: SessionCacheDeps) {
    this.refusals = new RepeatedRefusals(deps.log);
  }

  /**
   * auth.authorize: checks a token and its session, and records the device
   * the client reported when it changed. Null when the token is forged,
   * malformed, revoked or idle-expired, or its user is gone.
   */
  async authorize(token: string, device: DeviceInfo): Promise<Authorized | null> {
    return (await this.check(token, device))?.authorized ?? null;
  }

  /** Authorize's checks, and the cache entry they passed on. */
  private async check(token: string, device: DeviceInfo): Promise<{ authorized: Authorized; entry: SessionEntry } | null> {
    const { tokens, live, health, activity } = this.deps;
    const checked = tokens.check(token);
    const claims = checked === undefined ? await tokens.verify(token) : checked;
    if (!claims) return null;
    const { sessionId, userId } = claims;
    if (this.deps.revocations.awaitingTombstone(sessionId)) return null;
    let cached: CachedSession = { state: 'unknown' };
    const now = this.deps.clock();
    const generation = health.generation;
    try {
      // The read records this Authorize's activity too when the entry is valid.
      cached = await live.readSession(sessionId, now);
    } catch (err) {
      health.failed(err);
    }
    if (cached.state === 'revoked') {
      this.refusals.note(sessionId);
      return null;
    }
    let entry: SessionEntry | null = cached.state === 'valid' && cached.entry.userId === userId && health.believes(generation) ? cached.entry : null;
    if (entry) {
      activity.noteRecorded(sessionId, now);
    } else {
      entry = await this.entryFromPostgres(sessionId, userId);
      if (!entry) {
        this.refusals.note(sessionId);
        return null;
      }
      activity.note(sessionId, now);
    }
    if (reportsDevice(device) && deviceFingerprint(device) !== entry.device) await this.recordDevice(sessionId, entry, device);
    return { authorized: { session: { sessionId, userId, bot: entry.bot }, user: { id: userId, name: entry.name, bot: entry.bot } }, entry };
  }

  /**
   * POST /v1/sessions/introspect: whether a token is valid now, through the
   * same checks as auth.authorize (the token, then the cache entry, where a
   * revocation's tombstone lands before auth.revokeSessions answers), and
   * what another service needs of its session. Null when Authorize would
   * refuse it.
   */
  async introspect(token: string): Promise<Introspected | null> {
    // The same read as Authorize's, which also counts as the session's use: an entry the cache keeps is one in use (its TTL
    // is what idles sessions out), so a look that extended it without counting would keep an idle session valid.
    const checked = await this.check(token, NO_DEVICE);
    if (!checked) return null;
    const { authorized, entry } = checked;
    // A warm entry holds all of it: no Postgres. Only an entry cached by an older release sends us there.
    if (entry.emailVerified !== undefined && entry.deviceInfo) return { ...authorized, emailVerified: entry.emailVerified, device: entry.deviceInfo };
    const details = await this.deps.repo.introspectionDetails(authorized.session.sessionId);
    if (!details) return null;
    return { ...authorized, emailVerified: details.emailVerified, device: details.device };
  }

  /**
   * Whether a bound session is still valid (unrevoked, not idle-expired, its
   * user still there): asked for a socket that was quiet for longer than the
   * idle window, before its next frame revives anything.
   */
  async stillValid(session: BoundSession): Promise<boolean> {
    const found = await this.deps.repo.forAuthorize(session.sessionId);
    if (!found || found.session.userId !== session.userId || found.session.revokedAt) return false;
    return !(await this.idledOut(found.session, found.user));
  }

  /**
   * The device a session is used from changed: Postgres, then the cache. The
   * device is what GetSessions shows, not a credential: when Postgres cannot
   * take it, Authorize still succeeds, and the next Authorize tries again.
   */
  private async recordDevice(sessionId: Id, entry: SessionEntry, device: DeviceInfo): Promise<void> {
    try {
      await this.deps.repo.updateDevice(sessionId, device);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, sessionId }, 'could not record the device of a session; will retry at its next Authorize');
      return;
    }
    const updated: SessionEntry = { ...entry, device: deviceFingerprint(device) };
    if (entry.emailVerified !== undefined) updated.deviceInfo = { clientId: device.clientId, deviceType: device.deviceType, deviceVersion: device.deviceVersion, appVersion: device.appVersion };
    await this.deps.live.cacheSession(sessionId, updated).catch((err) => this.deps.health.failed(err));
  }

  /**
   * A cache miss: the session from Postgres, cached when valid. Null (and a
   * tombstone, so the next try is refused from the cache) when it is revoked,
   * unknown, not the user's, or idle-expired.
   */
  private async entryFromPostgres(sessionId: Id, userId: Id): Promise<SessionEntry | null> {
    const { repo, live, health } = this.deps;
    const found = await repo.forAuthorize(sessionId);
    if (!found || found.session.userId !== userId) {
      if (!found || found.session.revokedAt) await live.markRevoked([sessionId]).catch((err) => health.failed(err));
      return null;
    }
    const { session, user } = found;
    if (session.revokedAt || (await this.idledOut(session, user))) {
      await live.markRevoked([sessionId]).catch((err) => health.failed(err));
      return null;
    }
    const entry = cacheEntryOf(user, session);
    // Not awaited: the answer does not depend on it, and the write cannot revive a session (it is refused
    // over a tombstone); while Redis fails over it would hold the answer until the command gives up.
    void live.cacheSession(sessionId, entry).catch((err) => health.failed(err));
    return entry;
  }

  /** True when a session went unused for the whole idle window. Bot sessions never idle out. */
  private async idledOut(session: SessionRecord, user: UserProfile): Promise<boolean> {
    return !user.bot && (await this.lastActive(session)) <= this.deps.clock() - this.deps.idleMs;
  }

  /** The newest activity of a session known anywhere: Postgres, the live state, this instance. */
  private async lastActive(session: SessionRecord): Promise<number> {
    let cached = 0;
    try {
      cached = (await this.deps.live.lastActive([session.id])).get(session.id) ?? 0;
    } catch (err) {
      this.deps.health.failed(err);
    }
    return Math.max(session.lastActive, cached, this.deps.activity.pending(session.id));
  }
}
