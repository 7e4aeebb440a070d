/**
 * Forwarding to the chat backend (issue 26), over real sockets and a real
 * HTTP backend in this process that the test scripts call by call: the
 * payload goes as it arrived with the verified caller, the answer is spliced
 * into the RPCResult, every failure of the hop has its code (502, 503, 504,
 * 503 beyond the in-flight bound, 401 without a session, 501 without a
 * route), the socket stays open and auth keeps working, requests of one
 * socket run concurrently, and the trace id the client sees is the one in
 * `traceparent`.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import protobuf from 'protobufjs/minimal.js';
import { osmium as gatewayV1 } from '../../src/gen/backend.js';
import { CLIENT_METHOD_FIELDS, RPC_RESULT_FIELDS } from '../../src/gen/fields.js';
import { osmium } from '../../src/gen/osmium.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { guest } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { atOnceBoundMs } from '../helpers/latency.js';
import { assertRpcError } from '../helpers/results.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

const v1 = gatewayV1.gateway.v1;
const SECRET = 'forwarding-test-secret-0123456789';

interface Seen {
  request: gatewayV1.gateway.v1.BackendRequest;
  headers: IncomingMessage['headers'];
}
type Answer = (seen: Seen, res: ServerResponse) => void | Promise<void>;

/** A backend whose answer each test sets; records every call. */
async function startBackend(): Promise<{ server: Server; url: string; seen: Seen[]; answer: { next: Answer } }> {
  const seen: Seen[] = [];
  const answer = { next: ((_s, res) => respond(res, { result: { field: 0 } })) as Answer };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const call = { request: v1.BackendRequest.decode(Buffer.concat(chunks)), headers: req.headers };
    seen.push(call);
    await answer.next(call, res);
  });
  server.keepAliveTimeout = 10_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, answer };
}

function respond(res: ServerResponse, outcome: gatewayV1.gateway.v1.BackendResponse.$Properties): void {
  const body = v1.BackendResponse.encode(outcome).finish();
  res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': body.length }).end(body);
}

/** A ClientMessage frame with `field` carrying `payload`, plus raw extra bytes. */
function frame(id: number, field: number, payload: Uint8Array, extra: Uint8Array = new Uint8Array(0)): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(8).uint32(id);
  w.uint32((field << 3) | 2).bytes(payload);
  const head = w.finish();
  const out = new Uint8Array(head.length + extra.length);
  out.set(extra, 0); // unknown fields first: the member still wins
  out.set(head, extra.length);
  return out;
}

