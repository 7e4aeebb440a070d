/**
 * Tells every other gateway instance of revoked sessions, so each closes its
 * sockets of them, and makes a revocation final before it is answered: the
 * revoking instance (having closed its own) publishes, and waits until every
 * other instance that received the message confirms it has closed its
 * sockets (at most ACK_TIMEOUT_MS: an instance that does not confirm in time
 * is logged, and the answer goes out anyway; its sockets still close when the
 * message is handled, and every new Authorize is refused by the tombstone the
 * revoker wrote before publishing).
 *
 * The bus only carries messages: what an instance does with a revocation it
 * hears, and how it catches up after the broker lost messages (reconnected),
 * is revocations.ts's.
 */
import { randomBytes } from 'node:crypto';
import type { Id } from '../domain/ids.js';
import { decodeRevocation, encodeRevocation } from '../domain/revocation.js';
import type { Logger } from '../logger.js';
import { Topic, type Broker } from '../store/broker.js';

/** Longest wait for other instances' confirmations before a revocation is answered. */
const ACK_TIMEOUT_MS = 1_000;

/** What the bus tells its owner. */
export interface RevocationBusHandlers {
  /**
   * Another instance revoked these sessions (published at `publishedAt`,
   * Unix ms). Close their sockets before returning: the confirmation the
   * revoker waits for is sent once this returns.
   */
  heard(sessionIds: readonly Id[], publishedAt: number): void;
  /** The broker reconnected: messages published since `lostAt` (Unix ms) may be lost. */
  missed(lostAt: number): void;
}

interface Pending {
  acked: number;
  /** Confirmations awaited; null until publish says how many instances received the message. */
  expected: number | null;
  done: () => void;
}

export class RevocationBus {
  /** This instance's name on the bus (confirmations are addressed to it). */
  private readonly instance = randomBytes(8).toString('hex');
  private readonly pending = new Map<string, Pending>();

  private readonly broker: Broker;
  private readonly log: Logger;

  constructor(deps: { broker: Broker; log: Logger }) {
    ({ broker: this.broker, log: this.log } = deps);
  }

  /** Subscribes to revocations and confirmations. */
  async start(handlers: RevocationBusHandlers): Promise<void> {
    await this.broker.subscribe(Topic.SESSIONS_REVOKED, (payload) => {
      const revocation = decodeRevocation(payload);
      if (!revocation || revocation.from === this.instance) return;
      handlers.heard(revocation.ids, revocation.at ?? Date.now());
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
    this.broker.onResync((lostAt) => handlers.missed(lostAt));
  }

  /**
   * Tells every other instance; resolves when they all confirmed, or after
   * ACK_TIMEOUT_MS. Never throws: with the broker down, other instances
   * reconcile when it returns.
   */
  async announce(sessionIds: readonly Id[]): Promise<void> {
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
}
