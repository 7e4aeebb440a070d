/**
 * The pieces of bench figures 9 to 11 against a real gateway, tiny: the
 * minimal backend (createBackendHandler) behind the gateway and behind the
 * bare forwarder, the push API and the bare push server delivering the same
 * frames, introspection and the bare HTTP server answering as many bytes.
 * Nothing here asserts a duration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { osmium as backendProto } from '../../src/gen/backend.js';
import { idToWire } from '../../src/protocol/codec.js';
import { BENCH_API_KEY, BENCH_BACKEND_SECRET, apiPool, httpCalls, markedUpdate, markerOf, postOnce, sendMessagePayload } from '../../scripts/bench/apiLoad.js';
import { BenchSocket, authorizeEach, closeAll, openInitialized, pacedRequests, requestsOverOpenSockets, type RequestKind } from '../../scripts/bench/driver.js';
import { spawnServerScript, type Measured } from '../../scripts/bench/processes.js';
import { mintGuestSessions, type BenchSession } from '../../scripts/bench/sessions.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

const v1 = backendProto.gateway.v1;

/** The next pushed Update on a socket. */
function nextUpdate(socket: BenchSocket): Promise<Parameters<NonNullable<BenchSocket['onUpdate']>>[0]> {
  return new Promise((resolve) => {
    socket.onUpdate = (update) => {
      socket.onUpdate = null;
      resolve(update);
    };
  });
}

describe('bench figures 9-11 against a real gateway', () => {
  let backend: Measured;
  let gateway: TestGateway;
  let sessions: BenchSession[];
  before(async () => {
    backend = await spawnServerScript('scripts/bench/benchBackend.ts', { BENCH_BACKEND_SECRET });
    gateway = await startGateway({
      LOG_LEVEL: 'warn',
      RATE_LIMITS: 'off',
      BACKEND_URL: `http://127.0.0.1:${backend.port}`,
      BACKEND_SECRET: BENCH_BACKEND_SECRET,
      API_PORT: '0',
      API_KEYS: BENCH_API_KEY,
    });
    sessions = await mintGuestSessions(gateway.url, 4, 2, 2);
  });
  after(async () => {
    await gateway.close();
    await backend.stop();
  });

  it('9: sendMessage reaches the bench backend through the gateway and through the bare forwarder, and both answer its SentMessage', async () => {
    const bare = await spawnServerScript('scripts/bench/bareForwarder.ts', { BARE_BACKEND_URL: `http://127.0.0.1:${backend.port}`, BARE_BACKEND_SECRET: BENCH_BACKEND_SECRET });
    const gw = await openInitialized(gateway.url, 2);
    const users = await authorizeEach(gw, sessions.slice(0, 2).map((s) => s.token));
    const plain = await openInitialized(bare.url, 2);
    try {
      assert.equal(new Set(users).size, 2, 'each socket is its own user');
      const answers: Uint8Array[] = [];
      let clientId = 1n;
      const kind: RequestKind = {
        get body() {
          return { messages_send_message: sendMessagePayload(clientId++) };
        },
        ok: (result) => {
          if (result.error || !(result.sent_message instanceof Uint8Array)) return false;
          answers.push(result.sent_message);
          return true;
        },
      };
      const latencies: number[] = [];
      assert.deepEqual(pick(await requestsOverOpenSockets(gw, 10, 2, kind, latencies)), { ok: 10, errors: 0 });
      assert.deepEqual(pick(await requestsOverOpenSockets(plain, 10, 2, kind)), { ok: 10, errors: 0 });
      assert.equal(latencies.length, 10);
      // SentMessage { fixed64 message_id = 1 }: the backend's answer, spliced as it was sent, on both paths.
      assert.ok(answers.every((a) => a.length === 9 && a[0] === 0x09), 'every answer is the backend SentMessage');
      const [g, b] = await pacedRequests([gw, plain], 6, 100, kind);
      assert.deepEqual([g!.latencies.length, b!.latencies.length, g!.outcome.ok, b!.outcome.ok], [6, 6, 6, 6]);
    } finally {
      closeAll(gw);
      closeAll(plain);
      await bare.stop();
    }
  });

  it('10: a push through the API and through the bare push server reaches the user with the same update, marked', async () => {
    const bare = await spawnServerScript('scripts/bench/bareApi.ts');
    const [socket] = await openInitialized(gateway.url, 1);
    const [userId] = await authorizeEach([socket!], [sessions[2]!.token]);
    const plain = await BenchSocket.open(`${bare.url}/?u=${userId}`);
    const api = apiPool(gateway.app.apiPort!, 1);
    const bareApi = apiPool(bare.port, 1);
    try {
      const update = markedUpdate(41);
      const viaGateway = nextUpdate(socket!);
      await postOnce(api, { path: '/v1/push/batch', body: v1.PushBatchRequest.encode({ pushes: [{ update, user_ids: [idToWire(userId!)] }] }).finish(), contentType: 'application/x-protobuf' });
      const viaBare = nextUpdate(plain);
      await postOnce(bareApi, { path: '/v1/push', body: v1.PushRequest.encode({ update, user_ids: [idToWire(userId!)] }).finish(), contentType: 'application/x-protobuf' }, null);
      const [g, b] = await Promise.all([viaGateway, viaBare]);
      assert.equal(markerOf(g), 41);
      assert.equal(markerOf(b), 41);
      assert.deepEqual(Buffer.from(b.message_created!), Buffer.from(g.message_created!), 'the same update bytes on both');
    } finally {
      socket!.terminate();
      plain.terminate();
      await api.close();
      await bareApi.close();
      await bare.stop();
    }
  });

  it('11: introspection answers active for a live token, and the bare server answers as many bytes', async () => {
    const api = apiPool(gateway.app.apiPort!, 2);
    const call = () => ({ path: '/v1/sessions/introspect', body: JSON.stringify({ token: sessions[3]!.token }), contentType: 'application/json' });
    const answer = await postOnce(api, call());
    assert.equal((JSON.parse(answer.toString('utf8')) as { active: boolean }).active, true);
    const forged = await postOnce(api, { ...call(), body: JSON.stringify({ token: `${sessions[3]!.token.slice(0, -2)}xx` }) });
    assert.deepEqual(JSON.parse(forged.toString('utf8')), { active: false });
    const bare = await spawnServerScript('scripts/bench/bareApi.ts', { BARE_INTROSPECT_BYTES: String(answer.length) });
    const bareApi = apiPool(bare.port, 2);
    try {
      const sizes = new Set<number>();
      const outcome = await httpCalls(bareApi, 4, 2, call, (status, body) => status === 200 && sizes.add(body.length) !== undefined, null);
      assert.equal(outcome.ok, 4);
      assert.deepEqual([...sizes], [answer.length]);
      assert.equal((await httpCalls(api, 4, 2, call, (status, body) => status === 200 && body.includes('"active":true'))).ok, 4);
    } finally {
      await api.close();
      await bareApi.close();
      await bare.stop();
    }
  });
});

function pick(o: { ok: number; errors: number }) {
  return { ok: o.ok, errors: o.errors };
}
