/**
 * The client a chat app keeps for its whole life: one socket at a time,
 * reopened after every close with exponential backoff and full jitter (so a
 * restarted gateway is not hit by every client at once), `core.Initialize`
 * then `auth.authorize` with the current token on every new socket, a
 * heartbeat every 30 s, requests sent once the socket is ready, and the
 * revocation of this session (`Update{session_deleted}`, close 4001, or an
 * Authorize refused after a reconnect) surfaced as one `sessionDeleted`
 * event. Ids are decimal strings in and out. Runs in browsers and in Node.
 */
import type { MethodName } from '../protocol/codec.js';
import { CloseCode } from '../protocol/closeCodes.js';
import { ConnectionClosedError, OsmiumClient, RpcCallError, type CloseEvent, type Frame, type RequestInit } from './client.js';
import {
  clientMessageFrom,
  plainResult,
  plainUpdate,
  type PlainAuthorization,
  type PlainRequest,
  type PlainResult,
  type PlainUpdate,
} from './plain.js';
import type { ConnectOptions } from './transport.js';

/** Sent in `core.Initialize` on every socket; the gateway lists it in `auth.getSessions`. */
export interface DeviceInfo {
  client_id?: number;
  device_type?: string;
  device_version?: string;
  app_version?: string;
}

export interface ReconnectingClientOptions {
  /** Gateway URL, e.g. `wss://chat.example.com/`. */
  url: string;
  device?: DeviceInfo;
  /** A token from an earlier sign-in, resumed with `auth.authorize` on every socket. */
  token?: string | null;
  /** Heartbeat period (default 30 000 ms). */
  heartbeatMs?: number;
  /** A request with no result within this is rejected (default 15 000 ms). */
  requestTimeoutMs?: number;
  /** First reconnect delay bound and the largest (defaults 500 ms and 30 000 ms); each delay is random below the bound. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Node only: headers and local address of the upgrade request. */
  connect?: Pick<ConnectOptions, 'headers' | 'localAddress' | 'timeoutMs'>;
}

export type ClientState = 'idle' | 'connecting' | 'handshaking' | 'ready' | 'waiting' | 'stopped';

export interface ReconnectingClientEvents {
  /** The state changed (`waiting` = between a close and the next attempt). */
  state: ClientState;
  /** A socket opened and Initialize (and Authorize, with a token) completed. */
  ready: { authorization: PlainAuthorization | null };
  /** Signed in, signed up or resumed: store `token` to resume later. */
  authorized: PlainAuthorization;
  /** This client's session ended (revoked elsewhere, password reset, or refused on resume); the token is forgotten. */
  sessionDeleted: { sessionId: string | null; via: 'update' | 'close' | 'authorize' };
  /** Every update the gateway pushes (session_deleted included). */
  update: PlainUpdate;
  /** A socket closed; `retryInMs` is null when the client will not reconnect. */
  disconnected: { code: number; reason: string; retryInMs: number | null };
  /** Every frame sent and received. */
  frame: Frame;
}

type Listener<T> = (value: T) => void;

/** Close codes that mean the client itself is broken: reconnecting would fail the same way. */
const FATAL_CLOSES = new Set<number>([CloseCode.UNSUPPORTED_DATA, CloseCode.INVALID_PAYLOAD, CloseCode.MESSAGE_TOO_BIG]);

export class RequestTimeoutError extends Error {
  constructor(method: string, ms: number) {
    super(`${method}: no result within ${ms} ms`);
    this.name = 'RequestTimeoutError';
  }
}

interface Queued {
  method: MethodName;
  payload: object;
  resolve: (result: PlainResult) => void;
  reject: (error: Error) => void;
}

export class ReconnectingClient {
  private readonly listeners = new Map<keyof ReconnectingClientEvents, Set<Listener<never>>>();
  private socket: OsmiumClient | null = null;
  private currentState: ClientState = 'idle';
  private currentToken: string | null;
  private currentAuthorization: PlainAuthorization | null = null;
  /** Requests waiting for the socket to be ready. */
  private waitingForReady: Queued[] = [];
  /** Failed attempts since the last ready socket (drives the backoff). */
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private nextRequestId = 1;
  private readonly heartbeatMs: number;
  private readonly requestTimeoutMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(private readonly options: ReconnectingClientOptions) {
    this.currentToken = options.token ?? null;
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.initialBackoffMs = options.backoff?.initialMs ?? 500;
    this.maxBackoffMs = options.backoff?.maxMs ?? 30_000;
  }

