/**
 * Figure 11: POST /v1/sessions/introspect on warm sessions (issue 27),
 * beside auth.authorize on the same gateway process in the same run (the
 * issue's goal: an introspection costs no more than an Authorize), and
 * against a bare HTTP server doing the same JSON in and out (bareApi.ts).
 *
 * Server CPU per call is the gateway's process, Redis and Postgres; Postgres
 * statements per call are read as figure 1a reads them (pg_stat_database,
 * once the database was quiet for 11 s). Introspection runs over 32
 * keep-alive connections (undici, as a service calls it), Authorize over 32
 * open sockets x 8 in flight (figure 1a's load). Rounds alternate
 * introspection, the bare server, Authorize; the least CPU of each counts.
 */
import { freePort } from '../stack.mjs';
import { BENCH_API_KEY, GatewayProfile, apiPool, cpuRound, httpCalls, ms, p, postOnce, type CpuRound, type HttpOutcome } from './apiLoad.js';
import { PostgresRounds, type ServerWatch } from './cpuFigures.js';
import { authorizeOverOpenSockets, closeAll, openInitialized, type Outcome } from './driver.js';
import type { BenchSettings, Row } from './figures.js';
import { spawnGateway, spawnServerScript } from './processes.js';
import type { BenchSession } from './sessions.js';

export interface IntrospectionSizes {
  rounds: number;
  perRound: number;
  /** Distinct warm sessions the calls cycle over. */
  sessions: number;
}

export function introspectionSizes(quick: boolean): IntrospectionSizes {
  return quick ? { rounds: 2, perRound: 2_000, sessions: 1_000 } : { rounds: 3, perRound: 8_000, sessions: 4_000 };
}

const r1 = (n: number) => Math.round(n * 10) / 10;
/** pg_stat_statements calls when the server has them, else transactions (every hot-path statement runs alone). */
const statementsOf = (pg: { transactions: number; statements: number | null }) => pg.statements ?? pg.transactions;
/** Seconds of the idle window that measures the background statements. */
const BACKGROUND_S = 5;
type Statements = { statements?: number | null; raw?: number | null };
const PATH = '/v1/sessions/introspect';

export async function figureIntrospection(
  s: BenchSettings,
  watch: ServerWatch,
  databaseUrl: string,
  env: Record<string, string>,
  sessions: readonly BenchSession[],
  /** Figure 1a's row of this run (single process), shown beside it when measured. */
  authorizeRow: Row | undefined,
  /** Profiles the gateway over the first introspection round (not the Authorize rounds). */
  profile = new GatewayProfile(null, 'figure11'),
): Promise<Row[]> {
  const sizes = introspectionSizes(s.quick);
  if (sessions.length < sizes.sessions) throw new Error(`figure 11 needs ${sizes.sessions} sessions, got ${sessions.length}`);
  const tokens = sessions.slice(0, sizes.sessions).map((x) => x.token);
  const apiPort = await freePort();
  const gateway = await spawnGateway({ ...env, API_PORT: String(apiPort), API_KEYS: BENCH_API_KEY });
  const pool = apiPool(apiPort, 32);
  const call = (i: number) => ({ path: PATH, body: JSON.stringify({ token: tokens[i % tokens.length] }), contentType: 'application/json' });
  const active = (status: number, body: Buffer) => status === 200 && body.includes('"active":true');
  try {
    const answerBytes = (await postOnce(pool, call(0))).length;
    const bare = await spawnServerScript('scripts/bench/bareApi.ts', { BARE_INTROSPECT_BYTES: String(answerBytes) });
    const barePool = apiPool(bare.port, 32);
    const sockets = await openInitialized(gateway.url, 32);
    try {
      // Warm-up, not measured: every session's entry read once by each path, the JIT of both servers.
      await httpCalls(pool, tokens.length, 32, call, active);
      await authorizeOverOpenSockets(sockets, tokens, 8);
      await httpCalls(barePool, tokens.length, 32, call, active, null);
      const roots = { gateway: gateway.process.pid!, redis: watch.redisPid, postgres: watch.postgresPid };
      const postgres = new PostgresRounds(databaseUrl);
      await postgres.start(performance.now());
      // What the gateway runs with no request (the event dispatcher's poll, lease renewals): per second, taken off each round.
      await new Promise((r) => setTimeout(r, BACKGROUND_S * 1000));
      const background = statementsOf(await postgres.perUnit(1)) / postgres.windowS;
      const net = (perCall: number, units: number) => Math.max(0, Math.round(((perCall * units - background * postgres.windowS) / units) * 1000) / 1000);
      const intro: Array<CpuRound<HttpOutcome> & Statements> = [];
      const auth: Array<CpuRound<Outcome> & Statements> = [];
      const ceiling: CpuRound<HttpOutcome>[] = [];
      s.log(`  11: ${sizes.rounds} rounds of ${sizes.perRound} introspections (32 keep-alive connections, ${tokens.length} warm sessions), bare HTTP, then as many Authorize on 32 open sockets x 8`);
      for (let r = 0; r < sizes.rounds; r++) {
        if (r === 0) await profile.start(gateway);
        intro.push(await cpuRound(roots, () => httpCalls(pool, sizes.perRound, 32, (i) => call(i + r * 7), active), (o) => o.ok + o.errors));
        await profile.stop(gateway);
        postgres.roundDone();
        ceiling.push(await cpuRound({ bare: bare.process.pid! }, () => httpCalls(barePool, sizes.perRound * 2, 32, call, active, null), (o) => o.ok + o.errors));
        intro.at(-1)!.raw = statementsOf(await postgres.perUnit(intro.at(-1)!.units));
        intro.at(-1)!.statements = net(intro.at(-1)!.raw!, intro.at(-1)!.units);
        const authTokens = Array.from({ length: sizes.perRound }, (_, i) => tokens[(i + r * 13) % tokens.length]!);
        auth.push(await cpuRound(roots, () => authorizeOverOpenSockets(sockets, authTokens, 8), (o) => o.ok + o.errors));
        postgres.roundDone();
        auth.at(-1)!.raw = statementsOf(await postgres.perUnit(auth.at(-1)!.units));
        auth.at(-1)!.statements = net(auth.at(-1)!.raw!, auth.at(-1)!.units);
        s.log(
          `    round ${r + 1}: introspect ${r1(intro.at(-1)!.cpu.total)} µs (${intro.at(-1)!.statements} statements), bare HTTP ${r1(ceiling.at(-1)!.cpu.total)} µs, ` +
            `Authorize ${r1(auth.at(-1)!.cpu.total)} µs (${auth.at(-1)!.statements} statements) per call`,
        );
      }
      const rows = introspectionRows(intro, auth, ceiling, sizes, answerBytes, authorizeRow, background);
      if (profile.on) rows[0]!.note = `PROFILED (the first introspection round includes the profiler's cost); ${rows[0]!.note}`;
      return rows;
    } finally {
      closeAll(sockets);
      await barePool.close();
      await bare.stop();
    }
  } finally {
    await pool.close();
    await gateway.stop();
  }
}

