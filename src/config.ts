/**
 * Every setting of the gateway, read from the environment and validated once at
 * start. A bad value stops the start with a message naming the variable.
 * Documented in README.md ("Configuration") and .env.example; a test checks
 * that the three agree. Depends on nothing else of the gateway: every layer
 * may read it.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import proxyaddr from 'proxy-addr';
import * as z from 'zod';

// Parsed once per process: zod's compiled (eval'd) object parsers pay off only over many parses, and cost the start ~4 ms.
z.config({ jitless: true });

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
  SIGNIN_FAIL_EMAIL: ['30/3600', 'Failed sign-ins per email from any IP (not counted from an IP the account signed in from before)'],
  SIGNIN_IP: ['100/900', 'Sign-in attempts per IP, success or not'],
  SIGNUP_IP: ['10/3600', 'Sign-ups per IP'],
  MAIL_IP: ['20/3600', 'Verification and reset mails requested per IP'],
  VERIFY_MAIL_EMAIL: ['5/3600', 'Verification mails per address'],
  RESET_MAIL_EMAIL: ['5/3600', 'Password reset mails per address (plus as many per IP the account signed in from before)'],
  CODE_CHECK_IP: ['30/900', 'Email code checks per IP'],
  INVITE_LOOKUP_IP: ['60/60', 'Invite lookups per IP'],
  INVITE_LOOKUP_USER: ['60/60', 'Invite lookups per signed-in user'],
  INVITE_USE_IP: ['30/60', 'Invite uses per IP'],
  INVITE_USE_USER: ['10/60', 'Invite uses per user'],
  TOTP_GUESS_USER: ['10/3600', 'TOTP and backup code checks per account (sign-in, turning TOTP on or off)'],
  TOTP_GUESS_IP: ['30/3600', 'TOTP and backup code checks per IP'],
  PASSWORD_CHECK_SESSION: ['5/900', 'Current-password checks per session when changing the password (the socket that signed in has its own)'],
  PASSWORD_CHECK_USER: ['5/900', 'Current-password checks per account when changing the password, from sockets that did not sign in (resumed a token)'],
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
  HOST: optionalString.describe(
    'Address to listen on. Unset: 127.0.0.1 in single-instance mode (no DATABASE_URL: a development gateway is not reachable from other machines until you say so), 0.0.0.0 in server mode',
  ),
  DATABASE_URL: optionalString.describe(
    'Postgres connection URL. Unset: embedded single-instance mode (Postgres under DATA_DIR)',
  ),
  DATABASE_DIRECT_URL: optionalString.describe(
    'Postgres URL for what needs a session of its own (migrations, LISTEN) when DATABASE_URL goes through a transaction pooler such as PgBouncer. Unset: DATABASE_URL',
  ),
  REDIS_URL: optionalString.describe('Redis URL for live state and pub/sub. Unset: in-process live state (single instance only)'),
  REDIS_CLUSTER_NODES: optionalString
    .refine((v) => v === undefined || parseClusterNodes(v) !== null, 'expected host:port,host:port,... (seed nodes of a Redis Cluster)')
    .describe('Seed nodes of a Redis Cluster (host:port,host:port,...), instead of REDIS_URL. Unset: REDIS_URL decides'),
  REDIS_PREFIX: z.string().default('osm:').describe('Prefix of every Redis key and channel this gateway uses'),
  DATA_DIR: z.string().default('./data').describe('Folder for embedded Postgres data and the mail outbox'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
  NODE_ENV: z.string().default('development').describe('`production` switches logs to plain JSON'),
  BCRYPT_COST: int(4, 15).default(12).describe('bcrypt cost factor for new password hashes'),
  BCRYPT_CONCURRENCY: int(1, 64).default(availableParallelism()).describe(
    'Password hashes run at once (libuv thread pool slots); the rest queue',
  ),
  BCRYPT_MAX_QUEUED: int(1, 1_000_000).default(256).describe('Password hashes waiting at most; beyond, sign-ins are refused with 503'),
  BCRYPT_MAX_QUEUED_PER_IP: int(1, 1_000_000).default(8).describe(
    'Password hashes waiting at most per client IP; beyond, its sign-ins are refused with 429 (lifted by RATE_LIMITS=off)',
  ),
  MAX_FRAME_BYTES: int(64, 16 * 1024 * 1024).default(64 * 1024).describe('Largest accepted WebSocket frame; bigger closes with 1009'),
  PING_INTERVAL_MS: int(100, 600_000).default(30_000).describe('Server ping period; two missed pongs drop the socket'),
  ENTRYPOINTS: optionalString.describe(
    'Comma list of host:port[:region] returned by core.Initialize. Unset: the host and port the client connected to',
  ),
  WORKER_ID: int(0, 1023).optional().describe('Snowflake worker id (0-1023). Unset: leased from Postgres'),
  WORKER_LEASE_MS: int(1_000, 3_600_000).default(60_000).describe('Length of a leased worker id\'s lease (renewed at a third of it); an instance paused past it takes a new id on waking'),
  SESSION_IDLE_DAYS: z.coerce.number().positive().max(3650).default(30).describe('Sessions expire after this many days without activity'),
  ACTIVITY_PERSIST_GRANULARITY: int(1, 86_400).default(300).describe(
    'Seconds a session\'s last activity must move before Postgres is written again (Redis keeps the exact value)',
  ),
  DATABASE_PREPARED_STATEMENTS: onOff.default('on').describe(
    'Named prepared statements for hot queries; `off` behind PgBouncer older than 1.21 in transaction mode',
  ),
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
  MAX_PENDING_CONNECTIONS_PER_IP: int(1, 1_000_000).default(64).describe(
    'TCP connections from one peer address not yet upgraded to a WebSocket (headers arriving, plain HTTP); more are dropped at once',
  ),
  MAX_PENDING_CONNECTIONS_PER_NETWORK: int(1, 1_000_000).default(256).describe(
    'TCP connections not yet upgraded to a WebSocket from one IPv4 /24 or IPv6 /48 (neighbouring addresses together); more are dropped at once',
  ),
  MAX_PENDING_CONNECTIONS: int(1, 1_000_000).default(4096).describe(
    'TCP connections not yet upgraded to a WebSocket, in all; at the bound the oldest pending one is dropped for the newest',
  ),
  IPV6_PREFIX_LENGTH: int(32, 128).default(64).describe(
    'Per-address limits count an IPv6 client by the network of this many leading bits (every IPv6 customer gets a /64); IPv4 by the address',
  ),
  HTTP_HEADERS_TIMEOUT_MS: int(500, 600_000).default(5_000).describe('Longest wait for an HTTP request\'s headers (an upgrade included); the request itself gets twice this'),
  HANDSHAKE_TIMEOUT_MS: int(100, 600_000).default(10_000).describe('A socket that sends no valid frame within this is closed with 1008'),
  MAX_BUFFERED_BYTES: int(1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024).describe('Unsent bytes after which a slow reader is dropped'),
  CLIENT_IP_HEADER: optionalString.describe(
    'Header in which your proxies append the address they saw (e.g. x-forwarded-for); read with TRUSTED_PROXIES. Unset: the socket address',
  ),
  TRUSTED_PROXIES: z
    .string()
    .trim()
    .default('1')
    .refine((v) => parseTrustedProxies(v) !== null, 'expected a hop count (1-16) or a comma list of addresses, CIDRs, loopback, linklocal, uniquelocal')
    .describe(
      'With CLIENT_IP_HEADER: how many proxies in front of the gateway append to it (a count), or which addresses are your proxies (comma list of IPs/CIDRs or loopback, linklocal, uniquelocal); the client is the nearest address not trusted',
    ),
  METRICS_PORT: int(0, 65535).optional().describe('TCP port of the Prometheus /metrics listener (on METRICS_HOST). Unset: no metrics listener'),
  METRICS_HOST: z.string().default('127.0.0.1').describe('Address the metrics listener binds (loopback by default)'),
  API_PORT: int(0, 65535).optional().describe(
    'TCP port of the internal API (push, disconnect, presence, token introspection, account events) on API_HOST. Unset: no internal API',
  ),
  API_HOST: z.string().default('127.0.0.1').describe('Address the internal API binds (loopback by default; never the public port)'),
  API_KEYS: optionalString
    .refine((v) => v === undefined || v.split(',').every((k) => k.trim().length >= 16), 'expected a comma list of keys of 16 characters or more')
    .describe('Comma list of keys the internal API accepts as Authorization: Bearer <key> (several, so a key can be rotated); required with API_PORT'),
  BACKEND_URL: optionalString
    .refine((v) => v === undefined || /^https?:\/\/[^/]+/.test(v), 'expected an http:// or https:// URL')
    .describe(
      'Chat backend every method the gateway does not serve is forwarded to (POST <BACKEND_URL>/osmium/v1/call, proto/osmium/gateway/v1/README.md). Unset: those methods answer 501',
    ),
  BACKEND_ROUTES: optionalString
    .refine((v) => v === undefined || parseBackendRoutes(v) !== null, 'expected packages=url;packages=url, e.g. messages,chats=http://a;communities=http://b')
    .describe(
      'Method packages sent to other backends than BACKEND_URL: package,package=url;package=url (e.g. messages,chats=http://a;communities=http://b). A method of no route and no BACKEND_URL answers 501',
    ),
  BACKEND_SECRET: optionalString
    .refine((v) => v === undefined || v.length >= 16, 'expected 16 characters or more')
    .describe('Secret sent to the backends on every call as Authorization: Bearer <secret> (they compare it in constant time); required with BACKEND_URL or BACKEND_ROUTES'),
  BACKEND_TIMEOUT_MS: int(10, 600_000).default(3000).describe('Longest wait for a backend answer, per call; past it the client gets 504'),
  BACKEND_MAX_IN_FLIGHT: int(1, 100_000).default(1024).describe('Calls in flight to one backend route at most; beyond, 503 at once (no queue)'),
  PRESENCE_REFRESH_MS: int(1000, 600_000).default(15_000).describe(
    'How often an instance refreshes the presence keys of the sessions it holds sockets of; POST /v1/presence counts a session online until twice this after its last refresh',
  ),
  WEBHOOK_URL: optionalString
    .refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), 'expected an http:// or https:// URL')
    .describe('Where account events are POSTed, signed per Standard Webhooks (docs/events.md). Unset: no webhooks (the feed GET /v1/events still serves them)'),
  WEBHOOK_SECRET: optionalString
    .refine((v) => v === undefined || isWebhookSecret(v), 'expected whsec_ followed by base64 of 24 to 64 random bytes')
    .describe('Secret signing the webhooks: whsec_ + base64 of 24 to 64 random bytes, as the Standard Webhooks libraries take it; required with WEBHOOK_URL'),
  WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(10_000).describe('Longest wait for a webhook receiver to answer before the attempt counts as failed'),
  WEBHOOK_CONCURRENCY: int(1, 256).default(16).describe('Webhook calls in flight at once (different users; one user\'s events go one after another)'),
  WEBHOOK_RETRY_HOURS: z.coerce.number().positive().max(8760).default(72).describe(
    'A webhook that keeps failing is retried for this many hours after its event was written, then marked failed (admin events retry resends)',
  ),
  WEBHOOK_RETRY_FIRST_SECONDS: z.coerce.number().positive().max(3600).default(5).describe('Backoff before the first webhook retry; doubles per attempt, with jitter'),
  WEBHOOK_RETRY_MAX_SECONDS: z.coerce.number().positive().max(86_400).default(3600).describe('Longest backoff between two webhook retries'),
  EVENT_RETENTION_DAYS: z.coerce.number().positive().max(3650).default(7).describe(
    'Account events delivered (or failed, or, without WEBHOOK_URL, written) longer ago than this are pruned from the outbox and the feed',
  ),
  ALLOWED_ORIGINS: optionalString.describe(
    'Comma list of web origins (https://app.example.com) whose pages may open sockets, or *; others get HTTP 403 at upgrade. Unset: any origin',
  ),
  CONSOLE: onOff.optional().describe('Web console at GET /console. Unset: on in single-instance mode (no DATABASE_URL), off in server mode'),
  CONSOLE_OUTBOX_MAIL: onOff.optional().describe(
    'The console\'s outbox mail view (shows a signed-in user the codes mailed to them when SMTP_URL is unset). Unset: on only in single-instance mode, not in production, and on a loopback HOST',
  ),
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000).describe('Longest graceful shutdown before forced exit'),
  TOTP_ISSUER: z.string().trim().min(1).max(64).regex(/^[^:]+$/, 'must not contain ":"').default('Osmium').describe(
    'Issuer shown by authenticator apps in the otpauth:// URL of TOTP two-factor setup',
  ),
  TOTP_ENCRYPTION_KEY: optionalString
    .refine((v) => v === undefined || parseEncryptionKeys(v) !== null, 'expected comma-separated base64 keys of 32 bytes each (newest first)')
    .describe(
      'Keys encrypting TOTP secrets at rest: base64 of 32 random bytes, comma-separated, newest first (older keys only decrypt; see "Two-factor authentication"). Unset: generated under DATA_DIR in embedded mode, TOTP unavailable (503) in server mode',
    ),
  REAUTH_WINDOW_MINUTES: z.coerce.number().positive().max(1440).default(10).describe(
    'Changing the email, turning TOTP off and deleting the account need a sign-in on this session within this many minutes',
  ),
  ACCOUNT_DELETE_GRACE_DAYS: z.coerce.number().min(0).max(3650).default(14).describe(
    'Days between a deletion request and the purge of the account (fractions allowed; 0: at the next purge run)',
  ),
  AUDIT_RETENTION_DAYS: z.coerce.number().positive().max(36500).default(365).describe('Security events older than this are pruned from the audit trail'),
  PASSWORD_MIN_SCORE: int(0, 4).default(3).describe(
    'Lowest zxcvbn score (0-4) a new password must reach; 3 = about 10^8 guesses (see "Passwords")',
  ),
  WORKERS: int(1, 256).default(availableParallelism()).describe('Gateway processes sharing the port (embedded mode: always 1)'),
});

export type Config = Omit<z.infer<typeof configSchema>, 'HOST'> & {
  /** HOST, or its default for the mode. */
  HOST: string;
  /** `embedded` when DATABASE_URL is unset. */
  mode: 'servers' | 'embedded';
  dataDir: string;
  /** ENTRYPOINTS parsed; null when unset (core.Initialize answers with the host the client reached). */
  entrypoints: EntrypointSetting[] | null;
  /** Where live state lives: one Redis node (REDIS_URL), a cluster (REDIS_CLUSTER_NODES), or this process (null). */
  redis: RedisTarget | null;
  /** API_KEYS split (empty without it). */
  apiKeys: string[];
  /** BACKEND_URL and BACKEND_ROUTES parsed: where each method package goes ('*': every other package); empty when neither is set. */
  backendRoutes: BackendRoute[];
  /** ALLOWED_ORIGINS parsed (the rule applying it: src/gateway/origin.ts). */
  allowedOrigins: OriginPolicy;
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
  if (parsed.data.API_PORT !== undefined && !parsed.data.API_KEYS) {
    throw new ConfigError(['API_PORT is set but API_KEYS is not: the internal API needs at least one key (16 characters or more)']);
  }
  if ((parsed.data.BACKEND_URL || parsed.data.BACKEND_ROUTES) && !parsed.data.BACKEND_SECRET) {
    throw new ConfigError(['BACKEND_URL or BACKEND_ROUTES is set but BACKEND_SECRET is not: backends authenticate the gateway by it (16 characters or more)']);
  }
  if (parsed.data.WEBHOOK_URL && !parsed.data.WEBHOOK_SECRET) {
    throw new ConfigError(['WEBHOOK_URL is set but WEBHOOK_SECRET is not: webhooks are always signed (whsec_ + base64 of random bytes)']);
  }
  if (parsed.data.REDIS_URL && parsed.data.REDIS_CLUSTER_NODES) {
    throw new ConfigError(['REDIS_URL and REDIS_CLUSTER_NODES are both set: set one (a single Redis node, or the seed nodes of a cluster)']);
  }
  const entrypoints = parsed.data.ENTRYPOINTS;
  const mode = parsed.data.DATABASE_URL ? 'servers' : 'embedded';
  return {
    ...parsed.data,
    HOST: parsed.data.HOST ?? (mode === 'embedded' ? '127.0.0.1' : '0.0.0.0'),
    mode,
    dataDir: resolve(parsed.data.DATA_DIR),
    entrypoints: entrypoints === undefined ? null : parseEntrypoints(entrypoints), // throws ConfigError
    redis: parsed.data.REDIS_CLUSTER_NODES
      ? { clusterNodes: parseClusterNodes(parsed.data.REDIS_CLUSTER_NODES)! }
      : parsed.data.REDIS_URL
        ? { url: parsed.data.REDIS_URL }
        : null,
    allowedOrigins: parseAllowedOrigins(parsed.data.ALLOWED_ORIGINS), // throws ConfigError
    apiKeys: (parsed.data.API_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean),
    backendRoutes: [
      ...(parsed.data.BACKEND_ROUTES ? parseBackendRoutes(parsed.data.BACKEND_ROUTES)! : []),
      ...(parsed.data.BACKEND_URL ? [{ packages: ['*'], url: parsed.data.BACKEND_URL }] : []),
    ],
  };
}

