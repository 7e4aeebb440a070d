/**
 * Processes the benchmark measures: gateways (`src/main.ts`) and the bare
 * `ws` ceiling server, each with the probe preloaded so the benchmark can ask
 * for memory and event-loop delay over IPC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROBE = fileURLToPath(new URL('./probe.mjs', import.meta.url));

export interface ProbeReply {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  delay: { p50: number; p99: number; max: number; count: number };
}

export interface Measured {
  process: ChildProcess;
  port: number;
  url: string;
  output: string[];
  /** Asks the probe; `gc` collects garbage first, `reset-delay` restarts the event-loop histogram. */
  probe(kind?: 'read' | 'gc' | 'reset-delay'): Promise<ProbeReply>;
  /** VmRSS of the process from /proc, bytes. */
  rssFromProc(): number;
  stop(): Promise<void>;
}

let probeIds = 0;

function attach(child: ChildProcess, port: number, output: string[]): Measured {
  const waiting = new Map<number, (r: ProbeReply) => void>();
  child.on('message', (m: { probe?: string; id?: number } & ProbeReply) => {
    if (m?.probe === 'reply' && m.id !== undefined) {
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    }
  });
  return {
    process: child,
    port,
    url: `ws://127.0.0.1:${port}`,
    output,
    probe(kind = 'read') {
      const id = ++probeIds;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('probe did not answer')), 30_000);
        waiting.set(id, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        child.send({ probe: kind, id });
      });
    },
    rssFromProc() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
      return kb * 1024;
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

function nodeArgs(script: string): string[] {
  return ['--expose-gc', '--import', 'tsx', '--import', PROBE, script];
}

function collect(child: ChildProcess, output: string[]): void {
  const push = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) output.push(line);
    if (output.length > 2000) output.splice(0, output.length - 2000);
  };
  child.stdout?.on('data', push);
  child.stderr?.on('data', push);
}

/** Spawns `src/main.ts` with `env` and resolves once it logs "gateway listening". */
export async function spawnGateway(env: Record<string, string>, timeoutMs = 60_000): Promise<Measured> {
  const child = spawn(process.execPath, nodeArgs('src/main.ts'), {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      WORKERS: '1',
      OSMIUM_BENCH_PROBE: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output: string[] = [];
  collect(child, output);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start within ${timeoutMs} ms:\n${output.join('\n')}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        const match = /"msg":"gateway listening"/.test(line) ? /"port":(\d+)/.exec(line) : null;
        if (match) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          resolve(Number(match[1]));
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${output.join('\n')}`));
    });
  });
  return attach(child, port, output);
}

/** Spawns the bare ws ceiling server (scripts/bench/bareServer.ts). */
export async function spawnBareServer(answerBytes: number): Promise<Measured> {
  const child = spawn(process.execPath, nodeArgs('scripts/bench/bareServer.ts'), {
    cwd: ROOT,
    env: { ...process.env, OSMIUM_BENCH_PROBE: '1', BARE_ANSWER_BYTES: String(answerBytes) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output: string[] = [];
  collect(child, output);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(/listening (\d+)/.exec(chunk.toString())?.[1])));
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}:\n${output.join('\n')}`)));
  });
  return attach(child, port, output);
}
