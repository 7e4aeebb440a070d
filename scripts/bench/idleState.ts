/**
 * Figure 7, what idle sockets cost: Postgres row writes per second per 10 000
 * idle authorized sockets that heartbeat every 30 s (pg_stat_user_tables
 * n_tup_upd, every table, `sessions` named), with the Redis commands, server
 * CPU and gateway I/O they cause, over a window of whole activity flushes.
 * Also the state each session leaves: Redis memory (INFO used_memory before
 * and after creating the sessions) and Postgres bytes per row, inputs of the
 * capacity model.
 *
 * Time runs `timeScale` times faster than in production, so that a window of
 * a minute or two shows what production does in ten or twenty: clients
 * heartbeat every 30 s / k, the gateway pings every PING_INTERVAL_MS / k and
 * persists activity at ACTIVITY_PERSIST_GRANULARITY / k (its defaults), and
 * every rate measured is divided by k. Everything periodic scales; the fixed
 * 2 s push of activity to Redis does not need to (it carries one touch per
 * heartbeat either way). k = 1 measures in real time.
 */
import { loadConfig } from '../../src/config.js';
import { processIo } from '../procfs.mjs';
import { cpuPerUnit, sampleCpu } from './cpu.js';
import { holdIdle, type BenchSettings, type Row } from './figures.js';
import { spawnGateway } from './processes.js';
import { TableUpdatesWatch, databaseCounters, storagePerRow, tableWrites, userRowWidths } from './servers.js';
import type { ServerWatch } from './cpuFigures.js';

/** Real clients heartbeat every 30 s. */
export const IDLE_HEARTBEAT_S = 30;
const PER = 10_000;

/** The production timing the figure scales: the gateway's defaults. */
const DEFAULTS = loadConfig({});

