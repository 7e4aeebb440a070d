/**
 * Every setting of the gateway, read from the environment and validated once at
 * start. A bad value stops the start with a message naming the variable.
 * Documented in README.md ("Configuration") and .env.example; a test checks
 * that the three agree. Depends on nothing else of the gateway: every layer
 * may read it.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();
const onOff = z.enum(['on', 'off']);

/**
 * The abuse limits' settings, `LIMIT_<NAME>=<points>/<seconds>`: name →
 * default and what it counts. What each limit is keyed by, how it fails while
 * Redis is down and what a refusal says are in the limits catalogue
 * (src/services/limits.ts), which reads these values.
 */
export const LIMIT_SETTINGS = {
  SIGNIN_FAIL_EMAIL_IP: ['5/900', 'Failed sign-ins per (email, IP)'],
  SIGNIN_FAIL_EMAIL: ['30/3600', 'Failed sign-ins per email from any IP'],
  SIGNUP_IP: ['10/3600', 'Sign-ups per IP'],
  MAIL_IP: ['20/3600', 'Verification and reset mails requested per IP'],
  VERIFY_MAIL_EMAIL: ['5/3600', 'Verification mails per address'],
  RESET_MAIL_EMAIL: ['5/3600', 'Password reset mails per address'],
  CODE_CHECK_IP: ['30/900', 'Email code checks per IP'],
  INVITE_LOOKUP_IP: ['60/60', 'Invite lookups per IP'],
  INVITE_LOOKUP_USER: ['60/60', 'Invite lookups per signed-in user'],
  INVITE_USE_IP: ['30/60', 'Invite uses per IP'],
  INVITE_USE_USER: ['10/60', 'Invite uses per user'],
} as const satisfies Record<string, readonly [string, string]>;

export type LimitName = keyof typeof LIMIT_SETTINGS;

/** A limit's value: `points` per `durationSeconds`. */
export interface LimitValue {
  points: number;
  durationSeconds: number;
}

/** Parses `points/seconds`; null when malformed. */
export function parseLimit(value: string): LimitValue | null {
  const match = /^(\d{1,9})\/(\d{1,9})$/.exec(value.trim());
  if (!match) return null;
  const points = Number(match[1]);
  const durationSeconds = Number(match[2]);
  return points >= 1 && durationSeconds >= 1 ? { points, durationSeconds } : null;
}

const limitSetting = ([fallback, counts]: readonly [string, string]) =>
  z
    .string()
    .default(fallback)
    .refine((v) => parseLimit(v) !== null, 'expected <points>/<seconds>, e.g. 5/900')
    .describe(`${counts}, as points/seconds (see "Rate limits and abuse")`);

const limitSettings = Object.fromEntries(
  Object.entries(LIMIT_SETTINGS).map(([name, setting]) => [`LIMIT_${name}`, limitSetting(setting)]),
) as { [K in LimitName as `LIMIT_${K}`]: ReturnType<typeof limitSetting> };