  get state(): ClientState {
    return this.currentState;
  }

  /** The token of the signed-in session, or null. */
  get token(): string | null {
    return this.currentToken;
  }

  /** The last Authorization (user, session id, token) of this session, or null when signed out. */
  get authorization(): PlainAuthorization | null {
    return this.currentAuthorization;
  }

  on<E extends keyof ReconnectingClientEvents>(event: E, listener: Listener<ReconnectingClientEvents[E]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /** Opens the first socket; reconnects after every close until `stop()`. */
  start(): void {
    if (this.currentState !== 'idle' && this.currentState !== 'stopped') return;
    this.failures = 0;
    void this.connect();
  }

  /** Closes the socket for good; requests in flight and waiting are rejected. */
  stop(): void {
    this.setState('stopped');
    clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    const socket = this.socket;
    this.socket = null;
    void socket?.close(1000, 'client stopped');
    for (const queued of this.waitingForReady.splice(0)) queued.reject(new ConnectionClosedError(1000));
  }

  /**
   * Sends a request once the socket is ready and resolves with its result
   * (ids as strings); rejects with RpcCallError for an error result,
   * ConnectionClosedError when the socket closes before the result arrives,
   * RequestTimeoutError after `requestTimeoutMs`.
   */
  call<K extends MethodName>(method: K, payload: PlainRequest<K>): Promise<PlainResult> {
    if (this.currentState === 'stopped' || this.currentState === 'idle') {
      return Promise.reject(new Error(`client is ${this.currentState}: call start() first`));
    }
    return new Promise<PlainResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waitingForReady = this.waitingForReady.filter((q) => q !== queued);
        reject(new RequestTimeoutError(method, this.requestTimeoutMs));
      }, this.requestTimeoutMs);
      const queued: Queued = {
        method,
        payload,
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      if (this.currentState === 'ready' && this.socket) this.send(this.socket, queued);
      else this.waitingForReady.push(queued);
    });
  }

  /** `auth.signUp`: a guest when email and password are left out. */
  async signUp(payload: PlainRequest<'auth_sign_up'>): Promise<PlainAuthorization> {
    return this.authorized(await this.call('auth_sign_up', payload));
  }

  /** `auth.signIn`; `totp` when the gateway answered 401 `totp required`. */
  async signIn(payload: PlainRequest<'auth_sign_in'>): Promise<PlainAuthorization> {
    return this.authorized(await this.call('auth_sign_in', payload));
  }

  /** Ends this session (the gateway then pushes session_deleted and closes with 4001). */
  async signOut(): Promise<void> {
    const sessionId = this.currentAuthorization?.session_id;
    if (!sessionId) return;
    await this.call('auth_revoke_sessions', { session_ids: [sessionId] }).catch((err: unknown) => {
      if (!(err instanceof ConnectionClosedError)) throw err; // the 4001 close may overtake the result
    });
  }

  private authorized(result: PlainResult): PlainAuthorization {
    const authorization = result.authorization!;
    this.currentToken = authorization.token ?? null;
    this.currentAuthorization = authorization;
    this.emit('authorized', authorization);
    return authorization;
  }

  private send(socket: OsmiumClient, queued: Queued): void {
    const id = this.nextRequestId++;
    const message = clientMessageFrom({ id, [queued.method]: queued.payload });
    // request() would re-read the payload; the converted message is sent as is.
    socket
      .request(queued.method, message[queued.method] as never, { id })
      .then((result) => {
        if (result.error) {
          queued.reject(new RpcCallError(result.error.error_code ?? 0, result.error.error_message ?? '', result.trace_id ?? undefined));
        } else queued.resolve(plainResult(result));
      }, queued.reject);
  }

  private async connect(): Promise<void> {
    this.setState('connecting');
    let socket: OsmiumClient;
    try {
      socket = await OsmiumClient.connect(this.options.url, {
        ...this.options.connect,
        onFrame: (frame) => this.emit('frame', frame),
        onUpdate: (update) => this.onUpdate(update),
      });
    } catch {
      if (this.currentState !== 'stopped') this.scheduleReconnect({ code: 1006, reason: 'connection failed' });
      return;
    }
    if (this.currentState === 'stopped') {
      void socket.close(1000, 'client stopped');
      return;
    }
    this.socket = socket;
    void socket.closed.then((event) => this.onClose(socket, event));
    this.startHeartbeat(socket);
    this.setState('handshaking');
    try {
      if (this.options.device) await this.handshakeCall(socket, 'core_initialize', this.options.device);
      let authorization: PlainAuthorization | null = null;
      const token = this.currentToken;
      if (token) {
        try {
          authorization = this.authorized(plainResult(await this.handshakeCall(socket, 'auth_authorize', { token })));
        } catch (err) {
          if (!(err instanceof RpcCallError) || (err.code !== 401 && err.code !== 403)) throw err;
          // The session ended while this client was away: it is signed out, the socket stays usable.
          this.sessionEnded(this.currentAuthorization?.session_id ?? null, 'authorize');
        }
      }
      if (this.socket !== socket) return;
      this.failures = 0;
      this.setState('ready');
      this.emit('ready', { authorization });
      for (const queued of this.waitingForReady.splice(0)) this.send(socket, queued);
    } catch {
      // The handshake failed (closed meanwhile, or refused): start over on a new socket.
      if (socket.isOpen) void socket.close(1000, 'handshake failed');
    }
  }

  /** A handshake request, numbered from the same sequence as every other request of this client. */
  private async handshakeCall<K extends 'core_initialize' | 'auth_authorize'>(socket: OsmiumClient, method: K, payload: RequestInit<K>) {
    const result = await socket.request(method, payload, { id: this.nextRequestId++ });
    if (result.error) throw new RpcCallError(result.error.error_code ?? 0, result.error.error_message ?? '', result.trace_id ?? undefined);
    return result;
  }

  private onUpdate(update: Parameters<typeof plainUpdate>[0]): void {
    const plain = plainUpdate(update);
    const deleted = plain.session_deleted?.session_id;
    if (deleted && deleted === this.currentAuthorization?.session_id) this.sessionEnded(deleted, 'update');
    this.emit('update', plain);
  }

  private onClose(socket: OsmiumClient, event: CloseEvent): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.stopHeartbeat();
    if (event.code === CloseCode.SESSION_REVOKED) this.sessionEnded(this.currentAuthorization?.session_id ?? null, 'close');
    if (this.currentState === 'stopped') return;
    if (FATAL_CLOSES.has(event.code)) {
      this.setState('stopped');
      this.emit('disconnected', { ...event, retryInMs: null });
      for (const queued of this.waitingForReady.splice(0)) queued.reject(new ConnectionClosedError(event.code));
      return;
    }
    // A revoked session is not the network failing: come back at once, signed out.
    if (event.code === CloseCode.SESSION_REVOKED) this.failures = 0;
    this.scheduleReconnect(event);
  }

  /** Forgets the token and reports the session's end once (the push and the 4001 close both announce it). */
  private sessionEnded(sessionId: string | null, via: ReconnectingClientEvents['sessionDeleted']['via']): void {
    if (this.currentToken === null && this.currentAuthorization === null) return;
    this.currentToken = null;
    this.currentAuthorization = null;
    this.emit('sessionDeleted', { sessionId, via });
  }

  private scheduleReconnect(event: { code: number; reason: string }): void {
    // Full jitter: a random delay below a bound that doubles per failure, so clients spread out.
    const bound = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** Math.min(this.failures, 16));
    const delay = Math.round(Math.random() * bound);
    this.failures++;
    this.setState('waiting');
    this.emit('disconnected', { code: event.code, reason: event.reason, retryInMs: delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private startHeartbeat(socket: OsmiumClient): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => {
      if (socket.isOpen) socket.heartbeat(this.nextRequestId++);
    }, this.heartbeatMs);
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private setState(state: ClientState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emit('state', state);
  }

  private emit<E extends keyof ReconnectingClientEvents>(event: E, value: ReconnectingClientEvents[E]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as Listener<ReconnectingClientEvents[E]>)(value);
      } catch (err) {
        // A failing listener must not break the connection logic.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}