/** Gateway settings, client heartbeat and flush period of figure 7 at time scale k. */
export function idleTiming(k: number): { env: Record<string, string>; heartbeatS: number; flushS: number } {
  const granularityS = Math.max(1, Math.round(DEFAULTS.ACTIVITY_PERSIST_GRANULARITY / k));
  return {
    env: { PING_INTERVAL_MS: String(Math.max(100, Math.round(DEFAULTS.PING_INTERVAL_MS / k))), ACTIVITY_PERSIST_GRANULARITY: String(granularityS) },
    heartbeatS: IDLE_HEARTBEAT_S / k,
    // The gateway flushes activity to Postgres every granularity (at least every second).
    flushS: granularityS,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface SessionFootprint {
  /** Bytes of Redis used_memory per session created (sign-up writes the session's cache entries). */
  redisBytesPerSession: number;
  sessionsCreated: number;
}

/**
 * Waits until the next batch of session activity shows in Postgres's
 * statistics (rows updated in `sessions` jump), then holds for half a
 * second. Resolves false when none shows within `timeoutMs`.
 */
async function nextActivityFlush(sessions: TableUpdatesWatch, timeoutMs: number): Promise<boolean> {
  const updated = () => sessions.updated();
  const first = await updated();
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    await sleep(250);
    let now = await updated();
    if (now === first) continue;
    // One flush is one statement, published at once; wait until nothing more follows.
    for (let seen = now; ; seen = now) {
      await sleep(500);
      now = await updated();
      if (now === seen) return true;
    }
  }
  return false;
}

export async function figureIdleState(
  s: BenchSettings,
  watch: ServerWatch,
  databaseUrl: string,
  env: Record<string, string>,
  tokens: string[],
  sockets: number,
  windowS: number,
  footprint: SessionFootprint | null,
  timeScale = 10,
): Promise<Row[]> {
  const timing = idleTiming(timeScale);
  const gateway = await spawnGateway({ ...env, ...timing.env });
  try {
    s.log(`  opening ${sockets} idle authorized sockets; time ${timeScale}x: heartbeat every ${timing.heartbeatS} s, ${Object.entries(timing.env).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    // Opened at 500/s: a faster ramp on a loaded machine makes Authorize wait over the gateway's 5 s pool timeout (503).
    const held = await holdIdle(gateway.url, sockets, tokens.slice(0, sockets), timing.heartbeatS, 500);
    let released = false;
    try {
      const ACTIVITY_FLUSH_S = timing.flushS;
      const periods = Math.max(1, Math.round(windowS / ACTIVITY_FLUSH_S));
      s.log(`  ${held.open} open (${held.errors} errors); waiting for an activity flush, then measuring until ${periods} more landed`);
      // The window runs from just after one flush shows in the statistics to just after the
      // `periods`-th next one does: exactly that many flushes inside, whatever their timing.
      const timeoutMs = (ACTIVITY_FLUSH_S + 15) * 1000;
      const sessionsWatch = new TableUpdatesWatch(databaseUrl, 'sessions');
      let aligned = await nextActivityFlush(sessionsWatch, timeoutMs);
      const pid = gateway.process.pid!;
      const roots = { gateway: pid, redis: watch.redisPid, postgres: watch.postgresPid };
      const writesBefore = await tableWrites(databaseUrl);
      const pgBefore = await databaseCounters(databaseUrl);
      const redisBefore = await watch.redis.counters();
      const ioBefore = processIo(pid);
      const cpuBefore = sampleCpu(roots);
      if (aligned) {
        for (let i = 0; i < periods && aligned; i++) aligned = await nextActivityFlush(sessionsWatch, timeoutMs);
      } else {
        await sleep(periods * ACTIVITY_FLUSH_S * 1000);
      }
      const cpuAfter = sampleCpu(roots);
      const ioAfter = processIo(pid);
      const redisAfter = await watch.redis.counters();
      const pgAfter = await databaseCounters(databaseUrl);
      await sessionsWatch.close();
      const writesAfter = await tableWrites(databaseUrl);
      // Production seconds: the window's wall seconds times the time scale.
      const elapsedS = ((cpuAfter.at - cpuBefore.at) / 1000) * timeScale;
      // Writes come in flushes: per second of flush period when aligned, per second of window otherwise.
      const writeSeconds = aligned ? periods * ACTIVITY_FLUSH_S * timeScale : elapsedS;
      const open = held.open;
      const perTenK = (n: number) => (n / writeSeconds) * (PER / open);
      const updated = (t: string) => (writesAfter[t]?.updated ?? 0) - (writesBefore[t]?.updated ?? 0);
      const allRows = Object.keys(writesAfter).reduce(
        (n, t) => n + updated(t) + (writesAfter[t]!.inserted - (writesBefore[t]?.inserted ?? 0)) + (writesAfter[t]!.deleted - (writesBefore[t]?.deleted ?? 0)),
        0,
      );
      const sessionUpdates = perTenK(updated('sessions'));
      const cpu = cpuPerUnit(cpuBefore, cpuAfter, open * elapsedS); // µs per socket-second
      // Redis and transactions run continuously (touches every 2 s, lease renewals): per second of window.
      const perTenKOfWindow = (n: number) => (n / elapsedS) * (PER / open);
      const redisPerTenK = perTenKOfWindow(redisAfter.commands - redisBefore.commands - 1);
      const transactionsPerTenK = perTenKOfWindow(pgAfter.transactions - pgBefore.transactions);
      const ioIn = ioBefore && ioAfter ? (ioAfter.readBytes - ioBefore.readBytes) / (open * elapsedS) : null;
      const ioOut = ioBefore && ioAfter ? (ioAfter.writtenBytes - ioBefore.writtenBytes) / (open * elapsedS) : null;
      const r2 = (n: number) => Math.round(n * 100) / 100;
      const parts = Object.entries(cpu.parts)
        .map(([k, v]) => `${k} ${r2(v)}`)
        .join(' + ');
      const rows: Row[] = [
        {
          figure: '7',
          key: 'postgres_writes_per_10k_idle',
          metric: `Postgres row writes/s per ${PER} idle sockets (heartbeat ${IDLE_HEARTBEAT_S} s)`,
          unit: '/s',
          gateway: perTenK(allRows),
          ceiling: null,
          ratio: null,
          goal: 'reported',
          met: null,
          note:
            `${open} sockets over ${(elapsedS / timeScale).toFixed(0)} s of wall time at ${timeScale}x (${elapsedS.toFixed(0)} production seconds; ` +
            `${aligned ? `${periods} activity flush(es) every ${ACTIVITY_FLUSH_S} s, counted per flush period` : 'no flush seen: a plain window, not aligned with flushes'}); ` +
            `sessions rows updated ${r2(sessionUpdates)}/s, all tables ${r2(perTenK(allRows))}/s, ${r2(transactionsPerTenK)} transactions/s per ${PER} (production seconds); ` +
            `gateway at ${Object.entries(timing.env).map(([k, v]) => `${k}=${v}`).join(', ')}, heartbeat ${timing.heartbeatS} s`,
          data: { sessionsUpdatesPer10k: r2(sessionUpdates), transactionsPer10k: r2(transactionsPerTenK), sockets: open, productionSeconds: r2(elapsedS), timeScale },
        },
        {
          figure: '7',
          key: 'redis_commands_per_10k_idle',
          metric: `Redis commands/s per ${PER} idle sockets`,
          unit: '/s',
          gateway: redisPerTenK,
          ceiling: null,
          ratio: null,
          goal: 'reported',
          met: null,
          note: 'INFO total_commands_processed over the same window (pipelined commands count one each), per production second',
        },
        {
          figure: '7',
          key: 'cpu_per_idle_socket',
          metric: 'server CPU per idle socket per second (gateway + Redis + Postgres)',
          unit: 'µs',
          gateway: cpu.total,
          ceiling: null,
          ratio: null,
          goal: 'reported',
          met: null,
          note: `${parts} µs per production socket-second (measured CPU / time scale: what does not run faster, such as GC, is undercounted); heartbeats, server pings and the activity flushes; gateway I/O ${ioIn === null ? '-' : r2(ioIn)} B in / ${ioOut === null ? '-' : r2(ioOut)} B out per socket-second`,
          data: { gatewayUs: r2(cpu.parts.gateway!), redisUs: r2(cpu.parts.redis!), postgresUs: r2(cpu.parts.postgres!), gatewayBytesIn: ioIn, gatewayBytesOut: ioOut },
        },
      ];
      const storage = await storagePerRow(databaseUrl, ['users', 'sessions']);
      const widths = await userRowWidths(databaseUrl);
      rows.push({
        figure: '7',
        key: 'postgres_bytes_per_session',
        metric: 'Postgres bytes per session row (heap + indexes)',
        unit: 'B',
        gateway: storage.sessions!.bytesPerRow,
        ceiling: null,
        ratio: null,
        goal: 'reported',
        met: null,
        note:
          `pg_total_relation_size / rows after VACUUM: sessions ${Math.round(storage.sessions!.bytesPerRow)} B over ${storage.sessions!.rows} rows, users ${Math.round(storage.users!.bytesPerRow)} B over ${storage.users!.rows} rows (mostly guests); ` +
          `average user row ${widths.account === null ? '-' : Math.round(widths.account)} B with email and password hash, ${widths.guest === null ? '-' : Math.round(widths.guest)} B for a guest`,
        data: {
          usersBytesPerRow: Math.round(storage.users!.bytesPerRow),
          usersRows: storage.users!.rows,
          sessionsRows: storage.sessions!.rows,
          accountRowWidth: widths.account === null ? null : Math.round(widths.account),
          guestRowWidth: widths.guest === null ? null : Math.round(widths.guest),
        },
      });
      if (footprint) {
        rows.push({
          figure: '7',
          key: 'redis_bytes_per_session',
          metric: 'Redis memory per session',
          unit: 'B',
          gateway: footprint.redisBytesPerSession,
          ceiling: null,
          ratio: null,
          goal: 'reported',
          met: null,
          note: `INFO used_memory before and after creating ${footprint.sessionsCreated} guest sessions, divided by them (the cache entries a session's sign-in writes)`,
        });
      }
      // Holders stop here; their errors (setup failures, dropped sockets) are part of the result.
      const errors = await held.release();
      released = true;
      const text = Object.entries(errors).map(([what, n]) => `${what}: ${n}`).join(', ');
      rows[0]!.note += `; idle holders' errors: ${text || 'none'}`;
      return rows;
    } finally {
      if (!released) await held.release();
    }
  } finally {
    await gateway.stop();
  }
}
