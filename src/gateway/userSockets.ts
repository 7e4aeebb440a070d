/**
 * Pushes to users' sockets across instances (issue 26): this instance's
 * authorized sockets by user, one broker topic per user it holds a socket of
 * (`user.<id>`, subscribed when the user's first socket here is bound,
 * dropped with the last), all over the broker's one subscriber connection
 * (sharded pub/sub on a Redis Cluster). The internal API (api/push.ts)
 * publishes a push or a disconnect to each target user's topic; the instances
 * holding a socket of that user deliver it to their matching sockets, each
 * in a ServerMessage with the connection's next sequence id.
 *
 * At most once (pub/sub keeps nothing), in order per user on each instance
 * (one topic per user, one publisher connection, handlers run in arrival
 * order). It also refreshes the presence entries of the sessions held here.
 */
import type { Id } from '../domain/ids.js';
import type { BoundSession } from '../domain/session.js';
import type { Logger } from '../logger.js';
import type { Connection } from './connection.js';
import type { BindingListener } from './revocationFanout.js';

/** The broker as this module uses it (store/broker.ts implements it). */
export interface PushBroker {
  publish(topic: string, payload: string): Promise<number>;
  subscribe(topic: string, handler: (payload: string) => void): Promise<void>;
  unsubscribe(topic: string): Promise<void>;
}

/** The presence entries (store/presence.ts implements it). */
export interface PresenceEntries {
  refresh(pairs: ReadonlyArray<readonly [userId: Id, sessionId: Id]>, untilMs: number): Promise<void>;
  sessionsOnline(userIds: readonly Id[], nowMs: number): Promise<number[]>;
}

/** What travels on a user's topic: an update for some of their sessions, or a close. */
export interface UserMessage {
  /** Base64 of an encoded updates.Update (a push). */
  u?: string;
  /** Close code (a disconnect). */
  c?: number;
  /** Close reason. */
  r?: string;
  /** Only these sessions of the user (absent: all). */
  s?: Id[];
  /** Never these sessions. */
  x?: Id[];
}

export const userTopic = (userId: Id) => `user.${userId}`;

/** Users whose presence entries one refresh step writes before it waits for their replies. */
const REFRESH_CHUNK = 256;

interface Held {
  conns: Set<Connection>;
  /** Settles once the topic is subscribed. */
  subscribed: Promise<void>;
}

export class UserSockets implements BindingListener {
  private readonly users = new Map<Id, Held>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly deps: {
      broker: PushBroker;
      presence: PresenceEntries;
      /** PRESENCE_REFRESH_MS: presence entries are refreshed this often and valid for twice as long. */
      refreshMs: number;
      log: Logger;
      /** Sockets that got a push (metrics). */
      delivered?: (sockets: number) => void;
    },
  ) {
    this.timer = setInterval(() => void this.refreshAll(), deps.refreshMs);
    this.timer.unref();
  }

  /** Users with a socket here. */
  get heldUsers(): number {
    return this.users.size;
  }

  /** Resolves once pushes to this user reach this instance (its topic is subscribed). */
  ready(userId: Id): Promise<void> | undefined {
    return this.users.get(userId)?.subscribed;
  }

  /** A socket was bound to `session`: subscribes to its user's topic (the first socket of the user here), writes presence. */
  bound(conn: Connection, session: BoundSession): void {
    let held = this.users.get(session.userId);
    if (!held) {
      const topic = userTopic(session.userId);
      const subscribed = this.deps.broker.subscribe(topic, (payload) => this.heard(session.userId, payload));
      held = { conns: new Set(), subscribed: subscribed.catch((err) => this.deps.log.warn({ err, topic }, 'could not subscribe to a user topic')) };
      this.users.set(session.userId, held);
    }
    held.conns.add(conn);
    void this.deps.presence
      .refresh([[session.userId, session.sessionId]], Date.now() + 2 * this.deps.refreshMs)
      .catch((err) => this.deps.log.warn({ err }, 'could not write presence'));
  }

  /** A socket's session was unbound (closed, revoked, replaced). */
  unbound(conn: Connection, session: BoundSession): void {
    const { userId } = session;
    const held = this.users.get(userId);
    if (!held || !held.conns.delete(conn) || held.conns.size) return;
    // Once the subscription settled (a subscribe and its unsubscribe reach the broker in order), and only
    // if no socket of the user was bound here meanwhile (it then keeps this subscription).
    void held.subscribed
      .then(() => {
        if (held.conns.size || this.users.get(userId) !== held) return;
        this.users.delete(userId);
        return this.deps.broker.unsubscribe(userTopic(userId));
      })
      .catch((err) => this.deps.log.warn({ err, userId }, 'could not unsubscribe from a user topic'));
  }

  /**
   * Publishes to one user's topic; resolves with how many instances received
   * it. `message` may be given already serialized (JSON.stringify of a
   * UserMessage), so a push to many users serializes it once.
   */
  publish(userId: Id, message: UserMessage | string): Promise<number> {
    return this.deps.broker.publish(userTopic(userId), typeof message === 'string' ? message : JSON.stringify(message));
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private heard(userId: Id, payload: string): void {
    const held = this.users.get(userId);
    if (!held) return;
    let message: UserMessage;
    try {
      message = JSON.parse(payload) as UserMessage;
    } catch {
      return;
    }
    const only = message.s ? new Set(message.s) : null;
    const except = message.x?.length ? new Set(message.x) : null;
    const update = message.u === undefined ? null : Buffer.from(message.u, 'base64');
    let sent = 0;
    for (const conn of held.conns) {
      const session = conn.session;
      if (!session || session.userId !== userId) continue;
      if (only && !only.has(session.sessionId)) continue;
      if (except?.has(session.sessionId)) continue;
      if (update) {
        conn.sendEncoded('update', update);
        sent++;
      } else if (message.c !== undefined) conn.close(message.c as never, message.r ?? '');
    }
    if (sent) this.deps.delivered?.(sent);
  }

  /**
   * Refreshes every held session's presence entry, REFRESH_CHUNK users at a
   * time, each chunk after the previous one's replies: issuing all at once
   * (three Redis commands per user, 15 000 for 5 000 users) held the event
   * loop for over a second on a loaded machine every PRESENCE_REFRESH_MS, and
   * pushes waited behind it (bench figure 10, cross-instance p99).
   */
  private async refreshAll(): Promise<void> {
    const until = Date.now() + 2 * this.deps.refreshMs;
    let pairs: Array<[Id, Id]> = [];
    let users = 0;
    for (const [userId, held] of this.users) {
      const sessions = new Set<Id>();
      for (const conn of held.conns) if (conn.session) sessions.add(conn.session.sessionId);
      for (const s of sessions) pairs.push([userId, s]);
      if (++users % REFRESH_CHUNK === 0) {
        await this.refreshChunk(pairs, until);
        pairs = [];
      }
    }
    if (pairs.length) await this.refreshChunk(pairs, until);
  }

  private refreshChunk(pairs: Array<[Id, Id]>, until: number): Promise<void> {
    return this.deps.presence.refresh(pairs, until).catch((err) => this.deps.log.warn({ err }, 'could not refresh presence'));
  }
}