/** True for `whsec_` + base64 of 24 to 64 bytes (the Standard Webhooks secret format). */
export function isWebhookSecret(value: string): boolean {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value);
  if (!match) return false;
  const bytes = Buffer.from(match[1]!, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

/**
 * TOTP_ENCRYPTION_KEY parsed: the raw keys, newest (the one that encrypts)
 * first; null when any entry is not base64 of exactly 32 bytes.
 */
export function parseEncryptionKeys(value: string): Buffer[] | null {
  const keys = value.split(',').map((item) => item.trim()).filter(Boolean);
  if (!keys.length) return null;
  const decoded = keys.map((k) => (/^[A-Za-z0-9+/_-]+={0,2}$/.test(k) ? Buffer.from(k, 'base64') : Buffer.alloc(0)));
  return decoded.every((k) => k.length === 32) ? decoded : null;
}

/** TRUSTED_PROXIES parsed: a hop count, or the list of trusted proxy addresses (proxy-addr syntax); null when malformed. */
export function parseTrustedProxies(value: string): number | string[] | null {
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return hops >= 1 && hops <= 16 ? hops : null;
  }
  const items = value.split(',').map((v) => v.trim()).filter(Boolean);
  if (!items.length) return null;
  try {
    proxyaddr.compile(items); // throws on an address or range it cannot parse
  } catch {
    return null;
  }
  return items;
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

/** Web origins whose pages may open sockets: any, or a set of `scheme://host[:port]`. */
export type OriginPolicy = { any: true } | { any: false; allowed: ReadonlySet<string> };

/** Parses ALLOWED_ORIGINS: unset or `*` allows every origin, else a comma list of origins. */
export function parseAllowedOrigins(value: string | undefined): OriginPolicy {
  if (value === undefined) return { any: true };
  const problem = (text: string) => new ConfigError([`ALLOWED_ORIGINS=${JSON.stringify(value)}: ${text}`]);
  const allowed = new Set<string>();
  for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    if (entry === '*') return { any: true };
    let url: URL | undefined;
    try {
      url = new URL(entry);
    } catch {
      /* reported below */
    }
    // Only a bare origin: a path, query or credentials would never match what a browser sends.
    const bare = url && url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
    if (!url || !bare || !/^https?:$/.test(url.protocol)) throw problem(`"${entry}" is not an origin (scheme://host[:port], no path)`);
    allowed.add(url.origin);
  }
  if (!allowed.size) throw problem('expected * or a comma list of origins such as https://chat.example.com');
  return { any: false, allowed };
}

