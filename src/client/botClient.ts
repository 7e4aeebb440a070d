/**
 * A bot client with the shape of the Osmium JavaScript SDK
 * (`@osmiumchat/sdk`): `new Client({ clientId, serverUrl }).login(token)`,
 * and a `ready` event once authorized. It behaves as the SDK does on the
 * wire: on every socket `core.Initialize` then `auth.authorize{token}`, a
 * heartbeat (a frame with only `id`) every 30 s, and after any close a
 * reconnect a few seconds later with the same token, forever (a revoked
 * token keeps being refused: reset the bot's token and restart it).
 * Runs in Node and in browsers, like the rest of src/client.
 */
import { OsmiumClient, RpcCallError } from './client.js';
import { plainResult, type PlainAuthorization } from './plain.js';

export interface BotClientOptions {
  /** The app's client id, sent in core.Initialize (GetSessions shows its name from the registry). */
  clientId: number;
  /** Gateway URL, e.g. `ws://localhost:8080`. */
  serverUrl: string;
  /** Delay before each reconnect (default 5 000 ms, as the SDK). */
  reconnectDelayMs?: number;
  /** Heartbeat period (default 30 000 ms). */
  heartbeatMs?: number;
}

export interface BotClientEvents {
  /** Authorized on a socket: `user` is the bot (`bot: true`). */
  ready: PlainAuthorization['user'];
  /** The gateway refused the token (revoked, reset or deleted bot): 403. */
  refused: { message: string };
  /** A socket closed; a reconnect follows after `reconnectDelayMs`. */
  disconnected: { code: number; reason: string };
  /** A connection could not be made (the gateway is down or refused it); a reconnect follows. As the SDK's `error`. */
  error: Error;
}

type Listener<T> = (value: T) => void;

export class Client {
  user: PlainAuthorization['user'] | null = null;
  private token: string | null = null;
  private socket: OsmiumClient | null = null;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private destroyed = false;
  private readonly listeners = new Map<keyof BotClientEvents, Set<Listener<never>>>();

  constructor(private readonly options: BotClientOptions) {}

  on<E extends keyof BotClientEvents>(event: E, listener: Listener<BotClientEvents[E]>): this {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener as Listener<never>);
    this.listeners.set(event, set);
    return this;
  }

  /** Connects with the bot's token; resolves at the first `ready`, rejects if that first Authorize is refused. */
  login(token: string): Promise<void> {
    this.token = token;
    return new Promise((resolve, reject) => {
      const settle = (error?: Error) => {
        off();
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => settle();
      const onRefused = ({ message }: { message: string }) => settle(new Error(message));
      const off = () => {
        this.listeners.get('ready')?.delete(onReady as Listener<never>);
        this.listeners.get('refused')?.delete(onRefused as Listener<never>);
      };
      this.on('ready', onReady).on('refused', onRefused);
      void this.connect();
    });
  }

  /** Closes the socket and stops reconnecting. */
  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    void this.socket?.close();
  }

  private async connect(): Promise<void> {
    if (this.destroyed || !this.token) return;
    let socket: OsmiumClient;
    try {
      socket = await OsmiumClient.connect(this.options.serverUrl);
    } catch (err) {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
      this.scheduleReconnect({ code: 1006, reason: 'connect failed' });
      return;
    }
    if (this.destroyed) {
      void socket.close();
      return;
    }
    this.socket = socket;
    void socket.closed.then((event) => {
      clearInterval(this.heartbeat);
      this.scheduleReconnect(event);
    });
    try {
      await socket.call('core_initialize', { client_id: this.options.clientId });
      const { authorization } = plainResult(await socket.call('auth_authorize', { token: this.token }));
      if (!authorization) throw new Error('auth.authorize answered without an Authorization');
      this.user = authorization.user;
      this.heartbeat = setInterval(() => socket.heartbeat(), this.options.heartbeatMs ?? 30_000);
      this.emit('ready', authorization.user);
    } catch (err) {
      // Refused: close, and the close handler reconnects (the SDK keeps trying with the same token).
      // Anything else means the socket closed meanwhile: the close handler reconnects too.
      if (err instanceof RpcCallError) {
        this.emit('refused', { message: err.message });
        void socket.close();
      }
    }
  }

  private scheduleReconnect(event: { code: number; reason: string }): void {
    this.emit('disconnected', event);
    if (this.destroyed) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), this.options.reconnectDelayMs ?? 5_000);
  }

  private emit<E extends keyof BotClientEvents>(event: E, value: BotClientEvents[E]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as Listener<BotClientEvents[E]>)(value);
  }
}
