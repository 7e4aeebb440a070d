/**
 * A start that cannot succeed says what failed and what to do, in one line
 * (`cannot start: port 8080 is in use (set PORT to another port)`), instead
 * of a stack trace: the person reading it is setting the gateway up.
 */
import type { Config } from './config.js';

/** A failure whose message is already that one line (without the `cannot start:` prefix). */
export class StartError extends Error {
  override name = 'StartError';
}

interface SystemError extends Error {
  code?: string;
  syscall?: string;
  address?: string;
  port?: number;
  hostname?: string;
  /** Set by Postgres on errors it answered with. */
  severity?: string;
}

/**
 * The one line for a failed start, or undefined when the error is not one a
 * setup mistake explains (a bug: the caller logs it with its stack).
 */
export function explainStartFailure(
  err: unknown,
  config: Pick<Config, 'PORT' | 'HOST' | 'DATABASE_URL' | 'DATABASE_DIRECT_URL' | 'METRICS_PORT' | 'METRICS_HOST'>,
): string | undefined {
  if (err instanceof StartError) return err.message;
  if (!(err instanceof Error)) return undefined;
  const e = err as SystemError;
  // A cluster worker's listen fails in the primary, which reports the failed `bind`.
  if (e.syscall === 'listen' || e.syscall === 'bind') {
    // Two listeners: the gateway's (PORT, HOST) and the metrics one (METRICS_PORT, METRICS_HOST).
    const metrics = e.port !== undefined && e.port === config.METRICS_PORT && e.port !== config.PORT;
    const [portSetting, hostSetting, host] = metrics ? ['METRICS_PORT', 'METRICS_HOST', config.METRICS_HOST] : ['PORT', 'HOST', config.HOST];
    const where = `port ${e.port ?? config.PORT}${metrics ? ' (metrics)' : ''}`;
    if (e.code === 'EADDRINUSE') return `${where} is in use (set ${portSetting} to another port, or stop what listens there)`;
    if (e.code === 'EACCES') return `no permission to listen on ${where} (ports below 1024 need privileges: set ${portSetting} to 1024 or above)`;
    if (e.code === 'EADDRNOTAVAIL') return `${hostSetting} ${host} is not an address of this machine (set ${hostSetting}, e.g. ${metrics ? '127.0.0.1' : '0.0.0.0'})`;
  }
  // The start reaches DATABASE_DIRECT_URL first (migrations, LISTEN), when set, then DATABASE_URL's pool.
  for (const [setting, url] of [['DATABASE_DIRECT_URL', config.DATABASE_DIRECT_URL], ['DATABASE_URL', config.DATABASE_URL]] as const) {
    const postgres = url ? postgresFailure(e, url, setting) : undefined;
    if (postgres) return postgres;
  }
  return undefined;
}

/** Failures reaching the Postgres of `setting` (${setting} or DATABASE_DIRECT_URL, server mode). */
function postgresFailure(e: SystemError, databaseUrl: string, setting: string): string | undefined {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return `${setting} is not a URL (expected postgres://user:password@host:5432/database)`;
  }
  const host = url.hostname || 'localhost';
  const port = Number(url.port || 5432);
  const at = `Postgres at ${setting} (${host}:${port})`;
  const database = decodeURIComponent(url.pathname.slice(1)) || url.username;
  switch (e.code) {
    case 'ECONNREFUSED':
      if (e.port === undefined || e.port === port) return `${at} refused the connection (is Postgres running there? check ${setting})`;
      return undefined;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      if (e.hostname === undefined || e.hostname === host) return `the host of ${setting} (${host}) was not found (check ${setting})`;
      return undefined;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${at} cannot be reached (${e.code}; check ${setting} and the network)`;
    case '28P01':
    case '28000':
      return `${at} refused the credentials: ${e.message} (check the user and password in ${setting})`;
    case '3D000':
      return `${at} has no database "${database}" (create it, or fix the database name in ${setting})`;
  }
  if (/timeout/i.test(e.message) && /connect/i.test(e.message)) return `${at} did not answer in time (check ${setting} and the network)`;
  if (e.severity && e.code?.startsWith('08')) return `${at}: ${e.message} (check ${setting})`;
  return undefined;
}