/** The schema; `describe()` texts are the documentation the README table is checked against. */
export const configSchema = z.object({
  ...limitSettings,
  PORT: int(0, 65535).default(8080).describe('TCP port of the HTTP + WebSocket server'),
  HOST: z.string().default('0.0.0.0').describe('Address to listen on'),
  DATABASE_URL: optionalString.describe(
    'Postgres connection URL. Unset: embedded single-instance mode (Postgres under DATA_DIR)',
  ),
  REDIS_URL: optionalString.describe('Redis URL for live state and pub/sub. Unset: in-process live state (single instance only)'),
  REDIS_PREFIX: z.string().default('osm:').describe('Prefix of every Redis key and channel this gateway uses'),
  DATA_DIR: z.string().default('./data').describe('Folder for embedded Postgres data and the mail outbox'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
  NODE_ENV: z.string().default('development').describe('`production` switches logs to plain JSON'),
  BCRYPT_COST: int(4, 15).default(12).describe('bcrypt cost factor for new password hashes'),
  BCRYPT_CONCURRENCY: int(1, 64).default(availableParallelism()).describe(
    'Password hashes run at once (libuv thread pool slots); the rest queue',
  ),
  MAX_FRAME_BYTES: int(64, 16 * 1024 * 1024).default(64 * 1024).describe('Largest accepted WebSocket frame; bigger closes with 1009'),
  PING_INTERVAL_MS: int(100, 600_000).default(30_000).describe('Server ping period; two missed pongs drop the socket'),
  ENTRYPOINTS: optionalString.describe(
    'Comma list of host:port[:region] returned by core.Initialize. Unset: the host and port the client connected to',
  ),
  WORKER_ID: int(0, 1023).optional().describe('Snowflake worker id (0-1023). Unset: leased from Postgres'),
  SESSION_IDLE_DAYS: z.coerce.number().positive().max(3650).default(30).describe('Sessions expire after this many days without activity'),
  GEO_COUNTRY_HEADER: optionalString.describe('Request header carrying the client country (e.g. cf-ipcountry). Unset: no geo'),
  GEO_REGION_HEADER: optionalString.describe('Request header carrying the client region. Unset: no region'),
  SMTP_URL: optionalString
    .refine((v) => v === undefined || /^smtps?:\/\/[^/]+/.test(v), 'expected smtp://[user:pass@]host[:port] or smtps://...')
    .describe('SMTP server for outgoing mail (smtp:// or smtps://, credentials in the URL). Unset: mails are written as .eml files to MAIL_OUTBOX_DIR'),
  MAIL_FROM: z.string().trim().min(3).default('Osmium <no-reply@localhost>').describe('From address of verification and password reset mails'),
  MAIL_OUTBOX_DIR: optionalString.describe('Folder for .eml files when SMTP_URL is unset. Unset: <DATA_DIR>/outbox'),
  RATE_LIMITS: onOff.default('on').describe('`off` disables every rate limit (trusted load tests only)'),
  SOCKET_RATE: int(1, 100_000).default(20).describe('Requests per second one socket may send (token bucket refill)'),
  SOCKET_BURST: int(1, 100_000).default(60).describe('Requests one socket may send in a burst before SOCKET_RATE applies'),
  SOCKET_FLOOD_CLOSE: int(1, 1_000_000).default(200).describe('Refused frames within one second after which the socket is closed with 1008'),
  MAX_CONNECTIONS_PER_IP: int(1, 1_000_000).default(1000).describe('Open sockets allowed from one client IP; more are refused with HTTP 429'),
  HANDSHAKE_TIMEOUT_MS: int(100, 600_000).default(10_000).describe('A socket that sends no valid frame within this is closed with 1008'),
  MAX_BUFFERED_BYTES: int(1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024).describe('Unsent bytes after which a slow reader is dropped'),
  CLIENT_IP_HEADER: optionalString.describe('Header carrying the client IP set by your proxy (e.g. x-forwarded-for; leftmost address used). Unset: the socket address'),
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000).describe('Longest graceful shutdown before forced exit'),
  WORKERS: int(1, 256).default(availableParallelism()).describe('Gateway processes sharing the port (embedded mode: always 1)'),
});

export type Config = z.infer<typeof configSchema> & {
  /** `embedded` when DATABASE_URL is unset. */
  mode: 'servers' | 'embedded';
  dataDir: string;
  /** ENTRYPOINTS parsed; null when unset (core.Initialize answers with the host the client reached). */
  entrypoints: EntrypointSetting[] | null;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the configuration; throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined) raw[key] = value;
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '?');
        return `${name}=${JSON.stringify(raw[name] ?? '')}: ${issue.message}`;
      }),
    );
  }
  const entrypoints = parsed.data.ENTRYPOINTS;
  return {
    ...parsed.data,
    mode: parsed.data.DATABASE_URL ? 'servers' : 'embedded',
    dataDir: resolve(parsed.data.DATA_DIR),
    entrypoints: entrypoints === undefined ? null : parseEntrypoints(entrypoints), // throws ConfigError
  };
}

export interface EntrypointSetting {
  hostname: string;
  port: number;
  region: number;
}

/** Parses ENTRYPOINTS (`host:port[:region],...`). */
function parseEntrypoints(value: string): EntrypointSetting[] {
  return value.split(',').map((item) => {
    const [hostname, port, region = '0'] = item.trim().split(':');
    const portNumber = Number(port);
    const regionNumber = Number(region);
    if (!hostname || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535 || !Number.isInteger(regionNumber) || regionNumber < 0) {
      throw new ConfigError([`ENTRYPOINTS=${JSON.stringify(value)}: expected host:port[:region], got "${item}"`]);
    }
    return { hostname, port: portNumber, region: regionNumber };
  });
}
