/**
 * Figures 1a and 1b: server-side CPU per request, summed over the gateway,
 * Redis and Postgres processes, against a bare `ws` server doing the same
 * socket work, plus Postgres statements and Redis commands per request.
 *
 * 1a: Authorize over open sockets (core.Initialize once per socket, then
 *     auth.authorize with a new token each time), 32 sockets x 8 in flight.
 * 1b: reconnect storm: open, Initialize, Authorize, close; 64 at once.
 *
 * Both use distinct users whose sessions were aged past the session cache's
 * first TTL (aging.ts), on a gateway process started after the sessions were
 * created (no in-process cache holds them, as after a fleet restart). Gateway
 * and ceiling alternate in rounds; the round with the least CPU per request
 * counts for each (CPU time is what a shared machine disturbs least, but
 * cache and frequency effects remain).
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { osmium } from '../../src/gen/osmium.js';
import { processIo, processTree } from '../procfs.mjs';
import { AGING_NOTE, ageSessions } from './aging.js';
import { sampleCpu, cpuPerUnit, type CpuParts } from './cpu.js';
import { BENCH_DEVICE, authorizeOverOpenSockets, closeAll, openInitialized, reconnectStorm, type Outcome } from './driver.js';
import { spawnBareServer, spawnGateway, type Measured } from './processes.js';
import { countersPerUnit, quietCounters, type DatabaseCounters, type RedisWatch } from './servers.js';
import type { BenchSession } from './sessions.js';
import type { BenchSettings, Row } from './figures.js';
import { summarizeCpuProfile, type CpuProfile } from './profile.js';

/** The stack's servers as the CPU figures see them. */
export interface ServerWatch {
  redis: RedisWatch;
  redisPid: number;
  postgresPid: number;
  /** REDIS_PREFIX of the bench gateways. */
  redisPrefix: string;
}

export interface CpuFigureSizes {
  rounds: number;
  /** Authorize calls per gateway round of 1a. */
  authorizePerRound: number;
  /** Reconnects per gateway round of 1b. */
  reconnectsPerRound: number;
  warmUp: number;
}

/**
 * Rounds long enough that what is not per request weighs little: a round's
 * CPU is read over the load and the AFTER_RUN_MS after it, and a fresh
 * process's JIT is still warming. At 4 000 Authorize per round (0.4 s of load)
 * and 600 to warm up, the rounds fell 216 -> 262 -> 163 µs; at 12 000 after
 * 4 000, the spread is smaller and the last rounds settle.
 */
export function cpuFigureSizes(quick: boolean): CpuFigureSizes {
  return quick
    ? { rounds: 2, authorizePerRound: 1_500, reconnectsPerRound: 800, warmUp: 300 }
    : { rounds: 3, authorizePerRound: 12_000, reconnectsPerRound: 3_000, warmUp: 4_000 };
}

/** Sessions the CPU figures use (each once). */
export function cpuFigureSessions(sizes: CpuFigureSizes, figures: { a: boolean; b: boolean }): number {
  return sizes.warmUp + (figures.a ? sizes.rounds * sizes.authorizePerRound : 0) + (figures.b ? sizes.rounds * sizes.reconnectsPerRound : 0);
}

/** Bytes of the gateway's answers to core.Initialize and to auth.authorize, so the bare server answers as many. */
async function answerSizes(url: string, token: string): Promise<{ initialize: number; authorize: number }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await once(ws, 'open');
  const { ClientMessage } = osmium.client.core;
  ws.send(ClientMessage.encode({ id: 1, core_initialize: BENCH_DEVICE }).finish());
  const [initialized] = (await once(ws, 'message')) as [Buffer];
  ws.send(ClientMessage.encode({ id: 2, auth_authorize: { token } }).finish());
  const [authorized] = (await once(ws, 'message')) as [Buffer];
  ws.terminate();
  return { initialize: initialized.length, authorize: authorized.length };
}

