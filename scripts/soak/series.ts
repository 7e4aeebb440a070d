/**
 * The series a soak run judges, built from its samples: the gateway's own
 * readings as they are, and for what the churn grows by design (a tombstone
 * in Redis and a revoked row in Postgres per revocation, a user per guest
 * sign-up) the residual once that is subtracted. Pure: no process, no server.
 */
import type { SoakOptions } from './args.js';
import { judgeGrowth, type GrowthRule, type Point, type Verdict } from './growth.js';
import type { FleetCounters } from './fleet.js';

const MiB = 1024 * 1024;

/** One sample's readings (scripts/soak/sampler.ts). */
export interface Reading {
  rss: number | null;
  heapUsed: number | null;
  /** nodejs_heap_size_total_bytes and nodejs_external_memory_bytes: what RSS holds besides the used heap. */
  heapTotal?: number | null;
  external?: number | null;
  fds: number | null;
  redisKeys: number;
  redisMemory: number;
  liveSessions: number;
  /** Rows per table (count(*)). */
  rows: Record<string, number>;
}

export interface Sample {
  /** Seconds since the churn started. */
  t: number;
  at: string;
  reading: Reading;
  counters: FleetCounters;
}

export interface Series {
  name: string;
  unit: 'B' | 'count' | 'B/key';
  points: Point[];
  /** null: reported, not judged (why in `note`). */
  rule: GrowthRule | null;
  note: string;
  verdict?: Verdict;
}

/** The series of the run, each with its rule; residuals subtract what the churn's design adds. */
export function buildSeries(samples: readonly Sample[], sockets: number): Series[] {
  const of = (f: (s: Sample) => number | null) => samples.flatMap((s) => {
    const y = f(s);
    return y === null || !Number.isFinite(y) ? [] : [{ t: s.t, y }];
  });
  const first = samples[0]!;
  const since = (s: Sample, k: keyof FleetCounters) => s.counters[k] - first.counters[k];
  // Runs of 10 minutes or more: a judged half of 5 slices of a minute, each holding a collection.
  const memory: GrowthRule = { limitPerHour: 0.1, floor: 16 * MiB, lows: true, minSpanS: 300 };
  // A count the churn keeps level swings by the operations in flight (a revocation's tombstone lands before its
  // replacement's keys, an activity key after its session's first touch): under load up to 1 % of the sockets.
  const perSocket: GrowthRule = { limitPerHour: 0.02, floor: Math.max(50, sockets / 100), scale: sockets };
  const tables = Object.keys(first.reading.rows);
  const designed = new Set(['sessions', 'users', 'session_revocations']);
  const out: Series[] = [
    { name: 'gateway RSS', unit: 'B', points: of((s) => s.reading.rss), rule: memory, note: '/proc/PID/status VmRSS' },
    { name: 'gateway heap used', unit: 'B', points: of((s) => s.reading.heapUsed), rule: memory, note: 'nodejs_heap_size_used_bytes of /metrics' },
    { name: 'gateway heap total', unit: 'B', points: of((s) => s.reading.heapTotal ?? null), rule: null, note: 'nodejs_heap_size_total_bytes: the heap V8 holds, used or not' },
    { name: 'gateway external memory', unit: 'B', points: of((s) => s.reading.external ?? null), rule: null, note: 'nodejs_external_memory_bytes: buffers outside the heap' },
    { name: 'gateway open fds', unit: 'count', points: of((s) => s.reading.fds), rule: { limitPerHour: 0.02, floor: 50 }, note: '/proc/PID/fd; one per socket' },
    { name: 'fleet open sockets', unit: 'count', points: of((s) => s.counters.openSockets), rule: null, note: 'the client side, for reference' },
    { name: 'redis keys', unit: 'count', points: of((s) => s.reading.redisKeys), rule: null, note: 'DBSIZE: grows by one tombstone per revocation (kept 24 h), judged below without them' },
    {
      name: 'redis keys - tombstones',
      unit: 'count',
      points: of((s) => s.reading.redisKeys - since(s, 'revocations')),
      rule: perSocket,
      note: 'DBSIZE minus the revocations since the first sample: a session entry and its activity key per live session',
    },
    { name: 'redis used memory', unit: 'B', points: of((s) => s.reading.redisMemory), rule: null, note: 'INFO used_memory: grows with the tombstones, judged per key below' },
    {
      name: 'redis bytes per key',
      unit: 'B/key',
      points: of((s) => (s.reading.redisKeys ? s.reading.redisMemory / s.reading.redisKeys : null)),
      rule: { limitPerHour: 0.1, floor: 16 },
      note: 'used_memory / DBSIZE: a key that grows (a list, a set) shows here',
    },
    { name: 'pg live sessions', unit: 'count', points: of((s) => s.reading.liveSessions), rule: perSocket, note: 'sessions WHERE revoked_at IS NULL: one per held socket' },
    {
      name: 'pg sessions - new sessions',
      unit: 'count',
      points: of((s) => (s.reading.rows.sessions ?? NaN) - since(s, 'guestSignUps') - since(s, 'signIns')),
      rule: perSocket,
      note: 'rows minus the sign-ups and sign-ins since the first sample (a revoked session keeps its row)',
    },
    {
      name: 'pg users - guest sign-ups',
      unit: 'count',
      points: of((s) => (s.reading.rows.users ?? NaN) - since(s, 'guestSignUps')),
      rule: perSocket,
      note: 'rows minus the guest sign-ups since the first sample',
    },
    {
      name: 'pg session_revocations - revocations',
      unit: 'count',
      points: of((s) => (s.reading.rows.session_revocations ?? NaN) - since(s, 'revocations')),
      rule: perSocket,
      note: 'the revocation log minus the revocations since the first sample (pruned after the cache entry life, 30 days)',
    },
    ...tables.map((t): Series => ({
      name: `pg ${t}`,
      unit: 'count',
      points: of((s) => s.reading.rows[t] ?? null),
      rule: null,
      note: designed.has(t) ? 'judged as a residual above' : 'reported: rows the churn adds by design (events 7 days, audit trail 365 days, devices and sources per account)',
    })),
  ];
  for (const s of out) if (s.rule) s.verdict = judgeGrowth(s.points, s.rule);
  return out;
}


