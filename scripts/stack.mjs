/**
 * Throwaway Postgres and Redis servers on free loopback ports, for the tests and
 * the benchmark. Installs redis-server (and Postgres if its binaries are
 * missing) with apt-get when running as root on Debian.
 *
 *   const stack = await startStack();  // { databaseUrl, redisUrl, redisPort, stop() }
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';

const isRoot = process.getuid?.() === 0;

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

let aptUpdated = false;
function aptInstall(pkg) {
  if (!isRoot) throw new Error(`${pkg} is missing; install it (apt-get install ${pkg}) or run as root`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    aptUpdated = true;
  }
  execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: ['ignore', 'ignore', 'inherit'], env });
}

/** Directory with initdb/pg_ctl: $PG_BIN, else the newest /usr/lib/postgresql/N/bin. */
function postgresBin() {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const find = () => {
    const base = '/usr/lib/postgresql';
    if (!existsSync(base)) return null;
    const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    return versions.length ? join(base, versions[0], 'bin') : null;
  };
  let bin = find();
  if (!bin) {
    aptInstall('postgresql');
    bin = find();
  }
  if (!bin) throw new Error('no Postgres binaries found');
  return bin;
}

/** A free loopback port (get-port, as the embedded Postgres uses; it also never hands out one port twice in 15 s). */
export function freePort() {
  return getPort({ host: '127.0.0.1' });
}

function asPostgres(args, opts = {}) {
  // initdb refuses to run as root.
  const [cmd, ...rest] = args;
  return isRoot
    ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...rest], opts)
    : execFileSync(cmd, rest, opts);
}

async function startPostgres(dir) {
  const bin = postgresBin();
  if (isRoot && spawnSync('id', ['postgres'], { stdio: 'ignore' }).status !== 0) {
    execFileSync('useradd', ['--system', '--no-create-home', 'postgres']);
  }
  const data = join(dir, 'pg');
  if (isRoot) {
    chmodSync(dir, 0o777);
  }
  asPostgres([join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], { stdio: 'ignore' });
  const port = await freePort();
  const options = `-p ${port} -k ${data} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`;
  asPostgres([join(bin, 'pg_ctl'), '-D', data, '-o', options, '-l', join(dir, 'pg.log'), '-w', 'start'], { stdio: 'ignore' });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => asPostgres([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'], { stdio: 'ignore' }),
  };
}

/** Starts a Redis server on a free port; also used by tests that stop and restart Redis. */
export async function startRedis(dir, port) {
  if (!have('redis-server')) aptInstall('redis-server');
  port ??= await freePort();
  const pidfile = join(dir, `redis-${port}.pid`);
  execFileSync('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--daemonize', 'yes', '--pidfile', pidfile, '--logfile', join(dir, `redis-${port}.log`), '--dir', dir,
  ]);
  // Wait until it answers.
  for (let i = 0; i < 100; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' }),
  };
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

export async function startStack() {
  const dir = mkdtempSync(join(tmpdir(), 'osmium-stack-'));
  const stops = [];
  const stop = () => {
    for (const s of stops.reverse()) {
      try {
        s();
      } catch {
        /* already gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pg = await startPostgres(dir);
    stops.push(pg.stop);
    const redis = await startRedis(dir);
    stops.push(redis.stop);
    writeFileSync(join(dir, 'urls'), `${pg.url}\n${redis.url}\n`);
    return { dir, databaseUrl: pg.url, redisUrl: redis.url, redisPort: redis.port, stop };
  } catch (err) {
    stop();
    throw err;
  }
}
