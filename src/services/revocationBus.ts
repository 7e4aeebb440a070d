/**
 * Tells every gateway instance of revoked sessions, so each closes its sockets
 * of them, and makes a revocation final before it is answered: the revoking
 * instance tells its own listeners at once, publishes, and waits until every
 * other instance that received the message confirms it has closed its
 * sockets (at most ACK_TIMEOUT_MS: an instance that does not confirm in time
 * is logged, and the answer goes out anyway; its sockets still close when the
 * message is handled, and every new Authorize is refused by the tombstone the
 * revoker wrote before publishing).
 *
 * Instances that missed messages (the broker reconnected) reconcile from
 * Postgres: `reconcile` returns what was revoked since the connection was
 * lost, and the listeners hear it like any revocation.
 */
import { randomBytes } from 'node:crypto';
import type { Id } from '../domain/ids.js';
import { decodeRevocation, encodeRevocation } from '../domain/revocation.js';
import type { Logger } from '../logger.js';
import { Topic, type Broker } from '../store/broker.js';

/** Longest wait for other instances' confirmations before a revocation is answered. */
const ACK_TIMEOUT_MS = 1_000;

/**
 * Told of revoked sessions, whichever instance revoked them: at once for this
 * instance's own revocations, through the broker for the others'.
 * `publishedAt` (Unix ms) is set for revocations heard from the broker.
 */
export type RevocationListener = (sessionIds: readonly Id[], publishedAt?: number) => void;

interface Pending {
  acked: number;
  /** Confirmations awaited; null until publish says how many instances received the message. */
  expected: number | null;
  done: () => void;
}

export class RevocationBus {
  /** This instance's name on the bus (confirmations are addressed to it). */
  private readonly instance = randomBytes(8).toString('hex');
  private readonly listeners: RevocationListener[] = [];
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly broker: Broker,
    private readonly log: Logger,
  ) {}

  /** Subscribes to revocations and confirmations; `reconcile` runs after the broker lost messages. */
  async start(reconcile: (lostAt: number) => Promise<readonly Id[]>): Promise<void> {
    await this.broker.subscribe(Topic.SESSIONS_REVOKED, (payload) => {
      const revocation = decodeRevocation(payload);
      if (!revocation || revocation.from === this.instance) return;
      this.tell(revocation.ids, revocation.at);
      if (revocation.from && revocation.rid) {
        this.broker.publish(Topic.revocationAcks(revocation.from), revocation.rid).catch((err) => {
          this.log.warn({ err: (err as Error).message }, 'could not confirm a revocation');
        });
      }
    });
    await this.broker.subscribe(Topic.revocationAcks(this.instance), (rid) => {
      const waiting = this.pending.get(rid);
      if (!waiting) return;
      waiting.acked++;
      this.settle(rid, waiting);
    });
    this.broker.onResync((lostAt) => {
      reconcile(lostAt).then(
        (ids) => ids.length && this.tell(ids),
        (err) => this.log.warn({ err }, 'could not reconcile revocations'),
      );
    });
  }

  onRevoked(listener: RevocationListener): void {
    this.listeners.push(listener);
  }

  /**
   * Tells this instance's listeners at once, then every other instance;
   * resolves when they all confirmed, or after ACK_TIMEOUT_MS. Never throws:
   * with the broker down, other instances reconcile when it returns.
   */
  async announce(sessionIds: readonly Id[]): Promise<void> {
    // Delivered here at once: a fan-out time of zero for this instance.
    this.tell(sessionIds, Date.now());
    const rid = randomBytes(8).toString('hex');
    let done!: () => void;
    const confirmed = new Promise<void>((resolve) => (done = resolve));
    const waiting: Pending = { acked: 0, expected: null, done };
    this.pending.set(rid, waiting);
    let timer: NodeJS.Timeout | undefined;
    try {
      const receivers = await this.broker.publish(
        Topic.SESSIONS_REVOKED,
        encodeRevocation({ ids: [...sessionIds], at: Date.now(), from: this.instance, rid }),
      );
      // This instance's own subscription counts among the receivers.
      waiting.expected = Math.max(0, receivers - 1);
      this.settle(rid, waiting);
      timer = setTimeout(done, ACK_TIMEOUT_MS);
      await confirmed;
      if (waiting.acked < waiting.expected) {
        this.log.warn({ expected: waiting.expected, confirmed: waiting.acked }, 'revocation not confirmed by every instance in time');
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not publish a revocation; other instances reconcile when the broker returns');
    } finally {
      clearTimeout(timer);
      this.pending.delete(rid);
    }
  }

  private settle(rid: string, waiting: Pending): void {
    if (waiting.expected !== null && waiting.acked >= waiting.expected) {
      this.pending.delete(rid);
      waiting.done();
    }
  }

  /** Tells this instance's listeners only (each instance hears the event itself, e.g. from Postgres). */
  tell(sessionIds: readonly Id[], publishedAt?: number): void {
    for (const listener of this.listeners) listener(sessionIds, publishedAt);
  }
}
