/**
 * The LISTEN connection: a connection still being opened when the listener
 * closes (the first one here; a reconnect after Postgres dropped the
 * connection takes the same path) does not outlive it. One that did kept its
 * process alive: a test file that had stopped its gateway never exited.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { PostgresListener } from '../../src/store/postgresListener.js';

const log = createLogger({ level: 'silent', pretty: false });
const CHANNEL = 'osmium_listener_test';

describe('PostgresListener', () => {
  it('close() while the first connection is being opened: that connection ends', async () => {
    // A server that accepts and never answers: the listener's connect stays in flight.
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const listener = new PostgresListener(`postgres://gateway@127.0.0.1:${(server.address() as AddressInfo).port}/osmium`, log, 300);
    listener.on(CHANNEL, () => undefined);
    const starting = listener.start().then(() => 'started', () => 'failed');
    try {
      const [socket] = await accepted;
      socket.resume(); // read (and drop) what it sends, so that its end is seen
      const socketClosed = once(socket, 'close');
      await listener.close();
      await socketClosed; // the listener's side gave up on it
      assert.equal(await starting, 'failed', 'a start cut short by close() does not claim to listen');
    } finally {
      server.close();
    }
  });
});
