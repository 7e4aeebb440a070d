/**
 * The backend helper's client for the gateway's internal API
 * (src/backend/gatewayApi.ts) against a stand-in API server in this process:
 * what goes on the wire (paths, key, protobuf bodies, ids), what comes back,
 * refusals, and that connections are kept alive. No gateway.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Long from 'long';
import { GatewayApi, GatewayApiError } from '../../src/backend/index.js';
import { osmium } from '../../src/gen/backend.js';

const v1 = osmium.gateway.v1;
const KEY = 'api-key-for-tests';
const BIG = '18446744073709551615'; // 2^64-1: fixed64's largest

interface Received {
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Buffer;
  socket: unknown;
}

const ids = (list: Array<Long | number> | null | undefined) => (list ?? []).map((id) => Long.fromValue(id).toUnsigned().toString());

describe('GatewayApi', () => {
  let server: Server;
  let base: string;
  const received: Received[] = [];
  before(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      received.push({ path: req.url ?? '', authorization: req.headers.authorization, contentType: req.headers['content-type'], body, socket: req.socket });
      const reply = (bytes: Uint8Array) => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(bytes);
      if (req.headers.authorization !== `Bearer ${KEY}`) return res.writeHead(401, { 'content-type': 'text/plain' }).end('wrong API key\n');
      switch (req.url) {
        case '/base/v1/push':
          return reply(v1.PushResponse.encode({ instances: v1.PushRequest.decode(body).user_ids.length }).finish());
        case '/base/v1/push/batch':
          return reply(v1.PushBatchResponse.encode({ results: v1.PushBatchRequest.decode(body).pushes.map((_, i) => ({ instances: i + 1 })) }).finish());
        case '/base/v1/disconnect':
          return reply(v1.DisconnectResponse.encode({ instances: 2 }).finish());
        case '/base/v1/presence': {
          const users = v1.PresenceRequest.decode(body).user_ids.map((id, i) => ({ user_id: id, online: i === 0, sessions: i === 0 ? 3 : 0 }));
          return reply(v1.PresenceResponse.encode({ users }).finish());
        }
        default:
          return res.writeHead(400, { 'content-type': 'text/plain' }).end('push needs at least one target\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/base/`;
  });
  after(() => server.close());

  it('push: a protobuf PushRequest with the key, the Update bytes as given and exact ids; answers the instances', async () => {
    const api = new GatewayApi({ url: base, apiKey: KEY });
    try {
      const update = Uint8Array.from([0x4a, 0x03, 0x18, 0x01, 0x00]);
      const result = await api.push({ update, userIds: ['5', BIG, 7n], sessionIds: ['9'], excludeSessions: ['10'] });
      assert.deepEqual(result, { instances: 3 });
      const [sent] = received.splice(0) as [Received];
      assert.equal(sent.path, '/base/v1/push');
      assert.equal(sent.authorization, `Bearer ${KEY}`);
      assert.equal(sent.contentType, 'application/x-protobuf');
      const push = v1.PushRequest.decode(sent.body);
      assert.deepEqual([...push.update], [...update]);
      assert.deepEqual(ids(push.user_ids), ['5', BIG, '7']);
      assert.deepEqual(ids(push.session_ids), ['9']);
      assert.deepEqual(ids(push.exclude_sessions), ['10']);
    } finally {
      await api.close();
    }
  });

  it('pushBatch, disconnect and presence: their paths, bodies and answers in order', async () => {
    const api = new GatewayApi({ url: base, apiKey: KEY });
    try {
      const update = Uint8Array.from([0x4a, 0x00]);
      assert.deepEqual(await api.pushBatch([{ update, userIds: ['1'] }, { update, sessionIds: ['2'] }]), [{ instances: 1 }, { instances: 2 }]);
      assert.deepEqual(await api.disconnect({ userIds: ['3'], code: 4403, reason: 'banned' }), { instances: 2 });
      assert.deepEqual(await api.presence(['11', BIG]), [
        { userId: '11', online: true, sessions: 3 },
        { userId: BIG, online: false, sessions: 0 },
      ]);
      const [batch, disconnect, presence] = received.splice(0) as [Received, Received, Received];
      assert.equal(batch.path, '/base/v1/push/batch');
      assert.equal(v1.PushBatchRequest.decode(batch.body).pushes.length, 2);
      assert.equal(disconnect.path, '/base/v1/disconnect');
      const closing = v1.DisconnectRequest.decode(disconnect.body);
      assert.deepEqual([ids(closing.user_ids), closing.code, closing.reason], [['3'], 4403, 'banned']);
      assert.equal(presence.path, '/base/v1/presence');
      // Kept-alive connections: three calls made one after another did not need three connections.
      assert.ok(new Set([batch.socket, disconnect.socket, presence.socket]).size < 3, 'a connection served more than one call');
    } finally {
      await api.close();
    }
  });

  it('a refusal throws GatewayApiError with the status and the gateway\'s message', async () => {
    const api = new GatewayApi({ url: base, apiKey: 'wrong' });
    try {
      await assert.rejects(api.push({ update: new Uint8Array(), userIds: ['1'] }), (err: unknown) => {
        assert.ok(err instanceof GatewayApiError);
        assert.equal(err.status, 401);
        assert.match(err.message, /wrong API key/);
        return true;
      });
    } finally {
      await api.close();
      received.splice(0);
    }
  });

  it('no gateway listening: GatewayApiError status 0; a malformed id throws before anything is sent', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const api = new GatewayApi({ url: `http://127.0.0.1:${port}`, apiKey: KEY });
    try {
      await assert.rejects(api.presence(['1']), (err: unknown) => err instanceof GatewayApiError && err.status === 0);
      await assert.rejects(api.push({ update: new Uint8Array(), userIds: ['12abc'] }), TypeError);
      await assert.rejects(api.push({ update: new Uint8Array(), userIds: ['-1'] }), TypeError);
    } finally {
      await api.close();
    }
  });
});
