/**
 * A small typed Osmium client: connect, call a method, receive updates. One
 * socket, no reconnection (see reconnectingClient.ts for that). Used by the
 * tests, the load test and the reconnecting client; also a reference for
 * client authors. Runs in Node (with `ws`) and in browsers (platform
 * WebSocket) from the same source. Results are matched to calls by req_id, so
 * calls may overlap.
 */
import { osmium } from '../gen/osmium.js';
import type { MethodName } from '../protocol/codec.js';
import { binaryData, CONNECTING, OPEN, openSocket, type ClientSocket, type ConnectOptions as SocketOptions } from './transport.js';

export type ClientMessageInit = osmium.client.core.ClientMessage.$Properties;
export type RpcResult = osmium.client.core.RPCResult.$Properties;
export type Update = osmium.client.updates.Update.$Properties;
export type RequestInit<K extends MethodName> = NonNullable<ClientMessageInit[K]>;
export type { ClientSocket } from './transport.js';

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

/** A request whose socket closed before its result arrived. */
export class ConnectionClosedError extends Error {
  constructor(readonly code: number) {
    super(`socket closed (${code})`);
    this.name = 'ConnectionClosedError';
  }
}

/** One WebSocket frame, as the Log panel of the console shows it. */
export type Frame =
  | { direction: 'out'; bytes: Uint8Array; message: ClientMessageInit; at: number }
  | { direction: 'in'; bytes: Uint8Array; message: osmium.client.core.ServerMessage; at: number };

export interface ConnectOptions extends SocketOptions {
  /** Called with every frame sent and received (after decoding), e.g. for a protocol log. */
  onFrame?: (frame: Frame) => void;
  /** Called with every update; when set, updates are not queued for `nextUpdate`. */
  onUpdate?: (update: Update) => void;
}

export interface CloseEvent {
  code: number;
  reason: string;
}

/** A millisecond clock with sub-millisecond resolution in both Node and browsers. */
const now = () => performance.now();

export class OsmiumClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: RpcResult) => void; reject: (e: Error) => void }>();
  private readonly updateQueue: Update[] = [];
  private updateWaiters: Array<(u: Update) => void> = [];
  /** Server message ids in arrival order (the per-connection sequence). */
  readonly serverIds: number[] = [];
  readonly closed: Promise<CloseEvent>;

  private constructor(
    readonly socket: ClientSocket,
    private readonly options: ConnectOptions,
  ) {
    socket.addEventListener('message', (event) => {
      const bytes = binaryData(event.data);
      if (!bytes) return;
      const message = osmium.client.core.ServerMessage.decode(bytes);
      options.onFrame?.({ direction: 'in', bytes, message, at: now() });
      this.serverIds.push(message.id ?? 0);
      if (message.result) {
        const reqId = message.result.req_id ?? 0;
        const waiter = this.pending.get(reqId);
        if (waiter) {
          this.pending.delete(reqId);
          waiter.resolve(message.result);
        }
      } else if (message.update) {
        if (options.onUpdate) options.onUpdate(message.update);
        else {
          const waiter = this.updateWaiters.shift();
          if (waiter) waiter(message.update);
          else this.updateQueue.push(message.update);
        }
      }
    });
    this.closed = new Promise((resolve) => {
      socket.addEventListener('close', (event) => {
        for (const { reject } of this.pending.values()) reject(new ConnectionClosedError(event.code));
        this.pending.clear();
        resolve({ code: event.code, reason: String(event.reason ?? '') });
      });
    });
    // Errors are followed by 'close', which is what callers wait for.
    socket.addEventListener('error', () => {});
  }

  static async connect(url: string, options: ConnectOptions = {}): Promise<OsmiumClient> {
    return new OsmiumClient(await openSocket(url, options), options);
  }

  /** Sends a request and resolves with its RPCResult (errors included); rejects with ConnectionClosedError if the socket closes first. */
  request<K extends MethodName>(method: K, payload: RequestInit<K>, options: { id?: number } = {}): Promise<RpcResult> {
    const id = options.id ?? this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new ConnectionClosedError(0));
        return;
      }
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

  /** A heartbeat: a frame with only `id` set (never answered). */
  heartbeat(id = 1): void {
    this.sendMessage({ id });
  }

  sendMessage(message: ClientMessageInit): void {
    const bytes = osmium.client.core.ClientMessage.encode(message).finish();
    this.socket.send(bytes);
    this.options.onFrame?.({ direction: 'out', bytes, message, at: now() });
  }

  /** Sends bytes as a binary frame, or a string as a text frame (which the gateway refuses). */
  sendRaw(data: Uint8Array | string): void {
    this.socket.send(data);
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
    return this.socket.readyState === OPEN;
  }

  close(code?: number, reason?: string): Promise<CloseEvent> {
    if (this.socket.readyState === OPEN || this.socket.readyState === CONNECTING) this.socket.close(code, reason);
    return this.closed;
  }
}
