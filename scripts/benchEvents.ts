/**
 * Bench: how fast queued account events are delivered. Starts a throwaway
 * Postgres and Redis (scripts/stack.mjs), writes N events to the outbox as a
 * burst of changes would (N users, one event each, or --per-user events
 * each), then starts one gateway with WEBHOOK_URL pointing at a local
 * receiver that verifies every signature with `standardwebhooks`, and reports
 * the time until the last one arrived, events per second, and the backlog
 * (pending in the outbox) every 500 ms.
 *
 *   npm run bench:events [-- --events 10000] [-- --per-user 1] [-- --concurrency 16]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { startApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { defineCommand } from './commandLine.mjs';
import { createDatabase, startStack } from './stack.mjs';

const values = defineCommand(
  {
    usage: 'npm run bench:events -- [options]',
    options: {
      events: { type: 'string', value: 'N', help: 'events queued (default 10000)' },
      'per-user': { type: 'string', value: 'N', help: 'events per user (default 1)' },
      concurrency: { type: 'string', value: 'N', help: 'WEBHOOK_CONCURRENCY (default 16)' },
    },
  },
  (v: Record<string, string | undefined>) => ({ events: v.events ?? '10000', 'per-user': v['per-user'] ?? '1', concurrency: v.concurrency ?? '16' }),
).parseOrExit() as { events: string; 'per-user': string; concurrency: string };
const total = Number(values.events);
const perUser = Number(values['per-user']);

const stack = await startStack();
try {
  const databaseUrl = await createDatabase(stack.databaseUrl, 'bench');
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const wh = new Webhook(secret);
  const seen = new Set<string>();
  let refused = 0;
  let lastAt = 0;
  let allArrived: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (allArrived = resolve));
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        wh.verify(Buffer.concat(chunks).toString('utf8'), req.headers as Record<string, string>);
      } catch {
        refused++;
        res.writeHead(400).end();
        return;
      }
      seen.add(String(req.headers['webhook-id']));
      res.writeHead(204).end();
      if (seen.size === total) {
        lastAt = performance.now();
        allArrived();
      }
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
  const config = loadConfig({
    DATABASE_URL: databaseUrl, REDIS_URL: stack.redisUrl, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn',
    WEBHOOK_URL: url, WEBHOOK_SECRET: secret, WEBHOOK_CONCURRENCY: values.concurrency,
  });
  const log = createLogger({ level: 'warn', pretty: false, destination: process.stderr });
  // A first start migrates; the events are then queued with the dispatcher stopped, as a backlog a receiver outage leaves.
  const first = await startApp(config, { log, databaseUrl });
  await first.events.stop();
  const users = Math.ceil(total / perUser);
  await first.db.query(
    `INSERT INTO events (type, user_id, data)
     SELECT 'user.updated', 1000000 + (g % $2), jsonb_build_object('user_id', (1000000 + (g % $2))::text, 'changed', jsonb_build_array('email_verified'), 'email_verified', true)
     FROM generate_series(0, $1 - 1) g ORDER BY g`,
    [total, users],
  );
  await first.close();
  const started = performance.now();
  const app = await startApp(config, { log, databaseUrl });
  const backlog: string[] = [];
  const sampler = setInterval(async () => {
    const { rows } = await app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE state = 'pending'`);
    backlog.push(`${((performance.now() - started) / 1000).toFixed(1)} s: ${rows[0]!.n}`);
  }, 500);
  await arrived;
  clearInterval(sampler);
  const seconds = (lastAt - started) / 1000;
  console.log(JSON.stringify({
    events: total, users, concurrency: Number(values.concurrency), seconds: Number(seconds.toFixed(2)),
    eventsPerSecond: Math.round(total / seconds), refused, backlog,
  }, null, 2));
  await app.close();
  receiver.close();
} finally {
  await stack.stop();
}
