/**
 * The chat example's migrations (../migrations/*.sql, in name order), each
 * applied once, inside the example's own schema. Instances starting together
 * take turns on an advisory lock, so each migration runs exactly once.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { inTransaction } from './db.js';

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

/** Applies what is not applied yet; returns the names applied now. */
export async function migrate(pool: pg.Pool, schema: string): Promise<string[]> {
  return inTransaction(pool, async (client) => {
    const applied: string[] = [];
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`osmium-chat-example:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`SET LOCAL search_path TO "${schema}"`);
    await client.query('CREATE TABLE IF NOT EXISTS migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM migrations')).rows.map((r) => r.name));
    for (const name of readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql')).sort()) {
      if (done.has(name)) continue;
      await client.query(readFileSync(join(MIGRATIONS, name), 'utf8'));
      await client.query('INSERT INTO migrations (name) VALUES ($1)', [name]);
      applied.push(name);
    }
    return applied;
  });
}
