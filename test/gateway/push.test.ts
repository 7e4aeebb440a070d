/**
 * The internal API's push routes (issue 26), across two gateway instances on
 * one Postgres and one Redis: a push posted to instance 1 reaches the target
 * users' and sessions' sockets on instance 2 in a ServerMessage with the
 * connection's next sequence id, never the excluded sessions, in order; the
 * answer counts the instances published to; bad pushes are refused whole;
 * disconnect closes with the given code; presence answers from the entries
 * the instances keep; a missing or wrong key is 401.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Long from 'long';
import { request } from 'undici';
import { osmium as gatewayV1 } from '../../src/gen/backend.js';
import { osmium } from '../../src/gen/osmium.js';
import { guest, signIn, person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { createDatabase, startGateway, type TestGateway } from '../helpers/stack.js';

const v1 = gatewayV1.gateway.v1;
const KEY = 'push-test-api-key-0123456789';

/** An encoded Update{chat_typing} whose bytes say `n` (so order can be read back). */
const typing = (n: number) => osmium.client.updates.Update.encode({ chat_typing: Uint8Array.from([0x18, n]) }).finish();
const typingN = (u: osmium.client.updates.Update.$Properties) => (u.chat_typing as Uint8Array)[1];

async function post(gw: TestGateway, path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) {
  const protobuf = body instanceof Uint8Array;
  const res = await request(`http://127.0.0.1:${gw.app.apiPort}${path}`, {
    method: 'POST',
    headers: { 'content-type': protobuf ? 'application/x-protobuf' : 'application/json', ...headers },
    body: protobuf ? body : JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, bytes, json: protobuf || !bytes.length ? undefined : (JSON.parse(bytes.toString()) as Record<string, unknown>) };
}

describe('push API across two instances', () => {
  let one: TestGateway;
  let two: TestGateway;

  before(async () => {
    const databaseUrl = await createDatabase();
    const env = { API_PORT: '0', API_KEYS: KEY, PRESENCE_REFRESH_MS: '1000' };
    one = await startGateway(env, { databaseUrl });
    // Same Redis prefix: the two instances share live state and the broker.
    two = await startGateway({ ...env, REDIS_PREFIX: one.app.config.REDIS_PREFIX }, { databaseUrl });
  });
  after(async () => {
    await two?.close();
    await one?.close();
  });

  it('refuses a missing or wrong key with 401', async () => {
    assert.equal((await post(one, '/v1/push', {}, {})).status, 401);
    assert.equal((await post(one, '/v1/push', {}, { authorization: 'Bearer wrong-key-wrong-key-wrong' })).status, 401);
  });

  it('delivers to every socket of the users on the other instance, with each connection\'s next sequence id, except excluded sessions', async () => {
    const b = await person(two, { name: 'B' });
    const bOther = await signIn(two, b); // B's second session
    const bThird = await signIn(one, b); // and a third on instance 1
    const c = await guest(two, 'C');
    const update = typing(1);
    const answer = await post(one, '/v1/push', {
      update: Buffer.from(update).toString('base64'),
      user_ids: [b.userId, c.userId],
      exclude_sessions: [bOther.sessionId],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    // B on both instances, C on instance 2.
    assert.deepEqual(answer.json, { instances: 3 });
    for (const who of [b, bThird, c]) {
      const got = await who.client.nextUpdate();
      assert.equal(typingN(got), 1);
      const ids = who.client.serverIds;
      assert.equal(ids.at(-1), ids.at(-2)! + 1, 'the push took the next sequence id');
    }
    await assert.rejects(bOther.client.nextUpdate(300), /no update/);
  });

  it('targets single sessions (protobuf body), in order per user, and a batch in the request\'s order', async () => {
    const d = await person(one, { name: 'D' });
    const dOther = await signIn(two, d);
    const body = v1.PushRequest.encode({ update: typing(2), session_ids: [Long.fromString(dOther.sessionId, true)] }).finish();
    const answer = await post(one, '/v1/push', body);
    assert.equal(answer.status, 200);
    // Published on D's user topic, which both instances hold (a session target counts its user's instances).
    assert.equal(v1.PushResponse.decode(answer.bytes).instances, 2);
    assert.equal(typingN(await dOther.client.nextUpdate()), 2);
    await assert.rejects(d.client.nextUpdate(300), /no update/);

    const batch = await post(one, '/v1/push/batch', {
      pushes: Array.from({ length: 50 }, (_, i) => ({ update: Buffer.from(typing(i + 10)).toString('base64'), user_ids: [d.userId] })),
    });
    assert.equal(batch.status, 200);
    assert.equal((batch.json!.results as unknown[]).length, 50);
    for (const who of [d, dOther]) {
      const seen: number[] = [];
      for (let i = 0; i < 50; i++) seen.push(typingN(await who.client.nextUpdate())!);
      assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => i + 10));
    }
  });

  it('refuses bad pushes whole (nothing published): not an Update, no target, a bad id', async () => {
    const e = await guest(two, 'E');
    const bad = [
      { update: Buffer.from('not protobuf').toString('base64'), user_ids: [e.userId] },
      { update: Buffer.from(Uint8Array.from([0xf8, 0x07, 0x01])).toString('base64'), user_ids: [e.userId] }, // field 127: no known member
      { update: Buffer.from(typing(3)).toString('base64') },
      { update: Buffer.from(typing(3)).toString('base64'), user_ids: ['0'] },
    ];
    for (const push of bad) assert.equal((await post(one, '/v1/push', push)).status, 400, JSON.stringify(push));
    const batch = await post(one, '/v1/push/batch', { pushes: [{ update: Buffer.from(typing(4)).toString('base64'), user_ids: [e.userId] }, bad[0]] });
    assert.equal(batch.status, 400);
    assert.match(String(batch.json!.error), /pushes\[1\]/);
    await assert.rejects(e.client.nextUpdate(300), /no update/);
  });

  it('disconnect closes the sockets with the given code on every instance; gateway codes are refused', async () => {
    const f = await person(one, { name: 'F' });
    const fOther = await signIn(two, f);
    assert.equal((await post(one, '/v1/disconnect', { user_ids: [f.userId], code: 4001, reason: 'x' })).status, 400);
    const answer = await post(one, '/v1/disconnect', { user_ids: [f.userId], code: 4200, reason: 'maintenance' });
    assert.deepEqual(answer.json, { instances: 2 });
    for (const who of [f, fOther]) assert.deepEqual(await who.client.closed, { code: 4200, reason: 'maintenance' });
    // The session stays valid: the token resumes.
    const again = await two.connect();
    assert.equal((await again.request('auth_authorize', { token: f.token })).error, null);
    await again.close();
  });

  it('presence: online users and their sessions, from the entries; after the last socket closes, offline within the grace', async () => {
    const g = await person(one, { name: 'G' });
    await signIn(two, g);
    const h = await guest(one, 'H');
    const nobody = '9007199254740993999';
    const ask = async () => (await post(two, '/v1/presence', { user_ids: [g.userId, nobody, h.userId] })).json!.users as Array<Record<string, unknown>>;
    const users = await eventually(async () => {
      const u = await ask();
      return u[0]!.sessions === 2 && u;
    }, { what: 'G online on two sessions' });
    assert.deepEqual(users, [
      { user_id: g.userId, online: true, sessions: 2 },
      { user_id: nobody, online: false, sessions: 0 },
      { user_id: h.userId, online: true, sessions: 1 },
    ]);
    await h.client.close();
    const started = Date.now();
    await eventually(async () => (await ask())[2]!.online === false, { what: 'H offline once the grace passed' });
    assert.ok(Date.now() - started <= 2_000 + 500, 'offline within twice PRESENCE_REFRESH_MS');
    assert.equal((await post(two, '/v1/presence', { user_ids: [] })).status, 400);
    assert.equal((await post(two, '/v1/presence', { user_ids: Array.from({ length: 1001 }, () => g.userId) })).status, 400);
  });

  it('a user whose last socket here closed is no longer published to', async () => {
    const k = await guest(two, 'K');
    const push = { update: Buffer.from(typing(5)).toString('base64'), user_ids: [k.userId] };
    assert.deepEqual((await post(one, '/v1/push', push)).json, { instances: 1 });
    await k.client.close();
    await eventually(async () => (await post(one, '/v1/push', push)).json!.instances === 0, { what: 'the user topic unsubscribed' });
  });
});
