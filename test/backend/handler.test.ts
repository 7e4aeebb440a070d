/**
 * The backend helper's request handler (src/backend/handler.ts), as a gateway
 * reaches it: real HTTP POSTs of encoded BackendRequests to a server in this
 * process. No gateway, no database.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, describe, it, mock } from 'node:test';
import Long from 'long';
import { request } from 'undici';
import { BackendError, CALL_PATH, createBackendHandler, type BackendHandlerOptions, type ForwardedCallContext } from '../../src/backend/index.js';
import { osmium } from '../../src/gen/backend.js';
import { eventually } from '../helpers/eventually.js';

const v1 = osmium.gateway.v1;
const SECRET = 'test-secret-0123456789';
/** Above 2^53: an id a JS number would corrupt. */
const BIG_USER = '9007199254740993123';

async function listen(options: Partial<BackendHandlerOptions>): Promise<{ server: Server; url: string }> {
  const server = createServer(createBackendHandler({ secret: SECRET, methods: {}, onError: () => {}, ...options }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function forward(method: string, field: number, payload: Uint8Array, extra: Partial<osmium.gateway.v1.BackendRequest.$Properties> = {}): Uint8Array {
  return v1.BackendRequest.encode({
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    caller: {
      user_id: Long.fromString(BIG_USER, true),
      session_id: Long.fromString('1234567890123', true),
      bot: true,
      client_id: 7,
      device_type: 'web',
      device_version: 'Firefox 140',
      app_version: '1.2.3',
      ip: '203.0.113.7',
    },
    forward: { method_field: field, method_name: method, payload, req_id: 42 },
    ...extra,
  }).finish();
}

async function post(url: string, body: Uint8Array, headers: Record<string, string> = {}, path = CALL_PATH) {
  const response = await request(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/x-protobuf', ...headers },
    body,
  });
  const bytes = new Uint8Array(await response.body.arrayBuffer());
  return { status: response.statusCode, headers: response.headers, bytes, text: Buffer.from(bytes).toString('utf8') };
}

const answerOf = (bytes: Uint8Array) => v1.BackendResponse.decode(bytes);

describe('backend handler: authenticating the gateway', () => {
  let url: string;
  let server: Server;
  let called = 0;
  before(async () => {
    ({ server, url } = await listen({ methods: { messages_send_message: () => void called++ } }));
  });
  after(() => server.close());

  it('refuses a missing secret, a wrong one and one of another length with 401, without calling the method', async () => {
    const body = forward('messages_send_message', 4, new Uint8Array());
    for (const authorization of [undefined, `Bearer ${SECRET.slice(0, -1)}x`, 'Bearer short', `Bearer ${SECRET}${SECRET}`, SECRET]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const response = await request(`${url}${CALL_PATH}`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', ...headers }, body });
      await response.body.arrayBuffer();
      assert.equal(response.statusCode, 401, `authorization ${authorization}`);
      assert.equal(response.headers['www-authenticate'], 'Bearer');
    }
    assert.equal(called, 0);
    assert.equal((await post(url, body)).status, 200);
    assert.equal(called, 1);
  });

  it('compares in constant time: timingSafeEqual on equal-length digests, whatever the length given', async () => {
    const compare = mock.method(crypto, 'timingSafeEqual');
    syncBuiltinESMExports();
    try {
      for (const authorization of ['Bearer x', `Bearer ${SECRET}`, `Bearer ${'y'.repeat(500)}`]) {
        await post(url, forward('messages_send_message', 4, new Uint8Array()), { authorization });
      }
      assert.equal(compare.mock.callCount(), 3);
      for (const { arguments: [a, b] } of compare.mock.calls) {
        assert.equal((a as Buffer).length, 32);
        assert.equal((b as Buffer).length, 32);
      }
    } finally {
      compare.mock.restore();
      syncBuiltinESMExports();
    }
  });
});

describe('backend handler: HTTP refusals', () => {
  let url: string;
  let server: Server;
  before(async () => {
    ({ server, url } = await listen({ methods: { messages_send_message: () => undefined }, maxBodyBytes: 1024 }));
  });
  after(() => server.close());

  it('a body that is not a BackendRequest is 400; one with no call set is 400', async () => {
    const garbage = await post(url, Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f]));
    assert.equal(garbage.status, 400);
    assert.match(garbage.text, /not an osmium\.gateway\.v1\.BackendRequest/);
    const empty = await post(url, v1.BackendRequest.encode({ trace_id: 'x' }).finish());
    assert.equal(empty.status, 400);
    assert.match(empty.text, /no call/);
  });

  it('a method name that does not match its field number is 400', async () => {
    assert.equal((await post(url, forward('messages_send_message', 5, new Uint8Array()))).status, 400);
  });

  it('another path is 404, another HTTP method 405, another content type 415, a body over the limit 413', async () => {
    assert.equal((await post(url, forward('messages_send_message', 4, new Uint8Array()), {}, '/elsewhere')).status, 404);
    const get = await request(`${url}${CALL_PATH}`, { method: 'GET', headers: { authorization: `Bearer ${SECRET}` } });
    await get.body.arrayBuffer();
    assert.equal(get.statusCode, 405);
    assert.equal(get.headers.allow, 'POST');
    assert.equal((await post(url, forward('messages_send_message', 4, new Uint8Array()), { 'content-type': 'application/json' })).status, 415);
    assert.equal((await post(url, forward('messages_send_message', 4, new Uint8Array(2000)))).status, 413);
  });
});

describe('backend handler: answers', () => {
  let url: string;
  let server: Server;
  const seen: Array<{ payload: Uint8Array; call: ForwardedCallContext }> = [];
  const errors: unknown[] = [];
  /** Bytes no schema would write this way (a field repeated, then an unknown one): re-encoding would change them. */
  const oddBytes = Uint8Array.from([0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x09, 8, 7, 6, 5, 4, 3, 2, 1, 0xf8, 0x3f, 0x01]);
  before(async () => {
    ({ server, url } = await listen({
      methods: {
        messages_send_message: (payload, call) => {
          seen.push({ payload, call });
          return { result: { field: 'sent_message', bytes: oddBytes } };
        },
        messages_get_history: () => ({ result: { field: 7, bytes: new Uint8Array() } }),
        chats_set_typing: () => undefined,
        chats_get_chats: () => {
          throw new BackendError(403, 'not a member', { retryable: false });
        },
        chats_get_chat: () => {
          throw new BackendError(503, 'database down', { retryable: true });
        },
        chats_create_chat: () => {
          throw new Error('secret internals');
        },
        chats_add_chat_member: () => ({ disconnect: { code: 4403, reason: 'banned' } }),
        chats_edit_chat: () => ({ result: { field: 2, bytes: new Uint8Array() } }),
        chats_remove_chat_member: () => ({ disconnect: { code: 4001, reason: 'impersonating the gateway' } }),
      },
      hooks: {
        groupMembership: ({ groupId, userId }) => ({ found: groupId === '77', member: userId === BIG_USER, owner: false, group: Uint8Array.from([8, 1]) }),
        groupJoin: ({ groupId, userId, inviteCode, inviteCreatorId }) => {
          assert.deepEqual([groupId, userId, inviteCode, inviteCreatorId], ['77', BIG_USER, 'AbCdEfGhIj', '5']);
          return { alreadyMember: false };
        },
      },
      onError: (err) => errors.push(err),
    }));
  });
  after(() => server.close());

  it("passes the request's bytes and the caller (ids as exact decimal strings) to the method", async () => {
    const payload = Uint8Array.from([0x12, 0x02, 0x68, 0x69, 0x48, 0x01]);
    const response = await post(url, forward('messages_send_message', 4, payload), { 'x-osmium-timeout-ms': '3000' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/x-protobuf');
    const [{ payload: got, call }] = seen.splice(0) as [(typeof seen)[0]];
    assert.deepEqual([...got], [...payload]);
    assert.deepEqual(call.caller, {
      userId: BIG_USER,
      sessionId: '1234567890123',
      bot: true,
      clientId: 7,
      deviceType: 'web',
      deviceVersion: 'Firefox 140',
      appVersion: '1.2.3',
      ip: '203.0.113.7',
    });
    assert.equal(call.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.deepEqual([call.method, call.methodField, call.reqId], ['messages_send_message', 4, 42]);
    assert.equal(call.signal.aborted, false);
  });

  it("splices the method's result bytes into the answer unchanged, with the member's field number", async () => {
    const answer = answerOf((await post(url, forward('messages_send_message', 4, new Uint8Array()))).bytes);
    assert.equal(answer.outcome, 'result');
    assert.equal(answer.result!.field, 3);
    assert.deepEqual([...answer.result!.payload!], [...oddBytes]);
    const history = answerOf((await post(url, forward('messages_get_history', 5, new Uint8Array()))).bytes);
    assert.equal(history.result!.field, 7);
  });

  it('nothing returned is the empty result (field 0): a method returning ()', async () => {
    const answer = answerOf((await post(url, forward('chats_set_typing', 28, new Uint8Array()))).bytes);
    assert.equal(answer.outcome, 'result');
    assert.equal(answer.result!.field, 0);
    assert.equal(answer.result!.payload!.length, 0);
  });

  it('a thrown BackendError is an error answer with its code, message and retry flag', async () => {
    const refused = answerOf((await post(url, forward('chats_get_chats', 11, new Uint8Array()))).bytes);
    assert.equal(refused.outcome, 'error');
    assert.deepEqual([refused.error!.code, refused.error!.message, refused.error!.retryable], [403, 'not a member', false]);
    const unavailable = answerOf((await post(url, forward('chats_get_chat', 25, new Uint8Array()))).bytes);
    assert.deepEqual([unavailable.error!.code, unavailable.error!.message, unavailable.error!.retryable], [503, 'database down', true]);
  });

  it("any other thrown error is error 500 naming the trace, never the error's own message; onError gets it", async () => {
    const answer = answerOf((await post(url, forward('chats_create_chat', 50, new Uint8Array()))).bytes);
    assert.equal(answer.error!.code, 500);
    assert.equal(answer.error!.message, 'internal error (trace 4bf92f3577b34da6a3ce929d0e0e4736)');
    assert.doesNotMatch(answer.error!.message!, /secret internals/);
    assert.equal((errors.splice(0)[0] as Error).message, 'secret internals');
  });

  it('a method not served is error 501', async () => {
    const answer = answerOf((await post(url, forward('communities_get_communities', 7, new Uint8Array()))).bytes);
    assert.equal(answer.error!.code, 501);
    assert.match(answer.error!.message!, /communities_get_communities is not served/);
  });

  it("a disconnect answer is passed on; one with the gateway's own codes, or a result member that is the error, is caught here as a 500", async () => {
    const answer = answerOf((await post(url, forward('chats_add_chat_member', 96, new Uint8Array()))).bytes);
    assert.deepEqual([answer.disconnect!.code, answer.disconnect!.reason], [4403, 'banned']);
    for (const [method, field] of [['chats_remove_chat_member', 53], ['chats_edit_chat', 52]] as const) {
      const bad = answerOf((await post(url, forward(method, field, new Uint8Array()))).bytes);
      assert.equal(bad.error!.code, 500, method);
    }
    assert.equal(errors.splice(0).length, 2);
  });

  it('answers the group hooks with their own members', async () => {
    const member = answerOf(
      (await post(url, v1.BackendRequest.encode({ trace_id: 't', group_membership: { group_id: Long.fromNumber(77, true), user_id: Long.fromString(BIG_USER, true) } }).finish()))
        .bytes,
    );
    assert.equal(member.outcome, 'group_membership');
    assert.deepEqual([member.group_membership!.found, member.group_membership!.member, member.group_membership!.owner], [true, true, false]);
    assert.deepEqual([...member.group_membership!.group!], [8, 1]);
    const unknown = answerOf((await post(url, v1.BackendRequest.encode({ trace_id: 't', group_membership: { group_id: Long.fromNumber(78, true), user_id: Long.fromString(BIG_USER, true) } }).finish())).bytes);
    assert.deepEqual([unknown.group_membership!.found, unknown.group_membership!.member, unknown.group_membership!.group!.length], [false, false, 0]);
    const joined = answerOf(
      (
        await post(
          url,
          v1.BackendRequest.encode({
            trace_id: 't',
            group_join: { group_id: Long.fromNumber(77, true), user_id: Long.fromString(BIG_USER, true), invite_code: 'AbCdEfGhIj', invite_creator_id: Long.fromNumber(5, true) },
          }).finish(),
        )
      ).bytes,
    );
    assert.equal(joined.outcome, 'group_joined');
    assert.equal(joined.group_joined!.already_member, false);
  });
});

describe('backend handler: no hooks given', () => {
  it('a hook the backend does not serve is error 501', async () => {
    const { server, url } = await listen({});
    try {
      const answer = answerOf((await post(url, v1.BackendRequest.encode({ trace_id: 't', group_join: { group_id: Long.fromNumber(1, true) } }).finish())).bytes);
      assert.equal(answer.error!.code, 501);
    } finally {
      server.close();
    }
  });
});

describe('backend handler: the gateway gives up', () => {
  it("aborts the call's signal at x-osmium-timeout-ms", async () => {
    const { server, url } = await listen({
      methods: {
        messages_get_history: async (_payload, call) => {
          await new Promise((resolve) => call.signal.addEventListener('abort', resolve, { once: true }));
          throw new BackendError(504, 'gave up');
        },
      },
    });
    try {
      const answer = answerOf((await post(url, forward('messages_get_history', 5, new Uint8Array()), { 'x-osmium-timeout-ms': '50' })).bytes);
      assert.equal(answer.error!.code, 504);
    } finally {
      server.close();
    }
  });

  it("aborts the call's signal when the gateway closes the connection", async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let aborted = false;
    const { server, url } = await listen({
      methods: {
        messages_send_message: async (_payload, call) => {
          started();
          await new Promise((resolve) => call.signal.addEventListener('abort', resolve, { once: true }));
          aborted = true;
        },
      },
    });
    try {
      const gateway = new AbortController();
      const call = request(`${url}${CALL_PATH}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/x-protobuf' },
        body: forward('messages_send_message', 4, new Uint8Array()),
        signal: gateway.signal,
      });
      await running;
      gateway.abort();
      await assert.rejects(call);
      await eventually(() => aborted, { what: 'the signal aborted' });
    } finally {
      server.close();
    }
  });
});
