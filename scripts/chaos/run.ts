/**
 * The chaos run itself, inside the namespace scripts/chaos/main.mjs made
 * (run it through `npm run chaos`). Starts Postgres, Redis, PgBouncer (and
 * the Redis Cluster for the cluster round), gateways as processes, a fleet of
 * clients doing the real mix, injects the faults one after another (some
 * together), heals them, probes what was answered, and hands the history to
 * the checker (checker.ts). Prints the verdict as JSON (last line) and writes
 * the history with `--out FILE`. `--short`: the subset `npm test` runs.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as OTPAuth from 'otpauth';
import { OsmiumClient } from '../../src/client/client.js';
import { TestSmtp, codeOf as codeOfMail, type ReceivedMail } from '../../test/helpers/smtp.js';
import { startRedisCluster, redisCli } from '../stack.mjs';
import { checkHistory, type Bounds, type FaultWindow, type FinalProbe, type History, type Op, type SocketClose, type Verdict } from './checker.js';
import { DelayProxy, hostOf, net, PgBouncer, PORTS, PostgresServer, RedisServer, spawnGateway, waitFor, type GatewayProcess } from './infra.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const SHORT = args.includes('--short');
const outIndex = args.indexOf('--out');
const OUT = outIndex >= 0 ? args[outIndex + 1] : undefined;
if (!process.env.CHAOS_NETNS) {
  console.error('run through `npm run chaos` (scripts/chaos/main.mjs), which makes the network namespace');
  process.exit(2);
}

/** The gateway's own worker lease, shortened so a pause can outlast it within the run. */
const LEASE_MS = 6_000;
const BOUNDS: Bounds = { resumeMs: 10_000, hangMs: 20_000, recoverMs: 15_000 };
const CLIENT_TIMEOUT_MS = 30_000;
const PASSWORD = 'velvet quasar lantern';
const GUESS_ALLOWANCE = 5; // LIMIT_SIGNIN_FAIL_EMAIL_IP 5/900: every client is 127.0.0.1; the run is shorter than the window
const log = (msg: string) => console.log(`[chaos +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
const started = Date.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'osmium-chaos-'));
chmodSync(dir, 0o777);
const stops: Array<() => void> = [];
/** Every gateway's output, kept after the run. */
const LOGS = join(tmpdir(), `osmium-chaos-logs-${process.pid}`);
mkdirSync(LOGS, { recursive: true });
process.on('exit', () => {
  for (const s of stops.reverse()) {
    try {
      s();
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- servers
const postgres = new PostgresServer(dir);
const redis = new RedisServer(dir);
const bouncer = new PgBouncer(dir);
await postgres.init();
stops.push(() => postgres.stop());
const proxy = new DelayProxy(PORTS.postgresProxy, PORTS.postgres);
await proxy.start();
stops.push(() => proxy.stop());
await redis.start();
stops.push(() => redis.stop());
await bouncer.start();
stops.push(() => bouncer.stop());
const smtp = await TestSmtp.start();
stops.push(() => void smtp.close());
const cluster = SHORT ? undefined : await startRedisCluster(dir);
if (cluster) stops.push(() => cluster.stop());
log(`servers up: postgres ${PORTS.postgres}, redis ${PORTS.redis}, pgbouncer ${PORTS.pgbouncer}${cluster ? `, cluster ${cluster.ports.join(',')}` : ''}, smtp ${smtp.port}`);

const LIFTED: Record<string, string> = {
  SOCKET_RATE: '100000', SOCKET_BURST: '100000', MAX_PENDING_CONNECTIONS_PER_IP: '100000', MAX_PENDING_CONNECTIONS_PER_NETWORK: '100000',
  LIMIT_SIGNIN_FAIL_EMAIL: '1000000/1', LIMIT_SIGNIN_IP: '1000000/1', LIMIT_SIGNUP_IP: '1000000/1', LIMIT_MAIL_IP: '1000000/1',
  LIMIT_CODE_CHECK_IP: '1000000/1', LIMIT_TOTP_GUESS_USER: '1000000/1', LIMIT_TOTP_GUESS_IP: '1000000/1',
  LIMIT_VERIFY_MAIL_EMAIL: '1000000/1', LIMIT_RESET_MAIL_EMAIL: '1000000/1', LIMIT_PASSWORD_CHECK_SESSION: '1000000/1', LIMIT_PASSWORD_CHECK_USER: '1000000/1',
  // The limit the checker holds to its allowance stays as shipped:
  LIMIT_SIGNIN_FAIL_EMAIL_IP: '5/900',
};

// ---------------------------------------------------------------- the round
interface Account {
  email: string;
  password: string;
  /** A reset answered: only `password` works now. Unanswered: either. */
  passwordPending?: string;
  sessions: Array<{ id: string; token: string; revoked?: boolean }>;
  verified?: boolean;
  totpUrl?: string;
  busy?: boolean;
}

async function round(name: string, opts: { redis: 'node' | 'cluster'; faults: Array<(r: Round) => Promise<void>>; workers: number }): Promise<{ verdict: Verdict; history: History }> {
  const db = `chaos_${name}_${randomBytes(3).toString('hex')}`;
  await postgres.query('postgres', `CREATE DATABASE ${db}`);
  const r = new Round(name, db, opts.redis);
  await r.startGateway(1);
  await r.startGateway(2);
  log(`${name}: gateways ${r.gateways.map((g) => `${g.name}:${g.port} worker ${g.workerId}`).join(', ')}`);
  await r.prepare(opts.workers);
  const fleet = r.runFleet(opts.workers);
  for (const fault of opts.faults) {
    await fault(r);
    await r.settle();
  }
  r.stopping = true;
  await fleet;
  await r.finalProbes();
  r.finished = true;
  for (const g of r.gateways) {
    r.endIncarnation(g.name);
    g.child.kill('SIGKILL');
  }
  for (const c of r.steady) c.client.close();
  const history = r.history();
  return { verdict: checkHistory(history, BOUNDS), history };
}

interface Steady {
  client: OsmiumClient;
  gw: string;
  session: string;
  token: string;
}

class Round {
  gateways: GatewayProcess[] = [];
  readonly ops: Op[] = [];
  readonly faults: FaultWindow[] = [];
  readonly closes: SocketClose[] = [];
  readonly revocations: Array<{ session: string; answeredAt: number }> = [];
  readonly incarnations: History['incarnations'] = [];
  readonly accounts: Account[] = [];
  readonly steady: Steady[] = [];
  readonly finals: FinalProbe[] = [];
  readonly target = `target.${randomBytes(3).toString('hex')}@example.test`;
  stopping = false;
  finished = false;
  /** Whether the instance started during a pause took the paused one's worker id (the case the lease fencing is for). */
  pausedTookOver: boolean | undefined;
  /** Redis restarted empty this many times: each forgets the guess counts (see docs/faults.md). */
  redisEpochs = 1;
  private names = new Map<number, number>();
  private nextPort = 8100;

  constructor(readonly name: string, readonly db: string, readonly redisMode: 'node' | 'cluster') {}

  gatewayEnv(n: number): Record<string, string> {
    // Gateway 2 reaches Postgres through PgBouncer (as deployments behind one do), gateway 1 and 3 directly.
    const direct = postgres.url(hostOf(n), this.db, PORTS.postgresProxy);
    const database: Record<string, string> = n === 2
      ? { DATABASE_URL: postgres.url(hostOf(n), this.db, PORTS.pgbouncer), DATABASE_DIRECT_URL: direct, DATABASE_PREPARED_STATEMENTS: 'off' }
      : { DATABASE_URL: direct };
    const live: Record<string, string> = this.redisMode === 'cluster' ? { REDIS_CLUSTER_NODES: cluster!.nodes.join(',') } : { REDIS_URL: `redis://${hostOf(n)}:${PORTS.redis}` };
    return {
      ...database, ...live, ...LIFTED, REDIS_PREFIX: `${this.name}:`, BCRYPT_COST: '4', SMTP_URL: smtp.url, MAIL_FROM: 'Osmium <chaos@example.test>',
      TOTP_ENCRYPTION_KEY: TOTP_KEY, WORKER_LEASE_MS: String(LEASE_MS), SHUTDOWN_GRACE_MS: '1000',
    };
  }

  async startGateway(n: number): Promise<GatewayProcess> {
    const count = (this.names.get(n) ?? 0) + 1;
    this.names.set(n, count);
    const name = `${this.name}.g${n}${count > 1 ? String.fromCharCode(96 + count) : ''}`;
    const g = await spawnGateway(root, name, n, this.nextPort++, this.gatewayEnv(n));
    void g.exited.then(() => {
      writeFileSync(join(LOGS, `${name}.log`), g.output.join('\n'));
      if (!this.finished && g.child.signalCode !== 'SIGKILL') log(`${name} EXITED by itself (${g.child.exitCode}): logs in ${LOGS}/${name}.log`);
    });
    this.gateways.push(g);
    this.incarnations.push({ gw: name, workerId: g.workerId, startedAt: g.startedAt, endedAt: Infinity });
    return g;
  }

  endIncarnation(name: string): void {
    const inc = this.incarnations.find((i) => i.gw === name);
    if (inc && inc.endedAt === Infinity) inc.endedAt = Date.now();
  }

  gateway(n: number): GatewayProcess {
    return this.gateways.find((g) => g.n === n && g.child.exitCode === null && g.child.signalCode === null)!;
  }

  live(): GatewayProcess[] {
    return this.gateways.filter((g) => g.child.exitCode === null && g.child.signalCode === null);
  }

  pick(): GatewayProcess {
    const live = this.live();
    return live[Math.floor(Math.random() * live.length)]!;
  }

  /** One request on `client` with a client-side timeout, recorded. */
  async call(client: OsmiumClient, gw: string, op: string, method: Parameters<OsmiumClient['request']>[0], payload: never, extra: Partial<Op> = {}) {
    const t0 = Date.now();
    let code = 0;
    let result: Awaited<ReturnType<OsmiumClient['request']>> | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      result = await Promise.race([
        client.request(method, payload),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), CLIENT_TIMEOUT_MS))),
      ]);
      code = result.error ? (result.error.error_code ?? 0) : 0;
    } catch (err) {
      code = (err as Error).message === 'timeout' ? -2 : -1;
    } finally {
      clearTimeout(timer);
    }
    const ids: string[] = [];
    const auth = result?.authorization;
    if (auth?.user?.id && (op === 'signup' || op === 'probe')) ids.push(auth.user.id.toString()); // a sign-in answers an existing user
    if (auth?.session_id) ids.push(auth.session_id.toString());
    // Only what the answer minted: an Authorize answers the session's existing ids.
    this.ops.push({ t0, t1: Date.now(), gw, op, code, ...(MINTS.has(op) ? { ids } : {}), ...extra });
    return { code, result };
  }

  async connect(g: GatewayProcess): Promise<OsmiumClient | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const t0 = Date.now();
    try {
      const attempt = OsmiumClient.connect(`ws://127.0.0.1:${g.port}`);
      const client = await Promise.race([attempt, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), 10_000)))]);
      return client;
    } catch {
      this.ops.push({ t0, t1: Date.now(), gw: g.name, op: 'connect', code: -3 });
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Steady sockets (20 per gateway, accounts of their own, never revoked) and a few TOTP accounts. */
  async prepare(workers: number): Promise<void> {
    for (const g of this.live()) {
      for (let i = 0; i < 10; i++) {
        const client = await this.connect(g);
        if (!client) throw new Error(`cannot connect to ${g.name}`);
        const email = `steady.${randomBytes(4).toString('hex')}@example.test`;
        const { result } = await this.call(client, g.name, 'signup', 'auth_sign_up', { email, password: PASSWORD, name: 'Steady' } as never);
        const auth = result!.authorization!;
        this.watchSteady({ client, gw: g.name, session: auth.session_id!.toString(), token: auth.token! });
      }
    }
    for (let i = 0; i < Math.max(2, workers / 4); i++) {
      const g = this.pick();
      const client = (await this.connect(g))!;
      const email = `totp.${randomBytes(4).toString('hex')}@example.test`;
      const up = await this.call(client, g.name, 'signup', 'auth_sign_up', { email, password: PASSWORD, name: 'Totp' } as never);
      await this.call(client, g.name, 'verify', 'auth_verify_email', { email, code: codeOf(await smtp.next(email, 10_000)) } as never);
      const url = (await this.call(client, g.name, 'totp_setup', 'settings_setup_totp', { enabled: true } as never)).result!.totp!.url!;
      const totp = OTPAuth.URI.parse(url) as OTPAuth.TOTP;
      await this.call(client, g.name, 'totp_setup', 'settings_setup_totp', { enabled: true, code: totp.generate({ timestamp: Date.now() - 30_000 }) } as never);
      const auth = up.result!.authorization!;
      this.accounts.push({ email, password: PASSWORD, sessions: [{ id: auth.session_id!.toString(), token: auth.token! }], verified: true, totpUrl: url });
      client.close();
    }
  }

  watchSteady(s: Steady): void {
    this.steady.push(s);
    void s.client.closed.then(async ({ code }) => {
      if (this.finished) return; // the run's own end
      const close: SocketClose = { gw: s.gw, at: Date.now(), code };
      this.closes.push(close);
      // Reconnect elsewhere (any live instance) and resume the token.
      for (let attempt = 0; attempt < 40 && !this.stopping; attempt++) {
        const g = this.pick();
        const client = await this.connect(g);
        if (client) {
          const { code: c } = await this.call(client, g.name, 'resume', 'auth_authorize', { token: s.token } as never, { session: s.session });
          if (c === 0) {
            close.resumedAt = Date.now();
            this.steady.splice(this.steady.indexOf(s), 1);
            this.watchSteady({ client, gw: g.name, session: s.session, token: s.token });
            return;
          }
          client.close();
        }
        await sleep(250);
      }
    });
  }

  async runFleet(workers: number): Promise<void> {
    await Promise.all(Array.from({ length: workers }, (_, i) => this.worker(i)));
  }

  private async worker(i: number): Promise<void> {
    while (!this.stopping) {
      const roll = Math.random();
      try {
        if (roll < 0.18 || this.accounts.length < 4) await this.signUp(i);
        else if (roll < 0.3) await this.signInRight();
        else if (roll < 0.55) await this.authorize();
        else if (roll < 0.67) await this.revoke();
        else if (roll < 0.72) await this.resetPassword();
        else if (roll < 0.8) await this.guess();
        else if (roll < 0.86) await this.totpSignIn();
        else await this.authorize();
      } catch (err) {
        // A step that could not go on (a gateway died under it): the request itself is recorded.
        if (!(err instanceof Skip)) log(`worker ${i}: ${(err as Error).stack}`);
      }
      await sleep(20);
    }
  }

  private account(filter: (a: Account) => boolean = () => true): Account | undefined {
    const list = this.accounts.filter((a) => !a.busy && filter(a));
    return list[Math.floor(Math.random() * list.length)];
  }

  private async open(): Promise<{ client: OsmiumClient; g: GatewayProcess }> {
    const g = this.pick();
    const client = await this.connect(g);
    if (!client) throw new Skip();
    return { client, g };
  }

  private async signUp(i: number): Promise<void> {
    const { client, g } = await this.open();
    const email = `u${i}.${randomBytes(4).toString('hex')}@example.test`;
    const { code, result } = await this.call(client, g.name, 'signup', 'auth_sign_up', { email, password: PASSWORD, name: 'Chaos' } as never);
    if (code === 0) {
      const auth = result!.authorization!;
      const account: Account = { email, password: PASSWORD, sessions: [{ id: auth.session_id!.toString(), token: auth.token! }] };
      this.accounts.push(account);
      if (Math.random() < 0.3) {
        account.busy = true;
        try {
          const mail = await smtp.next(email, 10_000).catch(() => undefined);
          if (mail) {
            const v = await this.call(client, g.name, 'verify', 'auth_verify_email', { email, code: codeOf(mail) } as never);
            if (v.code === 0) account.verified = true;
          }
        } finally {
          account.busy = false;
        }
      }
    }
    client.close();
  }

  private async signInRight(): Promise<void> {
    const a = this.account((x) => !x.totpUrl && !x.passwordPending);
    if (!a) return;
    const { client, g } = await this.open();
    const { code, result } = await this.call(client, g.name, 'signin', 'auth_sign_in', { email: a.email, password: a.password } as never);
    if (code === 0) a.sessions.push({ id: result!.authorization!.session_id!.toString(), token: result!.authorization!.token! });
    client.close();
  }

  private async authorize(): Promise<void> {
    const a = this.account();
    const s = a?.sessions[Math.floor(Math.random() * a.sessions.length)];
    if (!a || !s) return;
    const { client, g } = await this.open();
    await this.call(client, g.name, 'authorize', 'auth_authorize', { token: s.token } as never, { session: s.id });
    client.close();
  }

  /**
   * On one instance, session A revokes session B; a socket of another instance
   * authorized with B before then asks for something after the answer.
   */
  private async revoke(): Promise<void> {
    const a = this.account((x) => x.sessions.filter((s) => !s.revoked).length >= 2 && !x.passwordPending);
    if (!a) return;
    a.busy = true;
    try {
      const [keep, victim] = a.sessions.filter((s) => !s.revoked);
      const watcher = await this.open();
      const w = await this.call(watcher.client, watcher.g.name, 'authorize', 'auth_authorize', { token: victim!.token } as never, { session: victim!.id });
      const { client, g } = await this.open();
      const k = await this.call(client, g.name, 'authorize', 'auth_authorize', { token: keep!.token } as never, { session: keep!.id });
      if (k.code !== 0) {
        client.close();
        watcher.client.close();
        return;
      }
      const r = await this.call(client, g.name, 'revoke', 'auth_revoke_sessions', { session_ids: [victim!.id] } as never, { session: keep!.id });
      if (r.code === 0) {
        victim!.revoked = true;
        this.revocations.push({ session: victim!.id, answeredAt: Date.now() });
        if (w.code === 0) await this.call(watcher.client, watcher.g.name, 'use_revoked', 'auth_get_sessions', {} as never, { session: victim!.id });
        const again = await this.open();
        await this.call(again.client, again.g.name, 'authorize_revoked', 'auth_authorize', { token: victim!.token } as never, { session: victim!.id });
        again.client.close();
      } else if (r.code !== 503 && r.code !== -1 && r.code !== -2) {
        victim!.revoked = true; // unknown outcome: left out of the workload
      } else {
        victim!.revoked = true; // a 503 might have committed before failing: not used again, not checked
      }
      client.close();
      watcher.client.close();
    } finally {
      a.busy = false;
    }
  }

  private async resetPassword(): Promise<void> {
    const a = this.account((x) => !x.totpUrl && !x.passwordPending);
    if (!a) return;
    a.busy = true;
    try {
      const { client, g } = await this.open();
      const ask = await this.call(client, g.name, 'reset_ask', 'auth_reset_password', { email: a.email } as never);
      if (ask.code !== 0) return void client.close();
      const mail = await smtp.next(a.email, 10_000).catch(() => undefined);
      if (!mail) return void client.close();
      const next = `new ${randomBytes(4).toString('hex')} lantern quasar`;
      a.passwordPending = next;
      const done = await this.call(client, g.name, 'reset', 'auth_reset_password', { email: a.email, confirm: { code: codeOf(mail), new_password: next } } as never);
      if (done.code === 0) {
        a.password = next;
        a.passwordPending = undefined;
        // A reset ends every session: they leave the workload.
        for (const s of a.sessions) s.revoked = true;
      }
      client.close();
    } finally {
      a.busy = false;
    }
  }

  private guesses = 0;
  private async guess(): Promise<void> {
    const { client, g } = await this.open();
    await this.call(client, g.name, 'guess', 'auth_sign_in', { email: this.target, password: `wrong guess ${this.guesses++}` } as never);
    client.close();
  }

  private async totpSignIn(): Promise<void> {
    const a = this.account((x) => !!x.totpUrl);
    if (!a) return;
    a.busy = true;
    try {
      const totp = OTPAuth.URI.parse(a.totpUrl!) as OTPAuth.TOTP;
      const { client, g } = await this.open();
      const { code, result } = await this.call(client, g.name, 'totp_signin', 'auth_sign_in', { email: a.email, password: a.password, totp: totp.generate() } as never);
      if (code === 0) a.sessions.push({ id: result!.authorization!.session_id!.toString(), token: result!.authorization!.token! });
      client.close();
    } finally {
      a.busy = false;
    }
  }

  /** Until every live instance answers a sign-up again (after a heal). */
  async settle(): Promise<void> {
    for (const g of this.live()) {
      await waitFor(`${g.name} to serve again`, async () => {
        const client = await this.connect(g);
        if (!client) return false;
        const { code } = await this.call(client, g.name, 'probe', 'auth_sign_up', { name: 'Probe' } as never);
        client.close();
        return code === 0;
      }, BOUNDS.recoverMs + 15_000, 200);
    }
  }

  /** After every heal: what was answered as done is still in effect, seen from every instance. */
  async finalProbes(): Promise<void> {
    const live = this.live();
    const sample = this.accounts.filter((a) => !a.totpUrl).slice(0, SHORT ? 20 : 60);
    for (const [i, a] of sample.entries()) {
      const g = live[i % live.length]!;
      const client = await this.connect(g);
      if (!client) throw new Error(`final probe: cannot connect to ${g.name}`);
      const candidates = a.passwordPending ? [a.password, a.passwordPending] : [a.password];
      let ok = false;
      for (const p of candidates) if ((await this.call(client, g.name, 'final_signin', 'auth_sign_in', { email: a.email, password: p } as never)).code === 0) ok = true;
      this.finals.push({ what: a.password === PASSWORD ? 'signup' : 'password', ok, detail: `${a.email} signs in with its ${a.password === PASSWORD ? 'sign-up' : 'reset'} password on ${g.name}` });
      if (a.password !== PASSWORD && !a.passwordPending) {
        const old = await this.call(client, g.name, 'final_old_password', 'auth_sign_in', { email: a.email, password: PASSWORD } as never);
        this.finals.push({ what: 'password', ok: old.code === 401 || old.code === 429, detail: `${a.email}: the password before its answered reset is refused on ${g.name} (got ${old.code})` });
      }
      client.close();
    }
    for (const rev of this.revocations.slice(0, SHORT ? 20 : 80)) {
      const token = this.accounts.flatMap((a) => a.sessions).find((s) => s.id === rev.session)!.token;
      for (const g of live) {
        const client = await this.connect(g);
        if (!client) throw new Error(`final probe: cannot connect to ${g.name}`);
        const { code } = await this.call(client, g.name, 'final_revoked', 'auth_authorize', { token } as never, { session: rev.session });
        this.finals.push({ what: 'revocation', ok: code === 403, detail: `session ${rev.session} refused on ${g.name} (got ${code})` });
        client.close();
      }
    }
    const verified = this.accounts.filter((a) => a.verified).map((a) => a.email);
    if (verified.length) {
      const rows = await postgres.query<{ email: string; email_verified: boolean }>(this.db, 'SELECT email, email_verified FROM users WHERE email = ANY($1)', [verified]);
      for (const email of verified) {
        const row = rows.find((x) => x.email === email);
        this.finals.push({ what: 'verification', ok: row?.email_verified === true, detail: `${email} verified in Postgres` });
      }
    }
  }

  history(): History {
    return {
      ops: this.ops, faults: this.faults, incarnations: this.incarnations, closes: this.closes, revocations: this.revocations,
      guessLimit: { email: this.target, allowance: GUESS_ALLOWANCE * this.redisEpochs }, finals: this.finals,
    };
  }

  /** Runs a fault: `inject`, the window, `heal`; recorded as one window. */
  async fault(name: string, gateways: string[], inject: () => Promise<void> | void, heal: () => Promise<void> | void, holdMs: number, processFault = false): Promise<void> {
    log(`${this.name}: ${name}`);
    const window: FaultWindow = { name, gateways, start: Date.now(), heal: Infinity, processFault };
    this.faults.push(window);
    await inject();
    await sleep(holdMs); // the fault's length is the experiment, not a wait for an event
    await heal();
    window.heal = Date.now();
    log(`${this.name}: ${name} healed`);
  }
}

