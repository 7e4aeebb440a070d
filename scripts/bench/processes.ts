/**
 * Processes the benchmark measures: gateways (`src/main.ts`) and the bare
 * `ws` ceiling server, each with the probe preloaded so the benchmark can ask
 * for memory and event-loop delay over IPC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { rssBytes } from '../procfs.mjs';
import { MEASURED_GATEWAY_ENV, waitForReady } from '../readyTimer.mjs';
import { freePort } from '../stack.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROBE = fileURLToPath(new URL('./probe.mjs', import.meta.url));

export interface ProbeReply {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  delay: { p50: number; p99: number; max: number; count: number };
  /** Set when a profiling request failed. */
  error?: string;
}

export interface Measured {
  process: ChildProcess;
  port: number;
  url: string;
  output: string[];
  /** Asks the probe; `gc` collects garbage first, `reset-delay` restarts the event-loop histogram. */
  probe(kind?: 'read' | 'gc' | 'reset-delay' | 'profile-start'): Promise<ProbeReply>;
  /** Stops the CPU profile started with probe('profile-start') and writes it (.cpuprofile JSON) to `file`. */
  stopProfile(file: string): Promise<ProbeReply>;
  /** VmRSS of the process from /proc, bytes. */
  rssFromProc(): number;
  stop(): Promise<void>;
}

let probeIds = 0;

/** Every process spawned here dies with the benchmark, whatever the way it ends. */
const spawned = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
export function track(child: ChildProcess): ChildProcess {
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  return child;
}


function attach(child: ChildProcess, port: number, output: string[]): Measured {
  const waiting = new Map<number, (r: ProbeReply) => void>();
  child.on('message', (m: { probe?: string; id?: number } & ProbeReply) => {
    if (m?.probe === 'reply' && m.id !== undefined) {
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    }
  });
  const ask = (message: Record<string, unknown>): Promise<ProbeReply> => {
    const id = ++probeIds;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('probe did not answer')), 60_000);
      waiting.set(id, (r) => {
        clearTimeout(timer);
        if (r.error) reject(new Error(`probe: ${r.error}`));
        else resolve(r);
      });
      child.send({ ...message, id });
    });
  };
  return {
    process: child,
    port,
    url: `ws://127.0.0.1:${port}`,
    output,
    probe(kind = 'read') {
      return ask({ probe: kind });
    },
    stopProfile(file) {
      return ask({ probe: 'profile-stop', file });
    },
    rssFromProc() {
      const rss = rssBytes(child.pid!);
      if (rss === null) throw new Error(`no VmRSS for process ${child.pid} (exited?)`);
      return rss;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
}

function nodeArgs(script: string, extra: readonly string[] = []): string[] {
  return ['--expose-gc', ...extra, '--import', 'tsx', '--import', PROBE, script];
}

function collect(child: ChildProcess, output: string[]): void {
  const push = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) output.push(line);
    if (output.length > 2000) output.splice(0, output.length - 2000);
  };
  child.stdout?.on('data', push);
  child.stderr?.on('data', push);
}

/**
 * Spawns `src/main.ts` with `env` on a free port and resolves once `/readyz`
 * answers 200 (at LOG_LEVEL=warn the gateway logs nothing when it starts).
 */
export async function spawnGateway(env: Record<string, string>, timeoutMs = 60_000, extraNodeArgs: readonly string[] = []): Promise<Measured> {
  const port = await freePort();
  const child = track(spawn(process.execPath, nodeArgs('src/main.ts', extraNodeArgs), {
    cwd: ROOT,
    env: { ...process.env, ...MEASURED_GATEWAY_ENV, OSMIUM_BENCH_PROBE: '1', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  }));
  const output: string[] = [];
  collect(child, output);
  try {
    await waitForReady(child, port, { timeoutMs, intervalMs: 25, output: () => output.join('\n') });
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`gateway ${(err as Error).message}`);
  }
  return attach(child, port, output);
}

/** Spawns the bare ws ceiling server (scripts/bench/bareServer.ts). */
export function spawnBareServer(answerBytes: number, initializeBytes = answerBytes): Promise<Measured> {
  return spawnServerScript('scripts/bench/bareServer.ts', { BARE_ANSWER_BYTES: String(answerBytes), BARE_INITIALIZE_BYTES: String(initializeBytes) });
}

/**
 * Spawns a server script of the bench (a ceiling, the minimal backend) with
 * the probe preloaded; it prints `listening <port>` once it listens.
 */
export async function spawnServerScript(script: string, env: Record<string, string> = {}): Promise<Measured> {
  const child = track(spawn(process.execPath, nodeArgs(script), {
    cwd: ROOT,
    env: { ...process.env, OSMIUM_BENCH_PROBE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  }));
  const output: string[] = [];
  collect(child, output);
  const port = await new Promise<number>((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /listening (\d+)/.exec(seen);
      if (match) {
        child.stdout!.off('data', onData);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}:\n${output.join('\n')}`)));
  });
  return attach(child, port, output);
}
