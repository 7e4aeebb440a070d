/**
 * The plain HTTP routes of the gateway port: liveness (`/healthz`),
 * readiness (`/readyz`) and the web console (`/console`, consoleRoutes.ts);
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


export interface HttpRoutesOptions {
  readiness: Readiness;
  /** True from the moment a shutdown begins: /readyz answers 503. */
  draining: () => boolean;
  /** The web console under /console (CONSOLE); null when off. */
  consoleRoutes?: ConsoleRoutes | null;
  log: Logger;
}

export function httpRoutes(options: HttpRoutesOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { readiness, draining, consoleRoutes, log } = options;
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