interface RoundResult {
  outcome: Outcome;
  cpu: { total: number; parts: CpuParts; wallS: number };
  pg: ReturnType<typeof countersPerUnit> | null;
  redisCommands: number | null;
  /** Bytes the measured server process read and wrote per request (sockets to clients, Redis and Postgres). */
  ioIn: number | null;
  ioOut: number | null;
}

/**
 * Deferred work of a request (the activity pushed to Redis every 2 s) lands
 * this long after the run: CPU and Redis are read after it, so it is counted.
 */
const AFTER_RUN_MS = 2_500;

/** Bytes read and written by a process and its children (a cluster primary and its workers). */
function treeIo(root: number): { readBytes: number; writtenBytes: number } | null {
  const own = processIo(root);
  if (!own) return null;
  for (const pid of processTree(root)) {
    if (pid === root) continue;
    const io = processIo(pid);
    if (io) {
      own.readBytes += io.readBytes;
      own.writtenBytes += io.writtenBytes;
    }
  }
  return own;
}

/**
 * Runs `load` between readings of CPU (and, for the gateway, Redis commands
 * and its process's I/O); per request. Postgres counters are read apart
 * (`PostgresRounds`), since they show up to 10 s late.
 */
async function measure(target: Measured, watch: ServerWatch | null, load: () => Promise<Outcome>): Promise<RoundResult> {
  const pid = target.process.pid!;
  const roots: CpuParts = watch ? { gateway: pid, redis: watch.redisPid, postgres: watch.postgresPid } : { bare: pid };
  const redisBefore = watch ? await watch.redis.counters() : null;
  const ioBefore = treeIo(pid);
  const cpuBefore = sampleCpu(roots);
  const outcome = await load();
  await new Promise((r) => setTimeout(r, AFTER_RUN_MS));
  const cpuAfter = sampleCpu(roots);
  const ioAfter = treeIo(pid);
  const redisAfter = watch ? await watch.redis.counters() : null;
  const units = Math.max(1, outcome.ok + outcome.errors);
  return {
    outcome,
    cpu: cpuPerUnit(cpuBefore, cpuAfter, units),
    pg: null,
    redisCommands: redisBefore && redisAfter ? (redisAfter.commands - redisBefore.commands - 1) / units : null,
    ioIn: ioBefore && ioAfter ? (ioAfter.readBytes - ioBefore.readBytes) / units : null,
    ioOut: ioBefore && ioAfter ? (ioAfter.writtenBytes - ioBefore.writtenBytes) / units : null,
  };
}

/**
 * Postgres counters per gateway round: read once the database was quiet long
 * enough for every backend to publish its statistics (the bare round runs
 * meanwhile, so the wait costs little). The mark after one round is the mark
 * before the next.
 */
export class PostgresRounds {
  private mark: DatabaseCounters | null = null;
  private markAt = 0;
  private lastWorkAt = 0;
  /** Seconds between the last two marks (the window perUnit read). */
  windowS = 0;
  constructor(private readonly databaseUrl: string) {}

  /** Before the first round. */
  async start(lastWorkAt: number): Promise<void> {
    this.mark = await quietCounters(this.databaseUrl, lastWorkAt);
    this.markAt = performance.now();
  }

  /** The gateway finished a round now. */
  roundDone(): void {
    this.lastWorkAt = performance.now();
  }

  /** Attributes the counters since the previous mark to `round`. */
  async attribute(round: RoundResult): Promise<void> {
    round.pg = await this.perUnit(round.outcome.ok + round.outcome.errors);
  }

  /** The counters since the previous mark, per unit of the round just done; the mark moves to now. */
  async perUnit(units: number): Promise<ReturnType<typeof countersPerUnit>> {
    const now = await quietCounters(this.databaseUrl, this.lastWorkAt);
    const per = countersPerUnit(this.mark!, now, Math.max(1, units));
    this.mark = now;
    this.windowS = (performance.now() - this.markAt) / 1000;
    this.markAt = performance.now();
    return per;
  }
}

