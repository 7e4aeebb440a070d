/**
 * Prometheus metrics of one gateway process (prom-client), served at
 * `GET /metrics`. Each layer reports through a narrow observer it defines
 * (GatewayObserver, RequestObserver, the rate limits' and pool's callbacks);
 * this registry implements them, so no layer knows prom-client. Under
 * node:cluster, /metrics answers for every worker (cluster/metricsAggregation.ts).
 */
import cluster from 'node:cluster';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { askPrimaryForMetrics, shareWithPrimary } from './cluster/metricsAggregation.js';
import type { BackendObserver } from './gateway/backendRoute.js';
import type { RequestObserver } from './gateway/dispatcher.js';
import type { GatewayObserver } from './gateway/gateway.js';
import type { MethodName } from './protocol/codec.js';
import type { HashingStats } from './services/passwords.js';
import type { EventsObserver } from './services/webhooks.js';

const PREFIX = 'osmium_';

export interface MetricsOptions {
  /**
   * Answer /metrics with the aggregate of every cluster worker (asked from
   * the primary). Only meaningful in a cluster worker; default: true there.
   */
  aggregate?: boolean;
}

/** Every metric the gateway exports. Names are listed in README "Running in production". */
export class Metrics implements GatewayObserver, BackendObserver, EventsObserver {
  readonly registry = new Registry();
  private readonly aggregate: boolean;
  private hashing: (() => HashingStats) | undefined;

