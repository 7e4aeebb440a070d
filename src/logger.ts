/**
 * Structured logging with pino. Secrets (passwords, codes, tokens) are redacted
 * by path so no call site can leak them by accident.
 */
import { createRequire } from 'node:module';
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/**
 * Paths pino replaces with "[redacted]". Keys that only ever hold a secret
 * (password, token, secret, totp) are redacted wherever they appear; `code`
 * is not such a key (an RPC error code, a Postgres SQLSTATE are `code` too, and
 * a refusal's log line needs them), so only the request fields that carry a
 * secret code are: the email code of auth.verifyEmail (`request.code`, which is
 * also where invite codes and TOTP setup codes sit) and of a reset
 * confirmation (`request.confirm.code`).
 */
const SECRET_KEYS = ['password', 'new_password', 'current_password', 'token', 'secret', 'totp'];
const REDACT_PATHS = [
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]),
  'request.code',
  'request.confirm.code',
  'request.backup_code',
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface LoggerOptions {
  level: string;
  pretty: boolean;
  /** Where lines go; defaults to stdout. Tests pass a stream to capture lines. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (options.destination) return pino(base, options.destination as pino.DestinationStream);
  if (options.pretty) {
    // Development on a terminal only. A stream in this thread, not a transport (a worker thread that loads
    // pino-pretty by name), so that pino can be bundled; required here, so production never loads it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(base);
}
