/** In-process LiveState for the embedded single-instance mode. */
import type { Id } from '../domain/ids.js';
import { REVOKED_TOMBSTONE_TTL_MS, SESSION_CACHE_TTL_MS, type CachedSession, type LiveState } from './liveState.js';

interface Entry {
  userId: Id | null; // null: revoked tombstone
  expiresAt: number;
}

export class MemoryLiveState implements LiveState {
  private readonly sessions = new Map<Id, Entry>();
  private readonly activity = new Map<Id, number>();
  private sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  async getSession(sessionId: Id): Promise<CachedSession> {
    const entry = this.sessions.get(sessionId);
    if (!entry || entry.expiresAt <= Date.now()) return { state: 'unknown' };
    if (entry.userId === null) return { state: 'revoked' };
    return { state: 'valid', userId: entry.userId, lastActive: this.activity.get(sessionId) ?? null };
  }

  async cacheSession(sessionId: Id, userId: Id, lastActive: number): Promise<void> {
    const entry = this.sessions.get(sessionId);
    if (entry && entry.userId === null && entry.expiresAt > Date.now()) return;
    this.sessions.set(sessionId, { userId, expiresAt: Date.now() + SESSION_CACHE_TTL_MS });
    if (!this.activity.has(sessionId)) this.activity.set(sessionId, lastActive);
  }

  async markRevoked(sessionIds: readonly Id[]): Promise<void> {
    for (const id of sessionIds) {
      this.sessions.set(id, { userId: null, expiresAt: Date.now() + REVOKED_TOMBSTONE_TTL_MS });
      this.activity.delete(id);
    }
  }

  async touch(activity: ReadonlyMap<Id, number>): Promise<void> {
    for (const [id, at] of activity) {
      if (at > (this.activity.get(id) ?? 0)) this.activity.set(id, at);
    }
  }

  async lastActive(sessionIds: readonly Id[]): Promise<Map<Id, number>> {
    const out = new Map<Id, number>();
    for (const id of sessionIds) {
      const at = this.activity.get(id);
      if (at !== undefined) out.set(id, at);
    }
    return out;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.sessions) {
      if (entry.expiresAt <= now) {
        this.sessions.delete(id);
        this.activity.delete(id);
      }
    }
  }
}
