/**
 * Structured logging with pino. Secrets (passwords, codes, tokens) are redacted
 * by path so no call site can leak them by accident.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** Paths pino replaces with "[redacted]" wherever they appear in a log object. */
const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'new_password',
  '*.new_password',
  '*.*.new_password',
  '*.*.*.new_password',
  'code',
  '*.code',
  '*.*.code',
  'token',
  '*.token',
  '*.*.token',
  'secret',
  '*.secret',
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
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(base);
}