describe('forwarding to the chat backend', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gw: TestGateway;

  before(async () => {
    backend = await startBackend();
    gw = await startGateway({ BACKEND_URL: backend.url, BACKEND_SECRET: SECRET, BACKEND_TIMEOUT_MS: '400', BACKEND_MAX_IN_FLIGHT: '4' });
  });
  after(async () => {
    await gw?.close();
    backend?.server.closeAllConnections();
    backend?.server.close();
  });

  it('sends the payload bytes as they arrived, with the caller from the verified session, and splices the answer in unchanged', async () => {
    const a = await guest(gw, 'Ann');
    await a.client.call('core_initialize', { client_id: 7, device_type: 'phone', device_version: '14', app_version: '2.1' } as never);
    // Bytes no SendMessage encoder would write (an unknown field 99): they must reach the backend as they are.
    const payload = Uint8Array.from([0x0a, 0x03, 0x68, 0x69, 0x21, 0x98, 0x06, 0x01]);
    const answerBytes = Uint8Array.from([0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0xa0, 0x1f, 0x05]);
    backend.answer.next = (_s, res) => respond(res, { result: { field: RPC_RESULT_FIELDS.sent_message, payload: answerBytes } });
    const before = backend.seen.length;
    const result = await a.client.request('messages_send_message', payload as never);
    assert.equal(result.error, null, JSON.stringify(result.error));
    assert.deepEqual(Buffer.from(result.sent_message as Uint8Array), Buffer.from(answerBytes));
    const call = backend.seen[before]!;
    assert.equal(call.request.forward!.method_name, 'messages_send_message');
    assert.equal(call.request.forward!.method_field, CLIENT_METHOD_FIELDS.messages_send_message);
    assert.deepEqual(Buffer.from(call.request.forward!.payload!), Buffer.from(payload));
    const caller = call.request.caller!;
    assert.equal(caller.user_id!.toString(), a.userId);
    assert.equal(caller.session_id!.toString(), a.sessionId);
    assert.equal(caller.bot, false);
    assert.equal(caller.ip, '127.0.0.1');
    assert.deepEqual([caller.client_id, caller.device_type, caller.device_version, caller.app_version], [7, 'phone', '14', '2.1']);
    assert.equal(call.headers.authorization, `Bearer ${SECRET}`);
    // The trace id the client sees is the one in traceparent and in the request.
    assert.match(result.trace_id!, /^[0-9a-f]{32}$/);
    assert.equal(call.request.trace_id, result.trace_id);
    assert.equal(String(call.headers.traceparent).split('-')[1], result.trace_id);
  });

  it('a caller forged into the client frame changes nothing', async () => {
    const a = await guest(gw, 'Forger');
    backend.answer.next = (_s, res) => respond(res, { result: { field: 0 } });
    // A BackendRequest-shaped caller (field 2) and a trace id (field 1, as a string) put into the ClientMessage.
    const forgedCaller = v1.Caller.encode({ user_id: 1 as never, session_id: 2 as never, bot: true }).finish();
    const w = protobuf.Writer.create();
    w.uint32((200 << 3) | 2).bytes(forgedCaller).uint32((201 << 3) | 2).string('forged');
    const before = backend.seen.length;
    a.client.sendRaw(frame(77, CLIENT_METHOD_FIELDS.chats_get_chats, new Uint8Array(0), w.finish()));
    await eventually(() => backend.seen.length > before, { what: 'the forwarded call' });
    const caller = backend.seen[before]!.request.caller!;
    assert.equal(caller.user_id!.toString(), a.userId);
    assert.equal(caller.session_id!.toString(), a.sessionId);
    assert.equal(caller.bot, false);
    assert.notEqual(backend.seen[before]!.request.trace_id, 'forged');
  });

  it('a socket without a session gets 401 and the backend is never called', async () => {
    const client = await gw.connect();
    const before = backend.seen.length;
    assertRpcError(await client.request('messages_get_history', new Uint8Array(0) as never), ErrorCode.UNAUTHENTICATED);
    assert.equal(backend.seen.length, before);
  });

  it('errors are relayed; bad answers are 502 with a log line; a disconnect closes only that socket', async () => {
    const a = await guest(gw, 'Bea');
    backend.answer.next = (_s, res) => respond(res, { error: { code: 403, message: 'not in this chat' } });
    assertRpcError(await a.client.request('messages_get_history', new Uint8Array(0) as never), 403, 'not in this chat');

    backend.answer.next = (_s, res) => respond(res, { result: { field: 99, payload: new Uint8Array(0) } });
    assertRpcError(await a.client.request('messages_get_history', new Uint8Array(0) as never), ErrorCode.BAD_GATEWAY);
    backend.answer.next = (_s, res) => respond(res, { result: { field: RPC_RESULT_FIELDS.messages, payload: Uint8Array.from([0xff, 0xff, 0xff]) } });
    assertRpcError(await a.client.request('messages_get_history', new Uint8Array(0) as never), ErrorCode.BAD_GATEWAY);
    backend.answer.next = (_s, res) => void res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end('not protobuf at all');
    assertRpcError(await a.client.request('messages_get_history', new Uint8Array(0) as never), ErrorCode.BAD_GATEWAY);
    backend.answer.next = (_s, res) => void res.writeHead(500).end();
    assertRpcError(await a.client.request('messages_get_history', new Uint8Array(0) as never), ErrorCode.BAD_GATEWAY);
    await eventually(() => gw.logs.filter((l) => l.msg === 'bad answer from backend').length >= 4, { what: 'a log line per bad answer' });
    assert.ok(gw.logs.some((l) => l.msg === 'bad answer from backend' && l.status === 500));
    assert.ok(a.client.isOpen);

    backend.answer.next = (_s, res) => respond(res, { disconnect: { code: 4321, reason: 'banned here' } });
    const other = await guest(gw, 'Other');
    a.client.request('messages_get_history', new Uint8Array(0) as never).catch(() => undefined);
    const closed = await a.client.closed;
    assert.deepEqual(closed, { code: 4321, reason: 'banned here' });
    assert.ok(other.client.isOpen);
  });

  it('requests of one socket run concurrently: a slow call does not hold up the next', async () => {
    const a = await guest(gw, 'Cy');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    backend.answer.next = async (seen, res) => {
      if (seen.request.forward!.method_name === 'messages_get_history') await held;
      respond(res, { result: { field: 0 } });
    };
    const slow = a.client.request('messages_get_history', new Uint8Array(0) as never);
    const fast = await a.client.request('chats_get_chats', new Uint8Array(0) as never);
    assert.equal(fast.error, null);
    release();
    assert.equal((await slow).error, null);
  });

  it('a slow backend is 504 at BACKEND_TIMEOUT_MS; beyond BACKEND_MAX_IN_FLIGHT calls, 503 at once', async () => {
    const a = await guest(gw, 'Dee');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    backend.answer.next = async (_s, res) => {
      await held;
      respond(res, { result: { field: 0 } });
    };
    const before = backend.seen.length;
    const started = Date.now();
    const calls = Array.from({ length: 4 }, () => a.client.request('messages_get_history', new Uint8Array(0) as never));
    await eventually(() => backend.seen.length >= before + 4, { what: 'four calls at the backend' });
    const refused = await a.client.request('messages_get_history', new Uint8Array(0) as never);
    assertRpcError(refused, ErrorCode.UNAVAILABLE, /busy/);
    assert.ok(Date.now() - started < 300, 'refused before the timeout');
    for (const r of await Promise.all(calls)) assertRpcError(r, ErrorCode.GATEWAY_TIMEOUT, 'backend timed out');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 380 && elapsed < 2_000, `504 after ${elapsed} ms`);
    release();
    backend.answer.next = (_s, res) => respond(res, { result: { field: 0 } });
  });

  it('a backend that refuses connections gives 503 within 100 ms, no socket closes, auth keeps working, and it recovers by itself', async () => {
    const a = await guest(gw, 'Eve');
    backend.answer.next = (_s, res) => respond(res, { result: { field: 0 } });
    const port = (backend.server.address() as AddressInfo).port;
    backend.server.closeAllConnections();
    await new Promise<void>((r) => backend.server.close(() => r()));
    for (let i = 0; i < 8; i++) {
      const bound = await atOnceBoundMs(a.client);
      const t = performance.now();
      assertRpcError(await a.client.request('messages_send_message', new Uint8Array(0) as never), ErrorCode.UNAVAILABLE);
      const waited = performance.now() - t;
      assert.ok(waited < bound, `503 after ${waited} ms (bound ${bound} ms: 100 ms plus the machine's delay on a local refusal)`);
    }
    assert.ok(a.client.isOpen);
    await guest(gw, 'Still signs up');
    assert.equal((await a.client.request('auth_get_sessions', {})).error, null);
    backend.server.listen(port, '127.0.0.1');
    await once(backend.server, 'listening');
    await eventually(async () => (await a.client.request('messages_get_history', new Uint8Array(0) as never)).error === null, {
      what: 'the route to recover after the backend came back',
    });
    const metrics = await (await fetch(`http://127.0.0.1:${gw.app.metricsPort}/metrics`)).text();
    assert.match(metrics, /osmium_backend_calls_total\{route="\*",code="503"\} \d+/);
    assert.match(metrics, /osmium_backend_circuit_open\{route="\*"\} 0/);
  });
});

