/**
 * The event dispatcher: one instance at a time across the deployment (an
 * advisory lock) numbers the outbox's committed events (migration 0013),
 * delivers them to WEBHOOK_URL signed per Standard Webhooks (the
 * `standardwebhooks` package, WEBHOOK_SECRET), and prunes old ones.
 *
 * - In order per user: a user's events go one after another, the next only
 *   once the previous was accepted; a user whose oldest pending event waits
 *   for a retry waits whole. Different users' events go in parallel
 *   (WEBHOOK_CONCURRENCY).
 * - Fair: a batch takes at most EVENTS_PER_USER_PER_BATCH events of any one
 *   user, round-robin across users (EventsRepo.due), so a user with
 *   thousands queued never holds back everyone else's events.
 * - At least once: an event is marked delivered after the receiver answered
 *   2xx; a dispatcher killed in between leaves it pending, and the next
 *   dispatcher sends it again with the same `webhook-id` (the event id).
 * - Failures retry with exponential backoff and jitter (half to all of
 *   WEBHOOK_RETRY_FIRST_SECONDS doubling per attempt, at most
 *   WEBHOOK_RETRY_MAX_SECONDS) until WEBHOOK_RETRY_HOURS after the event was
 *   written; then it is marked failed (`admin events retry` sends it again).
 * - Never in the way of a request: it runs beside them on timers, with its
 *   own connections (undici, WEBHOOK_TIMEOUT_MS per call); a slow or dead
 *   receiver holds only the dispatcher.
 * - Observed: the backlog (pending events, the oldest one's age), delivered
 *   and failed counts and delivery latency go to an EventsObserver
 *   (/metrics, src/metrics.ts).
 */
import { Webhook } from 'standardwebhooks';
import { Agent, request } from 'undici';
import { systemClock, type Clock } from '../domain/clock.js';
import { webhookBody } from '../domain/events.js';
import type { Id } from '../domain/ids.js';
import type { Logger } from '../logger.js';
import type { AdvisoryLock } from '../store/advisoryLock.js';
import type { EventsRepo, StoredEvent } from '../store/eventsRepo.js';

/** Events numbered per statement, and considered per delivery round. */
const NUMBER_BATCH = 5_000;
const DELIVERY_BATCH = 1_000;
/**
 * Events of one user per delivery batch at most: they go one after another,
 * so a bigger share would hold the round (and every other user's next
 * events) for that many calls in a row.
 */
export const EVENTS_PER_USER_PER_BATCH = 100;
/** How often the dispatching instance reads the backlog for its observer. */
const BACKLOG_EVERY_MS = 1_000;
/**
 * Pause between rounds when there was nothing to do: IDLE_POLL_MS after a
 * round that worked, doubling with each idle round up to IDLE_POLL_MAX_MS.
 * An idle gateway then asks Postgres about once a second, not five times (each
 * round had been a numbering transaction with a row lock: the largest part
 * of an idle worker's CPU and of the Postgres statements beside Authorize).
 */
const IDLE_POLL_MS = 200;
const IDLE_POLL_MAX_MS = 1_000;

/** The longest idle pause: never longer than the shortest retry backoff (half of the first), so retries stay on time. */
function idlePollCapMs(webhook: WebhookTarget | null): number {
  return webhook ? Math.max(IDLE_POLL_MS, Math.min(IDLE_POLL_MAX_MS, webhook.firstRetryMs / 2)) : IDLE_POLL_MAX_MS;
}
/** How often an instance that does not hold the lock tries to take it. */
const LOCK_RETRY_MS = 1_000;
const PRUNE_EVERY_MS = 3_600_000;

export interface WebhookTarget {
  url: string;
  /** `whsec_` + base64. */
  secret: string;
  timeoutMs: number;
  concurrency: number;
  retryHours: number;
  firstRetryMs: number;
  maxRetryMs: number;
}

/** What the dispatcher reports (the metrics implement it). */
export interface EventsObserver {
  /** Pending events (committed, not delivered or failed yet) and the age of the oldest, in seconds; zeros on an instance that does not dispatch. */
  eventsBacklog(pending: number, oldestSeconds: number): void;
  /** An event accepted by the receiver, `seconds` after it was written. */
  eventDelivered(seconds: number): void;
  /** A failed attempt; `final` when retries ended and the event was marked failed. */
  eventAttemptFailed(final: boolean): void;
  /** One webhook call's duration, whatever its outcome. */
  webhookCall(seconds: number): void;
}

export interface EventDispatcherDeps {
  repo: EventsRepo;
  lock: AdvisoryLock;
  /** Null without WEBHOOK_URL: events are only numbered (the feed serves them) and pruned. */
  webhook: WebhookTarget | null;
  retentionDays: number;
  /** Sent in the user-agent, so a receiver can tell which instance delivered. */
  instance: string;
  log: Logger;
  random?: () => number;
  observer?: EventsObserver;
  /** Read for the retention only (what to prune, and when): tests move it instead of waiting days. Retries follow Postgres's time. */
  clock?: Clock;
}

/** The delay before retry number `attempt` (1 = after the first failure): exponential, capped, with equal jitter. */
export function retryDelayMs(attempt: number, firstMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, firstMs * 2 ** Math.min(attempt - 1, 40));
  return Math.round(base / 2 + (random() * base) / 2);
}

export class EventDispatcher {
  private readonly signer: Webhook | null;
  private readonly agent: Agent | null;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastPrune = -Infinity;
  private lastBacklog = -Infinity;
  private readonly clock: Clock;
  private idlePollMs = IDLE_POLL_MS;
  /** Rounds run while holding the lock (the tests watch it). */
  dispatching = false;

