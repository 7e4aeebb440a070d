/**
 * The Prometheus endpoint on its own listener (METRICS_HOST:METRICS_PORT,
 * loopback by default), never on the public gateway port: metrics tell a
 * stranger how busy the gateway is, which limits refuse and how often, and
 * what fails. Under node:cluster every worker listens on the same port and
 * whichever answers returns the sum over all workers (metrics.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';

/** Renders the metrics text (Prometheus exposition format). */
export type MetricsRenderer = () => Promise<{ contentType: string; body: string }>;

export class MetricsListener {
  private readonly http: Server;

  constructor(render: MetricsRenderer, log: Logger) {
    this.http = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('only GET /metrics here\n');
        return;
      }
      render().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        (err: unknown) => {
          log.error({ err }, 'metrics rendering failed');
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('internal error\n');
        },
      );
    });
    // Short timeouts: a scraper sends one small request and reads one answer.
    this.http.headersTimeout = 5_000;
    this.http.requestTimeout = 10_000;
  }

  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => resolve());
    });
    return (this.http.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
