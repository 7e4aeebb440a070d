/**
 * Before the upgrade: one address holding thousands of half-open upgrades
 * (headers never finished) cannot take the gateway's descriptors. Its
 * connections over the per-address bound are dropped at once, those within
 * it are ended by the header timeout, and meanwhile a legitimate client
 * connects and authorizes and health checks answer.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { guest } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

const FLOOD = 2_000;

/** A TCP connection from `localAddress` that starts an upgrade request and never finishes its headers. */
function halfOpenUpgrade(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress }, () => {
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');
      socket.resume(); // read whatever the gateway answers, so its close is seen
      resolve(socket);
    });
    socket.on('error', () => resolve(socket));
  });
}

describe('connections before the upgrade', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({
      RATE_LIMITS: 'on',
      MAX_PENDING_CONNECTIONS_PER_IP: '50',
      MAX_PENDING_CONNECTIONS: '400',
      HTTP_HEADERS_TIMEOUT_MS: '2000',
    });
  });
  after(() => gw.close());

  it('one address holding thousands of half-open upgrades does not lock out a legitimate client or the health check', async () => {
    const flood = await Promise.all(Array.from({ length: FLOOD }, () => halfOpenUpgrade(gw.app.port, '127.0.0.2')));
    try {
      // Everything past the per-address bound was dropped by the gateway.
      await eventually(() => flood.filter((s) => !s.destroyed && !s.readableEnded).length <= 50, {
        what: `at most 50 of the ${FLOOD} half-open connections stay open`,
      });
      const client = await gw.connect();
      const signedUp = await guest(gw, 'Legit', { client });
      const other = await gw.connect();
      assert.ok((await other.call('auth_authorize', { token: signedUp.authorization!.token! })).authorization);
      assert.equal((await fetch(`http://127.0.0.1:${gw.app.port}/healthz`)).status, 200);
      // And the ones within the bound are ended by the header timeout.
      await eventually(() => flood.every((s) => s.destroyed || s.readableEnded), { what: 'the stalled upgrades were ended', timeoutMs: 10_000 });
    } finally {
      for (const s of flood) s.destroy();
    }
  });
});
