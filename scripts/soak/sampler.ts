/**
 * What the soak reads every sample: the gateway's RSS (/proc) and heap
 * (nodejs_heap_size_used_bytes of its /metrics), its open file descriptors
 * (/proc/PID/fd), Redis's keys (DBSIZE) and memory (INFO used_memory), and
 * Postgres rows: count(*) of every table of the gateway's database, and the
 * sessions still live (not revoked).
 */
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { Redis } from 'ioredis';
import { rssBytes } from '../procfs.mjs';
import type { Reading } from './series.js';


function openFds(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** One gauge of a Prometheus text exposition, or null when absent. */
export function metricValue(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (!line) return null;
  const value = Number(line.slice(line.lastIndexOf(' ') + 1));
  return Number.isFinite(value) ? value : null;
}

export class Sampler {
  private readonly pg: pg.Client;
  private readonly redis: Redis;
  private tables: string[] = [];

  constructor(
    private readonly pid: number,
    private readonly metricsUrl: string,
    databaseUrl: string,
    redisUrl: string,
  ) {
    this.pg = new pg.Client({ connectionString: databaseUrl });
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  }

  async start(): Promise<void> {
    await this.pg.connect();
    const { rows } = await this.pg.query<{ relname: string }>(`SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname <> 'pgmigrations' ORDER BY relname`);
    this.tables = rows.map((r) => r.relname);
  }

  private async heap(): Promise<{ heapUsed: number | null; heapTotal: number | null; external: number | null }> {
    try {
      const response = await fetch(this.metricsUrl, { signal: AbortSignal.timeout(10_000) });
      const text = await response.text();
      return {
        heapUsed: metricValue(text, 'nodejs_heap_size_used_bytes'),
        heapTotal: metricValue(text, 'nodejs_heap_size_total_bytes'),
        external: metricValue(text, 'nodejs_external_memory_bytes'),
      };
    } catch {
      return { heapUsed: null, heapTotal: null, external: null };
    }
  }

  async read(): Promise<Reading> {
    const [heap, redisKeys, info] = await Promise.all([this.heap(), this.redis.dbsize(), this.redis.info('memory')]);
    const counts = await this.pg.query<Record<string, string>>(
      `SELECT ${this.tables.map((t) => `(SELECT count(*) FROM ${t}) AS "${t}"`).join(', ')}, (SELECT count(*) FROM sessions WHERE revoked_at IS NULL) AS "live sessions"`,
    );
    const row = counts.rows[0]!;
    const rows = Object.fromEntries(this.tables.map((t) => [t, Number(row[t])]));
    return {
      rss: rssBytes(this.pid),
      ...heap,
      fds: openFds(this.pid),
      redisKeys,
      redisMemory: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN),
      liveSessions: Number(row['live sessions']),
      rows,
    };
  }

  async close(): Promise<void> {
    await this.pg.end().catch(() => undefined);
    this.redis.disconnect();
  }
}
