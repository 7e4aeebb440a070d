/**
 * The reconnecting client over real sockets, in Node (the browser bundle is
 * the same source): after the gateway restarts it reconnects and sends
 * Initialize then Authorize with its token again; a revocation elsewhere is
 * one `sessionDeleted` event and the client comes back signed out; against a
 * scripted server, heartbeats are frames with only `id`, requests in flight
 * are rejected when the socket closes, and a "fix the client" close stops it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConnectionClosedError, OsmiumClient } from '../../src/client/client.js';
import { ReconnectingClient, type ReconnectingClientEvents } from '../../src/client/reconnectingClient.js';
import { osmium } from '../../src/gen/osmium.js';
import { idToWire } from '../../src/protocol/codec.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';

const DEVICE = { client_id: 7, device_type: 'node', device_version: process.version, app_version: 'test 1.0' };

/** Resolves with the next `event` that passes `accept`. */
function next<E extends keyof ReconnectingClientEvents>(
  client: ReconnectingClient,
  event: E,
  accept: (value: ReconnectingClientEvents[E]) => boolean = () => true,
): Promise<ReconnectingClientEvents[E]> {
  return new Promise((resolve) => {
    const off = client.on(event, (value) => {
      if (!accept(value)) return;
      off();
      resolve(value);
    });
  });
}

/** Names of the requests this client sent from now on (heartbeats as `heartbeat`). */
function recordSent(client: ReconnectingClient): string[] {
  const sent: string[] = [];
  client.on('frame', (frame) => {
    if (frame.direction === 'out') sent.push(osmium.client.core.ClientMessage.decode(frame.bytes).message ?? 'heartbeat');
  });
  return sent;
}

describe('ReconnectingClient against the gateway', () => {
  const gateways: TestGateway[] = [];
  const clients: ReconnectingClient[] = [];
  after(async () => {
    for (const c of clients) c.stop();
    for (const g of gateways) await g.close().catch(() => undefined);
  });

  it('reconnects after the gateway restarts: Initialize, then Authorize with its token, same session', async () => {
    const first = await startGateway();
    gateways.push(first);
    const client = new ReconnectingClient({ url: first.url, device: DEVICE, backoff: { initialMs: 20, maxMs: 200 } });
    clients.push(client);
    client.start();
    const signedUp = await client.signUp({ email: uniqueEmail('reconnect'), password: 'reconnect password', name: 'Reconnecting' });
    assert.match(signedUp.session_id!, /^\d+$/, 'ids are decimal strings');

    const sent = recordSent(client);
    const dropped = next(client, 'disconnected');
    const readyAgain = next(client, 'ready');
    await first.app.close(); // closes every socket with 1001
    assert.equal((await dropped).code, 1001);
    const port = new URL(first.url).port;
    const second = await startGateway({ PORT: port }, { databaseUrl: first.databaseUrl });
    gateways.push(second);

    const { authorization } = await readyAgain;
    assert.equal(authorization?.session_id, signedUp.session_id, 'the same session, resumed');
    assert.equal(authorization?.user?.id, signedUp.user?.id);
    assert.deepEqual(sent.filter((m) => m !== 'heartbeat'), ['core_initialize', 'auth_authorize']);

    const { sessions } = await client.call('auth_get_sessions', {});
    const mine = sessions!.sessions!.find((s) => s.id === signedUp.session_id)!;
    assert.equal(mine.device_type, 'node', 'the device info of the Initialize on the new socket');
    assert.equal(sessions!.current, signedUp.session_id);
  });

  it('a revocation from another device is one sessionDeleted event; the client comes back signed out', async () => {
    const gw = await startGateway();
    gateways.push(gw);
    const email = uniqueEmail('revoked');
    const client = new ReconnectingClient({ url: gw.url, device: DEVICE, backoff: { initialMs: 20, maxMs: 200 } });
    clients.push(client);
    client.start();
    const mine = await client.signUp({ email, password: 'revoked password', name: 'Revoked' });

    const other = await gw.connect();
    await other.call('auth_sign_in', { email, password: 'revoked password' });
    const deletions: Array<ReconnectingClientEvents['sessionDeleted']> = [];
    client.on('sessionDeleted', (e) => deletions.push(e));
    const closed = next(client, 'disconnected');
    const readySignedOut = next(client, 'ready');
    await other.call('auth_revoke_sessions', { session_ids: [idToWire(mine.session_id!)] });

    assert.equal((await closed).code, 4001);
    assert.deepEqual(deletions, [{ sessionId: mine.session_id, via: 'update' }], 'the push is reported once, not again for the 4001 close');
    assert.equal(client.token, null, 'the token is forgotten');
    assert.equal((await readySignedOut).authorization, null, 'reconnected without resuming');
    await assert.rejects(client.call('auth_get_sessions', {}), { code: 401 });
  });
});

