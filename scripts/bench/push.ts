/**
 * Figure 10: the push API (issue 26).
 *
 * - Throughput: N users online with authorized sockets on one gateway, the
 *   internal API (`POST /v1/push/batch`: one update per user, and
 *   `POST /v1/push`: one update to a group of 20 users) called at a steady
 *   rate; updates delivered per second of server CPU (gateway + Redis +
 *   Postgres), against a bare `ws` server sending the same frames to as many
 *   sockets on the same HTTP calls (bareApi.ts: no auth, no broker).
 * - Cross-instance: two gateways on one Redis and Postgres, U users online
 *   spread over both; pushes published on A to users held by B, push call →
 *   frame received, p99 (beside a raw Redis pub/sub round trip); and one push
 *   to 1 000 users of B in one call, until all 1 000 received.
 */
import { osmium as backendProto } from '../../src/gen/backend.js';
import { idToWire } from '../../src/protocol/codec.js';
import { openFilesLimit } from '../procfs.mjs';
import { freePort } from '../stack.mjs';
import { BENCH_API_KEY, GatewayProfile, apiPool, cpuRound, markedUpdate, markerOf, ms, p, postOnce, type CpuRound } from './apiLoad.js';
import type { ServerWatch } from './cpuFigures.js';
import { BenchSocket, authorizeEach, closeAll, openInitialized } from './driver.js';
import { redisPubSubLatency, type BenchSettings, type Row } from './figures.js';
import { spawnGateway, spawnServerScript } from './processes.js';
import type { BenchSession } from './sessions.js';

const v1 = backendProto.gateway.v1;

export interface PushSizes {
  /** Users online for the throughput part. */
  users: number;
  rounds: number;
  /** Deliveries per second asked of the push API, and for how long, per round. */
  perSecond: number;
  seconds: number;
  /** Users online over the two instances of the cross-instance part. */
  crossUsers: number;
  latencySamples: number;
  fanouts: number;
}

export function pushSizes(quick: boolean): PushSizes {
  const fit = Math.max(2_000, (openFilesLimit() ?? 20_000) - 1_000); // the bench process holds every client socket
  return quick
    ? { users: 1_000, rounds: 2, perSecond: 2_000, seconds: 3, crossUsers: Math.min(4_000, fit), latencySamples: 200, fanouts: 3 }
    : { users: 2_000, rounds: 3, perSecond: 4_000, seconds: 6, crossUsers: Math.min(10_000, fit), latencySamples: 500, fanouts: 5 };
}

/** Sessions figure 10 uses (one socket each). */
export function pushSessions(sizes: PushSizes): number {
  return Math.max(sizes.users, sizes.crossUsers);
}

const TICK_MS = 50;
/** Seconds of the idle reading (no push) beside the rounds. */
const IDLE_S = 5;
/** Users of the group each tick's /v1/push goes to. */
const GROUP = 20;
/** Users of the one-call push of the cross-instance part. */
const FANOUT = 1_000;

const r1 = (n: number) => Math.round(n * 10) / 10;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** Opens `count` sockets, `parallel` at a time, to `url(i)`. */
async function openSockets(count: number, url: (i: number) => string, parallel = 64): Promise<BenchSocket[]> {
  const sockets: BenchSocket[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        const i = next++;
        sockets[i] = await BenchSocket.open(url(i));
      }
    }),
  );
  return sockets;
}

/** Authorized sockets of distinct users on a gateway; resolves with them and their user ids. */
async function authorizedSockets(url: string, sessions: readonly BenchSession[]): Promise<{ sockets: BenchSocket[]; users: string[] }> {
  const sockets = await openInitialized(url, sessions.length, 64);
  const users = await authorizeEach(sockets, sessions.map((x) => x.token));
  return { sockets, users };
}

interface SteadyResult {
  calls: number;
  errors: number;
  expected: number;
  delivered: number;
  elapsedS: number;
}

/**
 * The steady push load: every TICK_MS one /v1/push/batch (one update per
 * user, the users in turn) and one /v1/push to the next GROUP users, so that
 * `perSecond` deliveries are asked; resolves once every delivery arrived
 * (or 10 s after the last call).
 */