/** One Redis node, or the seed nodes of a Redis Cluster. */
export type RedisTarget = { url: string } | { clusterNodes: Array<{ host: string; port: number }> };

/** Parses REDIS_CLUSTER_NODES (`host:port,host:port`); null when malformed. */
function parseClusterNodes(value: string): Array<{ host: string; port: number }> | null {
  const nodes = value.split(',').map((item) => {
    const trimmed = item.trim();
    const at = trimmed.lastIndexOf(':');
    return { host: trimmed.slice(0, at), port: Number(trimmed.slice(at + 1)) };
  });
  return nodes.every((n) => n.host && Number.isInteger(n.port) && n.port > 0 && n.port < 65536) ? nodes : null;
}

/** One backend and the method packages (`messages`, `chats`...; `*` for every other) it serves. */
export interface BackendRoute {
  packages: string[];
  url: string;
}

/** Parses BACKEND_ROUTES (`messages,chats=http://a;communities=http://b`); null when malformed or a package is named twice. */
export function parseBackendRoutes(value: string): BackendRoute[] | null {
  const routes: BackendRoute[] = [];
  const seen = new Set<string>();
  for (const item of value.split(';').map((i) => i.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq <= 0) return null;
    const packages = item.slice(0, eq).split(',').map((p) => p.trim()).filter(Boolean);
    const url = item.slice(eq + 1).trim();
    if (!packages.length || !/^https?:\/\/[^/]+/.test(url)) return null;
    for (const name of packages) {
      if (!/^[a-z]+$/.test(name) || seen.has(name)) return null;
      seen.add(name);
    }
    routes.push({ packages, url });
  }
  return routes.length ? routes : null;
}
