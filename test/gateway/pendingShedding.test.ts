/**
 * Many addresses holding half-open upgrades at once (issue 23): 300
 * addresses, each within its own per-address bound, together far past the
 * global bound. The oldest pending connections are shed for new ones, so a
 * legitimate client keeps getting in, every time.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { guest } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

const ADDRESSES = 300;
const PER_ADDRESS = 8;

/** A TCP connection from `localAddress` that starts an upgrade request and never finishes its headers. */
function halfOpenUpgrade(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress }, () => {
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');
      socket.resume();
      resolve(socket);
    });
    socket.on('error', () => resolve(socket));
  });
}

/** Loopback addresses in as many different /24 networks (127.1.0.1, 127.2.0.1, ...). */
const address = (i: number) => `127.${1 + (i % 250)}.${Math.floor(i / 250)}.1`;

describe('half-open upgrades from many addresses', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({
      RATE_LIMITS: 'on',
      MAX_PENDING_CONNECTIONS_PER_IP: String(PER_ADDRESS),
      MAX_PENDING_CONNECTIONS_PER_NETWORK: '64',
      MAX_PENDING_CONNECTIONS: '400',
      // Long enough that the header timeout does not end the flood during the test.
      HTTP_HEADERS_TIMEOUT_MS: '60000',
    });
  });
  after(() => gw.close());

  it(`${ADDRESSES} addresses × ${PER_ADDRESS} half-open upgrades (6 times the global bound): a legitimate client gets in on every try`, async () => {
    const flood: Socket[] = [];
    try {
      for (let i = 0; i < ADDRESSES; i++) {
        flood.push(...(await Promise.all(Array.from({ length: PER_ADDRESS }, () => halfOpenUpgrade(gw.app.port, address(i))))));
      }
      await eventually(() => flood.filter((s) => !s.destroyed && !s.readableEnded).length <= 400, { what: 'at most the global bound pending' });
      for (let attempt = 0; attempt < 20; attempt++) {
        // Each try is a new connection while the flood keeps arriving.
        const more = await Promise.all(Array.from({ length: 40 }, (_, j) => halfOpenUpgrade(gw.app.port, address(attempt * 40 + j))));
        flood.push(...more);
        const client = await gw.connect();
        assert.ok((await guest(gw, 'Legit', { client })).authorization, `try ${attempt} served`);
        await client.close();
      }
      assert.equal((await fetch(`http://127.0.0.1:${gw.app.port}/healthz`)).status, 200);
    } finally {
      for (const s of flood) s.destroy();
    }
  });
});
