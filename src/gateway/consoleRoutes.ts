/**
 * The web console's HTTP routes (CONSOLE): the static page and its bundles
 * (built by `npm run build:browser` into dist/browser/), and, in the embedded
 * single-instance mode without SMTP only, the newest outbox mail of the
 * signed-in user so a developer can finish the email flows in the browser.
 * The console itself talks to the gateway over the same WebSocket protocol as
 * any client; nothing here answers protocol requests.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { mailOutboxDir } from '../services/mail.js';

/** Where scripts/buildBrowser.mjs writes the console (the same path is written there). */
export const BROWSER_BUNDLE_DIR = fileURLToPath(new URL('../../dist/browser/', import.meta.url));

/** Outbox files read, newest first, when looking for a user's mail. */
const MAIL_SCAN_LIMIT = 200;

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
};

/** The page loads only its own files and talks only to its own gateway. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** CONSOLE, or by default: on in the embedded single-instance mode, off in server mode. */
export function consoleEnabled(config: Config): boolean {
  return config.CONSOLE ? config.CONSOLE === 'on' : config.mode === 'embedded';
}

/** Addresses only this machine can reach. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The outbox mail view shows whoever signed in the codes mailed to their
 * address: anyone who can reach it can sign up with any address and read its
 * verification code. So it exists only for local development (embedded
 * mode, no SMTP_URL, not NODE_ENV=production, listening on loopback),
 * unless CONSOLE_OUTBOX_MAIL says otherwise explicitly.
 */
export function consoleMailEnabled(config: Config): boolean {
  if (!consoleEnabled(config) || config.SMTP_URL) return false;
  if (config.CONSOLE_OUTBOX_MAIL) return config.CONSOLE_OUTBOX_MAIL === 'on';
  return config.mode === 'embedded' && config.NODE_ENV !== 'production' && LOOPBACK_HOSTS.has(config.HOST);
}

/** What the outbox mail view needs to know about the caller (built by app.ts). */
export interface ConsoleAccounts {
  /** The email address of the token's user when the token's session is live; else null. */
  emailOfToken(token: string): Promise<string | null>;
}

export interface ConsoleRoutes {
  /** Answers `/console` and `/console/...`; false for every other path. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>;
}

/** The console's routes, or null when CONSOLE is off. */
export function createConsoleRoutes(config: Config, accounts: ConsoleAccounts, log: Logger, dir = BROWSER_BUNDLE_DIR): ConsoleRoutes | null {
  if (!consoleEnabled(config)) return null;
  const mail = consoleMailEnabled(config);
  log.info({ path: '/console', outboxMail: mail }, 'web console on (CONSOLE)');
  void readFile(join(dir, 'index.html')).catch(() =>
    log.warn({ dir }, 'web console is on but not built: run `npm run build:browser` (npm start and npm test build it)'),
  );

  async function newestMail(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const email = token ? await accounts.emailOfToken(token) : null;
    if (!email) return json(res, 401, { error: 'sign in first (Authorization: Bearer <token>) with an account that has an email' });
    const outbox = mailOutboxDir(config);
    const files = (await readdir(outbox).catch(() => [] as string[]))
      .filter((f) => f.endsWith('.eml'))
      .sort() // names start with the ISO time of sending
      .reverse()
      .slice(0, MAIL_SCAN_LIMIT);
    // Loaded on first use: only development gateways ever read the outbox.
    const { default: PostalMime } = await import('postal-mime');
    for (const file of files) {
      const parsed = await PostalMime.parse(await readFile(join(outbox, file)));
      const to = (parsed.to ?? []).map((a) => a.address?.toLowerCase());
      if (!to.includes(email.toLowerCase())) continue;
      return json(res, 200, { to: email, subject: parsed.subject ?? '', date: parsed.date ?? null, text: parsed.text ?? '', file });
    }
    return json(res, 404, { error: `no mail to ${email} in the outbox yet` });
  }

  return {
    async handle(req, res, path) {
      if (path !== '/console' && !path.startsWith('/console/')) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return true;
      }
      if (path === '/console/settings.json') {
        json(res, 200, { mail });
        return true;
      }
      if (path === '/console/mail') {
        if (mail) await newestMail(req, res);
        else json(res, 404, { error: 'the outbox mail view is off (on only in single-instance development on loopback without SMTP_URL, or with CONSOLE_OUTBOX_MAIL=on)' });
        return true;
      }
      const name = path === '/console' || path === '/console/' ? 'index.html' : path.slice('/console/'.length);
      const type = CONTENT_TYPES[name.split('.').pop() ?? ''];
      // Only plain file names of the bundle folder: no traversal, no hidden files.
      if (!type || !/^[a-z0-9][a-z0-9.-]*$/.test(name)) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
        return true;
      }
      let body: Buffer;
      try {
        body = await readFile(join(dir, name));
      } catch {
        const built = await readFile(join(dir, 'index.html')).then(() => true, () => false);
        res.writeHead(built ? 404 : 503, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(built ? 'not found\n' : 'the web console is not built: run `npm run build:browser`\n');
        return true;
      }
      res.writeHead(200, { 'content-type': type, 'content-length': body.length, ...SECURITY_HEADERS });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