  private readonly openConnections = new Gauge({ name: `${PREFIX}connections_open`, help: 'Open WebSocket connections', registers: [this.registry] });
  private readonly authorizedConnections = new Gauge({
    name: `${PREFIX}connections_authorized`,
    help: 'Open WebSocket connections bound to a session',
    registers: [this.registry],
  });
  /**
   * Frame and byte counts are plain numbers, added to their counters when
   * scraped: they change twice per frame, and a counter's inc costs more than
   * the rest of the frame's bookkeeping (prom-client's `collect` hook).
   */
  private readonly frames = { in: 0, out: 0, bytesIn: 0, bytesOut: 0 };
  private readonly framesIn = this.frameCounter('frames_received_total', 'WebSocket frames received', 'in');
  private readonly framesOut = this.frameCounter('frames_sent_total', 'WebSocket frames sent', 'out');
  private readonly bytesIn = this.frameCounter('received_bytes_total', 'Bytes of WebSocket frames received', 'bytesIn');
  private readonly bytesOut = this.frameCounter('sent_bytes_total', 'Bytes of WebSocket frames sent', 'bytesOut');
  /** The labelled children of the request metrics, made once per method and code (labels are hashed on every lookup). */
  private readonly requestChildren = new Map<string, { count: { inc(): void }; seconds: { observe(value: number): void } }>();
  private readonly requests = new Counter({
    name: `${PREFIX}requests_total`,
    help: 'Requests answered, by method and result code (0 = success, else the RPCError code)',
    labelNames: ['method', 'code'] as const,
    registers: [this.registry],
  });
  private readonly requestSeconds = new Histogram({
    name: `${PREFIX}request_duration_seconds`,
    help: 'Time from decoding a request to its result, by method',
    labelNames: ['method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly rateLimitedTotal = new Counter({
    name: `${PREFIX}rate_limited_total`,
    help: 'Requests refused by a rate limit, by limit name',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  private readonly redisErrors = new Counter({
    name: `${PREFIX}redis_errors_total`,
    help: 'Redis connection errors, by connection role',
    labelNames: ['role'] as const,
    registers: [this.registry],
  });
  private readonly postgresErrors = new Counter({
    name: `${PREFIX}postgres_errors_total`,
    help: 'Failed Postgres queries and lost pool connections, by SQLSTATE or error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  private readonly revocationSeconds = new Histogram({
    name: `${PREFIX}revocation_fanout_seconds`,
    help: 'Time from a session revocation being published to its sockets being closed on this instance',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  private readonly backendCalls = new Counter({
    name: `${PREFIX}backend_calls_total`,
    help: 'Calls forwarded to a backend route, by route and result code (0 = success, else the code the client got)',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });
  private readonly backendSeconds = new Histogram({
    name: `${PREFIX}backend_call_duration_seconds`,
    help: 'Time of a forwarded call, from the route taking it to its outcome, by route',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly backendInFlightGauge = new Gauge({
    name: `${PREFIX}backend_calls_in_flight`,
    help: 'Calls in flight to a backend route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  private readonly backendCircuitGauge = new Gauge({
    name: `${PREFIX}backend_circuit_open`,
    help: 'A backend route\'s circuit breaker: 0 closed, 0.5 half open (one probe), 1 open (calls refused with 503)',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  private readonly pushesDelivered = new Counter({
    name: `${PREFIX}pushes_delivered_total`,
    help: 'Updates of the internal push API sent to sockets of this instance',
    registers: [this.registry],
  });

  // Account events (services/webhooks.ts). The backlog is the outbox's, reported by the one dispatching
  // instance (the others say 0): across workers and instances, take the max.
  private readonly eventsPending = new Gauge({
    name: `${PREFIX}events_pending`,
    help: 'Account events committed and not yet delivered (nor marked failed), as the dispatching instance last read them; 0 elsewhere',
    aggregator: 'max',
    registers: [this.registry],
  });
  private readonly eventsOldestPending = new Gauge({
    name: `${PREFIX}events_oldest_pending_seconds`,
    help: 'Age of the oldest account event not yet delivered (0: none), as the dispatching instance last read it; 0 elsewhere',
    aggregator: 'max',
    registers: [this.registry],
  });
  private readonly eventsDelivered = new Counter({
    name: `${PREFIX}events_delivered_total`,
    help: 'Account events accepted (2xx) by the webhook receiver',
    registers: [this.registry],
  });
  private readonly eventsFailed = new Counter({
    name: `${PREFIX}events_failed_total`,
    help: 'Account events marked failed: retries ended after WEBHOOK_RETRY_HOURS',
    registers: [this.registry],
  });
  private readonly webhookAttemptsFailed = new Counter({
    name: `${PREFIX}webhook_attempts_failed_total`,
    help: 'Webhook calls that failed (not 2xx, no answer in time, no connection); each is retried or ends its event as failed',
    registers: [this.registry],
  });
  private readonly eventDeliverySeconds = new Histogram({
    name: `${PREFIX}events_delivery_seconds`,
    help: 'Time from an account event being written to the receiver accepting it (retries included)',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400],
    registers: [this.registry],
  });
  private readonly webhookCallSeconds = new Histogram({
    name: `${PREFIX}webhook_call_duration_seconds`,
    help: 'Time of one webhook call, whatever its outcome',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor(options: MetricsOptions = {}) {
    this.aggregate = (options.aggregate ?? true) && cluster.isWorker && typeof process.send === 'function';
    const self = this;
    new Gauge({
      name: `${PREFIX}password_hashes_queued`,
      help: 'Password hashes waiting for a hashing slot',
      registers: [this.registry],
      collect() {
        this.set(self.hashing?.().queued ?? 0);
      },
    });
    new Gauge({
      name: `${PREFIX}password_hashes_running`,
      help: 'Password hashes running on the thread pool',
      registers: [this.registry],
      collect() {
        this.set(self.hashing?.().running ?? 0);
      },
    });
    collectDefaultMetrics({ register: this.registry });
    if (this.aggregate) shareWithPrimary(this.registry);
  }

  // BackendObserver

  backendCall(route: string, code: number, seconds: number): void {
    this.backendCalls.inc({ route, code: String(code) });
    this.backendSeconds.observe({ route }, seconds);
  }

  backendInFlight(route: string, inFlight: number): void {
    this.backendInFlightGauge.set({ route }, inFlight);
  }

  backendCircuit(route: string, state: 'closed' | 'open' | 'half_open'): void {
    this.backendCircuitGauge.set({ route }, state === 'open' ? 1 : state === 'half_open' ? 0.5 : 0);
  }

  readonly pushDelivered = (sockets: number): void => {
    this.pushesDelivered.inc(sockets);
  };

  // EventsObserver

  eventsBacklog(pending: number, oldestSeconds: number): void {
    this.eventsPending.set(pending);
    this.eventsOldestPending.set(oldestSeconds);
  }

  eventDelivered(seconds: number): void {
    this.eventsDelivered.inc();
    this.eventDeliverySeconds.observe(Math.max(0, seconds));
  }

  eventAttemptFailed(final: boolean): void {
    this.webhookAttemptsFailed.inc();
    if (final) this.eventsFailed.inc();
  }

  webhookCall(seconds: number): void {
    this.webhookCallSeconds.observe(seconds);
  }

  // GatewayObserver

  frameIn(bytes: number): void {
    this.frames.in++;
    this.frames.bytesIn += bytes;
  }

  frameOut(bytes: number): void {
    this.frames.out++;
    this.frames.bytesOut += bytes;
  }

  /** A counter that takes, at each scrape, what `frames[field]` grew by since the last one. */
  private frameCounter(name: string, help: string, field: keyof Metrics['frames']): Counter {
    let reported = 0;
    const frames = () => this.frames;
    return new Counter({
      name: `${PREFIX}${name}`,
      help,
      registers: [this.registry],
      collect() {
        const now = frames()[field];
        this.inc(now - reported);
        reported = now;
      },
    });
  }

  connections(open: number, authorized: number): void {
    this.openConnections.set(open);
    this.authorizedConnections.set(authorized);
  }

  revocationDelivered(seconds: number): void {
    this.revocationSeconds.observe(Math.max(0, seconds));
  }

  /** A socket's frame refused by its own limiter (closed: the socket went for a flood). */
  refused(closed: boolean): void {
    this.rateLimited(closed ? 'socket_flood_closed' : 'socket_requests');
  }

  readonly render = async (): Promise<{ contentType: string; body: string }> => {
    const body = this.aggregate ? await askPrimaryForMetrics() : await this.registry.metrics();
    return { contentType: this.registry.contentType, body };
  };

  // Hooks for the rest of the gateway

  /** The dispatcher's observer: one count and one latency sample per request. */
  readonly observeRequest: RequestObserver = (method: MethodName, code: number, seconds: number) => {
    const key = `${method} ${code}`;
    let children = this.requestChildren.get(key);
    if (!children) {
      children = { count: this.requests.labels(method, String(code)), seconds: this.requestSeconds.labels(method) };
      this.requestChildren.set(key, children);
    }
    children.count.inc();
    children.seconds.observe(seconds);
  };

  /** Counts a request refused by the rate limit `name` (e.g. `sign_in_ip`). */
  readonly rateLimited = (name: string): void => {
    this.rateLimitedTotal.inc({ limit: name });
  };

  readonly redisError = (role: string): void => {
    this.redisErrors.inc({ role });
  };

  /** A failed Postgres query (by SQLSTATE) or a lost idle connection. */
  readonly postgresError = (code: string): void => {
    this.postgresErrors.inc({ code });
  };

  /** Reports the hashing queue (PasswordHasher.stats) at each scrape. */
  trackHashing(stats: () => HashingStats): void {
    this.hashing = stats;
  }
}