async function steadyPush(port: number, apiKey: string | null, users: readonly string[], perSecond: number, seconds: number, received: { count: number }): Promise<SteadyResult> {
  const perTick = Math.max(GROUP + 1, Math.round((perSecond * TICK_MS) / 1000));
  const ticks = Math.round((seconds * 1000) / TICK_MS);
  const update = markedUpdate(0);
  let cursor = 0;
  const nextUsers = (n: number) => Array.from({ length: n }, () => idToWire(users[cursor++ % users.length]!));
  // Encoded before the round: the load generator shares the cores with what it measures.
  const bodies = Array.from({ length: ticks }, () => ({
    batch: v1.PushBatchRequest.encode({ pushes: nextUsers(perTick - GROUP).map((u) => ({ update, user_ids: [u] })) }).finish(),
    group: v1.PushRequest.encode({ update, user_ids: nextUsers(GROUP) }).finish(),
  }));
  const pool = apiPool(port, 8);
  const base = received.count;
  const result: SteadyResult = { calls: 0, errors: 0, expected: ticks * perTick, delivered: 0, elapsedS: 0 };
  const pending: Promise<void>[] = [];
  const started = performance.now();
  const post = (path: string, body: Uint8Array) =>
    postOnce(pool, { path, body, contentType: 'application/x-protobuf' }, apiKey).then(
      () => void result.calls++,
      () => void result.errors++,
    );
  for (let t = 0; t < ticks; t++) {
    await sleep(started + t * TICK_MS - performance.now());
    pending.push(post('/v1/push/batch', bodies[t]!.batch), post('/v1/push', bodies[t]!.group));
  }
  await Promise.all(pending);
  const deadline = performance.now() + 10_000;
  while (received.count - base < result.expected && performance.now() < deadline) await sleep(20);
  result.elapsedS = (performance.now() - started) / 1000;
  result.delivered = received.count - base;
  await pool.close();
  return result;
}

export async function figurePush(s: BenchSettings, watch: ServerWatch, env: Record<string, string>, sessions: readonly BenchSession[], profile = new GatewayProfile(null, 'figure10')): Promise<Row[]> {
  const sizes = pushSizes(s.quick);
  if (sessions.length < pushSessions(sizes)) throw new Error(`figure 10 needs ${pushSessions(sizes)} sessions, got ${sessions.length}`);
  const rows = profile.mark(await pushThroughput(s, watch, env, sessions.slice(0, sizes.users), sizes, profile));
  rows.push(...(await crossInstance(s, env, sessions.slice(0, sizes.crossUsers), sizes)));
  return rows;
}

