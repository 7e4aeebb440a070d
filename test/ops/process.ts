/** Running the gateway, npm or a built image the way a person does, and reading what it says. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; rejects with its output when it runs past `deadlineMs`. */
export async function runToExit(command: string, args: string[], options: SpawnOptions & { deadlineMs?: number } = {}): Promise<Finished> {
  const { deadlineMs = 60_000, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c));
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  if (signal === 'SIGKILL') throw new Error(`${command} ${args.join(' ')} still ran after ${deadlineMs} ms:\n${stdout}\n${stderr}`);
  return { code, signal, stdout, stderr };
}

/** `node --import tsx src/main.ts` with `env` over a quiet production-like environment. */
export function runGatewayToExit(env: Record<string, string>, deadlineMs = 60_000): Promise<Finished> {
  return runToExit(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'info', HOST: '127.0.0.1', WORKERS: '1', ...env },
    deadlineMs,
  });
}

/** A long-running process whose output lines are collected as they come. */
export interface Running {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line matching `pattern`; rejects when the process exits first or the deadline passes. */
  line(pattern: RegExp, deadlineMs?: number): Promise<string>;
  /** Sends `signal` (to the whole process group when started `detached`) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process has exited by itself. */
  exited(deadlineMs?: number): Promise<number | null>;
}

export function startProcess(command: string, args: string[], options: SpawnOptions = {}): Running {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      lines.push(...parts);
    });
  }
  return {
    child,
    lines,
    async line(pattern, deadlineMs = 90_000) {
      const until = Date.now() + deadlineMs;
      for (;;) {
        const found = lines.find((l) => pattern.test(l));
        if (found) return found;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`exited with ${child.exitCode ?? child.signalCode} before printing ${pattern}:\n${lines.join('\n')}`);
        }
        if (Date.now() > until) throw new Error(`no line matching ${pattern} in ${deadlineMs} ms:\n${lines.join('\n')}`);
        await sleep(25);
      }
    },
    async exited(deadlineMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      clearTimeout(timer);
      if (signal === 'SIGKILL') throw new Error(`still running after ${deadlineMs} ms:\n${lines.join('\n')}`);
      return code;
    },
    async stop(signal = 'SIGTERM') {
      const signalGroup = () => {
        try {
          process.kill(-child.pid!, signal);
        } catch {
          /* the group is gone */
        }
      };
      if (child.exitCode !== null || child.signalCode !== null) {
        if (options.detached) signalGroup(); // what the process left behind in its group
        return child.exitCode;
      }
      const exited = once(child, 'exit');
      if (options.detached) signalGroup();
      else child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** Polls `http://127.0.0.1:port/readyz` until it answers 200; rejects when `running` exits first or the deadline passes. */
export async function readyz(port: number, running: Running, deadlineMs = 90_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (running.child.exitCode !== null) throw new Error(`exited with ${running.child.exitCode} before /readyz answered:\n${running.lines.join('\n')}`);
    const status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > until) throw new Error(`/readyz did not answer 200 in ${deadlineMs} ms:\n${running.lines.join('\n')}`);
    await sleep(50);
  }
}
