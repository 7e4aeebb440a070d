/**
 * The chat working end to end (issue 26): two gateway instances on one
 * Postgres and one Redis, the example backend (examples/chat) as a process of
 * its own, real clients over WebSocket. A on instance 1 writes to a group
 * with B (instance 2) and to C directly; B and C get message_created once,
 * A's other session too, the sending socket never (the official SDK keeps no
 * optimistic copy to reconcile an echo with); getHistory is in order; typing
 * reaches B; the backend killed mid-traffic gives 503 within 100 ms and
 * closes no socket, and after a restart the next send works; a backend that
 * stops answering gives 504 at the timeout; the push API wants its key; a
 * caller forged into a client frame changes nothing.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import getPort from 'get-port';
import Long from 'long';
import protobuf from 'protobufjs/minimal.js';
import { request } from 'undici';
import type { Update } from '../../src/client/client.js';
import { osmium as gatewayV1 } from '../../src/gen/backend.js';
import { CLIENT_METHOD_FIELDS } from '../../src/gen/fields.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { osmium } from '../../examples/chat/src/gen/osmium.js';
import { guest, person, signIn, type Account } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { atOnceBoundMs } from '../helpers/latency.js';
import { assertRpcError } from '../helpers/results.js';
import { createDatabase, startGateway, type TestGateway } from '../helpers/stack.js';
import { startChatBackend, stopChatBackend, updatesUntil } from './chatBackend.js';

const { chats, messages, types, updates } = osmium.client;
const v1 = gatewayV1.gateway.v1;
const SECRET = 'end-to-end-backend-secret-0123';
const API_KEY = 'end-to-end-api-key-0123456789';
// The default: a cold backend's first call (its own Postgres connection) took over 1 s on a loaded machine.
const TIMEOUT_MS = 3_000;

const long = (id: string) => Long.fromString(id, true);
const text = (id: Long | number | null | undefined) => (id === null || id === undefined ? '0' : Long.fromValue(id).toUnsigned().toString());

const created = (u: Update) => (u.message_created ? updates.UpdateMessageCreated.decode(u.message_created as Uint8Array) : null);

describe('the chat example end to end: two gateway instances, the example backend as its own process', () => {
  let one: TestGateway;
  let two: TestGateway;
  let backend: ChildProcess;
  let backendEnv: Record<string, string>;
  let sentinel = 200;

  before(async () => {
    const databaseUrl = await createDatabase();
    const backendPort = await getPort({ host: '127.0.0.1' });
    const env = {
      BACKEND_URL: `http://127.0.0.1:${backendPort}`, BACKEND_SECRET: SECRET, BACKEND_TIMEOUT_MS: String(TIMEOUT_MS),
      API_PORT: '0', API_KEYS: API_KEY,
    };
    one = await startGateway(env, { databaseUrl });
    two = await startGateway({ ...env, REDIS_PREFIX: one.app.config.REDIS_PREFIX }, { databaseUrl });
    backendEnv = {
      PORT: String(backendPort), DATABASE_URL: databaseUrl, GATEWAY_API_URL: `http://127.0.0.1:${one.app.apiPort}`,
      GATEWAY_API_KEY: API_KEY, BACKEND_SECRET: SECRET,
    };
    backend = await startChatBackend(backendEnv);
  });
  after(async () => {
    await stopChatBackend(backend);
    await two?.close();
    await one?.close();
  });

  /** A push through the API of instance 1 that every target sees after whatever the backend pushed before. */
  async function pushSentinel(...to: Account[]): Promise<(u: Update) => boolean> {
    const n = ++sentinel % 256;
    const update = osmium.client.updates.Update.encode({ chat_typing: { user_id: long('1'), typing: n % 2 === 0, action: n } as never }).finish();
    const res = await request(`http://127.0.0.1:${one.app.apiPort}/v1/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ update: Buffer.from(update).toString('base64'), user_ids: [...new Set(to.map((a) => a.userId))] }),
    });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    return (u) => !!u.chat_typing && updates.UpdateChatTyping.decode(u.chat_typing as Uint8Array).action === n;
  }

  const send = (who: Account, chatRef: object, message: string, clientId?: string) =>
    who.client.request('messages_send_message', messages.SendMessage.encode({ chat_ref: chatRef, message, client_id: clientId ? long(clientId) : null }).finish() as never);
  const history = async (who: Account, chatRef: object) => {
    const result = await who.client.request('messages_get_history', messages.GetHistory.encode({ chat_ref: chatRef }).finish() as never);
    assert.equal(result.error, null, JSON.stringify(result.error));
    return messages.Messages.decode(result.messages as Uint8Array).messages;
  };

  let a: Account;
  let aOther: Account;
  let b: Account;
  let c: Account;
  let groupRef: object;

  it('A writes to a group with B on the other instance and to C: each gets message_created once, A\'s other session too, the sending socket never', async () => {
    const aPerson = await person(one, { name: 'A' });
    a = aPerson;
    aOther = await signIn(two, aPerson);
    b = await guest(two, 'B');
    c = await guest(one, 'C');
    const group = await a.client.request('chats_create_chat', chats.CreateChat.encode({ name: 'Team', users: [{ user_id: long(b.userId) }] }).finish() as never);
    assert.equal(group.error, null, JSON.stringify(group.error));
    const groupId = text(group.group!.id as never);
    groupRef = { group: { group_id: long(groupId) } };

    const toGroup = await send(a, groupRef, 'hello team', '501');
    assert.equal(toGroup.error, null, JSON.stringify(toGroup.error));
    const groupMessageId = text(messages.SentMessage.decode(toGroup.sent_message as Uint8Array).message_id);
    const toC = await send(a, { user: { user_id: long(c.userId) } }, 'hello C', '502');
    assert.equal(toC.error, null);
    const directMessageId = text(messages.SentMessage.decode(toC.sent_message as Uint8Array).message_id);

    const last = await pushSentinel(a, b, c);
    const createdFor = async (who: Account) => (await updatesUntil(who.client, last)).map(created).filter((m) => m !== null);
    const [forA, forAOther, forB, forC] = await Promise.all([createdFor(a), createdFor(aOther), createdFor(b), createdFor(c)]);
    assert.deepEqual(forA, [], 'the sending socket has its SentMessage, no echo');
    assert.deepEqual(forB.map((m) => [text(m.message!.message_id), m.message!.message, text(m.client_id)]), [[groupMessageId, 'hello team', '501']]);
    assert.deepEqual(forC.map((m) => [text(m.message!.message_id), text(m.message!.chat_ref!.user!.user_id)]), [[directMessageId, a.userId]]);
    assert.deepEqual(forAOther.map((m) => text(m.message!.message_id)), [groupMessageId, directMessageId]);
  });

  it('getHistory returns the messages in order; typing reaches B', async () => {
    for (const n of [1, 2, 3]) assert.equal((await send(b, groupRef, `reply ${n}`)).error, null);
    assert.deepEqual((await history(a, groupRef)).map((m) => m.message), ['hello team', 'reply 1', 'reply 2', 'reply 3']);
    assert.equal((await a.client.request('chats_set_typing', chats.SetTyping.encode({ chat_ref: groupRef, typing: true }).finish() as never)).error, null);
    const typing = await updatesUntil(b.client, (u) => !!u.chat_typing && text(updates.UpdateChatTyping.decode(u.chat_typing as Uint8Array).user_id) === a.userId);
    const seen = updates.UpdateChatTyping.decode(typing.at(-1)!.chat_typing as Uint8Array);
    assert.equal(text(seen.chat_ref!.group!.group_id), text((groupRef as { group: { group_id: Long } }).group.group_id));
  });

  it('a caller forged into a client frame changes nothing: the message is the socket\'s user\'s', async () => {
    const payload = messages.SendMessage.encode({ chat_ref: groupRef, message: 'who am I' }).finish();
    const forged = v1.Caller.encode({ user_id: long(b.userId), session_id: long(b.sessionId) }).finish();
    const w = protobuf.Writer.create();
    w.uint32((150 << 3) | 2).bytes(forged); // an unknown ClientMessage field holding a Caller
    w.uint32(8).uint32(4242);
    w.uint32((CLIENT_METHOD_FIELDS.messages_send_message << 3) | 2).bytes(payload);
    const answersBefore = c.client.serverIds.length;
    c.client.sendRaw(w.finish()); // C sends to B's group, claiming to be B
    await eventually(() => c.client.serverIds.length > answersBefore, { what: 'the answer to the forged frame' });
    // C is not in the group: whatever the frame claimed, C's own rights applied.
    assertRpcError(await c.client.request('messages_get_history', messages.GetHistory.encode({ chat_ref: groupRef }).finish() as never), 403);
    const inGroup = await history(b, groupRef);
    assert.ok(!inGroup.some((m) => m.message === 'who am I'), 'nothing was written as B');
  });

  it('the push API refuses a missing or a wrong key', async () => {
    for (const authorization of [undefined, 'Bearer not-the-key-not-the-key']) {
      const res = await request(`http://127.0.0.1:${one.app.apiPort}/v1/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: '{}',
      });
      assert.equal(res.statusCode, 401);
      await res.body.dump();
    }
  });

  it('a backend that stops answering gives 504 at BACKEND_TIMEOUT_MS; killed mid-traffic, 503 within 100 ms and no socket closes; restarted, the next send works', async () => {
    backend.kill('SIGSTOP');
    const started = performance.now();
    assertRpcError(await send(a, groupRef, 'into the void'), ErrorCode.GATEWAY_TIMEOUT);
    const waited = performance.now() - started;
    assert.ok(waited >= TIMEOUT_MS - 20 && waited < TIMEOUT_MS + 1_000, `504 after ${waited} ms`);
    backend.kill('SIGCONT');
    assert.equal((await send(a, groupRef, 'back')).error, null);

    // Traffic in flight while the backend dies.
    const traffic = Array.from({ length: 20 }, (_, i) => send(i % 2 ? b : a, groupRef, `busy ${i}`));
    backend.kill('SIGKILL');
    await once(backend, 'exit');
    for (const result of await Promise.all(traffic)) assert.ok([0, ErrorCode.UNAVAILABLE].includes(result.error?.error_code ?? 0), JSON.stringify(result.error));
    for (let i = 0; i < 10; i++) {
      const bound = await atOnceBoundMs(a.client);
      const t = performance.now();
      assertRpcError(await send(a, groupRef, 'down'), ErrorCode.UNAVAILABLE);
      const waited = performance.now() - t;
      assert.ok(waited < bound, `503 after ${waited} ms (bound ${bound} ms: 100 ms plus the machine's delay on a local refusal)`);
    }
    for (const who of [a, aOther, b, c]) assert.ok(who.client.isOpen, 'no socket closed');
    assert.equal((await a.client.request('auth_get_sessions', {})).error, null, 'auth keeps working');

    backend = await startChatBackend(backendEnv);
    const again = await send(a, groupRef, 'after the restart');
    assert.equal(again.error, null, JSON.stringify(again.error));
  });
});
