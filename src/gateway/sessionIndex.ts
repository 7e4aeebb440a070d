/**
 * Session id → the sockets of this instance bound to it. Most sessions have
 * one socket, so the index holds the connection itself and only grows a Set
 * for the second one: an idle authorized socket costs one Map entry, not a Set
 * (this is on the memory path measured by `npm run bench`, figure 2). Keeps
 * the count of bound sockets so metrics never walk the index.
 */
import type { Id } from '../domain/ids.js';

export class SessionIndex<C> {
  private readonly entries = new Map<Id, C | Set<C>>();
  private bound = 0;

  /** Sockets bound to some session. */
  get size(): number {
    return this.bound;
  }

  has(sessionId: Id): boolean {
    return this.entries.has(sessionId);
  }

  sessionIds(): Id[] {
    return [...this.entries.keys()];
  }

  add(sessionId: Id, conn: C): void {
    const entry = this.entries.get(sessionId);
    if (entry === undefined) this.entries.set(sessionId, conn);
    else if (entry instanceof Set) {
      if (entry.has(conn)) return;
      entry.add(conn);
    } else if (entry === conn) return;
    else this.entries.set(sessionId, new Set([entry, conn]));
    this.bound++;
  }

  remove(sessionId: Id, conn: C): void {
    const entry = this.entries.get(sessionId);
    if (entry === conn) this.entries.delete(sessionId);
    else if (entry instanceof Set && entry.delete(conn)) {
      if (entry.size === 1) this.entries.set(sessionId, entry.values().next().value as C);
    } else return;
    this.bound--;
  }

  /** Removes the session and returns the sockets that were bound to it. */
  take(sessionId: Id): C[] {
    const entry = this.entries.get(sessionId);
    if (entry === undefined) return [];
    this.entries.delete(sessionId);
    const conns = entry instanceof Set ? [...entry] : [entry];
    this.bound -= conns.length;
    return conns;
  }
}
