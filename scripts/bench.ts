/**
 * `npm run bench [-- --quick] [-- --figures 1,3]`: starts its own Postgres and
 * Redis, measures the five figures of the performance goals each next to the
 * ceiling of this machine, prints the table, writes bench/results/<date>.json
 * and bench/results/latest.svg. See README "Load tests and benchmarks".
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { freePort, startStack } from './stack.mjs';
import { renderChart } from './bench/chart.js';
import {
  createDatabase, figureAuthorize, figureMemory, figureRevocation, figureSignIn, figureStart, gatewayEnv, mintGuestTokens, type BenchSettings, type Row,
} from './bench/figures.js';
import { spawnGateway } from './bench/processes.js';
import { table } from './load/report.js';

const USAGE = `usage: npm run bench -- [--quick] [--figures 1,2,3,4,5] [--bcrypt-cost N] [--out DIR]
  --quick          smaller counts and shorter storms (about 2 minutes instead of 5)
  --figures LIST   only these figures
  --bcrypt-cost N  BCRYPT_COST of the measured gateway (default 12, the configured default)
  --bcrypt-concurrency N  BCRYPT_CONCURRENCY of the gateway and the raw bcrypt ceiling (default: the gateway's default)
  --out DIR        results folder (default bench/results)`;

function parse(argv: string[]) {
  const options = { quick: false, figures: new Set([1, 2, 3, 4, 5]), bcryptCost: 12, bcryptConcurrency: null as number | null, out: fileURLToPath(new URL('../bench/results', import.meta.url)) };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--figures') {
      const list = value().split(',').map(Number);
      if (list.some((n) => !Number.isInteger(n) || n < 1 || n > 5)) throw new Error(`--figures takes numbers 1 to 5\n${USAGE}`);
      options.figures = new Set(list);
    } else if (arg === '--bcrypt-cost') {
      options.bcryptCost = Number(value());
      if (!Number.isInteger(options.bcryptCost) || options.bcryptCost < 4 || options.bcryptCost > 15) throw new Error('--bcrypt-cost must be 4 to 15');
    } else if (arg === '--bcrypt-concurrency') {
      options.bcryptConcurrency = Number(value());
      if (!Number.isInteger(options.bcryptConcurrency) || options.bcryptConcurrency < 1 || options.bcryptConcurrency > 64) throw new Error('--bcrypt-concurrency must be 1 to 64');
    } else if (arg === '--out') options.out = value();
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return options;
}

let options: ReturnType<typeof parse>;
try {
  options = parse(process.argv.slice(2));
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}

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
process.on('exit', () => stack.stop());
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

/**
 * Sockets one process may hold: the gateway needs a few descriptors besides
 * its sockets, and the descriptor limit cannot always be raised (containers).
 */
function socketCeiling(): number {
  try {
    const soft = Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
    return Number.isFinite(soft) ? soft - 200 : 20_000;
  } catch {
    return 20_000;
  }
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
  log,
};

const rows: Row[] = [];
const databaseUrl = await createDatabase(stack.databaseUrl);
const needsGateway = [1, 2, 3].some((f) => options.figures.has(f));
const gateway = needsGateway ? await spawnGateway(gatewayEnv(settings, databaseUrl)) : null;
try {
  let tokens: string[] = [];
  if (gateway && (options.figures.has(1) || options.figures.has(2))) {
    const count = Math.max(options.figures.has(2) ? Math.max(...settings.idleCounts) : 0, options.quick ? 8_000 : 20_000);
    log(`minting ${count} guest sessions (distinct tokens)`);
    tokens = await mintGuestTokens(gateway.url, count);
  }
  if (gateway && options.figures.has(1)) {
    log('figure 1: Authorize round trips per second in a reconnect storm');
    rows.push(...(await figureAuthorize(settings, gateway, tokens)));
  }
  if (gateway && options.figures.has(3)) {
    log(`figure 3: sign-in throughput at bcrypt cost ${settings.bcryptCost}`);
    rows.push(...(await figureSignIn(settings, gateway)));
  }
  await gateway?.stop();
  if (options.figures.has(2)) {
    log(`figure 2: memory per idle authorized connection at ${settings.idleCounts.join(' and ')} sockets`);
    rows.push(...(await figureMemory(settings, databaseUrl, tokens)));
  }
  if (options.figures.has(4)) {
    log('figure 4: cross-instance revocation push');
    rows.push(...(await figureRevocation(settings, options.quick ? 200 : 500)));
  }
  if (options.figures.has(5)) {
    log('figure 5: start to ready');
    rows.push(...(await figureStart(settings, options.quick ? 2 : 3, freePort)));
  }
} finally {
  await gateway?.stop();
}

rows.sort((a, b) => a.figure.localeCompare(b.figure)); // stable: rows of a figure keep their order
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

const date = new Date().toISOString();
mkdirSync(options.out, { recursive: true });
const file = join(options.out, `${date.slice(0, 19).replace(/:/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ date, machine, noise: { before: noiseBefore, after: noiseAfter }, quick: options.quick, bcryptCost: options.bcryptCost, durationS: (performance.now() - started) / 1000, rows }, null, 2)}\n`);
const markdown = [
  `Measured ${date.slice(0, 16).replace('T', ' ')} UTC with \`npm run bench${options.quick ? ' -- --quick' : ''}\` on ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}; load average ${noiseBefore.loadAverage1m} → ${noiseAfter.loadAverage1m}, idle event-loop p99 ${noiseBefore.idleEventLoopP99Ms} / ${noiseAfter.idleEventLoopP99Ms} ms.`,
  '',
  `| ${header.join(' | ')} |`,
  `|${header.map((_, i) => (i === 0 || i === 4 ? '---' : '---:')).join('|')}|`,
  ...lines.map((cells) => `| ${cells.join(' | ')} |`),
  '',
  ...rows.filter((r) => r.note).map((r) => `- ${r.figure}. ${r.metric}: ${r.note}`),
  '',
].join('\n');
writeFileSync(join(options.out, 'latest.md'), markdown);
writeFileSync(join(options.out, 'latest.svg'), renderChart(rows, `npm run bench${options.quick ? ' --quick' : ''}, ${date.slice(0, 10)}: ${machine.cpus} cores, Node ${machine.node}`));
log(`wrote ${file}, latest.md and latest.svg in ${options.out}`);
process.exit(0);
