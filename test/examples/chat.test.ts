/**
 * The chat example (examples/chat/) as its own process on a database of the
 * test stack's Postgres, with this file playing both of its neighbours: the
 * gateway's hop (encoded BackendRequests posted to it, as a gateway forwards
 * client calls) and the gateway's internal API (a stand-in server recording
 * every push). No gateway: what the gateway does with the answers is stage 2.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Long from 'long';
import pg from 'pg';
import { request } from 'undici';
import { osmium as gatewayV1 } from '../../src/gen/backend.js';
import { RPC_RESULT_FIELDS } from '../../src/gen/fields.js';
import { osmium } from '../../examples/chat/src/gen/osmium.js';
import { createDatabase } from '../helpers/stack.js';

const v1 = gatewayV1.gateway.v1;
const { chats, messages, types, updates } = osmium.client;
const SECRET = 'chat-example-test-secret';
const API_KEY = 'chat-example-test-api-key';

/** Users and their sessions, as a gateway would name them (ids past 2^53 on purpose). */
const A = { userId: '9007199254740993001', sessionId: '9007199254740993101' };
const B = { userId: '9007199254740993002', sessionId: '9007199254740993102' };
const C = { userId: '9007199254740993003', sessionId: '9007199254740993103' };
const D = { userId: '9007199254740993004', sessionId: '9007199254740993104' };
const E = { userId: '9007199254740993005', sessionId: '9007199254740993105' };
type User = typeof A;

const long = (id: string) => Long.fromString(id, true);
const text = (id: Long | number | null | undefined) => (id === null || id === undefined ? '0' : Long.fromValue(id).toUnsigned().toString());

interface RecordedPush {
  update: osmium.client.updates.Update;
  userIds: string[];
  sessionIds: string[];
  excludeSessions: string[];
}

/** The gateway's internal API, standing in: records pushes, answers one instance per target. */
async function startFakeGatewayApi(): Promise<{ server: Server; url: string; pushes: RecordedPush[]; refused: number }> {
  const state = { pushes: [] as RecordedPush[], refused: 0 };
  const record = (push: gatewayV1.gateway.v1.PushRequest): number => {
    state.pushes.push({
      update: updates.Update.decode(push.update),
      userIds: push.user_ids.map(text),
      sessionIds: push.session_ids.map(text),
      excludeSessions: push.exclude_sessions.map(text),
    });
    return push.user_ids.length + push.session_ids.length;
  };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (req.headers.authorization !== `Bearer ${API_KEY}`) {
      state.refused++;
      return res.writeHead(401).end();
    }
    const reply = (bytes: Uint8Array) => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(bytes);
    if (req.url === '/v1/push') return reply(v1.PushResponse.encode({ instances: record(v1.PushRequest.decode(body)) }).finish());
    if (req.url === '/v1/push/batch') {
      const results = v1.PushBatchRequest.decode(body).pushes.map((p) => ({ instances: record(p as gatewayV1.gateway.v1.PushRequest) }));
      return reply(v1.PushBatchResponse.encode({ results }).finish());
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get pushes() {
      return state.pushes;
    },
    get refused() {
      return state.refused;
    },
  };
}

/** Starts the example as `npm run example:chat:backend` does and waits for its "listening" line. */
async function startChatBackend(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; output: string[] }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'examples/chat/src/main.ts'], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the chat backend did not start within 60 s:\n${output.join('\n')}`));
    }, 60_000);
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        output.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number };
          if (entry.msg === 'chat backend listening' && entry.port) {
            clearTimeout(timer);
            resolve(entry.port);
          }
        } catch {
          /* not JSON */
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(String(chunk)));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the chat backend exited with ${code}:\n${output.join('\n')}`));
    });
  });
  return { child, url: `http://127.0.0.1:${port}`, output };
}