describe('ReconnectingClient against a scripted server', () => {
  let server: WebSocketServer;
  let url: string;
  /** What the server does with each request; default: answer Initialize, ignore the rest. */
  let onRequest: (socket: WebSocket, message: osmium.client.core.ClientMessage) => void;
  const received: osmium.client.core.ClientMessage[] = [];
  const client = () => new ReconnectingClient({ url, device: DEVICE, heartbeatMs: 20, backoff: { initialMs: 10, maxMs: 50 } });

  const started = (async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (socket) => {
      socket.on('message', (data: Buffer) => {
        const message = osmium.client.core.ClientMessage.decode(data);
        received.push(message);
        if (message.core_initialize) {
          const reply = { id: 1, result: { req_id: message.id, initialized: { entrypoints: { entrypoints: [] } } } };
          socket.send(osmium.client.core.ServerMessage.encode(reply).finish());
        } else onRequest(socket, message);
      });
    });
  })();
  after(() => server?.close());

  it('sends heartbeats that carry only `id`', async () => {
    await started;
    onRequest = () => {};
    const c = client();
    c.start();
    await next(c, 'ready');
    const heartbeat = await new Promise<Uint8Array>((resolve) => {
      c.on('frame', (frame) => {
        if (frame.direction === 'out' && !osmium.client.core.ClientMessage.decode(frame.bytes).message) resolve(frame.bytes);
      });
    });
    const decoded = osmium.client.core.ClientMessage.decode(heartbeat);
    assert.deepEqual(Object.keys(osmium.client.core.ClientMessage.toObject(decoded)), ['id']);
    assert.ok(decoded.id > 0);
    c.stop();
  });

  it('rejects a request in flight when the server closes, then reconnects and initializes again', async () => {
    await started;
    const closeOnSessions = (socket: WebSocket, message: osmium.client.core.ClientMessage) => {
      if (message.auth_get_sessions) socket.close(1011, 'server error');
    };
    onRequest = closeOnSessions;
    const c = client();
    c.start();
    await next(c, 'ready');
    const initializesBefore = received.filter((m) => m.core_initialize).length;
    const reconnected = next(c, 'ready');
    await assert.rejects(c.call('auth_get_sessions', {}), (err: unknown) => err instanceof ConnectionClosedError && err.code === 1011);
    await reconnected;
    assert.equal(received.filter((m) => m.core_initialize).length, initializesBefore + 1, 'Initialize again on the new socket');
    c.stop();
  });

  it('stops after a close that means the client is broken (1007), rejecting what waits', async () => {
    await started;
    onRequest = (socket) => socket.close(1007, 'bad frame');
    const c = client();
    c.start();
    await next(c, 'ready');
    const gaveUp = next(c, 'disconnected');
    await assert.rejects(c.call('auth_get_sessions', {}), ConnectionClosedError);
    assert.equal((await gaveUp).retryInMs, null);
    assert.equal(c.state, 'stopped');
  });
});

// OsmiumClient keeps rejecting requests on a closed socket instead of leaving them pending.
describe('OsmiumClient on a closed socket', () => {
  it('rejects a request sent after the close', async () => {
    const gw = await startGateway();
    try {
      const c = await OsmiumClient.connect(gw.url);
      await c.close();
      await assert.rejects(c.request('auth_get_sessions', {}), ConnectionClosedError);
    } finally {
      await gw.close();
    }
  });
});
