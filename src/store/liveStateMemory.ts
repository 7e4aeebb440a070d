/** LiveState in this process, for the embedded single-instance mode. Same rules as liveStateRedis.ts. */
import type { Id } from '../domain/ids.js';
import type { CachedSession, ConnectionListener, LiveState, LiveStateTtls, SessionEntry } from './liveState.js';

interface Slot {
  /** null: a revocation tombstone. */
  entry: SessionEntry | null;
  expiresAt: number;
}

/** How often expired entries are swept out. */
const SWEEP_MS = 60_000;

export class MemoryLiveState implements LiveState {
  private readonly sessions = new Map<Id, Slot>();
  private readonly activity = new Map<Id, { at: number; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;
  private watermark: string | null = null;

  constructor(private readonly ttls: LiveStateTtls) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  async readSession(sessionId: Id, activeAt?: number): Promise<CachedSession> {
    const now = Date.now();
    const slot = this.sessions.get(sessionId);
    if (!slot || slot.expiresAt <= now) return { state: 'unknown' };
    slot.expiresAt = now + (slot.entry ? this.ttls.entryMs : this.ttls.tombstoneMs);
    if (!slot.entry) return { state: 'revoked' };
    if (activeAt !== undefined) this.raiseActivity(sessionId, activeAt, now + this.ttls.activityMs, now);
    return { state: 'valid', entry: slot.entry };
  }

  async cacheSession(sessionId: Id, entry: SessionEntry): Promise<void> {
    const now = Date.now();
    const slot = this.sessions.get(sessionId);
    if (slot && slot.entry === null && slot.expiresAt > now) return;
    this.sessions.set(sessionId, { entry, expiresAt: now + this.ttls.entryMs });
  }

  async markRevoked(sessionIds: readonly Id[]): Promise<void> {
    const expiresAt = Date.now() + this.ttls.tombstoneMs;
    for (const id of sessionIds) {
      this.sessions.set(id, { entry: null, expiresAt });
      this.activity.delete(id);
    }
  }

  async forget(sessionIds: readonly Id[]): Promise<void> {
    for (const id of sessionIds) if (this.sessions.get(id)?.entry) this.sessions.delete(id);
  }

  async touch(activity: ReadonlyMap<Id, number>): Promise<void> {
    const now = Date.now();
    const expiresAt = now + this.ttls.activityMs;
    for (const [id, at] of activity) this.raiseActivity(id, at, expiresAt, now);
  }

  /** Records activity at `at`, never moving a live record backwards. */
  private raiseActivity(id: Id, at: number, expiresAt: number, now: number): void {
    const known = this.activity.get(id);
    this.activity.set(id, { at: Math.max(at, known && known.expiresAt > now ? known.at : 0), expiresAt });
  }

  async lastActive(sessionIds: readonly Id[]): Promise<Map<Id, number>> {
    const now = Date.now();
    const out = new Map<Id, number>();
    for (const id of sessionIds) {
      const known = this.activity.get(id);
      if (known && known.expiresAt > now) out.set(id, known.at);
    }
    return out;
  }

  async readWatermark(): Promise<string | null> {
    return this.watermark;
  }

  async raiseWatermark(horizon: string): Promise<void> {
    if (this.watermark === null || BigInt(horizon) > BigInt(this.watermark)) this.watermark = horizon;
  }

  onConnection(_listener: ConnectionListener): void {}

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, slot] of this.sessions) if (slot.expiresAt <= now) this.sessions.delete(id);
    for (const [id, known] of this.activity) if (known.expiresAt <= now) this.activity.delete(id);
  }
}
