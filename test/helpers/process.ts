/**
 * The one way tests run a process of their own (the gateway, the admin CLI,
 * npm, a script, a built image's command): start it, collect its output line
 * by line, wait for a line as an event, stop it (SIGTERM, then SIGKILL after a
 * bound), or run it to its end. Whatever a test leaves running is killed when
 * the file's tests end: a live child would keep the test process, and so the
 * whole run, from ending.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a stopped process may take to exit after SIGTERM before it gets SIGKILL. */
export const STOP_BOUND_MS = 30_000;

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A process whose output is collected as it comes. */
export interface Running {
  child: ChildProcess;
  /** stdout and stderr, line by line, in the order they came. */
  lines: string[];
  stdout(): string;
  stderr(): string;
  /**
   * Resolves with the first line (already printed or yet to come) matching
   * `pattern`; rejects when the process exits first or after `deadlineMs`.
   */
  line(pattern: RegExp, deadlineMs?: number): Promise<string>;
  /** Like `line`, once at least `count` lines match `pattern` (resolves with all that match). */
  linesMatching(pattern: RegExp, count: number, deadlineMs?: number): Promise<string[]>;
  /** Resolves with the exit code once the process has exited by itself; SIGKILL and a rejection after `deadlineMs`. */
  exited(deadlineMs?: number): Promise<number | null>;
  /**
   * Sends `signal` (to the whole process group when started `detached`),
   * SIGKILL after `boundMs` if it still runs, and resolves with the exit code
   * (null when killed by a signal).
   */
  stop(signal?: NodeJS.Signals, boundMs?: number): Promise<number | null>;
}

const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill('SIGKILL');
});

const hasExited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

export function startProcess(command: string, args: string[], options: SpawnOptions = {}): Running {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  running.add(child);
  const lines: string[] = [];
  const text = { stdout: '', stderr: '' };
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  let streams = 0;
  for (const [name, stream] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
    if (!stream) continue;
    streams++;
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      const s = chunk.toString();
      text[name] += s;
      pending += s;
      const parts = pending.split('\n');
      pending = parts.pop()!;
      if (parts.length) {
        lines.push(...parts);
        notify();
      }
    });
    stream.on('end', () => {
      if (pending) lines.push(pending);
      pending = '';
      notify();
    });
  }
  // Exited and every stream drained: no line is still to come.
  let ended = false;
  const end = () => {
    ended = true;
    running.delete(child);
    notify();
  };
  child.once('close', end);
  child.once('error', end);

  const exitCode = async (): Promise<[number | null, NodeJS.Signals | null]> => {
    if (!hasExited(child)) await once(child, 'exit');
    return [child.exitCode, child.signalCode];
  };

  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* the group is gone */
    }
  };
  const send = (signal: NodeJS.Signals) => (options.detached ? signalGroup(signal) : child.kill(signal));

  const linesMatching = (pattern: RegExp, count: number, deadlineMs = 90_000): Promise<string[]> => {
    const what = count === 1 ? `a line matching ${pattern}` : `${count} lines matching ${pattern}`;
    return new Promise<string[]>((resolve, reject) => {
      const check = () => {
        const found = lines.filter((l) => pattern.test(l));
        if (found.length >= count) return finish(() => resolve(found));
        if (ended) finish(() => reject(new Error(`exited with ${child.exitCode ?? child.signalCode} before printing ${what}:\n${lines.join('\n')}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${what} in ${deadlineMs} ms:\n${lines.join('\n')}`))), deadlineMs);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        settle();
      };
      listeners.add(check);
      check();
    });
  };

  return {
    child,
    lines,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    line: async (pattern, deadlineMs = 90_000) => (await linesMatching(pattern, 1, deadlineMs))[0]!,
    linesMatching,
    async exited(deadlineMs = 60_000) {
      const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
      const [code, signal] = await exitCode();
      clearTimeout(timer);
      if (signal === 'SIGKILL') throw new Error(`still running after ${deadlineMs} ms:\n${lines.join('\n')}`);
      return code;
    },
    async stop(signal = 'SIGTERM', boundMs = STOP_BOUND_MS) {
      if (hasExited(child)) {
        if (options.detached) signalGroup(signal); // what the process left behind in its group
        return child.exitCode;
      }
      const exit = exitCode();
      send(signal);
      const timer = setTimeout(() => send('SIGKILL'), boundMs);
      const [code] = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * Runs a command to its end and resolves with its output; rejects with that
 * output when it still runs after `deadlineMs` (it is killed then).
 */
export async function runToExit(command: string, args: string[], options: SpawnOptions & { deadlineMs?: number } = {}): Promise<Finished> {
  const { deadlineMs = 60_000, ...spawnOptions } = options;
  const run = startProcess(command, args, spawnOptions);
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    run.child.kill('SIGKILL');
  }, deadlineMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    run.child.once('error', reject);
    // 'close': exited and its output read to the end.
    run.child.once('close', (c: number | null, s: NodeJS.Signals | null) => resolve([c, s]));
  }).finally(() => clearTimeout(timer));
  if (late) throw new Error(`${command} ${args.join(' ')} still ran after ${deadlineMs} ms:\n${run.stdout()}\n${run.stderr()}`);
  return { code, signal, stdout: run.stdout(), stderr: run.stderr() };
}

/** `node --import tsx src/main.ts` with `env` over a quiet production-like environment, run to its end. */
export function runGatewayToExit(env: Record<string, string>, deadlineMs = 60_000): Promise<Finished> {
  return runToExit(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'info', HOST: '127.0.0.1', WORKERS: '1', ...env },
    deadlineMs,
  });
}

/** Polls `http://127.0.0.1:port/readyz` until it answers 200; rejects when `run` exits first or after `deadlineMs`. */
export async function readyz(port: number, run: Running, deadlineMs = 90_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (hasExited(run.child)) throw new Error(`exited with ${run.child.exitCode ?? run.child.signalCode} before /readyz answered:\n${run.lines.join('\n')}`);
    const status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > until) throw new Error(`/readyz did not answer 200 in ${deadlineMs} ms:\n${run.lines.join('\n')}`);
    await sleep(50); // between two polls of an HTTP endpoint, not in place of an event
  }
}
