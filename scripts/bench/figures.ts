/**
 * Figures 1 to 5 of `npm run bench` (1a/1b: cpuFigures.ts, 6: fairness.ts,
 * 7: idleState.ts, 8: enumeration.ts), each measured next to its ceiling on
 * the same machine, and what they share (rows, settings, gateway settings,
 * idle socket holders). Every figure returns table rows; none throws for a
 * missed goal (only for a broken setup).
 */
import { createDatabase as createStackDatabase } from '../stack.mjs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { LoadOptions, ScenarioName } from '../load/args.js';
import { runLoad, type LoadReport } from '../load/run.js';
import { mintGuestTokens } from '../load/scenarios.js';
import { percentile } from '../load/stats.js';
import { NotReady, READY_CEILING, timeToReady } from '../readyTimer.mjs';
import { spawnBareServer, spawnGateway, track, type Measured } from './processes.js';

export interface Row {
  /** Figure id: '1', '1a', '1b', '2' ... '8'. */
  figure: string;
  metric: string;
  unit: string;
  gateway: number | null;
  ceiling: number | null;
  /**
   * The figure's ratio as its goal states it: gateway / ceiling for
   * throughput and memory; ceiling / gateway for CPU per request (bare CPU
   * over gateway CPU, so higher is better); slower / faster for timing parity.
   */
  ratio: number | null;
  goal: string;
  met: boolean | null;
  note?: string;
  /** Stable name of the row for scripts reading results (the capacity model). */
  key?: string;
  /** Measured details beside the headline number (parts of a sum, bytes, counts), for the capacity model. */
  data?: Record<string, number | string | null>;
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
  /** Folder for the .eml files of every bench gateway (never the repository's data/). */
  outboxDir: string;
  /** Settings added to every bench gateway (`--gateway-env KEY=VALUE`), after the figure's own. */
  extraEnv: Record<string, string>;
  log(line: string): void;
}

/** REDIS_PREFIX of every bench gateway (aging.ts names keys under it). */
export const BENCH_REDIS_PREFIX = 'osm:';

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
    REDIS_PREFIX: BENCH_REDIS_PREFIX,
    MAIL_OUTBOX_DIR: s.outboxDir,
    PORT: '0',
    BCRYPT_COST: String(s.bcryptCost),
    ...(s.bcryptConcurrency ? { BCRYPT_CONCURRENCY: String(s.bcryptConcurrency) } : {}),
    RATE_LIMITS: 'off',
    ...extra,
    ...s.extraEnv,
  };
}

/**
 * Figure 1: reconnect round trips per second in a storm: 64 clients each
 * looping new socket, auth.authorize (no core.Initialize), close, each token
 * used once, on sessions minted minutes before (their cache entries warm).
 * Wall-clock throughput with the load generator on the same cores: figures
 * 1a and 1b measure the server's CPU instead. The machine is shared, so
 * gateway and ceiling run in alternating short rounds and the best round of
 * each counts.
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
        key: 'reconnects_per_second_warm',
        metric: 'reconnect round trips/s (new socket + Authorize, no Initialize, cache warm)',
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

/** Opens `count` idle authorized sockets from child processes, heartbeating every `heartbeatS`; resolves with a release function. */
export async function holdIdle(
  url: string,
  count: number,
  tokens: string[],
  heartbeatS = 60,
  /** Sockets opened and authorized per second, over all holders. */
  openPerSecond = 1_500,
): Promise<{ open: number; errors: number; release(): Promise<Record<string, number>> }> {
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
        heartbeatS,
        workers: 1,
        rampS: count / openPerSecond,
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
    /** Stops the holders; resolves with their errors by operation and code (setup failures included). */
    async release() {
      const errors: Record<string, number> = {};
      await Promise.all(
        children.map(async (child) => {
          child.removeAllListeners('exit');
          child.on('message', (m: { type: string; report?: LoadReport }) => {
            if (m.type !== 'done' || !m.report) return;
            for (const op of m.report.operations) for (const [code, n] of Object.entries(op.errorsByCode)) errors[`${op.name} ${code}`] = (errors[`${op.name} ${code}`] ?? 0) + n;
          });
          const exited = once(child, 'exit');
          child.send({ type: 'stop' });
          const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
          await exited;
          clearTimeout(timer);
        }),
      );
      return errors;
    },
  };
}