  constructor(private readonly deps: EventDispatcherDeps) {
    this.signer = deps.webhook ? new Webhook(deps.webhook.secret) : null;
    this.agent = deps.webhook ? new Agent({ connections: deps.webhook.concurrency, keepAliveTimeout: 10_000 }) : null;
    this.clock = deps.clock ?? systemClock;
    deps.lock.onLost(() => {
      this.dispatching = false;
      // Another instance dispatches now and reports the backlog: not two stale copies of it.
      this.deps.observer?.eventsBacklog(0, 0);
      this.lastBacklog = -Infinity;
    });
  }

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.deps.lock.release();
    await this.agent?.close().catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
      });
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let next = this.idlePollMs;
    try {
      if (!this.deps.lock.held) {
        if (!(await this.deps.lock.tryAcquire())) {
          this.schedule(LOCK_RETRY_MS);
          return;
        }
        this.dispatching = true;
        this.deps.log.info({ instance: this.deps.instance }, 'dispatching account events (this instance holds the dispatcher lock)');
      }
      const worked = await this.round();
      if (worked) next = 0;
      this.idlePollMs = worked ? IDLE_POLL_MS : Math.min(idlePollCapMs(this.deps.webhook), next * 2);
    } catch (err) {
      this.deps.log.warn({ err }, 'event dispatch round failed; retrying');
      next = LOCK_RETRY_MS;
    }
    this.schedule(next);
  }

  /** One round: number new events, deliver those due, prune now and then. True when it did something. */
  private async round(): Promise<boolean> {
    const { repo } = this.deps;
    // The numbering transaction only when there is something to number: idle rounds are one cheap read.
    const numbered = (await repo.anyUnnumbered()) ? await repo.number(NUMBER_BATCH) : 0;
    let delivered = 0;
    if (this.deps.webhook && this.deps.lock.held) delivered = await this.deliverDue();
    if (this.deps.webhook && this.deps.observer && Date.now() - this.lastBacklog >= BACKLOG_EVERY_MS) {
      this.lastBacklog = Date.now();
      const { pending, oldestSeconds } = await repo.backlog();
      this.deps.observer.eventsBacklog(pending, oldestSeconds);
    }
    if (this.clock() - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = this.clock();
      const before = new Date(this.clock() - this.deps.retentionDays * 86_400_000);
      const pruned = await repo.prune(before, this.deps.webhook === null);
      // Logged every time (debug when nothing went), so a pass that kept everything is seen too.
      this.deps.log[pruned ? 'info' : 'debug']({ pruned, before }, 'pruned old account events');
    }
    return numbered > 0 || delivered > 0;
  }

  /** Delivers the due events, users in parallel, each user's in order; returns how many were accepted. */
  private async deliverDue(): Promise<number> {
    const due = await this.deps.repo.due(DELIVERY_BATCH, EVENTS_PER_USER_PER_BATCH);
    const byUser = new Map<Id, StoredEvent[]>();
    for (const event of due) {
      const list = byUser.get(event.userId);
      if (list) list.push(event);
      else byUser.set(event.userId, [event]);
    }
    const chains = [...byUser.values()];
    let accepted = 0;
    const worker = async () => {
      for (let chain = chains.shift(); chain; chain = chains.shift()) {
        const done: Id[] = [];
        for (const event of chain) {
          if (!this.deps.lock.held) break;
          const error = await this.send(event);
          if (error === null) {
            done.push(event.id);
            this.deps.observer?.eventDelivered((Date.now() - event.createdAt.getTime()) / 1000);
            continue;
          }
          await this.deps.repo.markDelivered(done.splice(0));
          await this.failed(event, error);
          break;
        }
        await this.deps.repo.markDelivered(done);
        accepted += done.length;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.webhook!.concurrency, chains.length) }, worker));
    return accepted;
  }

  /** Posts one event; null when the receiver accepted it (2xx), else what went wrong. */
  private async send(event: StoredEvent): Promise<string | null> {
    const webhook = this.deps.webhook!;
    const body = webhookBody(event);
    const now = new Date();
    const started = performance.now();
    try {
      const res = await request(webhook.url, {
        method: 'POST',
        dispatcher: this.agent!,
        headers: {
          'content-type': 'application/json',
          'user-agent': `osmium-auth-gateway (${this.deps.instance})`,
          'webhook-id': event.id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': this.signer!.sign(event.id, now, body),
        },
        body,
        headersTimeout: webhook.timeoutMs,
        bodyTimeout: webhook.timeoutMs,
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300 ? null : `HTTP ${res.statusCode}`;
    } catch (err) {
      return (err as Error).message || String(err);
    } finally {
      this.deps.observer?.webhookCall((performance.now() - started) / 1000);
    }
  }

  /** A failed attempt: the next one after the backoff, or failed for good once WEBHOOK_RETRY_HOURS have passed. */
  private async failed(event: StoredEvent, error: string): Promise<void> {
    const webhook = this.deps.webhook!;
    const delay = retryDelayMs(event.attempts + 1, webhook.firstRetryMs, webhook.maxRetryMs, this.deps.random);
    const at = Date.now() + delay;
    const giveUp = at > event.retryFrom.getTime() + webhook.retryHours * 3_600_000;
    await this.deps.repo.markAttemptFailed(event.id, error, giveUp ? null : new Date(at));
    this.deps.observer?.eventAttemptFailed(giveUp);
    if (giveUp) this.deps.log.warn({ eventId: event.id, type: event.type, attempts: event.attempts + 1, error }, 'webhook delivery failed for good');
    else this.deps.log.debug({ eventId: event.id, attempt: event.attempts + 1, retryInMs: delay, error }, 'webhook delivery failed; will retry');
  }
}