async function pushThroughput(s: BenchSettings, watch: ServerWatch, env: Record<string, string>, sessions: readonly BenchSession[], sizes: PushSizes, profile: GatewayProfile): Promise<Row[]> {
  const apiPort = await freePort();
  const gateway = await spawnGateway({ ...env, API_PORT: String(apiPort), API_KEYS: BENCH_API_KEY });
  const bare = await spawnServerScript('scripts/bench/bareApi.ts');
  let gwSockets: BenchSocket[] = [];
  let bareSockets: BenchSocket[] = [];
  try {
    s.log(`  10: ${sessions.length} users online on one gateway (authorized sockets) and as many on the bare ws server`);
    const online = await authorizedSockets(gateway.url, sessions);
    gwSockets = online.sockets;
    bareSockets = await openSockets(online.users.length, (i) => `${bare.url}/?u=${online.users[i]}`);
    const gwReceived = { count: 0 };
    const bareReceived = { count: 0 };
    for (const socket of gwSockets) socket.onUpdate = () => void gwReceived.count++;
    for (const socket of bareSockets) socket.onUpdate = () => void bareReceived.count++;
    // Warm-up, not measured.
    await steadyPush(apiPort, BENCH_API_KEY, online.users, sizes.perSecond, 1, gwReceived);
    await steadyPush(bare.port, null, online.users, sizes.perSecond, 1, bareReceived);
    const roots = { gateway: gateway.process.pid!, redis: watch.redisPid, postgres: watch.postgresPid };
    // What the gateway, Redis and Postgres spend with these sockets open and no push (pings, presence refresh, the event poll), per second.
    const idle = await cpuRound(roots, () => sleep(IDLE_S * 1000), () => 1, 0);
    const idleUsPerSecond = idle.cpu.total / idle.cpu.wallS;
    const gw: CpuRound<SteadyResult>[] = [];
    const ceiling: CpuRound<SteadyResult>[] = [];
    s.log(`  10: ${sizes.rounds} rounds of ${sizes.seconds} s at ${sizes.perSecond} deliveries/s (a /v1/push/batch of one update per user and a /v1/push to ${GROUP} users every ${TICK_MS} ms), gateway then bare ws`);
    await profile.start(gateway);
    for (let r = 0; r < sizes.rounds; r++) {
      gw.push(await cpuRound(roots, () => steadyPush(apiPort, BENCH_API_KEY, online.users, sizes.perSecond, sizes.seconds, gwReceived), (x) => x.delivered));
      ceiling.push(await cpuRound({ bare: bare.process.pid! }, () => steadyPush(bare.port, null, online.users, sizes.perSecond, sizes.seconds, bareReceived), (x) => x.delivered));
      const g = gw.at(-1)!;
      s.log(
        `    round ${r + 1}: gateway ${r1(g.cpu.total)} µs per update (${Object.entries(g.cpu.parts).map(([k, v]) => `${k} ${r1(v)}`).join(' + ')}), ${g.result.delivered}/${g.result.expected} delivered; ` +
          `bare ${r1(ceiling.at(-1)!.cpu.total)} µs, ${ceiling.at(-1)!.result.delivered}/${ceiling.at(-1)!.result.expected}`,
      );
    }
    await profile.stop(gateway);
    const g = [...gw].sort((a, b) => a.cpu.total - b.cpu.total)[0]!;
    const c = [...ceiling].sort((a, b) => a.cpu.total - b.cpu.total)[0]!;
    const perCpuSecond = (r: CpuRound<SteadyResult>) => 1e6 / r.cpu.total;
    const lost = gw.reduce((n, r) => n + r.result.expected - r.result.delivered, 0);
    const errors = gw.reduce((n, r) => n + r.result.errors, 0);
    return [
      {
        figure: '10',
        key: 'push_updates_per_cpu_second',
        metric: `updates delivered per second of server CPU (gateway + Redis + Postgres), ${sessions.length} users online`,
        unit: '/s',
        gateway: perCpuSecond(g),
        ceiling: perCpuSecond(c),
        ratio: perCpuSecond(g) / perCpuSecond(c),
        goal: '>= 50 % of bare ws',
        met: perCpuSecond(g) / perCpuSecond(c) >= 0.5 && lost === 0 && errors === 0,
        note:
          `least CPU of ${gw.length} alternating rounds of ${sizes.seconds} s at ${sizes.perSecond} deliveries/s (~${markedUpdate(0).length}-byte updates): ` +
          `${Object.entries(g.cpu.parts).map(([k, v]) => `${k} ${r1(v)}`).join(' + ')} µs per update (all rounds ${gw.map((r) => r1(r.cpu.total)).join(', ')}; bare ${ceiling.map((r) => r1(r.cpu.total)).join(', ')}); ` +
          `of which ~${r1((idleUsPerSecond * g.cpu.wallS) / g.units)} µs is what the idle gateway spends in that time with ${sessions.length} sockets open (${Math.round(idleUsPerSecond / 1000)} ms/s with no push: pings, presence refresh, the event poll); ` +
          `${g.units} updates at ${Math.round(g.units / g.result.elapsedS)}/s; ${lost} not delivered, ${errors} failed calls; bare: the same HTTP calls, frames sent from the process that took them (no auth, no broker)`,
        data: { gatewayUs: r1(g.cpu.parts.gateway!), redisUs: r1(g.cpu.parts.redis!), postgresUs: r1(g.cpu.parts.postgres!), bareUs: r1(c.cpu.total), users: sessions.length, idleUsPerSecond: Math.round(idleUsPerSecond) },
      },
    ];
  } finally {
    closeAll(gwSockets);
    closeAll(bareSockets);
    await Promise.all([gateway.stop(), bare.stop()]);
  }
}