interface MemoryPoint {
  sockets: number;
  open: number;
  /** RSS of the process before any socket, bytes. */
  baseRss: number;
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
      points.push({ sockets: count, open, baseRss, rssPerSocket: (rss - baseRss) / open, heapPerSocket: (after.heapUsed - base.heapUsed) / open });
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
        key: `rss_per_idle_socket@${count}`,
        metric: `RSS per idle authorized socket @ ${g.open}`,
        unit: 'KiB',
        gateway: kib(g.rssPerSocket),
        ceiling: kib(c.rssPerSocket),
        ratio: g.rssPerSocket / c.rssPerSocket,
        goal: '<= 1.5x bare',
        met: g.rssPerSocket / c.rssPerSocket <= 1.5 && g.open >= count * 0.99,
        note: count > g.open ? `${count} asked, ${g.open} opened` : undefined,
        data: { baseRssBytes: g.baseRss, sockets: g.open },
      },
      {
        figure: '2',
        key: `heap_per_idle_socket@${count}`,
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
      key: 'signins_per_second',
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
export async function redisPubSubLatency(redisUrl: string, samples: number): Promise<number[]> {
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
        key: 'revocation_push_p99',
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

/** Milliseconds from spawning `node <args>` to /readyz 200 (scripts/readyTimer.mjs), or why it did not get there, in one line. */
async function startToReady(env: Record<string, string>, args: string[], timeoutMs = 60_000): Promise<number | string> {
  try {
    return (await timeToReady({ args, env, timeoutMs, onSpawn: track })).ms;
  } catch (err) {
    if (!(err instanceof NotReady)) throw err;
    return err.message.replace(/\s+/g, ' ').slice(0, 200);
  }
}

/** How figure 5 starts the gateway: the production build when there is one, else TypeScript through tsx. */
export interface StartCommand {
  args: string[];
  label: string;
  /** `npm run build` before measuring: null when package.json has no build script. */
  build: { ms: number; ok: boolean; output: string } | null;
}

const TSX_START = ['--import', 'tsx', 'src/main.ts'];

/**
 * Runs `npm run build` when package.json has a build script (so dist/ is
 * current), then picks `node dist/main.js` if it exists, else
 * `node --import tsx src/main.ts`.
 */
export function startCommand(root = ROOT): StartCommand {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  let build: StartCommand['build'] = null;
  if (pkg.scripts?.build) {
    const started = performance.now();
    const run = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    build = { ms: performance.now() - started, ok: run.status === 0, output: `${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ') };
  }
  if (existsSync(join(root, 'dist', 'main.js'))) return { args: ['dist/main.js'], label: 'node dist/main.js', build };
  return { args: TSX_START, label: 'node --import tsx src/main.ts', build };
}

/**
 * Figure 5: start to /readyz 200 in server mode (a fresh database, and a
 * migrated one as at a restart) and embedded mode (empty DATA_DIR), against
 * plain node serving /readyz with nothing else
 * (scripts/bench/readyCeiling.mjs). Runs alternate; medians count. When the
 * production build is used, the tsx start is measured beside it for reference.
 */
export async function figureStart(s: BenchSettings, runs: number): Promise<Row[]> {
  const command = startCommand();
  if (command.build) s.log(`  npm run build: ${command.build.ok ? 'ok' : 'FAILED'} in ${(command.build.ms / 1000).toFixed(1)} s`);
  s.log(`  gateway started as: ${command.label}`);
  const servers: number[] = [];
  const restarts: number[] = [];
  const viaTsx: number[] = [];
  const ceilings: number[] = [];
  const usesBuild = command.args !== TSX_START;
  // A restart (or one more instance) finds its database migrated: one start first migrates it.
  const migrated = await createDatabase(s.databaseUrl);
  const first = await startToReady(gatewayEnv(s, migrated), command.args);
  if (typeof first === 'string') throw new Error(`gateway did not become ready: ${first}`);
  for (let i = 0; i < runs; i++) {
    const t = await startToReady(gatewayEnv(s, await createDatabase(s.databaseUrl)), command.args);
    if (typeof t === 'string') throw new Error(`gateway did not become ready: ${t}`);
    servers.push(t);
    const r = await startToReady(gatewayEnv(s, migrated), command.args);
    if (typeof r === 'string') throw new Error(`gateway did not become ready: ${r}`);
    restarts.push(r);
    const c = await startToReady({}, [READY_CEILING]);
    if (typeof c === 'number') ceilings.push(c);
    if (usesBuild) {
      const x = await startToReady(gatewayEnv(s, await createDatabase(s.databaseUrl)), TSX_START);
      if (typeof x === 'number') viaTsx.push(x);
    }
  }
  const ceiling = ceilings.length ? percentile(ceilings, 50) : null;
  const server = percentile(servers, 50);
  const restart = percentile(restarts, 50);
  const spread = (xs: number[]) => `${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))} ms`;
  const buildNote = command.build ? `; npm run build ${command.build.ok ? 'took' : 'FAILED after'} ${(command.build.ms / 1000).toFixed(1)} s` : '; no build script';
  /** A server-mode row: its median against the ceiling, goal 2×. */
  const serverRow = (key: string, metric: string, gateway: number, note: string, data?: Row['data']): Row => ({
    figure: '5', key, metric, unit: 'ms', gateway, ceiling,
    ratio: ceiling ? gateway / ceiling : null,
    goal: '<= 2x ceiling',
    met: ceiling ? gateway / ceiling <= 2 : null,
    note,
    ...(data ? { data } : {}),
  });
  const rows: Row[] = [
    serverRow(
      'start_server_mode',
      'start to /readyz 200, server mode (fresh database)',
      server,
      `median of ${runs} (${spread(servers)}) as \`${command.label}\`${usesBuild && viaTsx.length ? `; \`node --import tsx src/main.ts\` ${Math.round(percentile(viaTsx, 50))} ms` : ''}` +
        `; ceiling: plain node serving /readyz, median ${ceilings.length ? spread(ceilings) : '-'}${buildNote}`,
      { command: command.label, viaTsxMs: viaTsx.length ? percentile(viaTsx, 50) : null },
    ),
    serverRow(
      'start_server_mode_restart',
      'start to /readyz 200, server mode (migrated database: a restart, or one more instance)',
      restart,
      `median of ${runs} (${spread(restarts)}) as \`${command.label}\`, interleaved with the fresh-database starts`,
    ),
  ];
  const dataDir = mkdtempSync(join(tmpdir(), 'osmium-bench-embedded-'));
  try {
    chmodSync(dataDir, 0o755); // as root, the embedded Postgres runs as the user postgres, who must enter it
    const t = await startToReady({ ...s.extraEnv, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: dataDir }, command.args, 90_000);
    rows.push({
      figure: '5',
      key: 'start_embedded_mode',
      metric: 'start to /readyz 200, embedded mode (first start)',
      unit: 'ms',
      gateway: typeof t === 'number' ? t : null,
      ceiling,
      ratio: typeof t === 'number' && ceiling ? t / ceiling : null,
      goal: 'reported',
      met: null,
      note: typeof t === 'number' ? `fresh DATA_DIR (creating the Postgres cluster is most of it), as \`${command.label}\`` : `not measured: ${t}`,
    });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

export { mintGuestTokens };
