/**
 * The five figures of `npm run bench`, each measured next to its ceiling on
 * the same machine. Every function returns table rows; none throws for a
 * missed goal (only for a broken setup).
 */
import { createDatabase as createStackDatabase } from '../stack.mjs';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { LoadOptions, ScenarioName } from '../load/args.js';
import { runLoad, type LoadReport } from '../load/run.js';
import { mintGuestTokens } from '../load/scenarios.js';
import { percentile } from '../load/stats.js';
import { spawnBareServer, spawnGateway, track, type Measured } from './processes.js';

export interface Row {
  figure: string;
  metric: string;
  unit: string;
  gateway: number | null;
  ceiling: number | null;
  /** gateway / ceiling. */
  ratio: number | null;
  goal: string;
  met: boolean | null;
  note?: string;
}

export interface BenchSettings {
  quick: boolean;
  bcryptCost: number;
  /** BCRYPT_CONCURRENCY given to the gateway and the ceiling; null: the gateway's default. */
  bcryptConcurrency: number | null;
  databaseUrl: string;
  redisUrl: string;
  /** Seconds of each throughput run. */
  stormS: number;
  /** Socket counts of figure 2. */
  idleCounts: number[];
  log(line: string): void;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function loadOptions(url: string, scenario: ScenarioName, overrides: Partial<LoadOptions> = {}): LoadOptions {
  return {
    url,
    peerUrl: url,
    connections: 16,
    durationS: 5,
    requests: null,
    maxTimeS: 120,
    ratePerSocket: null,
    totalRate: null,
    rampS: 0,
    scenarios: [{ name: scenario, weight: 1 }],
    workers: 1,
    json: null,
    inviteCode: null,
    heartbeatS: 30,
    sourceAddresses: 1,
    timeoutMs: 10_000,
    allowRemote: null,
    quiet: true,
    ...overrides,
  };
}

function op(report: LoadReport, name: string) {
  const found = report.operations.find((o) => o.name === name);
  if (!found) throw new Error(`no ${name} in the load report`);
  return found;
}

/** A fresh database on the bench Postgres (so each gateway starts from nothing). */
export function createDatabase(serverUrl: string): Promise<string> {
  return createStackDatabase(serverUrl, 'bench');
}

export function gatewayEnv(s: BenchSettings, databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: s.redisUrl,
    PORT: '0',
    BCRYPT_COST: String(s.bcryptCost),
    ...(s.bcryptConcurrency ? { BCRYPT_CONCURRENCY: String(s.bcryptConcurrency) } : {}),
    RATE_LIMITS: 'off',
    ...extra,
  };
}

/**
 * Figure 1: reconnect storm, Authorize round trips per second, each token used
 * once. The machine is shared, so gateway and ceiling run in alternating
 * short rounds and the best round of each counts.
 */
export async function figureAuthorize(s: BenchSettings, gateway: Measured, tokens: string[], rounds = 5): Promise<Row[]> {
  const roundS = s.stormS / rounds;
  let next = 0;
  const storm = (url: string) => {
    const share = tokens.slice(next, next + Math.floor(tokens.length / (rounds * 2)));
    next += share.length;
    return runLoad(loadOptions(url, 'authorize', { connections: 64, durationS: null, requests: share.length, maxTimeS: roundS }), { tokens: share });
  };
  // An equal-sized answer: the gateway's Authorize answer for one of these tokens.
  const bare = await spawnBareServer(await authorizeAnswerBytes(gateway.url, tokens[tokens.length - 1]!));
  try {
    const gwRounds: LoadReport[] = [];
    const bareRounds: LoadReport[] = [];
    let delayP99 = 0;
    for (let r = 0; r < rounds; r++) {
      s.log(`  round ${r + 1}/${rounds}: gateway then bare ws, ${roundS.toFixed(1)} s each, 64 sockets reconnecting, each token used once`);
      await gateway.probe('reset-delay');
      gwRounds.push(await storm(gateway.url));
      delayP99 = Math.max(delayP99, (await gateway.probe()).delay.p99);
      bareRounds.push(await storm(bare.url));
    }
    const best = (reports: LoadReport[]) => reports.map((r) => op(r, 'reconnect+authorize')).sort((a, b) => b.throughput - a.throughput)[0]!;
    const g = best(gwRounds);
    const c = best(bareRounds);
    const errors = gwRounds.reduce((n, r) => n + r.errors, 0);
    return [
      {
        figure: '1',
        metric: 'Authorize round trips/s (reconnect storm)',
        unit: '/s',
        gateway: g.throughput,
        ceiling: c.throughput,
        ratio: g.throughput / c.throughput,
        goal: '>= 40 % of ceiling',
        met: g.throughput / c.throughput >= 0.4 && errors === 0,
        note: `best of ${rounds} alternating rounds; p50 ${g.p50} ms, p99 ${g.p99} ms (bare p99 ${c.p99} ms) at 64 sockets in flight; ${errors} errors; gateway event-loop p99 ${delayP99} ms (saturated on purpose)`,
      },
    ];
  } finally {
    await bare.stop();
  }
}

