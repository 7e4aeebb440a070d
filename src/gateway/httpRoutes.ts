/**
 * The plain HTTP routes of the gateway port: liveness (`/healthz`),
 * readiness (`/readyz`, throttled) and the web console (`/console`, consoleRoutes.ts);
 * anything else that is not a WebSocket upgrade gets 426. Metrics are served
 * on their own listener (metricsListener.ts), never here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { ConsoleRoutes } from './consoleRoutes.js';

export interface Readiness {
  /** Resolves true when every dependency answers and migrations are applied. */
  check(): Promise<boolean>;
}

/** /readyz answers from a check at most this old: a flood of probes costs Postgres and Redis one check a second. */
const READINESS_MAX_AGE_MS = 1_000;

/**
 * The readiness check, run at most once per READINESS_MAX_AGE_MS whatever
 * the number of probes; probes that arrive while it runs share it. /readyz is
 * on the public port (load balancers probe it there), so anyone may call it.
 */
export function throttledReadiness(readiness: Readiness, now: () => number = Date.now): Readiness {
  let last: { at: number; ready: boolean } | null = null;
  let running: Promise<boolean> | null = null;
  return {
    check() {
      if (last && now() - last.at < READINESS_MAX_AGE_MS) return Promise.resolve(last.ready);
      running ??= readiness
        .check()
        .catch(() => false)
        .then((ready) => {
          last = { at: now(), ready };
          running = null;
          return ready;
        });
      return running;
    },
  };
}


export interface HttpRoutesOptions {
  readiness: Readiness;
  /** True from the moment a shutdown begins: /readyz answers 503. */
  draining: () => boolean;
  /** The web console under /console (CONSOLE); null when off. */
  consoleRoutes?: ConsoleRoutes | null;
  log: Logger;
}

export function httpRoutes(options: HttpRoutesOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { draining, consoleRoutes, log } = options;
  const readiness = throttledReadiness(options.readiness);
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/healthz') return send(res, 200, 'ok\n');
      if (path === '/readyz') {
        const ready = !draining() && (await readiness.check());
        return send(res, ready ? 200 : 503, ready ? 'ready\n' : 'not ready\n');
      }
      if (consoleRoutes && (await consoleRoutes.handle(req, res, path ?? '/'))) return;
      send(res, 426, 'this is an Osmium WebSocket gateway: connect with a WebSocket client\n');
    } catch (err) {
      log.error({ err, path }, 'http handler failed');
      send(res, 500, 'internal error\n');
    }
  };
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}
