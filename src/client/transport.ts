/**
 * Opens a WebSocket with the platform's implementation: the browser's own
 * `WebSocket`, or the `ws` package in Node (which also takes headers and a
 * local address). Both speak the standard EventTarget API the client uses, so
 * the rest of the client is the same source everywhere. `ws` is imported only
 * in Node, so a browser bundle leaves it out (esbuild: `external: ['ws']`).
 */
import type { WebSocket as WsWebSocket } from 'ws';

/**
 * The socket type the client exposes. In Node it is a `ws` WebSocket (so tests
 * and the load test may call `terminate()`); in browsers it is the platform's
 * WebSocket, which has the same standard members (`send`, `close`,
 * `readyState`, `binaryType`, `addEventListener`).
 */
export type ClientSocket = WsWebSocket;

export interface ConnectOptions {
  /** Extra upgrade request headers (Node only: browsers set their own, e.g. Origin). */
  headers?: Record<string, string>;
  /** Local address to bind (Node only; load tests spread sockets over 127.0.0.x). */
  localAddress?: string;
  /** Give up when the upgrade has not completed within this (default 10 s). */
  timeoutMs?: number;
}

/** WebSocket readyState values (the same constants in every implementation). */
export const OPEN = 1;
export const CONNECTING = 0;

/** True in Node (and Node-compatible runtimes), where `ws` is used. */
export const inNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

let wsModule: Promise<typeof import('ws')> | undefined;

/** Resolves once the socket is open; rejects when the upgrade fails or times out. */
export async function openSocket(url: string, options: ConnectOptions = {}): Promise<ClientSocket> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (inNode) {
    const { WebSocket } = await (wsModule ??= import('ws'));
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, {
        headers: options.headers,
        localAddress: options.localAddress,
        handshakeTimeout: timeoutMs,
        perMessageDeflate: false,
      });
      socket.binaryType = 'nodebuffer'; // no copy into an ArrayBuffer per frame
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    });
  }
  const Platform = (globalThis as unknown as { WebSocket?: new (url: string) => ClientSocket }).WebSocket;
  if (!Platform) throw new Error('no WebSocket implementation on this platform');
  return new Promise((resolve, reject) => {
    const socket = new Platform(url);
    socket.binaryType = 'arraybuffer';
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no connection to ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    const opened = () => {
      clearTimeout(timer);
      socket.removeEventListener('error', failed);
      resolve(socket);
    };
    // Browsers do not reveal why an upgrade failed (a 403 looks like any network error).
    const failed = () => {
      clearTimeout(timer);
      socket.removeEventListener('open', opened);
      reject(new Error(`could not connect to ${url} (refused, unreachable or not allowed from this origin)`));
    };
    socket.addEventListener('open', opened, { once: true });
    socket.addEventListener('error', failed, { once: true });
  });
}

/** The bytes of a binary message event (ArrayBuffer in browsers, Buffer in Node); null for a text frame. */
export function binaryData(data: unknown): Uint8Array | null {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return null;
}
