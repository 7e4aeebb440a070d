/**
 * One soak run: its own Postgres and Redis (the test stack), one gateway
 * process in server mode, the fleet (fleet.ts) held open and churned for the
 * given minutes, a sample every few seconds (sampler.ts), then every series
 * judged by the growth rule (growth.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintGuestTokens } from '../load/scenarios.js';
import { waitForReady } from '../readyTimer.mjs';
import { createDatabase, freePort, startStack } from '../stack.mjs';
import type { SoakOptions } from './args.js';
import { Fleet, type FleetCounters } from './fleet.js';
import { judgeGrowth, type GrowthRule, type Point, type Verdict } from './growth.js';
import { Sampler, type Reading } from './sampler.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MiB = 1024 * 1024;

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

export interface SoakResult {
  startedAt: string;
  options: SoakOptions;
  gatewayEnv: Record<string, string>;
  setup: { stackS: number; mintS: number; openS: number };
  samples: Sample[];
  series: Series[];
  done: Record<string, number>;
  errors: Record<string, number>;
  /** Churn operations that misbehaved in a way no load explains (wrong close code, another session resumed). */
  faults: number;
  operations: number;
  ok: boolean;
  failures: string[];
}

/** The gateway's settings in the soak: server mode, limits that 10 000 sockets from loopback do not hit, cheap bcrypt. */
export function soakGatewayEnv(databaseUrl: string, redisUrl: string, port: number, metricsPort: number, outbox: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    WORKERS: '1',
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: 'soak:',
    MAIL_OUTBOX_DIR: outbox,
    RATE_LIMITS: 'off',
    // Sign-ins in the churn measure the gateway, not bcrypt.
    BCRYPT_COST: '4',
    MAX_CONNECTIONS_PER_IP: '100000',
    MAX_PENDING_CONNECTIONS_PER_IP: '2000',
    MAX_PENDING_CONNECTIONS_PER_NETWORK: '4000',
  };
}

/** The production bundle: the test run's build when there is one, else dist/ (built when a source changed). */
function gatewayEntry(): string {
  if (process.env.TEST_DIST_DIR) return join(process.env.TEST_DIST_DIR, 'main.js');
  const built = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) throw new Error('npm run build failed');
  return join(ROOT, 'dist', 'main.js');
}