class Skip extends Error {}
/** The code of a mail; a mail without one (a password-changed notice) skips the step. */
function codeOf(mail: ReceivedMail): string {
  try {
    return codeOfMail(mail);
  } catch {
    throw new Skip();
  }
}
const MINTS = new Set(['signup', 'signin', 'totp_signin', 'probe']);

const TOTP_KEY = randomBytes(32).toString('base64');

// ---------------------------------------------------------------- faults
const F = {
  killGateway: (n: number) => async (r: Round) => {
    const g = r.gateway(n);
    await r.fault(`kill -9 of ${g.name}`, [g.name], () => {
      g.child.kill('SIGKILL');
      r.endIncarnation(g.name);
    }, async () => void (await r.startGateway(n)), 3_000, true);
  },
  pauseGateway: (n: number) => async (r: Round) => {
    const g = r.gateway(n);
    await r.fault(`SIGSTOP of ${g.name} past its worker lease, then SIGCONT`, [g.name], async () => {
      g.child.kill('SIGSTOP');
    }, async () => {
      // Meanwhile a new instance starts and may take the lease that ran out.
      await sleep(LEASE_MS + 1_000);
      const fresh = await r.startGateway(3);
      log(`${r.name}: ${fresh.name} started during the pause with worker ${fresh.workerId} (paused ${g.name} had ${g.workerId})`);
      r.pausedTookOver = fresh.workerId === g.workerId;
      g.child.kill('SIGCONT');
    }, 0, true);
  },
  killPostgres: () => async (r: Round) => {
    await r.fault('kill -9 of Postgres, restart (crash recovery)', [], () => postgres.kill9(), () => postgres.start(), 3_000);
  },
  restartRedisEmpty: () => async (r: Round) => {
    await r.fault('Redis restarted empty', [], () => redis.stop(), () => redis.start(), 2_000);
    r.redisEpochs++;
  },
  partitionRedis: (n: number) => async (r: Round) => {
    const g = r.gateway(n);
    await r.fault(`Redis partitioned from ${g.name}`, [], () => net.partition(n, PORTS.redis), () => net.heal(n, PORTS.redis), 8_000);
  },
  partitionPostgres: (n: number) => async (r: Round) => {
    const g = r.gateway(n);
    const ports = n === 2 ? [PORTS.pgbouncer, PORTS.postgresProxy] : [PORTS.postgresProxy];
    // Longer than the checker's hang bound: a request waiting on a connection whose packets vanish must still be answered in time.
    await r.fault(`Postgres partitioned from ${g.name}`, [], () => ports.forEach((p) => net.partition(n, p)), () => ports.forEach((p) => net.heal(n, p)), BOUNDS.hangMs + 2_000);
  },
  postgresLatency: () => async (r: Round) => {
    await r.fault('200 ms added to Postgres', [], () => void (proxy.delayMs = 200), () => void (proxy.delayMs = 0), 8_000);
  },
  restartPgBouncer: () => async (r: Round) => {
    await r.fault('PgBouncer restarted', [], () => undefined, () => bouncer.restart(), 500);
  },
  together: () => async (r: Round) => {
    await r.fault('Redis partitioned from g1 while Postgres is 200 ms slow', [], () => {
      net.partition(1, PORTS.redis);
      proxy.delayMs = 200;
    }, () => {
      net.heal(1, PORTS.redis);
      proxy.delayMs = 0;
    }, 8_000);
  },
  killClusterMaster: () => async (r: Round) => {
    const masters: number[] = [];
    for (const p of cluster!.ports) if ((await redisCli(p, 'role')).startsWith('master')) masters.push(p);
    const victim = masters[0]!;
    await r.fault(`Redis Cluster master ${victim} killed`, [], () => void redisCli(victim, 'shutdown', 'nosave').catch(() => undefined), async () => {
      await waitFor('cluster_state:ok after the failover', async () => {
        for (const p of cluster!.ports.filter((x) => x !== victim)) if (!(await redisCli(p, 'cluster', 'info')).includes('cluster_state:ok')) return false;
        return true;
      }, 30_000, 200);
    }, 1_000);
  },
};