const leastCpu = (rounds: RoundResult[]) => [...rounds].sort((a, b) => a.cpu.total - b.cpu.total)[0]!;
const r1 = (n: number) => Math.round(n * 10) / 10;
const r3 = (n: number | null | undefined) => (n === null || n === undefined ? null : Math.round(n * 1000) / 1000);

function describeParts(parts: CpuParts): string {
  return Object.entries(parts)
    .map(([name, us]) => `${name} ${r1(us)}`)
    .join(' + ');
}

function errorsOf(rounds: RoundResult[]): { count: number; text: string } {
  const byCode: Record<string, number> = {};
  for (const r of rounds) for (const [code, n] of Object.entries(r.outcome.errorsByCode)) byCode[code] = (byCode[code] ?? 0) + n;
  const count = Object.values(byCode).reduce((a, b) => a + b, 0);
  return { count, text: count ? Object.entries(byCode).map(([c, n]) => `${c}: ${n}`).join(', ') : '0' };
}

/** Statements per request: pg_stat_statements when the server has it, else transactions (every hot-path statement runs alone). */
function statementsOf(r: RoundResult): { value: number | null; source: string } {
  if (!r.pg) return { value: null, source: 'not measured' };
  if (r.pg.statements !== null) return { value: r.pg.statements, source: 'pg_stat_statements calls' };
  return { value: r.pg.transactions, source: 'pg_stat_database transactions' };
}

function rowsFor(
  id: '1a' | '1b',
  what: string,
  gw: RoundResult[],
  bare: RoundResult[],
  goal: number,
  extraNote: string,
  answers: { initialize: number; authorize: number },
  mode: GatewayMode,
): Row[] {
  const g = leastCpu(gw);
  const c = leastCpu(bare);
  const ratio = c.cpu.total / g.cpu.total;
  const errors = errorsOf(gw);
  const statements = statementsOf(g);
  const perSecond = (r: RoundResult) => r.outcome.ok / r.outcome.elapsedS;
  const data = {
    gatewayUs: r1(g.cpu.parts.gateway!),
    redisUs: r1(g.cpu.parts.redis!),
    postgresUs: r1(g.cpu.parts.postgres!),
    bareUs: r1(c.cpu.total),
    postgresTransactions: r3(g.pg?.transactions),
    postgresStatements: r3(g.pg?.statements),
    postgresTuplesRead: r3(g.pg?.tuplesRead),
    postgresTuplesWritten: r3(g.pg?.tuplesWritten),
    redisCommands: r3(g.redisCommands),
    gatewayBytesIn: g.ioIn === null ? null : Math.round(g.ioIn),
    gatewayBytesOut: g.ioOut === null ? null : Math.round(g.ioOut),
    clientBytesOut: g.outcome.bytesOut ? Math.round(g.outcome.bytesOut / g.outcome.ok) : null,
    clientBytesIn: g.outcome.bytesIn ? Math.round(g.outcome.bytesIn / g.outcome.ok) : null,
    perSecond: Math.round(perSecond(g)),
    barePerSecond: Math.round(perSecond(c)),
    requests: g.outcome.ok,
    rounds: gw.length,
    initializeAnswerBytes: answers.initialize,
    authorizeAnswerBytes: answers.authorize,
  };
  const keySuffix = mode.workers === 1 ? '' : `@workers=${mode.workers}`;
  const metricSuffix = mode.workers === 1 ? '' : `, ${mode.label}`;
  const allRounds = gw.map((r) => r1(r.cpu.total)).join(', ');
  const bareRounds = bare.map((r) => r1(r.cpu.total)).join(', ');
  return [
    {
      figure: id,
      key: `${id === '1a' ? 'cpu_per_authorize' : 'cpu_per_reconnect'}${keySuffix}`,
      metric: `server CPU per ${what} (gateway + Redis + Postgres)${metricSuffix}`,
      unit: 'µs',
      gateway: g.cpu.total,
      ceiling: c.cpu.total,
      ratio,
      goal: `>= ${goal} % (bare/gateway CPU)`,
      met: ratio >= goal / 100 && errors.count === 0,
      note:
        `least of ${gw.length} alternating rounds of ${g.outcome.ok}: ${describeParts(g.cpu.parts)} µs (all rounds ${allRounds}; bare ${bareRounds}); ` +
        `${data.perSecond}/s vs bare ${data.barePerSecond}/s; Redis ${data.redisCommands} commands, gateway I/O ${data.gatewayBytesIn} B in / ${data.gatewayBytesOut} B out per ${what}; ` +
        `${errors.text} errors; ${extraNote}; ${AGING_NOTE}`,
      data: { ...data, workers: mode.workers },
    },
    {
      figure: id,
      key: `${id === '1a' ? 'postgres_per_authorize' : 'postgres_per_reconnect'}${keySuffix}`,
      metric: `Postgres statements per ${what}${metricSuffix}`,
      unit: '',
      gateway: statements.value,
      ceiling: null,
      ratio: null,
      goal: '0 (< 0.01: timers)',
      // Background statements (worker-lease renewal every 20 s, the 30 s activity flush) land in some rounds: < 0.01 per request.
      met: statements.value === null ? null : statements.value < 0.01,
      note: `${statements.source} in the gateway's database over the same round; tuples read ${data.postgresTuplesRead}, written ${data.postgresTuplesWritten} per ${what}`,
      data: { source: statements.source },
    },
  ];
}

