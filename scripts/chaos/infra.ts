/**
 * The chaos suite's servers and faults, all inside the network namespace
 * scripts/chaos/main.mjs made (this process runs in it): Postgres, Redis and
 * PgBouncer listening on every loopback address, so that gateway N reaches
 * them at 127.0.0.(10+N) and a partition of one gateway is an iptables rule on
 * that address; latency is added by a TCP proxy in front of Postgres
 * (DelayProxy: this kernel has no netem). Gateways are `dist/main.js` processes.
 */
import { execFile as execFileCallback, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';

const execFile = promisify(execFileCallback);

export const PORTS = { postgres: 5432, redis: 6379, pgbouncer: 6432, postgresProxy: 5433 } as const;
/** The address gateway `n` (1, 2, 3…) reaches every server at. */
export const hostOf = (n: number) => `127.0.0.${10 + n}`;

export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 30_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function pgBin(): string {
  const base = '/usr/lib/postgresql';
  const v = execFileSync('ls', [base], { encoding: 'utf8' }).split('\n').filter(Boolean).sort((a, b) => Number(b) - Number(a))[0];
  return join(base, v!, 'bin');
}
const asPostgres = (cmd: string, args: string[]) => execFile('runuser', ['-u', 'postgres', '--', cmd, ...args]);

export class PostgresServer {
  readonly data: string;
  constructor(private readonly dir: string) {
    this.data = join(dir, 'pg');
  }
  async init(): Promise<void> {
    if (spawnSync('id', ['postgres'], { stdio: 'ignore' }).status !== 0) execFileSync('useradd', ['--system', '--no-create-home', 'postgres']);
    await asPostgres(join(pgBin(), 'initdb'), ['-D', this.data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await this.start();
  }
  async start(): Promise<void> {
    const options = `-p ${PORTS.postgres} -k ${this.data} -c listen_addresses=* -c fsync=off -c max_connections=400`;
    // After a kill -9 the old backends may still hold the shared memory for a moment: retry.
    await waitFor('postgres to start', async () => {
      await asPostgres(join(pgBin(), 'pg_ctl'), ['-D', this.data, '-o', options, '-l', join(this.dir, 'pg.log'), '-w', '-t', '20', 'start']);
      return true;
    }, 40_000, 300);
  }
  /** kill -9 of the postmaster (then its backends, as a machine crash would take them). */
  kill9(): void {
    const pid = Number(readFileSync(join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    spawnSync('pkill', ['-9', '-P', String(pid)]); // its own children only
  }
  stop(): void {
    spawnSync('runuser', ['-u', 'postgres', '--', join(pgBin(), 'pg_ctl'), '-D', this.data, '-m', 'immediate', 'stop'], { stdio: 'ignore' });
  }
  url(host = '127.0.0.1', db = 'postgres', port: number = PORTS.postgres): string {
    return `postgres://postgres@${host}:${port}/${db}`;
  }
  async query<T extends pg.QueryResultRow>(db: string, text: string, values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.url('127.0.0.1', db), connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      return (await client.query<T>(text, values)).rows;
    } finally {
      await client.end();
    }
  }
}

export class RedisServer {
  private child: ChildProcess | undefined;
  constructor(private readonly dir: string, readonly port: number = PORTS.redis) {}
  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'no',
      '--logfile', join(this.dir, `redis-${this.port}.log`), '--dir', this.dir], { stdio: 'ignore' });
    await waitFor('redis', async () => (await execFile('redis-cli', ['-p', String(this.port), 'ping'])).stdout.trim() === 'PONG');
  }
  /** Stopped without saving and started again: empty. */
  async restartEmpty(): Promise<void> {
    this.stop();
    await this.start();
  }
  stop(): void {
    spawnSync('redis-cli', ['-p', String(this.port), 'shutdown', 'nosave'], { stdio: 'ignore' });
    if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL');
  }
  async keys(): Promise<number> {
    return Number((await execFile('redis-cli', ['-p', String(this.port), 'dbsize'])).stdout.trim());
  }
}

export class PgBouncer {
  private readonly conf: string;
  constructor(dir: string) {
    this.conf = join(dir, 'pgbouncer');
  }
  async start(): Promise<void> {
    if (!existsSync(this.conf)) {
      mkdirSync(this.conf);
      writeFileSync(join(this.conf, 'userlist.txt'), '"postgres" ""\n');
      writeFileSync(join(this.conf, 'pgbouncer.ini'), [
        '[databases]', `* = host=127.0.0.1 port=${PORTS.postgresProxy}`, '[pgbouncer]', 'listen_addr = *', `listen_port = ${PORTS.pgbouncer}`,
        'unix_socket_dir =', 'auth_type = trust', `auth_file = ${join(this.conf, 'userlist.txt')}`, 'pool_mode = transaction',
        'max_client_conn = 2000', 'default_pool_size = 20', 'ignore_startup_parameters = extra_float_digits', 'server_login_retry = 1',
        `pidfile = ${join(this.conf, 'pgbouncer.pid')}`, `logfile = ${join(this.conf, 'pgbouncer.log')}`, '',
      ].join('\n'));
      execFileSync('chown', ['-R', 'postgres', this.conf]);
    }
    await asPostgres('pgbouncer', ['-d', join(this.conf, 'pgbouncer.ini')]);
    await waitFor('pgbouncer', async () => {
      const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${PORTS.pgbouncer}/postgres` });
      await c.connect();
      await c.end();
      return true;
    });
  }
  /** SIGINT (immediate shutdown: every client connection cut), then started again. */
  async restart(): Promise<void> {
    this.stop();
    await waitFor('pgbouncer to exit', () => !existsSync(join(this.conf, 'pgbouncer.pid')), 10_000);
    await this.start();
  }
  stop(): void {
    const pidfile = join(this.conf, 'pgbouncer.pid');
    try {
      if (existsSync(pidfile)) process.kill(Number(readFileSync(pidfile, 'utf8').trim()), 'SIGINT');
    } catch {
      /* gone */
    }
  }
}

/**
 * Every connection to Postgres except this harness's own goes through this
 * TCP proxy, which adds `delayMs` to everything Postgres sends (order kept).
 * A userspace proxy, because this kernel has no netem (nor prio) qdisc: `tc
 * qdisc add … netem` answers "Specified qdisc kind is unknown".
 */
export class DelayProxy {
  delayMs = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(readonly port: number, private readonly target: number) {}
  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      let last = 0;
      upstream.on('data', (chunk: Buffer) => {
        if (!this.delayMs && last <= Date.now()) {
          client.write(chunk);
          return;
        }
        const at = Math.max(Date.now() + this.delayMs, last);
        last = at;
        setTimeout(() => client.write(chunk), at - Date.now());
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '0.0.0.0', resolve));
  }
  stop(): void {
    for (const s of this.sockets) s.destroy();
    this.server?.close();
  }
}

/** iptables rules inside this namespace. */
export const net = {
  /** Packets between gateway `n` and the server on `port` dropped both ways (a partition, not a refusal). */
  partition(n: number, port: number): void {
    execFileSync('iptables', ['-I', 'INPUT', '-p', 'tcp', '-d', hostOf(n), '--dport', String(port), '-j', 'DROP']);
    execFileSync('iptables', ['-I', 'INPUT', '-p', 'tcp', '-s', hostOf(n), '--sport', String(port), '-j', 'DROP']);
  },
  heal(n: number, port: number): void {
    spawnSync('iptables', ['-D', 'INPUT', '-p', 'tcp', '-d', hostOf(n), '--dport', String(port), '-j', 'DROP']);
    spawnSync('iptables', ['-D', 'INPUT', '-p', 'tcp', '-s', hostOf(n), '--sport', String(port), '-j', 'DROP']);
  },
};

export interface GatewayProcess {
  name: string;
  n: number;
  port: number;
  workerId: number;
  child: ChildProcess;
  output: string[];
  startedAt: number;
  exited: Promise<void>;
}

/** Starts dist/main.js as gateway `n` (servers reached at hostOf(n)); resolves once it listens. */
export async function spawnGateway(root: string, name: string, n: number, port: number, env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [join(root, 'dist', 'main.js')], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'info', PORT: String(port), HOST: '127.0.0.1', WORKERS: '1', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let buffer = '';
  let workerId = -1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output.slice(-20).join('\n')}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (output.length < 5000) output.push(line);
        if (line.includes('"gateway listening"')) {
          workerId = JSON.parse(line).workerId;
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited:\n${output.slice(-20).join('\n')}`));
    });
  });
  return { name, n, port, workerId, child, output, startedAt: Date.now(), exited };
}
