/** Socket-level protections: per-socket rate and flood close, per-IP cap, handshake timeout. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OsmiumClient } from '../../src/client/client.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { eventually } from '../helpers/eventually.js';
import { startGateway } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

describe('socket limits', () => {
  it('answers requests past the burst with 429 and a retry delay, then closes a flood with 1008', async () => {
    // The slowest refill (1 per second), so exactly the burst passes even when a
    // loaded machine takes a while to read the 15 frames.
    const gw = await startGateway({ SOCKET_RATE: '1', SOCKET_BURST: '10', SOCKET_FLOOD_CLOSE: '20' });
    try {
      const bystander = await gw.connect();
      const client = await gw.connect();
      const results = await Promise.all(Array.from({ length: 15 }, () => client.request('core_initialize', {})));
      assert.equal(results.filter((r) => r.initialized).length, 10);
      const refused = results.filter((r) => r.error);
      assert.equal(refused.length, 5);
      for (const r of refused) {
        assertRpcError(r, ErrorCode.RATE_LIMITED);
        assert.match(r.error!.error_message!, /retry after \d+ seconds/);
      }
      for (let i = 0; i < 40; i++) client.heartbeat();
      assert.equal((await client.closed).code, CloseCode.POLICY_VIOLATION);
      assert.ok((await bystander.request('core_initialize', {})).initialized, 'other sockets are served');
    } finally {
      await gw.close();
    }
  });

  it('never answers a heartbeat with an error, even past the limit', async () => {
    const gw = await startGateway({ SOCKET_RATE: '1', SOCKET_BURST: '2', SOCKET_FLOOD_CLOSE: '1000' });
    try {
      const client = await gw.connect();
      for (let i = 0; i < 20; i++) client.heartbeat();
      // A request after them is a barrier: frames of one socket are handled in order,
      // so an answer to any heartbeat would arrive before this request's answer.
      const barrier = await client.request('core_initialize', {}, { id: 77 });
      assert.equal(barrier.req_id, 77);
      assert.equal(client.serverIds.length, 1, 'only the request was answered, never a heartbeat');
      assert.ok(client.isOpen);
    } finally {
      await gw.close();
    }
  });

  it('refuses sockets past MAX_CONNECTIONS_PER_IP, and accepts again once one closes', async () => {
    const gw = await startGateway({ MAX_CONNECTIONS_PER_IP: '3' });
    try {
      const open = await Promise.all([gw.connect(), gw.connect(), gw.connect()]);
      await assert.rejects(OsmiumClient.connect(gw.url), /429/);
      await open[0]!.close();
      // The server forgets the socket a moment after the client saw the close.
      const again = await eventually(() => OsmiumClient.connect(gw.url), { what: 'a socket accepted again after one closed' });
      assert.ok((await again.request('core_initialize', {})).initialized);
      await again.close();
    } finally {
      await gw.close();
    }
  });

  it('closes a socket that sends no valid frame within HANDSHAKE_TIMEOUT_MS, and keeps one that did', async () => {
    const gw = await startGateway({ HANDSHAKE_TIMEOUT_MS: '300' });
    try {
      const silent = await gw.connect();
      const talker = await gw.connect();
      talker.heartbeat();
      // Connected after the talker: its timer runs out after the talker's would have.
      const witness = await gw.connect();
      assert.equal((await silent.closed).code, CloseCode.POLICY_VIOLATION);
      assert.equal((await witness.closed).code, CloseCode.POLICY_VIOLATION);
      assert.ok((await talker.request('core_initialize', {})).initialized, 'the socket that sent a frame is kept and served');
      assert.ok(talker.isOpen);
    } finally {
      await gw.close();
    }
  });

  it('RATE_LIMITS=off lifts the per-socket and per-IP limits but keeps frame protections', async () => {
    const gw = await startGateway({ RATE_LIMITS: 'off', SOCKET_RATE: '1', SOCKET_BURST: '1', MAX_CONNECTIONS_PER_IP: '1', MAX_FRAME_BYTES: '256' });
    try {
      const a = await gw.connect();
      const b = await gw.connect();
      const results = await Promise.all(Array.from({ length: 30 }, () => a.request('core_initialize', {})));
      assert.ok(results.every((r) => r.initialized));
      b.sendRaw(new Uint8Array(1024));
      assert.equal((await b.closed).code, CloseCode.MESSAGE_TOO_BIG);
    } finally {
      await gw.close();
    }
  });
});

describe('heartbeats', () => {
  it('pings every PING_INTERVAL_MS and drops a socket that missed two pongs, keeping one that answers', async () => {
    const gw = await startGateway({ PING_INTERVAL_MS: '150' });
    try {
      const { WebSocket } = await import('ws');
      const deaf = new WebSocket(gw.url, { autoPong: false });
      let pings = 0;
      deaf.on('ping', () => pings++);
      await new Promise((resolve) => deaf.once('open', resolve));
      const alive = await gw.connect();
      let alivePings = 0;
      alive.socket.on('ping', () => alivePings++); // answered by ws's automatic pong
      alive.heartbeat();
      deaf.send(new Uint8Array([0x08, 0x01])); // a heartbeat frame, so only the pongs are missing
      const code = await new Promise<number>((resolve) => deaf.once('close', (c) => resolve(c)));
      assert.ok(pings >= 2, `saw ${pings} pings before the drop`);
      assert.equal(code, 1006, 'dropped without a close frame');
      // Two more ping rounds: a socket missing their pongs would be dropped by now.
      const seen = alivePings;
      await eventually(() => alivePings >= seen + 3, { what: 'three more pings on the socket that answers them' });
      assert.ok((await alive.request('core_initialize', {})).initialized);
      assert.ok(alive.isOpen, 'a socket that answers pings stays');
    } finally {
      await gw.close();
    }
  });
});