/** The growth failures of judged series, one line each. */
export function growthFailures(series: readonly Series[]): string[] {
  return series.flatMap((s) => (s.verdict && !s.verdict.ok ? [`${s.name} grows: ${s.verdict.why}`] : []));
}

/**
 * Churn errors an overloaded gateway may give, by design: 503 (a pool or
 * queue wait ran out), a request or handshake timing out, a socket closed
 * while waiting, a socket dropped without a close frame (1006: pings missed
 * while the machine was starved). Any other error is a fault: a revoked
 * socket not closed with 4001, a resume that returned another session, a
 * valid token refused (403), a 500.
 */
const LOAD_ERROR = /: (\S+ 503|\S+ timeout|\S+ closed|unexpected: Opening handshake has timed out|unexpected: connect ECONNRESET|closed by the gateway with 1006|no idle slot|revoked socket not closed)$/;

/** Churn errors that are faults, not load. */
export function faultCount(errors: Record<string, number>): number {
  return Object.entries(errors).filter(([k]) => !LOAD_ERROR.test(k)).reduce((a, [, n]) => a + n, 0);
}

/** The run fails on any fault, and when load kept the churn under half its schedule (it did not soak). */
export function churnFailures(errors: Record<string, number>, operations: number, options: Pick<SoakOptions, 'rate' | 'minutes'>): string[] {
  const out: string[] = [];
  const faults = Object.entries(errors).filter(([k]) => !LOAD_ERROR.test(k));
  if (faults.length) out.push(`churn faults: ${faults.map(([k, n]) => `${k} ×${n}`).join('; ')}`);
  const scheduled = Math.round(options.rate * options.minutes * 60);
  if (operations < scheduled * 0.5) out.push(`only ${operations} churn operations done of ${scheduled} scheduled`);
  return out;
}