/**
 * How the measured gateway runs: `workers` processes (WORKERS), `label` in
 * the rows' names. Figures 1a/1b run once with WORKERS=1 and once in the
 * default production mode (WORKERS = cores: the cluster primary and its
 * workers, whose CPU is all counted: the gateway part is the process tree).
 */
export interface GatewayMode {
  workers: number;
  label: string;
}

export const SINGLE_PROCESS: GatewayMode = { workers: 1, label: 'WORKERS=1' };

/**
 * Figures 1a and 1b on one gateway (one process, or a cluster) started for them. `sessions`
 * holds at least cpuFigureSessions(...) sessions of `databaseUrl`, unused by
 * this gateway process.
 */
export async function figureCpu(
  s: BenchSettings,
  watch: ServerWatch,
  databaseUrl: string,
  env: Record<string, string>,
  sessions: readonly BenchSession[],
  figures: { a: boolean; b: boolean },
  /** A folder: profile the gateway's CPU during the measured gateway rounds and summarize it (CPU figures then include the profiler's cost). */
  profileDir: string | null = null,
  mode: GatewayMode = SINGLE_PROCESS,
): Promise<{ rows: Row[]; profile: ReturnType<typeof summarizeCpuProfile> | null }> {
  const sizes = cpuFigureSizes(s.quick);
  const needed = cpuFigureSessions(sizes, figures);
  if (sessions.length < needed) throw new Error(`figures 1a/1b need ${needed} sessions, got ${sessions.length}`);
  let next = 0;
  const take = (n: number) => {
    const slice = sessions.slice(next, next + n);
    next += n;
    return slice;
  };
  const age = (slice: readonly BenchSession[]) => ageSessions(watch.redis.client, watch.redisPrefix, slice.map((x) => x.sessionId));

  const gateway = await spawnGateway({ ...env, WORKERS: String(mode.workers) });
  // Only gateway rounds: the profiler runs from the first to the last, and the gateway idles between them (idle is not counted).
  const profiled = profileDir ? join(profileDir, 'gateway.cpuprofile') : null;
  const rows: Row[] = [];
  try {
    const warm = take(sizes.warmUp);
    const sizesOnWire = await answerSizes(gateway.url, warm[0]!.token);
    const bare = await spawnBareServer(sizesOnWire.authorize, sizesOnWire.initialize);
    try {
      // Warm-up (JIT, pools, first Postgres plans) on both, not measured.
      await age(warm);
      const warmSockets = await openInitialized(gateway.url, 32);
      const bareWarm = await openInitialized(bare.url, 32);
      await authorizeOverOpenSockets(warmSockets, warm.map((x) => x.token), 8);
      await authorizeOverOpenSockets(bareWarm, warm.map((x) => x.token), 8);
      closeAll(warmSockets);
      closeAll(bareWarm);
      const postgres = new PostgresRounds(databaseUrl);
      await postgres.start(performance.now());
      if (profiled) await gateway.probe('profile-start');

      if (figures.a) {
        s.log(`  1a (${mode.label}): ${sizes.rounds} rounds of ${sizes.authorizePerRound} Authorize on 32 open sockets x 8 in flight, gateway then bare ws`);
        const sockets = await openInitialized(gateway.url, 32);
        const bareSockets = await openInitialized(bare.url, 32);
        const gw: RoundResult[] = [];
        const bareRounds: RoundResult[] = [];
        try {
          for (let r = 0; r < sizes.rounds; r++) {
            const slice = take(sizes.authorizePerRound);
            await age(slice);
            const tokens = slice.map((x) => x.token);
            gw.push(await measure(gateway, watch, () => authorizeOverOpenSockets(sockets, tokens, 8)));
            postgres.roundDone();
            // The bare server is ~10x cheaper per request: twice the requests keep its reading well above timer noise.
            bareRounds.push(await measure(bare, null, () => authorizeOverOpenSockets(bareSockets, [...tokens, ...tokens], 8)));
            await postgres.attribute(gw.at(-1)!);
            s.log(`    round ${r + 1}: gateway ${r1(gw.at(-1)!.cpu.total)} µs (${describeParts(gw.at(-1)!.cpu.parts)}), ${statementsOf(gw.at(-1)!).value} statements; bare ${r1(bareRounds.at(-1)!.cpu.total)} µs per Authorize`);
          }
        } finally {
          closeAll(sockets);
          closeAll(bareSockets);
        }
        rows.push(...rowsFor('1a', 'Authorize', gw, bareRounds, 40, '32 open sockets x 8 in flight, core.Initialize once per socket, distinct users', sizesOnWire, mode));
      }

      if (figures.b) {
        s.log(`  1b (${mode.label}): ${sizes.rounds} rounds of ${sizes.reconnectsPerRound} reconnects (open, Initialize, Authorize, close), 64 at once, gateway then bare ws`);
        const gw: RoundResult[] = [];
        const bareRounds: RoundResult[] = [];
        for (let r = 0; r < sizes.rounds; r++) {
          const slice = take(sizes.reconnectsPerRound);
          await age(slice);
          const tokens = slice.map((x) => x.token);
          gw.push(await measure(gateway, watch, () => reconnectStorm(gateway.url, tokens, 64)));
          postgres.roundDone();
          bareRounds.push(await measure(bare, null, () => reconnectStorm(bare.url, tokens, 64)));
          await postgres.attribute(gw.at(-1)!);
          s.log(`    round ${r + 1}: gateway ${r1(gw.at(-1)!.cpu.total)} µs (${describeParts(gw.at(-1)!.cpu.parts)}), ${statementsOf(gw.at(-1)!).value} statements; bare ${r1(bareRounds.at(-1)!.cpu.total)} µs per reconnect`);
        }
        rows.push(...rowsFor('1b', 'reconnect', gw, bareRounds, 60, '64 clients at once, each: new socket, core.Initialize, auth.authorize, close', sizesOnWire, mode));
      }
      if (profiled) await gateway.stopProfile(profiled);
    } finally {
      await bare.stop();
    }
  } finally {
    await gateway.stop();
  }
  if (!profiled) return { rows, profile: null };
  for (const row of rows) row.note = `PROFILED (CPU includes the profiler's cost); ${row.note ?? ''}`;
  const profile = JSON.parse(readFileSync(profiled, 'utf8')) as CpuProfile;
  return { rows, profile: summarizeCpuProfile(profile, 10) };
}