describe('backend routes by package', () => {
  it('BACKEND_ROUTES sends packages to their backends; a method with no route stays 501; unset, 501 as before', async () => {
    const one = await startBackend();
    const two = await startBackend();
    const gw = await startGateway({ BACKEND_ROUTES: `messages,chats=${one.url};communities=${two.url}`, BACKEND_SECRET: SECRET });
    try {
      const a = await guest(gw);
      assert.equal((await a.client.request('messages_get_history', new Uint8Array(0) as never)).error, null);
      assert.equal((await a.client.request('chats_get_chats', new Uint8Array(0) as never)).error, null);
      assert.equal((await a.client.request('communities_get_communities', new Uint8Array(0) as never)).error, null);
      assert.deepEqual(one.seen.map((s) => s.request.forward!.method_name), ['messages_get_history', 'chats_get_chats']);
      assert.deepEqual(two.seen.map((s) => s.request.forward!.method_name), ['communities_get_communities']);
      assertRpcError(await a.client.request('friends_get_relationships', new Uint8Array(0) as never), ErrorCode.NOT_SERVED);
      // The gateway's own chats methods stay the gateway's.
      assert.ok(!one.seen.some((s) => s.request.forward!.method_name === 'chats_list_chat_invites'));
    } finally {
      await gw.close();
      for (const b of [one, two]) {
        b.server.closeAllConnections();
        b.server.close();
      }
    }
    const plain = await startGateway();
    try {
      const a = await guest(plain);
      assertRpcError(await a.client.request('messages_send_message', new Uint8Array(0) as never), ErrorCode.NOT_SERVED);
    } finally {
      await plain.close();
    }
  });
});
