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
import { Fleet } from './fleet.js';
import { Sampler } from './sampler.js';
import { buildSeries, churnFailures, faultCount, growthFailures, type Sample, type Series } from './series.js';

export type { Sample, Series } from './series.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MiB = 1024 * 1024;

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
        if (errors) {
          const top = Object.entries(fleet!.errors).sort((a, b) => b[1] - a[1]).slice(0, 3);
          log(`           errors so far: ${top.map(([k, n]) => `${k} ×${n}`).join('; ')}`);
        }
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
    const operations = Object.values(fleet.done).reduce((a, b) => a + b, 0);
    const faults = faultCount(fleet.errors);
    const failures = [...growthFailures(series), ...churnFailures(fleet.errors, operations, options)];
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

/** An earlier result judged again with the current rule: its series rebuilt from its samples, its other failures kept. */
export function rejudge(result: SoakResult): SoakResult {
  const series = buildSeries(result.samples, result.options.sockets);
  const failures = [...growthFailures(series), ...churnFailures(result.errors, result.operations, result.options)];
  return { ...result, series, failures, faults: faultCount(result.errors), ok: failures.length === 0 };
}