async function crossInstance(s: BenchSettings, env: Record<string, string>, sessions: readonly BenchSession[], sizes: PushSizes): Promise<Row[]> {
  const apiPort = await freePort();
  const a = await spawnGateway({ ...env, API_PORT: String(apiPort), API_KEYS: BENCH_API_KEY });
  // Every instance of a deployment has the internal API (it is what holds the user topics); pushes go to A's.
  const b = await spawnGateway({ ...env, API_PORT: String(await freePort()), API_KEYS: BENCH_API_KEY });
  const pool = apiPool(apiPort, 16);
  let onA: BenchSocket[] = [];
  let onB: BenchSocket[] = [];
  try {
    const half = Math.floor(sessions.length / 2);
    s.log(`  10: ${sessions.length} users online over two gateways (${half} on A, ${sessions.length - half} on B)`);
    onA = (await authorizedSockets(a.url, sessions.slice(0, half))).sockets;
    const b2 = await authorizedSockets(b.url, sessions.slice(half));
    onB = b2.sockets;
    const usersB = b2.users;
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    const fanout = new Map<number, { count: number; done: (at: number) => void }>();
    for (const socket of onB) {
      socket.onUpdate = (update) => {
        const marker = markerOf(update);
        if (marker === null) return;
        const now = performance.now();
        const at = sentAt.get(marker);
        if (at !== undefined) {
          sentAt.delete(marker);
          latencies.push(now - at);
          return;
        }
        const f = fanout.get(marker);
        if (f && ++f.count === FANOUT) f.done(now);
      };
    }
    const push = (marker: number, users: readonly string[]) =>
      postOnce(pool, { path: '/v1/push', body: v1.PushRequest.encode({ update: markedUpdate(marker), user_ids: users.map((u) => idToWire(u)) }).finish(), contentType: 'application/x-protobuf' });
    // Warm-up, not counted: 2 s of the same pushes, once both instances are done with the sockets' binding work.
    for (let i = 0; i < 100; i++) {
      await sleep(20);
      void push(1e9 + i, [usersB[(i * 31) % usersB.length]!]).catch(() => undefined);
    }
    s.log(`  10: ${sizes.latencySamples} pushes on A to one user each on B, 50 per second`);
    const pending: Promise<unknown>[] = [];
    const started = performance.now();
    let failed = 0;
    for (let k = 1; k <= sizes.latencySamples; k++) {
      await sleep(started + k * 20 - performance.now());
      sentAt.set(k, performance.now());
      pending.push(push(k, [usersB[(k * 7919) % usersB.length]!]).catch(() => failed++));
    }
    await Promise.all(pending);
    const deadline = performance.now() + 5_000;
    while (sentAt.size && performance.now() < deadline) await sleep(10);
    const missing = sentAt.size;
    const floor = await redisPubSubLatency(s.redisUrl, sizes.latencySamples);

    const fanoutUsers = usersB.slice(0, FANOUT);
    const fanoutMs: number[] = [];
    s.log(`  10: ${sizes.fanouts} pushes on A to ${fanoutUsers.length} users of B, one call each`);
    for (let j = 0; j < sizes.fanouts && fanoutUsers.length === FANOUT; j++) {
      const marker = 2e9 + j;
      const at = performance.now();
      const all = new Promise<number>((resolve) => fanout.set(marker, { count: 0, done: resolve }));
      await push(marker, fanoutUsers);
      const done = await Promise.race([all, sleep(10_000).then(() => NaN)]);
      fanoutMs.push(done - at);
      fanout.delete(marker);
    }
    const complete = fanoutMs.filter(Number.isFinite);
    const median = complete.length ? p(complete, 50) : null;
    return [
      {
        figure: '10',
        key: 'push_cross_instance_p99',
        metric: `cross-instance push p99 (push call on A → frame on B), ${sessions.length} users online over 2 instances`,
        unit: 'ms',
        gateway: ms(p(latencies, 99)),
        ceiling: ms(p(floor, 99)),
        ratio: p(latencies, 99) / p(floor, 99),
        goal: 'p99 < 50 ms',
        met: p(latencies, 99) < 50 && missing === 0 && failed === 0,
        note: `${latencies.length} pushes at 50/s, one user each; median ${ms(p(latencies, 50))} ms, max ${ms(Math.max(...latencies))} ms; ${missing} not received, ${failed} failed calls; ceiling: raw Redis pub/sub round trip p99 (median ${ms(p(floor, 50))} ms)`,
        data: { users: sessions.length, samples: latencies.length },
      },
      {
        figure: '10',
        key: 'push_fanout_1000',
        metric: `one push to ${FANOUT} users of B in one call on A, until all received`,
        unit: 'ms',
        gateway: median === null ? null : ms(median),
        ceiling: null,
        ratio: null,
        goal: 'reported (all received)',
        met: complete.length === sizes.fanouts && fanoutUsers.length === FANOUT,
        note: `median of ${sizes.fanouts} calls (each: ${fanoutMs.map((x) => (Number.isFinite(x) ? ms(x) : 'incomplete after 10 s')).join(', ')} ms), ${sessions.length} users online`,
      },
    ];
  } finally {
    closeAll(onA);
    closeAll(onB);
    await pool.close();
    await Promise.all([a.stop(), b.stop()]);
  }
}
