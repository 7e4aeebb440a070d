/**
 * A lean client for the CPU figures (1a, 1b): raw `ws` sockets and the
 * generated codec, frames encoded once, answers matched by req_id. Lighter
 * than the load-test engine, because the load generator shares the cores with
 * the servers it measures, and able to send the real client sequence
 * (core.Initialize, then auth.authorize).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { osmium } from '../../src/gen/osmium.js';
import { idFromWire } from '../../src/protocol/codec.js';

const { ClientMessage, ServerMessage } = osmium.client.core;

/** The Initialize a real client sends first; the minting sockets send the same, so the device never changes. */
export const BENCH_DEVICE = { client_id: 1, device_type: 'Linux', device_version: '6.1', app_version: 'osmium-bench 1.0' };

export interface Outcome {
  ok: number;
  errors: number;
  /** Failures by RPC error code, or `closed` / `timeout` / `connect`. */
  errorsByCode: Record<string, number>;
  /** Client-side TCP payload bytes (upgrade, frames, close) sent and received. */
  bytesOut: number;
  bytesIn: number;
  elapsedS: number;
}

function newOutcome(): Outcome {
  return { ok: 0, errors: 0, errorsByCode: {}, bytesOut: 0, bytesIn: 0, elapsedS: 0 };
}

function fail(outcome: Outcome, code: string): void {
  outcome.errors++;
  outcome.errorsByCode[code] = (outcome.errorsByCode[code] ?? 0) + 1;
}

type Result = osmium.client.core.RPCResult;

/** One socket with requests matched to answers by req_id. */
export class BenchSocket {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(r: Result): void; reject(e: Error): void }>();
  /** The TCP socket under the WebSocket, for its byte counts. */
  tcp: Socket | null = null;
  /** Called with each pushed Update (figure 10). */
  onUpdate: ((update: osmium.client.updates.Update) => void) | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const message = ServerMessage.decode(data);
      if (message.update) this.onUpdate?.(message.update as osmium.client.updates.Update);
      const result = message.result;
      if (!result) return;
      const reqId = result.req_id ?? 0;
      const waiter = this.waiting.get(reqId);
      if (waiter) {
        this.waiting.delete(reqId);
        waiter.resolve(result as Result);
      }
    });
    ws.on('close', () => {
      for (const w of this.waiting.values()) w.reject(new Error('closed'));
      this.waiting.clear();
    });
    ws.on('error', () => {});
  }

  static open(url: string, localAddress?: string, timeoutMs = 30_000): Promise<BenchSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, localAddress });
      const socket = new BenchSocket(ws);
      ws.once('upgrade', (res: IncomingMessage) => (socket.tcp = res.socket as Socket));
      ws.once('open', () => resolve(socket));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
  }

  /** Sends one request and resolves with its result (errors included). */
  request(body: Omit<osmium.client.core.ClientMessage.$Properties, 'id'>): Promise<Result> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.ws.send(ClientMessage.encode({ ...body, id }).finish());
    });
  }

  terminate(): void {
    this.ws.terminate();
  }
}

function errorCode(result: Result): string | null {
  return result.error ? String(result.error.error_code) : null;
}

/** Opens `count` sockets and sends core.Initialize on each; rejects if any fails. */
export async function openInitialized(url: string, count: number, parallel = 32): Promise<BenchSocket[]> {
  const sockets: BenchSocket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        next++;
        const socket = await BenchSocket.open(url);
        const result = await socket.request({ core_initialize: BENCH_DEVICE });
        if (result.error) throw new Error(`core.Initialize failed: ${result.error.error_code} ${result.error.error_message}`);
        sockets.push(socket);
      }
    }),
  );
  return sockets;
}

/**
 * Figure 1a's load: `auth.authorize` with each token once, over already open
 * and initialized sockets, `inFlight` requests at a time per socket.
 */
export async function authorizeOverOpenSockets(sockets: readonly BenchSocket[], tokens: readonly string[], inFlight: number): Promise<Outcome> {
  const outcome = newOutcome();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    sockets.flatMap((socket) =>
      Array.from({ length: inFlight }, async () => {
        while (next < tokens.length) {
          const token = tokens[next++]!;
          try {
            const result = await socket.request({ auth_authorize: { token } });
            const code = errorCode(result);
            if (code === null && result.authorization) outcome.ok++;
            else fail(outcome, code ?? 'no-authorization');
          } catch {
            fail(outcome, 'closed');
            return;
          }
        }
      }),
    ),
  );
  outcome.elapsedS = (performance.now() - started) / 1000;
  return outcome;
}

/**
 * Figure 1b's load: `concurrency` clients each reconnecting in a loop: open a
 * socket, core.Initialize, auth.authorize with the next token, close. Every
 * token is used once.
 */
