/**
 * `npm run example:chat`: the gateway and the example chat backend
 * (examples/chat) together, the first look a newcomer gets of a chat working.
 *
 * 1. The gateway, as `npm start` runs it (build if stale, `node dist/main.js`),
 *    zero-config: embedded Postgres under DATA_DIR unless DATABASE_URL is
 *    given; with BACKEND_URL (the backend's port, picked now), BACKEND_SECRET,
 *    API_PORT=0 (a free port, read from its "gateway listening" line) and
 *    API_KEYS. Secrets are random for this run unless BACKEND_SECRET /
 *    API_KEYS are set.
 * 2. Once it listens, the example backend as a child of its own (as `npm run
 *    example:chat:backend` runs it), on the same Postgres (the embedded
 *    server's URL read from DATA_DIR, or DATABASE_URL) in its own schema.
 * 3. The URLs, once both are up. Ctrl-C or SIGTERM stops both and waits for
 *    them; either one exiting on its own stops the other and exits 1.
 *
 * Every wait is bounded and says what it waited for: a start that hangs (a
 * child that never prints its line, a Postgres that does not come up) ends
 * with one line naming it and the end of that child's output, never silence.
 * The children's JSON log lines are shown one line each, prefixed by who said
 * it; they are read as events from their pipes (never a sleep).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import getPort from 'get-port';
import { embeddedUrl, runningServer } from '../src/embedded/embeddedPostgres.js';

/** Longest wait for each child to say it is up (the first start creates the Postgres cluster: seconds, not minutes). */
const START_TIMEOUT_MS = Number(process.env.EXAMPLE_CHAT_START_TIMEOUT_MS ?? 120_000);
/** Longest wait for both to stop after a signal; beyond, they are killed. */
const STOP_TIMEOUT_MS = 30_000;
const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

const say = (line: string) => process.stdout.write(`${line}\n`);
const fail = (line: string): never => {
  process.stderr.write(`example:chat: ${line}\n`);
  throw new ExitError(1);
};
class ExitError extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