function introspectionRows(
  intro: Array<CpuRound<HttpOutcome> & Statements>,
  auth: Array<CpuRound<Outcome> & Statements>,
  ceiling: CpuRound<HttpOutcome>[],
  sizes: IntrospectionSizes,
  answerBytes: number,
  authorizeRow: Row | undefined,
  /** Statements per second the idle gateway runs. */
  background: number,
): Row[] {
  const least = <T extends { cpu: { total: number } }>(rounds: T[]) => [...rounds].sort((a, b) => a.cpu.total - b.cpu.total)[0]!;
  const i = least(intro);
  const a = least(auth);
  const c = least(ceiling);
  const errors = intro.reduce((n, r) => n + r.result.errors, 0) + auth.reduce((n, r) => n + r.result.errors, 0);
  const parts = (r: { cpu: { parts: Record<string, number> } }) => Object.entries(r.cpu.parts).map(([k, v]) => `${k} ${r1(v)}`).join(' + ');
  const perSecond = (r: CpuRound<HttpOutcome>) => Math.round(r.result.ok / r.result.elapsedS);
  const maxStatements = Math.max(...intro.map((r) => r.statements ?? Infinity));
  const oneA = authorizeRow?.gateway ? `; this run's figure 1a (aged sessions, a gateway of its own): ${r1(authorizeRow.gateway)} µs per Authorize` : '';
  return [
    {
      figure: '11',
      key: 'cpu_per_introspect',
      metric: 'server CPU per introspection (gateway + Redis + Postgres), against an Authorize on the same gateway',
      unit: 'µs',
      gateway: i.cpu.total,
      ceiling: a.cpu.total,
      ratio: a.cpu.total / i.cpu.total,
      goal: '>= 100 % (no more than an Authorize)',
      met: a.cpu.total / i.cpu.total >= 1 && errors === 0,
      note:
        `least of ${intro.length} rounds of ${sizes.perRound} over 32 keep-alive connections on ${sizes.sessions} warm sessions: ${parts(i)} µs (all rounds ${intro.map((r) => r1(r.cpu.total)).join(', ')}), ${perSecond(i)}/s, p50 ${ms(p(i.result.latencies, 50))} ms; ` +
        `Authorize on 32 open sockets x 8 in flight, same sessions: ${parts(a)} µs (all rounds ${auth.map((r) => r1(r.cpu.total)).join(', ')})${oneA}; errors ${errors}`,
      data: { gatewayUs: r1(i.cpu.parts.gateway!), redisUs: r1(i.cpu.parts.redis!), postgresUs: r1(i.cpu.parts.postgres!), authorizeUs: r1(a.cpu.total), answerBytes },
    },
    {
      figure: '11',
      key: 'cpu_per_introspect_vs_bare',
      metric: 'server CPU per introspection, against a bare HTTP server doing the same JSON in/out',
      unit: 'µs',
      gateway: i.cpu.total,
      ceiling: c.cpu.total,
      ratio: c.cpu.total / i.cpu.total,
      goal: 'reported (bare/gateway CPU)',
      met: null,
      note: `bare: node:http, JSON.parse of the body, a ${answerBytes}-byte JSON answer (the gateway's size), no auth; least of ${ceiling.length} rounds of ${sizes.perRound * 2} (all ${ceiling.map((r) => r1(r.cpu.total)).join(', ')} µs), ${perSecond(c)}/s`,
    },
    {
      figure: '11',
      key: 'postgres_per_introspect',
      metric: 'Postgres statements per introspection',
      unit: '',
      gateway: i.statements ?? null,
      ceiling: null,
      ratio: null,
      goal: '0 (< 0.01: timers)',
      met: Number.isFinite(maxStatements) ? maxStatements < 0.01 : null,
      note:
        `pg_stat_database transactions of the gateway's database over each round, less what the idle gateway runs (${Math.round(background * 10) / 10}/s measured over ${BACKGROUND_S} s with no request: ` +
        `the event dispatcher's poll, lease renewals); every round: ${intro.map((r) => r.statements).join(', ')} (before that subtraction ${intro.map((r) => Math.round(r.raw! * 1000) / 1000).join(', ')}); ` +
        `Authorize rounds: ${auth.map((r) => r.statements).join(', ')} (before ${auth.map((r) => Math.round(r.raw! * 1000) / 1000).join(', ')})`,
    },
  ];
}
