/**
 * The internal API: an HTTP listener of its own (API_HOST:API_PORT, loopback
 * by default, never the public port) for the team's other services: pushing
 * updates to sockets, closing them, presence (push.ts), introspecting tokens
 * and reading account events (introspection.ts, events.ts). Every request
 * carries `Authorization: Bearer <one of API_KEYS>`, compared in constant
 * time; a wrong or missing key is 401, and a source that keeps failing gets
 * 429 for a while, so keys cannot be guessed at the speed of the listener.
 *
 * Routes register here by method and path; a route reads a bounded body
 * (JSON or protobuf, by content type) and answers one JSON or protobuf body.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '../logger.js';

/** Largest request body read (a batch push of 1 000 updates fits). */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** Failed authentications one source may make per minute before it is refused for the rest of it. */
const AUTH_FAILURES_PER_MINUTE = 20;

/** What a route is given. */
export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The body, read whole (at most MAX_BODY_BYTES). */
  body: Buffer;
  /** True when the body is protobuf (`content-type: application/x-protobuf`), else JSON. */
  protobuf: boolean;
}

/** What a route answers: a status, and a JSON value or protobuf bytes. */
export type ApiResponse = { status: number; json: unknown } | { status: number; protobuf: Uint8Array };

export type ApiRoute = (req: ApiRequest) => Promise<ApiResponse>;

/** A refusal a route throws: answered with its status and `{ "error": message }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Parses a JSON body; 400 when it is not JSON. */
export function jsonBody(req: ApiRequest): unknown {
  try {
    return JSON.parse(req.body.toString('utf8') || 'null');
  } catch {
    throw new ApiError(400, 'the body is not JSON');
  }
}

export class ApiListener {
  private readonly http: Server;
  private readonly routes = new Map<string, ApiRoute>();
  private readonly keys: Buffer[];
  private readonly failures = new RateLimiterMemory({ keyPrefix: 'api_auth', points: AUTH_FAILURES_PER_MINUTE, duration: 60 });

  constructor(
    /** API_KEYS. */
    keys: readonly string[],
    private readonly log: Logger,
  ) {
    // Digests of equal length, so the comparison takes the same time whatever the key's length.
    this.keys = keys.map((k) => createHash('sha256').update(k).digest());
    this.http = createServer((req, res) => void this.handle(req, res));
    this.http.headersTimeout = 5_000;
    this.http.requestTimeout = 30_000;
  }

  /** Adds a route: `method` (`GET`, `POST`) on an exact `path`. */
  route(method: string, path: string, route: ApiRoute): void {
    this.routes.set(`${method} ${path}`, route);
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const source = req.socket.remoteAddress ?? '';
    try {
      const url = new URL(req.url ?? '/', 'http://api');
      if (!(await this.authenticated(req, source))) return send(res, { status: 401, json: { error: 'missing or wrong API key (Authorization: Bearer <key>)' } });
      const route = this.routes.get(`${req.method} ${url.pathname}`);
      if (!route) return send(res, { status: 404, json: { error: `no route ${req.method} ${url.pathname}` } });
      const body = await readBody(req);
      const protobuf = (req.headers['content-type'] ?? '').startsWith('application/x-protobuf');
      send(res, await route({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, protobuf }));
    } catch (err) {
      if (err instanceof ApiError) return send(res, { status: err.status, json: { error: err.message } });
      if (err instanceof RateLimiterRes) return send(res, { status: 429, json: { error: `too many failed authentications; retry after ${Math.ceil(err.msBeforeNext / 1000)} seconds` } });
      this.log.error({ err, path: req.url }, 'internal API request failed');
      send(res, { status: 500, json: { error: 'internal error' } });
    }
  }

  /** True for a right key; a wrong one spends one of the source's failures (429 once they are spent). */
  private async authenticated(req: IncomingMessage, source: string): Promise<boolean> {
    const blocked = await this.failures.get(source);
    if (blocked && blocked.consumedPoints >= AUTH_FAILURES_PER_MINUTE) throw blocked;
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (given !== undefined) {
      const digest = createHash('sha256').update(given).digest();
      let ok = false;
      for (const key of this.keys) ok = timingSafeEqual(digest, key) || ok; // every key compared: the time says nothing
      if (ok) return true;
    }
    await this.failures.consume(source).catch((refusal: unknown) => {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
    });
    this.log.info({ source }, 'internal API request refused: missing or wrong API key');
    return false;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, response: ApiResponse): void {
  if ('protobuf' in response) {
    res.writeHead(response.status, { 'content-type': 'application/x-protobuf', 'content-length': response.protobuf.length }).end(response.protobuf);
    return;
  }
  const body = JSON.stringify(response.json);
  res.writeHead(response.status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(body);
}