/** The series of the run, each with its rule; residuals subtract what the churn's design adds. */
export function buildSeries(samples: readonly Sample[], sockets: number): Series[] {
  const of = (f: (s: Sample) => number | null) => samples.flatMap((s) => {
    const y = f(s);
    return y === null || !Number.isFinite(y) ? [] : [{ t: s.t, y }];
  });
  const first = samples[0]!;
  const since = (s: Sample, k: keyof FleetCounters) => s.counters[k] - first.counters[k];
  const memory: GrowthRule = { limitPerHour: 0.1, floor: 16 * MiB };
  const perSocket: GrowthRule = { limitPerHour: 0.02, floor: 50, scale: sockets };
  const tables = Object.keys(first.reading.rows);
  const designed = new Set(['sessions', 'users', 'session_revocations']);
  const out: Series[] = [
    { name: 'gateway RSS', unit: 'B', points: of((s) => s.reading.rss), rule: memory, note: '/proc/PID/status VmRSS' },
    { name: 'gateway heap used', unit: 'B', points: of((s) => s.reading.heapUsed), rule: memory, note: 'nodejs_heap_size_used_bytes of /metrics' },
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

const CORRECTNESS = /not 4001|another session/;

export async function runSoak(options: SoakOptions, log: (line: string) => void): Promise<SoakResult> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  log(`soak: ${options.sockets} sockets, ${options.rate} churn operations/s for ${options.minutes} min, a sample every ${options.sampleS} s`);
  const stack = await startStack();
  let gateway: ChildProcess | undefined;
  let sampler: Sampler | undefined;
  let fleet: Fleet | undefined;
  try {
    const databaseUrl = await createDatabase(stack.databaseUrl, 'soak');
    const [port, metricsPort] = [await freePort(), await freePort()];
    const outbox = join(stack.dir, 'outbox');
    mkdirSync(outbox);
    const env = soakGatewayEnv(databaseUrl, stack.redisUrl, port, metricsPort, outbox);
    const entry = gatewayEntry();
    const output: string[] = [];
    gateway = spawn(process.execPath, [entry], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (c: Buffer) => {
      output.push(...c.toString().split('\n').filter(Boolean));
      if (output.length > 200) output.splice(0, output.length - 200);
    };
    gateway.stdout!.on('data', keep);
    gateway.stderr!.on('data', keep);
    process.once('exit', () => gateway?.kill('SIGKILL'));
    await waitForReady(gateway, port, { timeoutMs: 90_000, intervalMs: 50, output: () => output.join('\n') });
    let gatewayExit: string | null = null;
    gateway.once('exit', (code, signal) => (gatewayExit = `gateway exited with ${code ?? signal}:\n${output.slice(-20).join('\n')}`));
    const stackS = (performance.now() - t0) / 1000;
    log(`  stack and gateway ready in ${stackS.toFixed(1)} s (pid ${gateway.pid}, ws://127.0.0.1:${port}, metrics :${metricsPort})`);

    sampler = new Sampler(gateway.pid!, `http://127.0.0.1:${metricsPort}/metrics`, databaseUrl, stack.redisUrl);
    await sampler.start();
    const url = `ws://127.0.0.1:${port}`;
    const guests = Math.round(options.sockets * (1 - options.accountShare));
    const mintStarted = performance.now();
    const tokens = await mintGuestTokens(url, guests, 8, 16);
    const mintS = (performance.now() - mintStarted) / 1000;
    log(`  ${tokens.length} guest sessions minted in ${mintS.toFixed(1)} s`);
    fleet = new Fleet({ url, sockets: options.sockets, accountShare: options.accountShare, heartbeatS: options.heartbeatS, timeoutMs: 20_000, log });
    const openStarted = performance.now();
    await fleet.open(tokens);
    const openS = (performance.now() - openStarted) / 1000;
    // Warm-up before the first sample: every socket heartbeats once and its activity reaches Redis (a key per session).
    log(`  warming up for ${options.heartbeatS + 3} s: one heartbeat of every socket`);
    await new Promise((r) => setTimeout(r, (options.heartbeatS + 3) * 1000));

    const samples: Sample[] = [];
    const churnStarted = performance.now();
    const sample = async () => {
      const reading = await sampler!.read();
      const t = (performance.now() - churnStarted) / 1000;
      samples.push({ t: Math.round(t * 10) / 10, at: new Date().toISOString(), reading, counters: { ...fleet!.counters } });
      if (!options.quiet) {
        const r = reading;
        const errors = Object.values(fleet!.errors).reduce((a, b) => a + b, 0);
        log(`  t=${t.toFixed(0).padStart(5)} s  sockets ${fleet!.counters.openSockets}  RSS ${((r.rss ?? 0) / MiB).toFixed(1)} MiB  heap ${((r.heapUsed ?? 0) / MiB).toFixed(1)} MiB  fds ${r.fds}  redis keys ${r.redisKeys}  live sessions ${r.liveSessions}  ops ${Object.values(fleet!.done).reduce((a, b) => a + b, 0)}  errors ${errors}`);
      }
    };
    await sample();
    fleet.startChurn(options.rate);
    const endAt = churnStarted + options.minutes * 60_000;
    for (let k = 1; ; k++) {
      const next = Math.min(endAt, churnStarted + k * options.sampleS * 1000);
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      if (gatewayExit) throw new Error(gatewayExit);
      await sample();
      if (next >= endAt) break;
    }
    await fleet.stop();
    const series = buildSeries(samples, options.sockets);
    const failures: string[] = [];
    for (const s of series) if (s.verdict && !s.verdict.ok) failures.push(`${s.name} grows: ${s.verdict.why}`);
    const operations = Object.values(fleet.done).reduce((a, b) => a + b, 0);
    const errorCount = Object.values(fleet.errors).reduce((a, b) => a + b, 0);
    const faults = Object.entries(fleet.errors).filter(([k]) => CORRECTNESS.test(k)).reduce((a, [, n]) => a + n, 0);
    if (faults) failures.push(`${faults} churn operations misbehaved (a revoked socket not closed with 4001, or a resume of another session)`);
    if (errorCount > Math.max(5, 0.01 * (operations + errorCount))) failures.push(`${errorCount} churn errors, over 1 % of ${operations + errorCount} operations`);
    if (operations < options.rate * options.minutes * 60 * 0.5) failures.push(`only ${operations} churn operations done of ${Math.round(options.rate * options.minutes * 60)} scheduled`);
    return {
      startedAt, options, gatewayEnv: { ...env, DATABASE_URL: '(soak database)', REDIS_URL: '(stack redis)', MAIL_OUTBOX_DIR: '(stack folder)' },
      setup: { stackS, mintS, openS }, samples, series, done: { ...fleet.done }, errors: { ...fleet.errors }, faults, operations,
      ok: failures.length === 0, failures,
    };
  } finally {
    await fleet?.stop().catch(() => undefined);
    await sampler?.close();
    if (gateway && gateway.exitCode === null && gateway.signalCode === null) {
      gateway.kill('SIGTERM');
      const timer = setTimeout(() => gateway!.kill('SIGKILL'), 15_000);
      await once(gateway, 'exit');
      clearTimeout(timer);
    }
    stack.stop();
  }
}