const results: Array<{ round: string; verdict: Verdict }> = [];
const histories: Record<string, History> = {};
try {
  const rounds = SHORT
    ? [{ name: 'short', redis: 'node' as const, workers: 6, faults: [F.killGateway(1), F.partitionRedis(2), F.killPostgres()] }]
    : [
        {
          name: 'node', redis: 'node' as const, workers: 12,
          faults: [F.pauseGateway(1), F.killGateway(1), F.killPostgres(), F.restartRedisEmpty(), F.partitionRedis(2), F.partitionPostgres(1), F.postgresLatency(), F.restartPgBouncer(), F.together()],
        },
        { name: 'cluster', redis: 'cluster' as const, workers: 8, faults: [F.killClusterMaster(), F.killGateway(2)] },
      ];
  for (const spec of rounds) {
    const { verdict, history } = await round(spec.name, spec);
    results.push({ round: spec.name, verdict });
    histories[spec.name] = history;
    for (const c of verdict.checks) log(`${spec.name}: ${c.ok ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}${c.failures.length ? `\n    ${c.failures.join('\n    ')}` : ''}`);
  }
} finally {
  if (OUT) writeFileSync(OUT, JSON.stringify({ results, histories }, (_k, v) => (v === Infinity ? null : v)));
}
const ok = results.length > 0 && results.every((x) => x.verdict.ok);
console.log(JSON.stringify({ chaos: ok ? 'pass' : 'fail', seconds: Math.round((Date.now() - started) / 1000), rounds: results.map((x) => ({ round: x.round, ok: x.verdict.ok, checks: x.verdict.checks.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail, failures: c.failures })) })) }));
process.exit(ok ? 0 : 1);
