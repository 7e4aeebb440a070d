/**
 * Throwaway servers on loopback for the tests and the benchmark: Postgres and
 * Redis always; on request a Redis Cluster (3 masters + 3 replicas) and a
 * PgBouncer (transaction pooling) in front of the Postgres. Installs what is
 * missing with apt-get when running as root on Debian. Servers start in
 * parallel; `stop()` stops every one of them and removes their folder.
 *
 *   const stack = await startStack({ redisCluster: true, pgbouncer: true });
 *   // { dir, databaseUrl, redisUrl, redisPort, redisClusterNodes, pgbouncerUrl, startMs, stop() }
 */
import { execFile as execFileCallback, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import getPort from 'get-port';

const execFile = promisify(execFileCallback);
const isRoot = process.getuid?.() === 0;

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Installs Debian packages in one apt-get call (waits for another apt-get holding the lock). */
function aptInstall(packages) {
  if (!packages.length) return;
  if (!isRoot) throw new Error(`${packages.join(', ')} missing; install (apt-get install ${packages.join(' ')}) or run as root`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  execFileSync('apt-get', [...lock, 'update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', [...lock, 'install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: ['ignore', 'ignore', 'inherit'], env });
}

function findPostgresBin() {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0], 'bin') : null;
}

/** Installs whatever the requested servers need, in one go. */
function ensureInstalled({ pgbouncer }) {
  const missing = [];
  if (!findPostgresBin()) missing.push('postgresql');
  if (!have('redis-server') || !have('redis-cli')) missing.push('redis-server');
  if (pgbouncer && !have('pgbouncer')) missing.push('pgbouncer');
  aptInstall(missing);
  if (!findPostgresBin()) throw new Error('no Postgres binaries found (set PG_BIN)');
}

/**
 * Polls `check` until it returns a truthy value; rejects naming `what` after
 * `timeoutMs`. (Server start-up only; tests use test/helpers/eventually.ts.)
 */
async function waitUntil(check, { what, timeoutMs = 20_000, intervalMs = 25 }) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Candidate ports below the kernel's ephemeral range (32768+ here), in random order. */
function* lowPorts() {
  for (let i = 0; i < 1_000; i++) yield LOW_PORTS.from + Math.floor(Math.random() * (LOW_PORTS.to - LOW_PORTS.from));
}
const LOW_PORTS = { from: 15_000, to: 22_700 };

/**
 * A free loopback port for a server (get-port, as the embedded Postgres uses),
 * drawn at random below the ephemeral range, so that no outgoing connection
 * takes it between a server's stop and its restart on the same port, and
 * parallel test processes rarely try the same one. With `{ clusterBus: true }`
 * port + 10000 (the Redis Cluster bus) is free too, and also below that range.
 */
export async function freePort({ clusterBus = false } = {}) {
  for (let tries = 0; tries < 100; tries++) {
    const port = await getPort({ host: '127.0.0.1', port: lowPorts() });
    if (port < LOW_PORTS.from || port >= LOW_PORTS.to) continue; // get-port fell back to any port
    if (!clusterBus || (await getPort({ host: '127.0.0.1', port: port + 10_000 })) === port + 10_000) return port;
  }
  throw new Error('no free port found');
}

function asPostgres(cmd, args, opts = {}) {
  // initdb, pg_ctl and pgbouncer refuse to run as root.
  return isRoot ? execFile('runuser', ['-u', 'postgres', '--', cmd, ...args], opts) : execFile(cmd, args, opts);
}

function ensurePostgresUser() {
  if (isRoot && spawnSync('id', ['postgres'], { stdio: 'ignore' }).status !== 0) {
    execFileSync('useradd', ['--system', '--no-create-home', 'postgres']);
  }
}

async function startPostgres(dir, port, onStop) {
  const bin = findPostgresBin();
  const data = join(dir, 'pg');
  await asPostgres(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const pgCtl = join(bin, 'pg_ctl');
  onStop(() => execFileSync(isRoot ? 'runuser' : pgCtl, [...(isRoot ? ['-u', 'postgres', '--', pgCtl] : []), '-D', data, '-m', 'immediate', 'stop'], { stdio: 'ignore' }));
  const options = `-p ${port} -k ${data} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400`;
  await asPostgres(pgCtl, ['-D', data, '-o', options, '-l', join(dir, 'pg.log'), '-w', 'start']);
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres` };
}

/** Sends one command with redis-cli; resolves with its output. */
export async function redisCli(port, ...args) {
  const { stdout } = await execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  return stdout.trim();
}

/**
 * Launches redis-server as a child of this process, not daemonized, so its pid
 * is known at once and a stop during the start cannot miss it. `ready`
 * resolves when it answers; `stop()` returns once it is gone.
 */
function launchRedis(dir, port, extraArgs = []) {
  const log = join(dir, `redis-${port}.log`);
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--daemonize', 'no', '--logfile', log, '--dir', dir,
    ...extraArgs,
  ], { stdio: 'ignore' });
  child.unref(); // stopped explicitly; never keeps this process alive
  child.on('error', () => {});
  const stop = () => {
    // SHUTDOWN answers once the server is gone; the kill catches one not listening yet.
    // (Until this process reaps it, the pid cannot belong to anyone else.)
    spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' });
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  const ready = waitUntil(async () => (await redisCli(port, 'ping')) === 'PONG', { what: `redis-server on port ${port} (log: ${log})` });
  return { port, url: `redis://127.0.0.1:${port}`, stop, ready };
}

async function startRedisProcess(dir, port, extraArgs = []) {
  const server = launchRedis(dir, port, extraArgs);
  try {
    await server.ready;
  } catch (err) {
    server.stop();
    throw err;
  }
  return { port: server.port, url: server.url, stop: server.stop };
}

/** Starts a Redis server on a free port (or `port`); also used by tests that stop and restart Redis. */
export async function startRedis(dir, port) {
  if (!have('redis-server')) aptInstall(['redis-server']);
  return startRedisProcess(dir, port ?? (await freePort()));
}

/**
 * A Redis Cluster of 3 masters and 3 replicas on loopback (Redis 7 cluster
 * mode, created with `redis-cli --cluster create`). `onStop` is handed the
 * stop function at once, before the nodes are up. Resolves once every node
 * reports `cluster_state:ok` and every replica has synced with its master, so
 * a failover can promote it at once. `nodes` are `host:port` seeds.
 */
export async function startRedisCluster(dir, onStop = () => {}) {
  if (!have('redis-server')) aptInstall(['redis-server']);
  const root = join(dir, `redis-cluster-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(root, { recursive: true });
  const ports = [];
  while (ports.length < 6) {
    const port = await freePort({ clusterBus: true });
    if (!ports.includes(port)) ports.push(port);
  }
  const servers = [];
  const stop = () => {
    for (const server of servers) server.stop();
    rmSync(root, { recursive: true, force: true });
  };
  onStop(stop);
  try {
    await Promise.all(
      ports.map(async (port) => {
        const nodeDir = join(root, String(port));
        mkdirSync(nodeDir);
        const server = launchRedis(nodeDir, port, [
          '--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'),
          // Failure detection after 2 s; replicas sync without waiting for more replicas to join.
          '--cluster-node-timeout', '2000', '--repl-diskless-sync-delay', '0',
        ]);
        servers.push(server);
        await server.ready;
      }),
    );
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    await execFile('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes']);
    await waitUntil(
      async () => {
        for (const port of ports) {
          if (!(await redisCli(port, 'cluster', 'info')).includes('cluster_state:ok')) return false;
          const replication = await redisCli(port, 'info', 'replication');
          if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return false;
        }
        return true;
      },
      { what: `cluster_state:ok and synced replicas on ${nodes.join(', ')}`, timeoutMs: 30_000 },
    );
    return { nodes, ports, dir: root, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

/**
 * PgBouncer in transaction pooling mode in front of a Postgres on loopback.
 * Every database of that server is reachable through it (`* =` in
 * [databases]), so a test can create a database directly and then connect
 * through the bouncer. Runs as the user postgres (PgBouncer refuses root).
 */
async function startPgBouncer(dir, postgresPort, port, onStop) {
  const conf = join(dir, 'pgbouncer');
  mkdirSync(conf);
  writeFileSync(join(conf, 'userlist.txt'), '"postgres" ""\n');
  writeFileSync(
    join(conf, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=127.0.0.1 port=${postgresPort}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(conf, 'userlist.txt')}`,
      'admin_users = postgres',
      'pool_mode = transaction',
      'max_client_conn = 2000',
      'default_pool_size = 20',
      'ignore_startup_parameters = extra_float_digits',
      `pidfile = ${join(conf, 'pgbouncer.pid')}`,
      `logfile = ${join(conf, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  if (isRoot) execFileSync('chown', ['-R', 'postgres', conf]);
  const pidfile = join(conf, 'pgbouncer.pid');
  onStop(() => {
    // SIGINT: immediate shutdown.
    if (existsSync(pidfile)) process.kill(Number(readFileSync(pidfile, 'utf8').trim()), 'SIGINT');
  });
  await asPostgres('pgbouncer', ['-d', join(conf, 'pgbouncer.ini')]);
  const { default: pg } = await import('pg');
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitUntil(
    async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.end();
      return true;
    },
    { what: `pgbouncer on port ${port} (log: ${join(conf, 'pgbouncer.log')})` },
  );
  return { url };
}

/** Creates an empty database on a Postgres server and returns its URL. */
export async function createDatabase(serverUrl, prefix = 'db') {
  const { default: pg } = await import('pg');
  const name = `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e9).toString(36)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Starts Postgres and Redis, plus a Redis Cluster and PgBouncer when asked,
 * all at once. On any failure, whatever started is stopped again.
 */
export async function startStack({ redisCluster = false, pgbouncer = false } = {}) {
  const started = Date.now();
  ensureInstalled({ pgbouncer });
  ensurePostgresUser();
  const dir = mkdtempSync(join(tmpdir(), 'osmium-stack-'));
  if (isRoot) chmodSync(dir, 0o777); // the user postgres writes its cluster and PgBouncer files here
  const stops = [];
  const stop = () => {
    for (const s of stops.reverse()) {
      try {
        s();
      } catch {
        /* already gone */
      }
    }
    stops.length = 0;
    rmSync(dir, { recursive: true, force: true });
    process.removeListener('exit', stop);
  };
  // Whatever has started is stopped if the process ends first (Ctrl-C during the start included).
  process.once('exit', stop);
  const onStop = (fn) => stops.push(fn);
  try {
    const postgresPort = await freePort();
    // allSettled: a failure elsewhere must not leave a started server untracked.
    const postgres = startPostgres(dir, postgresPort, onStop);
    const results = await Promise.allSettled([
      postgres,
      (async () => {
        const redis = launchRedis(dir, await freePort());
        onStop(redis.stop);
        await redis.ready;
        return redis;
      })(),
      redisCluster ? startRedisCluster(dir, onStop) : undefined,
      // After Postgres: a bouncer whose first server login fails waits server_login_retry before the next.
      pgbouncer ? postgres.then(async () => startPgBouncer(dir, postgresPort, await freePort(), onStop)) : undefined,
    ]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [pg, redis, cluster, bouncer] = results.map((r) => r.value);
    writeFileSync(join(dir, 'urls'), `${pg.url}\n${redis.url}\n`);
    return {
      dir,
      databaseUrl: pg.url,
      redisUrl: redis.url,
      redisPort: redis.port,
      redisClusterNodes: cluster?.nodes,
      pgbouncerUrl: bouncer?.url,
      startMs: Date.now() - started,
      stop,
    };
  } catch (err) {
    stop();
    throw err;
  }
}
