/**
 * A small typed Osmium client: connect, call a method, receive updates. Used by
 * the tests, the load test and the benchmark; also a reference for client
 * authors. Results are matched to calls by req_id, so calls may overlap.
 */
import { WebSocket } from 'ws';
import { osmium } from '../gen/osmium.js';
import type { MethodName } from '../protocol/codec.js';

type ClientMessageInit = osmium.client.core.ClientMessage.$Properties;
export type RpcResult = osmium.client.core.RPCResult.$Properties;
export type Update = osmium.client.updates.Update.$Properties;
export type RequestInit<K extends MethodName> = NonNullable<ClientMessageInit[K]>;

export class RpcCallError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly traceId?: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'RpcCallError';
  }
}

export interface ConnectOptions {
  headers?: Record<string, string>;
  /** Local address to bind (load tests spread sockets over 127.0.0.x). */
  localAddress?: string;
  timeoutMs?: number;
}

export interface CloseEvent {
  code: number;
  reason: string;
}

export class OsmiumClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: RpcResult) => void; reject: (e: Error) => void }>();
  private readonly updateQueue: Update[] = [];
  private updateWaiters: Array<(u: Update) => void> = [];
  /** Server message ids in arrival order (the per-connection sequence). */
  readonly serverIds: number[] = [];
  readonly closed: Promise<CloseEvent>;

  private constructor(readonly socket: WebSocket) {
    socket.binaryType = 'nodebuffer';
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      const message = osmium.client.core.ServerMessage.decode(data);
      this.serverIds.push(message.id ?? 0);
      if (message.result) {
        const reqId = message.result.req_id ?? 0;
        const waiter = this.pending.get(reqId);
        if (waiter) {
          this.pending.delete(reqId);
          waiter.resolve(message.result);
        }
      } else if (message.update) {
        const waiter = this.updateWaiters.shift();
        if (waiter) waiter(message.update);
        else this.updateQueue.push(message.update);
      }
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        for (const { reject } of this.pending.values()) reject(new Error(`socket closed (${code})`));
        this.pending.clear();
        resolve({ code, reason: reason.toString() });
      });
    });
    socket.on('error', () => {});
  }

  static connect(url: string, options: ConnectOptions = {}): Promise<OsmiumClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, {
        headers: options.headers,
        localAddress: options.localAddress,
        handshakeTimeout: options.timeoutMs ?? 10_000,
        perMessageDeflate: false,
      });
      socket.once('open', () => resolve(new OsmiumClient(socket)));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
  }

  /** Sends a request and resolves with its RPCResult (errors included). */
  request<K extends MethodName>(method: K, payload: RequestInit<K>, options: { id?: number } = {}): Promise<RpcResult> {
    const id = options.id ?? this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.sendMessage({ id, [method]: payload });
    });
  }

  /** Like request, but rejects with RpcCallError when the result is an error. */
  async call<K extends MethodName>(method: K, payload: RequestInit<K>): Promise<RpcResult> {
    const result = await this.request(method, payload);
    if (result.error) throw new RpcCallError(result.error.error_code ?? 0, result.error.error_message ?? '', result.trace_id ?? undefined);
    return result;
  }

  /** A heartbeat: a frame with only `id` set. */
  heartbeat(id = 1): void {
    this.sendMessage({ id });
  }

  sendMessage(message: ClientMessageInit): void {
    this.socket.send(osmium.client.core.ClientMessage.encode(message).finish());
  }

  sendRaw(data: Uint8Array | string): void {
    this.socket.send(data, { binary: typeof data !== 'string' });
  }

  /** Resolves with the next update, or rejects after `timeoutMs`. */
  nextUpdate(timeoutMs = 5_000): Promise<Update> {
    const queued = this.updateQueue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (u: Update) => {
        clearTimeout(timer);
        resolve(u);
      };
      const timer = setTimeout(() => {
        this.updateWaiters = this.updateWaiters.filter((w) => w !== waiter);
        reject(new Error(`no update within ${timeoutMs} ms`));
      }, timeoutMs);
      this.updateWaiters.push(waiter);
    });
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  close(): Promise<CloseEvent> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close();
    return this.closed;
  }
}
