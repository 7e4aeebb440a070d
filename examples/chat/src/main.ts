/**
 * The chat example's process: `npm run example:chat:backend`. Checks its
 * settings (src/config.ts), migrates its schema, then serves the gateway's
 * calls on PORT (POST /osmium/v1/call) and pushes through GATEWAY_API_URL.
 * Prints one JSON line `chat backend listening` with the port when ready.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBackendHandler, GatewayApi } from 'osmium-auth-gateway/backend';
import pg from 'pg';
import { pino } from 'pino';
import { chatService } from './chat.js';
import { loadChatConfig, type ChatConfig } from './config.js';
import { migrate } from './migrate.js';
import { ChatStore } from './store.js';

let config: ChatConfig;
try {
  config = loadChatConfig(process.env);
} catch (err) {
  console.error(`chat backend: ${(err as Error).message}`);
  process.exit(1);
}

const log = pino({ level: config.LOG_LEVEL, base: { service: 'chat-example' } });
// Every connection reads and writes the example's own schema, whatever else the database holds.
const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: 10, options: `-c search_path=${config.DATABASE_SCHEMA}` });
pool.on('error', (err) => log.warn({ err }, 'idle database connection failed'));

try {
  const applied = await migrate(pool, config.DATABASE_SCHEMA);
  if (applied.length) log.info({ applied, schema: config.DATABASE_SCHEMA }, 'migrated');
} catch (err) {
  log.fatal({ err }, 'cannot reach or migrate the database');
  await pool.end().catch(() => {});
  process.exit(1);
}

const gateway = new GatewayApi({ url: config.GATEWAY_API_URL, apiKey: config.GATEWAY_API_KEY });
const { methods, hooks } = chatService({ store: new ChatStore(pool), gateway, log });
const handler = createBackendHandler({
  secret: config.BACKEND_SECRET,
  methods,
  hooks,
  onError: (err, call) => log.error({ err, traceId: call.traceId }, 'call failed'),
});
const server = createServer(handler);
// Longer than the gateway keeps an idle connection, so it never sends on one this side is closing.
server.keepAliveTimeout = 65_000;

server.listen(config.PORT, config.HOST, () => {
  const { port } = server.address() as AddressInfo;
  log.info({ port, url: `http://${config.HOST}:${port}` }, 'chat backend listening');
});

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  server.close();
  server.closeIdleConnections();
  await Promise.allSettled([gateway.close(), pool.end()]);
  process.exit(0);
}
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
