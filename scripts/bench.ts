/**
 * `npm run bench [-- --quick --figures 1a,1b,6]` (`-- --help`: every
 * option): starts its own Postgres and Redis, measures each figure of the
 * performance goals next to the ceiling of this machine in the same run,
 * prints the table, writes bench/results/<date>.json, latest.md and
 * latest.svg. See README "Load tests and benchmarks"; `npm run capacity`
 * reads the JSON.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { openFilesLimit } from './procfs.mjs';
import { startStack } from './stack.mjs';
import { benchCommand, figureOrder } from './bench/args.js';
import { chartCaption, renderChart } from './bench/chart.js';
import { SINGLE_PROCESS, cpuFigureSessions, cpuFigureSizes, figureCpu, type GatewayMode, type ServerWatch } from './bench/cpuFigures.js';
import { figureEnumeration } from './bench/enumeration.js';
import { figureFairness } from './bench/fairness.js';
import {
  BENCH_REDIS_PREFIX, createDatabase, figureAuthorize, figureMemory, figureRevocation, figureSignIn, figureStart, gatewayEnv, type BenchSettings, type Row,
} from './bench/figures.js';
import { FORWARDING_SOCKETS, figureForwarding } from './bench/forwarding.js';
import { GatewayProfile } from './bench/apiLoad.js';
import { figureIdleState, type SessionFootprint } from './bench/idleState.js';
import { figureIntrospection, introspectionSizes } from './bench/introspection.js';
import { figurePush, pushSessions, pushSizes } from './bench/push.js';
import { spawnGateway } from './bench/processes.js';
import { formatSelfTime, summarizeCpuProfile } from './bench/profile.js';
import { RedisWatch, postgresPid } from './bench/servers.js';
import { mintGuestSessions, type BenchSession } from './bench/sessions.js';
import { table } from './load/report.js';

const options = benchCommand.parseOrExit();
const want = (id: string) => options.figures.has(id as never);

const started = performance.now();
const log = (line: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`);
const machine = {
  cpus: availableParallelism(),
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
};
log(`machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}`);

/**
 * How noisy the machine is right now: the load average, and the event-loop
 * delay p99 of this process doing nothing for 2 s. On a machine shared with
 * other work, latency goals are judged against this floor.
 */
async function noiseFloor() {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  await new Promise((r) => setTimeout(r, 2_000));
  delay.disable();
  return { loadAverage1m: Math.round(loadavg()[0]! * 100) / 100, idleEventLoopP99Ms: Math.round(delay.percentile(99) / 1e4) / 100 };
}
const noiseBefore = await noiseFloor();
log(`noise floor: load average ${noiseBefore.loadAverage1m}, idle event-loop p99 ${noiseBefore.idleEventLoopP99Ms} ms`);