/** Size of the gateway's answer to Authorize, so the bare server answers the same number of bytes. */
async function authorizeAnswerBytes(url: string, token: string): Promise<number> {
  const { WebSocket } = await import('ws');
  const { osmium } = await import('../../src/gen/osmium.js');
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await once(ws, 'open');
  ws.send(osmium.client.core.ClientMessage.encode({ id: 1, auth_authorize: { token } }).finish());
  const [data] = (await once(ws, 'message')) as [Buffer];
  ws.terminate();
  return data.length;
}

/** Opens `count` idle authorized sockets from child processes; resolves with a release function. */
async function holdIdle(url: string, count: number, tokens: string[]): Promise<{ open: number; errors: number; release(): Promise<void> }> {
  const perProcess = Math.min(9_900, Math.max(100, count)); // each holder stays well under its descriptor limit
  const processes = Math.ceil(count / perProcess);
  const children: ChildProcess[] = [];
  let offset = 0;
  for (let i = 0; i < processes; i++) {
    const n = Math.floor(count / processes) + (i < count % processes ? 1 : 0);
    const child = track(spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/holdIdle.ts'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const slice = tokens.slice(offset, offset + n);
    offset += n;
    child.send({
      type: 'start',
      options: loadOptions(url, 'idle', {
        connections: n,
        durationS: 600,
        heartbeatS: 60,
        workers: 1,
        rampS: n / 1_500,
        // Several source addresses: no shortage of ephemeral ports.
        sourceAddresses: 4,
        timeoutMs: 60_000,
      }),
      tokens: slice,
    });
    children.push(child);
  }
  const ready = await Promise.all(
    children.map(
      (child) =>
        new Promise<{ open: number; errors: number }>((resolve, reject) => {
          child.on('message', (m: { type: string; open: number; errors: number }) => {
            if (m.type === 'ready') resolve(m);
          });
          child.once('exit', (code) => reject(new Error(`idle holder exited with ${code}`)));
        }),
    ),
  );
  return {
    open: ready.reduce((a, r) => a + r.open, 0),
    errors: ready.reduce((a, r) => a + r.errors, 0),
    async release() {
      await Promise.all(
        children.map(async (child) => {
          child.removeAllListeners('exit');
          const exited = once(child, 'exit');
          child.send({ type: 'stop' });
          const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
          await exited;
          clearTimeout(timer);
        }),
      );
    },
  };
}

interface MemoryPoint {
  sockets: number;
  open: number;
  rssPerSocket: number;
  heapPerSocket: number;
}

/**
 * Opens idle authorized sockets up to each count in turn (cumulatively, from
 * one baseline after garbage collection), measuring RSS and heap at each.
 */
async function memoryPoints(target: Measured, counts: number[], tokens: string[], log: (l: string) => void, label: string): Promise<MemoryPoint[]> {
  const points: MemoryPoint[] = [];
  const holders: Array<Awaited<ReturnType<typeof holdIdle>>> = [];
  try {
    await new Promise((r) => setTimeout(r, 500));
    const base = await target.probe('gc');
    const baseRss = target.rssFromProc();
    let open = 0;
    let used = 0;
    for (const count of counts) {
      const more = count - used;
      const held = await holdIdle(target.url, more, tokens.slice(used, count));
      holders.push(held);
      used = count;
      open += held.open;
      // Let batched activity flushes settle, then collect garbage.
      await new Promise((r) => setTimeout(r, 2_500));
      const after = await target.probe('gc');
      const rss = target.rssFromProc();
      points.push({ sockets: count, open, rssPerSocket: (rss - baseRss) / open, heapPerSocket: (after.heapUsed - base.heapUsed) / open });
      log(`  ${label}: ${open} sockets open (${held.errors} errors): ${((rss - baseRss) / open / 1024).toFixed(2)} KiB RSS, ${((after.heapUsed - base.heapUsed) / open / 1024).toFixed(2)} KiB heap per socket`);
    }
  } finally {
    await Promise.all(holders.map((h) => h.release()));
  }
  return points;
}

/** Figure 2: memory per idle authorized connection vs bare idle ws sockets. */
export async function figureMemory(s: BenchSettings, databaseUrl: string, tokens: string[]): Promise<Row[]> {
  const gateway = await spawnGateway(gatewayEnv(s, databaseUrl));
  let gw: MemoryPoint[];
  try {
    gw = await memoryPoints(gateway, s.idleCounts, tokens, s.log, 'gateway');
  } finally {
    await gateway.stop();
  }
  const bare = await spawnBareServer(400);
  let ceiling: MemoryPoint[];
  try {
    ceiling = await memoryPoints(bare, s.idleCounts, tokens, s.log, 'bare ws');
  } finally {
    await bare.stop();
  }
  return s.idleCounts.flatMap((count, i) => {
    const g = gw[i]!;
    const c = ceiling[i]!;
    const kib = (b: number) => b / 1024;
    return [
      {
        figure: '2',
        metric: `RSS per idle authorized socket @ ${g.open}`,
        unit: 'KiB',
        gateway: kib(g.rssPerSocket),
        ceiling: kib(c.rssPerSocket),
        ratio: g.rssPerSocket / c.rssPerSocket,
        goal: '<= 1.5x bare',
        met: g.rssPerSocket / c.rssPerSocket <= 1.5 && g.open >= count * 0.99,
        note: count > g.open ? `${count} asked, ${g.open} opened` : undefined,
      },
      {
        figure: '2',
        metric: `heap per idle authorized socket @ ${g.open}`,
        unit: 'KiB',
        gateway: kib(g.heapPerSocket),
        ceiling: kib(c.heapPerSocket),
        ratio: g.heapPerSocket / c.heapPerSocket,
        goal: '<= 1.5x bare',
        met: g.heapPerSocket / c.heapPerSocket <= 1.5,
      },
    ];
  });
}

interface BcryptCeiling {
  perSecond: number;
  concurrency: number;
  delayP99: number;
}

async function bcryptCeiling(s: BenchSettings, seconds: number): Promise<BcryptCeiling> {
  const child = track(spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/bcryptCeiling.ts'], {
    cwd: ROOT,
    env: { ...process.env, BCRYPT_COST: String(s.bcryptCost), CEILING_SECONDS: String(seconds), ...(s.bcryptConcurrency ? { BCRYPT_CONCURRENCY: String(s.bcryptConcurrency) } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await once(child, 'exit');
  return JSON.parse(out.trim().split('\n').pop()!) as BcryptCeiling;
}

/**
 * Figure 3: sign-in throughput vs raw bcrypt, with Authorize p99 and
 * event-loop delay p99 during the storm. Ceiling and gateway alternate in two
 * rounds (the machine is shared); the best round of each counts for
 * throughput, the worst for the latencies.
 */
export async function figureSignIn(s: BenchSettings, gateway: Measured, rounds = 2): Promise<Row[]> {
  const seconds = s.stormS / rounds;
  const ceilings: BcryptCeiling[] = [];
  const signIns: LoadReport[] = [];
  const authorizes: LoadReport[] = [];
  const delays: number[] = [];
  for (let r = 0; r < rounds; r++) {
    s.log(`  round ${r + 1}/${rounds}: raw bcrypt.compare at cost ${s.bcryptCost} for ${seconds} s, then the gateway's sign-in storm (8 sockets) with reconnect+Authorize at 50/s alongside`);
    ceilings.push(await bcryptCeiling(s, seconds));
    await gateway.probe('reset-delay');
    const [si, az] = await Promise.all([
      runLoad(loadOptions(gateway.url, 'signin', { connections: 8, durationS: seconds, timeoutMs: 60_000, workers: 0 })),
      runLoad(loadOptions(gateway.url, 'authorize', { connections: 5, durationS: seconds, ratePerSocket: 10, workers: 0 })),
    ]);
    signIns.push(si);
    authorizes.push(az);
    delays.push((await gateway.probe()).delay.p99);
  }
  const ceiling = ceilings.sort((a, b) => b.perSecond - a.perSecond)[0]!;
  const si = signIns.map((r) => op(r, 'auth_sign_in')).sort((a, b) => b.throughput - a.throughput)[0]!;
  const az = authorizes.map((r) => op(r, 'auth_authorize')).sort((a, b) => b.p99 - a.p99)[0]!;
  const delayP99 = Math.max(...delays);
  const signInErrors = signIns.reduce((n, r) => n + op(r, 'auth_sign_in').errors, 0);
  const authorizeErrors = authorizes.reduce((n, r) => n + op(r, 'auth_authorize').errors, 0);
  return [
    {
      figure: '3',
      metric: `sign-ins/s at bcrypt cost ${s.bcryptCost}`,
      unit: '/s',
      gateway: si.throughput,
      ceiling: ceiling.perSecond,
      ratio: si.throughput / ceiling.perSecond,
      goal: '>= 85 % of raw bcrypt',
      met: si.throughput / ceiling.perSecond >= 0.85 && signInErrors === 0,
      note: `best of ${rounds} alternating rounds; raw bcrypt with ${ceiling.concurrency} at once; sign-in p50 ${si.p50} ms (queued behind the pool)`,
    },
    {
      figure: '3',
      metric: 'Authorize p99 during the sign-in storm',
      unit: 'ms',
      gateway: az.p99,
      ceiling: null,
      ratio: null,
      goal: '< 20 ms',
      met: az.p99 < 20 && authorizeErrors === 0,
      note: `worst of ${rounds} rounds, ${az.count} Authorize calls, p50 ${az.p50} ms`,
    },
    {
      figure: '3',
      metric: 'event-loop delay p99 during the sign-in storm',
      unit: 'ms',
      gateway: delayP99,
      ceiling: null,
      ratio: null,
      goal: '< 20 ms',
      met: delayP99 < 20,
      note: `worst of ${rounds} rounds; a process doing only the raw bcrypt work had event-loop p99 ${Math.max(...ceilings.map((c) => c.delayP99))} ms`,
    },
  ];
}

/** Raw Redis pub/sub latency on this machine: the floor of a cross-instance push. */
async function redisPubSubLatency(redisUrl: string, samples: number): Promise<number[]> {
  const pub = new Redis(redisUrl);
  const sub = new Redis(redisUrl);
  await sub.subscribe('bench:ping');
  const latencies: number[] = [];
  let resolveOne: (() => void) | null = null;
  sub.on('message', () => resolveOne?.());
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await new Promise<void>((resolve) => {
      resolveOne = resolve;
      void pub.publish('bench:ping', String(i));
    });
    latencies.push(performance.now() - started);
  }
  pub.disconnect();
  sub.disconnect();
  return latencies;
}

/** Figure 4: revoke on one instance, time to session_deleted on the other's socket. */
export async function figureRevocation(s: BenchSettings, samples: number): Promise<Row[]> {
  const databaseUrl = await createDatabase(s.databaseUrl);
  // bcrypt cost 4: the sign-ins that create the sessions to revoke are not what is measured.
  const a = await spawnGateway(gatewayEnv(s, databaseUrl, { BCRYPT_COST: '4' }));
  const b = await spawnGateway(gatewayEnv(s, databaseUrl, { BCRYPT_COST: '4' }));
  try {
    s.log(`  gateway: ${samples} revocations, revoking socket on instance A, revoked socket on instance B`);
    const report = await runLoad(loadOptions(a.url, 'revoke', { peerUrl: b.url, connections: 4, durationS: null, requests: samples, maxTimeS: 60, workers: 0 }));
    const push = op(report, 'revoke->push');
    const floor = await redisPubSubLatency(s.redisUrl, samples);
    return [
      {
        figure: '4',
        metric: 'cross-instance revocation push p99',
        unit: 'ms',
        gateway: push.p99,
        ceiling: percentile(floor, 99),
        ratio: push.p99 / percentile(floor, 99),
        goal: 'p99 < 50 ms',
        met: push.p99 < 50 && push.errors === 0 && push.count > 0,
        note: `median ${push.p50} ms over ${push.count} revocations (raw Redis pub/sub median ${percentile(floor, 50).toFixed(2)} ms)`,
      },
    ];
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

/** Milliseconds from spawning a process to the first 200 from `http://127.0.0.1:port/readyz`. */
async function timeToReady(env: Record<string, string>, port: number, script = 'src/main.ts', timeoutMs = 60_000): Promise<number | string> {
  const started = performance.now();
  const child = track(spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn', HOST: '127.0.0.1', WORKERS: '1', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  try {
    while (performance.now() - started < timeoutMs) {
      if (exited !== null) return `exited with ${exited}: ${output.trim().split('\n').slice(-1)[0] ?? ''}`.slice(0, 200);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (res.status === 200) return performance.now() - started;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return 'timed out';
  } finally {
    if (exited === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
}

/** Figure 5: start to /readyz 200 in server mode and embedded mode. */
export async function figureStart(s: BenchSettings, runs: number, freePort: () => Promise<number>): Promise<Row[]> {
  const servers: number[] = [];
  const ceilings: number[] = [];
  for (let i = 0; i < runs; i++) {
    const databaseUrl = await createDatabase(s.databaseUrl);
    const t = await timeToReady(gatewayEnv(s, databaseUrl), await freePort());
    if (typeof t === 'string') throw new Error(`gateway did not become ready: ${t}`);
    servers.push(t);
    const c = await timeToReady({}, await freePort(), 'scripts/bench/readyCeiling.ts');
    if (typeof c === 'number') ceilings.push(c);
  }
  const rows: Row[] = [
    {
      figure: '5',
      metric: 'start to /readyz 200, server mode (fresh database)',
      unit: 'ms',
      gateway: percentile(servers, 50),
      ceiling: ceilings.length ? percentile(ceilings, 50) : null,
      ratio: ceilings.length ? percentile(servers, 50) / percentile(ceilings, 50) : null,
      goal: 'reported',
      met: null,
      note: `median of ${runs}; ceiling: node + tsx serving /readyz with nothing else`,
    },
  ];
  const dataDir = mkdtempSync(join(tmpdir(), 'osmium-bench-embedded-'));
  try {
    const t = await timeToReady({ DATABASE_URL: '', REDIS_URL: '', DATA_DIR: dataDir }, await freePort(), 'src/main.ts', 90_000);
    rows.push({
      figure: '5',
      metric: 'start to /readyz 200, embedded mode (first start)',
      unit: 'ms',
      gateway: typeof t === 'number' ? t : null,
      ceiling: ceilings.length ? percentile(ceilings, 50) : null,
      ratio: typeof t === 'number' && ceilings.length ? t / percentile(ceilings, 50) : null,
      goal: 'reported',
      met: null,
      note: typeof t === 'number' ? 'fresh DATA_DIR' : `not measured: ${t}`,
    });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

export { mintGuestTokens };