interface Child {
  name: string;
  process: ChildProcess;
  /** Its last lines, for a failure message. */
  tail: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first JSON line `pick` accepts; rejects when the child exits first or after START_TIMEOUT_MS. */
  waitFor(what: string, pick: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

/** Runs `args` with node, shows its lines prefixed by `name`, and lets the caller wait for a line. */
function startChild(name: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const waiters = new Set<{ pick: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }>();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  const show = (raw: string, stream: 'out' | 'err') => {
    tail.push(raw);
    if (tail.length > 20) tail.shift();
    let line: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed && typeof parsed === 'object') line = parsed as Record<string, unknown>;
    } catch {
      /* not a log line: shown as it is */
    }
    if (!line) {
      (stream === 'out' ? process.stdout : process.stderr).write(`${name.padEnd(7)} | ${raw}\n`);
      return;
    }
    const err = line.err as { message?: string } | undefined;
    say(`${name.padEnd(7)} | ${(LEVELS[Number(line.level)] ?? 'info').padEnd(5)} ${String(line.msg ?? '')}${err?.message ? `: ${err.message}` : ''}`);
    for (const waiter of waiters) {
      if (waiter.pick(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', (raw) => show(raw, 'out'));
  createInterface({ input: child.stderr! }).on('line', (raw) => show(raw, 'err'));
  return {
    name,
    process: child,
    tail,
    exited,
    waitFor(what, pick) {
      return new Promise((resolveLine, reject) => {
        const waiter = { pick, resolve: (line: Record<string, unknown>) => (clearTimeout(timer), resolveLine(line)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`the ${name} did not ${what} within ${START_TIMEOUT_MS / 1000} s`));
        }, START_TIMEOUT_MS);
        waiters.add(waiter);
        void exited.then(({ code, signal }) => {
          if (!waiters.delete(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`the ${name} exited (${signal ?? `code ${code}`}) before it could ${what}`));
        });
      });
    },
  };
}

/** Runs the build as `npm start` does (only what changed); its output goes to the terminal. */
async function buildIfStale(): Promise<void> {
  const build = spawn(process.execPath, ['scripts/build.mjs', '--if-stale'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((done) => build.once('exit', (exitCode) => done(exitCode)));
  if (code !== 0) fail(`the build failed (node scripts/build.mjs --if-stale exited with ${code})`);
}

const secret = () => randomBytes(24).toString('base64url');
const children: Child[] = [];
let stopping: Promise<number> | undefined;

/** SIGTERM to both (each stops gracefully), then waits; SIGKILL after STOP_TIMEOUT_MS. Resolves with the exit code to use. */
function stopAll(code: number): Promise<number> {
  stopping ??= (async () => {
    const running = children.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
    for (const child of running) child.process.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const child of running) {
        process.stderr.write(`example:chat: the ${child.name} did not stop within ${STOP_TIMEOUT_MS / 1000} s: killing it\n`);
        child.process.kill('SIGKILL');
      }
    }, STOP_TIMEOUT_MS);
    await Promise.all(running.map((c) => c.exited));
    clearTimeout(killer);
    return code;
  })();
  return stopping;
}

async function main(): Promise<void> {
  const env = process.env;
  const backendSecret = env.BACKEND_SECRET || secret();
  const apiKeys = env.API_KEYS || secret();
  const apiKey = apiKeys.split(',')[0]!.trim();
  const dataDir = resolve(env.DATA_DIR ?? './data');
  const backendPort = env.EXAMPLE_BACKEND_PORT ? Number(env.EXAMPLE_BACKEND_PORT) : await getPort({ host: '127.0.0.1', port: 8090 });
  const backendUrl = `http://127.0.0.1:${backendPort}`;

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // A terminal's Ctrl-C reaches the children too (one process group), and npm relays it again: say it once.
      if (!stopping) say(`example:chat: ${signal}: stopping the backend and the gateway`);
      void stopAll(0).then((code) => process.exit(code));
    });
  }

  // Whoever started this (npm, a shell) may die without passing a signal on (`npm run` through `sh -c`
  // without exec does: SIGTERM ends npm and leaves its script running). Orphaned, stop both rather than
  // leave a gateway and a backend running that nobody will stop. Node has no parent-death signal: poll.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent && !stopping) {
      process.stderr.write('example:chat: the process that started this one is gone: stopping the backend and the gateway\n');
      void stopAll(1).then((code) => process.exit(code));
    }
  }, 1_000).unref();

  await buildIfStale();
  if (stopping) return; // a signal during the build
  // dist/main.js checks the node version first, as under `npm start`.
  const gateway = startChild('gateway', ['dist/main.js'], {
    ...env,
    UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE ?? '8',
    // One process: the API port is read from its line, and a demo needs no more.
    WORKERS: '1',
    BACKEND_URL: backendUrl,
    BACKEND_SECRET: backendSecret,
    API_PORT: env.API_PORT ?? '0',
    API_KEYS: apiKeys,
  });
  children.push(gateway);
  const listening = await gateway.waitFor('listen', (line) => line.msg === 'gateway listening');
  const port = Number(listening.port);
  const apiPort = Number(listening.apiPort);
  const host = !env.HOST || env.HOST === '0.0.0.0' || env.HOST === '::' ? '127.0.0.1' : env.HOST;

  let databaseUrl = env.DATABASE_URL;
  let postgresPid: number | undefined;
  if (!databaseUrl) {
    // The gateway started the embedded server: its port is in DATA_DIR (postmaster.pid), its password beside it.
    const server = await runningServer(dataDir);
    if (!server) fail(`the gateway listens but no embedded Postgres runs under ${dataDir}`);
    databaseUrl = await embeddedUrl(dataDir, server!.port);
    postgresPid = server!.pid;
  }

  if (stopping) return; // a signal while the gateway started: it is being stopped, start nothing more
  const backend = startChild('backend', ['--conditions=source', '--import', 'tsx', 'examples/chat/src/main.ts'], {
    ...env,
    PORT: String(backendPort),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    GATEWAY_API_URL: `http://127.0.0.1:${apiPort}`,
    GATEWAY_API_KEY: apiKey,
    BACKEND_SECRET: backendSecret,
  });
  children.push(backend);
  await backend.waitFor('listen', (line) => line.msg === 'chat backend listening');

  const webSocket = `ws://${host}:${port}`;
  const consoleUrl = `http://${host}:${port}/console`;
  const consoleServed = await fetch(consoleUrl).then((r) => (void r.body?.cancel(), r.status === 200), () => false);
  say('');
  say('example chat is up (Ctrl-C stops both):');
  say(`  gateway WebSocket: ${webSocket}`);
  if (consoleServed) say(`  web console:       ${consoleUrl}`);
  say(`  chat backend:      ${backendUrl}   (examples/chat, the gateway's BACKEND_URL)`);
  say(`  internal API:      http://127.0.0.1:${apiPort}   (push, disconnect, presence; Bearer one of API_KEYS)`);
  say(`  database:          ${env.DATABASE_URL ? 'DATABASE_URL' : `embedded Postgres under ${dataDir}`}, the backend in schema ${env.DATABASE_SCHEMA ?? 'chat_example'}`);
  say(`  secrets:           ${env.BACKEND_SECRET && env.API_KEYS ? 'BACKEND_SECRET and API_KEYS as given' : 'random for this run (set BACKEND_SECRET and API_KEYS to choose them)'}`);
  say(`  processes:         gateway ${gateway.process.pid}, backend ${backend.process.pid}${postgresPid ? `, postgres ${postgresPid}` : ''}`);
  say('');

  // Either one ending on its own leaves no chat: stop the other, exit 1.
  const first = await Promise.race(children.map((c) => c.exited.then((how) => ({ child: c, how }))));
  if (stopping) return;
  process.stderr.write(`example:chat: the ${first.child.name} exited (${first.how.signal ?? `code ${first.how.code}`}): stopping the other\n`);
  process.exit(await stopAll(1));
}

main().catch(async (err: unknown) => {
  if (stopping) return; // stopped by a signal while starting: the handler exits
  if (!(err instanceof ExitError)) {
    const child = children.find((c) => (err as Error).message.includes(`the ${c.name} `));
    process.stderr.write(`example:chat: ${(err as Error).message}\n`);
    if (child?.tail.length) process.stderr.write(`  its last lines:\n${child.tail.map((l) => `    ${l}`).join('\n')}\n`);
  }
  process.exit(await stopAll(err instanceof ExitError ? err.code : 1));
});