export async function reconnectStorm(url: string, tokens: readonly string[], concurrency: number): Promise<Outcome> {
  const outcome = newOutcome();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tokens.length) {
        const token = tokens[next++]!;
        let socket: BenchSocket;
        try {
          socket = await BenchSocket.open(url);
        } catch {
          fail(outcome, 'connect');
          continue;
        }
        try {
          const initialized = await socket.request({ core_initialize: BENCH_DEVICE });
          const authorized = await socket.request({ auth_authorize: { token } });
          const code = errorCode(initialized) ?? errorCode(authorized);
          if (code === null && authorized.authorization) outcome.ok++;
          else fail(outcome, code ?? 'no-authorization');
        } catch {
          fail(outcome, 'closed');
        }
        const tcp = socket.tcp;
        socket.terminate();
        if (tcp) {
          outcome.bytesOut += tcp.bytesWritten;
          outcome.bytesIn += tcp.bytesRead;
        }
      }
    }),
  );
  outcome.elapsedS = (performance.now() - started) / 1000;
  return outcome;
}

/** auth.authorize on each socket with its own token (sockets[i] with tokens[i]); resolves with each socket's user id. */
export async function authorizeEach(sockets: readonly BenchSocket[], tokens: readonly string[], parallel = 64): Promise<string[]> {
  const users: string[] = new Array(sockets.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, sockets.length) }, async () => {
      while (next < sockets.length) {
        const i = next++;
        const result = await sockets[i]!.request({ auth_authorize: { token: tokens[i]! } });
        if (!result.authorization) throw new Error(`auth.authorize failed: ${result.error?.error_code} ${result.error?.error_message}`);
        users[i] = idFromWire(result.authorization.user?.id as never);
      }
    }),
  );
  return users;
}

/** A request body (ClientMessage without its id) and whether an answer is the expected success. */
export interface RequestKind {
  body: Omit<osmium.client.core.ClientMessage.$Properties, 'id'>;
  ok(result: Result): boolean;
}

/**
 * `count` requests over open sockets, `inFlight` at a time per socket
 * (closed loop: the load of the CPU rounds); each answer's latency in ms is
 * pushed to `latencies` when given.
 */
export async function requestsOverOpenSockets(sockets: readonly BenchSocket[], count: number, inFlight: number, kind: RequestKind, latencies?: number[]): Promise<Outcome> {
  const outcome = newOutcome();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    sockets.flatMap((socket) =>
      Array.from({ length: inFlight }, async () => {
        while (next < count) {
          next++;
          const sent = performance.now();
          try {
            const result = await socket.request(kind.body);
            latencies?.push(performance.now() - sent);
            if (kind.ok(result)) outcome.ok++;
            else fail(outcome, errorCode(result) ?? 'unexpected-answer');
          } catch {
            fail(outcome, 'closed');
            return;
          }
        }
      }),
    ),
  );
  outcome.elapsedS = (performance.now() - started) / 1000;
  return outcome;
}

/**
 * Open loop: `count` requests to each target at `perSecond` each, sent on
 * schedule whether or not earlier answers came (a latency reading not set by
 * how many are in flight), the targets' requests interleaved one by one so
 * that every target sees the same moments of a shared machine; each target's
 * requests go over its sockets in turn. Resolves with every latency in ms,
 * per target, once all answered.
 */
export async function pacedRequests(
  targets: ReadonlyArray<readonly BenchSocket[]>,
  count: number,
  perSecond: number,
  kind: RequestKind,
): Promise<Array<{ outcome: Outcome; latencies: number[] }>> {
  const out = targets.map(() => ({ outcome: newOutcome(), latencies: [] as number[] }));
  const pending: Promise<void>[] = [];
  const started = performance.now();
  const total = count * targets.length;
  const rate = perSecond * targets.length;
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const t = sent % targets.length;
      const sockets = targets[t]!;
      const socket = sockets[Math.floor(sent / targets.length) % sockets.length]!;
      const { outcome, latencies } = out[t]!;
      const at = performance.now();
      pending.push(
        socket.request(kind.body).then(
          (result) => {
            latencies.push(performance.now() - at);
            if (kind.ok(result)) outcome.ok++;
            else fail(outcome, errorCode(result) ?? 'unexpected-answer');
          },
          () => fail(outcome, 'closed'),
        ),
      );
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(pending);
  for (const o of out) o.outcome.elapsedS = (performance.now() - started) / 1000;
  return out;
}

/** Client-side byte counts of open sockets so far. */
export function socketBytes(sockets: readonly BenchSocket[]): { out: number; in: number } {
  let out = 0;
  let inBytes = 0;
  for (const s of sockets) {
    out += s.tcp?.bytesWritten ?? 0;
    inBytes += s.tcp?.bytesRead ?? 0;
  }
  return { out, in: inBytes };
}

export function closeAll(sockets: readonly BenchSocket[]): void {
  for (const s of sockets) s.terminate();
}