const stack = await startStack();
const outboxDir = mkdtempSync(join(tmpdir(), 'osmium-bench-outbox-'));
process.on('exit', () => {
  stack.stop();
  rmSync(outboxDir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

/**
 * Sockets one process may hold: the gateway needs a few descriptors besides
 * its sockets, and the descriptor limit cannot always be raised (containers).
 */
function socketCeiling(): number {
  const soft = openFilesLimit();
  return soft === null ? 20_000 : soft - 200;
}
const maxSockets = Math.min(20_000, socketCeiling());
if (maxSockets < 20_000) log(`descriptor limit: figure 2 stops at ${maxSockets} sockets (ulimit -n is ${maxSockets + 200})`);

const settings: BenchSettings = {
  quick: options.quick,
  bcryptCost: options.bcryptCost,
  bcryptConcurrency: options.bcryptConcurrency,
  databaseUrl: stack.databaseUrl,
  redisUrl: stack.redisUrl,
  stormS: options.quick ? 6 : 10,
  idleCounts: [...new Set(options.quick ? [Math.min(5_000, maxSockets), Math.min(10_000, maxSockets)] : [Math.min(10_000, maxSockets), maxSockets])],
  outboxDir,
  extraEnv: options.gatewayEnv,
  log,
};
const idleSockets = Math.min(options.idleSockets, maxSockets);

const redisWatch = new RedisWatch(stack.redisUrl);
const watch: ServerWatch = { redis: redisWatch, redisPid: await redisWatch.pid(), postgresPid: await postgresPid(stack.databaseUrl), redisPrefix: BENCH_REDIS_PREFIX };

const rows: Row[] = [];
const databaseUrl = await createDatabase(stack.databaseUrl);

/**
 * Figures 1a/1b run on one process and in the default production mode
 * (WORKERS = cores, src/config.ts), unless this machine has one core.
 */
const defaultWorkers = availableParallelism();
const cpuModes: GatewayMode[] = [SINGLE_PROCESS, ...(defaultWorkers > 1 ? [{ workers: defaultWorkers, label: `WORKERS=${defaultWorkers} (the default: one per core)` }] : [])];

// One pool of distinct guest sessions (users) serves figures 1, 1a, 1b, 2 and 7.
const poolSize = Math.max(
  want('1') ? (options.quick ? 8_000 : 20_000) : 0,
  want('1a') || want('1b') ? cpuModes.length * cpuFigureSessions(cpuFigureSizes(options.quick), { a: want('1a'), b: want('1b') }) : 0,
  want('2') ? Math.max(...settings.idleCounts) : 0,
  want('7') ? idleSockets : 0,
  want('9') ? FORWARDING_SOCKETS : 0,
  want('10') ? pushSessions(pushSizes(options.quick)) : 0,
  want('11') ? introspectionSizes(options.quick).sessions : 0,
);
const needsMainGateway = poolSize > 0 || want('3');
const mainGateway = needsMainGateway ? await spawnGateway(gatewayEnv(settings, databaseUrl)) : null;
let pool: BenchSession[] = [];
let cpuProfile: ReturnType<typeof summarizeCpuProfile> | null = null;
/** Profiles of figures 9 to 11 (`--cpu-profile`). */
const figureProfiles: Array<{ figure: string; profile: GatewayProfile }> = [];
let footprint: SessionFootprint | null = null;
try {
  if (mainGateway && poolSize > 0) {
    log(`minting ${poolSize} guest sessions (distinct users and tokens)`);
    const before = await redisWatch.counters();
    pool = await mintGuestSessions(mainGateway.url, poolSize);
    const after = await redisWatch.counters();
    footprint = { redisBytesPerSession: (after.usedMemory - before.usedMemory) / pool.length, sessionsCreated: pool.length };
  }
  const tokens = pool.map((x) => x.token);
  if (mainGateway && want('1')) {
    log('figure 1: reconnect round trips per second (new socket + Authorize, cache warm)');
    rows.push(...(await figureAuthorize(settings, mainGateway, tokens)));
  }
  if (mainGateway && want('3')) {
    log(`figure 3: sign-in throughput at bcrypt cost ${settings.bcryptCost}`);
    rows.push(...(await figureSignIn(settings, mainGateway)));
  }
  await mainGateway?.stop();
  if (want('1a') || want('1b')) {
    log('figures 1a/1b: server CPU per Authorize on open sockets and per reconnect, aged sessions, fresh gateway process');
    const profileDir = options.cpuProfile ? mkdtempSync(join(tmpdir(), 'osmium-bench-profile-')) : null;
    const perMode = cpuFigureSessions(cpuFigureSizes(options.quick), { a: want('1a'), b: want('1b') });
    for (const [i, mode] of cpuModes.entries()) {
      // The profiler follows one process: only the single-process run is profiled.
      const cpu = await figureCpu(settings, watch, databaseUrl, gatewayEnv(settings, databaseUrl), pool.slice(i * perMode, (i + 1) * perMode), { a: want('1a'), b: want('1b') }, mode.workers === 1 ? profileDir : null, mode);
      rows.push(...cpu.rows);
      cpuProfile ??= cpu.profile;
    }
    if (profileDir && !process.env.KEEP_PROFILE) rmSync(profileDir, { recursive: true, force: true });
  }
  if (want('2')) {
    log(`figure 2: memory per idle authorized connection at ${settings.idleCounts.join(' and ')} sockets`);
    rows.push(...(await figureMemory(settings, databaseUrl, tokens)));
  }
  if (want('7')) {
    log(`figure 7: Postgres writes, Redis commands and CPU per idle socket (${idleSockets} sockets)`);
    rows.push(...(await figureIdleState(settings, watch, databaseUrl, gatewayEnv(settings, databaseUrl), tokens, idleSockets, options.idleWindowS, footprint, options.idleTimeScale)));
  }
  const apiProfileDir = options.cpuProfile && (want('9') || want('10') || want('11')) ? mkdtempSync(join(tmpdir(), 'osmium-bench-profile-')) : null;
  const profileOf = (figure: string) => {
    const profile = new GatewayProfile(apiProfileDir, `figure${figure}`);
    figureProfiles.push({ figure, profile });
    return profile;
  };
  if (want('9')) {
    log('figure 9: forwarding to a backend (messages.sendMessage to a createBackendHandler backend) against a bare ws forwarder');
    rows.push(...(await figureForwarding(settings, watch, gatewayEnv(settings, databaseUrl), pool, profileOf('9'))));
  }
  if (want('10')) {
    log('figure 10: the push API, against a bare ws server sending the same frames; cross-instance push');
    rows.push(...(await figurePush(settings, watch, gatewayEnv(settings, databaseUrl), pool, profileOf('10'))));
  }
  if (want('11')) {
    log('figure 11: token introspection beside Authorize, against a bare HTTP server');
    rows.push(...(await figureIntrospection(settings, watch, databaseUrl, gatewayEnv(settings, databaseUrl), pool, rows.find((r) => r.key === 'cpu_per_authorize'), profileOf('11'))));
  }
  if (apiProfileDir && !process.env.KEEP_PROFILE) rmSync(apiProfileDir, { recursive: true, force: true });
  else if (apiProfileDir) log(`profiles of figures 9-11 kept in ${apiProfileDir}`);
  if (want('4')) {
    log('figure 4: cross-instance revocation push');
    rows.push(...(await figureRevocation(settings, options.quick ? 200 : 500)));
  }
  if (want('6')) {
    log('figure 6: hash-pool fairness (legitimate sign-in during a sign-in flood from another address)');
    rows.push(...(await figureFairness(settings, gatewayEnv(settings, await createDatabase(stack.databaseUrl)), options.quick ? 1 : 2)));
  }
  if (want('8')) {
    log('figure 8: enumeration timing');
    rows.push(...(await figureEnumeration(settings, gatewayEnv(settings, await createDatabase(stack.databaseUrl)), options.quick ? 100 : 200)));
  }
  if (want('5')) {
    log('figure 5: start to ready');
    rows.push(...(await figureStart(settings, options.quick ? 2 : 7)));
  }
} finally {
  await mainGateway?.stop();
  redisWatch.close();
}

rows.sort((a, b) => figureOrder(a.figure) - figureOrder(b.figure)); // stable: rows of a figure keep their order
const noiseAfter = await noiseFloor();
log(`noise floor: load average ${noiseAfter.loadAverage1m}, idle event-loop p99 ${noiseAfter.idleEventLoopP99Ms} ms`);

const fmt = (n: number | null, unit = '') => (n === null ? '-' : `${n >= 100 ? n.toFixed(0) : n.toFixed(2)}${unit ? ` ${unit}` : ''}`);
const header = ['figure', 'gateway', 'ceiling', 'ratio', 'goal', 'met?'];
const lines = rows.map((r) => [
  `${r.figure}. ${r.metric}`,
  fmt(r.gateway, r.unit),
  fmt(r.ceiling, r.unit),
  r.ratio === null ? '-' : `${(r.ratio * 100).toFixed(0)} %`,
  r.goal,
  r.met === null ? '-' : r.met ? 'yes' : 'NO',
]);
console.log(`\n${table(header, lines)}\n`);
for (const r of rows) if (r.note) console.log(`  ${r.figure}. ${r.metric}: ${r.note}`);
const profileTexts = [
  ...(cpuProfile ? [`gateway CPU profile of figures ${[want('1a') ? '1a' : '', want('1b') ? '1b' : ''].filter(Boolean).join(' and ')}, top self time (${cpuProfile.busyMs.toFixed(0)} ms busy):\n${formatSelfTime(cpuProfile.entries)}`] : []),
  ...figureProfiles.flatMap(({ figure, profile }) =>
    profile.summary ? [`gateway CPU profile of figure ${figure}'s measured rounds, top self time (${profile.summary.busyMs.toFixed(0)} ms busy):\n${formatSelfTime(profile.summary.entries)}`] : [],
  ),
];
const profileText = profileTexts.length ? profileTexts.join('\n\n') : null;
if (profileText) console.log(`\n${profileText}\n`);

const date = new Date().toISOString();
const durationS = (performance.now() - started) / 1000;
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
mkdirSync(options.out, { recursive: true });
const file = join(options.out, `${date.slice(0, 19).replace(/:/g, '-')}.json`);
writeFileSync(
  file,
  `${JSON.stringify(
    { date, command, machine, noise: { before: noiseBefore, after: noiseAfter }, quick: options.quick, bcryptCost: options.bcryptCost, figures: [...options.figures], gatewayEnv: options.gatewayEnv, durationS, rows, cpuProfile, cpuProfiles: Object.fromEntries(figureProfiles.filter((x) => x.profile.summary).map((x) => [x.figure, x.profile.summary])) },
    null,
    2,
  )}\n`,
);
const markdown = [
  `Measured ${date.slice(0, 16).replace('T', ' ')} UTC with \`${command}\` (${durationS.toFixed(0)} s) on ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}; load average ${noiseBefore.loadAverage1m} → ${noiseAfter.loadAverage1m}, idle event-loop p99 ${noiseBefore.idleEventLoopP99Ms} / ${noiseAfter.idleEventLoopP99Ms} ms.`,
  '',
  `| ${header.join(' | ')} |`,
  `|${header.map((_, i) => (i === 0 || i === 4 ? '---' : '---:')).join('|')}|`,
  ...lines.map((cells) => `| ${cells.join(' | ')} |`),
  '',
  ...rows.filter((r) => r.note).map((r) => `- ${r.figure}. ${r.metric}: ${r.note}`),
  '',
  ...(profileText ? ['```', profileText, '```', ''] : []),
].join('\n');
writeFileSync(join(options.out, 'latest.md'), markdown);
writeFileSync(join(options.out, 'latest.svg'), renderChart(rows, chartCaption(command, date, machine, noiseBefore.loadAverage1m, noiseAfter.loadAverage1m)));
log(`wrote ${file}, latest.md and latest.svg in ${options.out}`);
process.exit(0);