describe('chat example backend', () => {
  let api: Awaited<ReturnType<typeof startFakeGatewayApi>>;
  let backend: Awaited<ReturnType<typeof startChatBackend>>;
  let traces = 0;
  let databaseUrl: string;

  before(async () => {
    api = await startFakeGatewayApi();
    databaseUrl = await createDatabase();
    backend = await startChatBackend({ DATABASE_URL: databaseUrl, GATEWAY_API_URL: api.url, GATEWAY_API_KEY: API_KEY, BACKEND_SECRET: SECRET });
  });
  after(async () => {
    if (backend?.child.exitCode === null) {
      backend.child.kill('SIGTERM');
      await once(backend.child, 'exit');
    }
    api?.server.close();
  });

  /** Posts a BackendRequest as the gateway does; returns the HTTP status and the decoded BackendResponse. */
  async function hop(body: gatewayV1.gateway.v1.BackendRequest.$Properties, secret = SECRET) {
    const response = await request(`${backend.url}/osmium/v1/call`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/x-protobuf', traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01` },
      body: v1.BackendRequest.encode({ trace_id: (++traces).toString(16).padStart(32, '0'), ...body }).finish(),
    });
    const bytes = new Uint8Array(await response.body.arrayBuffer());
    return { status: response.statusCode, answer: response.statusCode === 200 ? v1.BackendResponse.decode(bytes) : undefined };
  }

  /** Forwards one client call of `user`; returns the backend's answer (and the pushes it made meanwhile). */
  async function call(user: User, method: string, field: number, payload: Uint8Array) {
    const before = api.pushes.length;
    const { status, answer } = await hop({
      caller: { user_id: long(user.userId), session_id: long(user.sessionId), device_type: 'test', ip: '127.0.0.1' },
      forward: { method_field: field, method_name: method, payload, req_id: 1 },
    });
    assert.equal(status, 200);
    return { answer: answer!, pushes: api.pushes.slice(before) };
  }

  const result = (answer: gatewayV1.gateway.v1.BackendResponse, field: number) => {
    assert.equal(answer.outcome, 'result', `an answer, not ${JSON.stringify(answer.error ?? answer.disconnect)}`);
    assert.equal(answer.result!.field, field);
    return answer.result!.payload!;
  };
  const refusal = (answer: gatewayV1.gateway.v1.BackendResponse) => {
    assert.equal(answer.outcome, 'error');
    return [answer.error!.code, answer.error!.message] as const;
  };

  const groupRef = (groupId: string) => ({ group: { group_id: long(groupId) } });
  const userRef = (userId: string) => ({ user: { user_id: long(userId) } });
  const send = (user: User, chatRef: object, message: string, clientId?: string) =>
    call(user, 'messages_send_message', 4, messages.SendMessage.encode({ chat_ref: chatRef, message, client_id: clientId ? long(clientId) : null }).finish());
  const history = async (user: User, chatRef: object, extra: object = {}) => {
    const { answer } = await call(user, 'messages_get_history', 5, messages.GetHistory.encode({ chat_ref: chatRef, ...extra }).finish());
    return messages.Messages.decode(result(answer, RPC_RESULT_FIELDS.messages)).messages;
  };

  let groupId: string;

  it('keeps its tables in a schema of its own (chat_example), so it can share the gateway\'s database', async () => {
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'chat_example' ORDER BY table_name",
      );
      assert.deepEqual(rows.map((r) => r.table_name), ['chat_members', 'chats', 'messages', 'migrations']);
      const outside = await db.query("SELECT 1 FROM information_schema.tables WHERE table_schema = 'public'");
      assert.equal(outside.rowCount, 0);
    } finally {
      await db.end();
    }
  });

  it('refuses a call without the secret or with a wrong one (401), and serves the right one', async () => {
    assert.equal((await hop({ group_membership: { group_id: long('1') } }, 'wrong-secret-of-the-same-size')).status, 401);
    const response = await request(`${backend.url}/osmium/v1/call`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array() });
    await response.body.arrayBuffer();
    assert.equal(response.statusCode, 401);
    assert.equal((await hop({ group_membership: { group_id: long('1') } })).status, 200);
  });

  it('createChat makes a group: answers types.Group (the creator owns it) and pushes the group to the members', async () => {
    const { answer, pushes } = await call(A, 'chats_create_chat', 50, chats.CreateChat.encode({ name: ' Team ', users: [{ user_id: long(B.userId) }, { user_id: long(A.userId) }] }).finish());
    const group = types.Group.decode(result(answer, RPC_RESULT_FIELDS.group));
    groupId = text(group.id);
    assert.equal(group.name, 'Team');
    assert.equal(group.owner, true);
    assert.deepEqual(group.participant_ids.map(text).sort(), [A.userId, B.userId]);
    const toB = pushes.find((p) => p.userIds.includes(B.userId))!;
    assert.equal(toB.update.update, 'group');
    assert.equal(text(toB.update.group!.group!.id), groupId);
    assert.equal(toB.update.group!.group!.owner, false);
    const toA = pushes.find((p) => p.userIds.includes(A.userId))!;
    assert.equal(toA.update.group!.group!.owner, true);
    assert.deepEqual(toA.excludeSessions, [A.sessionId], "the creating session has the answer; A's other sessions get the push");
  });

  it('sendMessage to a group: answers SentMessage, pushes message_created with the client_id to the members, the sending session excluded', async () => {
    const { answer, pushes } = await send(A, groupRef(groupId), 'hello team', '777');
    const sent = messages.SentMessage.decode(result(answer, RPC_RESULT_FIELDS.sent_message));
    const messageId = text(sent.message_id);
    assert.notEqual(messageId, '0');
    assert.equal(pushes.length, 2);
    for (const push of pushes) {
      assert.equal(push.update.update, 'message_created');
      const created = push.update.message_created!;
      assert.equal(text(created.client_id), '777');
      assert.equal(text(created.message!.message_id), messageId);
      assert.equal(text(created.message!.author_id), A.userId);
      assert.equal(created.message!.message, 'hello team');
      assert.equal(text(created.message!.chat_ref!.group!.group_id), groupId);
      // Whoever receives it, the sending socket never does: its session is excluded wherever it is named.
      assert.deepEqual(push.excludeSessions.length ? push.excludeSessions : [A.sessionId], [A.sessionId]);
    }
    assert.deepEqual(pushes.flatMap((p) => p.userIds).sort(), [A.userId, B.userId]);
    assert.deepEqual(pushes.find((p) => p.userIds.includes(A.userId))!.excludeSessions, [A.sessionId]);
  });

  it('sendMessage again with the same client_id is the same message: same id, nothing pushed twice', async () => {
    const first = await history(A, groupRef(groupId));
    const { answer, pushes } = await send(A, groupRef(groupId), 'hello team', '777');
    assert.equal(text(messages.SentMessage.decode(result(answer, RPC_RESULT_FIELDS.sent_message)).message_id), text(first.at(-1)!.message_id));
    assert.equal(pushes.length, 0);
    assert.equal((await history(A, groupRef(groupId))).length, first.length);
  });

  it('sendMessage to a user (a direct chat): each side gets message_created naming the other as the chat', async () => {
    const { answer, pushes } = await send(A, userRef(C.userId), 'hi C', '778');
    const messageId = text(messages.SentMessage.decode(result(answer, RPC_RESULT_FIELDS.sent_message)).message_id);
    const toC = pushes.find((p) => p.userIds.includes(C.userId))!;
    assert.deepEqual(toC.userIds, [C.userId]);
    assert.equal(text(toC.update.message_created!.message!.chat_ref!.user!.user_id), A.userId);
    assert.equal(text(toC.update.message_created!.message!.message_id), messageId);
    assert.equal(text(toC.update.message_created!.client_id), '778');
    const toA = pushes.find((p) => p.userIds.includes(A.userId))!;
    assert.deepEqual(toA.excludeSessions, [A.sessionId]);
    assert.equal(text(toA.update.message_created!.message!.chat_ref!.user!.user_id), C.userId);
    assert.equal(pushes.length, 2);
    // C answers: the same chat, from the other side.
    await send(C, userRef(A.userId), 'hi A');
    assert.deepEqual((await history(A, userRef(C.userId))).map((m) => [m.message, text(m.author_id), text(m.chat_ref!.user!.user_id)]), [
      ['hi C', A.userId, C.userId],
      ['hi A', C.userId, C.userId],
    ]);
    assert.deepEqual((await history(C, userRef(A.userId))).map((m) => text(m.chat_ref!.user!.user_id)), [A.userId, A.userId]);
  });

  it('getHistory returns messages oldest first, and pages with limit, before and since', async () => {
    for (const n of [1, 2, 3, 4]) await send(B, groupRef(groupId), `message ${n}`);
    const all = await history(B, groupRef(groupId));
    assert.deepEqual(all.map((m) => m.message), ['hello team', 'message 1', 'message 2', 'message 3', 'message 4']);
    const ids = all.map((m) => BigInt(text(m.message_id)));
    assert.deepEqual(ids, [...ids].sort((a, b) => (a < b ? -1 : 1)), 'ids grow with time');
    assert.deepEqual((await history(B, groupRef(groupId), { limit: 2 })).map((m) => m.message), ['message 3', 'message 4']);
    assert.deepEqual((await history(B, groupRef(groupId), { limit: 2, before: all[3]!.message_id })).map((m) => m.message), ['message 1', 'message 2']);
    assert.deepEqual((await history(B, groupRef(groupId), { limit: 2, since: all[1]!.message_id })).map((m) => m.message), ['message 2', 'message 3']);
  });

  it('getHistory and sendMessage in a group the caller is not in are 403, as for a group that does not exist', async () => {
    const { answer } = await call(E, 'messages_get_history', 5, messages.GetHistory.encode({ chat_ref: groupRef(groupId) }).finish());
    assert.deepEqual(refusal(answer), [403, 'you are not a participant of that group']);
    assert.deepEqual(refusal((await send(E, groupRef('12345'), 'x')).answer), [403, 'you are not a participant of that group']);
  });

  it('getChats lists the caller\'s chats, latest message first, with the groups and last messages', async () => {
    const { answer } = await call(A, 'chats_get_chats', 11, chats.GetChats.encode({}).finish());
    const list = chats.Chats.decode(result(answer, RPC_RESULT_FIELDS.chats));
    assert.deepEqual(list.chats.map((c) => (c.chat_ref!.ref === 'group' ? `group ${text(c.chat_ref!.group!.group_id)}` : `user ${text(c.chat_ref!.user!.user_id)}`)), [
      `group ${groupId}`,
      `user ${C.userId}`,
    ]);
    assert.deepEqual(list.groups.map((g) => [text(g.id), g.name, g.owner]), [[groupId, 'Team', true]]);
    assert.deepEqual(list.messages.map((m) => m.message), ['message 4', 'hi A']);
    assert.equal(text(list.chats[0]!.last_message_id), text(list.messages[0]!.message_id));
    const limited = chats.Chats.decode(result((await call(A, 'chats_get_chats', 11, chats.GetChats.encode({ limit: 1 }).finish())).answer, RPC_RESULT_FIELDS.chats));
    assert.equal(limited.chats.length, 1);
  });

  it('addChatMember adds to a group (pushing the group to every member), 409 the second time, 403 from outside', async () => {
    const add = (by: User, userId: string) => call(by, 'chats_add_chat_member', 96, chats.AddChatMember.encode({ chat_ref: groupRef(groupId), user_id: long(userId) }).finish());
    const { answer, pushes } = await add(A, D.userId);
    assert.equal(answer.result!.field, 0, 'answers ()');
    assert.deepEqual(pushes.flatMap((p) => p.userIds).sort(), [A.userId, B.userId, D.userId]);
    for (const push of pushes) assert.deepEqual(push.update.group!.group!.participant_ids!.map(text).sort(), [A.userId, B.userId, D.userId]);
    assert.deepEqual(refusal((await add(B, D.userId)).answer), [409, 'already a participant of that group']);
    assert.equal(refusal((await add(E, E.userId)).answer)[0], 403);
    assert.equal(refusal((await call(A, 'chats_add_chat_member', 96, chats.AddChatMember.encode({ chat_ref: userRef(C.userId), user_id: long(D.userId) }).finish())).answer)[0], 400);
  });

  it('setTyping pushes chat_typing to the other members of a group, and to the other side of a direct chat', async () => {
    const inGroup = await call(B, 'chats_set_typing', 28, chats.SetTyping.encode({ chat_ref: groupRef(groupId), typing: true }).finish());
    assert.equal(inGroup.answer.result!.field, 0);
    assert.equal(inGroup.pushes.length, 1);
    const [typing] = inGroup.pushes as [RecordedPush];
    assert.deepEqual(typing.userIds.sort(), [A.userId, D.userId]);
    assert.equal(typing.update.update, 'chat_typing');
    assert.equal(text(typing.update.chat_typing!.user_id), B.userId);
    assert.equal(typing.update.chat_typing!.typing, true);
    assert.equal(text(typing.update.chat_typing!.chat_ref!.group!.group_id), groupId);
    const direct = await call(A, 'chats_set_typing', 28, chats.SetTyping.encode({ chat_ref: userRef(C.userId), typing: true, action: chats.TypingAction.UPLOAD_IMAGE }).finish());
    const [toC] = direct.pushes as [RecordedPush];
    assert.deepEqual(toC.userIds, [C.userId]);
    assert.equal(text(toC.update.chat_typing!.chat_ref!.user!.user_id), A.userId);
    assert.equal(toC.update.chat_typing!.action, chats.TypingAction.UPLOAD_IMAGE);
  });

  it('the group_membership hook: member or not, owner or not, the group itself; found false for an unknown group', async () => {
    const ask = async (id: string, userId: string) => (await hop({ group_membership: { group_id: long(id), user_id: long(userId) } })).answer!.group_membership!;
    const owner = await ask(groupId, A.userId);
    assert.deepEqual([owner.found, owner.member, owner.owner], [true, true, true]);
    assert.equal(types.Group.decode(owner.group!).name, 'Team');
    const member = await ask(groupId, D.userId);
    assert.deepEqual([member.found, member.member, member.owner], [true, true, false]);
    const outsider = await ask(groupId, E.userId);
    assert.deepEqual([outsider.found, outsider.member], [true, false]);
    const nobody = await ask(groupId, '0');
    assert.deepEqual(types.Group.decode(nobody.group!).participant_ids.map(text).sort(), [A.userId, B.userId, D.userId]);
    assert.equal((await ask('4242', A.userId)).found, false);
  });

  it('the group_join hook adds the user once (idempotent), pushes the group, and refuses an unknown group with 404', async () => {
    const join = (id: string) =>
      hop({
        caller: { user_id: long(E.userId), session_id: long(E.sessionId) },
        group_join: { group_id: long(id), user_id: long(E.userId), invite_code: 'AbCdEfGhIj', invite_creator_id: long(A.userId) },
      });
    const before = api.pushes.length;
    const first = (await join(groupId)).answer!;
    assert.equal(first.outcome, 'group_joined');
    assert.equal(first.group_joined!.already_member, false);
    assert.ok(types.Group.decode(first.group_joined!.group!).participant_ids.map(text).includes(E.userId));
    const pushed = api.pushes.slice(before);
    assert.deepEqual(pushed.flatMap((p) => p.userIds).sort(), [A.userId, B.userId, D.userId, E.userId]);
    // The joining socket too: its auth.useInvite answer is () and carries no group.
    assert.deepEqual(pushed.flatMap((p) => p.excludeSessions), []);
    const again = api.pushes.length;
    const second = (await join(groupId)).answer!;
    assert.equal(second.group_joined!.already_member, true);
    assert.equal(api.pushes.length, again, 'nothing changed, nothing pushed');
    // Now a participant: E reads the group's messages.
    assert.equal((await history(E, groupRef(groupId))).length, 5);
    assert.deepEqual(refusal((await join('4242')).answer!), [404, 'that group no longer exists']);
  });

  it('a request that is not its method\'s message is 400; a method it does not serve is 501', async () => {
    assert.equal(refusal((await call(A, 'messages_send_message', 4, Uint8Array.from([0x0a, 0xff]))).answer)[0], 400);
    assert.equal(refusal((await send(A, groupRef(groupId), '   ')).answer)[0], 400);
    assert.equal(refusal((await call(A, 'messages_delete_message', 17, new Uint8Array())).answer)[0], 501);
    assert.equal(api.refused, 0, 'every push carried the API key');
  });
});

describe('chat example backend: settings', () => {
  it('checks its settings at start: a missing or weak one stops it with one line naming each', async () => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'examples/chat/src/main.ts'], {
      env: { ...process.env, DATABASE_URL: 'postgres://127.0.0.1/x', GATEWAY_API_URL: 'http://127.0.0.1:1', GATEWAY_API_KEY: 'short', BACKEND_SECRET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 1);
    assert.match(stderr, /^chat backend: bad settings: .*GATEWAY_API_KEY: GATEWAY_API_KEY must be at least 16 characters.*BACKEND_SECRET/m);
  });
});
